//! Invitations: the municipality invites an organization's first partner person, a partner admin their
//! colleagues. The person is created at once (with a random password nobody knows) and gets a one-time
//! link, `/invite/<token>`, to choose their own password; then they log in as usual.
//!
//! The token is 256 random bits of which only a SHA-256 is stored, like session tokens. A link works once
//! and for [`INVITATION_DAYS`] days; a new link for the same person ([`Store::reinvite`]) may be made while
//! they have not chosen a password yet.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::directory::Role;
use crate::error::{Error, Result};
use crate::people::{NewPerson, Person, check_password, hash_password, person_from_row, random_token, sha256_hex};
use crate::store::Store;
use crate::tables::{invitation, person};

/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

/// A link that can still be used: whom it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub person: Person,
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Why a link does not work. The page says which, so the person knows to ask for a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvitationProblem {
    /// No such link (or its person was disabled).
    Unknown,
    Expired,
    Used,
}

impl InvitationProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationProblem::Unknown => "unknown",
            InvitationProblem::Expired => "expired",
            InvitationProblem::Used => "used",
        }
    }

    fn error(self) -> Error {
        Error::invalid(
            "token",
            match self {
                InvitationProblem::Unknown => "this invitation link is not known",
                InvitationProblem::Expired => "this invitation link has expired",
                InvitationProblem::Used => "this invitation link has been used",
            },
        )
    }
}

impl Store {
    /// Creates a person (`email`, `role`, for partners their organization) who has no usable password yet,
    /// and an invitation for them. Returns the person and the link's token, which is shown once.
    pub async fn invite_person(
        &self,
        email: &str,
        role: Role,
        organization_id: Option<Uuid>,
        invited_by: Uuid,
    ) -> Result<(Person, String)> {
        let (person, _unused_password) = self
            .create_person(NewPerson {
                email: email.to_owned(),
                role,
                organization_id,
                name: None,
                team: None,
                password: None,
            })
            .await?;
        let token = self.new_invitation(person.id, invited_by).await?;
        Ok((person, token))
    }

    /// A new link for someone invited before who has not chosen a password yet (the old link may have
    /// expired or been lost). Earlier links stop working.
    pub async fn reinvite(&self, person_id: Uuid, invited_by: Uuid) -> Result<String> {
        let row = person::Entity::find_by_id(person_id)
            .one(self.connection())
            .await?
            .ok_or(Error::NotFound {
                entity: "person",
                id: person_id.to_string(),
            })?;
        if row.disabled_at.is_some() || !row.must_change_password {
            return Err(Error::Conflict(format!(
                "{} has chosen a password or is disabled: no new invitation",
                row.email
            )));
        }
        self.new_invitation(person_id, invited_by).await
    }

    async fn new_invitation(&self, person_id: Uuid, invited_by: Uuid) -> Result<String> {
        let token = random_token();
        let now = Utc::now();
        let row = invitation::ActiveModel {
            token_hash: Set(sha256_hex(&token)),
            person_id: Set(person_id),
            invited_by: Set(invited_by),
            created_at: Set(now),
            expires_at: Set(now + Duration::days(INVITATION_DAYS)),
            used_at: Set(None),
        };
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                // One working link per person: the newest.
                invitation::Entity::update_many()
                    .col_expr(invitation::Column::UsedAt, Expr::value(Some(now)))
                    .filter(invitation::Column::PersonId.eq(person_id))
                    .filter(invitation::Column::UsedAt.is_null())
                    .exec(txn)
                    .await?;
                row.insert(txn).await?;
                Ok(())
            })
        })
        .await?;
        Ok(token)
    }

    /// The invitation of `token` if its link still works; otherwise why not.
    pub async fn invitation(&self, token: &str) -> Result<std::result::Result<Invitation, InvitationProblem>> {
        if token.len() != 64 {
            return Ok(Err(InvitationProblem::Unknown));
        }
        let Some(row) = invitation::Entity::find_by_id(sha256_hex(token))
            .one(self.connection())
            .await?
        else {
            return Ok(Err(InvitationProblem::Unknown));
        };
        let Some(person) = person::Entity::find_by_id(row.person_id)
            .one(self.connection())
            .await?
            .filter(|p| p.disabled_at.is_none())
        else {
            return Ok(Err(InvitationProblem::Unknown));
        };
        if row.used_at.is_some() {
            return Ok(Err(InvitationProblem::Used));
        }
        if row.expires_at <= Utc::now() {
            return Ok(Err(InvitationProblem::Expired));
        }
        Ok(Ok(Invitation {
            person: person_from_row(person)?,
            invited_by: row.invited_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }))
    }

    /// Uses the link of `token` to set the person's own password. Refused as invalid `token` when the link
    /// is unknown, expired or used (nothing changes), as invalid `password` when it breaks the rules.
    /// Of two uses of one link at the same time exactly one succeeds.
    pub async fn accept_invitation(&self, token: &str, password: &str) -> Result<Person> {
        let invitation = match self.invitation(token).await? {
            Ok(invitation) => invitation,
            Err(problem) => return Err(problem.error()),
        };
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let token_hash = sha256_hex(token);
        let person_id = invitation.person.id;
        let row = self
            .write_unlogged(move |txn| {
                Box::pin(async move {
                    let now = Utc::now();
                    let used = invitation::Entity::update_many()
                        .col_expr(invitation::Column::UsedAt, Expr::value(Some(now)))
                        .filter(invitation::Column::TokenHash.eq(token_hash))
                        .filter(invitation::Column::UsedAt.is_null())
                        .filter(invitation::Column::ExpiresAt.gt(now))
                        .exec(txn)
                        .await?;
                    if used.rows_affected != 1 {
                        return Err(InvitationProblem::Used.error());
                    }
                    invitation::Entity::update_many()
                        .col_expr(invitation::Column::UsedAt, Expr::value(Some(now)))
                        .filter(invitation::Column::PersonId.eq(person_id))
                        .filter(invitation::Column::UsedAt.is_null())
                        .exec(txn)
                        .await?;
                    person::Entity::update_many()
                        .col_expr(person::Column::PasswordHash, Expr::value(hash))
                        .col_expr(person::Column::MustChangePassword, Expr::value(false))
                        .col_expr(person::Column::FailedLogins, Expr::value(0))
                        .col_expr(person::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                        .filter(person::Column::Id.eq(person_id))
                        .exec(txn)
                        .await?;
                    person::Entity::find_by_id(person_id)
                        .one(txn)
                        .await?
                        .ok_or(Error::NotFound {
                            entity: "person",
                            id: person_id.to_string(),
                        })
                })
            })
            .await?;
        person_from_row(row)
    }

    /// Of `person_ids`, those with a link that still works, and until when it works.
    pub async fn open_invitations(&self, person_ids: &[Uuid]) -> Result<Vec<(Uuid, DateTime<Utc>)>> {
        Ok(invitation::Entity::find()
            .filter(invitation::Column::PersonId.is_in(person_ids.iter().copied()))
            .filter(invitation::Column::UsedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .order_by_asc(invitation::Column::CreatedAt)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|row| (row.person_id, row.expires_at))
            .collect())
    }
}

//! People who log in to the web app (caseworkers, partners' staff, municipal admins), their browser
//! sessions, login throttling and the caseworker's family list. Apps keep using API keys (`keys.rs`).
//!
//! Passwords are argon2id hashes; session tokens and one-time passwords are 256 random bits of which only a
//! SHA-256 is stored (the cookie is the bearer, like an API key).

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::directory::Role;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::tables::{family_list_item, organization, person, web_session};

/// Failed logins in a row after which an account is locked for [`LOCKOUT`].
pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT: Duration = Duration::minutes(15);
/// A family list's offers are deleted this long after they were added.
pub const FAMILY_LIST_DAYS: i64 = 30;
pub const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_CHARS: usize = 200;
const MAX_FAMILY_LIST: usize = 50;

/// A person as the app knows them (never with the password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    /// A partner who may invite and remove the organization's other people.
    pub organization_admin: bool,
    pub team: Option<String>,
    pub language: String,
    /// Logged in with a one-time password: must choose their own before anything else.
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// What `users create` asks for.
#[derive(Clone, Debug)]
pub struct NewPerson {
    pub email: String,
    pub role: Role,
    pub organization_id: Option<Uuid>,
    pub name: Option<String>,
    pub team: Option<String>,
    /// None: a one-time password is generated and returned.
    pub password: Option<String>,
}

/// Why a login did not succeed. The web app shows one message for `Unknown` and `WrongPassword` so the
/// page does not tell which e-mail addresses have accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginFailure {
    UnknownOrWrong,
    Locked { until: DateTime<Utc> },
}

/// A live session: who, and the token its forms must carry.
#[derive(Clone, Debug)]
pub struct Session {
    pub person: Person,
    pub csrf_token: String,
}

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Normalises an e-mail address for storage and lookup, or says what is wrong with it.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid(
            "email",
            "must be an e-mail address such as name@aarhus.dk",
        ))
    }
}

/// Argon2id with the crate's default parameters (19 MiB, 2 passes), run off the async runtime.
pub(crate) async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Io(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Io(e.to_string()))
    })
    .await
    .map_err(|e| Error::Io(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

pub(crate) fn check_password(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(Error::invalid(
            "password",
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

pub(crate) fn person_from_row(row: person::Model) -> Result<Person> {
    let role =
        Role::parse(&row.role).ok_or_else(|| Error::Io(format!("person {} has unknown role {}", row.id, row.role)))?;
    Ok(Person {
        id: row.id,
        email: row.email,
        name: row.name,
        role,
        organization_id: row.organization_id,
        organization_admin: row.organization_admin,
        team: row.team,
        language: row.language,
        must_change_password: row.must_change_password,
        created_at: row.created_at,
        disabled_at: row.disabled_at,
    })
}

impl Store {
    /// Creates a person. Returns them and the password: the given one, or a generated one-time password
    /// (shown once; only its hash is stored).
    pub async fn create_person(&self, new: NewPerson) -> Result<(Person, String)> {
        let email = normalize_email(&new.email)?;
        match (new.role, new.organization_id) {
            (Role::Partner, None) => return Err(Error::invalid("organization", "a partner needs --organization")),
            (Role::Partner, Some(org)) => {
                if organization::Entity::find_by_id(org)
                    .one(self.connection())
                    .await?
                    .is_none()
                {
                    return Err(Error::invalid("organization", format!("no organization {org}")));
                }
            }
            (Role::Reader, _) => {
                return Err(Error::invalid(
                    "role",
                    "people are caseworkers, partners or admins; apps use keys",
                ));
            }
            (_, Some(_)) => {
                return Err(Error::invalid(
                    "organization",
                    "only partners belong to an organization",
                ));
            }
            (_, None) => {}
        }
        let team = new.team.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if team.is_some() && new.role != Role::Caseworker {
            return Err(Error::invalid("team", "only caseworkers belong to a team"));
        }
        let one_time = new.password.is_none();
        let password = match new.password {
            Some(password) => {
                check_password(&password)?;
                password
            }
            None => random_token()[..20].to_owned(),
        };
        let first_of_organization = match new.organization_id {
            Some(org) => person::Entity::find()
                .filter(person::Column::OrganizationId.eq(org))
                .one(self.connection())
                .await?
                .is_none(),
            None => false,
        };
        let exists = person::Entity::find()
            .filter(person::Column::Email.eq(email.clone()))
            .one(self.connection())
            .await?;
        if exists.is_some() {
            return Err(Error::Conflict(format!("a person with e-mail {email} exists")));
        }
        let row = person::ActiveModel {
            id: Set(Uuid::new_v4()),
            email: Set(email),
            name: Set(new.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())),
            role: Set(new.role.as_str().to_owned()),
            organization_id: Set(new.organization_id),
            // The first person of an organization manages its people; later ones are invited by them.
            organization_admin: Set(new.role == Role::Partner && first_of_organization),
            team: Set(team),
            password_hash: Set(hash_password(password.clone()).await?),
            must_change_password: Set(one_time),
            language: Set("da".into()),
            failed_logins: Set(0),
            locked_until: Set(None),
            created_at: Set(Utc::now()),
            disabled_at: Set(None),
        };
        let row = self
            .write_unlogged(move |txn| Box::pin(async move { Ok(row.insert(txn).await?) }))
            .await?;
        Ok((person_from_row(row)?, password))
    }

    pub async fn list_people(&self) -> Result<Vec<Person>> {
        person::Entity::find()
            .order_by_asc(person::Column::Email)
            .all(self.connection())
            .await?
            .into_iter()
            .map(person_from_row)
            .collect()
    }

    /// Disables a person and ends their sessions at once.
    pub async fn disable_person(&self, email: &str) -> Result<Person> {
        let email = normalize_email(email)?;
        let row = person::Entity::find()
            .filter(person::Column::Email.eq(email.clone()))
            .one(self.connection())
            .await?
            .ok_or(Error::NotFound {
                entity: "person",
                id: email,
            })?;
        let mut active = row.into_active_model();
        active.disabled_at = Set(Some(Utc::now()));
        let row = self
            .write_unlogged(move |txn| {
                Box::pin(async move {
                    let row = active.update(txn).await?;
                    web_session::Entity::delete_many()
                        .filter(web_session::Column::PersonId.eq(row.id))
                        .exec(txn)
                        .await?;
                    Ok(row)
                })
            })
            .await?;
        person_from_row(row)
    }

    /// Checks an e-mail address and password. After [`MAX_FAILED_LOGINS`] failures in a row the account
    /// is locked for [`LOCKOUT`], whatever the password.
    pub async fn verify_login(&self, email: &str, password: &str) -> Result<std::result::Result<Person, LoginFailure>> {
        let Ok(email) = normalize_email(email) else {
            return Ok(Err(LoginFailure::UnknownOrWrong));
        };
        let Some(row) = person::Entity::find()
            .filter(person::Column::Email.eq(email))
            .one(self.connection())
            .await?
        else {
            return Ok(Err(LoginFailure::UnknownOrWrong));
        };
        let now = Utc::now();
        if let Some(until) = row.locked_until.filter(|until| *until > now) {
            return Ok(Err(LoginFailure::Locked { until }));
        }
        let verified = password.len() <= MAX_PASSWORD_CHARS * 4
            && verify_password(password.to_owned(), row.password_hash.clone()).await;
        if !verified || row.disabled_at.is_some() {
            let failed = row.failed_logins + 1;
            let locked_until = (failed >= MAX_FAILED_LOGINS).then(|| now + LOCKOUT);
            let update = person::Entity::update_many()
                .col_expr(
                    person::Column::FailedLogins,
                    Expr::value(if locked_until.is_some() { 0 } else { failed }),
                )
                .col_expr(person::Column::LockedUntil, Expr::value(locked_until))
                .filter(person::Column::Id.eq(row.id));
            self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
                .await?;
            return Ok(Err(match locked_until {
                Some(until) => LoginFailure::Locked { until },
                None => LoginFailure::UnknownOrWrong,
            }));
        }
        if row.failed_logins != 0 || row.locked_until.is_some() {
            let update = person::Entity::update_many()
                .col_expr(person::Column::FailedLogins, Expr::value(0))
                .col_expr(person::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(person::Column::Id.eq(row.id));
            self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
                .await?;
        }
        Ok(Ok(person_from_row(row)?))
    }

    /// Starts a session; returns the cookie token (only its hash is stored).
    pub async fn create_session(&self, person_id: Uuid) -> Result<String> {
        let token = random_token();
        let now = Utc::now();
        let row = web_session::ActiveModel {
            token_hash: Set(sha256_hex(&token)),
            person_id: Set(person_id),
            csrf_token: Set(random_token()),
            created_at: Set(now),
            last_seen_at: Set(now),
        };
        self.write_unlogged(move |txn| Box::pin(async move { Ok(row.insert(txn).await.map(drop)?) }))
            .await?;
        Ok(token)
    }

    /// The session of `token` if it exists, its person is enabled and it was used within `idle`; marks it
    /// used (at most once a minute, to spare the database a write per page).
    pub async fn session(&self, token: &str, idle: Duration) -> Result<Option<Session>> {
        if token.len() != 64 {
            return Ok(None);
        }
        let hash = sha256_hex(token);
        let Some(session) = web_session::Entity::find_by_id(hash.clone())
            .one(self.connection())
            .await?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        if session.last_seen_at + idle < now {
            self.end_session(token).await?;
            return Ok(None);
        }
        let Some(row) = person::Entity::find_by_id(session.person_id)
            .one(self.connection())
            .await?
        else {
            return Ok(None);
        };
        if row.disabled_at.is_some() {
            return Ok(None);
        }
        if now - session.last_seen_at > Duration::minutes(1) {
            let update = web_session::Entity::update_many()
                .col_expr(web_session::Column::LastSeenAt, Expr::value(now))
                .filter(web_session::Column::TokenHash.eq(hash));
            self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
                .await?;
        }
        Ok(Some(Session {
            person: person_from_row(row)?,
            csrf_token: session.csrf_token,
        }))
    }

    pub async fn end_session(&self, token: &str) -> Result<()> {
        let delete = web_session::Entity::delete_by_id(sha256_hex(token));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(delete.exec(txn).await.map(drop)?) }))
            .await
    }

    /// Sets a person's own password (after a one-time password, or to change it).
    pub async fn set_password(&self, person_id: Uuid, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = hash_password(password.to_owned()).await?;
        let update = person::Entity::update_many()
            .col_expr(person::Column::PasswordHash, Expr::value(hash))
            .col_expr(person::Column::MustChangePassword, Expr::value(false))
            .filter(person::Column::Id.eq(person_id));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
            .await
    }

    /// Stores the person's choice of language (`da` or `en`) for the app and mails.
    pub async fn set_person_language(&self, person_id: Uuid, language: &str) -> Result<()> {
        if !matches!(language, "da" | "en") {
            return Err(Error::invalid("language", "da or en"));
        }
        let update = person::Entity::update_many()
            .col_expr(person::Column::Language, Expr::value(language))
            .filter(person::Column::Id.eq(person_id));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
            .await
    }

    // ---- the family list ------------------------------------------------------------------------------

    /// The services on a person's family list, oldest first; items older than [`FAMILY_LIST_DAYS`] are
    /// gone (the server deletes them hourly with [`Store::prune_family_lists`]).
    pub async fn family_list(&self, person_id: Uuid) -> Result<Vec<Uuid>> {
        Ok(family_list_item::Entity::find()
            .filter(family_list_item::Column::PersonId.eq(person_id))
            .filter(family_list_item::Column::AddedAt.gte(Utc::now() - Duration::days(FAMILY_LIST_DAYS)))
            .order_by_asc(family_list_item::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|item| item.service_id)
            .collect())
    }

    /// Adds a service to the list (once; an unknown service is refused).
    pub async fn add_to_family_list(&self, person_id: Uuid, service_id: Uuid) -> Result<()> {
        let current = self.family_list(person_id).await?;
        if current.contains(&service_id) {
            return Ok(());
        }
        if current.len() >= MAX_FAMILY_LIST {
            return Err(Error::invalid(
                "service_id",
                format!("a list holds at most {MAX_FAMILY_LIST} offers"),
            ));
        }
        self.get_service(service_id).await?;
        let row = family_list_item::ActiveModel {
            person_id: Set(person_id),
            service_id: Set(service_id),
            added_at: Set(Utc::now()),
            ..Default::default()
        };
        self.write_unlogged(move |txn| Box::pin(async move { Ok(row.insert(txn).await.map(drop)?) }))
            .await
    }

    pub async fn remove_from_family_list(&self, person_id: Uuid, service_id: Uuid) -> Result<()> {
        let delete = family_list_item::Entity::delete_many()
            .filter(family_list_item::Column::PersonId.eq(person_id))
            .filter(family_list_item::Column::ServiceId.eq(service_id));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(delete.exec(txn).await.map(drop)?) }))
            .await
    }

    pub async fn clear_family_list(&self, person_id: Uuid) -> Result<()> {
        let delete = family_list_item::Entity::delete_many().filter(family_list_item::Column::PersonId.eq(person_id));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(delete.exec(txn).await.map(drop)?) }))
            .await
    }

    /// Deletes sessions idle longer than `idle`; returns how many.
    pub async fn prune_sessions(&self, idle: Duration) -> Result<u64> {
        let delete = web_session::Entity::delete_many().filter(web_session::Column::LastSeenAt.lt(Utc::now() - idle));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(delete.exec(txn).await?.rows_affected) }))
            .await
    }

    /// Deletes list items older than [`FAMILY_LIST_DAYS`]; returns how many.
    pub async fn prune_family_lists(&self) -> Result<u64> {
        let cutoff = Utc::now() - Duration::days(FAMILY_LIST_DAYS);
        let delete = family_list_item::Entity::delete_many().filter(family_list_item::Column::AddedAt.lt(cutoff));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(delete.exec(txn).await?.rows_affected) }))
            .await
    }
}

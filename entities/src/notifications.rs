//! E-mail notifications (issue 12), the data half: who is told what, and the outbox.
//!
//! The referral events are the source of truth. The notifier reads the `referral_event` rows after its cursor
//! and turns them into `mail_outbox` rows in the transaction that advances the cursor, so a crash neither
//! loses nor duplicates a notice. Referral writes run under the store's write lock (one writer at a time, a
//! table lock on PostgreSQL), so event ids are committed in order and a cursor on the id misses none.
//! Several servers on one PostgreSQL take the cursor row with `FOR UPDATE SKIP LOCKED`: one of them does the
//! work, the others skip the round. The words of a mail come from the caller ([`MailWriter`]): this crate knows
//! no language. A mail never names a family nor carries a message, a note or a free-text reason.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::directory::Role;
use crate::error::Result;
use crate::referral_rules::{Actor, ReferralStatus, RejectionReason};
use crate::store::Store;
use crate::tables::{
    mail_outbox, notification_cursor, notification_preference, organization, person, referral, referral_event, service,
};

/// The cursor over `referral_event.id`.
pub const EVENTS_CURSOR: &str = "referral-events";
/// The last day (YYYYMMDD) digests were bundled.
pub const DIGEST_CURSOR: &str = "digest-day";
/// The last month (YYYYMM) partners were reminded of stale listings.
pub const STALE_CURSOR: &str = "stale-month";
/// A mail that failed this many times is given up (its `last_error` stays).
pub const MAX_ATTEMPTS: i32 = 8;

/// What a person can be told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoticeKind {
    /// A referral to the person's organisation arrived (partners).
    NewReferral,
    /// The partner moved a referral the person sent (caseworkers).
    ReferralStatus,
    /// Monthly: the organisation's listings not confirmed for a while (partners).
    StaleListings,
    /// A webhook subscription used up a delivery's retries and is marked failing (admins).
    WebhookFailing,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 4] = [
        NoticeKind::NewReferral,
        NoticeKind::ReferralStatus,
        NoticeKind::StaleListings,
        NoticeKind::WebhookFailing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::NewReferral => "new-referral",
            NoticeKind::ReferralStatus => "referral-status",
            NoticeKind::StaleListings => "stale-listings",
            NoticeKind::WebhookFailing => "webhook-failing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The kinds a person of `role` can receive.
    pub fn for_role(role: Role) -> Vec<NoticeKind> {
        match role {
            Role::Partner => vec![NoticeKind::NewReferral, NoticeKind::StaleListings],
            Role::Caseworker => vec![NoticeKind::ReferralStatus],
            Role::Admin => vec![NoticeKind::WebhookFailing],
            Role::Reader => Vec::new(),
        }
    }
}

/// When a person gets a kind of notice: at once, in one mail a day, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Immediate,
    Daily,
    Off,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Immediate, Mode::Daily, Mode::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Immediate => "immediate",
            Mode::Daily => "daily",
            Mode::Off => "off",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == text)
    }
}

/// What happened, as far as a mail may tell: a service's name and what became of a referral, never who.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    NewReferral {
        referral_id: Uuid,
        service: String,
    },
    StatusChanged {
        referral_id: Uuid,
        service: String,
        status: ReferralStatus,
        /// The rejection reason (a code from the closed list); free-text reasons are never mailed.
        reason: Option<RejectionReason>,
    },
    StaleListings {
        organization: String,
        services: Vec<String>,
    },
    /// The receiver at `url` did not take a delivery through all its retries.
    WebhookFailing {
        url: String,
    },
}

impl Notice {
    pub fn kind(&self) -> NoticeKind {
        match self {
            Notice::NewReferral { .. } => NoticeKind::NewReferral,
            Notice::StatusChanged { .. } => NoticeKind::ReferralStatus,
            Notice::StaleListings { .. } => NoticeKind::StaleListings,
            Notice::WebhookFailing { .. } => NoticeKind::WebhookFailing,
        }
    }
}

/// A mail's subject and plain-text body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub subject: String,
    pub body: String,
}

/// Puts notices into words in a person's language (`da` or `en`).
pub trait MailWriter: Send + Sync {
    fn notice(&self, notice: &Notice, language: &str) -> Written;
    /// One mail for a day's items, oldest first.
    fn digest(&self, items: &[Written], language: &str) -> Written;
}

/// A mail the sender has claimed, with where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct DueMail {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    /// None: the person is gone or disabled; the mail is not sent.
    pub to: Option<String>,
    pub language: String,
}

/// The cursor row `name`, locked for this transaction; None on PostgreSQL when another server holds it.
async fn lock_cursor(txn: &DatabaseTransaction, name: &str) -> Result<Option<i64>> {
    let insert = notification_cursor::Entity::insert(notification_cursor::ActiveModel {
        name: Set(name.to_owned()),
        position: Set(0),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(notification_cursor::Column::Name)
            .do_nothing()
            .to_owned(),
    );
    insert.exec_without_returning(txn).await?;
    let mut query = notification_cursor::Entity::find_by_id(name.to_owned());
    if txn.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(query.one(txn).await?.map(|row| row.position))
}

async fn move_cursor(txn: &DatabaseTransaction, name: &str, position: i64) -> Result<()> {
    notification_cursor::Entity::update_many()
        .col_expr(notification_cursor::Column::Position, Expr::value(position))
        .col_expr(notification_cursor::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(notification_cursor::Column::Name.eq(name))
        .exec(txn)
        .await?;
    Ok(())
}

/// The enabled people of `role` with these ids, or of `organization`: (id, language).
async fn recipients(
    txn: &DatabaseTransaction,
    role: Role,
    ids: Option<&[Uuid]>,
    organization: Option<Uuid>,
) -> Result<Vec<(Uuid, String)>> {
    let mut query = person::Entity::find()
        .filter(person::Column::Role.eq(role.as_str()))
        .filter(person::Column::DisabledAt.is_null());
    if let Some(ids) = ids {
        query = query.filter(person::Column::Id.is_in(ids.iter().copied()));
    }
    if let Some(organization) = organization {
        query = query.filter(person::Column::OrganizationId.eq(organization));
    }
    Ok(query
        .order_by_asc(person::Column::Email)
        .all(txn)
        .await?
        .into_iter()
        .map(|row| (row.id, row.language))
        .collect())
}

async fn mode_of(txn: &DatabaseTransaction, person_id: Uuid, kind: NoticeKind) -> Result<Mode> {
    Ok(
        notification_preference::Entity::find_by_id((person_id, kind.as_str().to_owned()))
            .one(txn)
            .await?
            .and_then(|row| Mode::parse(&row.mode))
            .unwrap_or_default(),
    )
}

/// Queues `notice` for each recipient as they chose it; returns how many rows were written.
async fn queue(
    txn: &DatabaseTransaction,
    writer: &dyn MailWriter,
    notice: &Notice,
    to: &[(Uuid, String)],
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut queued = 0;
    for (person_id, language) in to {
        let digest = match mode_of(txn, *person_id, notice.kind()).await? {
            Mode::Off => continue,
            Mode::Immediate => false,
            Mode::Daily => true,
        };
        insert_mail(
            txn,
            *person_id,
            notice.kind().as_str(),
            writer.notice(notice, language),
            digest,
            now,
        )
        .await?;
        queued += 1;
    }
    Ok(queued)
}

async fn insert_mail(
    txn: &DatabaseTransaction,
    person_id: Uuid,
    kind: &str,
    written: Written,
    digest: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    mail_outbox::ActiveModel {
        person_id: Set(person_id),
        kind: Set(kind.to_owned()),
        subject: Set(written.subject),
        body: Set(written.body),
        digest: Set(digest),
        created_at: Set(now),
        sent_at: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The notice a referral event gives, and to whom: a new referral to the receiving organisation's partner
/// people; the partner's accepted, rejected, completed and failed to the sending caseworker, when a person
/// sent it (keys have no address).
async fn notice_of(
    txn: &DatabaseTransaction,
    event: &referral_event::Model,
) -> Result<Option<(Notice, Vec<(Uuid, String)>)>> {
    let to = ReferralStatus::parse(&event.to_status).ok();
    let told = match to {
        Some(ReferralStatus::Requested) => event.from_status.is_none(),
        Some(
            ReferralStatus::Accepted | ReferralStatus::Rejected | ReferralStatus::Completed | ReferralStatus::Failed,
        ) => event.actor != Actor::Sender.as_str(),
        _ => false,
    };
    if !told {
        return Ok(None);
    }
    let Some(referral) = referral::Entity::find_by_id(event.referral_id).one(txn).await? else {
        return Ok(None);
    };
    let service = service::Entity::find_by_id(referral.service_id)
        .one(txn)
        .await?
        .map(|row| row.name)
        .unwrap_or_default();
    Ok(Some(match to {
        Some(ReferralStatus::Requested) => (
            Notice::NewReferral {
                referral_id: referral.id,
                service,
            },
            recipients(txn, Role::Partner, None, Some(referral.organization_id)).await?,
        ),
        Some(status) => (
            Notice::StatusChanged {
                referral_id: referral.id,
                service,
                status,
                reason: (status == ReferralStatus::Rejected)
                    .then(|| event.reason.as_deref().and_then(RejectionReason::parse))
                    .flatten(),
            },
            recipients(txn, Role::Caseworker, Some(&[referral.sender_key_id]), None).await?,
        ),
        None => return Ok(None),
    }))
}

impl Store {
    /// A person's choice for every kind (`immediate` where they chose nothing).
    pub async fn notification_modes(&self, person_id: Uuid) -> Result<BTreeMap<NoticeKind, Mode>> {
        let mut modes: BTreeMap<NoticeKind, Mode> = NoticeKind::ALL.into_iter().map(|k| (k, Mode::default())).collect();
        for row in notification_preference::Entity::find()
            .filter(notification_preference::Column::PersonId.eq(person_id))
            .all(self.connection())
            .await?
        {
            if let (Some(kind), Some(mode)) = (NoticeKind::parse(&row.kind), Mode::parse(&row.mode)) {
                modes.insert(kind, mode);
            }
        }
        Ok(modes)
    }

    /// Stores a person's choices; kinds not given stay as they are.
    pub async fn set_notification_modes(&self, person_id: Uuid, modes: Vec<(NoticeKind, Mode)>) -> Result<()> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                for (kind, mode) in modes {
                    notification_preference::Entity::insert(notification_preference::ActiveModel {
                        person_id: Set(person_id),
                        kind: Set(kind.as_str().to_owned()),
                        mode: Set(mode.as_str().to_owned()),
                        updated_at: Set(Utc::now()),
                    })
                    .on_conflict(
                        OnConflict::columns([
                            notification_preference::Column::PersonId,
                            notification_preference::Column::Kind,
                        ])
                        .update_columns([
                            notification_preference::Column::Mode,
                            notification_preference::Column::UpdatedAt,
                        ])
                        .to_owned(),
                    )
                    .exec_without_returning(txn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Tells the admins (as each chose) that the webhook subscription to `url` is failing; returns how many
    /// mails were queued.
    pub async fn notify_webhook_failing(&self, writer: Arc<dyn MailWriter>, url: String) -> Result<usize> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let admins: Vec<(Uuid, String)> = person::Entity::find()
                    .filter(person::Column::Role.eq(Role::Admin.as_str()))
                    .filter(person::Column::DisabledAt.is_null())
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|admin| (admin.id, admin.language))
                    .collect();
                queue(txn, &*writer, &Notice::WebhookFailing { url }, &admins, Utc::now()).await
            })
        })
        .await
    }

    /// Turns up to `limit` referral events after the cursor into outbox rows and advances the cursor, in one
    /// transaction. Returns the number of events read (0: nothing new, or another server is at it).
    pub async fn notify_referral_events(&self, writer: Arc<dyn MailWriter>, limit: u64) -> Result<usize> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let Some(after) = lock_cursor(txn, EVENTS_CURSOR).await? else {
                    return Ok(0);
                };
                let events = referral_event::Entity::find()
                    .filter(referral_event::Column::Id.gt(after))
                    .order_by_asc(referral_event::Column::Id)
                    .limit(limit)
                    .all(txn)
                    .await?;
                let now = Utc::now();
                for event in &events {
                    if let Some((notice, to)) = notice_of(txn, event).await? {
                        queue(txn, &*writer, &notice, &to, now).await?;
                    }
                }
                if let Some(last) = events.last() {
                    move_cursor(txn, EVENTS_CURSOR, last.id).await?;
                }
                Ok(events.len())
            })
        })
        .await
    }

    /// Once a month (`month` as YYYYMM): tells each organisation's partner people which of its listings are
    /// stale (the rule of [`crate::health`]). Returns the number of mails queued; 0 when this month's went out.
    pub async fn remind_stale_listings(&self, writer: Arc<dyn MailWriter>, month: i64) -> Result<usize> {
        let cutoff = crate::health::stale_cutoff();
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                match lock_cursor(txn, STALE_CURSOR).await? {
                    Some(done) if done < month => {}
                    _ => return Ok(0),
                }
                let mut by_organization: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
                for row in crate::health::stale_services(cutoff)
                    .order_by_asc(service::Column::Name)
                    .all(txn)
                    .await?
                {
                    by_organization.entry(row.organization_id).or_default().push(row.name);
                }
                let now = Utc::now();
                let mut queued = 0;
                for (organization_id, services) in by_organization {
                    let to = recipients(txn, Role::Partner, None, Some(organization_id)).await?;
                    if to.is_empty() {
                        continue;
                    }
                    let organization = organization::Entity::find_by_id(organization_id)
                        .one(txn)
                        .await?
                        .map(|row| row.name)
                        .unwrap_or_default();
                    let notice = Notice::StaleListings { organization, services };
                    queued += queue(txn, &*writer, &notice, &to, now).await?;
                }
                move_cursor(txn, STALE_CURSOR, month).await?;
                Ok(queued)
            })
        })
        .await
    }

    /// Once a day (`day` as YYYYMMDD): bundles each person's waiting digest items into one mail. Returns the
    /// number of digest mails queued; 0 when today's went out.
    pub async fn bundle_digests(&self, writer: Arc<dyn MailWriter>, day: i64) -> Result<usize> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                match lock_cursor(txn, DIGEST_CURSOR).await? {
                    Some(done) if done < day => {}
                    _ => return Ok(0),
                }
                let items = mail_outbox::Entity::find()
                    .filter(mail_outbox::Column::Digest.eq(true))
                    .filter(mail_outbox::Column::SentAt.is_null())
                    .order_by_asc(mail_outbox::Column::Id)
                    .all(txn)
                    .await?;
                let mut by_person: BTreeMap<Uuid, Vec<mail_outbox::Model>> = BTreeMap::new();
                for item in items {
                    by_person.entry(item.person_id).or_default().push(item);
                }
                let now = Utc::now();
                let mut queued = 0;
                for (person_id, items) in by_person {
                    let language = person::Entity::find_by_id(person_id)
                        .one(txn)
                        .await?
                        .map_or_else(|| "da".to_owned(), |row| row.language);
                    let written: Vec<Written> = items
                        .iter()
                        .map(|item| Written {
                            subject: item.subject.clone(),
                            body: item.body.clone(),
                        })
                        .collect();
                    insert_mail(txn, person_id, "digest", writer.digest(&written, &language), false, now).await?;
                    mail_outbox::Entity::update_many()
                        .col_expr(mail_outbox::Column::SentAt, Expr::value(now))
                        .filter(mail_outbox::Column::Id.is_in(items.iter().map(|item| item.id)))
                        .exec(txn)
                        .await?;
                    queued += 1;
                }
                move_cursor(txn, DIGEST_CURSOR, day).await?;
                Ok(queued)
            })
        })
        .await
    }

    /// Claims up to `limit` unsent mails that are due: their next attempt moves `lease` ahead, so another
    /// sender (another server) leaves them alone while this one sends. A crash mid-send retries after the lease.
    pub async fn claim_due_mails(&self, limit: u64, lease: Duration) -> Result<Vec<DueMail>> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let now = Utc::now();
                let mut query = mail_outbox::Entity::find()
                    .filter(mail_outbox::Column::SentAt.is_null())
                    .filter(mail_outbox::Column::Digest.eq(false))
                    .filter(mail_outbox::Column::NextAttemptAt.lte(now))
                    .filter(mail_outbox::Column::Attempts.lt(MAX_ATTEMPTS))
                    .order_by_asc(mail_outbox::Column::Id)
                    .limit(limit);
                if txn.get_database_backend() == DbBackend::Postgres {
                    query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
                }
                let rows = query.all(txn).await?;
                if rows.is_empty() {
                    return Ok(Vec::new());
                }
                mail_outbox::Entity::update_many()
                    .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(now + lease))
                    .col_expr(
                        mail_outbox::Column::Attempts,
                        Expr::col(mail_outbox::Column::Attempts).add(1),
                    )
                    .filter(mail_outbox::Column::Id.is_in(rows.iter().map(|row| row.id)))
                    .exec(txn)
                    .await?;
                let people: BTreeMap<Uuid, person::Model> = person::Entity::find()
                    .filter(person::Column::Id.is_in(rows.iter().map(|row| row.person_id)))
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|row| (row.id, row))
                    .collect();
                Ok(rows
                    .into_iter()
                    .map(|row| {
                        let person = people.get(&row.person_id);
                        DueMail {
                            id: row.id,
                            kind: row.kind,
                            subject: row.subject,
                            body: row.body,
                            attempts: row.attempts + 1,
                            to: person.filter(|p| p.disabled_at.is_none()).map(|p| p.email.clone()),
                            language: person.map_or_else(|| "da".to_owned(), |p| p.language.clone()),
                        }
                    })
                    .collect())
            })
        })
        .await
    }

    /// The mail left.
    pub async fn mail_sent(&self, id: i64) -> Result<()> {
        let update = mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::SentAt, Expr::value(Utc::now()))
            .col_expr(mail_outbox::Column::LastError, Expr::value(Option::<String>::None))
            .filter(mail_outbox::Column::Id.eq(id));
        self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
            .await
    }

    /// Sending failed: try again at `retry_at` (None: never), keeping the error.
    pub async fn mail_failed(&self, id: i64, error: String, retry_at: Option<DateTime<Utc>>) -> Result<()> {
        let mut update = mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::LastError, Expr::value(error))
            .filter(mail_outbox::Column::Id.eq(id));
        update = match retry_at {
            Some(at) => update.col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(at)),
            None => update.col_expr(mail_outbox::Column::Attempts, Expr::value(MAX_ATTEMPTS)),
        };
        self.write_unlogged(move |txn| Box::pin(async move { Ok(update.exec(txn).await.map(drop)?) }))
            .await
    }

    /// Every outbox row, oldest first (tests and operators).
    pub async fn outbox(&self) -> Result<Vec<mail_outbox::Model>> {
        Ok(mail_outbox::Entity::find()
            .order_by_asc(mail_outbox::Column::Id)
            .all(self.connection())
            .await?)
    }

    /// Unsent mails (digest items included) and mails given up (`/metrics`).
    pub async fn outbox_backlog(&self) -> Result<(u64, u64)> {
        use sea_orm::PaginatorTrait;
        let unsent = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::SentAt.is_null())
            .filter(mail_outbox::Column::Attempts.lt(MAX_ATTEMPTS));
        let given_up = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::SentAt.is_null())
            .filter(mail_outbox::Column::Attempts.gte(MAX_ATTEMPTS));
        Ok((
            unsent.count(self.connection()).await?,
            given_up.count(self.connection()).await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_modes_read_back() {
        for kind in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(kind.as_str()), Some(kind));
        }
        for mode in Mode::ALL {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Mode::default(), Mode::Immediate);
        assert_eq!(NoticeKind::for_role(Role::Partner).len(), 2);
        assert_eq!(NoticeKind::for_role(Role::Caseworker), vec![NoticeKind::ReferralStatus]);
    }
}

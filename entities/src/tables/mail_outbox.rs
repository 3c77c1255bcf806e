use sea_orm::entity::prelude::*;

/// A mail to one person, or (`digest`) an item waiting for that person's daily digest. Written by the notifier
/// in the transaction that advances its cursor; `sent_at` is set once the mail left (or, for a digest item,
/// once it went into a digest mail). `next_attempt_at` is both the retry time after a failure and the lease of
/// a sender that claimed the row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: Uuid,
    /// `new-referral`, `referral-status`, `stale-listings` or `digest`.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub digest: bool,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub next_attempt_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A referral of a family to a service. `family_hash` is HMAC-SHA256(server secret, family_ref) in hex;
/// it and `message` are cleared by `brobygger purge` once the referral is closed and old enough.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "referral")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub service_id: Uuid,
    /// The receiving organization: the one offering the service when the referral was made.
    #[sea_orm(indexed)]
    pub organization_id: Uuid,
    /// Who sent the referral: a caseworker key's id, or a caseworker person's id (`person.id`).
    #[sea_orm(indexed)]
    pub sender_key_id: Uuid,
    /// The sending person's team when sent: colleagues of the same team see the referral too.
    #[sea_orm(nullable)]
    pub sender_team: Option<String>,
    #[sea_orm(indexed, nullable)]
    pub family_hash: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    pub consent_given_at: DateTimeUtc,
    pub consent_scope: String,
    pub preferred_language: Option<String>,
    pub contact_preference: Option<String>,
    pub priority: String,
    #[sea_orm(indexed)]
    pub status: String,
    /// The state an `on-hold` referral was held from (the only state it may resume to).
    pub held_from: Option<String>,
    /// The rejection reason code when `status` is `rejected`.
    pub rejection_reason: Option<String>,
    /// Postal code of the service's first location when the referral was made (reports by area).
    pub area: Option<String>,
    pub version: i64,
    #[sea_orm(indexed)]
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The first time the receiving partner moved the referral past requested/received.
    pub first_response_at: Option<DateTimeUtc>,
    pub accepted_at: Option<DateTimeUtc>,
    /// When the referral reached a closed state (rejected, completed, failed, cancelled).
    #[sea_orm(indexed, nullable)]
    pub closed_at: Option<DateTimeUtc>,
    /// When `brobygger purge` removed the message and family hash.
    pub purged_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

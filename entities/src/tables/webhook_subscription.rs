use sea_orm::entity::prelude::*;

/// An app's wish to be told of events: where to POST them, which, and the secret they are signed with.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_subscription")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The event types, a JSON array (`["service.updated", "referral.*"]`).
    #[sea_orm(column_type = "Text")]
    pub events: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// `whsec_` + base64 of 24 random bytes: the HMAC key of the Standard Webhooks signature.
    pub secret: String,
    /// The key or person that made it.
    #[sea_orm(indexed)]
    pub owner_id: Uuid,
    pub owner_role: String,
    /// A partner's organization: its referral events are the ones it may receive.
    #[sea_orm(indexed)]
    pub organization_id: Option<Uuid>,
    /// `active`, or `failing` after a delivery used up its retries (deliveries go on; a PATCH to `active` clears
    /// it).
    pub status: String,
    pub consecutive_failures: i32,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

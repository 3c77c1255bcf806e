use sea_orm::entity::prelude::*;

/// One status change of a referral (creation included, with `from_status` null). Append-only.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub referral_id: Uuid,
    pub from_status: Option<String>,
    pub to_status: String,
    /// `sender`, `receiving-partner` or `system` (see `referral_rules::Actor`).
    pub actor: String,
    /// The role of the key that made the change; `system` for automatic changes.
    pub role: String,
    pub key_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub reason: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

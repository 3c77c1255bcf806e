use sea_orm::entity::prelude::*;

/// A person's choice for one kind of notice: `immediate`, `daily` or `off`. No row: `immediate`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_preference")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub person_id: Uuid,
    /// `new-referral`, `referral-status` or `stale-listings`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: String,
    pub mode: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

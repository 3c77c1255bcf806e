use sea_orm::entity::prelude::*;

/// How far the notifier got: `referral-events` (the last `referral_event.id` turned into mails),
/// `digest-day` (the last day digests went out, as YYYYMMDD), `stale-month` (the last month partners were
/// reminded of stale listings, as YYYYMM).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_cursor")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub position: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

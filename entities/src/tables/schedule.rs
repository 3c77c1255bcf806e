use sea_orm::entity::prelude::*;

/// An opening in RFC 5545 terms, as HSDS 3.0 models it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub service_id: Uuid,
    /// Comma separated RFC 5545 day codes, e.g. `MO,WE`.
    pub byday: String,
    /// `HH:MM`
    pub opens_at: String,
    pub closes_at: String,
    pub valid_from: Option<Date>,
    pub valid_to: Option<Date>,
    pub description: Option<String>,
    /// `WEEKLY` or `MONTHLY` (added by migration 010, as are the fields below).
    pub freq: String,
    pub interval: i32,
    /// Comma separated days of the month, e.g. `1,15,-1`.
    pub bymonthday: String,
    pub dtstart: Option<Date>,
    pub until: Option<Date>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

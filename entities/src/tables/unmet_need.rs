use sea_orm::entity::prelude::*;

/// How often searches for a need near an area found nothing within their radius, per month. An aggregate
/// by design: no query text, no person, no time finer than the month, so it cannot name a family.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "unmet_need")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub need_code: String,
    /// A postal code: of the place searched near, or of the gazetteer place nearest the point.
    #[sea_orm(primary_key, auto_increment = false)]
    pub area: String,
    /// `YYYY-MM`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

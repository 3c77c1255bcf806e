use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "location")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The owner, whose partners may edit the place; None for a place only admins edit (services of any
    /// organization may be at it either way).
    #[sea_orm(indexed)]
    pub organization_id: Option<Uuid>,
    pub name: String,
    /// None for places without usable coordinates (HSDS virtual or imported with invalid ones).
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address_1: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// Crisis shelters and the like: address and coordinates are shown only to those who need them.
    pub confidential: bool,
    pub status: String,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

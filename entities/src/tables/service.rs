use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub organization_id: Uuid,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    pub minimum_age: Option<i32>,
    pub maximum_age: Option<i32>,
    pub free: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub fees_description: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub eligibility_description: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub application_process: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: String,
    pub assured_date: Option<Date>,
    pub capacity: Option<String>,
    /// Who the service is for: `any`, `women`, `men`, `girls` or `boys` (added by migration 005).
    #[sea_orm(column_type = "Text", default_value = "any")]
    pub gender: String,
    /// GeoJSON (Polygon or MultiPolygon) of the area the service covers, when it is not tied to a place.
    #[sea_orm(column_type = "Text", nullable)]
    pub service_area: Option<String>,
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

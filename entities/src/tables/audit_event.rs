use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The API key that acted, for apps.
    pub key_id: Option<Uuid>,
    /// The person that acted, for web app users.
    #[sea_orm(nullable)]
    pub person_id: Option<Uuid>,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub action: String,
    pub entity: String,
    #[sea_orm(indexed)]
    pub entity_id: Option<Uuid>,
    #[sea_orm(indexed)]
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

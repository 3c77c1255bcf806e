use sea_orm::entity::prelude::*;

/// An offer on a caseworker's list for the family they are visiting ("Familiens liste"). Kept with the
/// caseworker, never with the family's identity; items older than 30 days are deleted.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "family_list_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(indexed)]
    pub person_id: Uuid,
    pub service_id: Uuid,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

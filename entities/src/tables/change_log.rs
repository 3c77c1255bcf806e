use sea_orm::entity::prelude::*;

/// Monotonic log of every directory write. The search index and `/v1/changes` followers read it in
/// `seq` order; writers serialise on it so sequence order equals commit order.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub entity: String,
    #[sea_orm(indexed)]
    pub entity_id: Uuid,
    pub operation: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// The HSDS fields of one imported record that Brobygger does not map itself, as a JSON object.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "hsds_extra")]
pub struct Model {
    /// `organization`, `location` or `service`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub entity: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub record_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub document: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A term of the needs taxonomy. Top-level codes are fixed by the API contract; sub-terms are
/// `parent/child`. Labels and synonyms live in the seed file; the table holds what joins need.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "need")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub parent_code: Option<String>,
    pub label_da: String,
    pub label_en: String,
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

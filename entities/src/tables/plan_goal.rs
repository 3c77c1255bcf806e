use sea_orm::entity::prelude::*;

/// One goal of a family plan, on the scale of its kind (`seed-data/goal-kinds.json`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plan_goal")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub plan_id: Uuid,
    /// The order the goals were set in, from 0.
    pub position: i32,
    pub kind: String,
    /// What the goal is, for kind `other`.
    pub other_text: Option<String>,
    /// `parent`, `child` or `family`: never a name.
    pub for_whom: String,
    pub baseline: f64,
    pub target: f64,
    pub target_date: Date,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

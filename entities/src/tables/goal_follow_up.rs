use sea_orm::entity::prelude::*;

/// A follow-up of a goal: the value on the goal's scale at a date, as discussed with the family.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "goal_follow_up")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub goal_id: Uuid,
    pub on_date: Date,
    pub value: f64,
    pub note: Option<String>,
    /// Who recorded it (person or key).
    pub recorded_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A referral serving a goal of a family plan.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "referral_goal")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub referral_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub goal_id: Uuid,
    /// Whether the referral helped the goal, as the receiving partner said when completing or failing it:
    /// `yes`, `partly`, `no` or `unknown`.
    pub helped: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A family plan: the challenges in the family's own words and the goals set with them. The family is known
/// only by the keyed hash of the caseworker's case reference, like referrals.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "family_plan")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub family_hash: String,
    /// The caseworker (person or key) who made the plan.
    #[sea_orm(indexed)]
    pub owner_id: Uuid,
    /// The owner's team: its caseworkers share the plan.
    #[sea_orm(indexed)]
    pub team: Option<String>,
    pub challenges: String,
    /// Need codes, JSON array.
    pub needs: String,
    pub consent_given_at: DateTimeUtc,
    pub consent_scope: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

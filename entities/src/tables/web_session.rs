use sea_orm::entity::prelude::*;

/// A logged-in browser. The cookie holds a random token; only its SHA-256 is stored.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "web_session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    #[sea_orm(indexed)]
    pub person_id: Uuid,
    /// The synchronizer token every form of this session must carry.
    pub csrf_token: String,
    pub created_at: DateTimeUtc,
    /// Sessions idle longer than the idle timeout are gone.
    pub last_seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

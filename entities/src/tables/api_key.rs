use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// SHA-256 of the secret, hex. Secrets are 256 random bits, so a fast hash is as safe as a slow one
    /// and keeps per-request authentication cheap (argon2 is for low-entropy passwords).
    #[sea_orm(unique)]
    pub secret_hash: String,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub label: Option<String>,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Referrals: the referral itself, the needs it addresses and its status events, created from the table
//! definitions as they were when this migration was written.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use super::create;
use crate::tables::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        create(manager, &schema, referral::Entity).await?;
        create(manager, &schema, referral_need::Entity).await?;
        create(manager, &schema, referral_event::Entity).await?;
        Ok(())
    }
}

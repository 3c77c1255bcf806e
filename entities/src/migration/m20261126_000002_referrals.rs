//! Referrals: the referral itself, the needs it addresses and its status events, created from the table
//! definitions as they were when this migration was written.

use sea_orm::{EntityTrait, Schema};
use sea_orm_migration::prelude::*;

use crate::tables::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn create<E: EntityTrait>(manager: &SchemaManager<'_>, schema: &Schema, entity: E) -> Result<(), DbErr> {
    manager
        .create_table(schema.create_table_from_entity(entity).if_not_exists().to_owned())
        .await?;
    for mut index in schema.create_index_from_entity(entity) {
        manager.create_index(index.if_not_exists().to_owned()).await?;
    }
    Ok(())
}

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

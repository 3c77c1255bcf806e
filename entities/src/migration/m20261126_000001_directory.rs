//! The directory, keys, change log and audit trail, created from the table definitions as they were when
//! this migration was written.

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
        create(manager, &schema, organization::Entity).await?;
        create(manager, &schema, location::Entity).await?;
        create(manager, &schema, service::Entity).await?;
        create(manager, &schema, service_at_location::Entity).await?;
        create(manager, &schema, schedule::Entity).await?;
        create(manager, &schema, service_language::Entity).await?;
        create(manager, &schema, service_need::Entity).await?;
        create(manager, &schema, need::Entity).await?;
        create(manager, &schema, api_key::Entity).await?;
        create(manager, &schema, change_log::Entity).await?;
        create(manager, &schema, audit_event::Entity).await?;
        Ok(())
    }
}

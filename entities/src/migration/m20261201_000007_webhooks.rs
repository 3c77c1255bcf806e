//! Webhooks (issue 12): subscriptions, the delivery outbox and the fan-out cursors.

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use super::create;
use crate::tables::{webhook_cursor, webhook_delivery, webhook_subscription};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        create(manager, &schema, webhook_subscription::Entity).await?;
        create(manager, &schema, webhook_delivery::Entity).await?;
        create(manager, &schema, webhook_cursor::Entity).await?;
        Ok(())
    }
}

//! Webhooks (issue 12): subscriptions, the delivery outbox and the fan-out cursors. Written as fixed
//! statements: this migration must create the same tables whatever the table definitions later become.

use sea_orm_migration::prelude::*;

use super::{index, serial_key, timestamp, uuid_key};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookSubscription {
    Table,
    Id,
    Url,
    Events,
    Description,
    Secret,
    OwnerId,
    OwnerRole,
    OrganizationId,
    Status,
    ConsecutiveFailures,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    SubscriptionId,
    MessageId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookCursor {
    Table,
    Source,
    Position,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookSubscription::Table)
                    .if_not_exists()
                    .col(uuid_key(WebhookSubscription::Id))
                    .col(ColumnDef::new(WebhookSubscription::Url).text().not_null())
                    .col(ColumnDef::new(WebhookSubscription::Events).text().not_null())
                    .col(ColumnDef::new(WebhookSubscription::Description).text().null())
                    .col(ColumnDef::new(WebhookSubscription::Secret).string().not_null())
                    .col(ColumnDef::new(WebhookSubscription::OwnerId).uuid().not_null())
                    .col(ColumnDef::new(WebhookSubscription::OwnerRole).string().not_null())
                    .col(ColumnDef::new(WebhookSubscription::OrganizationId).uuid().null())
                    .col(ColumnDef::new(WebhookSubscription::Status).string().not_null())
                    .col(
                        ColumnDef::new(WebhookSubscription::ConsecutiveFailures)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookSubscription::Version).big_integer().not_null())
                    .col(timestamp(WebhookSubscription::CreatedAt))
                    .col(timestamp(WebhookSubscription::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-webhook_subscription-owner_id",
            WebhookSubscription::Table,
            WebhookSubscription::OwnerId,
        )
        .await?;
        index(
            manager,
            "idx-webhook_subscription-organization_id",
            WebhookSubscription::Table,
            WebhookSubscription::OrganizationId,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .if_not_exists()
                    .col(serial_key(WebhookDelivery::Id))
                    .col(ColumnDef::new(WebhookDelivery::SubscriptionId).uuid().not_null())
                    .col(ColumnDef::new(WebhookDelivery::MessageId).string().not_null())
                    .col(ColumnDef::new(WebhookDelivery::EventType).string().not_null())
                    .col(ColumnDef::new(WebhookDelivery::Payload).text().not_null())
                    .col(ColumnDef::new(WebhookDelivery::Status).string().not_null())
                    .col(ColumnDef::new(WebhookDelivery::Attempts).integer().not_null())
                    .col(timestamp(WebhookDelivery::NextAttemptAt))
                    .col(
                        ColumnDef::new(WebhookDelivery::LockedUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookDelivery::LastStatus).integer().null())
                    .col(ColumnDef::new(WebhookDelivery::LastError).text().null())
                    .col(timestamp(WebhookDelivery::CreatedAt))
                    .col(
                        ColumnDef::new(WebhookDelivery::DeliveredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx-webhook_delivery-subscription_id",
            WebhookDelivery::Table,
            WebhookDelivery::SubscriptionId,
        )
        .await?;
        index(
            manager,
            "idx-webhook_delivery-status",
            WebhookDelivery::Table,
            WebhookDelivery::Status,
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookCursor::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(WebhookCursor::Source).string().not_null().primary_key())
                    .col(ColumnDef::new(WebhookCursor::Position).big_integer().not_null())
                    .to_owned(),
            )
            .await
    }
}

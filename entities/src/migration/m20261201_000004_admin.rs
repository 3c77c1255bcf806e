//! The municipality's tools: invitations (one-time links to choose a password) and the unmet-needs
//! aggregate. Written as fixed statements: this migration must create the same tables whatever the table
//! definitions later become.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invitation {
    Table,
    TokenHash,
    PersonId,
    InvitedBy,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum UnmetNeed {
    Table,
    NeedCode,
    Area,
    Month,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitation::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Invitation::TokenHash).string().not_null().primary_key())
                    .col(ColumnDef::new(Invitation::PersonId).uuid().not_null())
                    .col(ColumnDef::new(Invitation::InvitedBy).uuid().not_null())
                    .col(
                        ColumnDef::new(Invitation::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitation::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Invitation::UsedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-invitation-person_id")
                    .table(Invitation::Table)
                    .col(Invitation::PersonId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UnmetNeed::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(UnmetNeed::NeedCode).string().not_null())
                    .col(ColumnDef::new(UnmetNeed::Area).string().not_null())
                    .col(ColumnDef::new(UnmetNeed::Month).string().not_null())
                    .col(ColumnDef::new(UnmetNeed::Count).big_integer().not_null().default(0))
                    .primary_key(
                        Index::create()
                            .col(UnmetNeed::NeedCode)
                            .col(UnmetNeed::Area)
                            .col(UnmetNeed::Month),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}

//! `hsds_extra`: the HSDS fields of an imported organization, location or service that Brobygger does not
//! map to its own (accessibility, required documents, funding, programs, `x_` extensions, ...), kept as
//! JSON so that /hsds exports what was imported. Fixed statements.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum HsdsExtra {
    Table,
    Entity,
    RecordId,
    Document,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HsdsExtra::Table)
                    .col(ColumnDef::new(HsdsExtra::Entity).string().not_null())
                    .col(ColumnDef::new(HsdsExtra::RecordId).uuid().not_null())
                    .col(ColumnDef::new(HsdsExtra::Document).text().not_null())
                    .primary_key(Index::create().col(HsdsExtra::Entity).col(HsdsExtra::RecordId))
                    .to_owned(),
            )
            .await
    }
}

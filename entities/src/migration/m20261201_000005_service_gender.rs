//! Who a service is for: `service.gender` (`any`, `women`, `men`, `girls`, `boys`), `any` for every existing
//! service. Written as a fixed statement: this migration must add the same column whatever the table
//! definitions later become.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Service {
    Table,
    Gender,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Fixed DDL: the first migration creates `service` without the column, so this adds it. The guard is for
        // databases created by earlier builds, whose first migration created `service` from the table
        // definition of the day: those made after this migration was written already have the column (with
        // the same type and default), and adding it twice would fail.
        if !manager.has_column("service", "gender").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Service::Table)
                        .add_column(ColumnDef::new(Service::Gender).text().not_null().default("any"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

//! Schema migrations, run at every start on SQLite and PostgreSQL. Applied migrations are recorded in
//! `seaql_migrations`; a new schema change is a new module added to the list, never an edit of an old one.
//!
//! Every migration is fixed DDL: it names its tables, columns, types, defaults and indexes itself and never
//! reads the table definitions in `crate::tables`, which describe the schema as it is *now*. A migration
//! built from them would create a different schema whenever a later change touched one of its tables, and
//! the migrations after it would then meet columns they expect to add. The upgrade test
//! (`api/tests/api/upgrade.rs`) loads a dump of the first release's database and migrates it to now.

use sea_orm_migration::prelude::*;

mod m20261126_000001_directory;
mod m20261126_000002_referrals;
mod m20261201_000003_people;
mod m20261201_000004_admin;
mod m20261201_000005_service_gender;
mod m20261201_000006_family_plans;
mod m20261201_000007_webhooks;
mod m20261201_000008_notifications;
mod m20261202_000009_shared_locations;
mod m20261202_000010_full_schedules;
mod m20261202_000011_hsds_extra;

pub struct Migrator;

/// A UUID primary key.
pub(crate) fn uuid_key(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).uuid().not_null().primary_key().to_owned()
}

/// A 64-bit primary key the database counts up (an identity column on PostgreSQL, `AUTOINCREMENT` on SQLite).
pub(crate) fn serial_key(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// A point in time that is always set.
pub(crate) fn timestamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).timestamp_with_time_zone().not_null().to_owned()
}

/// `CREATE INDEX IF NOT EXISTS name ON table (column)`.
pub(crate) async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .create_index(
            Index::create()
                .name(name)
                .table(table)
                .col(column)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_directory::Migration),
            Box::new(m20261126_000002_referrals::Migration),
            Box::new(m20261201_000003_people::Migration),
            Box::new(m20261201_000004_admin::Migration),
            Box::new(m20261201_000005_service_gender::Migration),
            Box::new(m20261201_000006_family_plans::Migration),
            Box::new(m20261201_000007_webhooks::Migration),
            Box::new(m20261201_000008_notifications::Migration),
            Box::new(m20261202_000009_shared_locations::Migration),
            Box::new(m20261202_000010_full_schedules::Migration),
            Box::new(m20261202_000011_hsds_extra::Migration),
        ]
    }
}

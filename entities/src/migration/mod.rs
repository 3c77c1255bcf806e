//! Schema migrations, run at every start on SQLite and PostgreSQL. Applied migrations are recorded in
//! `seaql_migrations`; a new schema change is a new module added to the list, never an edit of an old one.

use sea_orm::{EntityTrait, Schema};
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

pub struct Migrator;

/// Creates a table and its indexes from a table definition, as it is when the calling migration runs.
/// Migrations call this only for tables they introduce; later changes to a table get explicit statements.
pub(crate) async fn create<E: EntityTrait>(
    manager: &SchemaManager<'_>,
    schema: &Schema,
    entity: E,
) -> Result<(), DbErr> {
    manager
        .create_table(schema.create_table_from_entity(entity).if_not_exists().to_owned())
        .await?;
    for mut index in schema.create_index_from_entity(entity) {
        manager.create_index(index.if_not_exists().to_owned()).await?;
    }
    Ok(())
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
        ]
    }
}

//! Schema migrations, run at every start on SQLite and PostgreSQL. Applied migrations are recorded in
//! `seaql_migrations`; a new schema change is a new module added to the list, never an edit of an old one.

use sea_orm_migration::prelude::*;

mod m20261126_000001_directory;
mod m20261126_000002_referrals;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_directory::Migration),
            Box::new(m20261126_000002_referrals::Migration),
        ]
    }
}

//! Places shared by several organizations: `location.organization_id` becomes optional. When set it names
//! the owner, whose partners may edit the place; services of any organization may be at it either way.
//!
//! Fixed statements, whatever the table definitions later become. PostgreSQL drops the NOT NULL in place.
//! SQLite cannot change a column's constraints, so the table is rebuilt (new table, rows copied, old one
//! dropped, new one renamed, indexes recreated), in one transaction together with the migration's record:
//! a crash leaves the old table or the new one, never neither. No table refers to `location` by a foreign
//! key, so dropping it takes nothing else with it.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &str = r#"ALTER TABLE "location" ALTER COLUMN "organization_id" DROP NOT NULL"#;

/// The location table as the first release created it, with `organization_id` nullable.
const SQLITE_REBUILD: &[&str] = &[
    r#"CREATE TABLE "location_shared" (
        "id" uuid_text NOT NULL PRIMARY KEY,
        "organization_id" uuid_text NULL,
        "name" varchar NOT NULL,
        "latitude" double NULL,
        "longitude" double NULL,
        "address_1" varchar NULL,
        "postal_code" varchar NULL,
        "city" varchar NULL,
        "confidential" boolean NOT NULL,
        "status" varchar NOT NULL,
        "version" integer NOT NULL,
        "created_at" timestamp_with_timezone_text NOT NULL,
        "updated_at" timestamp_with_timezone_text NOT NULL
    )"#,
    r#"INSERT INTO "location_shared" ("id", "organization_id", "name", "latitude", "longitude", "address_1",
        "postal_code", "city", "confidential", "status", "version", "created_at", "updated_at")
        SELECT "id", "organization_id", "name", "latitude", "longitude", "address_1", "postal_code", "city",
        "confidential", "status", "version", "created_at", "updated_at" FROM "location""#,
    r#"DROP TABLE "location""#,
    r#"ALTER TABLE "location_shared" RENAME TO "location""#,
    r#"CREATE INDEX IF NOT EXISTS "idx-location-organization_id" ON "location" ("organization_id")"#,
];

/// Is `location.organization_id` still NOT NULL on this SQLite database? (A database created by a later
/// first migration may have it nullable already.)
async fn sqlite_owner_required<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            r#"SELECT "notnull" FROM pragma_table_info('location') WHERE "name" = 'organization_id'"#,
        ))
        .await?
        .ok_or_else(|| DbErr::Migration("location.organization_id is missing".into()))?;
    Ok(row.try_get::<i32>("", "notnull")? != 0)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// On SQLite too: the rebuild must not be left half done.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(POSTGRES).await?;
            }
            DbBackend::Sqlite => {
                if sqlite_owner_required(db).await? {
                    for statement in SQLITE_REBUILD {
                        db.execute_unprepared(statement).await?;
                    }
                }
            }
            other => return Err(DbErr::Migration(format!("unsupported database {other:?}"))),
        }
        Ok(())
    }
}

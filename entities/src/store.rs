//! The store: every read and write of the directory, keys, change log and audit trail goes through here.
//! Writes run in one transaction together with their change-log row, so the log never misses a write.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use uuid::Uuid;

use crate::access::Actor;
use crate::directory::*;
use crate::error::{Error, FieldError, Result};
use crate::migration::Migrator;
use crate::tables::*;

/// Which page of a list to read; `page` counts from 1.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub page: u64,
    pub per_page: u64,
}

impl Page {
    /// The total number of rows of `query` and the rows of this page.
    pub async fn fetch<E>(self, db: &DatabaseConnection, query: sea_orm::Select<E>) -> Result<(u64, Vec<E::Model>)>
    where
        E: EntityTrait,
        E::Model: Sync,
    {
        let paginator = query.paginate(db, self.per_page);
        let total = paginator.num_items().await?;
        let rows = paginator.fetch_page(self.page.saturating_sub(1)).await?;
        Ok((total, rows))
    }
}

/// Filters shared by the directory lists.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub organization_id: Option<Uuid>,
    pub status: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Organization,
    Location,
    Service,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Organization => "organization",
            Entity::Location => "location",
            Entity::Service => "service",
        }
    }
}

/// What a change-log row says happened. `delete` is the soft delete (status inactive), a tombstone for mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub entity: String,
    pub id: Uuid,
    pub operation: String,
    pub at: chrono::DateTime<Utc>,
}

pub struct Store {
    db: DatabaseConnection,
    /// Serialises writers inside this process. SQLite allows one writer at a time and would answer a second
    /// deferred transaction with SQLITE_BUSY; on PostgreSQL a table lock does the same across processes.
    write_lock: tokio::sync::Mutex<()>,
}

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

fn not_found(entity: Entity, id: Uuid) -> Error {
    Error::NotFound {
        entity: entity.as_str(),
        id: id.to_string(),
    }
}

/// Before a write of `id` by someone: a stored record (here its owner) must pass `allowed`; a missing one is
/// written only by a create.
fn may_change<T>(
    entity: Entity,
    id: Uuid,
    current: Option<T>,
    create_only: bool,
    allowed: impl FnOnce(T) -> Result<()>,
) -> Result<()> {
    match current {
        Some(current) => allowed(current),
        None if create_only => Ok(()),
        None => Err(not_found(entity, id)),
    }
}

fn check_version(entity: Entity, current: i64, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(expected) if expected != current => Err(Error::VersionMismatch {
            entity: entity.as_str(),
            current,
        }),
        _ => Ok(()),
    }
}

/// The PostgreSQL advisory lock key migrations run under ("brobygr" in ASCII).
const MIGRATION_LOCK: i64 = 0x62726f6279677200;

impl Store {
    /// Connects to `url` (`sqlite://FILE?mode=rwc` or `postgres://...`) and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(if url.starts_with("sqlite") { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let db = Database::connect(options).await?;
        if db.get_database_backend() == DbBackend::Postgres {
            // Nodes starting together migrate one at a time: the first holds the lock while it migrates, the
            // others wait for it and then find nothing left to do. The lock is the transaction's, so it is
            // let go however this ends.
            let lock = db.begin().await?;
            lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
            Migrator::up(&db, None).await?;
            lock.commit().await?;
        } else {
            Migrator::up(&db, None).await?;
        }
        Ok(Self {
            db,
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs `work` in a write transaction. Writers are serialised so change-log order equals commit order,
    /// which lets followers (search index, `/v1/changes`) read the log by `seq` without gaps.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>,
    {
        let _guard = self.write_lock.lock().await;
        let txn = self.db.begin().await?;
        if self.backend() == DbBackend::Postgres {
            txn.execute_unprepared("LOCK TABLE change_log IN EXCLUSIVE MODE")
                .await?;
        }
        let value = work(&txn).await?;
        txn.commit().await?;
        Ok(value)
    }

    /// Runs `work` in a transaction for writes that stay out of the change log (sessions, lists, audit rows).
    /// On SQLite it queues with the other writers: a write outside the queue would make a queued
    /// read-then-write transaction fail with SQLITE_BUSY (its snapshot went stale), which no busy timeout
    /// retries. PostgreSQL needs no ordering for these, so they skip the change-log lock.
    pub async fn write_unlogged<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 't>>,
    {
        if self.backend() == DbBackend::Sqlite {
            return self.write(work).await;
        }
        let txn = self.db.begin().await?;
        let value = work(&txn).await?;
        txn.commit().await?;
        Ok(value)
    }

    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await?;
        Ok(())
    }

    // ---- needs taxonomy -------------------------------------------------------------------------------

    /// Makes the need table equal `terms` (code, parent, label da, label en), in order.
    pub async fn sync_needs(&self, terms: &[(String, Option<String>, String, String)]) -> Result<()> {
        let terms = terms.to_vec();
        self.write(move |txn| {
            Box::pin(async move {
                let existing: HashMap<String, need::Model> = need::Entity::find()
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|n| (n.code.clone(), n))
                    .collect();
                for (position, (code, parent, da, en)) in terms.iter().enumerate() {
                    let row = need::Model {
                        code: code.clone(),
                        parent_code: parent.clone(),
                        label_da: da.clone(),
                        label_en: en.clone(),
                        position: position as i32,
                    };
                    match existing.get(code) {
                        Some(current) if *current == row => {}
                        Some(_) => {
                            need::ActiveModel::from(row).reset_all().update(txn).await?;
                        }
                        None => {
                            need::ActiveModel::from(row).insert(txn).await?;
                        }
                    }
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn need_codes(&self) -> Result<HashSet<String>> {
        Ok(need::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|n| n.code)
            .collect())
    }

    // ---- organizations --------------------------------------------------------------------------------

    pub async fn get_organization(&self, id: Uuid) -> Result<Organization> {
        organization::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(organization_from_row)
            .ok_or_else(|| not_found(Entity::Organization, id))?
    }

    pub async fn organizations_by_id(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Organization>> {
        organization::Entity::find()
            .filter(organization::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Ok((row.id, organization_from_row(row)?)))
            .collect()
    }

    pub async fn list_organizations(&self, filter: &ListFilter, page: Page) -> Result<(u64, Vec<Organization>)> {
        let mut query = organization::Entity::find();
        if let Some(status) = &filter.status {
            query = query.filter(organization::Column::Status.eq(status.clone()));
        }
        if let Some(id) = filter.organization_id {
            query = query.filter(organization::Column::Id.eq(id));
        }
        let (total, rows) = page
            .fetch(
                &self.db,
                query
                    .order_by_asc(organization::Column::Name)
                    .order_by_asc(organization::Column::Id),
            )
            .await?;
        Ok((
            total,
            rows.into_iter().map(organization_from_row).collect::<Result<_>>()?,
        ))
    }

    /// Creates (`expected_version` None and no row) or replaces an organization.
    pub async fn put_organization(
        &self,
        id: Uuid,
        data: OrganizationData,
        expected_version: Option<i64>,
        create_only: bool,
    ) -> Result<Organization> {
        data.validate().map_err(Error::Invalid)?;
        let id = self
            .write(|txn| Box::pin(async move { put_organization(txn, id, &data, expected_version, create_only).await }))
            .await?;
        self.get_organization(id).await
    }

    // ---- locations ------------------------------------------------------------------------------------

    pub async fn get_location(&self, id: Uuid) -> Result<Location> {
        location::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(location_from_row)
            .ok_or_else(|| not_found(Entity::Location, id))?
    }

    pub async fn locations_by_id(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Location>> {
        location::Entity::find()
            .filter(location::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Ok((row.id, location_from_row(row)?)))
            .collect()
    }

    pub async fn list_locations(&self, filter: &ListFilter, page: Page) -> Result<(u64, Vec<Location>)> {
        let mut query = location::Entity::find();
        if let Some(status) = &filter.status {
            query = query.filter(location::Column::Status.eq(status.clone()));
        }
        if let Some(id) = filter.organization_id {
            query = query.filter(location::Column::OrganizationId.eq(id));
        }
        let (total, rows) = page
            .fetch(
                &self.db,
                query
                    .order_by_asc(location::Column::Name)
                    .order_by_asc(location::Column::Id),
            )
            .await?;
        Ok((total, rows.into_iter().map(location_from_row).collect::<Result<_>>()?))
    }

    /// Creates (`create_only`) or replaces a place as `actor`: only an admin or a partner of its owner may
    /// change it, and a partner may give it only its own organization as owner (see [`Actor::may_edit_place`]).
    pub async fn put_location(
        &self,
        actor: Actor,
        id: Uuid,
        data: LocationData,
        expected_version: Option<i64>,
        create_only: bool,
    ) -> Result<Location> {
        data.validate().map_err(Error::Invalid)?;
        let id = self
            .write(|txn| {
                Box::pin(async move {
                    let current = location::Entity::find_by_id(id).one(txn).await?;
                    may_change(
                        Entity::Location,
                        id,
                        current.map(|c| c.organization_id),
                        create_only,
                        |owner| actor.may_edit_place(owner),
                    )?;
                    actor.may_edit_place(data.organization_id)?;
                    put_location(txn, id, &data, expected_version, create_only).await
                })
            })
            .await?;
        self.get_location(id).await
    }

    // ---- services -------------------------------------------------------------------------------------

    pub async fn get_service(&self, id: Uuid) -> Result<Service> {
        self.services_by_id(&[id])
            .await?
            .pop()
            .ok_or_else(|| not_found(Entity::Service, id))
    }

    /// Loads services with their locations, needs, languages and schedules, in the order of `ids`.
    pub async fn services_by_id(&self, ids: &[Uuid]) -> Result<Vec<Service>> {
        let mut services = load_services(&self.db, ids).await?;
        let order: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        services.sort_by_key(|s| order.get(&s.meta.id).copied().unwrap_or(usize::MAX));
        Ok(services)
    }

    pub async fn list_services(&self, filter: &ListFilter, page: Page) -> Result<(u64, Vec<Service>)> {
        let mut query = service::Entity::find();
        if let Some(status) = &filter.status {
            query = query.filter(service::Column::Status.eq(status.clone()));
        }
        if let Some(id) = filter.organization_id {
            query = query.filter(service::Column::OrganizationId.eq(id));
        }
        let (total, rows) = page
            .fetch(
                &self.db,
                query
                    .order_by_asc(service::Column::Name)
                    .order_by_asc(service::Column::Id),
            )
            .await?;
        Ok((total, assemble_services(&self.db, rows).await?))
    }

    /// Ids of every service, in id order, for rebuilding the search index in batches.
    pub async fn service_ids_after(&self, after: Option<Uuid>, limit: u64) -> Result<Vec<Uuid>> {
        let mut query = service::Entity::find().select_only().column(service::Column::Id);
        if let Some(after) = after {
            query = query.filter(service::Column::Id.gt(after));
        }
        Ok(query
            .order_by_asc(service::Column::Id)
            .limit(limit)
            .into_tuple::<Uuid>()
            .all(&self.db)
            .await?)
    }

    /// Creates (`create_only`) or replaces a service as `actor`: the service's organization, before and after,
    /// must be one the actor writes for, and every place it newly links must be one the actor may link (see
    /// [`Actor::may_link`]); the places it is at already stay, whoever owns them.
    pub async fn put_service(
        &self,
        actor: Actor,
        id: Uuid,
        data: ServiceData,
        expected_version: Option<i64>,
        create_only: bool,
    ) -> Result<Service> {
        data.validate().map_err(Error::Invalid)?;
        let id = self
            .write(|txn| {
                Box::pin(async move {
                    let current = service::Entity::find_by_id(id).one(txn).await?;
                    may_change(
                        Entity::Service,
                        id,
                        current.map(|c| c.organization_id),
                        create_only,
                        |owner| actor.may_write_for(owner),
                    )?;
                    actor.may_write_for(data.organization_id)?;
                    let linked: HashSet<Uuid> = locations_of_service(txn, id).await?;
                    let added: Vec<Uuid> = data
                        .location_ids
                        .iter()
                        .copied()
                        .filter(|l| !linked.contains(l))
                        .collect();
                    let places = location::Entity::find()
                        .filter(location::Column::Id.is_in(added))
                        .all(txn)
                        .await?;
                    for place in places {
                        actor.may_link(place.id, &location_data(place)?)?;
                    }
                    put_service(txn, id, &data, expected_version, create_only).await
                })
            })
            .await?;
        self.get_service(id).await
    }

    /// Soft delete as `actor`: sets the status to inactive and logs a `delete` (tombstone) change. An
    /// organization or service is deactivated by those who write for its organization, a place by those who
    /// may edit it.
    pub async fn deactivate(
        &self,
        actor: Actor,
        entity: Entity,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.write(|txn| {
            Box::pin(async move {
                let version = match entity {
                    Entity::Organization => organization::Entity::find_by_id(id)
                        .one(txn)
                        .await?
                        .map(|r| actor.may_write_for(r.id).map(|_| r.version)),
                    Entity::Location => location::Entity::find_by_id(id)
                        .one(txn)
                        .await?
                        .map(|r| actor.may_edit_place(r.organization_id).map(|_| r.version)),
                    Entity::Service => service::Entity::find_by_id(id)
                        .one(txn)
                        .await?
                        .map(|r| actor.may_write_for(r.organization_id).map(|_| r.version)),
                }
                .ok_or_else(|| not_found(entity, id))??;
                check_version(entity, version, expected_version)?;
                let status = match entity {
                    Entity::Service => ServiceStatus::Inactive.as_str(),
                    _ => RecordStatus::Inactive.as_str(),
                };
                let updated = match entity {
                    Entity::Organization => {
                        organization::Entity::update_many()
                            .col_expr(organization::Column::Status, Expr::value(status))
                            .col_expr(organization::Column::Version, Expr::value(version + 1))
                            .col_expr(organization::Column::UpdatedAt, Expr::value(now()))
                            .filter(organization::Column::Id.eq(id))
                            .exec(txn)
                            .await?
                    }
                    Entity::Location => {
                        location::Entity::update_many()
                            .col_expr(location::Column::Status, Expr::value(status))
                            .col_expr(location::Column::Version, Expr::value(version + 1))
                            .col_expr(location::Column::UpdatedAt, Expr::value(now()))
                            .filter(location::Column::Id.eq(id))
                            .exec(txn)
                            .await?
                    }
                    Entity::Service => {
                        service::Entity::update_many()
                            .col_expr(service::Column::Status, Expr::value(status))
                            .col_expr(service::Column::Version, Expr::value(version + 1))
                            .col_expr(service::Column::UpdatedAt, Expr::value(now()))
                            .filter(service::Column::Id.eq(id))
                            .exec(txn)
                            .await?
                    }
                };
                debug_assert_eq!(updated.rows_affected, 1);
                append_change(txn, entity, id, Operation::Delete).await?;
                if entity == Entity::Location {
                    // Services at the location change their searchable places.
                    for service_id in services_at_location(txn, id).await? {
                        append_change(txn, Entity::Service, service_id, Operation::Update).await?;
                    }
                }
                Ok(())
            })
        })
        .await
    }

    // ---- change log -----------------------------------------------------------------------------------

    pub async fn changes_after(&self, after: i64, limit: u64) -> Result<Vec<Change>> {
        Ok(change_log::Entity::find()
            .filter(change_log::Column::Seq.gt(after))
            .order_by_asc(change_log::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Change {
                seq: row.seq,
                entity: row.entity,
                id: row.entity_id,
                operation: row.operation,
                at: row.at,
            })
            .collect())
    }

    pub async fn latest_seq(&self) -> Result<i64> {
        let max: Option<Option<i64>> = change_log::Entity::find()
            .select_only()
            .column_as(change_log::Column::Seq.max(), "max_seq")
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(max.flatten().unwrap_or(0))
    }

    pub async fn count_services(&self) -> Result<u64> {
        Ok(service::Entity::find().count(&self.db).await?)
    }
}

// ---- transactional building blocks, shared by the API writes and the HSDS import -------------------

pub(crate) async fn append_change(
    txn: &DatabaseTransaction,
    entity: Entity,
    id: Uuid,
    operation: Operation,
) -> Result<()> {
    change_log::ActiveModel {
        entity: Set(entity.as_str().to_owned()),
        entity_id: Set(id),
        operation: Set(operation.as_str().to_owned()),
        at: Set(now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The places a stored service is at (none for a new one).
async fn locations_of_service(txn: &DatabaseTransaction, service_id: Uuid) -> Result<HashSet<Uuid>> {
    Ok(service_at_location::Entity::find()
        .filter(service_at_location::Column::ServiceId.eq(service_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| r.location_id)
        .collect())
}

async fn services_at_location(txn: &DatabaseTransaction, location_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(service_at_location::Entity::find()
        .filter(service_at_location::Column::LocationId.eq(location_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| r.service_id)
        .collect())
}

/// Shared preamble of every put: the current version (None when the row is new) checked against the
/// caller's expectation.
fn plan_put(
    entity: Entity,
    id: Uuid,
    current: Option<i64>,
    expected_version: Option<i64>,
    create_only: bool,
) -> Result<Option<i64>> {
    match current {
        Some(_) if create_only => Err(Error::Conflict(format!("{} {id} already exists", entity.as_str()))),
        Some(version) => check_version(entity, version, expected_version).map(|_| Some(version)),
        None if expected_version.is_some() => Err(not_found(entity, id)),
        None => Ok(None),
    }
}

pub(crate) async fn put_organization(
    txn: &DatabaseTransaction,
    id: Uuid,
    data: &OrganizationData,
    expected_version: Option<i64>,
    create_only: bool,
) -> Result<Uuid> {
    let current = organization::Entity::find_by_id(id).one(txn).await?;
    let version = plan_put(
        Entity::Organization,
        id,
        current.as_ref().map(|r| r.version),
        expected_version,
        create_only,
    )?;
    let at = now();
    let created_at = current.as_ref().map_or(at, |r| r.created_at);
    let row = organization_row(id, data, version.map_or(1, |v| v + 1), created_at, at);
    let operation = write_row(txn, row, version.is_some()).await?;
    append_change(txn, Entity::Organization, id, operation).await?;
    Ok(id)
}

async fn write_row<A>(txn: &DatabaseTransaction, row: A, exists: bool) -> Result<Operation>
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    if exists {
        row.update(txn).await?;
        Ok(Operation::Update)
    } else {
        row.insert(txn).await?;
        Ok(Operation::Create)
    }
}

async fn require_organization(txn: &DatabaseTransaction, id: Uuid, errors: &mut Vec<FieldError>) -> Result<()> {
    if organization::Entity::find_by_id(id).one(txn).await?.is_none() {
        errors.push(FieldError::new("organization_id", format!("no organization {id}")));
    }
    Ok(())
}

pub(crate) async fn put_location(
    txn: &DatabaseTransaction,
    id: Uuid,
    data: &LocationData,
    expected_version: Option<i64>,
    create_only: bool,
) -> Result<Uuid> {
    let current = location::Entity::find_by_id(id).one(txn).await?;
    let version = plan_put(
        Entity::Location,
        id,
        current.as_ref().map(|r| r.version),
        expected_version,
        create_only,
    )?;
    let mut errors = Vec::new();
    if let Some(owner) = data.organization_id {
        require_organization(txn, owner, &mut errors).await?;
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let at = now();
    let created_at = current.as_ref().map_or(at, |r| r.created_at);
    let row = location_row(id, data, version.map_or(1, |v| v + 1), created_at, at);
    let operation = write_row(txn, row, version.is_some()).await?;
    append_change(txn, Entity::Location, id, operation).await?;
    if operation == Operation::Update {
        for service_id in services_at_location(txn, id).await? {
            append_change(txn, Entity::Service, service_id, Operation::Update).await?;
        }
    }
    Ok(id)
}

pub(crate) async fn put_service(
    txn: &DatabaseTransaction,
    id: Uuid,
    data: &ServiceData,
    expected_version: Option<i64>,
    create_only: bool,
) -> Result<Uuid> {
    let current = service::Entity::find_by_id(id).one(txn).await?;
    let version = plan_put(
        Entity::Service,
        id,
        current.as_ref().map(|r| r.version),
        expected_version,
        create_only,
    )?;
    let mut errors = Vec::new();
    require_organization(txn, data.organization_id, &mut errors).await?;
    let known_locations: HashSet<Uuid> = location::Entity::find()
        .filter(location::Column::Id.is_in(data.location_ids.iter().copied()))
        .all(txn)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    for (i, location_id) in data.location_ids.iter().enumerate() {
        if !known_locations.contains(location_id) {
            errors.push(FieldError::new(
                format!("location_ids/{i}"),
                format!("no location {location_id}"),
            ));
        }
    }
    let known_needs: HashSet<String> = need::Entity::find()
        .filter(need::Column::Code.is_in(data.needs.iter().cloned()))
        .all(txn)
        .await?
        .into_iter()
        .map(|n| n.code)
        .collect();
    for (i, code) in data.needs.iter().enumerate() {
        if !known_needs.contains(code) {
            errors.push(FieldError::new(
                format!("needs/{i}"),
                format!("unknown need code `{code}` (see /v1/needs)"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    // Checked in the caller's order (error paths point into the input), stored in canonical order.
    let mut data = data.clone();
    data.normalize();
    let data = &data;
    let at = now();
    let created_at = current.as_ref().map_or(at, |r| r.created_at);
    let row = service_row(id, data, version.map_or(1, |v| v + 1), created_at, at);
    let operation = write_row(txn, row, version.is_some()).await?;
    replace_service_children(txn, id, data).await?;
    append_change(txn, Entity::Service, id, operation).await?;
    Ok(id)
}

async fn replace_service_children(txn: &DatabaseTransaction, id: Uuid, data: &ServiceData) -> Result<()> {
    delete_service_children(txn, &[id]).await?;
    let mut children = ServiceChildren::default();
    children.add(id, data);
    children.insert(txn).await
}

async fn delete_service_children(txn: &DatabaseTransaction, ids: &[Uuid]) -> Result<()> {
    let ids = || ids.iter().copied();
    service_at_location::Entity::delete_many()
        .filter(service_at_location::Column::ServiceId.is_in(ids()))
        .exec(txn)
        .await?;
    schedule::Entity::delete_many()
        .filter(schedule::Column::ServiceId.is_in(ids()))
        .exec(txn)
        .await?;
    service_language::Entity::delete_many()
        .filter(service_language::Column::ServiceId.is_in(ids()))
        .exec(txn)
        .await?;
    service_need::Entity::delete_many()
        .filter(service_need::Column::ServiceId.is_in(ids()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Rows per multi-row INSERT: far below SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK: usize = 500;

async fn insert_chunked<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        <A::Entity as EntityTrait>::insert_many(chunk).exec(txn).await?;
    }
    Ok(())
}

/// The child rows of services, gathered so that many services' children go in with a few statements.
#[derive(Default)]
struct ServiceChildren {
    links: Vec<service_at_location::ActiveModel>,
    schedules: Vec<schedule::ActiveModel>,
    languages: Vec<service_language::ActiveModel>,
    needs: Vec<service_need::ActiveModel>,
}

impl ServiceChildren {
    fn add(&mut self, id: Uuid, data: &ServiceData) {
        // Child ids are derived from the parent so that a re-import produces the same rows and HSDS ids stay stable.
        let child_id = |kind: &str, key: &str| Uuid::new_v5(&id, format!("{kind}:{key}").as_bytes());
        let mut seen = HashSet::new();
        self.links.extend(
            data.location_ids
                .iter()
                .filter(|l| seen.insert(**l))
                .map(|location_id| service_at_location::ActiveModel {
                    id: Set(child_id("sal", &location_id.to_string())),
                    service_id: Set(id),
                    location_id: Set(*location_id),
                }),
        );
        self.schedules
            .extend(data.schedules.iter().enumerate().map(|(i, s)| schedule::ActiveModel {
                id: Set(child_id("schedule", &i.to_string())),
                service_id: Set(id),
                byday: Set(s.byday.join(",")),
                opens_at: Set(s.opens_at.clone()),
                closes_at: Set(s.closes_at.clone()),
                valid_from: Set(s.valid_from),
                valid_to: Set(s.valid_to),
                description: Set(s.description.clone()),
                freq: Set(s.freq.as_str().to_owned()),
                interval: Set(i32::try_from(s.interval).unwrap_or(1)),
                bymonthday: Set(s.bymonthday.iter().map(i8::to_string).collect::<Vec<_>>().join(",")),
                dtstart: Set(s.dtstart),
                until: Set(s.until),
                notes: Set(s.notes.clone()),
            }));
        let mut seen = HashSet::new();
        self.languages
            .extend(data.languages.iter().filter(|l| seen.insert(l.as_str())).map(|code| {
                service_language::ActiveModel {
                    id: Set(child_id("language", code)),
                    service_id: Set(id),
                    code: Set(code.clone()),
                }
            }));
        let mut seen = HashSet::new();
        self.needs
            .extend(
                data.needs
                    .iter()
                    .filter(|n| seen.insert(n.as_str()))
                    .map(|code| service_need::ActiveModel {
                        id: Set(child_id("need", code)),
                        service_id: Set(id),
                        need_code: Set(code.clone()),
                    }),
            );
    }

    async fn insert(self, txn: &DatabaseTransaction) -> Result<()> {
        insert_chunked(txn, self.links).await?;
        insert_chunked(txn, self.schedules).await?;
        insert_chunked(txn, self.languages).await?;
        insert_chunked(txn, self.needs).await
    }
}

fn organization_row(
    id: Uuid,
    data: &OrganizationData,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> organization::ActiveModel {
    organization::ActiveModel {
        id: Set(id),
        name: Set(data.name.clone()),
        description: Set(data.description.clone()),
        kind: Set(data.kind.as_str().to_owned()),
        website: Set(data.website.clone()),
        email: Set(data.email.clone()),
        phone: Set(data.phone.clone()),
        cvr: Set(data.cvr.clone()),
        status: Set(data.status.as_str().to_owned()),
        version: Set(version),
        created_at: Set(created_at),
        updated_at: Set(updated_at),
    }
}

fn location_row(
    id: Uuid,
    data: &LocationData,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> location::ActiveModel {
    location::ActiveModel {
        id: Set(id),
        organization_id: Set(data.organization_id),
        name: Set(data.name.clone()),
        latitude: Set(data.latitude),
        longitude: Set(data.longitude),
        address_1: Set(data.address.as_ref().map(|a| a.address_1.clone())),
        postal_code: Set(data.address.as_ref().map(|a| a.postal_code.clone())),
        city: Set(data.address.as_ref().map(|a| a.city.clone())),
        confidential: Set(data.confidential),
        status: Set(data.status.as_str().to_owned()),
        version: Set(version),
        created_at: Set(created_at),
        updated_at: Set(updated_at),
    }
}

fn service_row(
    id: Uuid,
    data: &ServiceData,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> service::ActiveModel {
    service::ActiveModel {
        id: Set(id),
        organization_id: Set(data.organization_id),
        name: Set(data.name.clone()),
        description: Set(data.description.clone()),
        minimum_age: Set(data.minimum_age.map(|a| a as i32)),
        maximum_age: Set(data.maximum_age.map(|a| a as i32)),
        free: Set(data.free),
        fees_description: Set(data.fees_description.clone()),
        eligibility_description: Set(data.eligibility_description.clone()),
        application_process: Set(data.application_process.clone()),
        url: Set(data.url.clone()),
        email: Set(data.email.clone()),
        phone: Set(data.phone.clone()),
        status: Set(data.status.as_str().to_owned()),
        assured_date: Set(data.assured_date),
        capacity: Set(data.capacity.map(|c| c.as_str().to_owned())),
        gender: Set(data.gender.as_str().to_owned()),
        service_area: Set(data.service_area.as_ref().map(|v| v.to_string())),
        version: Set(version),
        created_at: Set(created_at),
        updated_at: Set(updated_at),
    }
}

fn changes(
    entity: Entity,
    operation: Operation,
    ids: impl Iterator<Item = Uuid>,
    at: DateTime<Utc>,
) -> Vec<change_log::ActiveModel> {
    ids.map(|id| change_log::ActiveModel {
        entity: Set(entity.as_str().to_owned()),
        entity_id: Set(id),
        operation: Set(operation.as_str().to_owned()),
        at: Set(at),
        ..Default::default()
    })
    .collect()
}

/// The version and creation time of a stored record that an import overwrites.
pub(crate) type Current = (i64, DateTime<Utc>);

/// Writes records of one kind in multi-row statements, with their change-log entries: new ones
/// (`current` None) inserted at version 1, stored ones overwritten whole at their version + 1 with one
/// multi-row upsert on `id` (`INSERT … ON CONFLICT (id) DO UPDATE`, SQLite and PostgreSQL alike). The
/// caller has checked their references.
async fn write_records<D, A>(
    txn: &DatabaseTransaction,
    entity: Entity,
    records: &[(Uuid, &D, Option<Current>)],
    row: fn(Uuid, &D, i64, DateTime<Utc>, DateTime<Utc>) -> A,
) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    let at = now();
    let rows = records.iter().map(|(id, data, current)| {
        let (version, created_at) = current.map_or((1, at), |(version, created_at)| (version + 1, created_at));
        row(*id, data, version, created_at, at)
    });
    let updated: Vec<Uuid> = records.iter().filter(|r| r.2.is_some()).map(|r| r.0).collect();
    if updated.is_empty() {
        insert_chunked(txn, rows.collect()).await?;
    } else {
        upsert_chunked(txn, rows.collect()).await?;
    }
    let created = records.iter().filter(|r| r.2.is_none()).map(|r| r.0);
    insert_chunked(txn, changes(entity, Operation::Create, created, at)).await?;
    insert_chunked(txn, changes(entity, Operation::Update, updated.into_iter(), at)).await
}

/// `insert_chunked` for rows that may exist: an existing row takes every column of the new one.
async fn upsert_chunked<A>(txn: &DatabaseTransaction, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    use sea_orm::{IdenStatic, Iterable, PrimaryKeyToColumn};
    let keys: Vec<_> = <A::Entity as EntityTrait>::PrimaryKey::iter()
        .map(|key| key.into_column())
        .collect();
    let key_names: Vec<&str> = keys.iter().map(|key| key.as_str()).collect();
    let columns = <A::Entity as EntityTrait>::Column::iter().filter(|column| !key_names.contains(&column.as_str()));
    let on_conflict = OnConflict::columns(keys).update_columns(columns).to_owned();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(INSERT_CHUNK).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .on_conflict(on_conflict.clone())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Writes organizations of an import, new and changed, with their change-log entries.
pub(crate) async fn write_organizations(
    txn: &DatabaseTransaction,
    organizations: &[(Uuid, &OrganizationData, Option<Current>)],
) -> Result<()> {
    write_records(txn, Entity::Organization, organizations, organization_row).await
}

/// Writes locations of an import, new and changed, with their change-log entries; the services at a
/// changed location get an update entry too (their search documents carry the place), as in `put_location`.
/// The caller has checked that their organizations exist.
pub(crate) async fn write_locations(
    txn: &DatabaseTransaction,
    locations: &[(Uuid, &LocationData, Option<Current>)],
) -> Result<()> {
    write_records(txn, Entity::Location, locations, location_row).await?;
    let changed: Vec<Uuid> = locations.iter().filter(|l| l.2.is_some()).map(|l| l.0).collect();
    let at = now();
    for chunk in changed.chunks(INSERT_CHUNK) {
        let services: Vec<Uuid> = service_at_location::Entity::find()
            .filter(service_at_location::Column::LocationId.is_in(chunk.iter().copied()))
            .all(txn)
            .await?
            .into_iter()
            .map(|r| r.service_id)
            .collect();
        insert_chunked(
            txn,
            changes(Entity::Service, Operation::Update, services.into_iter(), at),
        )
        .await?;
    }
    Ok(())
}

/// Writes services of an import, new and changed, with their child rows and change-log entries, in a few
/// multi-row statements per chunk: the children of the chunk's changed services are deleted with one
/// statement per child table and all children inserted anew. The caller has checked their references
/// (organization, locations, need codes) and normalized them.
pub(crate) async fn write_services(
    txn: &DatabaseTransaction,
    services: &[(Uuid, &ServiceData, Option<Current>)],
) -> Result<()> {
    for chunk in services.chunks(INSERT_CHUNK) {
        let changed: Vec<Uuid> = chunk.iter().filter(|s| s.2.is_some()).map(|s| s.0).collect();
        if !changed.is_empty() {
            delete_service_children(txn, &changed).await?;
        }
        write_records(txn, Entity::Service, chunk, service_row).await?;
        let mut children = ServiceChildren::default();
        for (id, data, _) in chunk {
            children.add(*id, data);
        }
        children.insert(txn).await?;
    }
    Ok(())
}

// ---- row → domain --------------------------------------------------------------------------------------

fn meta(id: Uuid, version: i64, created_at: chrono::DateTime<Utc>, updated_at: chrono::DateTime<Utc>) -> Meta {
    Meta {
        id,
        version,
        created_at,
        updated_at,
    }
}

pub(crate) fn organization_from_row(row: organization::Model) -> Result<Organization> {
    Ok(Stored {
        meta: meta(row.id, row.version, row.created_at, row.updated_at),
        data: organization_data(row)?,
    })
}

pub(crate) fn organization_data(row: organization::Model) -> Result<OrganizationData> {
    Ok(OrganizationData {
        kind: stored(OrganizationKind::parse, "organization", row.id, "kind", &row.kind)?,
        status: stored(RecordStatus::parse, "organization", row.id, "status", &row.status)?,
        name: row.name,
        description: row.description,
        website: row.website,
        email: row.email,
        phone: row.phone,
        cvr: row.cvr,
    })
}

fn location_from_row(row: location::Model) -> Result<Location> {
    Ok(Stored {
        meta: meta(row.id, row.version, row.created_at, row.updated_at),
        data: location_data(row)?,
    })
}

pub(crate) fn location_data(row: location::Model) -> Result<LocationData> {
    let status = stored(RecordStatus::parse, "location", row.id, "status", &row.status)?;
    let address = match (row.address_1, row.postal_code, row.city) {
        (Some(address_1), Some(postal_code), Some(city)) => Some(Address {
            address_1,
            postal_code,
            city,
        }),
        _ => None,
    };
    Ok(LocationData {
        organization_id: row.organization_id,
        name: row.name,
        latitude: row.latitude,
        longitude: row.longitude,
        address,
        confidential: row.confidential,
        status,
    })
}

/// Services by id with their child rows, in no particular order, on any connection (transactions too).
pub(crate) async fn load_services<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<Vec<Service>> {
    let rows = service::Entity::find()
        .filter(service::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    assemble_services(db, rows).await
}

async fn assemble_services<C: ConnectionTrait>(db: &C, rows: Vec<service::Model>) -> Result<Vec<Service>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut locations: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for link in service_at_location::Entity::find()
        .filter(service_at_location::Column::ServiceId.is_in(ids.iter().copied()))
        .order_by_asc(service_at_location::Column::Id)
        .all(db)
        .await?
    {
        locations.entry(link.service_id).or_default().push(link.location_id);
    }
    let mut schedules: BTreeMap<Uuid, Vec<schedule::Model>> = BTreeMap::new();
    for row in schedule::Entity::find()
        .filter(schedule::Column::ServiceId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        schedules.entry(row.service_id).or_default().push(row);
    }
    let mut languages: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for row in service_language::Entity::find()
        .filter(service_language::Column::ServiceId.is_in(ids.iter().copied()))
        .order_by_asc(service_language::Column::Code)
        .all(db)
        .await?
    {
        languages.entry(row.service_id).or_default().push(row.code);
    }
    let mut needs: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    for row in service_need::Entity::find()
        .filter(service_need::Column::ServiceId.is_in(ids.iter().copied()))
        .order_by_asc(service_need::Column::NeedCode)
        .all(db)
        .await?
    {
        needs.entry(row.service_id).or_default().push(row.need_code);
    }
    rows.into_iter()
        .map(|row| {
            let service_schedules = schedules.remove(&row.id).unwrap_or_default();
            let mut service = Stored {
                meta: meta(row.id, row.version, row.created_at, row.updated_at),
                data: ServiceData {
                    name: row.name,
                    description: row.description,
                    organization_id: row.organization_id,
                    location_ids: locations.remove(&row.id).unwrap_or_default(),
                    needs: needs.remove(&row.id).unwrap_or_default(),
                    minimum_age: row.minimum_age.map(|a| a.max(0) as u32),
                    maximum_age: row.maximum_age.map(|a| a.max(0) as u32),
                    languages: languages.remove(&row.id).unwrap_or_default(),
                    free: row.free,
                    fees_description: row.fees_description,
                    schedules: service_schedules
                        .into_iter()
                        .map(schedule_from_row)
                        .collect::<Result<_>>()?,
                    eligibility_description: row.eligibility_description,
                    application_process: row.application_process,
                    url: row.url,
                    email: row.email,
                    phone: row.phone,
                    status: stored(ServiceStatus::parse, "service", row.id, "status", &row.status)?,
                    assured_date: row.assured_date,
                    capacity: match row.capacity.as_deref() {
                        Some(text) => Some(stored(Capacity::parse, "service", row.id, "capacity", text)?),
                        None => None,
                    },
                    gender: stored(Gender::parse, "service", row.id, "gender", &row.gender)?,
                    service_area: match row.service_area.as_deref() {
                        Some(text) => Some(stored(
                            |t| serde_json::from_str(t).ok(),
                            "service",
                            row.id,
                            "service_area",
                            text,
                        )?),
                        None => None,
                    },
                },
            };
            service.data.normalize();
            Ok(service)
        })
        .collect()
}

/// A stored value read back: one that does not parse is a corrupt row, never silently a default.
pub(crate) fn stored<T>(
    parse: impl FnOnce(&str) -> Option<T>,
    table: &str,
    id: impl std::fmt::Display,
    column: &str,
    text: &str,
) -> Result<T> {
    parse(text).ok_or_else(|| Error::Corrupt(format!("{table} {id}: {column} `{text}` does not parse")))
}

impl Store {
    /// Loads the taxonomy into the need table (codes and labels; synonyms stay in the file).
    pub async fn sync_taxonomy(&self, taxonomy: &crate::taxonomy::Taxonomy) -> Result<()> {
        let terms: Vec<_> = taxonomy
            .flatten()
            .into_iter()
            .map(|(t, parent)| {
                (
                    t.code.clone(),
                    parent.map(str::to_owned),
                    t.label.da.clone(),
                    t.label.en.clone(),
                )
            })
            .collect();
        self.sync_needs(&terms).await
    }
}

impl Store {
    /// Ids of the services of these organizations (their search documents carry the organization's name and status).
    pub async fn service_ids_of_organizations(&self, organization_ids: &[Uuid]) -> Result<Vec<Uuid>> {
        Ok(service::Entity::find()
            .select_only()
            .column(service::Column::Id)
            .filter(service::Column::OrganizationId.is_in(organization_ids.iter().copied()))
            .into_tuple::<Uuid>()
            .all(&self.db)
            .await?)
    }
}

fn schedule_from_row(row: schedule::Model) -> Result<Schedule> {
    let freq = stored(Freq::parse, "schedule", row.id, "freq", &row.freq)?;
    let bymonthday = row
        .bymonthday
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| stored(|d| d.parse().ok(), "schedule", row.id, "bymonthday", d))
        .collect::<Result<_>>()?;
    Ok(Schedule {
        freq,
        interval: u32::try_from(row.interval).unwrap_or(1),
        byday: row
            .byday
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
        bymonthday,
        opens_at: row.opens_at,
        closes_at: row.closes_at,
        dtstart: row.dtstart,
        until: row.until,
        valid_from: row.valid_from,
        valid_to: row.valid_to,
        description: row.description,
        notes: row.notes,
    })
}

//! Reads for the HSDS 3.0 export (`/hsds`): the directory in id order, filtered by organization, need codes
//! and modification time, one page at a time or in keyset batches for streaming. Inactive organizations and
//! locations count as deleted and are not exported; services are exported in every status (HSDS carries it).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::SelectStatement;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};
use uuid::Uuid;

use crate::directory::{Organization, RecordStatus, Service};
use crate::error::Result;
use crate::store::{Page, Store};
use crate::tables::{location, organization, service, service_at_location, service_need};

/// Which services to export.
#[derive(Clone, Debug, Default)]
pub struct ServiceFilter {
    pub organization_id: Option<Uuid>,
    /// Services tagged with any of these need codes; `Some(vec![])` matches nothing.
    pub need_codes: Option<Vec<String>>,
    /// Services whose `updated_at` is at or after this instant.
    pub modified_after: Option<DateTime<Utc>>,
}

/// One link between a service and a location, as HSDS `service_at_location`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceAtLocation {
    pub id: Uuid,
    pub service_id: Uuid,
    pub location_id: Uuid,
}

/// Bound parameters per IN list: SQLite and PostgreSQL both limit them per statement.
const CHUNK: usize = 500;

fn services_query(filter: &ServiceFilter) -> Select<service::Entity> {
    let mut query = service::Entity::find();
    if let Some(id) = filter.organization_id {
        query = query.filter(service::Column::OrganizationId.eq(id));
    }
    if let Some(at) = filter.modified_after {
        query = query.filter(service::Column::UpdatedAt.gte(at));
    }
    if let Some(codes) = &filter.need_codes {
        let tagged: SelectStatement = service_need::Entity::find()
            .select_only()
            .column(service_need::Column::ServiceId)
            .filter(service_need::Column::NeedCode.is_in(codes.iter().cloned()))
            .into_query();
        query = query.filter(service::Column::Id.in_subquery(tagged));
    }
    query
}

fn active_locations() -> SelectStatement {
    location::Entity::find()
        .select_only()
        .column(location::Column::Id)
        .filter(location::Column::Status.eq(RecordStatus::Active.as_str()))
        .into_query()
}

fn links_query(filter: &ServiceFilter) -> Select<service_at_location::Entity> {
    let services = services_query(filter)
        .select_only()
        .column(service::Column::Id)
        .into_query();
    service_at_location::Entity::find()
        .filter(service_at_location::Column::ServiceId.in_subquery(services))
        .filter(service_at_location::Column::LocationId.in_subquery(active_locations()))
}

fn link(row: service_at_location::Model) -> ServiceAtLocation {
    ServiceAtLocation {
        id: row.id,
        service_id: row.service_id,
        location_id: row.location_id,
    }
}

impl Store {
    /// One page of services in id order, with the total.
    pub async fn export_services(&self, filter: &ServiceFilter, page: Page) -> Result<(u64, Vec<Service>)> {
        let paginator = services_query(filter)
            .select_only()
            .column(service::Column::Id)
            .order_by_asc(service::Column::Id)
            .into_tuple::<Uuid>()
            .paginate(self.connection(), page.per_page);
        let total = paginator.num_items().await?;
        let ids = paginator.fetch_page(page.page.saturating_sub(1)).await?;
        Ok((total, self.services_by_id(&ids).await?))
    }

    /// The next `limit` services after `after` in id order: keyset batches for streaming everything.
    pub async fn export_services_after(
        &self,
        filter: &ServiceFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Service>> {
        let mut query = services_query(filter).select_only().column(service::Column::Id);
        if let Some(after) = after {
            query = query.filter(service::Column::Id.gt(after));
        }
        let ids: Vec<Uuid> = query
            .order_by_asc(service::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await?;
        self.services_by_id(&ids).await
    }

    /// Ids of every matching service in id order (to intersect with search results).
    pub async fn export_service_ids(&self, filter: &ServiceFilter) -> Result<Vec<Uuid>> {
        Ok(services_query(filter)
            .select_only()
            .column(service::Column::Id)
            .order_by_asc(service::Column::Id)
            .into_tuple()
            .all(self.connection())
            .await?)
    }

    /// Services by id in the given order, loaded in bounded chunks.
    pub async fn export_services_by_id(&self, ids: &[Uuid]) -> Result<Vec<Service>> {
        let mut services = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            services.extend(self.services_by_id(chunk).await?);
        }
        Ok(services)
    }

    /// Every service of these organizations, in id order.
    pub async fn export_services_of_organizations(&self, organization_ids: &[Uuid]) -> Result<Vec<Service>> {
        let mut ids = Vec::new();
        for chunk in organization_ids.chunks(CHUNK) {
            ids.extend(self.service_ids_of_organizations(chunk).await?);
        }
        ids.sort();
        self.export_services_by_id(&ids).await
    }

    /// One page of active organizations in id order, with the total.
    pub async fn export_organizations(
        &self,
        modified_after: Option<DateTime<Utc>>,
        page: Page,
    ) -> Result<(u64, Vec<Organization>)> {
        let paginator = organizations_query(modified_after)
            .select_only()
            .column(organization::Column::Id)
            .order_by_asc(organization::Column::Id)
            .into_tuple::<Uuid>()
            .paginate(self.connection(), page.per_page);
        let total = paginator.num_items().await?;
        let ids = paginator.fetch_page(page.page.saturating_sub(1)).await?;
        self.export_organizations_in_order(&ids).await.map(|o| (total, o))
    }

    pub async fn export_organizations_after(
        &self,
        modified_after: Option<DateTime<Utc>>,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Organization>> {
        let mut query = organizations_query(modified_after)
            .select_only()
            .column(organization::Column::Id);
        if let Some(after) = after {
            query = query.filter(organization::Column::Id.gt(after));
        }
        let ids: Vec<Uuid> = query
            .order_by_asc(organization::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(self.connection())
            .await?;
        self.export_organizations_in_order(&ids).await
    }

    /// Active organizations by id, in the order of `ids` (unknown and inactive ones left out).
    pub async fn export_organizations_in_order(&self, ids: &[Uuid]) -> Result<Vec<Organization>> {
        let mut found = std::collections::HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            found.extend(self.organizations_by_id(chunk).await?);
        }
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id))
            .filter(|o| o.data.status == RecordStatus::Active)
            .collect())
    }

    /// One page of service-at-location links (to active locations) in id order, with the total.
    pub async fn export_service_at_locations(
        &self,
        filter: &ServiceFilter,
        page: Page,
    ) -> Result<(u64, Vec<ServiceAtLocation>)> {
        let paginator = links_query(filter)
            .order_by_asc(service_at_location::Column::Id)
            .paginate(self.connection(), page.per_page);
        let total = paginator.num_items().await?;
        let rows = paginator.fetch_page(page.page.saturating_sub(1)).await?;
        Ok((total, rows.into_iter().map(link).collect()))
    }

    pub async fn export_service_at_locations_after(
        &self,
        filter: &ServiceFilter,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<ServiceAtLocation>> {
        let mut query = links_query(filter);
        if let Some(after) = after {
            query = query.filter(service_at_location::Column::Id.gt(after));
        }
        Ok(query
            .order_by_asc(service_at_location::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await?
            .into_iter()
            .map(link)
            .collect())
    }

    /// Every matching link in id order (for distance filtering in the caller).
    pub async fn export_all_service_at_locations(&self, filter: &ServiceFilter) -> Result<Vec<ServiceAtLocation>> {
        Ok(links_query(filter)
            .order_by_asc(service_at_location::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(link)
            .collect())
    }

    /// One link by its id, if its location is active.
    pub async fn export_service_at_location(&self, id: Uuid) -> Result<Option<ServiceAtLocation>> {
        Ok(links_query(&ServiceFilter::default())
            .filter(service_at_location::Column::Id.eq(id))
            .one(self.connection())
            .await?
            .map(link))
    }
}

fn organizations_query(modified_after: Option<DateTime<Utc>>) -> Select<organization::Entity> {
    let mut query = organization::Entity::find().filter(organization::Column::Status.eq(RecordStatus::Active.as_str()));
    if let Some(at) = modified_after {
        query = query.filter(organization::Column::UpdatedAt.gte(at));
    }
    query
}

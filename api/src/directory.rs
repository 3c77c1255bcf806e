//! `/v1/organizations`, `/v1/locations`, `/v1/services`: the directory's CRUD endpoints.
//! Reads are public (confidential addresses redacted); writes need an admin key, or a partner key of the
//! organization that owns the record, before and after the write. A place may be used by services of
//! several organizations: partners link their services to any active public place, while the place itself
//! is edited by its owner organization's partners (or an admin). The rules are `entities::access`.

use std::sync::Arc;

use entities::access::Actor;
use entities::directory::{self as domain, Role};
use entities::store::{Entity, ListFilter, Page};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use poem_openapi::{ApiResponse, OpenApi, Tags};
use uuid::Uuid;

use crate::auth::{Auth, Caller};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::*;

#[derive(Tags)]
pub enum DirectoryTag {
    /// Organizations offering services: associations, housing social work, NGOs, municipal centres.
    Organizations,
    /// Physical places where services are delivered.
    Locations,
    /// What an organization offers: needs met, ages, languages, opening hours.
    Services,
}

/// A single record with its ETag.
#[derive(ApiResponse)]
pub enum Record<T: ToJSON> {
    #[oai(status = 200)]
    Ok(Json<T>, #[oai(header = "ETag")] String),
    #[oai(status = 201)]
    Created(
        Json<T>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Location")] String,
    ),
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header asks for; None for no header or `*`. A tag that cannot be one of ours
/// can never match, so it fails the precondition like a stale one.
pub fn expected_version(if_match: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(value) = if_match.map(str::trim) else {
        return Ok(None);
    };
    if value == "*" {
        return Ok(None);
    }
    value
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::PreconditionFailed(format!("If-Match {value} does not match the current version")))
}

/// Beyond any real listing, and small enough that page × per_page never overflows.
pub const MAX_PAGE: u64 = 1_000_000;

pub fn page_of(page: Option<u64>, per_page: Option<u64>) -> Result<Page, ApiError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&page) {
        return Err(ApiError::BadRequest(format!("page counts from 1 to {MAX_PAGE}")));
    }
    if !(1..=100).contains(&per_page) {
        return Err(ApiError::BadRequest("per_page must be between 1 and 100".into()));
    }
    Ok(Page { page, per_page })
}

/// RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(serde_json::Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Applies a merge patch to the current input document and parses the result as a whole new input.
fn patched<T: ToJSON + ParseFromJSON>(current: T, patch: &serde_json::Value) -> Result<T, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::BadRequest(
            "a PATCH body must be a JSON object (RFC 7396 merge patch)".into(),
        ));
    }
    let mut document = current.to_json().unwrap_or_default();
    merge_patch(&mut document, patch);
    T::parse_from_json(Some(document)).map_err(|e| ApiError::BadRequest(e.into_message()))
}

fn list_filter(organization_id: Option<Uuid>, status: Option<String>) -> ListFilter {
    ListFilter {
        organization_id,
        status,
    }
}

pub struct DirectoryApi {
    pub state: Arc<AppState>,
}

impl DirectoryApi {
    fn organization_record(o: domain::Organization, created: bool) -> Record<Organization> {
        let tag = etag(o.meta.version);
        let id = o.meta.id;
        if created {
            Record::Created(Json(o.into()), tag, format!("/v1/organizations/{id}"))
        } else {
            Record::Ok(Json(o.into()), tag)
        }
    }

    fn location_record(l: domain::Location, caller: &Caller, created: bool) -> Record<Location> {
        let tag = etag(l.meta.version);
        let id = l.meta.id;
        let body = Json(Location::for_caller(l, caller));
        if created {
            Record::Created(body, tag, format!("/v1/locations/{id}"))
        } else {
            Record::Ok(body, tag)
        }
    }

    fn service_record(s: domain::Service, created: bool) -> Record<Service> {
        let tag = etag(s.meta.version);
        let id = s.meta.id;
        if created {
            Record::Created(Json(s.into()), tag, format!("/v1/services/{id}"))
        } else {
            Record::Ok(Json(s.into()), tag)
        }
    }
}

/// The directory's writes as one caller makes them: the store applies the rules of `entities::access` (who
/// may write which record, which places a partner may link) inside each write's transaction, and the search
/// index is brought up to date before the answer. Both the JSON API and the web app's listing editor write
/// through here.
pub struct DirectoryWrites<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
}

impl DirectoryWrites<'_> {
    async fn after_write(&self) {
        self.state.directory_changed().await;
    }

    /// Only admins and partners write the directory; anonymous callers get a 401 here.
    fn require_writer(&self) -> Result<Actor, ApiError> {
        self.caller.require(&[Role::Admin, Role::Partner])?;
        Ok(self.caller.actor())
    }

    pub async fn create_organization(&self, data: domain::OrganizationData) -> Result<domain::Organization, ApiError> {
        self.caller.require(&[Role::Admin])?;
        let stored = self
            .state
            .store
            .put_organization(Uuid::new_v4(), data, None, true)
            .await?;
        self.after_write().await;
        Ok(stored)
    }

    pub async fn replace_organization(
        &self,
        id: Uuid,
        data: domain::OrganizationData,
        expected: Option<i64>,
    ) -> Result<domain::Organization, ApiError> {
        self.caller.require_directory_writer(id)?;
        self.state.store.get_organization(id).await?;
        let stored = self.state.store.put_organization(id, data, expected, false).await?;
        self.after_write().await;
        Ok(stored)
    }

    /// A place without a named owner gets the partner's own organization; an admin's stays without owner.
    pub async fn create_location(&self, mut data: domain::LocationData) -> Result<domain::Location, ApiError> {
        let actor = self.require_writer()?;
        data.organization_id = actor.default_owner(data.organization_id);
        let stored = self
            .state
            .store
            .put_location(actor, Uuid::new_v4(), data, None, true)
            .await?;
        self.after_write().await;
        Ok(stored)
    }

    pub async fn replace_location(
        &self,
        id: Uuid,
        mut data: domain::LocationData,
        expected: Option<i64>,
    ) -> Result<domain::Location, ApiError> {
        let actor = self.require_writer()?;
        data.organization_id = actor.default_owner(data.organization_id);
        let stored = self.state.store.put_location(actor, id, data, expected, false).await?;
        self.after_write().await;
        Ok(stored)
    }

    pub async fn create_service(&self, data: domain::ServiceData) -> Result<domain::Service, ApiError> {
        let actor = self.require_writer()?;
        let stored = self
            .state
            .store
            .put_service(actor, Uuid::new_v4(), data, None, true)
            .await?;
        self.after_write().await;
        Ok(stored)
    }

    pub async fn replace_service(
        &self,
        id: Uuid,
        data: domain::ServiceData,
        expected: Option<i64>,
    ) -> Result<domain::Service, ApiError> {
        let actor = self.require_writer()?;
        let stored = self.state.store.put_service(actor, id, data, expected, false).await?;
        self.after_write().await;
        Ok(stored)
    }

    /// Soft-deletes a record the caller may write (status `inactive`).
    pub async fn deactivate(&self, entity: Entity, id: Uuid, expected: Option<i64>) -> Result<(), ApiError> {
        let actor = self.require_writer()?;
        self.state.store.deactivate(actor, entity, id, expected).await?;
        self.after_write().await;
        Ok(())
    }
}

impl DirectoryApi {
    fn writes<'a>(&'a self, caller: &'a Caller) -> DirectoryWrites<'a> {
        DirectoryWrites {
            state: &self.state,
            caller,
        }
    }

    async fn replace_organization(
        &self,
        caller: &Caller,
        id: Uuid,
        input: OrganizationInput,
        if_match: Option<&str>,
    ) -> ApiResult<Record<Organization>> {
        let expected = expected_version(if_match)?;
        let stored = self
            .writes(caller)
            .replace_organization(id, input.into(), expected)
            .await?;
        Ok(Self::organization_record(stored, false))
    }

    async fn replace_location(
        &self,
        caller: &Caller,
        id: Uuid,
        input: LocationInput,
        if_match: Option<&str>,
    ) -> ApiResult<Record<Location>> {
        let expected = expected_version(if_match)?;
        let stored = self.writes(caller).replace_location(id, input.into(), expected).await?;
        Ok(Self::location_record(stored, caller, false))
    }

    async fn replace_service(
        &self,
        caller: &Caller,
        id: Uuid,
        input: ServiceInput,
        if_match: Option<&str>,
    ) -> ApiResult<Record<Service>> {
        let expected = expected_version(if_match)?;
        let stored = self.writes(caller).replace_service(id, input.into(), expected).await?;
        Ok(Self::service_record(stored, false))
    }
}

#[OpenApi(prefix_path = "/v1")]
impl DirectoryApi {
    /// List organizations
    #[oai(
        path = "/organizations",
        method = "get",
        tag = "DirectoryTag::Organizations",
        operation_id = "listOrganizations"
    )]
    async fn list_organizations(
        &self,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        status: Query<Option<RecordStatus>>,
    ) -> ApiResult<Json<PageOf<Organization>>> {
        let page = page_of(page.0, per_page.0)?;
        let filter = list_filter(
            None,
            status.0.map(|s| domain::RecordStatus::from(s).as_str().to_owned()),
        );
        let (total, items) = self.state.store.list_organizations(&filter, page).await?;
        Ok(Json(PageOf::new(total, page, items.into_iter().map(Into::into))))
    }

    /// Get an organization
    #[oai(
        path = "/organizations/:id",
        method = "get",
        tag = "DirectoryTag::Organizations",
        operation_id = "getOrganization"
    )]
    async fn get_organization(&self, id: Path<Uuid>) -> ApiResult<Record<Organization>> {
        let stored = self.state.store.get_organization(id.0).await?;
        Ok(Self::organization_record(stored, false))
    }

    /// Create an organization (admin)
    #[oai(
        path = "/organizations",
        method = "post",
        tag = "DirectoryTag::Organizations",
        operation_id = "createOrganization"
    )]
    async fn create_organization(&self, auth: Auth, body: Json<OrganizationInput>) -> ApiResult<Record<Organization>> {
        let caller = auth.caller();
        let stored = self.writes(&caller).create_organization(body.0.into()).await?;
        Ok(Self::organization_record(stored, true))
    }

    /// Replace an organization
    #[oai(
        path = "/organizations/:id",
        method = "put",
        tag = "DirectoryTag::Organizations",
        operation_id = "putOrganization"
    )]
    async fn put_organization(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<OrganizationInput>,
    ) -> ApiResult<Record<Organization>> {
        self.replace_organization(&auth.caller(), id.0, body.0, if_match.0.as_deref())
            .await
    }

    /// Change some fields of an organization (JSON merge patch)
    #[oai(
        path = "/organizations/:id",
        method = "patch",
        tag = "DirectoryTag::Organizations",
        operation_id = "patchOrganization"
    )]
    async fn patch_organization(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<serde_json::Value>,
    ) -> ApiResult<Record<Organization>> {
        let caller = auth.caller();
        caller.require_directory_writer(id.0)?;
        let current = self.state.store.get_organization(id.0).await?;
        let input = patched(OrganizationInput::from(current.data), &body.0)?;
        self.replace_organization(&caller, id.0, input, if_match.0.as_deref())
            .await
    }

    /// Deactivate an organization (soft delete)
    #[oai(
        path = "/organizations/:id",
        method = "delete",
        tag = "DirectoryTag::Organizations",
        operation_id = "deleteOrganization"
    )]
    async fn delete_organization(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
    ) -> ApiResult<Record<Organization>> {
        let caller = auth.caller();
        let expected = expected_version(if_match.0.as_deref())?;
        self.writes(&caller)
            .deactivate(Entity::Organization, id.0, expected)
            .await?;
        Ok(Self::organization_record(
            self.state.store.get_organization(id.0).await?,
            false,
        ))
    }

    /// List locations
    #[oai(
        path = "/locations",
        method = "get",
        tag = "DirectoryTag::Locations",
        operation_id = "listLocations"
    )]
    async fn list_locations(
        &self,
        auth: Auth,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        organization_id: Query<Option<Uuid>>,
        status: Query<Option<RecordStatus>>,
    ) -> ApiResult<Json<PageOf<Location>>> {
        let caller = auth.caller();
        let page = page_of(page.0, per_page.0)?;
        let filter = list_filter(
            organization_id.0,
            status.0.map(|s| domain::RecordStatus::from(s).as_str().to_owned()),
        );
        let (total, items) = self.state.store.list_locations(&filter, page).await?;
        Ok(Json(PageOf::new(
            total,
            page,
            items.into_iter().map(|l| Location::for_caller(l, &caller)),
        )))
    }

    /// Get a location
    #[oai(
        path = "/locations/:id",
        method = "get",
        tag = "DirectoryTag::Locations",
        operation_id = "getLocation"
    )]
    async fn get_location(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Record<Location>> {
        let stored = self.state.store.get_location(id.0).await?;
        Ok(Self::location_record(stored, &auth.caller(), false))
    }

    /// Create a location (admin, or partner: the place belongs to its organization)
    #[oai(
        path = "/locations",
        method = "post",
        tag = "DirectoryTag::Locations",
        operation_id = "createLocation"
    )]
    async fn create_location(&self, auth: Auth, body: Json<LocationInput>) -> ApiResult<Record<Location>> {
        let caller = auth.caller();
        let stored = self.writes(&caller).create_location(body.0.into()).await?;
        Ok(Self::location_record(stored, &caller, true))
    }

    /// Replace a location
    #[oai(
        path = "/locations/:id",
        method = "put",
        tag = "DirectoryTag::Locations",
        operation_id = "putLocation"
    )]
    async fn put_location(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<LocationInput>,
    ) -> ApiResult<Record<Location>> {
        self.replace_location(&auth.caller(), id.0, body.0, if_match.0.as_deref())
            .await
    }

    /// Change some fields of a location (JSON merge patch)
    #[oai(
        path = "/locations/:id",
        method = "patch",
        tag = "DirectoryTag::Locations",
        operation_id = "patchLocation"
    )]
    async fn patch_location(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<serde_json::Value>,
    ) -> ApiResult<Record<Location>> {
        let caller = auth.caller();
        caller.require(&[Role::Admin, Role::Partner])?;
        let current = self.state.store.get_location(id.0).await?;
        caller.actor().may_edit_place(current.data.organization_id)?;
        let input = patched(LocationInput::from(current.data), &body.0)?;
        self.replace_location(&caller, id.0, input, if_match.0.as_deref()).await
    }

    /// Deactivate a location (soft delete)
    #[oai(
        path = "/locations/:id",
        method = "delete",
        tag = "DirectoryTag::Locations",
        operation_id = "deleteLocation"
    )]
    async fn delete_location(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
    ) -> ApiResult<Record<Location>> {
        let caller = auth.caller();
        let expected = expected_version(if_match.0.as_deref())?;
        self.writes(&caller)
            .deactivate(Entity::Location, id.0, expected)
            .await?;
        Ok(Self::location_record(
            self.state.store.get_location(id.0).await?,
            &caller,
            false,
        ))
    }

    /// Import Open Referral HSDS 3.0 JSON (admin)
    ///
    /// One service, an array of services, or organizations with nested `services`. Upserts by `id`;
    /// importing the same document twice changes nothing. An invalid document is rejected whole with every
    /// error listed; nothing is stored.
    #[oai(
        path = "/import/hsds",
        method = "post",
        tag = "DirectoryTag::Services",
        operation_id = "importHsds"
    )]
    async fn import_hsds(&self, auth: Auth, body: Json<serde_json::Value>) -> ApiResult<Json<ImportReport>> {
        auth.caller().require(&[Role::Admin])?;
        let report = self.state.store.import_hsds(&body.0).await?;
        self.state.directory_changed().await;
        Ok(Json(report.into()))
    }

    /// List services
    #[oai(
        path = "/services",
        method = "get",
        tag = "DirectoryTag::Services",
        operation_id = "listServices"
    )]
    async fn list_services(
        &self,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        organization_id: Query<Option<Uuid>>,
        status: Query<Option<ServiceStatus>>,
    ) -> ApiResult<Json<PageOf<Service>>> {
        let page = page_of(page.0, per_page.0)?;
        let filter = list_filter(
            organization_id.0,
            status.0.map(|s| domain::ServiceStatus::from(s).as_str().to_owned()),
        );
        let (total, items) = self.state.store.list_services(&filter, page).await?;
        Ok(Json(PageOf::new(total, page, items.into_iter().map(Into::into))))
    }

    /// Get a service
    #[oai(
        path = "/services/:id",
        method = "get",
        tag = "DirectoryTag::Services",
        operation_id = "getService"
    )]
    async fn get_service(&self, id: Path<Uuid>) -> ApiResult<Record<Service>> {
        let stored = self.state.store.get_service(id.0).await?;
        Ok(Self::service_record(stored, false))
    }

    /// Create a service (admin, or partner for its own organization)
    #[oai(
        path = "/services",
        method = "post",
        tag = "DirectoryTag::Services",
        operation_id = "createService"
    )]
    async fn create_service(&self, auth: Auth, body: Json<ServiceInput>) -> ApiResult<Record<Service>> {
        let caller = auth.caller();
        let stored = self.writes(&caller).create_service(body.0.into()).await?;
        Ok(Self::service_record(stored, true))
    }

    /// Replace a service
    #[oai(
        path = "/services/:id",
        method = "put",
        tag = "DirectoryTag::Services",
        operation_id = "putService"
    )]
    async fn put_service(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<ServiceInput>,
    ) -> ApiResult<Record<Service>> {
        self.replace_service(&auth.caller(), id.0, body.0, if_match.0.as_deref())
            .await
    }

    /// Change some fields of a service (JSON merge patch)
    #[oai(
        path = "/services/:id",
        method = "patch",
        tag = "DirectoryTag::Services",
        operation_id = "patchService"
    )]
    async fn patch_service(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<serde_json::Value>,
    ) -> ApiResult<Record<Service>> {
        let caller = auth.caller();
        let current = self.state.store.get_service(id.0).await?;
        caller.require_directory_writer(current.data.organization_id)?;
        let input = patched(ServiceInput::from(current.data), &body.0)?;
        self.replace_service(&caller, id.0, input, if_match.0.as_deref()).await
    }

    /// Deactivate a service (soft delete)
    #[oai(
        path = "/services/:id",
        method = "delete",
        tag = "DirectoryTag::Services",
        operation_id = "deleteService"
    )]
    async fn delete_service(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
    ) -> ApiResult<Record<Service>> {
        let caller = auth.caller();
        let expected = expected_version(if_match.0.as_deref())?;
        self.writes(&caller).deactivate(Entity::Service, id.0, expected).await?;
        Ok(Self::service_record(self.state.store.get_service(id.0).await?, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
    }

    #[test]
    fn if_match_parsing() {
        assert_eq!(expected_version(None).unwrap(), None);
        assert_eq!(expected_version(Some("*")).unwrap(), None);
        assert_eq!(expected_version(Some("\"7\"")).unwrap(), Some(7));
        assert_eq!(expected_version(Some("W/\"7\"")).unwrap(), Some(7));
        assert!(expected_version(Some("\"abc\"")).is_err());
    }
}

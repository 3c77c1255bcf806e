//! `/hsds`: the directory as an Open Referral HSDS 3.0 read API for third-party apps.
//!
//! The output is the inverse of the HSDS import (`entities::hsds`), so that a service read here and imported
//! into an empty instance gives the same service: needs are attributes whose `taxonomy_term.code` is the need
//! code (taxonomy `brobygger-needs`), `capacity-*`, `gender-*` (a service for one group only; none for anyone)
//! and `confidential` are flag attributes (taxonomy `brobygger-flags`), a free service has a cost option of amount 0, organizations carry `x_kind` and
//! `x_cvr`, schedules are weekly RFC 5545 `byday` with `opens_at`/`closes_at`, and a service area is a
//! GeoJSON string with `extent_type` `geojson`. Term ids are the seed data's: `uuid5(ns, "term:<code>")`.
//!
//! Responses are built as JSON values by the mapping functions below (typed objects for the whole HSDS
//! shape would be enormous); they are validated against `docs/hsds-3.0/compiled/` by the tests.
//! Confidential locations lose address and coordinates exactly as in `/v1`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, SecondsFormat, Utc};
use entities::directory::{Location, Organization, Service};
use entities::export::{ServiceAtLocation, ServiceFilter};
use entities::extras::{self, Extra};
use entities::store::Page;
use entities::taxonomy::NeedTerm;
use indexer::SearchQuery;
use poem::Body;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::{ApiResponse, OpenApi, Tags};
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::auth::{Auth, Caller};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;

pub const HSDS_VERSION: &str = "3.0";
pub const NDJSON: &str = "application/x-ndjson";
pub const HSDS_PROFILE: &str = "https://openreferral.org/specification/3.0";
pub const NEEDS_TAXONOMY: &str = "brobygger-needs";
pub const FLAGS_TAXONOMY: &str = "brobygger-flags";
/// Rows per database batch when streaming ndjson.
const BATCH: u64 = 100;
/// Search results considered when `search` or `postcode` is given.
const MAX_RANKED: usize = 10_000;
const MAX_PROXIMITY_M: f64 = 100_000.0;

/// Namespace of the seed data's UUIDv5 ids, so term ids here equal those in `seed-data/aarhus`.
static NAMESPACE: LazyLock<Uuid> =
    LazyLock::new(|| Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://brobygger.example.org/seed-data/aarhus"));

/// The id of the taxonomy term with this code (needs and flags alike).
pub fn term_id(code: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("term:{code}").as_bytes())
}

pub fn taxonomy_id(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("taxonomy:{name}").as_bytes())
}

/// Flags that are not needs: (code, Danish name, description).
const FLAGS: [(&str, &str, &str); 8] = [
    (
        "confidential",
        "Fortrolig adresse",
        "The location's address and coordinates are shown only to caseworkers and its organization.",
    ),
    (
        "capacity-full",
        "Ingen ledige pladser",
        "The service has no free places (waiting list).",
    ),
    (
        "capacity-limited",
        "Få ledige pladser",
        "The service has few free places.",
    ),
    ("capacity-available", "Ledige pladser", "The service has free places."),
    ("gender-women", "Kun for kvinder", "The service is for women only."),
    ("gender-men", "Kun for mænd", "The service is for men only."),
    ("gender-girls", "Kun for piger", "The service is for girls only."),
    ("gender-boys", "Kun for drenge", "The service is for boys only."),
];

#[derive(Tags)]
pub enum HsdsTag {
    /// Open Referral HSDS 3.0 read API: the public directory in the standard shape, for third-party apps.
    Hsds,
}

/// A JSON document, or every row as newline-delimited JSON (`format=ndjson`), unpaged and streamed.
/// (`ApiResponse` by hand: the derive cannot put two media types under one status.)
pub enum HsdsResponse {
    Json(Json<Value>),
    Ndjson(Binary<Body>),
}

impl ApiResponse for HsdsResponse {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "HSDS JSON (a page envelope for lists), or with `format=ndjson` one HSDS object per line.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "application/json",
                        schema: <Value as poem_openapi::types::Type>::schema_ref(),
                    },
                    MetaMediaType {
                        content_type: NDJSON,
                        schema: <Binary<Body> as poem_openapi::payload::Payload>::schema_ref(),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        <Value as poem_openapi::types::Type>::register(registry);
    }
}

impl poem::IntoResponse for HsdsResponse {
    fn into_response(self) -> poem::Response {
        match self {
            HsdsResponse::Json(json) => json.into_response(),
            HsdsResponse::Ndjson(Binary(body)) => poem::Response::builder().content_type(NDJSON).body(body),
        }
    }
}

#[derive(Clone)]
pub struct HsdsApi {
    pub state: Arc<AppState>,
}

/// How much of a service to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `id`, `name`, `status`, `last_modified`.
    Minimal,
    /// The flat fields and the organization (HSDS `service_list`).
    List,
    /// Everything, nested.
    Full,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Inserts `value` when it is `Some`; HSDS optional fields are left out rather than null.
fn put<T: Into<Value>>(object: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value.into());
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

// ---- taxonomy ------------------------------------------------------------------------------------------

fn need_term_json(term: &NeedTerm, parent: Option<&str>) -> Value {
    let mut out = object(json!({
        "id": term_id(&term.code),
        "code": term.code,
        "name": term.label.da,
        "description": term.description.as_ref().map_or(&term.label.da, |d| &d.da),
        "taxonomy": NEEDS_TAXONOMY,
        "taxonomy_id": taxonomy_id(NEEDS_TAXONOMY),
        "language": "da",
    }));
    put(&mut out, "parent_id", parent.map(|p| term_id(p).to_string()));
    Value::Object(out)
}

fn flag_term_json(code: &str) -> Value {
    let (_, name, description) = FLAGS
        .iter()
        .find(|(c, _, _)| *c == code)
        .copied()
        .unwrap_or((code, code, code));
    json!({
        "id": term_id(code),
        "code": code,
        "name": name,
        "description": description,
        "taxonomy": FLAGS_TAXONOMY,
        "taxonomy_id": taxonomy_id(FLAGS_TAXONOMY),
        "language": "da",
    })
}

fn taxonomies() -> Vec<Value> {
    vec![
        json!({
            "id": taxonomy_id(NEEDS_TAXONOMY),
            "name": NEEDS_TAXONOMY,
            "description": "Brobygger's needs taxonomy: what a family needs help with (see /v1/needs for English labels and synonyms).",
            "version": "1",
        }),
        json!({
            "id": taxonomy_id(FLAGS_TAXONOMY),
            "name": FLAGS_TAXONOMY,
            "description": "Brobygger's flags on services and locations: capacity, who a service is for, and confidential addresses.",
            "version": "1",
        }),
    ]
}

/// An HSDS attribute linking `link_id` to the term `term`.
fn attribute(link_id: Uuid, link_type: &str, link_entity: &str, term: Value) -> Value {
    let code = term["code"].as_str().unwrap_or_default().to_owned();
    json!({
        "id": Uuid::new_v5(&link_id, format!("attribute:{code}").as_bytes()),
        "link_id": link_id,
        "link_type": link_type,
        "link_entity": link_entity,
        "taxonomy_term_id": term["id"],
        "value": "true",
        "taxonomy_term": term,
    })
}

// ---- mapping -------------------------------------------------------------------------------------------

fn organization_json(organization: &Organization) -> Map<String, Value> {
    let data = &organization.data;
    let id = organization.meta.id;
    let mut out = object(json!({
        "id": id,
        "name": data.name,
        "description": data.description,
        "x_kind": data.kind.as_str(),
    }));
    put(&mut out, "email", data.email.clone());
    put(&mut out, "website", data.website.clone());
    put(&mut out, "x_cvr", data.cvr.clone());
    if let Some(phone) = &data.phone {
        out.insert(
            "phones".into(),
            json!([{"id": Uuid::new_v5(&id, b"phone"), "organization_id": id, "number": phone}]),
        );
    }
    out
}

/// A location as `caller` may see it (see `wire::Location::for_caller`).
/// Adds the kept HSDS fields of an imported record where the record's own fields leave the key free.
fn merge_extra(out: &mut Map<String, Value>, extra: Option<&Extra>) {
    for (key, value) in extra.into_iter().flatten() {
        out.entry(key.clone()).or_insert_with(|| value.clone());
    }
}

/// A location in HSDS shape, with its kept HSDS fields when the caller may see where it is (they may say).
fn location_json(location: &Location, caller: &Caller, extra: Option<&Extra>) -> Value {
    let data = &location.data;
    let id = location.meta.id;
    let visible = caller.sees_place(data.confidential, data.organization_id);
    let mut out = object(json!({
        "id": id,
        "location_type": "physical",
        "name": data.name,
    }));
    // Only an owned place names its organization: a shared one belongs to none of its services' owners.
    put(&mut out, "organization_id", data.organization_id.map(|o| o.to_string()));
    if visible {
        put(&mut out, "latitude", data.latitude);
        put(&mut out, "longitude", data.longitude);
    }
    let addresses: Vec<Value> = match (&data.address, visible) {
        (Some(address), true) => vec![json!({
            "id": Uuid::new_v5(&id, b"address"),
            "location_id": id,
            "address_1": address.address_1,
            "city": address.city,
            "postal_code": address.postal_code,
            // Required by HSDS; Brobygger keeps no region.
            "state_province": "",
            "country": "DK",
            "address_type": "physical",
        })],
        _ => vec![],
    };
    out.insert("addresses".into(), Value::Array(addresses));
    let attributes: Vec<Value> = if data.confidential {
        vec![attribute(id, "flag", "location", flag_term_json("confidential"))]
    } else {
        vec![]
    };
    out.insert("attributes".into(), Value::Array(attributes));
    if visible {
        merge_extra(&mut out, extra);
    }
    Value::Object(out)
}

/// Organizations and locations the services of one response refer to.
#[derive(Default)]
struct Related {
    organizations: HashMap<Uuid, Organization>,
    locations: HashMap<Uuid, Location>,
    /// Kept HSDS fields of the services, organizations and locations, by kind and id.
    extras: HashMap<(&'static str, Uuid), Extra>,
}

impl Related {
    fn extra(&self, kind: &'static str, id: Uuid) -> Option<&Extra> {
        self.extras.get(&(kind, id))
    }
}

impl Related {
    fn is_visible_location(&self, id: &Uuid) -> bool {
        self.locations
            .get(id)
            .is_some_and(|l| l.data.status == entities::directory::RecordStatus::Active)
    }
}

impl HsdsApi {
    /// `with_extras`: also the kept HSDS fields, which only the fully nested shape and places show.
    async fn related(&self, services: &[Service], with_extras: bool) -> Result<Related, ApiError> {
        let store = &self.state.store;
        let mut organization_ids: Vec<Uuid> = services.iter().map(|s| s.data.organization_id).collect();
        organization_ids.sort();
        organization_ids.dedup();
        let mut location_ids: Vec<Uuid> = services
            .iter()
            .flat_map(|s| s.data.location_ids.iter().copied())
            .collect();
        location_ids.sort();
        location_ids.dedup();
        let mut related = Related::default();
        for chunk in organization_ids.chunks(500) {
            related.organizations.extend(store.organizations_by_id(chunk).await?);
        }
        for chunk in location_ids.chunks(500) {
            related.locations.extend(store.locations_by_id(chunk).await?);
        }
        if !with_extras {
            return Ok(related);
        }
        let service_ids: Vec<Uuid> = services.iter().map(|s| s.meta.id).collect();
        for (kind, ids) in [
            (extras::SERVICE, &service_ids),
            (extras::ORGANIZATION, &organization_ids),
            (extras::LOCATION, &location_ids),
        ] {
            let kept = store.hsds_extras(kind, ids).await?;
            related
                .extras
                .extend(kept.into_iter().map(|(id, extra)| ((kind, id), extra)));
        }
        Ok(related)
    }

    fn term_for_code(&self, code: &str) -> Value {
        let flat = self.state.taxonomy.flatten();
        match flat.iter().find(|(t, _)| t.code == code) {
            Some((term, parent)) => need_term_json(term, *parent),
            None => flag_term_json(code),
        }
    }

    /// A service in HSDS shape. `with_organization`: nest the organization (not inside an organization).
    fn service_json(
        &self,
        service: &Service,
        related: &Related,
        caller: &Caller,
        shape: Shape,
        with_organization: bool,
    ) -> Value {
        let data = &service.data;
        let id = service.meta.id;
        let mut out = object(json!({
            "id": id,
            "name": data.name,
            "status": data.status.as_str(),
            "last_modified": rfc3339(service.meta.updated_at),
        }));
        if shape == Shape::Minimal {
            return Value::Object(out);
        }
        out.insert("organization_id".into(), json!(data.organization_id));
        out.insert("description".into(), json!(data.description));
        put(&mut out, "url", data.url.clone());
        put(&mut out, "email", data.email.clone());
        put(&mut out, "application_process", data.application_process.clone());
        put(&mut out, "fees_description", data.fees_description.clone());
        put(
            &mut out,
            "eligibility_description",
            data.eligibility_description.clone(),
        );
        put(&mut out, "minimum_age", data.minimum_age);
        put(&mut out, "maximum_age", data.maximum_age);
        put(&mut out, "assured_date", data.assured_date.map(|d| d.to_string()));
        if with_organization && let Some(organization) = related.organizations.get(&data.organization_id) {
            let mut organization = organization_json(organization);
            if shape == Shape::List {
                organization.remove("phones");
            } else {
                merge_extra(
                    &mut organization,
                    related.extra(extras::ORGANIZATION, data.organization_id),
                );
            }
            out.insert("organization".into(), Value::Object(organization));
        }
        if shape == Shape::List {
            return Value::Object(out);
        }
        let phones: Vec<Value> = data
            .phone
            .iter()
            .map(|phone| json!({"id": Uuid::new_v5(&id, b"phone"), "service_id": id, "number": phone}))
            .collect();
        out.insert("phones".into(), Value::Array(phones));
        let schedules: Vec<Value> = data
            .schedules
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut schedule = object(json!({
                    "id": Uuid::new_v5(&id, format!("schedule:{i}").as_bytes()),
                    "service_id": id,
                    "freq": s.freq.as_str(),
                    "interval": s.interval,
                    "opens_at": s.opens_at,
                    "closes_at": s.closes_at,
                }));
                put(
                    &mut schedule,
                    "byday",
                    Some(s.byday.join(",")).filter(|d| !d.is_empty()),
                );
                let monthdays: Vec<String> = s.bymonthday.iter().map(i8::to_string).collect();
                put(
                    &mut schedule,
                    "bymonthday",
                    Some(monthdays.join(",")).filter(|d| !d.is_empty()),
                );
                put(&mut schedule, "dtstart", s.dtstart.map(|d| d.to_string()));
                put(&mut schedule, "until", s.until.map(|d| d.to_string()));
                put(&mut schedule, "valid_from", s.valid_from.map(|d| d.to_string()));
                put(&mut schedule, "valid_to", s.valid_to.map(|d| d.to_string()));
                put(&mut schedule, "description", s.description.clone());
                put(&mut schedule, "notes", s.notes.clone());
                Value::Object(schedule)
            })
            .collect();
        out.insert("schedules".into(), Value::Array(schedules));
        let areas: Vec<Value> = data
            .service_area
            .iter()
            .map(|area| {
                json!({
                    "id": Uuid::new_v5(&id, b"service_area"),
                    "service_id": id,
                    "name": "Service area",
                    "extent": area.to_string(),
                    "extent_type": "geojson",
                })
            })
            .collect();
        out.insert("service_areas".into(), Value::Array(areas));
        let links: Vec<Value> = data
            .location_ids
            .iter()
            .filter(|l| related.is_visible_location(l))
            .filter_map(|location_id| {
                let location = related.locations.get(location_id)?;
                Some(json!({
                    "id": Uuid::new_v5(&id, format!("sal:{location_id}").as_bytes()),
                    "service_id": id,
                    "location_id": location_id,
                    "location": location_json(location, caller, related.extra(extras::LOCATION, *location_id)),
                }))
            })
            .collect();
        out.insert("service_at_locations".into(), Value::Array(links));
        let languages: Vec<Value> = data
            .languages
            .iter()
            .map(|code| {
                let mut language = object(json!({
                    "id": Uuid::new_v5(&id, format!("language:{code}").as_bytes()),
                    "service_id": id,
                    "code": code,
                }));
                let name = crate::web::format::language_name(crate::web::i18n::Lang::En, code);
                put(&mut language, "name", Some(name).filter(|name| name != code));
                Value::Object(language)
            })
            .collect();
        out.insert("languages".into(), Value::Array(languages));
        let costs: Vec<Value> = if data.free {
            vec![json!({
                "id": Uuid::new_v5(&id, b"cost:free"),
                "service_id": id,
                "option": "Gratis",
                "amount": 0,
                "currency": "DKK",
            })]
        } else {
            vec![]
        };
        out.insert("cost_options".into(), Value::Array(costs));
        let mut attributes: Vec<Value> = data
            .needs
            .iter()
            .map(|code| attribute(id, "need", "service", self.term_for_code(code)))
            .collect();
        if let Some(capacity) = data.capacity {
            let code = format!("capacity-{}", capacity.as_str());
            attributes.push(attribute(id, "flag", "service", flag_term_json(&code)));
        }
        if let Some(code) = entities::hsds::gender_flag(data.gender) {
            attributes.push(attribute(id, "flag", "service", flag_term_json(&code)));
        }
        out.insert("attributes".into(), Value::Array(attributes));
        merge_extra(&mut out, related.extra(extras::SERVICE, id));
        Value::Object(out)
    }

    async fn render_services(
        &self,
        services: &[Service],
        caller: &Caller,
        shape: Shape,
    ) -> Result<Vec<Value>, ApiError> {
        let related = self.related(services, shape == Shape::Full).await?;
        Ok(services
            .iter()
            .map(|s| self.service_json(s, &related, caller, shape, true))
            .collect())
    }

    /// Organizations with their services nested (`services: Some(shape)`) or not.
    async fn render_organizations(
        &self,
        organizations: &[Organization],
        caller: &Caller,
        services: Option<Shape>,
    ) -> Result<Vec<Value>, ApiError> {
        let ids: Vec<Uuid> = organizations.iter().map(|o| o.meta.id).collect();
        let kept = self.state.store.hsds_extras(extras::ORGANIZATION, &ids).await?;
        let organization_json = |o: &Organization| {
            let mut out = organization_json(o);
            merge_extra(&mut out, kept.get(&o.meta.id));
            out
        };
        let Some(shape) = services else {
            return Ok(organizations
                .iter()
                .map(|o| Value::Object(organization_json(o)))
                .collect());
        };
        let all = self.state.store.export_services_of_organizations(&ids).await?;
        let related = self.related(&all, shape == Shape::Full).await?;
        let mut by_organization: HashMap<Uuid, Vec<Value>> = HashMap::new();
        for service in &all {
            by_organization
                .entry(service.data.organization_id)
                .or_default()
                .push(self.service_json(service, &related, caller, shape, false));
        }
        Ok(organizations
            .iter()
            .map(|o| {
                let mut out = organization_json(o);
                out.insert(
                    "services".into(),
                    Value::Array(by_organization.remove(&o.meta.id).unwrap_or_default()),
                );
                Value::Object(out)
            })
            .collect())
    }

    async fn render_links(
        &self,
        links: &[ServiceAtLocation],
        caller: &Caller,
        shape: Shape,
    ) -> Result<Vec<Value>, ApiError> {
        let mut service_ids: Vec<Uuid> = links.iter().map(|l| l.service_id).collect();
        service_ids.sort();
        service_ids.dedup();
        let services = self.state.store.export_services_by_id(&service_ids).await?;
        // A link's place is shown with its kept fields whatever the shape of its service.
        let related = self.related(&services, true).await?;
        let services: HashMap<Uuid, &Service> = services.iter().map(|s| (s.meta.id, s)).collect();
        Ok(links
            .iter()
            .filter_map(|link| {
                let service = services.get(&link.service_id)?;
                let location = related.locations.get(&link.location_id)?;
                Some(json!({
                    "id": link.id,
                    "service_id": link.service_id,
                    "location_id": link.location_id,
                    "location": location_json(location, caller, related.extra(extras::LOCATION, link.location_id)),
                    "service": self.service_json(service, &related, caller, shape, true),
                }))
            })
            .collect())
    }

    // ---- parameters ------------------------------------------------------------------------------------

    /// The need codes a `taxonomy_term_id` / `taxonomy_id` pair selects (None: no taxonomy filter).
    fn need_codes(&self, taxonomy_term_id: Option<Uuid>, taxonomy: Option<Uuid>) -> Option<Vec<String>> {
        let flat = self.state.taxonomy.flatten();
        let mut codes: Option<HashSet<String>> = None;
        if let Some(term) = taxonomy_term_id {
            let selected: HashSet<String> = flat
                .iter()
                .filter(|(t, parent)| term_id(&t.code) == term || parent.is_some_and(|p| term_id(p) == term))
                .map(|(t, _)| t.code.clone())
                .collect();
            codes = Some(selected);
        }
        if let Some(taxonomy) = taxonomy {
            let selected: HashSet<String> = if taxonomy == taxonomy_id(NEEDS_TAXONOMY) {
                flat.iter().map(|(t, _)| t.code.clone()).collect()
            } else {
                HashSet::new()
            };
            codes = Some(match codes {
                Some(codes) => codes.intersection(&selected).cloned().collect(),
                None => selected,
            });
        }
        codes.map(|c| {
            let mut codes: Vec<String> = c.into_iter().collect();
            codes.sort();
            codes
        })
    }

    /// The point and radius of `postcode` + `proximity` (metres; 5 km when only a postcode is given).
    fn proximity(&self, postcode: Option<&str>, proximity: Option<f64>) -> Result<Option<Near>, ApiError> {
        match (postcode.map(str::trim).filter(|p| !p.is_empty()), proximity) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(ApiError::BadRequest("proximity needs a postcode".into())),
            (Some(postcode), proximity) => {
                let metres = proximity.unwrap_or(crate::search::DEFAULT_RADIUS_KM * 1000.0);
                if !(metres > 0.0 && metres <= MAX_PROXIMITY_M) {
                    return Err(ApiError::BadRequest(format!(
                        "proximity must be above 0 and at most {MAX_PROXIMITY_M} metres"
                    )));
                }
                let place = self.state.gazetteer.resolve(postcode).ok_or_else(|| {
                    ApiError::Invalid(vec![entities::FieldError::new(
                        "postcode",
                        format!("unknown postcode `{postcode}` (see /v1/places)"),
                    )])
                })?;
                Ok(Some(((place.latitude, place.longitude), metres / 1000.0)))
            }
        }
    }

    /// Active services ranked by the search engine for `text` and/or a point; None when neither is given.
    /// With a point, confidential locations count only for callers who may know them all (the engine
    /// keeps them out otherwise): shrinking radii would locate a shelter.
    async fn ranked(
        &self,
        text: Option<&str>,
        near: Option<Near>,
        caller: &Caller,
    ) -> Result<Option<Vec<Uuid>>, ApiError> {
        let text = text.map(str::trim).filter(|t| !t.is_empty());
        if text.is_none() && near.is_none() {
            return Ok(None);
        }
        if text.is_some_and(|t| t.chars().count() > 500) {
            return Err(ApiError::BadRequest("search must be at most 500 characters".into()));
        }
        let query = SearchQuery {
            text: text.map(str::to_owned),
            point: near.map(|(p, _)| p),
            radius_km: near.map(|(_, r)| r),
            limit: MAX_RANKED,
            include_confidential: caller.sees_all_confidential(),
            ..Default::default()
        };
        let index = self.state.search.index.clone();
        let results = tokio::task::spawn_blocking(move || index.search(&query))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| match e {
                indexer::Error::InvalidQuery(message) => ApiError::BadRequest(message),
                other => ApiError::Internal(other.to_string()),
            })?;
        Ok(Some(results.hits.into_iter().map(|h| h.id).collect()))
    }

    /// Ranked ids restricted to those the database filter allows, in rank order.
    async fn ranked_and_filtered(&self, ranked: Vec<Uuid>, filter: &ServiceFilter) -> Result<Vec<Uuid>, ApiError> {
        let allowed: HashSet<Uuid> = self.state.store.export_service_ids(filter).await?.into_iter().collect();
        Ok(ranked.into_iter().filter(|id| allowed.contains(id)).collect())
    }
}

fn modified_after(value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|raw| {
            DateTime::parse_from_rfc3339(raw.trim())
                .map(|at| at.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::BadRequest(format!(
                        "modified_after `{raw}` is not an RFC 3339 date-time such as 2026-01-31T12:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// Whether the response is streamed as ndjson.
fn is_ndjson(format: Option<&str>) -> Result<bool, ApiError> {
    match format.map(str::to_ascii_lowercase).as_deref() {
        None | Some("json") => Ok(false),
        Some("ndjson") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!("format `{other}` is not json or ndjson"))),
    }
}

/// The HSDS page envelope.
pub fn envelope(total: u64, page: Page, contents: Vec<Value>) -> Value {
    let total_pages = total.div_ceil(page.per_page);
    json!({
        "total_items": total,
        "total_pages": total_pages,
        "page_number": page.page,
        "size": contents.len(),
        "first_page": page.page == 1,
        "last_page": page.page >= total_pages,
        "empty": contents.is_empty(),
        "contents": contents,
    })
}

fn slice<T: Clone>(items: &[T], page: Page) -> Vec<T> {
    let start = ((page.page - 1) * page.per_page).min(items.len() as u64) as usize;
    let end = (start + page.per_page as usize).min(items.len());
    items[start..end].to_vec()
}

fn not_found(kind: &str, id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("no {kind} {id}"))
}

// ---- streaming -----------------------------------------------------------------------------------------

/// What an ndjson response streams, batch by batch from the database.
enum Feed {
    Services {
        filter: ServiceFilter,
        shape: Shape,
    },
    ServiceIds {
        ids: Vec<Uuid>,
        shape: Shape,
    },
    Organizations {
        services: Option<Shape>,
    },
    OrganizationIds {
        ids: Vec<Uuid>,
        services: Option<Shape>,
    },
    Links {
        filter: ServiceFilter,
        shape: Shape,
    },
    LinkList {
        links: Vec<ServiceAtLocation>,
        shape: Shape,
    },
    Values(Vec<Value>),
}

impl HsdsApi {
    fn stream(&self, feed: Feed, caller: Caller) -> HsdsResponse {
        let (mut writer, reader) = tokio::io::duplex(64 * 1024);
        let api = self.clone();
        tokio::spawn(async move {
            if let Err(error) = api.pump(feed, &caller, &mut writer).await {
                // The status line is gone; the client sees a truncated stream.
                tracing::warn!(%error, "hsds ndjson stream ended early");
            }
            let _ = writer.shutdown().await;
        });
        HsdsResponse::Ndjson(Binary(Body::from_async_read(reader)))
    }

    async fn pump(&self, feed: Feed, caller: &Caller, out: &mut tokio::io::DuplexStream) -> anyhow::Result<()> {
        let store = &self.state.store;
        async fn write(out: &mut tokio::io::DuplexStream, rows: Vec<Value>) -> anyhow::Result<()> {
            let mut buffer = Vec::new();
            for row in rows {
                serde_json::to_writer(&mut buffer, &row)?;
                buffer.push(b'\n');
            }
            out.write_all(&buffer).await?;
            Ok(())
        }
        match feed {
            Feed::Services { filter, shape } => {
                let mut after = None;
                loop {
                    let batch = store.export_services_after(&filter, after, BATCH).await?;
                    let Some(last) = batch.last() else { break };
                    after = Some(last.meta.id);
                    write(out, self.render_services(&batch, caller, shape).await?).await?;
                }
            }
            Feed::ServiceIds { ids, shape } => {
                for chunk in ids.chunks(BATCH as usize) {
                    let batch = store.export_services_by_id(chunk).await?;
                    write(out, self.render_services(&batch, caller, shape).await?).await?;
                }
            }
            Feed::Organizations { services } => {
                let mut after = None;
                loop {
                    let batch = store.export_organizations_after(None, after, BATCH).await?;
                    let Some(last) = batch.last() else { break };
                    after = Some(last.meta.id);
                    write(out, self.render_organizations(&batch, caller, services).await?).await?;
                }
            }
            Feed::OrganizationIds { ids, services } => {
                for chunk in ids.chunks(BATCH as usize) {
                    let batch = store.export_organizations_in_order(chunk).await?;
                    write(out, self.render_organizations(&batch, caller, services).await?).await?;
                }
            }
            Feed::Links { filter, shape } => {
                let mut after = None;
                loop {
                    let batch = store.export_service_at_locations_after(&filter, after, BATCH).await?;
                    let Some(last) = batch.last() else { break };
                    after = Some(last.id);
                    write(out, self.render_links(&batch, caller, shape).await?).await?;
                }
            }
            Feed::LinkList { links, shape } => {
                for chunk in links.chunks(BATCH as usize) {
                    write(out, self.render_links(chunk, caller, shape).await?).await?;
                }
            }
            Feed::Values(values) => write(out, values).await?,
        }
        Ok(())
    }
}

/// A point (lat, lon) and a radius in km.
type Near = ((f64, f64), f64);

fn service_shape(minimal: Option<bool>, full: Option<bool>) -> Shape {
    if full == Some(true) {
        Shape::Full
    } else if minimal == Some(true) {
        Shape::Minimal
    } else {
        Shape::List
    }
}

#[OpenApi(prefix_path = "/hsds")]
impl HsdsApi {
    /// About this HSDS API
    ///
    /// The HSDS version, the profile and where the OpenAPI document is.
    #[oai(path = "/", method = "get", tag = "HsdsTag::Hsds", operation_id = "hsdsAbout")]
    async fn about(&self, req: &poem::Request) -> Json<Value> {
        let openapi_url = match req
            .headers()
            .get(poem::http::header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            Some(host) => format!("http://{host}/openapi.json"),
            None => "/openapi.json".to_owned(),
        };
        Json(json!({"version": HSDS_VERSION, "profile": HSDS_PROFILE, "openapi_url": openapi_url}))
    }

    /// HSDS services
    ///
    /// A page of services in id order, all statuses (`status` says which are active). `search` and
    /// `postcode` (+ `proximity` in metres, default 5000) use the search engine and return active services
    /// only, best match or nearest first. `minimal` gives id, name, status and `last_modified`; `full`
    /// nests everything. `format=ndjson` streams every matching service, one per line, unpaged.
    #[oai(
        path = "/services",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsListServices"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn services(
        &self,
        auth: Auth,
        search: Query<Option<String>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        format: Query<Option<String>>,
        taxonomy_term_id: Query<Option<Uuid>>,
        taxonomy_id: Query<Option<Uuid>>,
        organization_id: Query<Option<Uuid>>,
        /// RFC 3339; services changed at or after it.
        modified_after: Query<Option<String>>,
        minimal: Query<Option<bool>>,
        full: Query<Option<bool>>,
        postcode: Query<Option<String>>,
        /// Metres from the postcode's centre.
        proximity: Query<Option<f64>>,
    ) -> ApiResult<HsdsResponse> {
        let caller = auth.caller();
        let paging = crate::directory::page_of(page.0, per_page.0)?;
        let ndjson = is_ndjson(format.0.as_deref())?;
        let shape = service_shape(minimal.0, full.0);
        let filter = ServiceFilter {
            organization_id: organization_id.0,
            need_codes: self.need_codes(taxonomy_term_id.0, taxonomy_id.0),
            modified_after: self::modified_after(modified_after.0.as_deref())?,
        };
        let near = self.proximity(postcode.0.as_deref(), proximity.0)?;
        match self.ranked(search.0.as_deref(), near, &caller).await? {
            None if ndjson => Ok(self.stream(Feed::Services { filter, shape }, caller)),
            None => {
                let (total, services) = self.state.store.export_services(&filter, paging).await?;
                let contents = self.render_services(&services, &caller, shape).await?;
                Ok(HsdsResponse::Json(Json(envelope(total, paging, contents))))
            }
            Some(ranked) => {
                let ids = self.ranked_and_filtered(ranked, &filter).await?;
                if ndjson {
                    return Ok(self.stream(Feed::ServiceIds { ids, shape }, caller));
                }
                let services = self.state.store.export_services_by_id(&slice(&ids, paging)).await?;
                let contents = self.render_services(&services, &caller, shape).await?;
                Ok(HsdsResponse::Json(Json(envelope(ids.len() as u64, paging, contents))))
            }
        }
    }

    /// One HSDS service, fully nested
    #[oai(
        path = "/services/:id",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsGetService"
    )]
    async fn service(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Json<Value>> {
        let caller = auth.caller();
        let service = self.state.store.get_service(id.0).await?;
        let mut rendered = self.render_services(&[service], &caller, Shape::Full).await?;
        Ok(Json(rendered.pop().unwrap_or_default()))
    }

    /// HSDS organizations
    ///
    /// Active organizations in id order. `search` finds organizations whose services match. With `full`
    /// or `full_service` each organization nests its services (minimal, or fully with `full_service`).
    #[oai(
        path = "/organizations",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsListOrganizations"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn organizations(
        &self,
        auth: Auth,
        search: Query<Option<String>>,
        full_service: Query<Option<bool>>,
        full: Query<Option<bool>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        format: Query<Option<String>>,
    ) -> ApiResult<HsdsResponse> {
        let caller = auth.caller();
        let paging = crate::directory::page_of(page.0, per_page.0)?;
        let ndjson = is_ndjson(format.0.as_deref())?;
        let services = match (full.0 == Some(true), full_service.0 == Some(true)) {
            (_, true) => Some(Shape::Full),
            (true, false) => Some(Shape::Minimal),
            (false, false) => None,
        };
        let store = &self.state.store;
        match self.ranked(search.0.as_deref(), None, &caller).await? {
            None if ndjson => Ok(self.stream(Feed::Organizations { services }, caller)),
            None => {
                let (total, organizations) = store.export_organizations(None, paging).await?;
                let contents = self.render_organizations(&organizations, &caller, services).await?;
                Ok(HsdsResponse::Json(Json(envelope(total, paging, contents))))
            }
            Some(ranked) => {
                let hits = store.export_services_by_id(&ranked).await?;
                let mut seen = HashSet::new();
                let ids: Vec<Uuid> = hits
                    .iter()
                    .map(|s| s.data.organization_id)
                    .filter(|id| seen.insert(*id))
                    .collect();
                // Inactive organizations drop out here, before paging.
                let ids: Vec<Uuid> = store
                    .export_organizations_in_order(&ids)
                    .await?
                    .into_iter()
                    .map(|o| o.meta.id)
                    .collect();
                if ndjson {
                    return Ok(self.stream(Feed::OrganizationIds { ids, services }, caller));
                }
                let organizations = store.export_organizations_in_order(&slice(&ids, paging)).await?;
                let contents = self.render_organizations(&organizations, &caller, services).await?;
                Ok(HsdsResponse::Json(Json(envelope(ids.len() as u64, paging, contents))))
            }
        }
    }

    /// One HSDS organization with its services
    ///
    /// Services are minimal (id, name, status, last_modified) unless `full_service`.
    #[oai(
        path = "/organizations/:id",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsGetOrganization"
    )]
    async fn organization(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        full_service: Query<Option<bool>>,
    ) -> ApiResult<Json<Value>> {
        let caller = auth.caller();
        let organizations = self.state.store.export_organizations_in_order(&[id.0]).await?;
        if organizations.is_empty() {
            return Err(not_found("organization", id.0).into());
        }
        let shape = if full_service.0 == Some(true) {
            Shape::Full
        } else {
            Shape::Minimal
        };
        let mut rendered = self.render_organizations(&organizations, &caller, Some(shape)).await?;
        Ok(Json(rendered.pop().unwrap_or_default()))
    }

    /// HSDS services at locations
    ///
    /// Each link of a service to an (active) location, with the location and the service. Filters as on
    /// `/hsds/services`; with `postcode` (+ `proximity` in metres) only links whose location lies within
    /// the distance, nearest first (confidential locations are left out for callers who may not see them).
    #[oai(
        path = "/service_at_locations",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsListServiceAtLocations"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn service_at_locations(
        &self,
        auth: Auth,
        search: Query<Option<String>>,
        taxonomy_term_id: Query<Option<Uuid>>,
        taxonomy_id: Query<Option<Uuid>>,
        organization_id: Query<Option<Uuid>>,
        /// RFC 3339; links whose service changed at or after it.
        modified_after: Query<Option<String>>,
        full: Query<Option<bool>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        format: Query<Option<String>>,
        postcode: Query<Option<String>>,
        /// Metres from the postcode's centre.
        proximity: Query<Option<f64>>,
    ) -> ApiResult<HsdsResponse> {
        let caller = auth.caller();
        let paging = crate::directory::page_of(page.0, per_page.0)?;
        let ndjson = is_ndjson(format.0.as_deref())?;
        let shape = if full.0 == Some(true) { Shape::Full } else { Shape::List };
        let filter = ServiceFilter {
            organization_id: organization_id.0,
            need_codes: self.need_codes(taxonomy_term_id.0, taxonomy_id.0),
            modified_after: self::modified_after(modified_after.0.as_deref())?,
        };
        let near = self.proximity(postcode.0.as_deref(), proximity.0)?;
        let ranked = self.ranked(search.0.as_deref(), None, &caller).await?;
        let store = &self.state.store;
        if ranked.is_none() && near.is_none() {
            if ndjson {
                return Ok(self.stream(Feed::Links { filter, shape }, caller));
            }
            let (total, links) = store.export_service_at_locations(&filter, paging).await?;
            let contents = self.render_links(&links, &caller, shape).await?;
            return Ok(HsdsResponse::Json(Json(envelope(total, paging, contents))));
        }
        let mut links = store.export_all_service_at_locations(&filter).await?;
        if let Some(ranked) = ranked {
            let rank: HashMap<Uuid, usize> = ranked.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            links.retain(|l| rank.contains_key(&l.service_id));
            links.sort_by_key(|l| (rank[&l.service_id], l.id));
        }
        if let Some((point, radius_km)) = near {
            let mut location_ids: Vec<Uuid> = links.iter().map(|l| l.location_id).collect();
            location_ids.sort();
            location_ids.dedup();
            let mut locations = HashMap::new();
            for chunk in location_ids.chunks(500) {
                locations.extend(store.locations_by_id(chunk).await?);
            }
            let distance = |link: &ServiceAtLocation| -> Option<f64> {
                let location = locations.get(&link.location_id)?;
                let data = &location.data;
                if !caller.sees_place(data.confidential, data.organization_id) {
                    return None;
                }
                Some(indexer::haversine_km(point.0, point.1, data.latitude?, data.longitude?))
            };
            let mut near: Vec<(f64, ServiceAtLocation)> = links
                .iter()
                .filter_map(|l| distance(l).filter(|d| *d <= radius_km).map(|d| (d, *l)))
                .collect();
            // Stable: ties keep the search rank (or id order).
            near.sort_by(|a, b| a.0.total_cmp(&b.0));
            links = near.into_iter().map(|(_, l)| l).collect();
        }
        if ndjson {
            return Ok(self.stream(Feed::LinkList { links, shape }, caller));
        }
        let contents = self.render_links(&slice(&links, paging), &caller, shape).await?;
        Ok(HsdsResponse::Json(Json(envelope(links.len() as u64, paging, contents))))
    }

    /// One HSDS service at location, fully nested
    #[oai(
        path = "/service_at_locations/:id",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsGetServiceAtLocation"
    )]
    async fn service_at_location(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Json<Value>> {
        let caller = auth.caller();
        let link = self
            .state
            .store
            .export_service_at_location(id.0)
            .await?
            .ok_or_else(|| not_found("service_at_location", id.0))?;
        let mut rendered = self.render_links(&[link], &caller, Shape::Full).await?;
        rendered
            .pop()
            .map(Json)
            .ok_or_else(|| not_found("service_at_location", id.0).into())
    }

    /// HSDS taxonomies
    ///
    /// `brobygger-needs` (the needs taxonomy) and `brobygger-flags` (capacity, who a service is for, confidential addresses).
    #[oai(
        path = "/taxonomies",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsListTaxonomies"
    )]
    async fn taxonomies(
        &self,
        search: Query<Option<String>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        format: Query<Option<String>>,
    ) -> ApiResult<HsdsResponse> {
        let paging = crate::directory::page_of(page.0, per_page.0)?;
        let items: Vec<Value> = taxonomies()
            .into_iter()
            .filter(|t| matches(t, search.0.as_deref()))
            .collect();
        self.values(items, paging, is_ndjson(format.0.as_deref())?)
    }

    /// One HSDS taxonomy
    #[oai(
        path = "/taxonomies/:id",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsGetTaxonomy"
    )]
    async fn taxonomy(&self, id: Path<Uuid>) -> ApiResult<Json<Value>> {
        taxonomies()
            .into_iter()
            .find(|t| t["id"] == json!(id.0))
            .map(Json)
            .ok_or_else(|| not_found("taxonomy", id.0).into())
    }

    /// HSDS taxonomy terms
    ///
    /// Every need code (top-level terms and sub-terms with `parent_id`) and every flag. Term ids are
    /// `uuid5(ns, "term:<code>")` as in the seed data, so they are stable across instances.
    #[oai(
        path = "/taxonomy_terms",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsListTaxonomyTerms"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn taxonomy_terms(
        &self,
        search: Query<Option<String>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        format: Query<Option<String>>,
        taxonomy_id: Query<Option<Uuid>>,
        /// Only terms without a parent.
        top_only: Query<Option<bool>>,
        parent_id: Query<Option<Uuid>>,
    ) -> ApiResult<HsdsResponse> {
        let paging = crate::directory::page_of(page.0, per_page.0)?;
        let items: Vec<Value> = self
            .terms()
            .into_iter()
            .filter(|t| matches(t, search.0.as_deref()))
            .filter(|t| taxonomy_id.0.is_none_or(|id| t["taxonomy_id"] == json!(id)))
            .filter(|t| top_only.0 != Some(true) || t.get("parent_id").is_none())
            .filter(|t| parent_id.0.is_none_or(|id| t.get("parent_id") == Some(&json!(id))))
            .collect();
        self.values(items, paging, is_ndjson(format.0.as_deref())?)
    }

    /// One HSDS taxonomy term
    #[oai(
        path = "/taxonomy_terms/:id",
        method = "get",
        tag = "HsdsTag::Hsds",
        operation_id = "hsdsGetTaxonomyTerm"
    )]
    async fn taxonomy_term(&self, id: Path<Uuid>) -> ApiResult<Json<Value>> {
        self.terms()
            .into_iter()
            .find(|t| t["id"] == json!(id.0))
            .map(Json)
            .ok_or_else(|| not_found("taxonomy_term", id.0).into())
    }
}

/// Case-insensitive substring search over a taxonomy object's code, name and description.
fn matches(item: &Value, search: Option<&str>) -> bool {
    let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return true;
    };
    let needle = search.to_lowercase();
    ["code", "name", "description"]
        .iter()
        .filter_map(|k| item.get(*k).and_then(Value::as_str))
        .any(|text| text.to_lowercase().contains(&needle))
}

impl HsdsApi {
    fn terms(&self) -> Vec<Value> {
        let mut terms: Vec<Value> = self
            .state
            .taxonomy
            .flatten()
            .into_iter()
            .map(|(term, parent)| need_term_json(term, parent))
            .collect();
        terms.extend(FLAGS.iter().map(|(code, _, _)| flag_term_json(code)));
        terms
    }

    fn values(&self, items: Vec<Value>, paging: Page, ndjson: bool) -> ApiResult<HsdsResponse> {
        if ndjson {
            return Ok(self.stream(Feed::Values(items), Caller::ANONYMOUS));
        }
        let total = items.len() as u64;
        Ok(HsdsResponse::Json(Json(envelope(total, paging, slice(&items, paging)))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_ids_match_the_seed_data() {
        assert_eq!(
            term_id("employment").to_string(),
            "691dc492-afad-5b27-93a8-c41d30dbeffb"
        );
        assert_eq!(
            term_id("employment/job-search").to_string(),
            "19fcf0cc-7ec6-51d9-a122-5a07edc2c51e"
        );
    }

    #[test]
    fn envelope_arithmetic() {
        let page = |page| Page { page, per_page: 10 };
        let first = envelope(25, page(1), vec![json!({}); 10]);
        assert_eq!(
            (first["total_pages"].as_u64(), first["first_page"].as_bool()),
            (Some(3), Some(true))
        );
        assert_eq!(first["last_page"], false);
        let last = envelope(25, page(3), vec![json!({}); 5]);
        assert_eq!(
            (last["last_page"].as_bool(), last["size"].as_u64()),
            (Some(true), Some(5))
        );
        let past = envelope(25, page(4), vec![]);
        assert_eq!(
            (past["empty"].as_bool(), past["last_page"].as_bool()),
            (Some(true), Some(true))
        );
        let none = envelope(0, page(1), vec![]);
        assert_eq!(
            (none["total_pages"].as_u64(), none["last_page"].as_bool()),
            (Some(0), Some(true))
        );
    }
}

//! Open Referral HSDS 3.0 import. Accepts one service, an array of services, one organization with nested
//! `services`, or an array of organizations. Every error in the document is collected with its path and
//! the document is rejected whole; a valid document is upserted by `id` in one transaction, skipping
//! records that are already equal, so importing twice changes nothing.
//!
//! Mapping: an `attribute` whose `taxonomy_term.code` is a need code tags the service with that need;
//! `capacity-available`, `capacity-limited` and `capacity-full` say how much room the service has; `gender-women`, `gender-men`, `gender-girls` or `gender-boys` says
//! the service is for that group only (none: for anyone); on a location, `confidential` hides its address. A
//! `cost_option` with amount 0 makes the service free. Brobygger-specific organization fields travel as
//! `x_kind` and `x_cvr`.
//!
//! A location may appear under the services of several organizations (a community house they share): the
//! same id with the same content is one place, with different content an error naming both paths. Its owner
//! is its own `organization_id`, or none: it is never taken from the service that mentions it first.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde_json::Value;
use uuid::Uuid;

use crate::directory::*;
use crate::error::{Error, FieldError, Result};
use crate::extras;
use crate::store::{self, Store};
use crate::tables::{location, organization};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub organizations: Counts,
    pub locations: Counts,
    pub services: Counts,
    /// Things accepted but not stored as given (e.g. coordinates out of range dropped).
    pub warnings: Vec<FieldError>,
}

impl ImportReport {
    /// Adds the counts and warnings of another import (e.g. the next batch of a file).
    pub fn absorb(&mut self, other: ImportReport) {
        for (total, part) in [
            (&mut self.organizations, other.organizations),
            (&mut self.locations, other.locations),
            (&mut self.services, other.services),
        ] {
            total.created += part.created;
            total.updated += part.updated;
            total.unchanged += part.unchanged;
        }
        self.warnings.extend(other.warnings);
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A parsed, valid document, ready to store.
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub organizations: BTreeMap<Uuid, OrganizationData>,
    pub locations: BTreeMap<Uuid, LocationData>,
    pub services: BTreeMap<Uuid, ServiceData>,
    /// Each record's HSDS fields that Brobygger does not map, by kind and id.
    pub extras: BTreeMap<(&'static str, Uuid), extras::Extra>,
    pub warnings: Vec<FieldError>,
}

struct Parser<'a> {
    needs: &'a HashSet<String>,
    errors: Vec<FieldError>,
    batch: ImportBatch,
    /// Where each record was first read, by kind and id: a record may appear more than once (a place shared
    /// by the services of several organizations, an organization nested in each of its services).
    first_seen: HashMap<(&'static str, Uuid), String>,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Parser<'_> {
    fn fail(&mut self, path: &str, reason: impl Into<String>) {
        self.errors.push(FieldError::new(path, reason));
    }

    fn id(&mut self, value: &Value, path: &str) -> Option<Uuid> {
        match value.get("id").and_then(Value::as_str) {
            Some(id) => match Uuid::parse_str(id) {
                Ok(id) => Some(id),
                Err(_) => {
                    self.fail(&format!("{path}/id"), "must be a UUID");
                    None
                }
            },
            None => {
                self.fail(&format!("{path}/id"), "is required");
                None
            }
        }
    }

    fn object<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v serde_json::Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.fail(path, "must be an object");
        }
        object
    }

    fn array<'v>(&mut self, value: &'v Value, key: &str, path: &str) -> &'v [Value] {
        match value.get(key) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.fail(&format!("{path}/{key}"), "must be an array");
                &[]
            }
        }
    }

    fn date(&mut self, value: &Value, key: &str, path: &str) -> Option<NaiveDate> {
        let raw = text(value, key)?;
        match NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.fail(&format!("{path}/{key}"), "must be a date YYYY-MM-DD");
                None
            }
        }
    }

    fn age(&mut self, value: &Value, key: &str, path: &str) -> Option<u32> {
        match value.get(key) {
            None | Some(Value::Null) => None,
            Some(age) => match age.as_f64() {
                Some(age) if (0.0..=120.0).contains(&age) => Some(age as u32),
                _ => {
                    self.fail(&format!("{path}/{key}"), "must be a number between 0 and 120");
                    None
                }
            },
        }
    }

    /// Keeps a record read at `path`. The same id may appear again only with the same content; otherwise the
    /// error names both places, so that the sender can see which two disagree.
    /// Keeps the fields of a record the import does not map (the first copy's, for a record seen twice).
    fn keep_extra(&mut self, entity: &'static str, id: Uuid, value: &Value, path: &str) {
        let extra = extras::extra_of(entity, value, path, &mut self.errors);
        self.batch.extras.entry((entity, id)).or_insert(extra);
    }

    fn collect<T: PartialEq + std::fmt::Debug>(
        &mut self,
        kind: &'static str,
        map: fn(&mut ImportBatch) -> &mut BTreeMap<Uuid, T>,
        id: Uuid,
        data: T,
        path: &str,
    ) {
        let existing = map(&mut self.batch).get(&id);
        match existing {
            Some(previous) if *previous != data => {
                let first = self.first_seen.get(&(kind, id)).cloned().unwrap_or_default();
                self.fail(
                    path,
                    format!(
                        "{kind} {id} appears twice with different content: at {first} and at {path}; the same id \
                         must have the same content wherever it appears"
                    ),
                );
            }
            Some(_) => {}
            None => {
                map(&mut self.batch).insert(id, data);
                self.first_seen.insert((kind, id), path.to_owned());
            }
        }
    }

    fn organization(&mut self, value: &Value, path: &str) -> Option<Uuid> {
        self.object(value, path)?;
        let id = self.id(value, path)?;
        let kind = match text(value, "x_kind") {
            None => OrganizationKind::Other,
            Some(kind) => OrganizationKind::parse(&kind).unwrap_or_else(|| {
                self.fail(
                    &format!("{path}/x_kind"),
                    format!("must be one of {}", OrganizationKind::expected()),
                );
                OrganizationKind::Other
            }),
        };
        let data = OrganizationData {
            name: text(value, "name").unwrap_or_default(),
            description: text(value, "description").unwrap_or_default(),
            kind,
            website: text(value, "website"),
            email: text(value, "email"),
            phone: self
                .array(value, "phones", path)
                .first()
                .and_then(|p| text(p, "number")),
            cvr: text(value, "x_cvr"),
            status: RecordStatus::Active,
        };
        self.validated(path, data.validate());
        self.collect("organization", |b| &mut b.organizations, id, data, path);
        self.keep_extra(extras::ORGANIZATION, id, value, path);
        for (i, service) in value
            .get("services")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            self.service(service, &format!("{path}/services/{i}"), Some(id));
        }
        Some(id)
    }

    fn validated(&mut self, path: &str, result: std::result::Result<(), Vec<FieldError>>) {
        if let Err(errors) = result {
            for error in errors {
                self.fail(&format!("{path}/{}", error.path), error.reason);
            }
        }
    }

    fn flags(&mut self, value: &Value, path: &str) -> Vec<(String, String)> {
        self.array(value, "attributes", path)
            .iter()
            .filter_map(|a| {
                let code = a.get("taxonomy_term").and_then(|t| text(t, "code"))?;
                Some((code, text(a, "value").unwrap_or_else(|| "true".into())))
            })
            .collect()
    }

    /// A place. Its owner is its own `organization_id` when given, else none: a place several organizations'
    /// services share belongs to none of them, and is not given to whichever service mentions it first.
    fn location(&mut self, value: &Value, path: &str) -> Option<Uuid> {
        self.object(value, path)?;
        let id = self.id(value, path)?;
        let organization_id = match text(value, "organization_id") {
            Some(raw) => Some(Uuid::parse_str(&raw).ok().or_else(|| {
                self.fail(&format!("{path}/organization_id"), "must be a UUID");
                None
            })?),
            None => None,
        };
        let mut latitude = value.get("latitude").and_then(Value::as_f64);
        let mut longitude = value.get("longitude").and_then(Value::as_f64);
        let in_range = matches!((latitude, longitude), (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
        if !in_range && (latitude.is_some() || longitude.is_some()) {
            // HSDS puts no range on coordinates; a place we cannot put on a map is kept without them.
            self.batch.warnings.push(FieldError::new(
                format!("{path}/latitude"),
                "coordinates missing or out of range: the location is stored without them",
            ));
            latitude = None;
            longitude = None;
        }
        let address = self.array(value, "addresses", path).first().and_then(|a| {
            Some(Address {
                address_1: text(a, "address_1")?,
                postal_code: text(a, "postal_code")?,
                city: text(a, "city")?,
            })
        });
        let confidential = self
            .flags(value, path)
            .iter()
            .any(|(code, value)| code == "confidential" && value != "false");
        let data = LocationData {
            organization_id,
            name: text(value, "name").unwrap_or_default(),
            latitude,
            longitude,
            address,
            confidential,
            status: RecordStatus::Active,
        };
        self.validated(path, data.validate());
        self.collect("location", |b| &mut b.locations, id, data, path);
        self.keep_extra(extras::LOCATION, id, value, path);
        Some(id)
    }

    fn schedule(&mut self, value: &Value, path: &str) -> Option<Schedule> {
        // HSDS allows seconds; Brobygger keeps minutes.
        let clock = |key: &str| text(value, key).map(|t| t.chars().take(5).collect::<String>());
        let list = |key: &str| -> Vec<String> {
            text(value, key)
                .unwrap_or_default()
                .split(',')
                .map(|d| d.trim().to_ascii_uppercase())
                .filter(|d| !d.is_empty())
                .collect()
        };
        let byday = list("byday");
        let mut bymonthday = Vec::new();
        for day in list("bymonthday") {
            match day.parse::<i8>() {
                Ok(day) => bymonthday.push(day),
                Err(_) => self.fail(
                    &format!("{path}/bymonthday"),
                    format!("`{day}` is not a day of the month"),
                ),
            }
        }
        let (Some(opens_at), Some(closes_at)) = (clock("opens_at"), clock("closes_at")) else {
            // A schedule without hours (e.g. "by appointment") says nothing we can filter on.
            return None;
        };
        if byday.is_empty() && bymonthday.is_empty() {
            return None;
        }
        let freq = match text(value, "freq") {
            Some(freq) => match Freq::parse(&freq.to_ascii_uppercase()) {
                Some(freq) => freq,
                None => {
                    self.fail(
                        &format!("{path}/freq"),
                        format!("`{freq}` is not one of {}", Freq::expected()),
                    );
                    Freq::Weekly
                }
            },
            None => Freq::implied_by(&byday, &bymonthday),
        };
        let interval = match value.get("interval").filter(|v| !v.is_null()) {
            None => 1,
            Some(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => n,
                None => {
                    self.fail(&format!("{path}/interval"), "must be a whole number");
                    1
                }
            },
        };
        Some(Schedule {
            freq,
            interval,
            byday,
            bymonthday,
            opens_at,
            closes_at,
            dtstart: self.date(value, "dtstart", path),
            until: self.date(value, "until", path),
            valid_from: self.date(value, "valid_from", path),
            valid_to: self.date(value, "valid_to", path),
            description: text(value, "description").map(|d| d.chars().take(MAX_SHORT).collect()),
            notes: text(value, "notes"),
        })
    }

    fn service(&mut self, value: &Value, path: &str, parent_organization: Option<Uuid>) -> Option<Uuid> {
        self.object(value, path)?;
        let id = self.id(value, path)?;
        let organization_id = match value.get("organization").filter(|o| !o.is_null()) {
            Some(organization) => self.organization(organization, &format!("{path}/organization")),
            None => text(value, "organization_id")
                .and_then(|raw| Uuid::parse_str(&raw).ok())
                .or(parent_organization),
        };
        let Some(organization_id) = organization_id else {
            self.fail(
                &format!("{path}/organization_id"),
                "is required (or a nested organization)",
            );
            return None;
        };
        let mut location_ids = Vec::new();
        for (i, link) in self.array(value, "service_at_locations", path).iter().enumerate() {
            let link_path = format!("{path}/service_at_locations/{i}");
            let location_id = match link.get("location").filter(|l| !l.is_null()) {
                Some(location) => self.location(location, &format!("{link_path}/location")),
                None => text(link, "location_id")
                    .and_then(|raw| Uuid::parse_str(&raw).ok())
                    .or_else(|| {
                        self.fail(&format!("{link_path}/location_id"), "needs a location or a location_id");
                        None
                    }),
            };
            location_ids.extend(location_id);
        }
        let status = match text(value, "status") {
            Some(status) => ServiceStatus::parse(&status).unwrap_or_else(|| {
                self.fail(
                    &format!("{path}/status"),
                    format!("must be one of {}", ServiceStatus::expected()),
                );
                ServiceStatus::Inactive
            }),
            None => {
                self.fail(&format!("{path}/status"), "is required");
                ServiceStatus::Inactive
            }
        };
        let mut needs = Vec::new();
        let mut capacity = None;
        let mut genders: Vec<Gender> = Vec::new();
        for (code, flag) in self.flags(value, path) {
            if self.needs.contains(&code) {
                needs.push(code);
            } else if let Some(level) = code.strip_prefix("capacity-").and_then(Capacity::parse)
                && flag != "false"
            {
                capacity = Some(level);
            } else if let Some(gender) = gender_of_flag(&code)
                && flag != "false"
                && !genders.contains(&gender)
            {
                genders.push(gender);
            }
        }
        // Unknown codes (`gender-other`) are ignored like any other unknown attribute: the service is for anyone.
        let gender = match genders[..] {
            [] => Gender::Any,
            [gender] => gender,
            _ => {
                self.batch.warnings.push(FieldError::new(
                    format!("{path}/attributes"),
                    "more than one gender-* attribute: the service is stored as for anyone",
                ));
                Gender::Any
            }
        };
        let free = self
            .array(value, "cost_options", path)
            .iter()
            .any(|c| c.get("amount").and_then(Value::as_f64) == Some(0.0));
        let schedules = self
            .array(value, "schedules", path)
            .iter()
            .enumerate()
            .filter_map(|(i, s)| self.schedule(s, &format!("{path}/schedules/{i}")))
            .collect();
        let languages = self
            .array(value, "languages", path)
            .iter()
            .filter_map(|l| text(l, "code"))
            .map(|c| c.to_lowercase())
            .collect();
        let service_area = self.array(value, "service_areas", path).iter().find_map(|area| {
            let extent = area.get("extent")?;
            let geojson = match extent {
                Value::String(raw) => serde_json::from_str::<Value>(raw).ok()?,
                other => other.clone(),
            };
            matches!(
                geojson.get("type").and_then(Value::as_str),
                Some("Polygon" | "MultiPolygon")
            )
            .then_some(geojson)
        });
        let data = ServiceData {
            name: text(value, "name").unwrap_or_default(),
            description: text(value, "description").unwrap_or_default(),
            organization_id,
            location_ids,
            needs,
            minimum_age: self.age(value, "minimum_age", path),
            maximum_age: self.age(value, "maximum_age", path),
            languages,
            free,
            fees_description: text(value, "fees_description"),
            schedules,
            eligibility_description: text(value, "eligibility_description"),
            application_process: text(value, "application_process"),
            url: text(value, "url"),
            email: text(value, "email"),
            phone: self
                .array(value, "phones", path)
                .first()
                .and_then(|p| text(p, "number")),
            status,
            assured_date: self.date(value, "assured_date", path),
            capacity,
            gender,
            service_area,
        };
        self.validated(path, data.validate());
        let mut data = data;
        data.normalize();
        self.collect("service", |b| &mut b.services, id, data, path);
        self.keep_extra(extras::SERVICE, id, value, path);
        Some(id)
    }
}

/// The HSDS flag code (taxonomy `brobygger-flags`) saying a service is for one group only: `gender-women` etc.
/// `any` has none: a service without such a flag is for anyone.
pub fn gender_flag(gender: Gender) -> Option<String> {
    (gender != Gender::Any).then(|| format!("gender-{}", gender.as_str()))
}

/// The group a `gender-*` flag code names; None for other codes, `gender-any` and unknown groups.
pub fn gender_of_flag(code: &str) -> Option<Gender> {
    code.strip_prefix("gender-")
        .and_then(Gender::parse)
        .filter(|g| *g != Gender::Any)
}

/// Parses and validates a whole HSDS document. `needs` are the known need codes.
pub fn parse(document: &Value, needs: &HashSet<String>) -> std::result::Result<ImportBatch, Vec<FieldError>> {
    let mut parser = Parser {
        needs,
        errors: Vec::new(),
        batch: ImportBatch::default(),
        first_seen: HashMap::new(),
    };
    let items: Vec<(String, &Value)> = match document {
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (format!("/{i}"), v)).collect(),
        other => vec![(String::new(), other)],
    };
    if items.is_empty() {
        parser.fail("/", "the document holds no services or organizations");
    }
    for (path, item) in items {
        if item.get("services").is_some() {
            parser.organization(item, &path);
        } else {
            parser.service(item, &path, None);
        }
    }
    if parser.errors.is_empty() {
        Ok(parser.batch)
    } else {
        Err(parser.errors)
    }
}

/// Ids per `IN (...)` list: SQLite and PostgreSQL both bound the parameters of one statement.
const CHUNK: usize = 500;

/// New locations that name an owner name an organization of this document or of the directory.
async fn check_location_owners(
    txn: &sea_orm::DatabaseTransaction,
    batch: &ImportBatch,
    locations: &[(Uuid, &LocationData)],
) -> Result<()> {
    let wanted: BTreeSet<Uuid> = locations
        .iter()
        .filter_map(|(_, l)| l.organization_id)
        .filter(|id| !batch.organizations.contains_key(id))
        .collect();
    let found = existing_organizations(txn, &wanted).await?;
    let errors: Vec<FieldError> = locations
        .iter()
        .filter_map(|(id, l)| Some((id, l.organization_id?)))
        .filter(|(_, owner)| wanted.contains(owner) && !found.contains(owner))
        .map(|(id, owner)| {
            FieldError::new(
                format!("locations/{id}/organization_id"),
                format!("no organization {owner} in the document or the directory"),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

async fn existing_organizations(txn: &sea_orm::DatabaseTransaction, ids: &BTreeSet<Uuid>) -> Result<HashSet<Uuid>> {
    let mut found = HashSet::new();
    for chunk in ids.iter().copied().collect::<Vec<_>>().chunks(CHUNK) {
        let rows = organization::Entity::find()
            .filter(organization::Column::Id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?;
        found.extend(rows.into_iter().map(|r| r.id));
    }
    Ok(found)
}

/// New services may point at organizations and locations of this document or of the directory. Need codes
/// were checked while parsing.
async fn check_references(
    txn: &sea_orm::DatabaseTransaction,
    batch: &ImportBatch,
    services: &[(Uuid, &ServiceData)],
) -> Result<()> {
    let wanted_organizations: BTreeSet<Uuid> = services
        .iter()
        .map(|(_, s)| s.organization_id)
        .filter(|id| !batch.organizations.contains_key(id))
        .collect();
    let wanted_locations: BTreeSet<Uuid> = services
        .iter()
        .flat_map(|(_, s)| s.location_ids.iter().copied())
        .filter(|id| !batch.locations.contains_key(id))
        .collect();
    let mut found = existing_organizations(txn, &wanted_organizations).await?;
    for chunk in wanted_locations.iter().copied().collect::<Vec<_>>().chunks(CHUNK) {
        let rows = location::Entity::find()
            .filter(location::Column::Id.is_in(chunk.iter().copied()))
            .all(txn)
            .await?;
        found.extend(rows.into_iter().map(|r| r.id));
    }
    let mut errors = Vec::new();
    for (id, service) in services {
        if wanted_organizations.contains(&service.organization_id) && !found.contains(&service.organization_id) {
            errors.push(FieldError::new(
                format!("services/{id}/organization_id"),
                format!(
                    "no organization {} in the document or the directory",
                    service.organization_id
                ),
            ));
        }
        for location_id in &service.location_ids {
            if wanted_locations.contains(location_id) && !found.contains(location_id) {
                errors.push(FieldError::new(
                    format!("services/{id}/location_ids"),
                    format!("no location {location_id} in the document or the directory"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

fn count(counts: &mut Counts, before: Option<bool>) {
    match before {
        None => counts.created += 1,
        Some(true) => counts.unchanged += 1,
        Some(false) => counts.updated += 1,
    }
}

impl Store {
    /// Validates and stores an HSDS document in one transaction; nothing is stored if anything is invalid.
    pub async fn import_hsds(&self, document: &Value) -> Result<ImportReport> {
        let needs = self.need_codes().await?;
        let batch = parse(document, &needs).map_err(Error::Invalid)?;
        self.write(move |txn| {
            Box::pin(async move {
                let mut report = ImportReport {
                    warnings: batch.warnings.clone(),
                    ..Default::default()
                };
                let organization_ids: Vec<Uuid> = batch.organizations.keys().copied().collect();
                let mut organizations = HashMap::new();
                for chunk in organization_ids.chunks(CHUNK) {
                    let rows = organization::Entity::find()
                        .filter(organization::Column::Id.is_in(chunk.iter().copied()))
                        .all(txn)
                        .await?;
                    organizations.extend(rows.into_iter().map(|row| (row.id, row)));
                }
                // Status is the directory's own: an import does not reactivate a deactivated record.
                let mut changed_organizations = Vec::new();
                let mut written_organizations = Vec::new();
                for (id, data) in &batch.organizations {
                    let Some(current) = organizations.remove(id) else {
                        count(&mut report.organizations, None);
                        written_organizations.push((*id, data, None));
                        continue;
                    };
                    let mut data = data.clone();
                    data.status = store::stored(
                        RecordStatus::parse,
                        "organization",
                        current.id,
                        "status",
                        &current.status,
                    )?;
                    let stored = (current.version, current.created_at);
                    let same = store::organization_data(current)? == data;
                    count(&mut report.organizations, Some(same));
                    if !same {
                        changed_organizations.push((*id, data, stored));
                    }
                }
                written_organizations.extend(changed_organizations.iter().map(|(id, data, c)| (*id, data, Some(*c))));
                store::write_organizations(txn, &written_organizations).await?;
                let location_ids: Vec<Uuid> = batch.locations.keys().copied().collect();
                let mut locations = HashMap::new();
                for chunk in location_ids.chunks(CHUNK) {
                    let rows = location::Entity::find()
                        .filter(location::Column::Id.is_in(chunk.iter().copied()))
                        .all(txn)
                        .await?;
                    locations.extend(rows.into_iter().map(|row| (row.id, row)));
                }
                let mut changed_locations = Vec::new();
                let mut written_locations = Vec::new();
                for (id, data) in &batch.locations {
                    let Some(current) = locations.remove(id) else {
                        count(&mut report.locations, None);
                        written_locations.push((*id, data, None));
                        continue;
                    };
                    let mut data = data.clone();
                    data.status =
                        store::stored(RecordStatus::parse, "location", current.id, "status", &current.status)?;
                    let stored = (current.version, current.created_at);
                    let same = store::location_data(current)? == data;
                    count(&mut report.locations, Some(same));
                    if !same {
                        changed_locations.push((*id, data, stored));
                    }
                }
                written_locations.extend(changed_locations.iter().map(|(id, data, c)| (*id, data, Some(*c))));
                let checked_locations: Vec<(Uuid, &LocationData)> =
                    written_locations.iter().map(|(id, data, _)| (*id, *data)).collect();
                check_location_owners(txn, &batch, &checked_locations).await?;
                store::write_locations(txn, &written_locations).await?;
                let ids: Vec<Uuid> = batch.services.keys().copied().collect();
                let mut existing = HashMap::new();
                for chunk in ids.chunks(CHUNK) {
                    existing.extend(
                        store::load_services(txn, chunk)
                            .await?
                            .into_iter()
                            .map(|s| (s.meta.id, s)),
                    );
                }
                let mut written_services = Vec::new();
                for (id, data) in &batch.services {
                    let current = existing.get(id);
                    let same = current.map(|current| current.data == *data);
                    count(&mut report.services, same);
                    if same != Some(true) {
                        written_services.push((*id, data, current.map(|c| (c.meta.version, c.meta.created_at))));
                    }
                }
                let checked: Vec<(Uuid, &ServiceData)> =
                    written_services.iter().map(|(id, data, _)| (*id, *data)).collect();
                check_references(txn, &batch, &checked).await?;
                store::write_services(txn, &written_services).await?;
                for kind in [extras::ORGANIZATION, extras::LOCATION, extras::SERVICE] {
                    let kept: Vec<(Uuid, &extras::Extra)> = batch
                        .extras
                        .iter()
                        .filter(|((entity, _), _)| *entity == kind)
                        .map(|((_, id), extra)| (*id, extra))
                        .collect();
                    extras::save_extras(txn, kind, &kept).await?;
                }
                Ok(report)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs() -> HashSet<String> {
        ["education-homework".to_owned()].into_iter().collect()
    }

    #[test]
    fn the_hsds_example_parses() {
        let example: Value =
            serde_json::from_str(include_str!("../../docs/hsds-3.0/examples/service_full.json")).unwrap();
        let batch = parse(&example, &needs()).unwrap();
        assert_eq!(batch.services.len(), 1);
        assert_eq!(batch.organizations.len(), 1);
        assert_eq!(batch.locations.len(), 1);
        let location = batch.locations.values().next().unwrap();
        assert_eq!(location.latitude, None, "latitude 100 is out of range and dropped");
        assert!(!batch.warnings.is_empty());
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let document = serde_json::json!([
            {"id": "not-a-uuid", "name": "A", "status": "active"},
            {"id": "6f0e3c4c-2b8e-4d8c-9d55-4b6d7d1e0a01", "name": "", "status": "sleeping",
             "organization_id": "6f0e3c4c-2b8e-4d8c-9d55-4b6d7d1e0a02"}
        ]);
        let errors = parse(&document, &needs()).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"/0/id"), "{paths:?}");
        assert!(paths.contains(&"/1/status"), "{paths:?}");
        assert!(paths.contains(&"/1/name"), "{paths:?}");
    }

    fn service_with_flags(codes: &[(&str, &str)]) -> Value {
        let attributes: Vec<Value> = codes
            .iter()
            .map(|(code, value)| {
                serde_json::json!({"value": value, "taxonomy_term": {"code": code, "taxonomy": "brobygger-flags"}})
            })
            .collect();
        serde_json::json!({
            "id": "6f0e3c4c-2b8e-4d8c-9d55-4b6d7d1e0a03", "name": "Jobklub for kvinder", "status": "active",
            "organization": {"id": "6f0e3c4c-2b8e-4d8c-9d55-4b6d7d1e0a04", "name": "Kvindenetværket"},
            "attributes": attributes
        })
    }

    fn gender_of(codes: &[(&str, &str)]) -> (Gender, usize) {
        let batch = parse(&service_with_flags(codes), &needs()).unwrap();
        (batch.services.values().next().unwrap().gender, batch.warnings.len())
    }

    #[test]
    fn gender_flags_say_who_a_service_is_for() {
        assert_eq!(gender_of(&[]), (Gender::Any, 0));
        assert_eq!(gender_of(&[("gender-women", "true")]), (Gender::Women, 0));
        assert_eq!(gender_of(&[("gender-boys", "true")]), (Gender::Boys, 0));
        assert_eq!(
            gender_of(&[("gender-men", "false")]),
            (Gender::Any, 0),
            "a flag set to false"
        );
        assert_eq!(
            gender_of(&[("gender-nonbinary", "true"), ("gender-any", "true")]),
            (Gender::Any, 0),
            "unknown codes stay unknown"
        );
        assert_eq!(
            gender_of(&[("gender-girls", "true"), ("gender-girls", "true")]),
            (Gender::Girls, 0)
        );
        assert_eq!(
            gender_of(&[("gender-women", "true"), ("gender-men", "true")]),
            (Gender::Any, 1),
            "two groups: for anyone, with a warning"
        );
        for gender in Gender::ALL {
            let expected = Some(*gender).filter(|g| *g != Gender::Any);
            assert_eq!(gender_flag(*gender).as_deref().and_then(gender_of_flag), expected);
        }
    }
}

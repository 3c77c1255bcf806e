//! The JSON shapes of the `/v1` directory API and their mapping to the domain types of `entities`.

use chrono::{DateTime, NaiveDate, Utc};
use entities::directory as domain;
use poem_openapi::types::ToJSON;
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::auth::Caller;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident => $domain:ident { $($variant:ident $(= $rename:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
        #[oai(rename_all = "kebab-case")]
        pub enum $name { $($(#[oai(rename = $rename)])? $variant),+ }

        impl From<$name> for domain::$domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => domain::$domain::$variant),+ }
            }
        }

        impl From<domain::$domain> for $name {
            fn from(value: domain::$domain) -> Self {
                match value { $(domain::$domain::$variant => $name::$variant),+ }
            }
        }
    };
}

wire_enum!(
    /// Kind of organization.
    OrganizationKind => OrganizationKind { Municipal, Association, HousingSocial, Ngo, VolunteerGroup, Other }
);
wire_enum!(
    /// `inactive` after a DELETE.
    RecordStatus => RecordStatus { Active, Inactive }
);
wire_enum!(
    /// HSDS 3.0 service status; only `active` services are searchable.
    ServiceStatus => ServiceStatus { Active, Inactive, Defunct, TemporarilyClosed = "temporarily closed" }
);
wire_enum!(
    /// `full` makes new referrals to the service auto-reject with reason `no-capacity`.
    Capacity => Capacity { Available, Limited, Full }
);
wire_enum!(
    /// Who the offer is for: `any` (everyone) or one group only. A search for a group finds that group's offers
    /// and those for anyone.
    Gender => Gender { Any, Women, Men, Girls, Boys }
);

fn active() -> RecordStatus {
    RecordStatus::Active
}

fn service_active() -> ServiceStatus {
    ServiceStatus::Active
}

fn gender_any() -> Gender {
    Gender::Any
}

/// An organization as written by clients.
#[derive(Clone, Debug, Object)]
pub struct OrganizationInput {
    pub name: String,
    #[oai(default)]
    pub description: String,
    pub kind: OrganizationKind,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Danish company registration number (8 digits), if any.
    pub cvr: Option<String>,
    #[oai(default = "active")]
    pub status: RecordStatus,
}

#[derive(Clone, Debug, Object)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub kind: OrganizationKind,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub cvr: Option<String>,
    pub status: RecordStatus,
    /// Increases with every write; the ETag is this number in quotes.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Object)]
pub struct Address {
    pub address_1: String,
    pub postal_code: String,
    pub city: String,
}

#[derive(Clone, Debug, Object)]
pub struct LocationInput {
    /// The owner, whose partners may edit the place. Services of any organization may be at it. Left out,
    /// a partner's place belongs to the partner's organization and an admin's to none (admins edit it).
    pub organization_id: Option<Uuid>,
    pub name: String,
    /// WGS 84; give both or neither (a place without coordinates is not found by geo search).
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<Address>,
    /// Hide address and coordinates from anonymous and reader keys (e.g. crisis shelters).
    #[oai(default)]
    pub confidential: bool,
    #[oai(default = "active")]
    pub status: RecordStatus,
}

#[derive(Clone, Debug, Object)]
pub struct Location {
    pub id: Uuid,
    /// The owner, whose partners may edit the place; null for a place only admins edit.
    pub organization_id: Option<Uuid>,
    pub name: String,
    /// Null when the location is confidential and the caller may not see it.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<Address>,
    pub confidential: bool,
    pub status: RecordStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How often a schedule repeats (RFC 5545 `FREQ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "UPPERCASE")]
pub enum ScheduleFreq {
    Weekly,
    Monthly,
}

/// An opening in RFC 5545 terms, as in HSDS 3.0: every `interval` weeks (or months) on the days of `byday`
/// or, monthly, the days of the month of `bymonthday`, between `dtstart`/`valid_from` and `until`/`valid_to`.
#[derive(Clone, Debug, Object)]
pub struct Schedule {
    /// `WEEKLY` or `MONTHLY`; when left out, `MONTHLY` if `byday` names a week of the month (`1SA`) or
    /// `bymonthday` is given, else `WEEKLY`.
    pub freq: Option<ScheduleFreq>,
    /// Every how many weeks (or months), counted from `dtstart`; 1 when left out.
    #[oai(validator(minimum(value = "1"), maximum(value = "52")))]
    pub interval: Option<u32>,
    /// Day codes `MO` … `SU`; monthly with an ordinal: `1SA` the first Saturday, `-1FR` the last Friday.
    #[oai(default)]
    pub byday: Vec<String>,
    /// Monthly: days of the month, 1..31 or from the end -1..-31.
    #[oai(default)]
    pub bymonthday: Vec<i8>,
    /// `HH:MM`
    pub opens_at: String,
    /// `HH:MM`
    pub closes_at: String,
    /// The first occurrence (anchors `interval`).
    pub dtstart: Option<NaiveDate>,
    /// The last day it may occur.
    pub until: Option<NaiveDate>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub description: Option<String>,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, Object)]
pub struct ServiceInput {
    pub name: String,
    #[oai(default)]
    pub description: String,
    pub organization_id: Uuid,
    #[oai(default)]
    pub location_ids: Vec<Uuid>,
    /// Need codes from `/v1/needs`.
    #[oai(default)]
    pub needs: Vec<String>,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    /// ISO 639-1 codes of the languages the service is offered in.
    #[oai(default)]
    pub languages: Vec<String>,
    #[oai(default)]
    pub free: bool,
    pub fees_description: Option<String>,
    #[oai(default)]
    pub schedules: Vec<Schedule>,
    pub eligibility_description: Option<String>,
    pub application_process: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[oai(default = "service_active")]
    pub status: ServiceStatus,
    /// When the listing was last checked.
    pub assured_date: Option<NaiveDate>,
    pub capacity: Option<Capacity>,
    /// Who the offer is for; `any` when left out.
    #[oai(default = "gender_any")]
    pub gender: Gender,
    /// GeoJSON Polygon or MultiPolygon the service covers.
    pub service_area: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Object)]
pub struct Service {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub organization_id: Uuid,
    pub location_ids: Vec<Uuid>,
    pub needs: Vec<String>,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    pub languages: Vec<String>,
    pub free: bool,
    pub fees_description: Option<String>,
    pub schedules: Vec<Schedule>,
    pub eligibility_description: Option<String>,
    pub application_process: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: ServiceStatus,
    pub assured_date: Option<NaiveDate>,
    pub capacity: Option<Capacity>,
    pub gender: Gender,
    pub service_area: Option<serde_json::Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of a list.
#[derive(Clone, Debug, Object)]
pub struct PageOf<T: ToJSON + poem_openapi::types::ParseFromJSON + Send + Sync> {
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    pub items: Vec<T>,
}

impl<T: ToJSON + poem_openapi::types::ParseFromJSON + Send + Sync> PageOf<T> {
    /// Page `page` of a list of `total` items, holding `items`.
    pub fn new(total: u64, page: entities::store::Page, items: impl IntoIterator<Item = T>) -> Self {
        PageOf {
            total,
            page: page.page,
            per_page: page.per_page,
            items: items.into_iter().collect(),
        }
    }
}

// ---- mapping -------------------------------------------------------------------------------------------

impl From<OrganizationInput> for domain::OrganizationData {
    fn from(o: OrganizationInput) -> Self {
        Self {
            name: o.name,
            description: o.description,
            kind: o.kind.into(),
            website: o.website,
            email: o.email,
            phone: o.phone,
            cvr: o.cvr,
            status: o.status.into(),
        }
    }
}

impl From<domain::OrganizationData> for OrganizationInput {
    fn from(o: domain::OrganizationData) -> Self {
        Self {
            name: o.name,
            description: o.description,
            kind: o.kind.into(),
            website: o.website,
            email: o.email,
            phone: o.phone,
            cvr: o.cvr,
            status: o.status.into(),
        }
    }
}

impl From<domain::Organization> for Organization {
    fn from(o: domain::Organization) -> Self {
        let domain::Stored { meta, data } = o;
        Self {
            id: meta.id,
            name: data.name,
            description: data.description,
            kind: data.kind.into(),
            website: data.website,
            email: data.email,
            phone: data.phone,
            cvr: data.cvr,
            status: data.status.into(),
            version: meta.version,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
        }
    }
}

impl From<Address> for domain::Address {
    fn from(a: Address) -> Self {
        Self {
            address_1: a.address_1,
            postal_code: a.postal_code,
            city: a.city,
        }
    }
}

impl From<domain::Address> for Address {
    fn from(a: domain::Address) -> Self {
        Self {
            address_1: a.address_1,
            postal_code: a.postal_code,
            city: a.city,
        }
    }
}

impl From<LocationInput> for domain::LocationData {
    fn from(l: LocationInput) -> Self {
        Self {
            organization_id: l.organization_id,
            name: l.name,
            latitude: l.latitude,
            longitude: l.longitude,
            address: l.address.map(Into::into),
            confidential: l.confidential,
            status: l.status.into(),
        }
    }
}

impl From<domain::LocationData> for LocationInput {
    fn from(l: domain::LocationData) -> Self {
        Self {
            organization_id: l.organization_id,
            name: l.name,
            latitude: l.latitude,
            longitude: l.longitude,
            address: l.address.map(Into::into),
            confidential: l.confidential,
            status: l.status.into(),
        }
    }
}

impl Location {
    /// The location as `caller` may see it: confidential places lose address and coordinates unless the
    /// caller may see where they are (a caseworker, an admin or a partner of the owner).
    pub fn for_caller(location: domain::Location, caller: &Caller) -> Self {
        let domain::Stored { meta, data } = location;
        let visible = caller.sees_place(data.confidential, data.organization_id);
        Self {
            id: meta.id,
            organization_id: data.organization_id,
            name: data.name,
            latitude: data.latitude.filter(|_| visible),
            longitude: data.longitude.filter(|_| visible),
            address: if visible { data.address.map(Into::into) } else { None },
            confidential: data.confidential,
            status: data.status.into(),
            version: meta.version,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
        }
    }
}

impl From<Schedule> for domain::Schedule {
    fn from(s: Schedule) -> Self {
        let freq = match s.freq {
            Some(ScheduleFreq::Weekly) => domain::Freq::Weekly,
            Some(ScheduleFreq::Monthly) => domain::Freq::Monthly,
            None => domain::Freq::implied_by(&s.byday, &s.bymonthday),
        };
        Self {
            freq,
            interval: s.interval.unwrap_or(1),
            byday: s.byday,
            bymonthday: s.bymonthday,
            opens_at: s.opens_at,
            closes_at: s.closes_at,
            dtstart: s.dtstart,
            until: s.until,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
            description: s.description,
            notes: s.notes,
        }
    }
}

impl From<domain::Schedule> for Schedule {
    fn from(s: domain::Schedule) -> Self {
        Self {
            freq: Some(match s.freq {
                domain::Freq::Weekly => ScheduleFreq::Weekly,
                domain::Freq::Monthly => ScheduleFreq::Monthly,
            }),
            interval: Some(s.interval),
            byday: s.byday,
            bymonthday: s.bymonthday,
            opens_at: s.opens_at,
            closes_at: s.closes_at,
            dtstart: s.dtstart,
            until: s.until,
            valid_from: s.valid_from,
            valid_to: s.valid_to,
            description: s.description,
            notes: s.notes,
        }
    }
}

impl From<ServiceInput> for domain::ServiceData {
    fn from(s: ServiceInput) -> Self {
        Self {
            name: s.name,
            description: s.description,
            organization_id: s.organization_id,
            location_ids: s.location_ids,
            needs: s.needs,
            minimum_age: s.minimum_age,
            maximum_age: s.maximum_age,
            languages: s.languages,
            free: s.free,
            fees_description: s.fees_description,
            schedules: s.schedules.into_iter().map(Into::into).collect(),
            eligibility_description: s.eligibility_description,
            application_process: s.application_process,
            url: s.url,
            email: s.email,
            phone: s.phone,
            status: s.status.into(),
            assured_date: s.assured_date,
            capacity: s.capacity.map(Into::into),
            gender: s.gender.into(),
            service_area: s.service_area,
        }
    }
}

impl From<domain::ServiceData> for ServiceInput {
    fn from(s: domain::ServiceData) -> Self {
        Self {
            name: s.name,
            description: s.description,
            organization_id: s.organization_id,
            location_ids: s.location_ids,
            needs: s.needs,
            minimum_age: s.minimum_age,
            maximum_age: s.maximum_age,
            languages: s.languages,
            free: s.free,
            fees_description: s.fees_description,
            schedules: s.schedules.into_iter().map(Into::into).collect(),
            eligibility_description: s.eligibility_description,
            application_process: s.application_process,
            url: s.url,
            email: s.email,
            phone: s.phone,
            status: s.status.into(),
            assured_date: s.assured_date,
            capacity: s.capacity.map(Into::into),
            gender: s.gender.into(),
            service_area: s.service_area,
        }
    }
}

impl From<domain::Service> for Service {
    fn from(s: domain::Service) -> Self {
        let domain::Stored { meta, data } = s;
        let input = ServiceInput::from(data);
        Self {
            id: meta.id,
            name: input.name,
            description: input.description,
            organization_id: input.organization_id,
            location_ids: input.location_ids,
            needs: input.needs,
            minimum_age: input.minimum_age,
            maximum_age: input.maximum_age,
            languages: input.languages,
            free: input.free,
            fees_description: input.fees_description,
            schedules: input.schedules,
            eligibility_description: input.eligibility_description,
            application_process: input.application_process,
            url: input.url,
            email: input.email,
            phone: input.phone,
            status: input.status,
            assured_date: input.assured_date,
            capacity: input.capacity,
            gender: input.gender,
            service_area: input.service_area,
            version: meta.version,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
        }
    }
}

/// Created, updated and unchanged records of one kind.
#[derive(Clone, Debug, Object)]
pub struct ImportCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Clone, Debug, Object)]
pub struct ImportWarning {
    pub path: String,
    pub reason: String,
}

/// What an HSDS import did.
#[derive(Clone, Debug, Object)]
pub struct ImportReport {
    pub organizations: ImportCounts,
    pub locations: ImportCounts,
    pub services: ImportCounts,
    pub warnings: Vec<ImportWarning>,
}

impl From<entities::hsds::Counts> for ImportCounts {
    fn from(c: entities::hsds::Counts) -> Self {
        Self {
            created: c.created,
            updated: c.updated,
            unchanged: c.unchanged,
        }
    }
}

impl From<entities::hsds::ImportReport> for ImportReport {
    fn from(r: entities::hsds::ImportReport) -> Self {
        Self {
            organizations: r.organizations.into(),
            locations: r.locations.into(),
            services: r.services.into(),
            warnings: r
                .warnings
                .into_iter()
                .map(|w| ImportWarning {
                    path: w.path,
                    reason: w.reason,
                })
                .collect(),
        }
    }
}

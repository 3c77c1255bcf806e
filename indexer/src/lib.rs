//! Brobygger's search engine: a tantivy index of services with Danish/English analysis,
//! need-synonym expansion, geo radius + distance ranking, filters and facets.
//!
//! The crate knows only search: nothing of HTTP or databases. See `README.md`.

mod analysis;
mod collect;
pub mod detect;
pub mod gazetteer;
mod geo_util;
mod index;
pub mod opening;
mod query;
mod saturate;
mod schema;
mod spelling;
mod vocabulary;

use std::collections::BTreeMap;

pub use analysis::danish_fold;
pub use detect::{DetectedNeed, Lang, NeedDetector};
pub use geo_util::haversine_km;
pub use index::SearchIndex;
pub use vocabulary::{AgeGroup, Vocabulary};

/// The crate's error type.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("index directory error: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("serialization error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    #[error("corrupt index data: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Terms of one need code, used to expand queries across languages and to label hits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeedTerms {
    pub code: String,
    pub labels: Vec<String>,
    pub synonyms_da: Vec<String>,
    pub synonyms_en: Vec<String>,
}

/// One service as indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDoc {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: String,
    pub organization_id: uuid::Uuid,
    pub organization_name: String,
    pub eligibility: String,
    /// Need codes, e.g. "education-homework" or "education-homework/homework-cafe" (a sub-term
    /// also matches its parent code in the need filter/facet).
    pub needs: Vec<String>,
    /// ISO 639-1 codes.
    pub languages: Vec<String>,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    pub free: bool,
    /// Who the offer is for.
    pub gender: Gender,
    /// No free places: still found, but ranked after offers with room.
    pub full: bool,
    /// Empty = no known hours.
    pub schedules: Vec<WeeklyOpening>,
    pub locations: Vec<DocLocation>,
    /// Counts as distance 0 when it contains the point.
    pub service_area: Option<geo::MultiPolygon<f64>>,
    /// Opaque to the engine, stored and returned with each hit, so callers can show a hit without a
    /// second lookup (the index is kept current with every write).
    pub payload: String,
}

/// Who an offer is for. An offer for everyone is `Any`; the others are for that group only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Gender {
    #[default]
    Any,
    Women,
    Men,
    Girls,
    Boys,
}

impl Gender {
    pub const ALL: [Gender; 5] = [Gender::Any, Gender::Women, Gender::Men, Gender::Girls, Gender::Boys];

    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Any => "any",
            Gender::Women => "women",
            Gender::Men => "men",
            Gender::Girls => "girls",
            Gender::Boys => "boys",
        }
    }

    pub fn parse(text: &str) -> Option<Gender> {
        Gender::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// One opening interval on a weekday (or a day of the month). `closes_minute <= opens_minute` means it
/// closes after midnight (on the next day).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeeklyOpening {
    /// 0 = Monday .. 6 = Sunday; [`opening::MONTH_DAY`] for a day of the month (`month_day`).
    pub weekday: u8,
    pub opens_minute: u16,
    pub closes_minute: u16,
    /// Which weeks of the month (bits, see [`opening`]); 0: every week.
    pub weeks: u8,
    /// With `weekday` = [`opening::MONTH_DAY`]: 1..=31, or from the end -1..=-31.
    pub month_day: i8,
    /// Days since 2000-01-01 of the first and the last day it may occur.
    pub first_day: Option<u16>,
    pub last_day: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DocLocation {
    pub id: uuid::Uuid,
    pub latitude: f64,
    pub longitude: f64,
    /// A place whose whereabouts only some callers may know (e.g. a crisis shelter): it counts for geo
    /// search only when the query sets `include_confidential`.
    pub confidential: bool,
}

/// A search request. All filters combine with AND; `needs` is an OR.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchQuery {
    /// Free text from users, never parsed as query syntax.
    pub text: Option<String>,
    /// (lat, lon)
    pub point: Option<(f64, f64)>,
    /// Hard cut by the exact haversine distance of the nearest location (only with `point`).
    pub radius_km: Option<f64>,
    /// OR; a parent code matches sub-terms.
    pub needs: Vec<String>,
    /// min_age <= age <= max_age, a missing bound is open.
    pub age: Option<u32>,
    pub language: Option<String>,
    pub free: Option<bool>,
    /// Offers for this group or for anyone (`Any` = no filter).
    pub gender: Option<Gender>,
    /// Weekday 0 (Monday) ..= 6 (Sunday).
    pub open_on: Option<u8>,
    /// Minute of the day; with `open_on` or `open_date` on that day, without on any day.
    pub open_at: Option<u16>,
    /// A date: its weekday, week of the month and the openings' validity count (instead of `open_on`).
    pub open_date: Option<opening::OpenDate>,
    pub offset: usize,
    pub limit: usize,
    /// Let confidential locations count for radius, distance and nearest location. Off by default, so a
    /// caller who may not know where a shelter is cannot find it out from distances.
    pub include_confidential: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResults {
    /// Number of hits of the whole (filtered) result set.
    pub total: usize,
    pub hits: Vec<Hit>,
    /// Top-level need code → number of hits, over the whole result set.
    pub need_facets: BTreeMap<String, u64>,
    /// Language → number of hits, over the whole result set.
    pub language_facets: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: uuid::Uuid,
    pub score: f32,
    pub distance_km: Option<f64>,
    pub nearest_location_id: Option<uuid::Uuid>,
    /// Snippet with `<mark>..</mark>` from the description (or the name), HTML-escaped.
    pub highlight: Option<String>,
    pub why: Why,
    /// The document's `ServiceDoc::payload`.
    pub payload: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Why {
    /// Query words (lowercased) that matched this service, exactly or with one typo.
    pub matched_terms: Vec<String>,
    /// Need codes the query matched via synonyms or the need filter.
    pub needs: Vec<String>,
    pub distance_km: Option<f64>,
    pub in_service_area: bool,
}

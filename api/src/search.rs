//! `GET /v1/search` and `POST /v1/match`: the caseworker's way into the directory. Parameters are checked
//! here, the query runs in the indexer on a blocking thread, and hits are shown from the card stored with
//! each service in the index (current with every write), with confidential places redacted per caller.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use entities::values::{ClockTime, LanguageCode, NeedCode, Point};
use indexer::opening::OpenDate;
use indexer::{SearchQuery, SearchResults};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, Tags};
use uuid::Uuid;

use crate::auth::{Auth, Caller};
use crate::indexing::HitCard;
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::format;
use crate::web::i18n::Lang;
use crate::wire::{Address, Gender};

#[derive(Tags)]
pub enum SearchTag {
    /// Find offers by need, place, age, language and opening hours, in Danish or English.
    Search,
}

pub const DEFAULT_RADIUS_KM: f64 = 5.0;
pub const MAX_RADIUS_KM: f64 = 100.0;
/// Longest free text accepted (`q`, `/v1/needs/detect`).
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Clone, Debug, Object)]
pub struct OrganizationRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, Object)]
pub struct HitLocation {
    pub id: Uuid,
    pub name: String,
    /// Null for confidential places the caller may not see.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<Address>,
}

/// Why a service was found, as a short sentence to read aloud, e.g. "Lektiehjælp · taler arabisk · 300 m fra
/// jer · for 6–16 år · gratis".
#[derive(Clone, Debug, Object)]
pub struct WhyText {
    pub da: String,
    pub en: String,
}

/// What the caller asked for beyond the text, for the why sentence.
#[derive(Default)]
struct Asked {
    /// The family's languages (or the language filter).
    languages: Vec<String>,
    open_on: Option<u8>,
    open_at: Option<u16>,
}

fn domain_capacity(text: &str) -> Option<entities::directory::Capacity> {
    entities::directory::Capacity::parse(text)
}

/// Why a service was found.
#[derive(Clone, Debug, Object)]
pub struct Why {
    /// The facts below (and the language, age, opening time and price asked about) in words.
    pub text: WhyText,
    /// Query words that matched, exactly or with one typo.
    pub matched_terms: Vec<String>,
    /// Need codes matched through the query's words or the need filter.
    pub needs: Vec<String>,
    pub distance_km: Option<f64>,
    /// The point lies inside the service's area.
    pub in_service_area: bool,
}

#[derive(Clone, Debug, Object)]
pub struct SearchHit {
    pub id: Uuid,
    pub name: String,
    pub organization: OrganizationRef,
    /// The service's location nearest the point (or its first location).
    pub location: Option<HitLocation>,
    pub distance_km: Option<f64>,
    pub score: f32,
    pub needs: Vec<String>,
    pub languages: Vec<String>,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    pub free: bool,
    /// Who the offer is for (`any`: everyone).
    pub gender: Gender,
    /// Snippet of the description with `<mark>` around matched words (HTML-escaped).
    pub highlight: Option<String>,
    pub why: Why,
    /// How much room the service has, when its organisation says; a `full` service ranks after the others.
    pub capacity: Option<crate::wire::Capacity>,
}

#[derive(Clone, Debug, Object)]
pub struct Facets {
    pub need: BTreeMap<String, u64>,
    pub language: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Object)]
pub struct SearchResponse {
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
    pub items: Vec<SearchHit>,
    pub facets: Facets,
}

/// One need of a family: a code from `/v1/needs`, the family's own words, or both.
#[derive(Clone, Debug, Object)]
pub struct FamilyNeed {
    pub code: Option<String>,
    pub text: Option<String>,
    /// Age of the family member this need concerns.
    pub age: Option<u32>,
}

/// A family profile to match against the directory. Give `latitude`+`longitude` or `near`.
#[derive(Clone, Debug, Object)]
pub struct FamilyProfile {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Place name or postcode (see `/v1/places`).
    pub near: Option<String>,
    pub radius_km: Option<f64>,
    /// Ages of the family's members; a need without its own age matches offers for any of them.
    #[oai(default)]
    pub ages: Vec<u32>,
    /// Languages the family speaks (ISO 639-1); offers in them rank higher.
    #[oai(default)]
    pub languages: Vec<String>,
    /// Only offers for this group and those for anyone (`any` or left out: no filter).
    pub gender: Option<Gender>,
    pub needs: Vec<FamilyNeed>,
    /// Results per need (default 5, at most 20).
    pub per_need: Option<u32>,
}

#[derive(Clone, Debug, Object)]
pub struct NeedMatches {
    /// The need as asked: its code, or the family's words.
    pub need: String,
    /// For a need given only as words: the need codes found in them (as by `/v1/needs/detect`), which the
    /// offers were chosen by. Empty when a code was given or the words name no need.
    pub detected: Vec<String>,
    pub total: u64,
    pub items: Vec<SearchHit>,
}

#[derive(Clone, Debug, Object)]
pub struct MatchResponse {
    pub groups: Vec<NeedMatches>,
}

pub struct SearchApi {
    pub state: Arc<AppState>,
}

fn weekday(code: &str) -> Option<u8> {
    let code = code.to_ascii_uppercase();
    entities::directory::WEEKDAYS
        .iter()
        .position(|d| *d == code)
        .map(|i| i as u8)
}

/// The parameters of a search, as `GET /v1/search` and the web app's search page take them.
#[derive(Clone, Debug, Default)]
pub struct SearchParams {
    pub q: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub near: Option<String>,
    pub radius_km: Option<f64>,
    pub need: Vec<String>,
    pub age: Option<u32>,
    pub language: Option<String>,
    pub free: Option<bool>,
    pub gender: Option<Gender>,
    pub open_on: Option<String>,
    pub open_at: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// The search rules, shared by the JSON API and the web app: parameter checks, the query on a blocking
/// thread, hits built from the index's cards with confidential places redacted per caller.
pub struct Search<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
}

impl Search<'_> {
    /// The point of a request: explicit coordinates or a gazetteer place.
    pub fn point(
        &self,
        lat: Option<f64>,
        lon: Option<f64>,
        near: Option<&str>,
    ) -> Result<Option<(f64, f64)>, ApiError> {
        match (lat, lon, near) {
            (Some(lat), Some(lon), _) => {
                let point = Point::parse(lat, lon).map_err(ApiError::Invalid)?;
                Ok(Some((point.latitude, point.longitude)))
            }
            (Some(_), None, _) | (None, Some(_), _) => {
                Err(ApiError::BadRequest("give both lat and lon, or neither".into()))
            }
            (None, None, Some(near)) => match self.state.gazetteer.resolve(near) {
                Some(place) => Ok(Some((place.latitude, place.longitude))),
                None => Err(ApiError::Invalid(vec![entities::FieldError::new(
                    "near",
                    format!("no place called `{near}` (see /v1/places)"),
                )])),
            },
            (None, None, None) => Ok(None),
        }
    }

    pub fn radius(point: Option<(f64, f64)>, radius_km: Option<f64>) -> Result<Option<f64>, ApiError> {
        match radius_km {
            Some(r) if !(r > 0.0 && r <= MAX_RADIUS_KM) => Err(ApiError::BadRequest(format!(
                "radius_km must be above 0 and at most {MAX_RADIUS_KM}"
            ))),
            Some(r) => Ok(point.map(|_| r)),
            None => Ok(point.map(|_| DEFAULT_RADIUS_KM)),
        }
    }

    pub fn check_needs(&self, needs: &[String]) -> Result<(), ApiError> {
        let errors: Vec<_> = needs
            .iter()
            .enumerate()
            .filter(|(_, code)| {
                NeedCode::parse(code).is_none_or(|code| self.state.taxonomy.find(code.as_str()).is_none())
            })
            .map(|(i, code)| entities::FieldError::new(format!("need/{i}"), format!("unknown need code `{code}`")))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(errors))
        }
    }

    async fn run(&self, query: SearchQuery) -> Result<SearchResults, ApiError> {
        let index = self.state.search.index.clone();
        tokio::task::spawn_blocking(move || index.search(&query))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| match e {
                indexer::Error::InvalidQuery(message) => ApiError::BadRequest(message),
                other => ApiError::Internal(other.to_string()),
            })
    }

    /// Builds hits from the cards stored with them in the index, in rank order, redacting confidential
    /// places per caller. No database round trip: the index is updated with every write.
    fn hits(&self, results: &SearchResults, asked: &Asked) -> Vec<SearchHit> {
        let caller = self.caller;
        let round = |km: f64| (km * 100.0).round() / 100.0;
        results
            .hits
            .iter()
            .filter_map(|hit| {
                let card: HitCard = serde_json::from_str(&hit.payload)
                    .inspect_err(|error| tracing::error!(%error, id = %hit.id, "unreadable hit card; reindex"))
                    .ok()?;
                let location = hit
                    .nearest_location_id
                    .and_then(|id| card.locations.iter().find(|l| l.id == id))
                    .or(card.locations.first())
                    .map(|l| {
                        let visible = caller.sees_place(l.confidential, l.organization_id);
                        HitLocation {
                            id: l.id,
                            name: l.name.clone(),
                            latitude: l.latitude.filter(|_| visible),
                            longitude: l.longitude.filter(|_| visible),
                            address: l
                                .address
                                .clone()
                                .filter(|_| visible)
                                .map(|(address_1, postal_code, city)| Address {
                                    address_1,
                                    postal_code,
                                    city,
                                }),
                        }
                    });
                let why_text = self.why_text(hit, &card, asked);
                let capacity = card.capacity.as_deref().and_then(domain_capacity).map(Into::into);
                Some(SearchHit {
                    id: hit.id,
                    name: card.name,
                    organization: OrganizationRef {
                        id: card.organization_id,
                        name: card.organization_name,
                    },
                    location,
                    distance_km: hit.distance_km.map(round),
                    score: hit.score,
                    languages: card.languages,
                    minimum_age: card.minimum_age,
                    maximum_age: card.maximum_age,
                    free: card.free,
                    gender: card.gender.into(),
                    highlight: hit.highlight.clone(),
                    why: Why {
                        text: why_text,
                        matched_terms: hit.why.matched_terms.clone(),
                        needs: hit.why.needs.clone(),
                        distance_km: hit.why.distance_km.map(round),
                        in_service_area: hit.why.in_service_area,
                    },
                    capacity,
                    needs: card.needs,
                })
            })
            .collect()
    }

    /// The hit's why as a sentence in Danish and in English, from the same facts as the machine fields.
    fn why_text(&self, hit: &indexer::Hit, card: &HitCard, asked: &Asked) -> WhyText {
        let sentence = |lang: Lang| {
            let mut needs: Vec<String> = Vec::new();
            for code in &hit.why.needs {
                let top = entities::taxonomy::Taxonomy::top_level(code);
                let label = self.state.taxonomy.find(top).map_or_else(
                    || top.to_owned(),
                    |term| match lang {
                        Lang::Da => term.label.da.clone(),
                        Lang::En => term.label.en.clone(),
                    },
                );
                if !needs.contains(&label) {
                    needs.push(label);
                }
            }
            format::why_sentence(
                lang,
                &format::WhyFacts {
                    needs,
                    matched_terms: &hit.why.matched_terms,
                    speaks: asked
                        .languages
                        .iter()
                        .filter(|l| card.languages.contains(l))
                        .cloned()
                        .collect(),
                    distance_km: hit.why.distance_km,
                    in_service_area: hit.why.in_service_area,
                    minimum_age: card.minimum_age,
                    maximum_age: card.maximum_age,
                    open_on: asked.open_on,
                    open_at: asked.open_at,
                    free: card.free,
                    full: card.capacity.as_deref() == Some(entities::directory::Capacity::Full.as_str()),
                },
            )
        };
        WhyText {
            da: sentence(Lang::Da),
            en: sentence(Lang::En),
        }
    }

    /// Counts a search for `needs` near `point` that found nothing within its radius as an unmet need, once
    /// per need code, in the area searched: the postal code of the `near` place, else of the gazetteer place
    /// nearest the point. Only need code, area and month are kept (`entities::unmet`): no words, no caller.
    /// A failure is logged; the search answers all the same.
    async fn count_unmet(&self, needs: &[String], point: (f64, f64), near: Option<&str>) {
        if needs.is_empty() {
            return;
        }
        let gazetteer = &self.state.gazetteer;
        let area = near
            .and_then(|near| gazetteer.resolve(near))
            .and_then(|place| place.postcode.clone())
            .or_else(|| {
                gazetteer
                    .places()
                    .iter()
                    .filter(|place| place.postcode.is_some())
                    .min_by(|a, b| {
                        let distance = |p: &indexer::gazetteer::Place| {
                            indexer::haversine_km(point.0, point.1, p.latitude, p.longitude)
                        };
                        distance(a).total_cmp(&distance(b))
                    })
                    .and_then(|place| place.postcode.clone())
            });
        let Some(area) = area else { return };
        let month = entities::unmet::month_of(chrono::Utc::now());
        let mut counted: Vec<&str> = Vec::new();
        for code in needs {
            if counted.contains(&code.as_str()) {
                continue;
            }
            counted.push(code);
            if let Err(error) = self.state.store.count_unmet_need(code, &area, &month).await {
                tracing::warn!(%error, "counting an unmet need failed");
            }
        }
    }

    /// Runs a search as `GET /v1/search` describes it.
    pub async fn search(&self, params: SearchParams) -> Result<SearchResponse, ApiError> {
        let caller = self.caller;
        let paging = crate::directory::page_of(params.page, params.per_page)?;
        let text = params.q.filter(|t| !t.trim().is_empty());
        if text.as_ref().is_some_and(|t| t.chars().count() > MAX_QUERY_CHARS) {
            return Err(ApiError::BadRequest(format!(
                "q must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        let point = self.point(params.lat, params.lon, params.near.as_deref())?;
        let radius_km = Self::radius(point, params.radius_km)?;
        self.check_needs(&params.need)?;
        let (open_on, open_date) = match params.open_on.as_deref() {
            Some(day) => match (weekday(day), NaiveDate::parse_from_str(day, "%Y-%m-%d")) {
                (Some(weekday), _) => (Some(weekday), None),
                (None, Ok(date)) => (
                    Some(date.weekday().num_days_from_monday() as u8),
                    Some(OpenDate {
                        day: crate::indexing::calendar_day(date),
                        before: crate::indexing::calendar_day(date.pred_opt().unwrap_or(date)),
                    }),
                ),
                (None, Err(_)) => {
                    return Err(ApiError::BadRequest(format!(
                        "open_on `{day}` is neither a day (mo..su) nor a date (YYYY-MM-DD)"
                    )));
                }
            },
            None => (None, None),
        };
        let open_at = match params.open_at.as_deref() {
            Some(time) => Some(
                ClockTime::parse_moment(time)
                    .ok_or_else(|| ApiError::BadRequest(format!("open_at `{time}` is not HH:MM")))?
                    .minutes(),
            ),
            None => None,
        };
        let offset = ((paging.page - 1) * paging.per_page) as usize;
        let needs = params.need.clone();
        let language = match params.language.map(|l| l.to_lowercase()) {
            Some(code) => Some(
                LanguageCode::parse(&code)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("language `{code}` is not an ISO 639-1 code such as `ar`"))
                    })?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let asked = Asked {
            languages: language.iter().cloned().collect(),
            open_on,
            open_at,
        };
        let results = self
            .run(SearchQuery {
                text,
                point,
                radius_km,
                needs: params.need,
                age: params.age,
                language,
                free: params.free,
                gender: params.gender.map(|g| crate::indexing::index_gender(g.into())),
                open_on,
                open_at,
                open_date,
                offset,
                limit: paging.per_page as usize,
                include_confidential: caller.sees_all_confidential(),
            })
            .await?;
        if let Some(point) = point
            && results.total == 0
            && paging.page == 1
        {
            self.count_unmet(&needs, point, params.near.as_deref()).await;
        }
        let items = self.hits(&results, &asked);
        Ok(SearchResponse {
            total: results.total as u64,
            page: paging.page,
            per_page: paging.per_page,
            items,
            facets: Facets {
                need: results.need_facets,
                language: results.language_facets,
            },
        })
    }

    /// Matches a family profile as `POST /v1/match` describes it: the best offers per need.
    pub async fn match_family(&self, profile: FamilyProfile) -> Result<MatchResponse, ApiError> {
        let caller = self.caller;
        if profile.needs.is_empty() || profile.needs.len() > 20 {
            return Err(ApiError::Invalid(vec![entities::FieldError::new(
                "needs",
                "give between 1 and 20 needs",
            )]));
        }
        let point = self.point(profile.latitude, profile.longitude, profile.near.as_deref())?;
        let radius_km = Self::radius(point, profile.radius_km)?;
        let per_need = profile.per_need.unwrap_or(5).clamp(1, 20) as usize;
        let mut errors = Vec::new();
        for (i, need) in profile.needs.iter().enumerate() {
            if need.code.is_none() && need.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
                errors.push(entities::FieldError::new(
                    format!("needs/{i}"),
                    "give a code, a text or both",
                ));
            }
            if let Some(code) = &need.code
                && self.state.taxonomy.find(code).is_none()
            {
                errors.push(entities::FieldError::new(
                    format!("needs/{i}/code"),
                    format!("unknown need code `{code}`"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Invalid(errors));
        }
        let languages: Vec<String> = profile.languages.iter().map(|l| l.to_lowercase()).collect();
        let mut groups = Vec::new();
        for need in &profile.needs {
            // Words without a code: the needs they name (those at least half as sure as the surest) choose the
            // offers, and the words that named them rank offers within those needs. Words naming no need are
            // searched as they are.
            let detected = match (&need.code, &need.text) {
                (None, Some(text)) => self.state.detector.detect(text, None),
                _ => Vec::new(),
            };
            let surest = detected.first().map_or(0.0, |d| d.score);
            let detected: Vec<indexer::DetectedNeed> =
                detected.into_iter().filter(|d| d.score >= surest / 2.0).collect();
            let (text, codes): (Option<String>, Vec<String>) = if detected.is_empty() {
                (need.text.clone(), need.code.iter().cloned().collect())
            } else {
                let mut words: Vec<&str> = Vec::new();
                for word in detected.iter().flat_map(|d| &d.matched) {
                    if !words.contains(&word.as_str()) {
                        words.push(word);
                    }
                }
                (Some(words.join(" ")), detected.iter().map(|d| d.code.clone()).collect())
            };
            // With detected needs two passes, in this rank order: the offers their words match, then the needs'
            // other offers (nearest first with a point). Within a pass by score.
            let passes: Vec<Option<String>> = if detected.is_empty() {
                vec![text]
            } else {
                vec![text, None]
            };
            // A need for one member filters by that age; otherwise an offer for any member's age will do.
            let ages: Vec<Option<u32>> = match (need.age, profile.ages.is_empty()) {
                (Some(age), _) => vec![Some(age)],
                (None, true) => vec![None],
                (None, false) => profile.ages.iter().copied().map(Some).collect(),
            };
            // (hit, speaks one of the family's languages, pass)
            let mut best: Vec<(indexer::Hit, bool, usize)> = Vec::new();
            let mut total = 0;
            for age in ages {
                for (pass, text) in passes.iter().enumerate() {
                    let results = self
                        .run(SearchQuery {
                            text: text.clone(),
                            point,
                            radius_km,
                            needs: codes.clone(),
                            age,
                            gender: profile.gender.map(|g| crate::indexing::index_gender(g.into())),
                            limit: 50,
                            include_confidential: caller.sees_all_confidential(),
                            ..Default::default()
                        })
                        .await?;
                    total = total.max(results.total);
                    for hit in results.hits {
                        match best.iter_mut().find(|(b, _, _)| b.id == hit.id) {
                            Some(known) => known.2 = known.2.min(pass),
                            None => best.push((hit, false, pass)),
                        }
                    }
                }
            }
            for (hit, speaks, _) in &mut best {
                *speaks = serde_json::from_str::<HitCard>(&hit.payload)
                    .is_ok_and(|card| card.languages.iter().any(|l| languages.contains(l)));
            }
            // Offers in the family's language get a quarter more weight: a nudge, not an override of relevance.
            let weight = |(hit, speaks, _): &(indexer::Hit, bool, usize)| hit.score * if *speaks { 1.25 } else { 1.0 };
            if let Some(point) = point
                && total == 0
            {
                self.count_unmet(&codes, point, profile.near.as_deref()).await;
            }
            best.sort_by(|a, b| a.2.cmp(&b.2).then(weight(b).total_cmp(&weight(a))));
            best.truncate(per_need);
            let results = SearchResults {
                total,
                hits: best.into_iter().map(|(h, _, _)| h).collect(),
                need_facets: Default::default(),
                language_facets: Default::default(),
            };
            groups.push(NeedMatches {
                need: need.code.clone().or_else(|| need.text.clone()).unwrap_or_default(),
                detected: detected.into_iter().map(|d| d.code).collect(),
                total: total as u64,
                items: self.hits(
                    &results,
                    &Asked {
                        languages: languages.clone(),
                        ..Default::default()
                    },
                ),
            });
        }
        Ok(MatchResponse { groups })
    }

    /// One active service as a search hit (at its first active location, no distance), read from the
    /// database with the same redaction as search hits; None when it is missing or not active.
    pub async fn hit_by_id(&self, id: Uuid) -> Result<Option<SearchHit>, ApiError> {
        use entities::directory::{RecordStatus, ServiceStatus};
        let Some(service) = self.state.store.services_by_id(&[id]).await?.pop() else {
            return Ok(None);
        };
        let data = service.data;
        if data.status != ServiceStatus::Active {
            return Ok(None);
        }
        let organization = self.state.store.get_organization(data.organization_id).await?;
        let locations = self.state.store.locations_by_id(&data.location_ids).await?;
        let location = data
            .location_ids
            .iter()
            .filter_map(|id| locations.get(id))
            .find(|l| l.data.status == RecordStatus::Active)
            .map(|l| {
                let visible = self.caller.sees_place(l.data.confidential, l.data.organization_id);
                HitLocation {
                    id: l.meta.id,
                    name: l.data.name.clone(),
                    latitude: l.data.latitude.filter(|_| visible),
                    longitude: l.data.longitude.filter(|_| visible),
                    address: l.data.address.clone().filter(|_| visible).map(|a| Address {
                        address_1: a.address_1,
                        postal_code: a.postal_code,
                        city: a.city,
                    }),
                }
            });
        let facts = format::WhyFacts {
            minimum_age: data.minimum_age,
            maximum_age: data.maximum_age,
            free: data.free,
            full: data.capacity == Some(entities::directory::Capacity::Full),
            ..Default::default()
        };
        let why_text = WhyText {
            da: format::why_sentence(Lang::Da, &facts),
            en: format::why_sentence(Lang::En, &facts),
        };
        Ok(Some(SearchHit {
            id,
            capacity: data.capacity.map(Into::into),
            name: data.name,
            organization: OrganizationRef {
                id: organization.meta.id,
                name: organization.data.name,
            },
            location,
            distance_km: None,
            score: 0.0,
            needs: data.needs,
            languages: data.languages,
            minimum_age: data.minimum_age,
            maximum_age: data.maximum_age,
            free: data.free,
            gender: data.gender.into(),
            highlight: None,
            why: Why {
                text: why_text,
                matched_terms: Vec::new(),
                needs: Vec::new(),
                distance_km: None,
                in_service_area: false,
            },
        }))
    }
}

#[OpenApi(prefix_path = "/v1")]
impl SearchApi {
    /// Search services
    ///
    /// Free text in Danish or English (compounds, typos and synonyms handled), a point (`lat`+`lon` or
    /// `near`) with a radius, and filters. Only active services; one hit per service at its nearest location.
    #[oai(
        path = "/search",
        method = "get",
        tag = "SearchTag::Search",
        operation_id = "searchServices"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        auth: Auth,
        /// What the family said, in their words (at most 500 characters).
        #[oai(validator(max_length = 500))]
        q: Query<Option<String>>,
        lat: Query<Option<f64>>,
        lon: Query<Option<f64>>,
        /// Place name or postcode, instead of lat/lon.
        near: Query<Option<String>>,
        /// Default 5 when a point is given; at most 100.
        radius_km: Query<Option<f64>>,
        /// Need codes (repeatable; any of them).
        need: Query<Vec<String>>,
        age: Query<Option<u32>>,
        /// ISO 639-1 language code.
        language: Query<Option<String>>,
        free: Query<Option<bool>>,
        /// Who the family member is: only offers for that group and offers for anyone (`any`: no filter).
        gender: Query<Option<Gender>>,
        /// A day (mo, tu, we, th, fr, sa, su: every week's) or a date `YYYY-MM-DD`, on which the week of
        /// the month (`1SA`), the day of the month and the schedule's validity count too.
        open_on: Query<Option<String>>,
        /// Time of day `HH:MM`; with `open_on` on that day, else on any day.
        open_at: Query<Option<String>>,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
    ) -> ApiResult<Json<SearchResponse>> {
        let caller = auth.caller();
        let params = SearchParams {
            q: q.0,
            lat: lat.0,
            lon: lon.0,
            near: near.0,
            radius_km: radius_km.0,
            need: need.0,
            age: age.0,
            language: language.0,
            free: free.0,
            gender: gender.0,
            open_on: open_on.0,
            open_at: open_at.0,
            page: page.0,
            per_page: per_page.0,
        };
        let response = Search {
            state: &self.state,
            caller: &caller,
        }
        .search(params)
        .await?;
        Ok(Json(response))
    }

    /// Match a family profile
    ///
    /// For each of the family's needs, the best offers near them, grouped per need. Offers in one of the
    /// family's languages rank higher within a group. A need given only as the family's words gets the offers
    /// for the needs those words name (as `/v1/needs/detect` finds them, listed in `detected`), those matching
    /// the naming words first; words that name no need are searched as they are.
    #[oai(
        path = "/match",
        method = "post",
        tag = "SearchTag::Search",
        operation_id = "matchFamily"
    )]
    async fn match_family(&self, auth: Auth, body: Json<FamilyProfile>) -> ApiResult<Json<MatchResponse>> {
        let caller = auth.caller();
        let response = Search {
            state: &self.state,
            caller: &caller,
        }
        .match_family(body.0)
        .await?;
        Ok(Json(response))
    }
}

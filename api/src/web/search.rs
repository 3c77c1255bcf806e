//! The search page (`/`, public) and an offer's page (`/offers/{id}`).
//!
//! The caseworker types what the family says; the needs it understood become chips (removable links, so
//! no JavaScript is needed), and the results come from the same search as `GET /v1/search` — grouped per
//! need, as `POST /v1/match` does, when several needs are chosen. The query lives in the URL, so the back
//! button and bookmarks work.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Datelike;
use entities::directory::{Capacity, Gender, Role, ServiceData};
use poem::web::{Data, Path, Query};
use poem::{Response, handler};
use serde::Serialize;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::search::{FamilyNeed, FamilyProfile, Search, SearchHit, SearchParams};
use crate::state::AppState;
use crate::web::Fields;
use crate::web::format;
use crate::web::i18n::{Lang, text};
use crate::web::render::{api_error_page, page, page_with_status};
use crate::web::visitor::Visitor;

const PER_PAGE: u64 = 10;
const PER_NEED: u32 = 5;
const RADII: &[&str] = &["1", "2", "5", "10", "25", "50"];
const DAYS: &[&str] = &["mo", "tu", "we", "th", "fr", "sa", "su"];
/// Languages offered in the family-language filter: those spoken in the demo directory's area.
pub const LANGUAGES: &[&str] = &[
    "da", "en", "ar", "so", "tr", "ur", "fa", "ps", "ti", "uk", "pl", "ku", "bs",
];

#[derive(Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Serialize)]
struct Chip {
    code: String,
    label: String,
    remove_url: String,
}

/// One offer as the results, the family list and the offer page show it.
#[derive(Serialize)]
pub struct OfferCard {
    pub id: Uuid,
    pub name: String,
    pub organization: String,
    pub distance: Option<String>,
    pub address: Option<String>,
    pub location_name: Option<String>,
    /// A confidential place the caller may not see: "address given on referral".
    pub address_hidden: bool,
    /// How the place can be reached (HSDS `accessibility` of an imported place: step-free, hearing loop, ...).
    pub accessibility: Vec<String>,
    pub map_url: Option<String>,
    pub geo_url: Option<String>,
    pub hours: Vec<String>,
    /// For the printed list, which words the hours in the family's language.
    #[serde(skip)]
    pub schedules: Vec<entities::directory::Schedule>,
    pub languages: String,
    pub ages: Option<String>,
    /// "Kun for kvinder" when the offer is for one group only.
    pub gender: Option<String>,
    pub free: bool,
    pub fees: Option<String>,
    pub full: bool,
    pub limited: bool,
    pub why: String,
    /// HTML-escaped by the indexer, with `<mark>` around matched words.
    pub highlight: Option<String>,
    pub description: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub url: Option<String>,
    pub on_list: bool,
}

#[derive(Serialize)]
struct Group {
    heading: String,
    total: u64,
    items: Vec<OfferCard>,
}

#[derive(Serialize, Default)]
struct SearchView {
    q: String,
    near: String,
    ages: String,
    language: String,
    free: bool,
    gender: String,
    open_on: String,
    open_at: String,
    radius_km: String,
    chips: Vec<Chip>,
    need_choices: Vec<Choice>,
    day_choices: Vec<Choice>,
    /// The next two weeks' dates, for "open on" a date.
    date_choices: Vec<Choice>,
    radius_choices: Vec<Choice>,
    language_choices: Vec<Choice>,
    gender_choices: Vec<Choice>,
    places: Vec<String>,
    searched: bool,
    detected: bool,
    groups: Vec<Group>,
    total: u64,
    page: u64,
    pages: u64,
    prev_url: Option<String>,
    next_url: Option<String>,
    errors: Vec<FieldProblem>,
    is_caseworker: bool,
    list_count: usize,
    back: String,
}

#[derive(Serialize, Clone)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// The need codes the family's words point to (as `POST /v1/needs/detect` finds them), the surer ones:
/// a need scoring under half the best is left for the caseworker to add.
fn detected_needs(state: &AppState, text: &str) -> Vec<String> {
    let detected = state.detector.detect(text, None);
    let surest = detected.first().map_or(0.0, |d| d.score);
    detected
        .into_iter()
        .filter(|d| d.score >= surest / 2.0 && state.taxonomy.find(&d.code).is_some())
        .map(|d| d.code)
        .collect()
}

pub fn need_label(state: &AppState, lang: Lang, code: &str) -> String {
    state
        .taxonomy
        .find(code)
        .map(|term| match lang {
            Lang::Da => term.label.da.clone(),
            Lang::En => term.label.en.clone(),
        })
        .unwrap_or_else(|| code.to_owned())
}

/// The URL of the search with `fields`, minus the pairs `drop` says to leave out.
fn search_url(fields: &[(String, String)], drop: impl Fn(&str, &str) -> bool) -> String {
    let kept: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, v)| !drop(k, v) && !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(query) if !query.is_empty() => format!("/?{query}"),
        _ => "/".to_owned(),
    }
}

/// Ages typed as "10, 38" (or "10 38").
fn parse_ages(text: &str) -> Result<Vec<u32>, ()> {
    text.split([',', ' ', ';'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<u32>()
                .map_err(drop)
                .and_then(|a| if a <= 120 { Ok(a) } else { Err(()) })
        })
        .collect()
}

/// The descriptions of a place's HSDS `accessibility` records, as imported.
fn accessibility_of(extra: &entities::extras::Extra) -> Vec<String> {
    extra
        .get("accessibility")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("description")?.as_str())
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Loads what the index's card lacks (hours, capacity, fees, contact) for a page of hits, and builds cards.
pub async fn offer_cards(
    state: &AppState,
    visitor: &Visitor,
    hits: Vec<SearchHit>,
    family_languages: &[String],
    on_list: &[Uuid],
) -> Result<Vec<OfferCard>, ApiError> {
    let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    let services: HashMap<Uuid, ServiceData> = state
        .store
        .services_by_id(&ids)
        .await?
        .into_iter()
        .map(|s| (s.meta.id, s.data))
        .collect();
    let place_ids: Vec<Uuid> = hits.iter().filter_map(|h| h.location.as_ref().map(|l| l.id)).collect();
    let kept = state.store.hsds_extras(entities::extras::LOCATION, &place_ids).await?;
    let lang = visitor.lang;
    let mut cards: Vec<OfferCard> = hits
        .into_iter()
        .filter_map(|hit| {
            let data = services.get(&hit.id)?;
            let location = hit.location.as_ref();
            let address = location
                .and_then(|l| l.address.as_ref())
                .map(|a| format!("{}, {} {}", a.address_1, a.postal_code, a.city));
            let coordinates = location.and_then(|l| Some((l.latitude?, l.longitude?)));
            let address_hidden = location.is_some() && address.is_none();
            let accessibility = location
                .filter(|_| !address_hidden)
                .and_then(|l| kept.get(&l.id))
                .map(accessibility_of)
                .unwrap_or_default();
            let distance = hit.distance_km.map(|km| format::distance(lang, km));
            let ages = format::ages(lang, hit.minimum_age, hit.maximum_age);
            let full = data.capacity == Some(Capacity::Full);
            // The top-level needs matched, once each ("Lektiehjælp", not also its sub-terms).
            let mut needs: Vec<String> = Vec::new();
            for code in &hit.why.needs {
                let label = need_label(state, lang, entities::taxonomy::Taxonomy::top_level(code));
                if !needs.contains(&label) {
                    needs.push(label);
                }
            }
            let why = format::why_sentence(
                lang,
                &format::WhyFacts {
                    needs,
                    matched_terms: &hit.why.matched_terms,
                    speaks: family_languages
                        .iter()
                        .filter(|l| hit.languages.contains(l))
                        .cloned()
                        .collect(),
                    distance_km: hit.distance_km,
                    in_service_area: hit.why.in_service_area,
                    minimum_age: hit.minimum_age,
                    maximum_age: hit.maximum_age,
                    free: hit.free,
                    ..Default::default()
                },
            );
            Some(OfferCard {
                id: hit.id,
                name: hit.name,
                organization: hit.organization.name,
                distance,
                address_hidden,
                address,
                accessibility,
                location_name: location.map(|l| l.name.clone()),
                map_url: coordinates.map(|(lat, lon)| {
                    format!("https://www.openstreetmap.org/?mlat={lat:.5}&mlon={lon:.5}#map=17/{lat:.5}/{lon:.5}")
                }),
                geo_url: coordinates.map(|(lat, lon)| format!("geo:{lat:.5},{lon:.5}")),
                hours: format::hours_in_words(lang, &data.schedules),
                schedules: data.schedules.clone(),
                languages: format::join_words(
                    lang,
                    &hit.languages
                        .iter()
                        .map(|l| format::language_name(lang, l))
                        .collect::<Vec<_>>(),
                ),
                ages,
                gender: Some(Gender::from(hit.gender))
                    .filter(|g| *g != Gender::Any)
                    .map(|g| text(lang, &format!("gender_{}", g.as_str()))),
                free: hit.free,
                fees: data.fees_description.clone().filter(|_| !hit.free),
                full,
                limited: data.capacity == Some(Capacity::Limited),
                why,
                highlight: hit.highlight,
                description: data.description.clone(),
                phone: data.phone.clone(),
                email: data.email.clone(),
                url: data.url.clone(),
                on_list: on_list.contains(&hit.id),
            })
        })
        .collect();
    // A full offer says so and sinks below the open ones of the page (a stable sort keeps the rank).
    cards.sort_by_key(|card| card.full);
    Ok(cards)
}

#[handler]
pub async fn search_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let state: &AppState = &state;
    let lang = visitor.lang;
    let fields = &query.0;
    let mut view = SearchView {
        q: query.get("q").unwrap_or_default().to_owned(),
        near: query.get("near").unwrap_or_default().to_owned(),
        ages: query.get("ages").unwrap_or_default().to_owned(),
        language: query.get("language").unwrap_or_default().to_owned(),
        free: query.get("free").is_some(),
        gender: query.get("gender").unwrap_or_default().to_owned(),
        open_on: query.get("open_on").unwrap_or_default().to_owned(),
        open_at: query.get("open_at").unwrap_or_default().to_owned(),
        radius_km: query.get("radius_km").unwrap_or("5").to_owned(),
        is_caseworker: visitor.is(Role::Caseworker),
        back: visitor.path.clone(),
        page: query
            .get("page")
            .and_then(|p| p.parse().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1),
        ..Default::default()
    };
    if let Some(q) = visitor.path_and_query.split_once('?').map(|(_, q)| q) {
        view.back = format!("/?{q}");
    }
    // Needs: the chips the caseworker kept (`need`), or, on a new text, the needs detected in it.
    let mut needs: Vec<String> = query.all("need").into_iter().map(str::to_owned).collect();
    needs.retain(|code| state.taxonomy.find(code).is_some());
    if let Some(added) = query.get("add_need").filter(|code| state.taxonomy.find(code).is_some())
        && !needs.iter().any(|n| n == added)
    {
        needs.push(added.to_owned());
    }
    // A new text (it differs from the one searched before) is read again; otherwise the chips stand.
    let text_changed = query.has("prev_q") && query.get("prev_q") != query.get("q");
    if text_changed {
        needs.clear();
    }
    let needs_chosen =
        !text_changed && (query.has("needs_set") || query.has("need") || query.get("add_need").is_some());
    if !needs_chosen && !view.q.is_empty() {
        needs = detected_needs(state, &view.q);
        view.detected = !needs.is_empty();
    }
    needs.dedup();
    // Links keep the chosen needs explicit (`needs_set`), so a removed chip stays removed.
    let mut base: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "need" | "add_need" | "needs_set" | "page" | "prev_q"))
        .cloned()
        .collect();
    base.push(("prev_q".to_owned(), view.q.clone()));
    base.extend(needs.iter().map(|code| ("need".to_owned(), code.clone())));
    base.push(("needs_set".to_owned(), "1".to_owned()));
    view.chips = needs
        .iter()
        .map(|code| Chip {
            code: code.clone(),
            label: need_label(state, lang, code),
            remove_url: search_url(&base, |k, v| k == "need" && v == code),
        })
        .collect();
    view.need_choices = state
        .taxonomy
        .items
        .iter()
        .filter(|term| !needs.contains(&term.code))
        .map(|term| Choice {
            value: term.code.clone(),
            label: need_label(state, lang, &term.code),
            selected: false,
        })
        .collect();
    view.day_choices = DAYS
        .iter()
        .map(|d| Choice {
            value: (*d).to_owned(),
            label: text(lang, &format!("day_{d}")),
            selected: view.open_on == *d,
        })
        .collect();
    let today = chrono::Utc::now().date_naive();
    view.date_choices = (0..14)
        .map(|ahead| {
            let date = today + chrono::Duration::days(ahead);
            let weekday = DAYS[date.weekday().num_days_from_monday() as usize];
            let day = format!(
                "{} {}.{}.",
                text(lang, &format!("day_{weekday}")),
                date.day(),
                date.month()
            );
            let value = date.to_string();
            Choice {
                selected: view.open_on == value,
                value,
                label: if ahead == 0 {
                    format!("{} ({day})", text(lang, "today"))
                } else {
                    day
                },
            }
        })
        .collect();
    view.radius_choices = RADII
        .iter()
        .map(|r| Choice {
            value: (*r).to_owned(),
            label: format!("{r} km"),
            selected: view.radius_km == *r,
        })
        .collect();
    view.language_choices = LANGUAGES
        .iter()
        .map(|l| Choice {
            value: (*l).to_owned(),
            label: format::language_name(lang, l),
            selected: view.language == *l,
        })
        .collect();
    view.gender_choices = Gender::ALL
        .iter()
        .filter(|g| **g != Gender::Any)
        .map(|g| Choice {
            value: g.as_str().to_owned(),
            label: text(lang, &format!("gender_filter_{}", g.as_str())),
            selected: view.gender == g.as_str(),
        })
        .collect();
    view.places = state.gazetteer.places().iter().map(|p| p.name.clone()).collect();
    view.places.sort();
    view.places.dedup();

    let on_list = match &visitor.person {
        Some(person) if visitor.is(Role::Caseworker) => state.store.family_list(person.id).await.unwrap_or_default(),
        _ => Vec::new(),
    };
    view.list_count = on_list.len();

    let ages = match parse_ages(&view.ages) {
        Ok(ages) => ages,
        Err(()) => {
            view.errors.push(FieldProblem {
                field: "ages".into(),
                message: text(lang, "error_ages"),
            });
            Vec::new()
        }
    };
    if !view.near.is_empty() && state.gazetteer.resolve(&view.near).is_none() {
        view.errors.push(FieldProblem {
            field: "near".into(),
            message: text(lang, "error_place").replace("{}", &view.near),
        });
    }
    // Empty or `any`: no filter.
    let gender = match Gender::parse(&view.gender) {
        Some(gender) => Some(gender).filter(|g| *g != Gender::Any),
        None if view.gender.is_empty() => None,
        None => {
            view.errors.push(FieldProblem {
                field: "gender".into(),
                message: text(lang, "error_gender"),
            });
            None
        }
    };
    if !view.open_at.is_empty() && entities::directory::parse_clock(&view.open_at).is_none_or(|m| m >= 1440) {
        view.errors.push(FieldProblem {
            field: "open_at".into(),
            message: text(lang, "error_time"),
        });
    }
    view.searched = view.errors.is_empty() && (!view.q.is_empty() || !needs.is_empty() || !view.near.is_empty());
    if !view.searched {
        let status = if view.errors.is_empty() {
            poem::http::StatusCode::OK
        } else {
            poem::http::StatusCode::BAD_REQUEST
        };
        return page_with_status(visitor, status, "search.html", view);
    }

    let search = Search {
        state,
        caller: &visitor.caller,
    };
    let family_languages: Vec<String> = view
        .language
        .split(',')
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let radius_km = view.radius_km.parse::<f64>().ok();
    let near = Some(view.near.clone()).filter(|n| !n.is_empty());
    let result = if needs.len() >= 2 {
        // One group per need, best offers first, as /v1/match does.
        let profile = FamilyProfile {
            latitude: None,
            longitude: None,
            near: near.clone(),
            radius_km: radius_km.filter(|_| near.is_some()),
            ages: ages.clone(),
            languages: family_languages.clone(),
            gender: gender.map(Into::into),
            needs: needs
                .iter()
                .map(|code| FamilyNeed {
                    code: Some(code.clone()),
                    text: None,
                    age: None,
                })
                .collect(),
            per_need: Some(PER_NEED),
        };
        match search.match_family(profile).await {
            Ok(matched) => {
                let mut groups = Vec::new();
                for group in matched.groups {
                    let items = match offer_cards(state, visitor, group.items, &family_languages, &on_list).await {
                        Ok(items) => items,
                        Err(error) => return api_error_page(state, visitor, error),
                    };
                    groups.push(Group {
                        heading: need_label(state, lang, &group.need),
                        total: group.total,
                        items,
                    });
                }
                view.total = groups.iter().map(|g| g.total).sum();
                Ok(groups)
            }
            Err(error) => Err(error),
        }
    } else {
        let params = SearchParams {
            q: Some(view.q.clone()).filter(|q| !q.is_empty()),
            near: near.clone(),
            radius_km: radius_km.filter(|_| near.is_some()),
            need: needs.clone(),
            // The search takes one age: the youngest member the need is likely about.
            age: ages.iter().min().copied(),
            language: None,
            free: view.free.then_some(true),
            gender: gender.map(Into::into),
            open_on: Some(view.open_on.clone()).filter(|d| !d.is_empty()),
            open_at: Some(view.open_at.clone()).filter(|t| !t.is_empty()),
            page: Some(view.page),
            per_page: Some(PER_PAGE),
            ..Default::default()
        };
        match search.search(params).await {
            Ok(response) => {
                view.total = response.total;
                view.pages = response.total.div_ceil(PER_PAGE).max(1);
                let paged: Vec<(String, String)> = fields.iter().filter(|(k, _)| k != "page").cloned().collect();
                let page_url = |n: u64| {
                    let mut f = paged.clone();
                    f.push(("page".into(), n.to_string()));
                    search_url(&f, |_, _| false)
                };
                view.prev_url = (view.page > 1).then(|| page_url(view.page - 1));
                view.next_url = (view.page < view.pages).then(|| page_url(view.page + 1));
                match offer_cards(state, visitor, response.items, &family_languages, &on_list).await {
                    Ok(items) => Ok(vec![Group {
                        heading: String::new(),
                        total: response.total,
                        items,
                    }]),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    };
    match result {
        Ok(groups) => {
            view.groups = groups;
            page(visitor, "search.html", view)
        }
        Err(ApiError::BadRequest(message)) => {
            view.searched = false;
            view.errors.push(FieldProblem {
                field: "q".into(),
                message,
            });
            page_with_status(visitor, poem::http::StatusCode::BAD_REQUEST, "search.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[derive(Serialize)]
struct OfferView {
    offer: OfferCard,
    is_caseworker: bool,
    back: String,
}

/// One offer with everything a caseworker needs to tell the family: the same card as in the results.
#[handler]
pub async fn offer_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    let state: &AppState = &state;
    let Ok(id) = Uuid::parse_str(&id) else {
        return api_error_page(state, visitor, ApiError::NotFound("no such offer".into()));
    };
    match offer_by_id(state, visitor, id).await {
        Ok(offer) => page(
            visitor,
            "offer.html",
            OfferView {
                offer,
                is_caseworker: visitor.is(Role::Caseworker),
                back: "/".into(),
            },
        ),
        Err(error) => api_error_page(state, visitor, error),
    }
}

/// The card of one active service, shown as the search shows it (redaction included): the service's
/// own search hit, found by id through the index.
pub async fn offer_by_id(state: &AppState, visitor: &Visitor, id: Uuid) -> Result<OfferCard, ApiError> {
    let on_list = match &visitor.person {
        Some(person) if visitor.is(Role::Caseworker) => state.store.family_list(person.id).await?,
        _ => Vec::new(),
    };
    let hit = Search {
        state,
        caller: &visitor.caller,
    }
    .hit_by_id(id)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("offer {id} not found")))?;
    offer_cards(state, visitor, vec![hit], &[], &on_list)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("offer {id} not found")))
}

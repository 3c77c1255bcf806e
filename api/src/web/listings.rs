//! A partner's own listings (`/listings`): the organisation, its places and its offers as forms, and the
//! "still correct?" button. Every write goes through `directory::DirectoryWrites`, the same rules as
//! `PUT /v1/services/{id}` (a partner writes only its own organisation's records; a stale version is
//! refused), and is searchable before the page answers.
//!
//! A form whose record someone else changed meanwhile is shown again with what the visitor typed and,
//! beside it, what is stored now; the version moves to the current one, so saving again is a deliberate
//! choice and nothing is lost.

use std::sync::Arc;

use chrono::Utc;
use entities::directory::{
    Address, Capacity, Gender, LocationData, OrganizationData, OrganizationKind, RecordStatus, Schedule, ServiceData,
    ServiceStatus, WEEKDAYS, parse_byday,
};
use entities::store::{ListFilter, Page};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use crate::directory::DirectoryWrites;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::format;
use crate::web::i18n::{Lang, text};
use crate::web::render::{api_error_page, page, page_with_status};
use crate::web::search::{Choice, FieldProblem, LANGUAGES, need_label};
use crate::web::visitor::Visitor;
use crate::web::{Fields, parse_id};

/// Empty schedule rows offered under the filled ones.
const SPARE_SCHEDULE_ROWS: usize = 2;

fn writes<'a>(state: &'a AppState, visitor: &'a Visitor) -> DirectoryWrites<'a> {
    DirectoryWrites {
        state,
        caller: &visitor.caller,
    }
}

/// `new` in a form's path is a record to create (None); anything else must be an id.
fn existing(path: &str) -> Result<Option<Uuid>, ApiError> {
    if path == "new" {
        Ok(None)
    } else {
        parse_id(path).map(Some)
    }
}

/// The field a rule's error path belongs to: `schedules/1/opens_at` → `schedule-1-opens`.
fn field_of(path: &str) -> String {
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("schedules"), Some(i), Some(field)) => {
            let field = if field.starts_with("opens") {
                "opens"
            } else if field.starts_with("closes") {
                "closes"
            } else {
                "days"
            };
            format!("schedule-{i}-{field}")
        }
        (Some("address"), Some(field), _) => field.to_owned(),
        (Some(first), _, _) => first.to_owned(),
        _ => "name".to_owned(),
    }
}

fn problems(errors: Vec<entities::FieldError>) -> Vec<FieldProblem> {
    errors
        .into_iter()
        .map(|e| FieldProblem {
            field: field_of(&e.path),
            message: e.reason,
        })
        .collect()
}

fn optional(fields: &Fields, name: &str) -> Option<String> {
    fields.get(name).map(str::to_owned)
}

// ---- the overview ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ServiceRow {
    id: Uuid,
    name: String,
    status: String,
    active: bool,
    assured: String,
    stale: bool,
    full: bool,
    version: i64,
}

#[derive(Serialize)]
struct LocationRow {
    id: Uuid,
    name: String,
    address: String,
    confidential: bool,
    active: bool,
}

#[derive(Serialize)]
struct ListingsView {
    organization: String,
    services: Vec<ServiceRow>,
    locations: Vec<LocationRow>,
    /// Places the organization's services use that are not its own (no edit link).
    shared_locations: Vec<LocationRow>,
    stale_months: u32,
    stale_count: usize,
    confirmed: bool,
}

async fn own_services(state: &AppState, org: Uuid) -> Result<Vec<entities::directory::Service>, ApiError> {
    let filter = ListFilter {
        organization_id: Some(org),
        status: None,
    };
    Ok(state
        .store
        .list_services(&filter, Page { page: 1, per_page: 100 })
        .await?
        .1)
}

async fn own_locations(state: &AppState, org: Uuid) -> Result<Vec<entities::directory::Location>, ApiError> {
    let filter = ListFilter {
        organization_id: Some(org),
        status: None,
    };
    Ok(state
        .store
        .list_locations(&filter, Page { page: 1, per_page: 100 })
        .await?
        .1)
}

/// The places `services` are at that are not `org`'s own: places another organization owns, or no one.
async fn shared_locations(
    state: &AppState,
    org: Uuid,
    services: &[&ServiceData],
) -> Result<Vec<entities::directory::Location>, ApiError> {
    let mut ids: Vec<Uuid> = services.iter().flat_map(|s| s.location_ids.iter().copied()).collect();
    ids.sort();
    ids.dedup();
    let mut shared: Vec<_> = state
        .store
        .locations_by_id(&ids)
        .await?
        .into_values()
        .filter(|l| l.data.organization_id != Some(org))
        .collect();
    shared.sort_by(|a, b| (&a.data.name, a.meta.id).cmp(&(&b.data.name, b.meta.id)));
    Ok(shared)
}

fn location_row(location: entities::directory::Location, caller: &crate::auth::Caller) -> LocationRow {
    let visible = caller.sees_place(location.data.confidential, location.data.organization_id);
    LocationRow {
        id: location.meta.id,
        name: location.data.name,
        address: location
            .data
            .address
            .filter(|_| visible)
            .map(|a| format!("{}, {} {}", a.address_1, a.postal_code, a.city))
            .unwrap_or_default(),
        confidential: location.data.confidential,
        active: location.data.status == RecordStatus::Active,
    }
}

#[handler]
pub async fn listings_page(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    poem::web::Query(query): poem::web::Query<Fields>,
) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    let result = async {
        let organization = state.store.get_organization(org).await?;
        let own = own_services(state, org).await?;
        let shared_locations = shared_locations(state, org, &own.iter().map(|s| &s.data).collect::<Vec<_>>())
            .await?
            .into_iter()
            .map(|l| location_row(l, &visitor.caller))
            .collect();
        let services: Vec<ServiceRow> = own
            .into_iter()
            .map(|s| ServiceRow {
                id: s.meta.id,
                name: s.data.name,
                status: text(
                    visitor.lang,
                    &format!("service_status_{}", s.data.status.as_str().replace(' ', "-")),
                ),
                active: s.data.status == ServiceStatus::Active,
                assured: s.data.assured_date.map(|d| d.to_string()).unwrap_or_else(|| "–".into()),
                stale: s.data.status == ServiceStatus::Active && entities::health::is_stale(s.data.assured_date),
                full: s.data.capacity == Some(Capacity::Full),
                version: s.meta.version,
            })
            .collect();
        let locations = own_locations(state, org)
            .await?
            .into_iter()
            .map(|l| location_row(l, &visitor.caller))
            .collect();
        Ok::<_, ApiError>(ListingsView {
            organization: organization.data.name,
            stale_count: services.iter().filter(|s| s.stale).count(),
            services,
            locations,
            shared_locations,
            stale_months: entities::health::stale_months(),
            confirmed: query.has("confirmed"),
        })
    }
    .await;
    match result {
        Ok(view) => page(visitor, "listings.html", view),
        Err(error) => api_error_page(state, visitor, error),
    }
}

/// "Still correct?": confirms a service unchanged today (its `assured_date`), as a PUT of the same data.
#[handler]
pub async fn confirm_service(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(need) = visitor.partner() {
        return need.response(state, visitor);
    }
    let result = async {
        let id = parse_id(&id)?;
        let current = state.store.get_service(id).await?;
        let expected = fields.get("version").and_then(|v| v.parse().ok());
        let mut data = current.data;
        data.assured_date = Some(Utc::now().date_naive());
        writes(state, visitor).replace_service(id, data, expected).await
    }
    .await;
    match result {
        Ok(_) => Redirect::see_other("/listings?confirmed=1").into_response(),
        Err(ApiError::PreconditionFailed(_)) => Redirect::see_other("/listings").into_response(),
        Err(error) => api_error_page(state, visitor, error),
    }
}

// ---- the service form -----------------------------------------------------------------------------------

#[derive(Serialize, Default)]
struct ScheduleRow {
    index: usize,
    days: Vec<Choice>,
    /// Every week, or the first/second/.../last of those weekdays in the month.
    weeks: Vec<Choice>,
    opens_at: String,
    closes_at: String,
}

#[derive(Serialize, Default)]
struct ServiceForm {
    name: String,
    description: String,
    minimum_age: String,
    maximum_age: String,
    free: bool,
    fees_description: String,
    eligibility_description: String,
    application_process: String,
    url: String,
    email: String,
    phone: String,
}

#[derive(Serialize)]
struct ServiceView {
    id: Option<Uuid>,
    version: i64,
    form: ServiceForm,
    needs: Vec<Choice>,
    languages: Vec<Choice>,
    locations: Vec<Choice>,
    capacity: Vec<Choice>,
    gender: Vec<Choice>,
    status: Vec<Choice>,
    schedules: Vec<ScheduleRow>,
    errors: Vec<FieldProblem>,
    /// What is stored now, when someone else changed it meanwhile.
    current: Option<Vec<(String, String)>>,
}

fn day_choices(lang: Lang, chosen: &[String]) -> Vec<Choice> {
    let chosen: Vec<usize> = chosen
        .iter()
        .filter_map(|c| parse_byday(c))
        .map(|(_, day)| day)
        .collect();
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| Choice {
            value: (*d).to_owned(),
            label: text(lang, &format!("day_{}", d.to_lowercase())),
            selected: chosen.contains(&i),
        })
        .collect()
}

/// The row's "which weeks" choice: every week, or an ordinal of the month (`1`, `2`, ..., `-1` = last).
fn week_choices(lang: Lang, days: &[String]) -> Vec<Choice> {
    let ordinal = days.iter().find_map(|d| parse_byday(d).and_then(|(n, _)| n));
    let every = Choice {
        value: String::new(),
        label: text(lang, "every_week"),
        selected: ordinal.is_none(),
    };
    std::iter::once(every)
        .chain([1i8, 2, 3, 4, -1].into_iter().map(|n| Choice {
            value: n.to_string(),
            label: format!("{} {}", text(lang, &format!("ordinal_{n}")), text(lang, "of_month")),
            selected: ordinal == Some(n),
        }))
        .collect()
}

fn schedule_rows(lang: Lang, schedules: &[Schedule]) -> Vec<ScheduleRow> {
    let mut rows: Vec<ScheduleRow> = schedules
        .iter()
        .enumerate()
        .map(|(index, s)| ScheduleRow {
            index,
            days: day_choices(lang, &s.byday),
            weeks: week_choices(lang, &s.byday),
            opens_at: s.opens_at.clone(),
            closes_at: s.closes_at.clone(),
        })
        .collect();
    for _ in 0..SPARE_SCHEDULE_ROWS {
        rows.push(ScheduleRow {
            index: rows.len(),
            days: day_choices(lang, &[]),
            weeks: week_choices(lang, &[]),
            ..Default::default()
        });
    }
    rows
}

/// The stored service's facts as label/value pairs, for the "changed meanwhile" panel.
fn service_summary(lang: Lang, data: &ServiceData) -> Vec<(String, String)> {
    vec![
        (text(lang, "field_name"), data.name.clone()),
        (text(lang, "field_description"), data.description.clone()),
        (
            text(lang, "hours"),
            format::hours_in_words(lang, &data.schedules).join("; "),
        ),
        (
            text(lang, "field_capacity"),
            data.capacity
                .map(|c| text(lang, &format!("capacity_{}", c.as_str())))
                .unwrap_or_default(),
        ),
        (
            text(lang, "ages"),
            format::ages(lang, data.minimum_age, data.maximum_age).unwrap_or_default(),
        ),
        (
            text(lang, "field_gender"),
            text(lang, &format!("gender_{}", data.gender.as_str())),
        ),
        (text(lang, "phone"), data.phone.clone().unwrap_or_default()),
    ]
}

async fn service_view(
    state: &AppState,
    visitor: &Visitor,
    org: Uuid,
    id: Option<Uuid>,
    version: i64,
    data: &ServiceData,
    errors: Vec<FieldProblem>,
) -> Result<ServiceView, ApiError> {
    let lang = visitor.lang;
    // The organization's own places, and the shared ones the service is at already (a partner's form keeps
    // them; the JSON API links any public place).
    let mut locations = own_locations(state, org).await?;
    let shared = shared_locations(state, org, &[data]).await?;
    let shared_ids: Vec<Uuid> = shared.iter().map(|l| l.meta.id).collect();
    locations.extend(shared);
    Ok(ServiceView {
        id,
        version,
        form: ServiceForm {
            name: data.name.clone(),
            description: data.description.clone(),
            minimum_age: data.minimum_age.map(|a| a.to_string()).unwrap_or_default(),
            maximum_age: data.maximum_age.map(|a| a.to_string()).unwrap_or_default(),
            free: data.free,
            fees_description: data.fees_description.clone().unwrap_or_default(),
            eligibility_description: data.eligibility_description.clone().unwrap_or_default(),
            application_process: data.application_process.clone().unwrap_or_default(),
            url: data.url.clone().unwrap_or_default(),
            email: data.email.clone().unwrap_or_default(),
            phone: data.phone.clone().unwrap_or_default(),
        },
        needs: state
            .taxonomy
            .items
            .iter()
            .map(|term| Choice {
                value: term.code.clone(),
                label: need_label(state, lang, &term.code),
                selected: data
                    .needs
                    .iter()
                    .any(|n| n == &term.code || n.starts_with(&format!("{}/", term.code))),
            })
            .collect(),
        languages: LANGUAGES
            .iter()
            .map(|l| Choice {
                value: (*l).to_owned(),
                label: format::language_name(lang, l),
                selected: data.languages.iter().any(|x| x == l),
            })
            .collect(),
        locations: locations
            .iter()
            .filter(|l| l.data.status == RecordStatus::Active || data.location_ids.contains(&l.meta.id))
            .map(|l| Choice {
                value: l.meta.id.to_string(),
                label: if shared_ids.contains(&l.meta.id) {
                    format!("{} ({})", l.data.name, text(lang, "shared_place").to_lowercase())
                } else {
                    l.data.name.clone()
                },
                selected: data.location_ids.contains(&l.meta.id),
            })
            .collect(),
        capacity: Capacity::ALL
            .iter()
            .map(|c| Choice {
                value: c.as_str().to_owned(),
                label: text(lang, &format!("capacity_{}", c.as_str())),
                selected: data.capacity == Some(*c),
            })
            .collect(),
        gender: Gender::ALL
            .iter()
            .map(|g| Choice {
                value: g.as_str().to_owned(),
                label: text(lang, &format!("gender_{}", g.as_str())),
                selected: data.gender == *g,
            })
            .collect(),
        status: ServiceStatus::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: text(lang, &format!("service_status_{}", s.as_str().replace(' ', "-"))),
                selected: data.status == *s,
            })
            .collect(),
        schedules: schedule_rows(lang, &data.schedules),
        errors,
        current: None,
    })
}

/// The form's fields as service data (keeping what the form does not show from `base`), or the fields
/// that are not even numbers.
fn service_from_form(
    lang: Lang,
    fields: &Fields,
    org: Uuid,
    base: Option<&ServiceData>,
) -> (ServiceData, Vec<FieldProblem>) {
    let mut errors = Vec::new();
    let mut age = |name: &str| match fields.get(name) {
        None => None,
        Some(text) => match text.parse::<u32>() {
            Ok(age) => Some(age),
            Err(_) => {
                errors.push(FieldProblem {
                    field: name.to_owned(),
                    message: "must be a whole number of years".into(),
                });
                None
            }
        },
    };
    let minimum_age = age("minimum_age");
    let maximum_age = age("maximum_age");
    // A form without the field keeps what is stored; a value the select does not offer is an error.
    let gender = match fields.get("gender") {
        None => base.map(|b| b.gender).unwrap_or_default(),
        Some(value) => Gender::parse(value).unwrap_or_else(|| {
            errors.push(FieldProblem {
                field: "gender".to_owned(),
                message: text(lang, "error_gender"),
            });
            base.map(|b| b.gender).unwrap_or_default()
        }),
    };
    let mut schedules = Vec::new();
    for i in 0..100 {
        let prefix = format!("schedule-{i}");
        // "First Saturday of the month" is the RFC 5545 code 1SA.
        let ordinal = fields.get(&format!("{prefix}-week")).unwrap_or_default();
        let days: Vec<String> = fields
            .all(&format!("{prefix}-days"))
            .into_iter()
            .map(|day| format!("{ordinal}{day}"))
            .collect();
        let opens = fields.get(&format!("{prefix}-opens")).unwrap_or_default().to_owned();
        let closes = fields.get(&format!("{prefix}-closes")).unwrap_or_default().to_owned();
        if !fields.has(&format!("{prefix}-opens")) {
            break;
        }
        if days.is_empty() && opens.is_empty() && closes.is_empty() {
            continue;
        }
        let row = Schedule {
            freq: entities::directory::Freq::implied_by(&days, &[]),
            interval: 1,
            byday: days,
            opens_at: opens,
            closes_at: closes,
            ..Default::default()
        };
        // A row left as it was keeps what the form does not show (every other week, until, notes, ...).
        let unchanged = base.and_then(|base| {
            base.schedules
                .iter()
                .find(|s| s.byday == row.byday && s.opens_at == row.opens_at && s.closes_at == row.closes_at)
        });
        schedules.push(unchanged.cloned().unwrap_or(row));
    }
    let data = ServiceData {
        name: fields.get("name").unwrap_or_default().to_owned(),
        description: fields.get("description").unwrap_or_default().to_owned(),
        organization_id: org,
        location_ids: fields
            .all("location_ids")
            .into_iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .collect(),
        needs: fields.all("needs").into_iter().map(str::to_owned).collect(),
        minimum_age,
        maximum_age,
        languages: fields.all("languages").into_iter().map(str::to_owned).collect(),
        free: fields.get("free").is_some(),
        fees_description: optional(fields, "fees_description"),
        schedules,
        eligibility_description: optional(fields, "eligibility_description"),
        application_process: optional(fields, "application_process"),
        url: optional(fields, "url"),
        email: optional(fields, "email"),
        phone: optional(fields, "phone"),
        status: fields
            .get("status")
            .and_then(ServiceStatus::parse)
            .unwrap_or(ServiceStatus::Active),
        // Saving the form is checking the listing: it counts as confirmed today.
        assured_date: Some(Utc::now().date_naive()),
        capacity: fields.get("capacity").and_then(Capacity::parse),
        gender,
        service_area: base.and_then(|b| b.service_area.clone()),
    };
    (data, errors)
}

#[handler]
pub async fn service_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    let result = async {
        if id == "new" {
            let data = ServiceData {
                name: String::new(),
                description: String::new(),
                organization_id: org,
                location_ids: Vec::new(),
                needs: Vec::new(),
                minimum_age: None,
                maximum_age: None,
                languages: vec!["da".into()],
                free: true,
                fees_description: None,
                schedules: Vec::new(),
                eligibility_description: None,
                application_process: None,
                url: None,
                email: None,
                phone: None,
                status: ServiceStatus::Active,
                assured_date: None,
                capacity: Some(Capacity::Available),
                gender: Gender::Any,
                service_area: None,
            };
            return service_view(state, visitor, org, None, 0, &data, Vec::new()).await;
        }
        let id = parse_id(&id)?;
        let service = state.store.get_service(id).await?;
        if service.data.organization_id != org {
            return Err(ApiError::Forbidden("not your organization's service".into()));
        }
        service_view(
            state,
            visitor,
            org,
            Some(id),
            service.meta.version,
            &service.data,
            Vec::new(),
        )
        .await
    }
    .await;
    match result {
        Ok(view) => page(visitor, "listing_service.html", view),
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[handler]
pub async fn save_service(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    let lang = visitor.lang;
    let id = match existing(&id) {
        Ok(id) => id,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let current = match id {
        Some(id) => match state.store.get_service(id).await {
            Ok(current) => Some(current),
            Err(error) => return api_error_page(state, visitor, error.into()),
        },
        None => None,
    };
    let (data, mut errors) = service_from_form(lang, &fields, org, current.as_ref().map(|c| &c.data));
    let version = fields.get("version").and_then(|v| v.parse::<i64>().ok());
    let saved = if errors.is_empty() {
        match id {
            Some(id) => writes(state, visitor).replace_service(id, data.clone(), version).await,
            None => writes(state, visitor).create_service(data.clone()).await,
        }
    } else {
        Err(ApiError::Invalid(Vec::new()))
    };
    let (status, conflict) = match saved {
        Ok(saved) => {
            return Redirect::see_other(format!("/listings?saved={}", saved.meta.id)).into_response();
        }
        Err(ApiError::Invalid(invalid)) => {
            errors.extend(problems(invalid));
            (StatusCode::UNPROCESSABLE_ENTITY, false)
        }
        Err(ApiError::PreconditionFailed(_)) => (StatusCode::CONFLICT, true),
        Err(error) => return api_error_page(state, visitor, error),
    };
    // Shown again with what was typed; after a conflict with the stored version beside it.
    let (shown_version, current_summary) = match (conflict, id) {
        (true, Some(id)) => match state.store.get_service(id).await {
            Ok(now) => (now.meta.version, Some(service_summary(lang, &now.data))),
            Err(error) => return api_error_page(state, visitor, error.into()),
        },
        _ => (version.unwrap_or(0), None),
    };
    match service_view(state, visitor, org, id, shown_version, &data, errors).await {
        Ok(mut view) => {
            view.current = current_summary;
            page_with_status(visitor, status, "listing_service.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

// ---- the organisation and its places --------------------------------------------------------------------

#[derive(Serialize)]
struct OrganizationView {
    version: i64,
    name: String,
    description: String,
    website: String,
    email: String,
    phone: String,
    cvr: String,
    kinds: Vec<Choice>,
    errors: Vec<FieldProblem>,
    conflict: bool,
}

fn organization_view(lang: Lang, version: i64, data: &OrganizationData, errors: Vec<FieldProblem>) -> OrganizationView {
    OrganizationView {
        version,
        name: data.name.clone(),
        description: data.description.clone(),
        website: data.website.clone().unwrap_or_default(),
        email: data.email.clone().unwrap_or_default(),
        phone: data.phone.clone().unwrap_or_default(),
        cvr: data.cvr.clone().unwrap_or_default(),
        kinds: OrganizationKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: text(lang, &format!("kind_{}", k.as_str())),
                selected: data.kind == *k,
            })
            .collect(),
        errors,
        conflict: false,
    }
}

#[handler]
pub async fn organization_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    match state.store.get_organization(org).await {
        Ok(o) => page(
            visitor,
            "listing_organization.html",
            organization_view(visitor.lang, o.meta.version, &o.data, Vec::new()),
        ),
        Err(error) => api_error_page(state, visitor, error.into()),
    }
}

#[handler]
pub async fn save_organization(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(fields): Form<Fields>) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    let current = match state.store.get_organization(org).await {
        Ok(current) => current,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let data = OrganizationData {
        name: fields.get("name").unwrap_or_default().to_owned(),
        description: fields.get("description").unwrap_or_default().to_owned(),
        kind: fields
            .get("kind")
            .and_then(OrganizationKind::parse)
            .unwrap_or(current.data.kind),
        website: optional(&fields, "website"),
        email: optional(&fields, "email"),
        phone: optional(&fields, "phone"),
        cvr: optional(&fields, "cvr"),
        status: current.data.status,
    };
    let version = fields.get("version").and_then(|v| v.parse::<i64>().ok());
    match writes(state, visitor)
        .replace_organization(org, data.clone(), version)
        .await
    {
        Ok(_) => Redirect::see_other("/listings").into_response(),
        Err(ApiError::Invalid(invalid)) => page_with_status(
            visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            "listing_organization.html",
            organization_view(visitor.lang, version.unwrap_or(0), &data, problems(invalid)),
        ),
        Err(ApiError::PreconditionFailed(_)) => {
            let mut view = organization_view(visitor.lang, current.meta.version, &data, Vec::new());
            view.conflict = true;
            page_with_status(visitor, StatusCode::CONFLICT, "listing_organization.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[derive(Serialize)]
struct LocationView {
    id: Option<Uuid>,
    version: i64,
    name: String,
    address_1: String,
    postal_code: String,
    city: String,
    latitude: String,
    longitude: String,
    confidential: bool,
    active: bool,
    errors: Vec<FieldProblem>,
    conflict: bool,
}

fn location_view(id: Option<Uuid>, version: i64, data: &LocationData, errors: Vec<FieldProblem>) -> LocationView {
    let address = data.address.clone();
    LocationView {
        id,
        version,
        name: data.name.clone(),
        address_1: address.as_ref().map(|a| a.address_1.clone()).unwrap_or_default(),
        postal_code: address.as_ref().map(|a| a.postal_code.clone()).unwrap_or_default(),
        city: address.map(|a| a.city).unwrap_or_default(),
        latitude: data.latitude.map(|v| v.to_string()).unwrap_or_default(),
        longitude: data.longitude.map(|v| v.to_string()).unwrap_or_default(),
        confidential: data.confidential,
        active: data.status == RecordStatus::Active,
        errors,
        conflict: false,
    }
}

#[handler]
pub async fn location_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    if id == "new" {
        let data = LocationData {
            organization_id: Some(org),
            name: String::new(),
            latitude: None,
            longitude: None,
            address: None,
            confidential: false,
            status: RecordStatus::Active,
        };
        return page(
            visitor,
            "listing_location.html",
            location_view(None, 0, &data, Vec::new()),
        );
    }
    let result = async {
        let id = parse_id(&id)?;
        let location = state.store.get_location(id).await?;
        visitor.caller.actor().may_edit_place(location.data.organization_id)?;
        Ok(location_view(
            Some(id),
            location.meta.version,
            &location.data,
            Vec::new(),
        ))
    }
    .await;
    match result {
        Ok(view) => page(visitor, "listing_location.html", view),
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[handler]
pub async fn save_location(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    let org = match visitor.partner() {
        Ok((_, org)) => org,
        Err(need) => return need.response(state, visitor),
    };
    let id = match existing(&id) {
        Ok(id) => id,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let mut errors = Vec::new();
    let mut coordinate = |name: &str| match fields.get(name) {
        None => None,
        Some(value) => match value.replace(',', ".").parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                errors.push(FieldProblem {
                    field: name.to_owned(),
                    message: text(visitor.lang, "error_coordinate"),
                });
                None
            }
        },
    };
    let (mut latitude, mut longitude) = (coordinate("latitude"), coordinate("longitude"));
    let postal_code = fields.get("postal_code").unwrap_or_default().to_owned();
    // Without coordinates the postcode's centre from the gazetteer places it, roughly, for distances.
    if latitude.is_none()
        && longitude.is_none()
        && let Some(place) = state
            .gazetteer
            .resolve(&postal_code)
            .filter(|_| !postal_code.is_empty())
    {
        latitude = Some(place.latitude);
        longitude = Some(place.longitude);
    }
    let has_address = fields.get("address_1").is_some() || !postal_code.is_empty() || fields.get("city").is_some();
    let data = LocationData {
        organization_id: Some(org),
        name: fields.get("name").unwrap_or_default().to_owned(),
        latitude,
        longitude,
        address: has_address.then(|| Address {
            address_1: fields.get("address_1").unwrap_or_default().to_owned(),
            postal_code: postal_code.clone(),
            city: fields.get("city").unwrap_or_default().to_owned(),
        }),
        confidential: fields.get("confidential").is_some(),
        status: if fields.get("active").is_some() || id.is_none() {
            RecordStatus::Active
        } else {
            RecordStatus::Inactive
        },
    };
    let version = fields.get("version").and_then(|v| v.parse::<i64>().ok());
    let saved = if errors.is_empty() {
        match id {
            Some(id) => writes(state, visitor).replace_location(id, data.clone(), version).await,
            None => writes(state, visitor).create_location(data.clone()).await,
        }
    } else {
        Err(ApiError::Invalid(Vec::new()))
    };
    match saved {
        Ok(_) => Redirect::see_other("/listings").into_response(),
        Err(ApiError::Invalid(invalid)) => {
            errors.extend(problems(invalid));
            page_with_status(
                visitor,
                StatusCode::UNPROCESSABLE_ENTITY,
                "listing_location.html",
                location_view(id, version.unwrap_or(0), &data, errors),
            )
        }
        Err(ApiError::PreconditionFailed(_)) => {
            let current_version = match id {
                Some(id) => state.store.get_location(id).await.map(|l| l.meta.version).unwrap_or(0),
                None => 0,
            };
            let mut view = location_view(id, current_version, &data, Vec::new());
            view.conflict = true;
            page_with_status(visitor, StatusCode::CONFLICT, "listing_location.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

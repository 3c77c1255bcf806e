//! Organizations (`/admin/organizations`): search by name, create (the rules of `POST /v1/organizations`),
//! deactivate (soft, as `DELETE`), and per organization who can act for it — its partner people, with the
//! invitation of the first one, and its partner keys.

use std::collections::HashMap;
use std::sync::Arc;

use entities::directory::{OrganizationData, OrganizationKind, RecordStatus, Role, ServiceStatus};
use entities::store::{Entity, ListFilter, Page};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query, Redirect};
use poem::{IntoResponse, Request, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use super::{admin, no_store, page_links, page_number, parse_id, time};
use crate::directory::DirectoryWrites;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::{Lang, text};
use crate::web::render::{api_error_page, page, page_with_status};
use crate::web::search::{Choice, FieldProblem};
use crate::web::visitor::Visitor;

const PER_PAGE: u64 = 20;
/// The services an organization's page lists.
const SERVICES_SHOWN: u64 = 100;

pub(super) fn kind_label(lang: Lang, kind: OrganizationKind) -> String {
    text(lang, &format!("admin_kind_{}", kind.as_str()))
}

fn status_label(lang: Lang, status: RecordStatus) -> String {
    text(lang, &format!("admin_status_{}", status.as_str()))
}

fn service_status_label(lang: Lang, status: ServiceStatus) -> String {
    let key = match status {
        ServiceStatus::Active => "admin_service_active",
        ServiceStatus::Inactive => "admin_service_inactive",
        ServiceStatus::Defunct => "admin_service_defunct",
        ServiceStatus::TemporarilyClosed => "admin_service_closed",
    };
    text(lang, key)
}

// ---- the list ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct OrganizationRow {
    id: Uuid,
    name: String,
    kind: String,
    status: String,
    status_code: &'static str,
}

#[derive(Serialize)]
struct OrganizationsView {
    q: String,
    status_choices: Vec<Choice>,
    rows: Vec<OrganizationRow>,
    total: u64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

#[handler]
pub async fn organizations_page(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Query(query): Query<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let q = query.get("q").unwrap_or_default().to_owned();
    let status = match query.get("status") {
        Some("all") => None,
        Some(other) => RecordStatus::parse(other).or(Some(RecordStatus::Active)),
        None => Some(RecordStatus::Active),
    };
    let page_no = page_number(query.get("page"));
    let listed = state
        .store
        .organizations_named(
            Some(q.as_str()),
            status,
            Page {
                page: page_no,
                per_page: PER_PAGE,
            },
        )
        .await;
    let (total, organizations) = match listed {
        Ok(listed) => listed,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let status_code = status.map_or("all", RecordStatus::as_str);
    let base = format!(
        "/admin/organizations?{}",
        serde_urlencoded::to_string([("q", q.as_str()), ("status", status_code)]).unwrap_or_default()
    );
    let (prev_url, next_url) = page_links(&base, page_no, total, PER_PAGE);
    let mut status_choices: Vec<Choice> = RecordStatus::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str().to_owned(),
            label: status_label(lang, *s),
            selected: status == Some(*s),
        })
        .collect();
    status_choices.push(Choice {
        value: "all".into(),
        label: text(lang, "admin_status_all"),
        selected: status.is_none(),
    });
    page(
        visitor,
        "admin_organizations.html",
        OrganizationsView {
            q,
            status_choices,
            rows: organizations
                .into_iter()
                .map(|o| OrganizationRow {
                    id: o.meta.id,
                    name: o.data.name,
                    kind: kind_label(lang, o.data.kind),
                    status: status_label(lang, o.data.status),
                    status_code: o.data.status.as_str(),
                })
                .collect(),
            total,
            prev_url,
            next_url,
        },
    )
}

// ---- create ------------------------------------------------------------------------------------------------

#[derive(Serialize, Default)]
struct OrganizationForm {
    name: String,
    description: String,
    kind: String,
    website: String,
    email: String,
    phone: String,
    cvr: String,
}

#[derive(Serialize)]
struct NewOrganizationView {
    form: OrganizationForm,
    kind_choices: Vec<Choice>,
    errors: Vec<FieldProblem>,
}

fn new_organization_view(lang: Lang, form: OrganizationForm, errors: Vec<FieldProblem>) -> NewOrganizationView {
    NewOrganizationView {
        kind_choices: OrganizationKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: kind_label(lang, *k),
                selected: form.kind == k.as_str(),
            })
            .collect(),
        form,
        errors,
    }
}

#[handler]
pub async fn new_organization_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    if let Err(response) = admin(&state, visitor) {
        return response;
    }
    let form = OrganizationForm {
        kind: OrganizationKind::Association.as_str().into(),
        ..Default::default()
    };
    page(
        visitor,
        "admin_organization_new.html",
        new_organization_view(visitor.lang, form, Vec::new()),
    )
}

/// The form field a rule's error path belongs to, and the app's words for it.
fn organization_problem(lang: Lang, path: &str) -> FieldProblem {
    let field = match path {
        "name" | "description" | "kind" | "website" | "email" | "phone" | "cvr" => path,
        _ => "name",
    };
    FieldProblem {
        field: field.to_owned(),
        message: text(lang, &format!("admin_error_org_{field}")),
    }
}

#[handler]
pub async fn create_organization(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let value = |name: &str| fields.get(name).unwrap_or_default().to_owned();
    let form = OrganizationForm {
        name: value("name"),
        description: value("description"),
        kind: value("kind"),
        website: value("website"),
        email: value("email"),
        phone: value("phone"),
        cvr: value("cvr").replace(' ', ""),
    };
    let optional = |text: &str| Some(text.to_owned()).filter(|t| !t.is_empty());
    let mut errors = Vec::new();
    let kind = OrganizationKind::parse(&form.kind);
    if kind.is_none() {
        errors.push(organization_problem(lang, "kind"));
    }
    let data = OrganizationData {
        name: form.name.clone(),
        description: form.description.clone(),
        kind: kind.unwrap_or(OrganizationKind::Other),
        website: optional(&form.website),
        email: optional(&form.email),
        phone: optional(&form.phone),
        cvr: optional(&form.cvr),
        status: RecordStatus::Active,
    };
    // The same rules as POST /v1/organizations; checked here first too, so every field's problem shows at once.
    if let Err(problems) = data.validate() {
        for problem in problems {
            let problem = organization_problem(lang, &problem.path);
            if !errors.iter().any(|e| e.field == problem.field) {
                errors.push(problem);
            }
        }
    }
    if errors.is_empty() {
        let writes = DirectoryWrites {
            state,
            caller: &visitor.caller,
        };
        match writes.create_organization(data).await {
            Ok(created) => {
                return Redirect::see_other(format!("/admin/organizations/{}?created=1", created.meta.id))
                    .into_response();
            }
            Err(ApiError::Invalid(problems)) => {
                errors.extend(problems.iter().map(|p| organization_problem(lang, &p.path)));
            }
            Err(error) => return api_error_page(state, visitor, error),
        }
    }
    page_with_status(
        visitor,
        StatusCode::UNPROCESSABLE_ENTITY,
        "admin_organization_new.html",
        new_organization_view(lang, form, errors),
    )
}

// ---- one organization ------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ServiceRow {
    id: Uuid,
    name: String,
    status: String,
    assured: Option<String>,
    stale: bool,
    full: bool,
}

#[derive(Serialize)]
struct PersonRow {
    id: Uuid,
    email: String,
    name: Option<String>,
    organization_admin: bool,
    state: String,
    state_code: &'static str,
    can_reinvite: bool,
}

#[derive(Serialize)]
pub(super) struct KeyRow {
    pub id: Uuid,
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub organization: Option<String>,
    pub label: Option<String>,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Serialize, Default)]
struct OrganizationView {
    id: Uuid,
    name: String,
    kind: String,
    status: String,
    active: bool,
    description: String,
    website: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    cvr: Option<String>,
    created: String,
    version: i64,
    services: Vec<ServiceRow>,
    services_total: u64,
    people: Vec<PersonRow>,
    keys: Vec<KeyRow>,
    invite_email: String,
    errors: Vec<FieldProblem>,
    conflict: bool,
    created_now: bool,
    deactivated_now: bool,
}

pub(super) fn key_row(
    key: entities::keys::KeyInfo,
    names: &HashMap<Uuid, entities::directory::Organization>,
) -> KeyRow {
    KeyRow {
        id: key.id,
        role: key.role,
        organization_id: key.organization_id,
        organization: key
            .organization_id
            .and_then(|id| names.get(&id))
            .map(|o| o.data.name.clone()),
        label: key.label,
        created: time(key.created_at),
        revoked: key.revoked_at.map(time),
    }
}

async fn organization_view(state: &AppState, visitor: &Visitor, id: Uuid) -> Result<OrganizationView, ApiError> {
    let lang = visitor.lang;
    let organization = state.store.get_organization(id).await?;
    let (services_total, services) = state
        .store
        .list_services(
            &ListFilter {
                organization_id: Some(id),
                ..Default::default()
            },
            Page {
                page: 1,
                per_page: SERVICES_SHOWN,
            },
        )
        .await?;
    let people: Vec<_> = state
        .store
        .list_people()
        .await?
        .into_iter()
        .filter(|p| p.organization_id == Some(id))
        .collect();
    let ids: Vec<Uuid> = people.iter().map(|p| p.id).collect();
    let invited: HashMap<Uuid, chrono::DateTime<chrono::Utc>> =
        state.store.open_invitations(&ids).await?.into_iter().collect();
    let keys = state.store.list_keys(Some(id)).await?;
    let names = HashMap::from([(id, organization.clone())]);
    let data = organization.data;
    Ok(OrganizationView {
        id,
        name: data.name,
        kind: kind_label(lang, data.kind),
        status: status_label(lang, data.status),
        active: data.status == RecordStatus::Active,
        description: data.description,
        website: data.website,
        email: data.email,
        phone: data.phone,
        cvr: data.cvr,
        created: time(organization.meta.created_at),
        version: organization.meta.version,
        services: services
            .into_iter()
            .map(|s| ServiceRow {
                id: s.meta.id,
                name: s.data.name,
                status: service_status_label(lang, s.data.status),
                assured: s.data.assured_date.map(|d| d.to_string()),
                stale: entities::health::is_stale(s.data.assured_date),
                full: s.data.capacity == Some(entities::directory::Capacity::Full),
            })
            .collect(),
        services_total,
        people: people
            .into_iter()
            .map(|p| {
                let (state_code, state) = if p.disabled_at.is_some() {
                    ("disabled", text(lang, "admin_person_disabled"))
                } else if let Some(until) = invited.get(&p.id) {
                    (
                        "invited",
                        text(lang, "admin_person_invited").replace("{}", &until.format("%Y-%m-%d").to_string()),
                    )
                } else if p.must_change_password {
                    ("pending", text(lang, "admin_person_pending"))
                } else {
                    ("active", text(lang, "admin_person_active"))
                };
                PersonRow {
                    id: p.id,
                    email: p.email,
                    name: p.name,
                    organization_admin: p.organization_admin,
                    state,
                    state_code,
                    can_reinvite: p.disabled_at.is_none() && p.must_change_password,
                }
            })
            .collect(),
        keys: keys.into_iter().map(|k| key_row(k, &names)).collect(),
        ..Default::default()
    })
}

#[handler]
pub async fn organization_page(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Query(query): Query<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let Some(id) = parse_id(&id) else {
        return api_error_page(state, visitor, ApiError::NotFound("not found".into()));
    };
    match organization_view(state, visitor, id).await {
        Ok(mut view) => {
            view.created_now = query.has("created");
            view.deactivated_now = query.has("deactivated");
            page(visitor, "admin_organization.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[handler]
pub async fn deactivate_organization(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let Some(id) = parse_id(&id) else {
        return api_error_page(state, visitor, ApiError::NotFound("not found".into()));
    };
    let version = fields.get("version").and_then(|v| v.parse::<i64>().ok());
    let writes = DirectoryWrites {
        state,
        caller: &visitor.caller,
    };
    match writes.deactivate(Entity::Organization, id, version).await {
        Ok(()) => Redirect::see_other(format!("/admin/organizations/{id}?deactivated=1")).into_response(),
        // Someone changed it meanwhile: show it as it is now, never deactivate what was not seen.
        Err(ApiError::PreconditionFailed(_)) => match organization_view(state, visitor, id).await {
            Ok(mut view) => {
                view.conflict = true;
                page_with_status(
                    visitor,
                    StatusCode::PRECONDITION_FAILED,
                    "admin_organization.html",
                    view,
                )
            }
            Err(error) => api_error_page(state, visitor, error),
        },
        Err(error) => api_error_page(state, visitor, error),
    }
}

// ---- invitations -----------------------------------------------------------------------------------------

#[derive(Serialize)]
struct InvitedView {
    email: String,
    organization_id: Option<Uuid>,
    organization: Option<String>,
    link: String,
    path: String,
    expires: String,
}

/// The link to give the invited person: absolute when the request says which host it came to.
fn invitation_link(req: &Request, visitor: &Visitor, token: &str) -> (String, String) {
    let path = format!("/invite/{token}");
    let host = req
        .headers()
        .get(poem::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        });
    let link = match host {
        Some(host) => format!("{}://{host}{path}", if visitor.secure { "https" } else { "http" }),
        None => path.clone(),
    };
    (link, path)
}

fn invited_page(
    req: &Request,
    visitor: &Visitor,
    email: String,
    organization: Option<(Uuid, String)>,
    token: &str,
) -> Response {
    let (link, path) = invitation_link(req, visitor, token);
    let expires = (chrono::Utc::now() + chrono::Duration::days(entities::invites::INVITATION_DAYS))
        .format("%Y-%m-%d")
        .to_string();
    no_store(page(
        visitor,
        "admin_invited.html",
        InvitedView {
            email,
            organization_id: organization.as_ref().map(|(id, _)| *id),
            organization: organization.map(|(_, name)| name),
            link,
            path,
            expires,
        },
    ))
}

/// Invites a partner person of the organization (the first one manages its people): the person is made at
/// once and the page shows the one-time link to send them.
#[handler]
pub async fn invite_partner(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    req: &Request,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    let person = match admin(state, visitor) {
        Ok(person) => person,
        Err(response) => return response,
    };
    let Some(id) = parse_id(&id) else {
        return api_error_page(state, visitor, ApiError::NotFound("not found".into()));
    };
    let organization = match state.store.get_organization(id).await {
        Ok(organization) => organization,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let email = fields.get("email").unwrap_or_default().to_owned();
    let lang = visitor.lang;
    let problem = match state
        .store
        .invite_person(&email, Role::Partner, Some(id), person.id)
        .await
    {
        Ok((invited, token)) => {
            tracing::info!(person = %invited.id, organization = %id, "partner invited");
            return invited_page(req, visitor, invited.email, Some((id, organization.data.name)), &token);
        }
        Err(entities::Error::Invalid(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "admin_error_invite_email"),
        Err(entities::Error::Conflict(_)) => (StatusCode::CONFLICT, "admin_error_invite_exists"),
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    match organization_view(state, visitor, id).await {
        Ok(mut view) => {
            view.invite_email = email;
            view.errors.push(FieldProblem {
                field: "email".into(),
                message: text(lang, problem.1),
            });
            page_with_status(visitor, problem.0, "admin_organization.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

/// A new link for someone who has not chosen a password yet; the old link stops working.
#[handler]
pub async fn reinvite(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    req: &Request,
    Path(id): Path<String>,
) -> Response {
    let state: &AppState = &state;
    let admin_person = match admin(state, visitor) {
        Ok(person) => person,
        Err(response) => return response,
    };
    let Some(id) = parse_id(&id) else {
        return api_error_page(state, visitor, ApiError::NotFound("not found".into()));
    };
    let people = match state.store.list_people().await {
        Ok(people) => people,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let Some(person) = people.into_iter().find(|p| p.id == id) else {
        return api_error_page(state, visitor, ApiError::NotFound("not found".into()));
    };
    let token = match state.store.reinvite(id, admin_person.id).await {
        Ok(token) => token,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let organization = match person.organization_id {
        Some(org) => match state.store.get_organization(org).await {
            Ok(o) => Some((org, o.data.name)),
            Err(error) => return api_error_page(state, visitor, error.into()),
        },
        None => None,
    };
    invited_page(req, visitor, person.email, organization, &token)
}

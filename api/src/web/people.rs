//! A partner organisation's people (`/people`): who can act for it, and — for its organisation admin —
//! inviting a colleague (a one-time link to choose a password) and removing one.

use std::sync::Arc;

use entities::directory::Role;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::text;
use crate::web::render::{api_error_page, page_with_status};
use crate::web::search::FieldProblem;
use crate::web::visitor::Visitor;

#[derive(Serialize)]
struct PersonRow {
    id: Uuid,
    email: String,
    name: String,
    admin: bool,
    state: String,
    is_me: bool,
    removable: bool,
}

#[derive(Serialize, Default)]
struct PeopleView {
    people: Vec<PersonRow>,
    may_manage: bool,
    email: String,
    invite_link: Option<String>,
    errors: Vec<FieldProblem>,
}

async fn view(state: &AppState, visitor: &Visitor, org: Uuid, may_manage: bool) -> Result<PeopleView, ApiError> {
    let me = visitor.person.as_ref().map(|p| p.id);
    let people = state
        .store
        .list_people()
        .await?
        .into_iter()
        .filter(|p| p.organization_id == Some(org))
        .map(|p| {
            let key = if p.disabled_at.is_some() {
                "person_removed"
            } else if p.must_change_password {
                "person_invited"
            } else {
                "person_active"
            };
            PersonRow {
                id: p.id,
                name: p.name.clone().unwrap_or_default(),
                admin: p.organization_admin,
                state: text(visitor.lang, key),
                is_me: Some(p.id) == me,
                removable: may_manage && Some(p.id) != me && p.disabled_at.is_none(),
                email: p.email,
            }
        })
        .collect();
    Ok(PeopleView {
        people,
        may_manage,
        ..Default::default()
    })
}

#[handler]
pub async fn people_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    let (org, may_manage) = match visitor.partner() {
        Ok((person, org)) => (org, person.organization_admin),
        Err(need) => return need.response(&state, visitor),
    };
    match view(&state, visitor, org, may_manage).await {
        Ok(view) => page_with_status(visitor, StatusCode::OK, "people.html", view),
        Err(error) => api_error_page(&state, visitor, error),
    }
}

#[handler]
pub async fn invite(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(fields): Form<Fields>) -> Response {
    let (org, may_manage) = match visitor.partner() {
        Ok((person, org)) => (org, person.organization_admin),
        Err(need) => return need.response(&state, visitor),
    };
    if !may_manage {
        return api_error_page(
            &state,
            visitor,
            ApiError::Forbidden("only the organisation's admin invites".into()),
        );
    }
    let email = fields.get("email").unwrap_or_default().to_owned();
    let me = visitor.person.as_ref().map(|p| p.id).unwrap_or_default();
    let invited = state.store.invite_person(&email, Role::Partner, Some(org), me).await;
    let (status, link, error) = match invited {
        Ok((_, token)) => (StatusCode::OK, Some(format!("/invite/{token}")), None),
        Err(entities::Error::Invalid(_)) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some("error_email")),
        Err(entities::Error::Conflict(_)) => (StatusCode::CONFLICT, None, Some("error_email_taken")),
        Err(error) => return api_error_page(&state, visitor, error.into()),
    };
    match view(&state, visitor, org, may_manage).await {
        Ok(mut view) => {
            view.invite_link = link;
            if let Some(key) = error {
                view.email = email;
                view.errors.push(FieldProblem {
                    field: "email".into(),
                    message: text(visitor.lang, key),
                });
            }
            page_with_status(visitor, status, "people.html", view)
        }
        Err(error) => api_error_page(&state, visitor, error),
    }
}

#[handler]
pub async fn remove(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    let (org, may_manage) = match visitor.partner() {
        Ok((person, org)) => (org, person.organization_admin),
        Err(need) => return need.response(&state, visitor),
    };
    let me = visitor.person.as_ref().map(|p| p.id);
    let target = Uuid::parse_str(&id).ok().filter(|id| Some(*id) != me);
    let people = match state.store.list_people().await {
        Ok(people) => people,
        Err(error) => return api_error_page(&state, visitor, error.into()),
    };
    // Only a colleague of the same organisation, by its admin; anyone else is "not found".
    let Some(person) = target.and_then(|id| {
        people
            .into_iter()
            .find(|p| p.id == id && p.organization_id == Some(org))
    }) else {
        return api_error_page(&state, visitor, ApiError::NotFound("no such colleague".into()));
    };
    if !may_manage {
        return api_error_page(
            &state,
            visitor,
            ApiError::Forbidden("only the organisation's admin removes".into()),
        );
    }
    match state.store.disable_person(&person.email).await {
        Ok(_) => Redirect::see_other("/people").into_response(),
        Err(error) => api_error_page(&state, visitor, error.into()),
    }
}

//! `/notifications`: a person chooses, per kind of mail, at once, once a day or never. Caseworkers choose for
//! answers to their referrals, partners for new referrals and the monthly stale-listing reminder.

use std::sync::Arc;

use entities::directory::Role;
use entities::notifications::{Mode, NoticeKind};
use poem::http::StatusCode;
use poem::web::{Data, Form, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;

use crate::state::AppState;
use crate::web::Fields;
use crate::web::render::{api_error_page, page_with_status};
use crate::web::visitor::Visitor;

#[derive(Serialize)]
struct Choice {
    kind: &'static str,
    mode: &'static str,
}

#[derive(Serialize)]
struct NotificationsView {
    email: String,
    choices: Vec<Choice>,
    modes: Vec<&'static str>,
    saved: bool,
}

const PEOPLE: &[Role] = &[Role::Caseworker, Role::Partner, Role::Admin];

#[handler]
pub async fn notifications_page(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Query(query): Query<Fields>,
) -> Response {
    let person = match visitor.person_with_role(PEOPLE) {
        Ok(person) => person,
        Err(need) => return need.response(&state, visitor),
    };
    let modes = match state.store.notification_modes(person.id).await {
        Ok(modes) => modes,
        Err(error) => return api_error_page(&state, visitor, error.into()),
    };
    let choices = NoticeKind::for_role(person.role)
        .into_iter()
        .map(|kind| Choice {
            kind: kind.as_str(),
            mode: modes.get(&kind).copied().unwrap_or_default().as_str(),
        })
        .collect();
    page_with_status(
        visitor,
        StatusCode::OK,
        "notifications.html",
        NotificationsView {
            email: person.email.clone(),
            choices,
            modes: Mode::ALL.iter().map(|mode| mode.as_str()).collect(),
            saved: query.has("saved"),
        },
    )
}

/// Stores the choices of the form: one field per kind the person's role receives, named as the kind.
#[handler]
pub async fn save_notifications(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(form): Form<Fields>) -> Response {
    let person = match visitor.person_with_role(PEOPLE) {
        Ok(person) => person,
        Err(need) => return need.response(&state, visitor),
    };
    let choices: Vec<(NoticeKind, Mode)> = NoticeKind::for_role(person.role)
        .into_iter()
        .filter_map(|kind| form.get(kind.as_str()).and_then(Mode::parse).map(|mode| (kind, mode)))
        .collect();
    match state.store.set_notification_modes(person.id, choices).await {
        Ok(()) => Redirect::see_other("/notifications?saved").into_response(),
        Err(error) => api_error_page(&state, visitor, error.into()),
    }
}

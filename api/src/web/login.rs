//! Logging in and out, and the language switch.

use std::sync::Arc;

use entities::directory::Role;
use entities::people::LoginFailure;
use poem::http::StatusCode;
use poem::web::{Data, Form, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;

use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::{Lang, text};
use crate::web::render::{error_page, page_with_status};
use crate::web::visitor::{Visitor, lang_cookie, session_cookie};

/// A local path to go back to after a form; anything else (other sites, `//host`) becomes `/`.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Serialize, Default)]
struct LoginView {
    email: String,
    next: String,
    error: Option<String>,
}

fn login_form(visitor: &Visitor, status: StatusCode, view: LoginView) -> Response {
    page_with_status(visitor, status, "login.html", view)
}

#[handler]
pub async fn login_page(visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    login_form(
        visitor,
        StatusCode::OK,
        LoginView {
            next: local_path(query.get("next")),
            ..Default::default()
        },
    )
}

#[handler]
pub async fn login(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(form): Form<Fields>) -> Response {
    let email = form.get("email").unwrap_or_default().to_owned();
    let password = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let next = local_path(form.get("next"));
    let outcome = match state.store.verify_login(&email, password).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "login failed");
            return error_page(&state, visitor, StatusCode::SERVICE_UNAVAILABLE, "error_internal");
        }
    };
    match outcome {
        Ok(person) => match state.store.create_session(person.id).await {
            Ok(token) => {
                tracing::info!(person = %person.id, role = %person.role, "logged in");
                let mut response = Redirect::see_other(next).into_response();
                append_cookie(&mut response, session_cookie(visitor, Some(token)));
                response
            }
            Err(error) => {
                tracing::error!(%error, "creating a session failed");
                error_page(&state, visitor, StatusCode::SERVICE_UNAVAILABLE, "error_internal")
            }
        },
        Err(LoginFailure::UnknownOrWrong) => login_form(
            visitor,
            StatusCode::UNAUTHORIZED,
            LoginView {
                email,
                next,
                error: Some(text(visitor.lang, "login_wrong")),
            },
        ),
        Err(LoginFailure::Locked { until }) => {
            let minutes = (until - chrono::Utc::now()).num_minutes().max(1);
            let mut response = login_form(
                visitor,
                StatusCode::TOO_MANY_REQUESTS,
                LoginView {
                    email,
                    next,
                    error: Some(text(visitor.lang, "login_locked").replace("{}", &minutes.to_string())),
                },
            );
            if let Ok(value) = (minutes * 60).to_string().parse() {
                response.headers_mut().insert(poem::http::header::RETRY_AFTER, value);
            }
            response
        }
    }
}

#[handler]
pub async fn logout(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    if let Some(token) = &visitor.session_token
        && let Err(error) = state.store.end_session(token).await
    {
        tracing::error!(%error, "ending a session failed");
    }
    let mut response = Redirect::see_other("/").into_response();
    append_cookie(&mut response, session_cookie(visitor, None));
    response
}

#[handler]
pub async fn switch_language(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(form): Form<Fields>) -> Response {
    let lang = form.get("lang").and_then(Lang::parse).unwrap_or(visitor.lang.other());
    if let Some(person) = &visitor.person
        && let Err(error) = state.store.set_person_language(person.id, lang.code()).await
    {
        tracing::error!(%error, "storing the language failed");
    }
    let mut response = Redirect::see_other(local_path(form.get("back"))).into_response();
    append_cookie(&mut response, lang_cookie(visitor, lang));
    response
}

pub fn append_cookie(response: &mut Response, cookie: poem::web::cookie::Cookie) {
    if let Ok(value) = cookie.to_string().parse() {
        response.headers_mut().append(poem::http::header::SET_COOKIE, value);
    }
}

#[derive(Serialize, Default)]
struct PasswordView {
    one_time: bool,
    errors: Vec<crate::web::search::FieldProblem>,
}

#[handler]
pub async fn password_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    let person = match visitor.person_with_role(&[Role::Caseworker, Role::Partner, Role::Admin]) {
        Ok(person) => person,
        Err(need) => return need.response(&state, visitor),
    };
    page_with_status(
        visitor,
        StatusCode::OK,
        "password.html",
        PasswordView {
            one_time: person.must_change_password,
            ..Default::default()
        },
    )
}

/// Sets the person's own password; the two fields must agree and the rules' length holds.
#[handler]
pub async fn change_password(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(form): Form<Fields>) -> Response {
    let person = match visitor.person_with_role(&[Role::Caseworker, Role::Partner, Role::Admin]) {
        Ok(person) => person,
        Err(need) => return need.response(&state, visitor),
    };
    let raw = |name: &str| {
        form.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (password, repeated) = (raw("password"), raw("repeat"));
    let problem = |field: &str, key: &str| crate::web::search::FieldProblem {
        field: field.to_owned(),
        message: text(visitor.lang, key).replace("{}", &entities::people::MIN_PASSWORD_CHARS.to_string()),
    };
    let error = if password != repeated {
        Some(problem("repeat", "error_password_repeat"))
    } else {
        match state.store.set_password(person.id, &password).await {
            Ok(()) => None,
            Err(entities::Error::Invalid(_)) => Some(problem("password", "error_password_length")),
            Err(error) => return crate::web::render::api_error_page(&state, visitor, error.into()),
        }
    };
    match error {
        None => Redirect::see_other("/").into_response(),
        Some(error) => page_with_status(
            visitor,
            StatusCode::UNPROCESSABLE_ENTITY,
            "password.html",
            PasswordView {
                one_time: person.must_change_password,
                errors: vec![error],
            },
        ),
    }
}

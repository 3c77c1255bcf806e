//! `/invite/{token}`: an invited person chooses their password through the one-time link they were given
//! (`entities::invites`), then logs in as usual. An unknown, expired or used link says so and changes
//! nothing.

use std::sync::Arc;

use entities::invites::InvitationProblem;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path};
use poem::{Response, handler};
use serde::Serialize;

use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::text;
use crate::web::render::{api_error_page, page_with_status};
use crate::web::search::FieldProblem;
use crate::web::visitor::Visitor;

#[derive(Serialize, Default)]
struct InviteView {
    /// `form`, `done`, or the link's problem: `unknown`, `expired`, `used`.
    state: &'static str,
    email: String,
    token: String,
    errors: Vec<FieldProblem>,
}

/// Not kept by browsers or proxies, and not sent on as a referrer (the token is in the URL).
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        poem::http::header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        poem::http::header::REFERRER_POLICY,
        poem::http::HeaderValue::from_static("no-referrer"),
    );
    response
}

fn problem_page(visitor: &Visitor, problem: InvitationProblem) -> Response {
    let status = match problem {
        InvitationProblem::Unknown => StatusCode::NOT_FOUND,
        InvitationProblem::Expired | InvitationProblem::Used => StatusCode::GONE,
    };
    private(page_with_status(
        visitor,
        status,
        "invite.html",
        InviteView {
            state: problem.as_str(),
            ..Default::default()
        },
    ))
}

#[handler]
pub async fn invite_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(token): Path<String>) -> Response {
    match state.store.invitation(&token).await {
        Ok(Ok(invitation)) => private(page_with_status(
            visitor,
            StatusCode::OK,
            "invite.html",
            InviteView {
                state: "form",
                email: invitation.person.email,
                token,
                errors: Vec::new(),
            },
        )),
        Ok(Err(problem)) => problem_page(visitor, problem),
        Err(error) => api_error_page(&state, visitor, error.into()),
    }
}

#[handler]
pub async fn accept_invite(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(token): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    let invitation = match state.store.invitation(&token).await {
        Ok(Ok(invitation)) => invitation,
        Ok(Err(problem)) => return problem_page(visitor, problem),
        Err(error) => return api_error_page(&state, visitor, error.into()),
    };
    // Passwords as typed: spaces count.
    let raw = |name: &str| {
        form.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (password, repeated) = (raw("password"), raw("repeat"));
    let problem = |field: &str, key: &str| FieldProblem {
        field: field.to_owned(),
        message: text(visitor.lang, key).replace("{}", &entities::people::MIN_PASSWORD_CHARS.to_string()),
    };
    let error = if password != repeated {
        problem("repeat", "error_password_repeat")
    } else {
        match state.store.accept_invitation(&token, &password).await {
            Ok(person) => {
                tracing::info!(person = %person.id, "invitation accepted");
                return private(page_with_status(
                    visitor,
                    StatusCode::OK,
                    "invite.html",
                    InviteView {
                        state: "done",
                        email: person.email,
                        ..Default::default()
                    },
                ));
            }
            Err(entities::Error::Invalid(fields)) if fields.iter().any(|f| f.path == "token") => {
                // Used or expired between the page and the form: say so.
                return match state.store.invitation(&token).await {
                    Ok(Err(problem)) => problem_page(visitor, problem),
                    _ => problem_page(visitor, InvitationProblem::Used),
                };
            }
            Err(entities::Error::Invalid(_)) => problem("password", "error_password_length"),
            Err(error) => return api_error_page(&state, visitor, error.into()),
        }
    };
    private(page_with_status(
        visitor,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invite.html",
        InviteView {
            state: "form",
            email: invitation.person.email,
            token,
            errors: vec![error],
        },
    ))
}

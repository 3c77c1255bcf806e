//! Templates to responses. One environment for the whole app, built once from the embedded template files;
//! undefined variables are errors, so a missing text or field fails loudly (and in the tests) instead of
//! rendering blank.

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior, context};
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde::Serialize;

use crate::state::AppState;
use crate::web::i18n::{self, Lang};
use crate::web::visitor::Visitor;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/templates/"]
struct TemplateFiles;

/// The template environment.
pub struct Templates;

/// Every embedded template, parsed; the first broken one is the error.
fn environment() -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for name in TemplateFiles::iter() {
        let file = TemplateFiles::get(&name).ok_or_else(|| format!("template {name} is listed but missing"))?;
        let source = String::from_utf8(file.data.into_owned()).map_err(|_| format!("template {name} is not UTF-8"))?;
        env.add_template_owned(name.to_string(), source)
            .map_err(|error| format!("template {name}: {error}"))?;
    }
    if env.templates().next().is_none() {
        return Err("no templates embedded".into());
    }
    Ok(env)
}

static ENVIRONMENT: LazyLock<Environment<'static>> =
    LazyLock::new(|| environment().unwrap_or_else(|error| panic!("{error}")));

impl Templates {
    /// Parses every template, so that `serve` refuses to start with a broken one instead of failing every
    /// page later.
    pub fn check() -> Result<(), String> {
        environment().map(drop)
    }
}

/// What every page knows besides its own view.
#[derive(Serialize)]
struct Frame<'a> {
    lang: Lang,
    other_lang: Lang,
    csrf: &'a str,
    role: &'static str,
    person_name: Option<String>,
    path: &'a str,
    path_and_query: &'a str,
    new_referrals: u64,
}

fn frame<'a>(visitor: &'a Visitor, path: &'a str) -> Frame<'a> {
    Frame {
        lang: visitor.lang,
        other_lang: visitor.lang.other(),
        csrf: &visitor.csrf,
        role: visitor.caller.role_name(),
        person_name: visitor
            .person
            .as_ref()
            .map(|p| p.name.clone().unwrap_or_else(|| p.email.clone())),
        path,
        path_and_query: &visitor.path_and_query,
        new_referrals: visitor.new_referrals,
    }
}

/// Renders `template` with `view` as `page` (and the frame, and the texts as `t`) into an HTML body.
pub fn render_html(visitor: &Visitor, template: &str, view: impl Serialize) -> Result<String, minijinja::Error> {
    let tmpl = ENVIRONMENT.get_template(template)?;
    tmpl.render(context! {
        t => i18n::texts(visitor.lang),
        frame => frame(visitor, &visitor.path),
        page => view,
    })
}

/// A page with status 200.
pub fn page(visitor: &Visitor, template: &str, view: impl Serialize) -> Response {
    page_with_status(visitor, StatusCode::OK, template, view)
}

/// A piece of a page for htmx to swap in (its template does not extend the layout).
pub fn fragment(visitor: &Visitor, template: &str, view: impl Serialize) -> Response {
    page_with_status(visitor, StatusCode::OK, template, view)
}

pub fn page_with_status(visitor: &Visitor, status: StatusCode, template: &str, view: impl Serialize) -> Response {
    match render_html(visitor, template, view) {
        Ok(html) => poem::web::Html(html).with_status(status).into_response(),
        Err(error) => {
            tracing::error!(%error, template, "template failed");
            poem::web::Html("<!DOCTYPE html><html lang=\"da\"><title>Fejl</title><h1>Der skete en fejl</h1></html>")
                .with_status(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
    }
}

/// An error page (404, 403, 500, ...) whose heading and text come from the texts under `key`.
pub fn error_page(_state: &AppState, visitor: &Visitor, status: StatusCode, key: &str) -> Response {
    #[derive(Serialize)]
    struct ErrorView {
        status: u16,
        title: String,
        text: String,
    }
    page_with_status(
        visitor,
        status,
        "error.html",
        ErrorView {
            status: status.as_u16(),
            title: i18n::text(visitor.lang, key),
            text: i18n::text(visitor.lang, &format!("{key}_text")),
        },
    )
}

/// The page for an error of the shared rules (`ApiError`): 404/403/... pages, 500 logged.
pub fn api_error_page(state: &AppState, visitor: &Visitor, error: crate::problem::ApiError) -> Response {
    let status = error.status();
    let key = match status {
        StatusCode::NOT_FOUND => "error_not_found",
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "error_forbidden",
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => "error_conflict",
        s if s.is_client_error() => "error_bad_request",
        _ => {
            tracing::error!(error = %error, "web page failed");
            "error_internal"
        }
    };
    error_page(state, visitor, status, key)
}

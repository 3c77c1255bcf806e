//! One log line and one metrics observation per request, under a request id: `X-Request-Id` as the client
//! sent it (when it is a sane token) or a new one, echoed in the response and carried by every log line the
//! request causes. Never logged: the key, the query string, a family reference.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// Facts learnt deeper in the stack that the request's log line reports: who called.
#[derive(Clone, Default)]
pub struct RequestFacts {
    role: Arc<OnceLock<&'static str>>,
}

impl RequestFacts {
    pub fn set_role(&self, role: &'static str) {
        let _ = self.role.set(role);
    }
}

/// The client's request id when it is 1 to 128 characters of letters, digits, `-`, `_`, `.`, `:`; else None.
fn client_request_id(req: &Request) -> Option<String> {
    let id = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let sane = (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    sane.then(|| id.to_owned())
}

/// The route a path belongs to, from a bounded set: an API path template (`/v1/services/{id}`), an
/// operational path, a web app section, or `unmatched`.
pub fn route_label(document: &serde_json::Value, path: &str) -> String {
    const OPERATIONAL: &[&str] = &[
        "/openapi.json",
        "/docs",
        "/docs/",
        "/health",
        "/ready",
        "/metrics",
        "/hsds/",
    ];
    if let Some(template) = crate::spec::find_template(document, path) {
        return template.to_owned();
    }
    if let Some(known) = OPERATIONAL.iter().find(|known| **known == path) {
        return (*known).to_owned();
    }
    match crate::web::section(path) {
        Some(section) => format!("web:{section}"),
        None => "unmatched".to_owned(),
    }
}

pub async fn log_request<E: Endpoint>(
    next: E,
    mut req: Request,
    state: Arc<AppState>,
    document: Arc<serde_json::Value>,
) -> poem::Result<Response> {
    let started = Instant::now();
    let request_id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let facts = RequestFacts::default();
    req.extensions_mut().insert(facts.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = route_label(&document, &path);
    let span = tracing::info_span!("request", request_id = %request_id);
    let response = async {
        let response = next.call(req).await?.into_response();
        Ok::<_, poem::Error>(crate::problem::with_instance(&path, response).await)
    }
    .instrument(span.clone())
    .await;
    let mut response = match response {
        Ok(response) => response,
        Err(error) => crate::problem::render_error(error).await,
    };
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.observe(&route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            status,
            duration_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0,
            role = facts.role.get().copied().unwrap_or("anonymous"),
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_share_one_label() {
        let document = serde_json::json!({ "paths": { "/v1/services/{id}": { "get": {} } } });
        assert_eq!(route_label(&document, "/v1/services/42"), "/v1/services/{id}");
        assert_eq!(route_label(&document, "/metrics"), "/metrics");
        assert_eq!(route_label(&document, "/wp-admin/x\"y"), "unmatched");
        assert_eq!(route_label(&document, "/v1/nothing/here"), "unmatched");
    }
}

//! Cross-origin requests from browser apps. The public directory (GET of services, organizations, locations,
//! search, needs, places, changes, goal kinds, `/hsds`, the spec) answers any origin, without credentials;
//! everything else, and any request from an origin listed in `BROBYGGER_CORS_ORIGINS`, only those origins,
//! with `Authorization` allowed. Preflights are answered here (204), never by the API's 405.

use std::sync::Arc;

use poem::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Request headers a browser app may send.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id";
/// Request headers any origin may send to the public directory: no `Authorization`.
const PUBLIC_HEADERS: &str = "Content-Type, If-None-Match, X-Request-Id";
/// Response headers a browser app may read.
const EXPOSED_HEADERS: &str = "ETag, Link, Location, Retry-After, X-Request-Id, X-Total-Count";
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";

/// The paths whose GET answers anybody: the public directory.
fn is_public_read(method: &Method, path: &str) -> bool {
    const PUBLIC: &[&str] = &[
        "/v1/services",
        "/v1/organizations",
        "/v1/locations",
        "/v1/search",
        "/v1/needs",
        "/v1/places",
        "/v1/changes",
        "/v1/goal-kinds",
        "/hsds",
        "/openapi.json",
        "/health",
    ];
    (*method == Method::GET || *method == Method::HEAD)
        && PUBLIC
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

/// What a request from `origin` to `method path` may see.
enum Grant {
    /// A listed origin: echoed, with `Authorization`.
    Listed(HeaderValue),
    /// The public directory: `*`, without `Authorization`.
    Anyone,
    None,
}

fn grant(origins: &[String], origin: &HeaderValue, method: &Method, path: &str) -> Grant {
    if origin
        .to_str()
        .is_ok_and(|o| origins.iter().any(|allowed| allowed == o))
    {
        Grant::Listed(origin.clone())
    } else if is_public_read(method, path) {
        Grant::Anyone
    } else {
        Grant::None
    }
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

pub async fn cors<E: Endpoint>(next: E, req: Request, origins: Arc<Vec<String>>) -> poem::Result<Response> {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let path = req.uri().path().to_owned();
    let preflight_method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
    if req.method() == Method::OPTIONS
        && let Some(method) = preflight_method
    {
        let mut response = Response::builder().status(StatusCode::NO_CONTENT).finish();
        let headers = response.headers_mut();
        set(headers, header::VARY, "Origin");
        match grant(&origins, &origin, &method, &path) {
            Grant::Listed(origin) => {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS);
                set(headers, header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS);
                set(headers, header::ACCESS_CONTROL_MAX_AGE, "600");
            }
            Grant::Anyone => {
                set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
                set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD");
                set(headers, header::ACCESS_CONTROL_ALLOW_HEADERS, PUBLIC_HEADERS);
                set(headers, header::ACCESS_CONTROL_MAX_AGE, "600");
            }
            Grant::None => {}
        }
        return Ok(response);
    }
    let method = req.method().clone();
    let mut response = next.call(req).await?.into_response();
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    match grant(&origins, &origin, &method, &path) {
        Grant::Listed(origin) => {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            set(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED_HEADERS);
        }
        Grant::Anyone => {
            set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
            set(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED_HEADERS);
        }
        Grant::None => {}
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_directory_is_readable_by_anyone_and_nothing_else_is() {
        assert!(is_public_read(&Method::GET, "/v1/services"));
        assert!(is_public_read(&Method::GET, "/v1/services/0f8a"));
        assert!(is_public_read(&Method::GET, "/hsds/services"));
        assert!(!is_public_read(&Method::POST, "/v1/services"));
        assert!(!is_public_read(&Method::GET, "/v1/referrals"));
        assert!(!is_public_read(&Method::GET, "/v1/servicesx"));
        assert!(!is_public_read(&Method::GET, "/v1/audit"));
    }
}

//! RFC 9457 problem details: the one place where errors of every layer become HTTP responses.

use poem::Response;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request document.
#[derive(Clone, Debug, Object)]
pub struct ProblemField {
    /// Path of the field inside the document, e.g. `schedules/0/opens_at`.
    pub path: String,
    pub reason: String,
}

/// RFC 9457 problem details.
#[derive(Clone, Debug, Object)]
pub struct Problem {
    /// A URI naming the kind of problem, stable for clients to branch on (see `docs/problems.md`):
    /// `https://brobygger.example.org/problems/validation`, `…/not-found`, …
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The path of the request that had the problem.
    #[oai(skip_serializing_if_is_none)]
    pub instance: Option<String>,
    /// Every invalid field, for validation problems (422); absent otherwise.
    #[oai(default, skip_serializing_if_is_empty)]
    pub errors: Vec<ProblemField>,
}

/// The kinds of problem and their `type` URIs, one per status the service answers with (`docs/problems.md`).
pub const PROBLEM_TYPES: &[(u16, &str)] = &[
    (400, "bad-request"),
    (401, "unauthenticated"),
    (403, "forbidden"),
    (404, "not-found"),
    (405, "method-not-allowed"),
    (409, "conflict"),
    (412, "precondition-failed"),
    (413, "payload-too-large"),
    (414, "uri-too-long"),
    (415, "unsupported-media-type"),
    (422, "validation"),
    (429, "rate-limited"),
    (500, "internal"),
    (503, "unavailable"),
];

/// Where the problem kinds are named.
pub const PROBLEM_TYPE_BASE: &str = "https://brobygger.example.org/problems/";

/// The `type` URI of a problem with `status`; `about:blank` for a status without a kind of its own.
pub fn problem_type(status: StatusCode) -> String {
    PROBLEM_TYPES
        .iter()
        .find(|(code, _)| *code == status.as_u16())
        .map_or_else(
            || "about:blank".to_owned(),
            |(_, kind)| format!("{PROBLEM_TYPE_BASE}{kind}"),
        )
}

/// The errors an endpoint can answer with. Each variant maps to one status in `status()`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("the request is invalid")]
    Invalid(Vec<entities::FieldError>),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            ApiError::Invalid(fields) => (
                format!("{} invalid field(s)", fields.len()),
                fields
                    .iter()
                    .map(|f| ProblemField {
                        path: f.path.clone(),
                        reason: f.reason.clone(),
                    })
                    .collect(),
            ),
            ApiError::Internal(cause) => {
                // Logged, never shown: it may name tables, files or queries.
                tracing::error!(%cause, "internal error");
                ("an internal error occurred; it has been logged".to_owned(), vec![])
            }
            other => (other.to_string(), vec![]),
        };
        Problem {
            kind: problem_type(status),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            instance: None,
            errors,
        }
    }
}

impl From<entities::Error> for ApiError {
    fn from(error: entities::Error) -> Self {
        use entities::Error as E;
        match error {
            E::NotFound { .. } => ApiError::NotFound(error.to_string()),
            E::Invalid(fields) => ApiError::Invalid(fields),
            E::VersionMismatch { .. } => ApiError::PreconditionFailed(error.to_string()),
            E::Conflict(message) => ApiError::Conflict(message),
            E::Forbidden(message) => ApiError::Forbidden(message),
            E::Database(_) | E::Io(_) | E::Corrupt(_) => ApiError::Internal(error.to_string()),
            E::Transition(refused) => {
                use entities::referral_rules::TransitionError as T;
                match refused {
                    T::Illegal { .. } => ApiError::Conflict(refused.to_string()),
                    T::NotAllowedFor { .. } => ApiError::Forbidden(refused.to_string()),
                    T::ReasonRequired { .. } | T::UnknownReason { .. } | T::ReasonTooLong { .. } => {
                        ApiError::Invalid(vec![entities::FieldError::new("reason", refused.to_string())])
                    }
                }
            }
        }
    }
}

/// Error responses as documented in the OpenAPI spec.
#[derive(ApiResponse, Debug)]
pub enum ProblemResponse {
    /// Malformed request: bad JSON, wrong type, bad parameter.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Box<Problem>>),
    /// Missing or unknown API key.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Box<Problem>>),
    /// The key's role or organization may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Box<Problem>>),
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Box<Problem>>),
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Box<Problem>>),
    /// `If-Match` names a version that is no longer current.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Box<Problem>>),
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Box<Problem>>),
    /// The document is well-formed but breaks a rule; `errors` lists each field.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Box<Problem>>),
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Box<Problem>>),
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Box<Problem>>),
}

impl From<ApiError> for ProblemResponse {
    fn from(error: ApiError) -> Self {
        let problem = Json(Box::new(error.to_problem()));
        match error {
            ApiError::BadRequest(_) => ProblemResponse::BadRequest(problem),
            ApiError::Unauthorized(_) => ProblemResponse::Unauthorized(problem),
            ApiError::Forbidden(_) => ProblemResponse::Forbidden(problem),
            ApiError::NotFound(_) => ProblemResponse::NotFound(problem),
            ApiError::Conflict(_) => ProblemResponse::Conflict(problem),
            ApiError::PreconditionFailed(_) => ProblemResponse::PreconditionFailed(problem),
            ApiError::PayloadTooLarge(_) => ProblemResponse::PayloadTooLarge(problem),
            ApiError::Invalid(_) => ProblemResponse::Unprocessable(problem),
            ApiError::Unavailable(_) => ProblemResponse::Unavailable(problem),
            ApiError::Internal(_) => ProblemResponse::Internal(problem),
        }
    }
}

impl From<entities::Error> for ProblemResponse {
    fn from(error: entities::Error) -> Self {
        ApiError::from(error).into()
    }
}

/// Result type of every endpoint.
pub type ApiResult<T> = Result<T, ProblemResponse>;

/// A bare problem response for errors raised outside the typed endpoints (routing, parsing, middleware).
pub fn problem_response(status: StatusCode, detail: String) -> Response {
    let problem = Problem {
        kind: problem_type(status),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        instance: None,
        errors: vec![],
    };
    let body = poem_openapi::types::ToJSON::to_json(&problem).unwrap_or_default();
    Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON)
        .body(body.to_string())
}

/// Turns any error that reached the top (poem-openapi parse errors, 404 for unknown paths, 405...) into
/// problem+json, leaving responses that already are problem+json alone.
pub async fn render_error(error: poem::Error) -> Response {
    let status = error.status();
    let detail = error.to_string();
    let response = error.into_response();
    let already_problem = response
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if already_problem {
        return response;
    }
    let detail = if detail.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        detail
    };
    problem_response(status, detail)
}

/// Adds the request path as `instance` to a problem+json response that has none (RFC 9457): the typed
/// endpoints build their problems without knowing the path.
pub async fn with_instance(path: &str, response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if !is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut problem)) => {
            problem
                .entry("instance")
                .or_insert_with(|| serde_json::Value::String(path.to_owned()));
            serde_json::Value::Object(problem).to_string().into_bytes()
        }
        _ => bytes.to_vec(),
    };
    Response::from_parts(parts, poem::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_kind_has_its_own_type() {
        let mut kinds: Vec<&str> = PROBLEM_TYPES.iter().map(|(_, kind)| *kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), PROBLEM_TYPES.len());
        assert_eq!(
            problem_type(StatusCode::UNPROCESSABLE_ENTITY),
            "https://brobygger.example.org/problems/validation"
        );
        assert_eq!(problem_type(StatusCode::IM_A_TEAPOT), "about:blank");
        let docs = include_str!("../../docs/problems.md");
        for (status, kind) in PROBLEM_TYPES {
            assert!(
                docs.contains(&format!("| {status} | `{kind}` |")),
                "docs/problems.md lacks {status} {kind}"
            );
        }
    }
}

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
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every invalid field, for validation problems.
    #[oai(skip_serializing_if_is_empty)]
    pub errors: Vec<ProblemField>,
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
        let (kind, detail, errors) = match self {
            ApiError::Invalid(fields) => (
                "https://brobygger.example.org/problems/validation",
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
                (
                    "about:blank",
                    "an internal error occurred; it has been logged".to_owned(),
                    vec![],
                )
            }
            other => ("about:blank", other.to_string(), vec![]),
        };
        Problem {
            kind: kind.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
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
            E::Database(_) | E::Io(_) => ApiError::Internal(error.to_string()),
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
    BadRequest(Json<Problem>),
    /// Missing or unknown API key.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The key's role or organization may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// `If-Match` names a version that is no longer current.
    #[oai(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Json<Problem>),
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The document is well-formed but breaks a rule; `errors` lists each field.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

impl From<ApiError> for ProblemResponse {
    fn from(error: ApiError) -> Self {
        let problem = Json(error.to_problem());
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
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
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

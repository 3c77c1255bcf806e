use serde::Serialize;

/// One problem with one field of an input document; `path` is a JSON pointer-like path (`schedules/0/opens_at`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub path: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The one error type of the data layer. `api/` maps each variant to an HTTP status in one place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.path, e.reason)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("the {entity} has changed since it was read (current version {current})")]
    VersionMismatch { entity: &'static str, current: i64 },
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this to this record (a partner outside its organization, a place it does not own).
    #[error("{0}")]
    Forbidden(String),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Io(String),
    /// A stored row that does not parse (an unknown status, kind, ...): answered as a server error and
    /// logged, never read as a default.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A referral status change the state machine refuses (illegal step, wrong actor, bad reason).
    #[error("{0}")]
    Transition(#[from] crate::referral_rules::TransitionError),
}

impl Error {
    pub fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError::new(path, reason)])
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

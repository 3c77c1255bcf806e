//! Requests per minute per API key, or per client IP address for anonymous callers, over the API (the web
//! app's people are not limited: a whole office may share one address; nor are `/health`, `/ready`, `/metrics`). Past the limit: 429 with
//! `Retry-After`.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::auth::Caller;
use crate::problem::problem_response;
use crate::state::AppState;

/// Who a request counts against.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Client {
    Key(uuid::Uuid),
    Address(String),
}

pub struct Limiter {
    limiter: DefaultKeyedRateLimiter<Client>,
    per_minute: NonZeroU32,
}

impl Limiter {
    /// `per_minute` requests a minute, all of which may come at once.
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(per_minute)),
            per_minute,
        }
    }

    /// Forgets clients whose allowance is full again, so memory stays bounded by the clients of the last minute.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }

    /// `Err(seconds)` to wait when `client` is over the limit.
    fn check(&self, client: &Client) -> Result<(), u64> {
        self.limiter.check_key(client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

pub async fn limit<E: Endpoint>(next: E, req: Request, state: Arc<AppState>) -> poem::Result<Response> {
    // Monitoring is never limited, nor the web app's people.
    let path = req.uri().path();
    let Some(limiter) = &state.rate_limiter else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    if crate::web::is_web_path(path) || matches!(path, "/health" | "/ready" | "/metrics") {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let client = match req.extensions().get::<Caller>().and_then(|caller| caller.key_id) {
        Some(key) => Client::Key(key),
        None => Client::Address(
            req.remote_addr()
                .as_socket_addr()
                .map_or_else(|| "unknown".to_owned(), |address| address.ip().to_string()),
        ),
    };
    if let Err(seconds) = limiter.check(&client) {
        let mut response = problem_response(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "more than {} requests a minute from this client; retry in {seconds} s",
                limiter.per_minute
            ),
        );
        response.headers_mut().insert(
            poem::http::header::RETRY_AFTER,
            poem::http::HeaderValue::from(seconds.max(1)),
        );
        return Ok(response);
    }
    next.call(req).await.map(IntoResponse::into_response)
}

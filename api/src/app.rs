//! Builds the HTTP application and runs it. `serve` takes a bound listener and a shutdown future, so tests
//! bind port 0 and stop the server when they are done.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::http::{Method, StatusCode};
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler};
use poem_openapi::OpenApiService;

use crate::catalog::CatalogApi;
use crate::directory::DirectoryApi;
use crate::hsds::HsdsApi;
use crate::keys::KeyApi;
use crate::plans::PlanApi;
use crate::problem::{ApiError, ProblemResponse, problem_response, render_error};
use crate::referrals::ReferralApi;
use crate::search::SearchApi;
use crate::state::AppState;
use crate::webhooks::WebhookApi;

/// Request bodies above this are refused with 413; the HSDS import has its own, larger limit.
pub const BODY_LIMIT: usize = 1024 * 1024;
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Settings of a running server.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub data_dir: PathBuf,
    pub seed: bool,
    /// The server secret keying referral `family_ref` hashes; None: `<data dir>/secret.key`, created once.
    pub secret: Option<String>,
    pub http: HttpSettings,
    pub webhooks: crate::webhook_worker::WebhookSettings,
    /// E-mail notifications: SMTP server, sender, the public address for links.
    pub mail: crate::mail::MailSettings,
}

/// How the API treats browsers and busy clients.
#[derive(Clone, Debug, Default)]
pub struct HttpSettings {
    /// Origins whose browser apps may call every endpoint (`BROBYGGER_CORS_ORIGINS`); the public directory
    /// answers any origin.
    pub cors_origins: Vec<String>,
    /// Requests a minute per API key or anonymous client address (`BROBYGGER_RATE_LIMIT`); None: unlimited.
    pub rate_limit_per_minute: Option<std::num::NonZeroU32>,
}

/// Every OpenAPI endpoint group of the service; add a new group here.
pub type Apis = (
    DirectoryApi,
    SearchApi,
    CatalogApi,
    ReferralApi,
    PlanApi,
    HsdsApi,
    KeyApi,
    WebhookApi,
);

fn apis(state: Arc<AppState>) -> Apis {
    (
        DirectoryApi { state: state.clone() },
        SearchApi { state: state.clone() },
        CatalogApi { state: state.clone() },
        ReferralApi { state: state.clone() },
        PlanApi { state: state.clone() },
        HsdsApi { state: state.clone() },
        KeyApi { state: state.clone() },
        WebhookApi { state },
    )
}

pub fn api_service(state: Arc<AppState>) -> OpenApiService<Apis, ()> {
    OpenApiService::new(apis(state), "Brobygger", env!("CARGO_PKG_VERSION"))
        .description(include_str!("../../docs/api-intro.md"))
        .license(poem_openapi::LicenseObject::new("AGPL-3.0-or-later"))
        .server("/")
}

/// The OpenAPI document, as committed in `openapi/openapi.json`.
pub fn openapi_json(state: Arc<AppState>) -> String {
    let document = crate::spec::finish(&api_service(state).spec());
    serde_json::to_string_pretty(&document).expect("a JSON value serialises")
}

/// Refuses a JSON body whose values are of another type than the spec says (a number for a string, ...) with
/// 400, like poem-openapi's own type errors, before poem-openapi would coerce it.
async fn check_body_types<E: Endpoint>(
    next: E,
    mut req: Request,
    document: Arc<serde_json::Value>,
) -> poem::Result<Response> {
    let has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    let is_json = req.content_type().is_some_and(|kind| kind.contains("json"));
    if has_body && is_json && !req.uri().path().starts_with("/v1/import") {
        let method = req.method().as_str().to_owned();
        if let Some(operation) = crate::spec::find_operation(&document, &method, req.uri().path()) {
            let bytes = req.take_body().into_bytes().await?;
            if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                let wrong = crate::spec::check_body(&document, operation, &body);
                if !wrong.is_empty() {
                    let fields: Vec<String> = wrong
                        .into_iter()
                        .map(|(path, expected)| format!("`{}` must be a JSON {expected}", path.trim_start_matches('/')))
                        .collect();
                    return Ok(ProblemResponse::from(ApiError::BadRequest(fields.join("; "))).into_response());
                }
            }
            req.set_body(bytes);
        }
    }
    next.call(req).await.map(IntoResponse::into_response)
}

#[handler]
fn hsds_root() -> poem::web::Redirect {
    poem::web::Redirect::permanent("/hsds")
}

#[handler]
fn docs_root() -> poem::web::Redirect {
    poem::web::Redirect::permanent("/docs")
}

#[handler]
fn health() -> poem::web::Json<serde_json::Value> {
    poem::web::Json(serde_json::json!({"status": "ok"}))
}

#[handler]
async fn ready(state: Data<&Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => poem::web::Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(error) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database not reachable: {error}"),
        ),
    }
}

#[handler]
async fn metrics(state: Data<&Arc<AppState>>) -> Response {
    let text = crate::metrics::scrape(&state).await;
    Response::builder().content_type("text/plain; version=0.0.4").body(text)
}

/// Longest request target (path and query) answered; a longer one is 414. (hyper itself answers a bare 414 past
/// 64 KiB, before any of this runs.)
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// Refuses a request target that is too long (414) or whose percent-decoded path or query is not UTF-8 (400):
/// decoded leniently, `q=%FF%FE` would become replacement characters and search for nothing in particular.
async fn check_url<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    if target.len() > MAX_URL_BYTES {
        return Ok(problem_response(
            StatusCode::URI_TOO_LONG,
            format!("the URL is longer than {MAX_URL_BYTES} bytes"),
        ));
    }
    let path_ok = std::str::from_utf8(&percent_decode(req.uri().path())).is_ok();
    let query_ok = req.uri().query().is_none_or(|query| {
        query
            .split('&')
            .all(|pair| std::str::from_utf8(&percent_decode(&pair.replace('+', " "))).is_ok())
    });
    if !(path_ok && query_ok) {
        return Ok(problem_response(
            StatusCode::BAD_REQUEST,
            "the URL's path or query is not valid UTF-8 once percent-decoded".into(),
        ));
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The bytes `%XX` escapes stand for; anything else as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    decoded
}

/// Refuses bodies over `limit` bytes: by `Content-Length` when given, otherwise by reading at most `limit + 1`.
async fn limit_body<E: Endpoint>(next: E, mut req: Request, limit: usize) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        Ok(problem_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {limit} bytes"),
        ))
    };
    match declared {
        Some(length) if length > limit => return too_large(),
        Some(_) => {}
        None if req.headers().contains_key(poem::http::header::TRANSFER_ENCODING) => {
            let body = req.take_body();
            let mut bytes = Vec::new();
            let mut reader = body.into_async_read();
            let mut limited = tokio::io::AsyncReadExt::take(&mut reader, limit as u64 + 1);
            tokio::io::AsyncReadExt::read_to_end(&mut limited, &mut bytes)
                .await
                .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?;
            if bytes.len() > limit {
                return too_large();
            }
            req.set_body(bytes);
        }
        None => {}
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// Sends the web app's paths to the web app and everything else to the API. (The API is nested at `/`, so
/// the two cannot share one route table.)
struct WebOrApi<W, A> {
    web: W,
    api: A,
}

impl<W: Endpoint, A: Endpoint> Endpoint for WebOrApi<W, A> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if crate::web::is_web_path(req.uri().path()) {
            self.web.call(req).await.map(IntoResponse::into_response)
        } else {
            self.api.call(req).await.map(IntoResponse::into_response)
        }
    }
}

/// The whole application: web app, API, docs, operational endpoints, with auth, limits, CORS, compression,
/// conditional GETs, request logs, metrics and problem+json.
pub fn build_app(state: Arc<AppState>) -> impl Endpoint<Output = Response> {
    let api = api_service(state.clone());
    let raw = api.spec();
    let document = Arc::new(crate::spec::finish(&raw));
    let document_text = serde_json::to_string_pretty(&*document).expect("a JSON value serialises");
    // poem-openapi's Swagger UI page embeds its own document; show the finished one instead.
    let docs_html = api.swagger_ui_html().replacen(&raw, &document_text, 1);
    let spec = make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(document_text.clone())
    });
    let docs = make_sync(move |_| poem::web::Html(docs_html.clone()));
    let body_document = document.clone();
    let api_routes = Route::new()
        .nest("/", api)
        .at("/openapi.json", get(spec))
        .at("/docs", get(docs))
        .at("/docs/", get(docs_root))
        // HSDS clients call the API root as `/hsds/`; poem-openapi routes it as `/hsds`.
        .at("/hsds/", get(hsds_root))
        .at("/health", get(health))
        .at("/ready", get(ready))
        .at("/metrics", get(metrics))
        .around(move |next, req| check_body_types(next, req, body_document.clone()))
        .around(crate::get_headers::get_headers)
        // Boxed to keep the middleware stack's type shallow enough for the compiler.
        .boxed();
    let limit_state = state.clone();
    let log_state = state.clone();
    let origins = state.cors_origins.clone();
    WebOrApi {
        web: crate::web::routes(state.clone()),
        api: api_routes,
    }
    .around(move |next, req| {
        let limit = if req.uri().path().starts_with("/v1/import") {
            IMPORT_BODY_LIMIT
        } else {
            BODY_LIMIT
        };
        limit_body(next, req, limit)
    })
    .around(move |next, req| crate::rate_limit::limit(next, req, limit_state.clone()))
    .with(crate::auth::Authenticate(state.clone()))
    .around(check_url)
    .data(state)
    .catch_all_error(render_error)
    .boxed()
    .around(move |next, req| crate::request_log::log_request(next, req, log_state.clone(), document.clone()))
    .around(move |next, req| crate::cors::cors(next, req, origins.clone()))
    .with(poem::middleware::Compression::new())
}

/// Serves `state` on `listener` until `shutdown` completes; in-flight requests get 10 s to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    crate::web::Templates::check().map_err(std::io::Error::other)?;
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    // Follow writes made by other processes on the same database.
    let follower = {
        let state = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for second in 0u64.. {
                tick.tick().await;
                let Some(state) = state.upgrade() else { break };
                state.directory_changed().await;
                if second % 60 == 0
                    && let Some(limiter) = &state.rate_limiter
                {
                    limiter.forget_idle();
                }
            }
        })
    };
    // Family lists older than 30 days and idle sessions are deleted hourly.
    let pruner = {
        let state = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { break };
                if let Err(error) = state.store.prune_family_lists().await {
                    tracing::warn!(%error, "pruning family lists failed");
                }
                if let Err(error) = state.store.prune_sessions(crate::web::SESSION_IDLE).await {
                    tracing::warn!(%error, "pruning sessions failed");
                }
            }
        })
    };
    let webhooks = crate::webhook_worker::spawn(Arc::downgrade(&state));
    // E-mail notifications: referral events into the outbox, the outbox out, daily digests, monthly reminders.
    let mailer = state
        .mail
        .background
        .then(|| crate::mail::spawn(Arc::downgrade(&state)));
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(build_app(state), shutdown, Some(Duration::from_secs(10)))
        .await;
    follower.abort();
    pruner.abort();
    webhooks.abort();
    if let Some(mailer) = mailer {
        mailer.abort();
    }
    served
}

//! Builds the HTTP application and runs it. `serve` takes a bound listener and a shutdown future, so tests
//! bind port 0 and stop the server when they are done.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler};
use poem_openapi::OpenApiService;

use crate::catalog::CatalogApi;
use crate::directory::DirectoryApi;
use crate::hsds::HsdsApi;
use crate::keys::KeyApi;
use crate::metrics::route_label;
use crate::plans::PlanApi;
use crate::problem::{problem_response, render_error, with_instance};
use crate::referrals::ReferralApi;
use crate::search::SearchApi;
use crate::state::AppState;

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
);

fn apis(state: Arc<AppState>) -> Apis {
    (
        DirectoryApi { state: state.clone() },
        SearchApi { state: state.clone() },
        CatalogApi { state: state.clone() },
        ReferralApi { state: state.clone() },
        PlanApi { state: state.clone() },
        HsdsApi { state: state.clone() },
        KeyApi { state },
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
    api_service(state).spec()
}

#[handler]
fn hsds_root() -> poem::web::Redirect {
    poem::web::Redirect::permanent("/hsds")
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

/// The whole application: web app, API, docs, operational endpoints, with auth, limits, metrics and
/// problem+json.
pub fn build_app(state: Arc<AppState>) -> impl Endpoint<Output = Response> {
    let api = api_service(state.clone());
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let metrics_state = state.clone();
    let api_routes = Route::new()
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        // HSDS clients call the API root as `/hsds/`; poem-openapi routes it as `/hsds`.
        .at("/hsds/", get(hsds_root))
        .at("/health", get(health))
        .at("/ready", get(ready))
        .at("/metrics", get(metrics));
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
    .with(crate::auth::Authenticate(state.clone()))
    .data(state)
    .catch_all_error(render_error)
    .around(move |next, req| {
        let state = metrics_state.clone();
        async move {
            let path = req.uri().path().to_owned();
            let route = route_label(&path);
            let start = Instant::now();
            let response = with_instance(&path, next.call(req).await?.into_response()).await;
            state
                .metrics
                .observe(&route, response.status().as_u16(), start.elapsed());
            Ok(response)
        }
    })
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
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { break };
                state.directory_changed().await;
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
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(build_app(state), shutdown, Some(Duration::from_secs(10)))
        .await;
    follower.abort();
    pruner.abort();
    served
}

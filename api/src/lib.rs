//! Brobygger's HTTP API and command line. This crate translates HTTP and auth; data rules live in
//! `entities`, search in `indexer`.
//!
//! Code tour: `app.rs` builds the server, `auth.rs` resolves keys into callers, `problem.rs` maps every
//! error to problem+json, `directory.rs` holds the `/v1` CRUD endpoints, `wire.rs` their JSON shapes,
//! `cli.rs` the `brobygger` subcommands.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod cors;
pub mod directory;
pub mod generate;
pub mod get_headers;
pub mod hsds;
pub mod indexing;
pub mod keys;
pub mod mail;
pub mod metrics;
pub mod plans;
pub mod problem;
pub mod progress;
pub mod rate_limit;
pub mod referrals;
pub mod request_log;
pub mod search;
pub mod spec;
pub mod state;
pub mod web;
pub mod webhook_worker;
pub mod webhooks;
pub mod wire;

use std::sync::Arc;

use entities::Store;
use entities::taxonomy::Taxonomy;
use indexer::SearchIndex;

pub use app::{Config, serve};
pub use state::AppState;

/// The Aarhus demo directory (HSDS 3.0), shipped with the binary and loaded into an empty database.
pub const DEMO_DIRECTORY_JSON: &str = include_str!("../../seed-data/aarhus/directory.json");

/// Opens the database (running migrations), loads the taxonomy and, for an empty directory, the demo data.
pub async fn open(config: &Config) -> anyhow::Result<Arc<AppState>> {
    let state = open_without_index_sync(config).await?;
    let started = std::time::Instant::now();
    state.search.catch_up(&state.store).await?;
    tracing::info!(
        services = state.search.index.num_docs(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "search index is current"
    );
    Ok(state)
}

/// Just the database (migrated), for commands that touch neither search nor referrals' secret (`keys`,
/// `purge`): they can run beside a server that holds the search index.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::connect(&config.database_url).await?)
}

/// Like [`open`], but leaves the search index as it is on disk: for commands that bring the index up to
/// date themselves (`import`, `reindex`).
pub async fn open_without_index_sync(config: &Config) -> anyhow::Result<Arc<AppState>> {
    let store = Store::connect(&config.database_url).await?;
    let taxonomy = Taxonomy::builtin();
    store.sync_taxonomy(&taxonomy).await?;
    if config.seed && store.count_services().await? == 0 {
        let demo: serde_json::Value = serde_json::from_str(DEMO_DIRECTORY_JSON)?;
        let report = store.import_hsds(&demo).await?;
        tracing::info!(
            organizations = report.organizations.created,
            locations = report.locations.created,
            services = report.services.created,
            "loaded the Aarhus demo directory into the empty database"
        );
    }
    let index = SearchIndex::open(
        &config.data_dir.join("index"),
        indexing::need_terms(&taxonomy),
        &state::search_vocabulary(),
    )?;
    Ok(Arc::new(
        AppState::new(store, taxonomy, index)
            .with_secret(referrals::load_secret(config)?)
            .with_http(&config.http)
            .with_webhooks(&config.webhooks)
            .with_mail(&config.mail, &config.data_dir)?,
    ))
}

/// `sqlite://<data dir>/brobygger.db?mode=rwc`, the embedded default.
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("brobygger.db").display())
}

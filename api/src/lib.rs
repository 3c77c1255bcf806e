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
pub mod directory;
pub mod metrics;
pub mod problem;
pub mod state;
pub mod wire;

use std::sync::Arc;

use entities::Store;
use entities::taxonomy::Taxonomy;

pub use app::{Config, serve};
pub use state::AppState;

/// Opens the database (running migrations), loads the taxonomy and, for an empty directory, the demo data.
pub async fn open(config: &Config) -> anyhow::Result<Arc<AppState>> {
    let store = Store::connect(&config.database_url).await?;
    let taxonomy = Taxonomy::builtin();
    store.sync_taxonomy(&taxonomy).await?;
    Ok(Arc::new(AppState::new(store, taxonomy)))
}

/// `sqlite://<data dir>/brobygger.db?mode=rwc`, the embedded default.
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("brobygger.db").display())
}

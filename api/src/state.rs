//! What every request handler shares: the store, the search index and the metrics.

use std::time::Instant;

use entities::Store;
use entities::taxonomy::Taxonomy;

use crate::metrics::Metrics;

pub struct AppState {
    pub store: Store,
    pub taxonomy: Taxonomy,
    pub metrics: Metrics,
    pub started: Instant,
}

impl AppState {
    pub fn new(store: Store, taxonomy: Taxonomy) -> Self {
        Self {
            store,
            taxonomy,
            metrics: Metrics::default(),
            started: Instant::now(),
        }
    }

    /// Called after every committed directory write, before the response is sent, so that the caller reads
    /// its own writes everywhere (search included).
    pub async fn directory_changed(&self) {}
}

//! What every request handler shares: the store, the search index, reference data and the metrics.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use entities::Store;
use entities::referrals::FamilySecret;
use entities::taxonomy::Taxonomy;
use indexer::gazetteer::Gazetteer;
use indexer::{NeedDetector, SearchIndex, Vocabulary};

use crate::indexing::SearchSync;
use crate::metrics::Metrics;

/// The gazetteer shipped with the binary.
pub const PLACES_JSON: &str = include_str!("../../seed-data/places.json");
/// The need lexicon shipped with the binary (`POST /v1/needs/detect`).
pub const NEED_LEXICON_JSON: &str = include_str!("../../seed-data/need-lexicon.json");

/// The search vocabulary shipped with the binary: Danish↔English bridge, word forms, audience and stop words.
pub const BRIDGE_JSON: &str = include_str!("../../seed-data/bridge.json");

/// The need detector of the shipped lexicon, one per process (the API and search share it).
pub fn need_detector() -> Arc<NeedDetector> {
    static DETECTOR: OnceLock<Arc<NeedDetector>> = OnceLock::new();
    DETECTOR
        .get_or_init(|| {
            Arc::new(
                NeedDetector::from_json(NEED_LEXICON_JSON)
                    .expect("seed-data/need-lexicon.json is valid (checked by tests)"),
            )
        })
        .clone()
}

/// The search vocabulary of the shipped data (bridge, word forms, audience and stop words), with the need detector.
pub fn search_vocabulary() -> Vocabulary {
    Vocabulary::from_json(BRIDGE_JSON)
        .expect("seed-data/bridge.json is valid (checked by tests)")
        .with_detector(need_detector())
}

pub struct AppState {
    pub store: Store,
    pub taxonomy: Taxonomy,
    pub search: SearchSync,
    pub gazetteer: Gazetteer,
    /// Finds needs in a family's own words (search uses the same one).
    pub detector: Arc<NeedDetector>,
    pub metrics: Metrics,
    pub started: Instant,
    /// Keys the `family_ref` hashes of referrals (`--secret`, or `<data dir>/secret.key`).
    pub referral_secret: FamilySecret,
    /// Origins whose browser apps may call every endpoint.
    pub cors_origins: Arc<Vec<String>>,
    /// None: unlimited.
    pub rate_limiter: Option<crate::rate_limit::Limiter>,
    pub webhooks: crate::webhook_worker::WebhookSettings,
    /// Wakes this node's webhook sender before its next poll (a retry asked for through the API).
    pub webhook_wakeup: Arc<tokio::sync::Notify>,
    /// Sends the notification mails (SMTP, or `.eml` files in the outbox folder).
    pub mail: Arc<crate::mail::Mailer>,
}

impl AppState {
    pub fn new(store: Store, taxonomy: Taxonomy, index: SearchIndex) -> Self {
        Self {
            store,
            taxonomy,
            search: SearchSync::new(index),
            gazetteer: Gazetteer::from_json(PLACES_JSON).expect("seed-data/places.json is valid (checked by tests)"),
            detector: need_detector(),
            metrics: Metrics::default(),
            started: Instant::now(),
            referral_secret: FamilySecret::random(),
            cors_origins: Arc::default(),
            rate_limiter: None,
            webhooks: crate::webhook_worker::WebhookSettings::default(),
            webhook_wakeup: Arc::default(),
            mail: Arc::new(
                crate::mail::Mailer::new(&crate::mail::MailSettings::default(), std::path::Path::new("./data"))
                    .expect("the default mail settings are valid"),
            ),
        }
    }

    pub fn with_webhooks(mut self, settings: &crate::webhook_worker::WebhookSettings) -> Self {
        self.webhooks = settings.clone();
        self
    }

    /// Sends mail as `settings` say; without SMTP into `<data_dir>/outbox/`.
    pub fn with_mail(
        mut self,
        settings: &crate::mail::MailSettings,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Self> {
        self.mail = Arc::new(crate::mail::Mailer::new(settings, data_dir)?);
        Ok(self)
    }

    /// Applies the CORS origins and the rate limit of `settings`.
    pub fn with_http(mut self, settings: &crate::app::HttpSettings) -> Self {
        self.cors_origins = Arc::new(settings.cors_origins.clone());
        self.rate_limiter = settings
            .rate_limit_per_minute
            .map(crate::rate_limit::Limiter::per_minute);
        self
    }

    /// Uses `secret` for the referrals' `family_ref` hashes (`new` starts with a random, throwaway one).
    pub fn with_secret(mut self, secret: FamilySecret) -> Self {
        self.referral_secret = secret;
        self
    }

    /// Called after every committed directory write, before the response is sent, so that the caller reads
    /// its own writes everywhere (search included). A failure here leaves the database right and the index
    /// behind; the once-a-second follower retries.
    pub async fn directory_changed(&self) {
        if let Err(error) = self.search.catch_up(&self.store).await {
            tracing::error!(%error, "search index update failed");
        }
    }
}

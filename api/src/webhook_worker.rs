//! Sends webhook deliveries: fans new log entries out into deliveries, claims the due ones, POSTs them signed
//! as the Standard Webhooks specification says, and records how each attempt went. Every node runs one; the
//! store's claims make each delivery go out from one node at a time, and in order per subscription.

use std::net::IpAddr;
use std::sync::Weak;
use std::time::Duration;

use base64::Engine;
use entities::webhooks::ClaimedDelivery;
use hmac::{Hmac, Mac};

use crate::state::AppState;

/// How long a claimed delivery is a node's alone: longer than an attempt can take.
const LEASE: Duration = Duration::from_secs(60);
/// Subscriptions served at once by one node.
const CLAIM_SUBSCRIPTIONS: u64 = 32;
/// Deliveries of one subscription claimed at once, sent one after the other.
const FOLLOW: u64 = 64;
/// How often a node looks for new events when nothing woke it.
const POLL: Duration = Duration::from_millis(250);

/// The waits between attempts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts over about 28 hours),
/// each with ±20 % jitter, after which the delivery has failed and its subscription is marked `failing`.
pub const DEFAULT_RETRY_WAITS: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How webhooks are sent.
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Allow targets on loopback, private and link-local addresses (`BROBYGGER_WEBHOOK_ALLOW_PRIVATE`): for
    /// development and tests; off in production.
    pub allow_private_targets: bool,
    pub retry_waits: Vec<Duration>,
    /// Per attempt.
    pub timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            retry_waits: DEFAULT_RETRY_WAITS.to_vec(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The `webhook-signature` header: `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed by the
/// secret's bytes (what follows `whsec_`, base64-decoded).
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &str) -> String {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{message_id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Whether an address is one a webhook must not reach unless allowed: loopback, private, link-local, shared
/// (CGNAT), unspecified, multicast, or IPv6 unique-local.
fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

/// Resolves `url`'s host and refuses it when any address is internal.
pub async fn public_target(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = parsed.host_str().ok_or("the URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("the host does not resolve: {e}"))?
        .map(|socket| socket.ip())
        .collect();
    if addresses.is_empty() {
        return Err("the host does not resolve".into());
    }
    match addresses.into_iter().find(|a| is_internal(*a)) {
        Some(address) => Err(format!(
            "the host resolves to the internal address {address}; webhooks go to public addresses only"
        )),
        None => Ok(()),
    }
}

/// Why an attempt did not deliver: the receiver's status, if it answered, and what went wrong.
struct Failure {
    status: Option<u16>,
    error: String,
}

/// One attempt at one delivery.
async fn send(state: &AppState, client: &reqwest::Client, delivery: &ClaimedDelivery) -> Result<(), Failure> {
    if !state.webhooks.allow_private_targets
        && let Err(reason) = public_target(&delivery.url).await
    {
        return Err(Failure {
            status: None,
            error: reason,
        });
    }
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign(&delivery.secret, &delivery.message_id, timestamp, &delivery.payload);
    let sent = client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .header("user-agent", concat!("Brobygger-Webhooks/", env!("CARGO_PKG_VERSION")))
        .body(delivery.payload.clone())
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(Failure {
            status: Some(response.status().as_u16()),
            error: format!("the receiver answered {}", response.status()),
        }),
        Err(error) => Err(Failure {
            status: None,
            error: if error.is_timeout() {
                "the receiver did not answer in time".into()
            } else {
                format!("could not reach the receiver: {error}")
            },
        }),
    }
}

/// One round: fan out what is new, then send what is due. Answers how many deliveries were attempted.
pub async fn run_once(state: &AppState, client: &reqwest::Client) -> entities::Result<usize> {
    state.store.fan_out_webhook_events().await?;
    let batches = state
        .store
        .claim_webhook_deliveries(CLAIM_SUBSCRIPTIONS, FOLLOW, LEASE)
        .await?;
    // Subscriptions side by side; each one's deliveries one after the other, in order.
    let attempted =
        futures_util::future::join_all(batches.into_iter().map(|batch| send_in_order(state, client, batch))).await;
    attempted.into_iter().sum()
}

/// Sends a subscription's claimed deliveries in order; at the first failure the rest go back unsent. The
/// delivered ones are recorded together, after the batch or before the failure is: if the node dies before,
/// they are sent again (at least once).
async fn send_in_order(
    state: &AppState,
    client: &reqwest::Client,
    batch: Vec<ClaimedDelivery>,
) -> entities::Result<usize> {
    let Some(subscription_id) = batch.first().map(|d| d.subscription_id) else {
        return Ok(0);
    };
    let mut delivered = Vec::new();
    let mut attempted = 0;
    let mut rest = batch.into_iter();
    while let Some(delivery) = rest.next() {
        attempted += 1;
        let Err(Failure { status, error }) = send(state, client, &delivery).await else {
            delivered.push(delivery.id);
            continue;
        };
        tracing::debug!(delivery = delivery.id, %error, "webhook attempt failed");
        state
            .store
            .record_webhooks_delivered(subscription_id, std::mem::take(&mut delivered))
            .await?;
        let became_failing = state
            .store
            .record_webhook_failure(&delivery, status, error, &state.webhooks.retry_waits)
            .await?;
        if became_failing {
            // The admins are mailed (as each chose on /notifications); `GET /v1/webhooks` shows `failing`.
            tracing::warn!(
                subscription = %delivery.subscription_id,
                url = %delivery.url,
                "a webhook delivery used up its retries: the subscription is marked failing"
            );
            state
                .store
                .notify_webhook_failing(state.mail.writer(), delivery.url.clone())
                .await?;
        }
        state
            .store
            .release_webhook_deliveries(rest.map(|d| d.id).collect())
            .await?;
        return Ok(attempted);
    }
    state
        .store
        .record_webhooks_delivered(subscription_id, delivered)
        .await?;
    Ok(attempted)
}

/// An HTTP client for deliveries: no redirects (a redirect could lead inside), a timeout per attempt.
pub fn client(settings: &WebhookSettings) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a TLS backend is compiled in")
}

/// Runs rounds until the state is dropped: after each round that did work at once, else after `POLL` or a
/// wake-up (a retry asked for through the API).
pub fn spawn(state: Weak<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(first) = state.upgrade() else { return };
        let client = client(&first.webhooks);
        let wakeup = first.webhook_wakeup.clone();
        drop(first);
        loop {
            let Some(state) = state.upgrade() else { break };
            let busy = match run_once(&state, &client).await {
                Ok(attempted) => attempted > 0,
                Err(error) => {
                    tracing::warn!(%error, "webhook round failed");
                    false
                }
            };
            drop(state);
            if !busy {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = wakeup.notified() => {}
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification's reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn internal_addresses_are_refused() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }
}

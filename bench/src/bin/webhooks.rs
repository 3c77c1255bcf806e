//! `cargo run --release -p bench --bin webhooks -- [--changes 10000] [--database-url postgres://...]`
//!
//! Webhook delivery under a burst: the service in-process (SQLite in a temp dir, or the PostgreSQL named),
//! one subscription to `organization.*` pointing at a receiver on loopback, then `--changes` organizations
//! written as fast as the store takes them. Reports the events delivered per second, from the first commit to
//! the last arrival, and the delay from each change's commit to its arrival (p50, p99, max). See
//! bench/README.md.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::webhook_worker::WebhookSettings;
use chrono::{DateTime, Utc};
use entities::directory::{OrganizationData, OrganizationKind, RecordStatus, Role};
use entities::webhooks::NewSubscription;
use poem::web::Data;
use poem::{EndpointExt, Route, handler, http::StatusCode, post};

/// Arrival time and the event's commit time, per POST.
type Arrivals = Arc<Mutex<Vec<(DateTime<Utc>, DateTime<Utc>, String)>>>;

#[handler]
fn receive(arrivals: Data<&Arrivals>, headers: &poem::http::HeaderMap, body: String) -> StatusCode {
    let now = Utc::now();
    let event: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let committed = event["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(now, |t| t.with_timezone(&Utc));
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    arrivals.lock().unwrap().push((now, committed, id));
    StatusCode::NO_CONTENT
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut changes = 10_000usize;
    let mut database_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--changes" => changes = args.next().and_then(|v| v.parse().ok()).unwrap_or(changes),
            "--database-url" => database_url = args.next(),
            _ => anyhow::bail!("usage: webhooks [--changes N] [--database-url postgres://...]"),
        }
    }
    let dir = tempfile::tempdir()?;
    let config = api::Config {
        database_url: database_url.unwrap_or_else(|| api::default_database_url(dir.path())),
        data_dir: dir.path().to_owned(),
        seed: false,
        secret: None,
        http: Default::default(),
        webhooks: WebhookSettings {
            allow_private_targets: true,
            ..Default::default()
        },
        mail: Default::default(),
    };
    let state = api::open(&config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (_stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    tokio::spawn(async move {
        api::serve(listener, server_state, async {
            let _ = stopped.await;
        })
        .await
    });

    let arrivals: Arrivals = Arc::default();
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", receiver.local_addr()?);
    let app = Route::new().at("/hook", post(receive)).data(arrivals.clone());
    tokio::spawn(poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(receiver)?).run(app));

    state
        .store
        .create_subscription(NewSubscription {
            url,
            events: vec!["organization.*".into()],
            description: Some("bench".into()),
            owner_id: uuid::Uuid::new_v4(),
            owner_role: Role::Admin,
            organization_id: None,
        })
        .await?;

    eprintln!("writing {changes} organizations ...");
    let started = Instant::now();
    for n in 0..changes {
        let data = OrganizationData {
            name: format!("Forening {n}"),
            description: "Benchmark".into(),
            kind: OrganizationKind::Association,
            website: None,
            email: None,
            phone: None,
            cvr: None,
            status: RecordStatus::Active,
        };
        state
            .store
            .put_organization(uuid::Uuid::new_v4(), data, None, true)
            .await?;
    }
    let written = started.elapsed();
    eprintln!(
        "written in {:.1} s; waiting for the deliveries ...",
        written.as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while arrivals.lock().unwrap().len() < changes && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = started.elapsed();
    let arrivals = arrivals.lock().unwrap().clone();
    let distinct: std::collections::HashSet<&String> = arrivals.iter().map(|(_, _, id)| id).collect();
    let mut delays: Vec<f64> = arrivals
        .iter()
        .map(|(at, committed, _)| (*at - *committed).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        .collect();
    delays.sort_by(f64::total_cmp);
    println!(
        "backend {}: {changes} changes written in {:.1} s ({:.0}/s); {} delivered ({} distinct) in {:.1} s from the \
         first commit: {:.0} events/s; commit → delivery p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        if config.database_url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        written.as_secs_f64(),
        changes as f64 / written.as_secs_f64(),
        arrivals.len(),
        distinct.len(),
        all.as_secs_f64(),
        arrivals.len() as f64 / all.as_secs_f64(),
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0.0),
    );
    Ok(())
}

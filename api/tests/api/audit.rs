//! The audit trail is written with the change it records: a server killed mid-burst leaves no referral
//! without its `create` row, and no row without its referral.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use serde_json::{Value, json};

use crate::helpers::{ChildServer, free_port, fresh_postgres_database};

async fn post(client: &reqwest::Client, url: String, key: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
    client.post(url).bearer_auth(key).json(body).send().await
}

/// Every item of a paged admin list.
async fn all_items(server: &ChildServer, path: &str, key: &str) -> Vec<Value> {
    let mut items = Vec::new();
    for page in 1.. {
        let body = server.get_json(&format!("{path}?page={page}&per_page=100"), key).await;
        let batch = body["items"].as_array().unwrap().clone();
        if batch.is_empty() {
            return items;
        }
        items.extend(batch);
    }
    unreachable!()
}

async fn kill_9_during_a_referral_burst(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url.as_deref();
    let admin = ChildServer::cli(dir.path(), url, &["keys", "create", "--role", "admin"]);
    let caseworker = ChildServer::cli(dir.path(), url, &["keys", "create", "--role", "caseworker"]);
    let mut server = ChildServer::start(dir.path(), url, free_port()).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let organization = server
        .create(
            "/v1/organizations",
            &admin,
            &json!({"name": "Lektiecaféen", "kind": "association"}),
        )
        .await;
    let place =
        json!({"organization_id": organization, "name": "Gellerup Bibliotek", "latitude": 56.155, "longitude": 10.135});
    let location = server.create("/v1/locations", &admin, &place).await;
    let offer = json!({
        "name": "Lektiehjælp", "description": "Frivillige hjælper med lektier.",
        "organization_id": organization, "location_ids": [location],
        "needs": ["education-homework"], "languages": ["da"], "free": true
    });
    let service = server.create("/v1/services", &admin, &offer).await;

    // Four senders refer families as fast as the server takes them, until it is gone.
    let created = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..4)
        .map(|sender| {
            let (client, base, key, created) = (client.clone(), base.clone(), caseworker.clone(), created.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let body = json!({
                        "service_id": service,
                        "family_ref": format!("SAG-{sender}-{n}"),
                        "consent": {"given_at": Utc::now().to_rfc3339(), "scope": "henvisning"},
                    });
                    match post(&client, format!("{base}/v1/referrals"), &key, &body).await {
                        Ok(response) if response.status() == 201 => created.fetch_add(1, Ordering::SeqCst),
                        Ok(response) => panic!("referral refused: {}", response.text().await.unwrap()),
                        Err(_) => return, // the server is gone
                    };
                }
            })
        })
        .collect();
    while created.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill_9();
    for sender in senders {
        sender.await.unwrap();
    }
    let answered = created.load(Ordering::SeqCst);

    let restarted = server.restart().await;
    let referrals = all_items(&restarted, "/v1/referrals", &admin).await;
    let audit = all_items(&restarted, "/v1/audit", &admin).await;
    // Requests in flight at the kill may have committed without their answer arriving.
    assert!(
        referrals.len() >= answered && referrals.len() <= answered + 4,
        "{} stored, {answered} answered",
        referrals.len()
    );
    let mut creates: Vec<&str> = audit
        .iter()
        .filter(|row| row["action"] == "create" && row["entity"] == "referral")
        .map(|row| row["entity_id"].as_str().unwrap())
        .collect();
    creates.sort_unstable();
    let mut stored: Vec<&str> = referrals.iter().map(|r| r["id"].as_str().unwrap()).collect();
    stored.sort_unstable();
    assert_eq!(creates, stored, "exactly one create row per stored referral");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_during_a_referral_burst_leaves_one_create_audit_row_per_referral_sqlite() {
    kill_9_during_a_referral_burst(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_9_during_a_referral_burst_leaves_one_create_audit_row_per_referral_postgres() {
    let Some(server) = std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.is_empty()) else {
        return;
    };
    kill_9_during_a_referral_burst(Some(fresh_postgres_database(&server).await)).await;
}

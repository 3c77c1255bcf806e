//! Several application instances on one PostgreSQL database, as a deployment behind a load balancer runs them:
//! each node has its own data directory and search index and follows the database's change log, so a write
//! on one node is served by the others. PostgreSQL only (SQLite is one process's file); without
//! `TEST_DATABASE_URL` these tests return at once.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, field_of_items, fresh_postgres_database, id_of, json_ok, postgres_server};

/// A second node on `first`'s database, with its own data directory and the same family secret (shared by
/// every node of a deployment, as `BROBYGGER_SECRET` is in production).
async fn second_node(first: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        first.data_dir.join(api::referrals::SECRET_FILE),
        dir.path().join(api::referrals::SECRET_FILE),
    )
    .expect("copying the family secret");
    TestApp::spawn_on(first.database_url.clone(), dir).await
}

/// An organisation with one service (at a place of its own), made on `node`; their ids.
async fn homework_service(node: &TestApp) -> (Uuid, Uuid) {
    let org = node.organization("Foreningen Bydelsmødre").await;
    let location = node.location(org, "Toveshøj Beboerhus", 56.1560, 10.1290).await;
    let service = node
        .service(json!({
            "name": "Lektiehjælp", "organization_id": org, "location_ids": [location],
            "description": "Frivillige hjælper børn med dansk og matematik.", "needs": ["education-homework"]
        }))
        .await;
    (org, id_of(&service))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edit_on_one_node_is_found_by_search_on_another_within_two_seconds() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let second = second_node(&first).await;
    let (_, service) = homework_service(&first).await;
    let patched = json_ok(
        first
            .send_json(
                Method::PATCH,
                &format!("/v1/services/{service}"),
                Some(&first.admin),
                &json!({"name": "Skakklub for piger"}),
            )
            .await,
    )
    .await;
    assert_eq!(patched["name"], "Skakklub for piger");
    let edited = Instant::now();
    loop {
        let found = json_ok(second.get("/v1/search?q=skakklub", None).await).await;
        let ids: Vec<_> = found["items"].as_array().unwrap().iter().map(id_of).collect();
        if ids == [service] {
            assert_eq!(found["items"][0]["name"], "Skakklub for piger");
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(2),
            "the second node did not find the edit within 2 s: {found}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // and the first node serves it too
    let found = json_ok(first.get("/v1/search?q=skakklub", None).await).await;
    assert_eq!(found["items"][0]["id"], service.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_referral_made_on_one_node_is_moved_on_another() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let second = second_node(&first).await;
    let (org, service) = homework_service(&first).await;
    let referral = json_ok(
        first
            .send_json(
                Method::POST,
                "/v1/referrals",
                Some(&first.caseworker),
                &json!({
                    "service_id": service, "family_ref": "SAG-2026-0042", "needs": ["education-homework"],
                    "consent": {"given_at": Utc::now().to_rfc3339(), "scope": "henvisning og tilbagemelding"},
                    "priority": "routine"
                }),
            )
            .await,
    )
    .await;
    let id = id_of(&referral);
    assert_eq!(referral["status"], "requested");
    // The partner works on the second node: its first read marks the referral received, then it accepts.
    let partner = second.partner_key(org).await;
    let read = json_ok(second.get(&format!("/v1/referrals/{id}"), Some(&partner)).await).await;
    assert_eq!(read["status"], "received");
    let accepted = json_ok(
        second
            .send_json(
                Method::POST,
                &format!("/v1/referrals/{id}/transitions"),
                Some(&partner),
                &json!({"to": "accepted"}),
            )
            .await,
    )
    .await;
    assert_eq!(accepted["status"], "accepted");
    // The caseworker, back on the first node, sees the answer, and the same family reference finds it (the
    // nodes share the family secret).
    let seen = json_ok(first.get(&format!("/v1/referrals/{id}"), Some(&first.caseworker)).await).await;
    assert_eq!(seen["status"], "accepted");
    let family = json_ok(
        second
            .get("/v1/referrals?family_ref=SAG-2026-0042", Some(&first.caseworker))
            .await,
    )
    .await;
    assert_eq!(family["items"][0]["id"], id.to_string());
    let events = json_ok(
        second
            .get(&format!("/v1/referrals/{id}/events"), Some(&first.caseworker))
            .await,
    )
    .await;
    assert_eq!(field_of_items(&events, "to"), ["requested", "received", "accepted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_started_together_on_an_empty_postgres_all_get_ready() {
    let Some(server) = postgres_server() else {
        return;
    };
    let url = fresh_postgres_database(&server).await;
    let nodes =
        futures_util::future::join_all((0..3).map(|_| TestApp::spawn_on(url.clone(), tempfile::tempdir().unwrap())))
            .await;
    for node in &nodes {
        let response = node.get("/ready", None).await;
        assert_eq!(response.status(), 200, "{}", node.base);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ready");
    }
    // one directory for all: what one node writes, the others read
    let org = nodes[0].organization("Foreningen Bydelsmødre").await;
    for node in &nodes[1..] {
        let response = node.get(&format!("/v1/organizations/{org}"), None).await;
        assert_eq!(response.status(), 200);
    }
}

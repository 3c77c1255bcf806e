//! Webhooks against a real receiver on loopback: signed as Standard Webhooks say (checked with the
//! `standardwebhooks` verifier library), retried while the receiver is down, in order, once per event across
//! nodes, after a kill -9, and only to those who may see the event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use poem::{EndpointExt, IntoResponse, Route, handler, http::StatusCode, post, web::Data};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, ChildServer, TestApp, free_port, id_of, problem};
use crate::on_both_backends;

on_both_backends!(
    a_service_edit_is_posted_signed_and_a_verifier_accepts_it,
    a_receiver_down_for_a_while_gets_every_event_in_order,
    referral_events_reach_only_the_receiving_partner_and_the_sender,
    a_public_subscription_never_sees_a_confidential_place,
    a_confidential_place_reaches_its_owners_partners_only,
    subscriptions_are_their_owners_own,
);

/// One POST as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    headers: http::HeaderMap,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON payload")
    }

    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    down: AtomicBool,
}

/// An HTTP server on loopback that records every POST, or answers 503 while `down`.
struct Receiver {
    url: String,
    inbox: Arc<Inbox>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

#[handler]
async fn receive(inbox: Data<&Arc<Inbox>>, headers: &poem::http::HeaderMap, body: String) -> poem::Response {
    if inbox.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut copied = http::HeaderMap::new();
    for (name, value) in headers {
        copied.insert(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    inbox.received.lock().unwrap().push(Received { headers: copied, body });
    StatusCode::NO_CONTENT.into_response()
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Inbox::default());
        let app = Route::new().at("/hook", post(receive)).data(inbox.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(async move {
            poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    app,
                    async {
                        let _ = stopped.await;
                    },
                    None,
                )
                .await
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            inbox,
            _stop: stop,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.received.lock().unwrap().clone()
    }

    fn set_down(&self, down: bool) {
        self.inbox.down.store(down, Ordering::SeqCst);
    }

    /// Waits (up to 20 s) until `count` different events arrived; answers them in arrival order, each once.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let distinct = distinct(&self.received());
            if distinct.len() >= count {
                return distinct;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("waited for {count} events, got {:#?}", distinct(&self.received()));
    }
}

/// Each event once (by `webhook-id`), in the order it first arrived.
fn distinct(received: &[Received]) -> Vec<Received> {
    let mut seen = std::collections::HashSet::new();
    received.iter().filter(|r| seen.insert(r.id())).cloned().collect()
}

async fn subscribe(app: &TestApp, key: &str, url: &str, events: &[&str]) -> (Uuid, String) {
    let response = app
        .send_json(
            Method::POST,
            "/v1/webhooks",
            Some(key),
            &json!({"url": url, "events": events, "description": "test receiver"}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (id_of(&body), secret)
}

fn place_body(organization_id: Uuid, name: &str, confidential: bool) -> Value {
    json!({"organization_id": organization_id, "name": name, "latitude": 56.15, "longitude": 10.13,
           "confidential": confidential,
           "address": {"address_1": "Hemmeligvej 7", "postal_code": "8220", "city": "Brabrand"}})
}

async fn a_service_edit_is_posted_signed_and_a_verifier_accepts_it(app: TestApp) {
    let receiver = Receiver::start().await;
    let (subscription, secret) = subscribe(&app, &app.reader, &receiver.url, &["service.*"]).await;
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let service = app
        .service(
            json!({"name": "Lektiehjælp", "organization_id": org, "location_ids": [location],
                        "needs": ["education-homework"]}),
        )
        .await;
    let id = id_of(&service);
    let edit = app
        .request(Method::PATCH, &format!("/v1/services/{id}"), Some(&app.admin))
        .header("If-Match", "\"1\"")
        .json(&json!({"description": "Nu også om fredagen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);

    let events = receiver.wait_for(2).await;
    let kinds: Vec<Value> = events.iter().map(|e| e.json()["type"].clone()).collect();
    assert_eq!(kinds, vec![json!("service.created"), json!("service.updated")]);
    for event in &events {
        assert_eq!(event.json()["data"]["id"], id.to_string());
        let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
        verifier
            .verify(event.body.as_bytes(), &event.headers)
            .expect("the Standard Webhooks verifier accepts our signature");
        let wrong = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(wrong.verify(event.body.as_bytes(), &event.headers).is_err());
        let mut tampered = event.body.clone();
        tampered.push(' ');
        assert!(verifier.verify(tampered.as_bytes(), &event.headers).is_err());
    }
    // the organization and location events were not asked for
    assert_eq!(distinct(&receiver.received()).len(), 2);

    let log: Value = app
        .get(&format!("/v1/webhooks/{subscription}/deliveries"), Some(&app.reader))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["total"], 2);
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered"),
        "{log}"
    );
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("brobygger_webhook_deliveries{status=\"delivered\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("brobygger_webhook_deliveries{status=\"pending\"} 0"),
        "{metrics}"
    );
}

async fn a_receiver_down_for_a_while_gets_every_event_in_order(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.set_down(true);
    let (subscription, _) = subscribe(&app, &app.admin, &receiver.url, &["organization.created"]).await;
    let mut made = Vec::new();
    for n in 0..5 {
        made.push(app.organization(&format!("Forening {n}")).await.to_string());
    }
    // the first delivery is tried and retried while the receiver is down; the others wait behind it
    for _ in 0..100 {
        let log: Value = app
            .get(&format!("/v1/webhooks/{subscription}/deliveries"), Some(&app.admin))
            .await
            .json()
            .await
            .unwrap();
        let retried = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["attempts"].as_i64().unwrap_or(0) >= 2 && d["last_status"] == 503);
        if retried {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(receiver.received().is_empty());
    receiver.set_down(false);
    let events = receiver.wait_for(5).await;
    let order: Vec<String> = events
        .iter()
        .map(|e| e.json()["data"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, made, "delivered in the order of the changes");
    // at least once, and no more often than attempts were made: here each arrived once
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 5);
}

async fn referral_events_reach_only_the_receiving_partner_and_the_sender(app: TestApp) {
    let org_a = app.organization("Lektiecafé A").await;
    let org_b = app.organization("Forening B").await;
    let place = app.location(org_a, "Huset", 56.15, 10.13).await;
    let service = id_of(
        &app.service(
            json!({"name": "Lektiehjælp", "organization_id": org_a, "location_ids": [place],
                            "needs": ["education-homework"]}),
        )
        .await,
    );
    let (partner_a, partner_b) = (app.partner_key(org_a).await, app.partner_key(org_b).await);
    let (to_a, to_b, to_sender) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    subscribe(&app, &partner_a, &to_a.url, &["referral.*"]).await;
    subscribe(&app, &partner_b, &to_b.url, &["referral.*"]).await;
    subscribe(&app, &app.caseworker, &to_sender.url, &["referral.*"]).await;

    let message = "To børn på 9 og 12 år har brug for hjælp med dansk.";
    let created: Value = app
        .send_json(
            Method::POST,
            "/v1/referrals",
            Some(&app.caseworker),
            &json!({"service_id": service, "family_ref": "SAG-2026-0042", "needs": ["education-homework"],
                    "message": message,
                    "consent": {"given_at": Utc::now().to_rfc3339(), "scope": "henvisning"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let referral = id_of(&created);
    app.get(&format!("/v1/referrals/{referral}"), Some(&partner_a)).await; // → received
    let rejected = app
        .send_json(
            Method::POST,
            &format!("/v1/referrals/{referral}/transitions"),
            Some(&partner_a),
            &json!({"to": "rejected", "reason": "no-capacity"}),
        )
        .await;
    assert_eq!(rejected.status(), 200);

    for receiver in [&to_a, &to_sender] {
        let events = receiver.wait_for(3).await;
        let steps: Vec<(Value, Value)> = events
            .iter()
            .map(|e| (e.json()["type"].clone(), e.json()["data"]["status"].clone()))
            .collect();
        assert_eq!(
            steps,
            vec![
                (json!("referral.created"), json!("requested")),
                (json!("referral.status_changed"), json!("received")),
                (json!("referral.status_changed"), json!("rejected")),
            ]
        );
        let last = events[2].json();
        assert_eq!(last["data"]["reason"], "no-capacity");
        assert_eq!(last["data"]["referral_id"], referral.to_string());
        for event in &events {
            assert!(
                !event.body.contains(message) && !event.body.contains("SAG-2026"),
                "{}",
                event.body
            );
            assert!(event.json()["data"].get("family_hash").is_none());
        }
    }
    // partner B's subscription never sees organization A's referrals
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(to_b.received().is_empty(), "{:?}", to_b.received());
}

async fn a_public_subscription_never_sees_a_confidential_place(app: TestApp) {
    let receiver = Receiver::start().await;
    let staff = Receiver::start().await;
    subscribe(&app, &app.reader, &receiver.url, &["location.*"]).await;
    subscribe(&app, &app.caseworker, &staff.url, &["location.*"]).await;
    let org = app.organization("Krisecenter").await;
    let secret_place = app
        .send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &place_body(org, "Skjult adresse", true),
        )
        .await;
    assert_eq!(secret_place.status(), 201);
    let secret_place = id_of(&secret_place.json::<Value>().await.unwrap());
    let open_place = app
        .send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &place_body(org, "Rådgivningen", false),
        )
        .await;
    let open_place = id_of(&open_place.json::<Value>().await.unwrap());

    // the caseworker hears of both, the public subscription of the open place only
    let both = staff.wait_for(2).await;
    assert_eq!(both[0].json()["data"]["id"], secret_place.to_string());
    let public = receiver.wait_for(1).await;
    assert_eq!(public[0].json()["data"]["id"], open_place.to_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    for event in receiver.received().iter().chain(staff.received().iter()) {
        assert!(
            !event.body.contains("Hemmeligvej"),
            "no address ever leaves in an event: {}",
            event.body
        );
    }
    assert!(
        receiver
            .received()
            .iter()
            .all(|e| e.json()["data"]["id"] != secret_place.to_string())
    );
}

/// A confidential place's events reach the partners of its owner, not those of other organizations, and a
/// confidential place without owner reaches no partner at all (caseworkers hear of both).
async fn a_confidential_place_reaches_its_owners_partners_only(app: TestApp) {
    let owner_hook = Receiver::start().await;
    let other_hook = Receiver::start().await;
    let staff = Receiver::start().await;
    let shelter = app.organization("Krisecenter").await;
    let other = app.organization("Anden forening").await;
    subscribe(&app, &app.partner_key(shelter).await, &owner_hook.url, &["location.*"]).await;
    subscribe(&app, &app.partner_key(other).await, &other_hook.url, &["location.*"]).await;
    subscribe(&app, &app.caseworker, &staff.url, &["location.*"]).await;
    let mut places = Vec::new();
    for owner in [Some(shelter), None] {
        let mut body = place_body(shelter, "Skjult adresse", true);
        body["organization_id"] = json!(owner);
        let response = app
            .send_json(Method::POST, "/v1/locations", Some(&app.admin), &body)
            .await;
        assert_eq!(response.status(), 201);
        places.push(id_of(&response.json::<Value>().await.unwrap()).to_string());
    }
    let heard = staff.wait_for(2).await;
    assert_eq!(heard.len(), 2);
    let owned = owner_hook.wait_for(1).await;
    assert_eq!(owned[0].json()["data"]["id"], places[0]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(owner_hook.received().len(), 1, "not the place without owner");
    assert!(
        other_hook.received().is_empty(),
        "another organization's partner hears nothing"
    );
}

async fn subscriptions_are_their_owners_own(app: TestApp) {
    let receiver = Receiver::start().await;
    let (mine, _) = subscribe(&app, &app.reader, &receiver.url, &["service.*"]).await;
    let path = format!("/v1/webhooks/{mine}");
    // another app's key neither sees nor changes it; an admin does
    problem(app.get(&path, Some(&app.caseworker)).await, 404).await;
    let taken = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&app.caseworker),
            &json!({"events": ["service.created"]}),
        )
        .await;
    problem(taken, 404).await;
    assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 200);
    let theirs: Value = app
        .get("/v1/webhooks", Some(&app.caseworker))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["total"], 0);
    problem(app.get("/v1/webhooks", None).await, 401).await;
    // a reader may not subscribe to referrals; bad URLs and unknown events are refused
    for (body, field) in [
        (json!({"url": receiver.url, "events": ["referral.created"]}), "events/0"),
        (json!({"url": "ftp://example.org/hook", "events": ["service.*"]}), "url"),
        (json!({"url": receiver.url, "events": ["service.renamed"]}), "events/0"),
    ] {
        let refused = app
            .send_json(Method::POST, "/v1/webhooks", Some(&app.reader), &body)
            .await;
        let problem = problem(refused, 422).await;
        assert_eq!(problem["errors"][0]["path"], field, "{problem}");
    }
    // the owner changes and deletes it
    let changed = app
        .request(Method::PATCH, &path, Some(&app.reader))
        .header("If-Match", "\"1\"")
        .json(&json!({"events": ["service.created"], "description": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["events"], json!(["service.created"]));
    assert_eq!(changed["version"], 2);
    assert!(changed["description"].is_null());
    let stale = app
        .request(Method::PATCH, &path, Some(&app.reader))
        .header("If-Match", "\"1\"")
        .json(&json!({"events": ["service.*"]}))
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;
    let deleted = app
        .request(Method::DELETE, &path, Some(&app.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    problem(app.get(&path, Some(&app.reader)).await, 404).await;
}

#[tokio::test]
async fn loopback_and_private_targets_are_refused_in_production() {
    let app = TestApp::spawn_with_webhooks(Backend::Sqlite, api::webhook_worker::WebhookSettings::default())
        .await
        .unwrap();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/",
    ] {
        let refused = app
            .send_json(
                Method::POST,
                "/v1/webhooks",
                Some(&app.reader),
                &json!({"url": url, "events": ["service.*"]}),
            )
            .await;
        let problem = problem(refused, 422).await;
        assert_eq!(problem["errors"][0]["path"], "url", "{url}: {problem}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_deliver_each_event_once() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    // a second node: its own search index, the same database, its own webhook sender
    let _second = TestApp::spawn_on(app.database_url.clone(), tempfile::tempdir().unwrap()).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &app.admin, &receiver.url, &["organization.*"]).await;
    for n in 0..30 {
        app.organization(&format!("Forening {n}")).await;
    }
    receiver.wait_for(30).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 30, "each event once between the two nodes");
    assert_eq!(distinct(&received).len(), 30);
}

#[tokio::test]
async fn an_event_committed_before_a_kill_9_is_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let admin = ChildServer::cli(dir.path(), None, &["keys", "create", "--role", "admin"]);
    let mut server = ChildServer::start(dir.path(), None, free_port()).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let receiver = Receiver::start().await;
    receiver.set_down(true);
    let subscribed: Value = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url, "events": ["organization.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subscription = id_of(&subscribed);
    let created = client
        .post(format!("{base}/v1/organizations"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Foreningen der overlevede", "kind": "association"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let organization = id_of(&created.json::<Value>().await.unwrap());
    // the server tried, the receiver was down: the event waits in the outbox
    for _ in 0..100 {
        let log = server
            .get_json(&format!("/v1/webhooks/{subscription}/deliveries"), &admin)
            .await;
        if log["items"][0]["attempts"].as_i64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill_9();
    receiver.set_down(false);

    let mut restarted = server.restart().await;
    // the first retry waits 5 s (± 20 %)
    let events = receiver.wait_for(1).await;
    restarted.kill_9();
    assert_eq!(events[0].json()["data"]["id"], organization.to_string());
    assert_eq!(events[0].json()["type"], "organization.created");
}

#[tokio::test]
async fn a_subscription_that_fails_for_good_is_marked_failing_and_the_admins_are_mailed() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (admin, _) = app
        .state
        .store
        .create_person(entities::people::NewPerson {
            email: "kommune@aarhus.dk".into(),
            role: entities::directory::Role::Admin,
            organization_id: None,
            name: None,
            team: None,
            password: None,
        })
        .await
        .unwrap();
    // a closed port: every attempt fails, and the tests' schedule retries four times
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let (subscription, _) = subscribe(
        &app,
        &app.reader,
        &format!("http://127.0.0.1:{closed}/hook"),
        &["organization.created"],
    )
    .await;
    app.organization("Forening uden modtager").await;
    let path = format!("/v1/webhooks/{subscription}");
    let mut status = Value::Null;
    for _ in 0..100 {
        status = app.get(&path, Some(&app.reader)).await.json::<Value>().await.unwrap()["status"].clone();
        if status == "failing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "failing");
    let log: Value = app
        .get(&format!("{path}/deliveries"), Some(&app.reader))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"][0]["status"], "failed");
    assert_eq!(log["items"][0]["attempts"], 5);
    let mails = app.state.store.outbox().await.unwrap();
    let told: Vec<_> = mails.iter().filter(|m| m.kind == "webhook-failing").collect();
    assert_eq!(told.len(), 1, "{mails:?}");
    assert_eq!(told[0].person_id, admin.id);
    assert!(told[0].body.contains(&format!("127.0.0.1:{closed}")));
    // fixed: `active` clears it
    let cleared = app
        .send_json(Method::PATCH, &path, Some(&app.reader), &json!({"status": "active"}))
        .await;
    assert_eq!(cleared.json::<Value>().await.unwrap()["status"], "active");
}

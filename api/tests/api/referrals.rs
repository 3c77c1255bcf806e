//! Referrals over HTTP: lifecycle, the state machine's refusals, access per role, data minimisation,
//! reports, the audit trail, concurrency and retention.

use chrono::{Duration, Utc};
use entities::referral_rules::{self as rules, Actor, ReferralStatus, TransitionError};
use entities::tables::referral;
use reqwest::{Method, Response};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of, problem};
use crate::on_both_backends;

on_both_backends!(
    full_lifecycle_with_events,
    every_illegal_transition_is_a_conflict,
    wrong_actor_and_missing_reason_are_refused,
    partner_of_another_organization_sees_nothing,
    reader_and_anonymous_are_refused,
    cpr_and_missing_consent_are_refused_and_nothing_is_stored,
    full_service_rejects_at_once,
    report_matches_a_hand_count,
    audit_has_one_row_per_access,
    concurrent_creations_are_each_stored_once,
    racing_transitions_have_one_winner,
    purge_removes_message_and_family_hash_of_closed_referrals,
    partner_cannot_probe_family_refs,
    report_and_audit_bounds_outside_the_calendar_are_bad_requests,
    metrics_count_referrals_by_status,
);

struct Fixture {
    org_a: Uuid,
    service_a: Uuid,
    partner_a: String,
    partner_b: String,
}

fn service_body(organization_id: Uuid, location_id: Uuid, capacity: Option<&str>) -> Value {
    let mut body = json!({
        "name": "Lektiehjælp i Gellerup",
        "description": "Frivillige hjælper børn med lektier.",
        "organization_id": organization_id,
        "location_ids": [location_id],
        "needs": ["education-homework"],
        "languages": ["da", "ar"],
        "free": true
    });
    if let Some(capacity) = capacity {
        body["capacity"] = json!(capacity);
    }
    body
}

async fn fixture(app: &TestApp) -> Fixture {
    let org_a = app.organization("Lektiecafé Gellerup").await;
    let org_b = app.organization("Boligsocialt Hus").await;
    let location_a = app.location(org_a, "Foreningshuset", 56.153, 10.133).await;
    let service_a = id_of(&app.service(service_body(org_a, location_a, None)).await);
    Fixture {
        org_a,
        service_a,
        partner_a: app.partner_key(org_a).await,
        partner_b: app.partner_key(org_b).await,
    }
}

fn referral_body(service_id: Uuid, family_ref: &str) -> Value {
    json!({
        "service_id": service_id,
        "family_ref": family_ref,
        "needs": ["education-homework"],
        "message": "To børn på 9 og 12 år har brug for hjælp med dansk og matematik.",
        "consent": {"given_at": Utc::now().to_rfc3339(), "scope": "henvisning og tilbagemelding"},
        "preferred_language": "ar",
        "contact_preference": "phone",
        "priority": "routine"
    })
}

async fn create(app: &TestApp, key: &str, body: &Value) -> Value {
    let response = app.send_json(Method::POST, "/v1/referrals", Some(key), body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    assert!(response.headers().contains_key("location"));
    response.json().await.unwrap()
}

async fn move_to(app: &TestApp, key: &str, id: Uuid, to: &str, reason: Option<&str>) -> Response {
    app.send_json(
        Method::POST,
        &format!("/v1/referrals/{id}/transitions"),
        Some(key),
        &json!({"to": to, "reason": reason}),
    )
    .await
}

async fn move_ok(app: &TestApp, key: &str, id: Uuid, to: &str, reason: Option<&str>) -> Value {
    let response = move_to(app, key, id, to, reason).await;
    assert_eq!(
        response.status(),
        200,
        "{to}: {}",
        response.text().await.unwrap_or_default()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], to);
    body
}

async fn json_of(app: &TestApp, path: &str, key: &str) -> Value {
    let response = app.get(path, Some(key)).await;
    assert_eq!(
        response.status(),
        200,
        "{path}: {}",
        response.text().await.unwrap_or_default()
    );
    response.json().await.unwrap()
}

async fn stored_referrals(app: &TestApp) -> u64 {
    referral::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

async fn full_lifecycle_with_events(app: TestApp) {
    let f = fixture(&app).await;
    let created = create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-2026-0042")).await;
    let id = id_of(&created);
    assert_eq!(created["status"], "requested");
    assert_eq!(created["version"], 1);
    assert_eq!(created["organization_id"], json!(f.org_a));
    assert_eq!(created["needs"], json!(["education-homework"]));
    assert_eq!(created["family_hash"].as_str().unwrap().len(), 64);
    assert_eq!(created["allowed_transitions"], json!(["cancelled"]));

    // The partner's inbox lists it without opening it.
    let inbox = json_of(&app, "/v1/referrals", &f.partner_a).await;
    assert_eq!(inbox["total"], 1);
    assert_eq!(inbox["items"][0]["status"], "requested");
    assert_eq!(inbox["items"][0]["family_hash"], Value::Null);

    // Opening it marks it received.
    let response = app.get(&format!("/v1/referrals/{id}"), Some(&f.partner_a)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let opened: Value = response.json().await.unwrap();
    assert_eq!(opened["status"], "received");
    assert_eq!(opened["message"], created["message"]);
    assert_eq!(
        opened["allowed_transitions"],
        json!(["accepted", "rejected", "on-hold"])
    );
    // A second read changes nothing.
    let again = json_of(&app, &format!("/v1/referrals/{id}"), &f.partner_a).await;
    assert_eq!(again["version"], 2);

    let response = app
        .request(
            Method::POST,
            &format!("/v1/referrals/{id}/transitions"),
            Some(&f.partner_a),
        )
        .header("If-Match", "\"2\"")
        .json(&json!({"to": "accepted", "note": "Vi ringer til familien i morgen."}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"3\"");
    move_ok(&app, &f.partner_a, id, "in-progress", None).await;
    let held = move_ok(&app, &f.partner_a, id, "on-hold", Some("Familien er på ferie")).await;
    assert_eq!(held["held_from"], "in-progress");
    assert_eq!(held["allowed_transitions"], json!(["in-progress"]));
    move_ok(&app, &f.partner_a, id, "in-progress", None).await;
    let done = move_ok(&app, &f.partner_a, id, "completed", None).await;
    assert_eq!(done["version"], 7);
    assert!(done["closed_at"].is_string());
    assert!(done["first_response_at"].is_string());

    // The sender sees the outcome; closed referrals cannot be cancelled.
    let seen = json_of(&app, &format!("/v1/referrals/{id}"), &app.caseworker).await;
    assert_eq!(seen["status"], "completed");
    assert_eq!(seen["family_hash"], created["family_hash"]);
    problem(
        move_to(&app, &app.caseworker, id, "cancelled", Some("ikke længere relevant")).await,
        409,
    )
    .await;
    // Admins read everything.
    let by_admin = json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
    assert_eq!(by_admin["status"], "completed");
    assert_eq!(by_admin["allowed_transitions"], json!([]));

    let events = json_of(&app, &format!("/v1/referrals/{id}/events"), &app.caseworker).await;
    let steps: Vec<(Value, Value, Value)> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["from"].clone(), e["to"].clone(), e["actor"].clone()))
        .collect();
    let partner = json!("receiving-partner");
    assert_eq!(
        steps,
        vec![
            (Value::Null, json!("requested"), json!("sender")),
            (json!("requested"), json!("received"), partner.clone()),
            (json!("received"), json!("accepted"), partner.clone()),
            (json!("accepted"), json!("in-progress"), partner.clone()),
            (json!("in-progress"), json!("on-hold"), partner.clone()),
            (json!("on-hold"), json!("in-progress"), partner.clone()),
            (json!("in-progress"), json!("completed"), partner.clone()),
        ]
    );
    let items = events["items"].as_array().unwrap();
    assert_eq!(items[0]["role"], "caseworker");
    assert_eq!(items[2]["role"], "partner");
    assert_eq!(items[2]["organization_id"], json!(f.org_a));
    assert_eq!(items[2]["note"], "Vi ringer til familien i morgen.");
    assert_eq!(items[4]["reason"], "Familien er på ferie");

    // The same family_ref links referrals; another caseworker sees none of them.
    let second = create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-2026-0042")).await;
    assert_eq!(second["family_hash"], created["family_hash"]);
    let third = create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-2026-0099")).await;
    assert_ne!(third["family_hash"], created["family_hash"]);
    let family = json_of(&app, "/v1/referrals?family_ref=SAG-2026-0042", &app.caseworker).await;
    assert_eq!(family["total"], 2);
    let other_caseworker = app
        .state
        .store
        .create_key(entities::directory::Role::Caseworker, None, None)
        .await
        .unwrap()
        .1;
    let theirs = json_of(&app, "/v1/referrals", &other_caseworker).await;
    assert_eq!(theirs["total"], 0);
    problem(
        app.get(&format!("/v1/referrals/{id}"), Some(&other_caseworker)).await,
        404,
    )
    .await;
    problem(move_to(&app, &other_caseworker, id, "cancelled", Some("x")).await, 404).await;
    let mine = json_of(&app, "/v1/referrals?status=requested", &app.caseworker).await;
    assert_eq!(mine["total"], 2);

    // The sender may withdraw an open referral.
    let cancelled = move_ok(
        &app,
        &app.caseworker,
        id_of(&third),
        "cancelled",
        Some("Familien er flyttet"),
    )
    .await;
    assert_eq!(cancelled["allowed_transitions"], json!([]));
}

/// Drives a fresh referral into `status` along legal steps; returns its id.
async fn referral_in(app: &TestApp, f: &Fixture, status: ReferralStatus) -> Uuid {
    let id = id_of(&create(app, &app.caseworker, &referral_body(f.service_a, "SAG-1")).await);
    let p = &f.partner_a;
    let path: &[(&str, Option<&str>, bool)] = match status {
        ReferralStatus::Requested => &[],
        ReferralStatus::Received => &[("received", None, false)],
        ReferralStatus::Accepted => &[("received", None, false), ("accepted", None, false)],
        ReferralStatus::Rejected => &[("rejected", Some("not-eligible"), false)],
        ReferralStatus::InProgress => &[
            ("received", None, false),
            ("accepted", None, false),
            ("in-progress", None, false),
        ],
        ReferralStatus::OnHold => &[("received", None, false), ("on-hold", Some("venter på tolk"), false)],
        ReferralStatus::Completed => &[
            ("received", None, false),
            ("accepted", None, false),
            ("in-progress", None, false),
            ("completed", None, false),
        ],
        ReferralStatus::Failed => &[
            ("received", None, false),
            ("accepted", None, false),
            ("in-progress", None, false),
            ("failed", Some("familien udeblev"), false),
        ],
        ReferralStatus::Cancelled => &[("cancelled", Some("ikke relevant"), true)],
    };
    for (to, reason, by_sender) in path {
        let key = if *by_sender { &app.caseworker } else { p };
        move_ok(app, key, id, to, *reason).await;
    }
    id
}

async fn every_illegal_transition_is_a_conflict(app: TestApp) {
    let f = fixture(&app).await;
    let mut checked = 0;
    for from in ReferralStatus::ALL {
        let id = referral_in(&app, &f, from).await;
        let before = json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
        let held_from = (from == ReferralStatus::OnHold).then_some(ReferralStatus::Received);
        for to in ReferralStatus::ALL {
            let reason = if to == ReferralStatus::Rejected {
                "other"
            } else {
                "en grund"
            };
            let illegal = Actor::ALL.iter().all(|actor| {
                matches!(
                    rules::check_transition(from, to, *actor, held_from, Some(reason)),
                    Err(TransitionError::Illegal { .. })
                )
            });
            if !illegal {
                continue;
            }
            // Whoever asks, the step does not exist.
            let key = if to == ReferralStatus::Cancelled {
                &app.caseworker
            } else {
                &f.partner_a
            };
            let response = move_to(&app, key, id, to.as_str(), Some(reason)).await;
            let body = problem(response, 409).await;
            assert!(body["detail"].as_str().unwrap().contains("cannot go from"), "{body}");
            checked += 1;
        }
        let after = json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
        assert_eq!(
            after["version"], before["version"],
            "{from}: a refused step changed the referral"
        );
        assert_eq!(after["status"], from.as_str());
    }
    // 81 pairs minus the 16 legal ones (15 in the rules' table, requested → rejected listed there for two
    // actors, plus resuming from on-hold to the state it was held from).
    assert_eq!(checked, 81 - 16);
}

async fn wrong_actor_and_missing_reason_are_refused(app: TestApp) {
    let f = fixture(&app).await;
    let id = id_of(&create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-7")).await);
    // The sender may not accept, the partner may not cancel, the admin moves nothing.
    problem(move_to(&app, &app.caseworker, id, "received", None).await, 403).await;
    problem(move_to(&app, &f.partner_a, id, "cancelled", Some("x")).await, 403).await;
    problem(move_to(&app, &app.admin, id, "received", None).await, 403).await;
    // Reasons: required for rejected, a known code.
    let body = problem(move_to(&app, &f.partner_a, id, "rejected", None).await, 422).await;
    assert_eq!(body["errors"][0]["path"], "reason");
    problem(
        move_to(&app, &f.partner_a, id, "rejected", Some("keine Lust")).await,
        422,
    )
    .await;
    problem(move_to(&app, &app.caseworker, id, "cancelled", Some("  ")).await, 422).await;
    // A note with a CPR number is refused.
    let response = app
        .send_json(
            Method::POST,
            &format!("/v1/referrals/{id}/transitions"),
            Some(&f.partner_a),
            &json!({"to": "received", "note": "barnets cpr 010190-1234"}),
        )
        .await;
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["path"], "note");
    // A stale version in the body or If-Match: 412.
    let response = app
        .send_json(
            Method::POST,
            &format!("/v1/referrals/{id}/transitions"),
            Some(&f.partner_a),
            &json!({"to": "received", "version": 7}),
        )
        .await;
    problem(response, 412).await;
    let read = json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
    assert_eq!(read["status"], "requested");
    assert_eq!(read["version"], 1);
    // Unknown status names are malformed requests.
    problem(move_to(&app, &f.partner_a, id, "done", None).await, 400).await;
}

async fn partner_of_another_organization_sees_nothing(app: TestApp) {
    let f = fixture(&app).await;
    let id = id_of(&create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-3")).await);
    let missing = Uuid::new_v4();
    for target in [id, missing] {
        let body = problem(
            app.get(&format!("/v1/referrals/{target}"), Some(&f.partner_b)).await,
            404,
        )
        .await;
        assert_eq!(body["detail"], format!("referral {target} not found"));
        problem(
            app.get(&format!("/v1/referrals/{target}/events"), Some(&f.partner_b))
                .await,
            404,
        )
        .await;
        problem(move_to(&app, &f.partner_b, target, "received", None).await, 404).await;
        problem(
            move_to(&app, &f.partner_b, target, "rejected", Some("other")).await,
            404,
        )
        .await;
    }
    let inbox = json_of(&app, "/v1/referrals", &f.partner_b).await;
    assert_eq!(inbox["total"], 0);
    // Nothing B did opened or moved it.
    let read = json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
    assert_eq!(read["status"], "requested");
    assert_eq!(read["version"], 1);
}

async fn reader_and_anonymous_are_refused(app: TestApp) {
    let f = fixture(&app).await;
    let id = id_of(&create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-4")).await);
    let body = referral_body(f.service_a, "SAG-5");
    for (key, status) in [(None, 401), (Some(app.reader.as_str()), 403)] {
        problem(app.send_json(Method::POST, "/v1/referrals", key, &body).await, status).await;
        problem(app.get("/v1/referrals", key).await, status).await;
        problem(app.get(&format!("/v1/referrals/{id}"), key).await, status).await;
        problem(app.get(&format!("/v1/referrals/{id}/events"), key).await, status).await;
        let transition = app
            .send_json(
                Method::POST,
                &format!("/v1/referrals/{id}/transitions"),
                key,
                &json!({"to": "received"}),
            )
            .await;
        problem(transition, status).await;
        problem(app.get("/v1/audit", key).await, status).await;
        problem(app.get("/v1/reports/referrals", key).await, status).await;
    }
    // Only caseworkers refer; only admins read the audit trail and reports.
    problem(
        app.send_json(Method::POST, "/v1/referrals", Some(&f.partner_a), &body)
            .await,
        403,
    )
    .await;
    problem(
        app.send_json(Method::POST, "/v1/referrals", Some(&app.admin), &body)
            .await,
        403,
    )
    .await;
    problem(app.get("/v1/audit", Some(&app.caseworker)).await, 403).await;
    problem(app.get("/v1/reports/referrals", Some(&f.partner_a)).await, 403).await;
    assert_eq!(stored_referrals(&app).await, 1);
}

async fn cpr_and_missing_consent_are_refused_and_nothing_is_stored(app: TestApp) {
    let f = fixture(&app).await;
    let mut cpr_message = referral_body(f.service_a, "SAG-6");
    cpr_message["message"] = json!("Mor (cpr 010190-1234) ønsker hjælp.");
    let mut cpr_ref = referral_body(f.service_a, "0101901234");
    cpr_ref["message"] = json!("Ingen personnumre her");
    let mut no_consent = referral_body(f.service_a, "SAG-6");
    no_consent.as_object_mut().unwrap().remove("consent");
    let mut too_long = referral_body(f.service_a, "SAG-6");
    too_long["message"] = json!("å".repeat(2001));
    let mut unknown_need = referral_body(f.service_a, "SAG-6");
    unknown_need["needs"] = json!(["astrology"]);
    let mut unknown_service = referral_body(Uuid::new_v4(), "SAG-6");
    unknown_service["needs"] = json!([]);
    for (body, path) in [
        (cpr_message, "message"),
        (cpr_ref, "family_ref"),
        (no_consent, "consent"),
        (too_long, "message"),
        (unknown_need, "needs/0"),
        (unknown_service, "service_id"),
    ] {
        let response = app
            .send_json(Method::POST, "/v1/referrals", Some(&app.caseworker), &body)
            .await;
        let problem = problem(response, 422).await;
        assert_eq!(problem["errors"][0]["path"], path, "{problem}");
    }
    assert_eq!(stored_referrals(&app).await, 0);
    let events = entities::tables::referral_event::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(events, 0);
    // Exactly 2000 characters is fine; without needs the service's are used.
    let mut longest = referral_body(f.service_a, "SAG-6");
    longest["message"] = json!("å".repeat(2000));
    longest.as_object_mut().unwrap().remove("needs");
    let created = create(&app, &app.caseworker, &longest).await;
    assert_eq!(created["needs"], json!(["education-homework"]));
}

async fn full_service_rejects_at_once(app: TestApp) {
    let f = fixture(&app).await;
    let location = app.location(f.org_a, "Hus 2", 56.16, 10.2).await;
    let full = id_of(&app.service(service_body(f.org_a, location, Some("full"))).await);
    let created = create(&app, &app.caseworker, &referral_body(full, "SAG-8")).await;
    assert_eq!(created["status"], "rejected");
    assert_eq!(created["rejection_reason"], "no-capacity");
    let events = json_of(&app, &format!("/v1/referrals/{}/events", id_of(&created)), &f.partner_a).await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["from"], "requested");
    assert_eq!(items[1]["to"], "rejected");
    assert_eq!(items[1]["actor"], "system");
    assert_eq!(items[1]["reason"], "no-capacity");
    // The partner opening it changes nothing: it is closed.
    let read = json_of(&app, &format!("/v1/referrals/{}", id_of(&created)), &f.partner_a).await;
    assert_eq!(read["status"], "rejected");
    assert_eq!(read["first_response_at"], Value::Null);
}

/// Sets a referral's timestamps relative to `base`, in hours, so report durations are exact.
async fn set_times(app: &TestApp, id: Uuid, base: chrono::DateTime<Utc>, response: Option<i64>, closed: Option<i64>) {
    let hours = |h: i64| base + Duration::hours(h);
    referral::Entity::update_many()
        .set(referral::ActiveModel {
            created_at: Set(base),
            first_response_at: Set(response.map(hours)),
            closed_at: Set(closed.map(hours)),
            ..Default::default()
        })
        .filter(referral::Column::Id.eq(id))
        .exec(app.state.store.connection())
        .await
        .unwrap();
}

async fn report_matches_a_hand_count(app: TestApp) {
    let f = fixture(&app).await;
    // A second organization, in another postal code, with a full service.
    let org_c = app.organization("Jobcafé, Bispehaven").await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &json!({"organization_id": org_c, "name": "Bispehaven", "latitude": 56.17, "longitude": 10.17,
                    "address": {"address_1": "Bispehavevej 1", "postal_code": "8210", "city": "Aarhus V"}}),
        )
        .await;
    let location_c = id_of(&response.json::<Value>().await.unwrap());
    let mut full = service_body(org_c, location_c, Some("full"));
    full["needs"] = json!(["employment"]);
    let service_c = id_of(&app.service(full).await);

    // 1 completed, 2 rejected (not eligible), 3 auto-rejected (no capacity), 4 failed, 5 open (received).
    let completed = referral_in(&app, &f, ReferralStatus::Completed).await;
    let rejected = referral_in(&app, &f, ReferralStatus::Rejected).await;
    let mut body = referral_body(service_c, "SAG-9");
    body["needs"] = json!(["employment", "education-homework"]);
    let auto_rejected = id_of(&create(&app, &app.caseworker, &body).await);
    let failed = referral_in(&app, &f, ReferralStatus::Failed).await;
    let open = referral_in(&app, &f, ReferralStatus::Received).await;
    let base = Utc::now() - Duration::days(10);
    set_times(&app, completed, base, Some(2), Some(50)).await;
    set_times(&app, rejected, base, Some(4), Some(4)).await;
    set_times(&app, auto_rejected, base, None, Some(0)).await;
    set_times(&app, failed, base, Some(10), Some(100)).await;
    set_times(&app, open, base, None, None).await;
    // Outside the period: not counted.
    let later = referral_in(&app, &f, ReferralStatus::Requested).await;
    set_times(&app, later, Utc::now() + Duration::days(30), None, None).await;

    let from = (base - Duration::days(1)).date_naive();
    let to = Utc::now().date_naive();
    let path = |group: &str| format!("/v1/reports/referrals?from={from}&to={to}&group_by={group}");

    let report = json_of(&app, &path("status"), &app.admin).await;
    let total = &report["total"];
    assert_eq!(total["count"], 5);
    assert_eq!(total["accepted"], 2);
    assert_eq!(total["rejected"], 2);
    assert_eq!(total["rejected_by_reason"]["no-capacity"], 1);
    assert_eq!(total["rejected_by_reason"]["not-eligible"], 1);
    assert_eq!(total["rejected_by_reason"]["other"], 0);
    assert_eq!(total["completed"], 1);
    assert_eq!(total["failed"], 1);
    assert_eq!(total["cancelled"], 0);
    assert_eq!(total["open"], 1);
    // First responses 2, 4, 10 h: median 4, p90 (nearest rank) 10. Completion: 50 h.
    assert_eq!(total["first_response_hours"], json!({"median": 4.0, "p90": 10.0}));
    assert_eq!(total["completion_hours"], json!({"median": 50.0, "p90": 50.0}));
    let by_status: Vec<(String, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        by_status,
        vec![
            ("completed".into(), 1),
            ("failed".into(), 1),
            ("received".into(), 1),
            ("rejected".into(), 2)
        ]
    );

    let report = json_of(&app, &path("organization"), &app.admin).await;
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let a = groups.iter().find(|g| g["key"] == json!(f.org_a.to_string())).unwrap();
    assert_eq!(a["label"], "Lektiecafé Gellerup");
    assert_eq!(
        (a["count"].as_u64(), a["rejected"].as_u64(), a["open"].as_u64()),
        (Some(4), Some(1), Some(1))
    );
    let c = groups.iter().find(|g| g["key"] == json!(org_c.to_string())).unwrap();
    assert_eq!(
        (c["count"].as_u64(), c["rejected_by_reason"]["no-capacity"].as_u64()),
        (Some(1), Some(1))
    );

    let report = json_of(&app, &path("need"), &app.admin).await;
    let needs: Vec<(String, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(needs, vec![("education-homework".into(), 5), ("employment".into(), 1)]);

    let report = json_of(&app, &path("area"), &app.admin).await;
    let areas: Vec<(String, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(areas, vec![("8210".into(), 1), ("8220".into(), 4)]);

    // CSV: the same numbers; aggregates only.
    let response = app
        .request(Method::GET, &path("organization"), Some(&app.admin))
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("group_by,key,label,count,accepted,rejected,rejected_no_capacity,"));
    assert!(
        lines.contains(&format!("organization,{org_c},\"Jobcafé, Bispehaven\",1,0,1,1,0,0,0,0,0,0,0,0,0,,,,").as_str()),
        "{csv}"
    );
    assert_eq!(lines[3], "organization,total,,5,2,2,1,1,0,0,0,0,1,1,0,1,4,10,50,50");
    assert!(!csv.contains("SAG-") && !csv.contains("matematik"));
    let json_text = app.get(&path("need"), Some(&app.admin)).await.text().await.unwrap();
    assert!(!json_text.contains("family_hash") && !json_text.contains("SAG-") && !json_text.contains("matematik"));
}

async fn audit_has_one_row_per_access(app: TestApp) {
    let f = fixture(&app).await;
    let id = id_of(&create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-10")).await);
    let other = id_of(&create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-11")).await);
    json_of(&app, &format!("/v1/referrals/{id}"), &f.partner_a).await; // read (and received)
    json_of(&app, "/v1/referrals", &f.partner_a).await; // list: one row for each of the two
    json_of(&app, &format!("/v1/referrals/{id}/events"), &app.caseworker).await;
    move_ok(&app, &f.partner_a, id, "accepted", None).await;
    json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
    // Refused accesses read nothing and write nothing.
    problem(app.get(&format!("/v1/referrals/{id}"), Some(&f.partner_b)).await, 404).await;
    problem(move_to(&app, &f.partner_a, id, "completed", None).await, 409).await;

    let audit = json_of(&app, &format!("/v1/audit?referral_id={id}"), &app.admin).await;
    assert_eq!(audit["total"], 6, "{audit}");
    let rows: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("create", "caseworker"),
        ("read", "partner"),
        ("list", "partner"),
        ("events", "caseworker"),
        ("transition", "partner"),
        ("read", "admin"),
    ]
    .iter()
    .map(|(a, r)| (a.to_string(), r.to_string()))
    .collect();
    assert_eq!(rows, expected);
    assert_eq!(audit["items"][1]["organization_id"], json!(f.org_a));
    assert_eq!(audit["items"][0]["entity"], "referral");
    let other_rows = json_of(&app, &format!("/v1/audit?referral_id={other}"), &app.admin).await;
    assert_eq!(other_rows["total"], 2); // create, list

    // Filters: by key and by time.
    let caseworker_key = audit["items"][0]["key_id"].as_str().unwrap().to_owned();
    let by_key = json_of(&app, &format!("/v1/audit?key_id={caseworker_key}"), &app.admin).await;
    assert_eq!(by_key["total"], 3); // two creates, one events
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    let none = json_of(&app, &format!("/v1/audit?from={tomorrow}"), &app.admin).await;
    assert_eq!(none["total"], 0);
    let paged = json_of(
        &app,
        &format!("/v1/audit?referral_id={id}&per_page=4&page=2"),
        &app.admin,
    )
    .await;
    assert_eq!(paged["items"].as_array().unwrap().len(), 2);
}

async fn concurrent_creations_are_each_stored_once(app: TestApp) {
    let f = fixture(&app).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let app = app.clone();
        let body = referral_body(f.service_a, &format!("SAG-{i}"));
        tasks.spawn(async move {
            let response = app
                .send_json(Method::POST, "/v1/referrals", Some(&app.caseworker), &body)
                .await;
            assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
            id_of(&response.json::<Value>().await.unwrap())
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(id) = tasks.join_next().await {
        assert!(ids.insert(id.unwrap()));
    }
    assert_eq!(ids.len(), 200);
    assert_eq!(stored_referrals(&app).await, 200);
    for id in &ids {
        let rows = referral::Entity::find()
            .filter(referral::Column::Id.eq(*id))
            .count(app.state.store.connection())
            .await
            .unwrap();
        assert_eq!(rows, 1);
    }
    let listed = json_of(&app, "/v1/referrals?per_page=100", &app.admin).await;
    assert_eq!(listed["total"], 200);
}

async fn racing_transitions_have_one_winner(app: TestApp) {
    let f = fixture(&app).await;
    for round in 0..5 {
        let id = referral_in(&app, &f, ReferralStatus::Received).await;
        // Two partner staff, both holding version 2: one accepts, one rejects.
        let path = format!("/v1/referrals/{id}/transitions");
        let accept = app
            .request(Method::POST, &path, Some(&f.partner_a))
            .header("If-Match", "\"2\"")
            .json(&json!({"to": "accepted"}))
            .send();
        let reject = app
            .request(Method::POST, &path, Some(&f.partner_a))
            .header("If-Match", "\"2\"")
            .json(&json!({"to": "rejected", "reason": "duplicate"}))
            .send();
        let (a, b) = tokio::join!(accept, reject);
        let mut statuses = vec![a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, vec![200, 412], "round {round}");
        let events = json_of(&app, &format!("/v1/referrals/{id}/events"), &app.admin).await;
        assert_eq!(events["items"].as_array().unwrap().len(), 3, "round {round}");

        // Without If-Match the loser finds the step already taken: 409.
        let id = referral_in(&app, &f, ReferralStatus::Received).await;
        let first = move_to(&app, &f.partner_a, id, "accepted", None);
        let second = move_to(&app, &f.partner_a, id, "accepted", None);
        let (a, b) = tokio::join!(first, second);
        let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert!(
            statuses == vec![200, 409] || statuses == vec![200, 412],
            "round {round}: {statuses:?}"
        );
        let read = json_of(&app, &format!("/v1/referrals/{id}"), &app.admin).await;
        assert_eq!(read["version"], 3);
    }
}

async fn purge_removes_message_and_family_hash_of_closed_referrals(app: TestApp) {
    let f = fixture(&app).await;
    let closed = referral_in(&app, &f, ReferralStatus::Completed).await;
    let open = referral_in(&app, &f, ReferralStatus::Accepted).await;
    assert_eq!(
        app.state
            .store
            .purge_closed_before(Utc::now() - Duration::days(1))
            .await
            .unwrap(),
        0
    );
    let purged = app
        .state
        .store
        .purge_closed_before(Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let read = json_of(&app, &format!("/v1/referrals/{closed}"), &app.caseworker).await;
    assert_eq!(read["message"], Value::Null);
    assert_eq!(read["family_hash"], Value::Null);
    assert!(read["purged_at"].is_string());
    assert_eq!(read["status"], "completed");
    let kept = json_of(&app, &format!("/v1/referrals/{open}"), &app.caseworker).await;
    assert!(kept["message"].is_string() && kept["family_hash"].is_string());
    // Reports still count it.
    let report = json_of(&app, "/v1/reports/referrals?group_by=status", &app.admin).await;
    assert_eq!(report["total"]["completed"], 1);
    // Purging again finds nothing new.
    let again = app
        .state
        .store
        .purge_closed_before(Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[test]
fn purge_ages_parse() {
    use api::cli::{Age, parse_age};
    assert_eq!(parse_age("24months"), Ok(Age::Months(24)));
    assert_eq!(parse_age("24m"), Ok(Age::Months(24)));
    assert_eq!(parse_age("730days"), Ok(Age::Days(730)));
    assert!(parse_age("24 weeks").is_err());
    assert!(parse_age("months").is_err());
    let now = "2026-03-31T12:00:00Z".parse::<chrono::DateTime<Utc>>().unwrap();
    assert_eq!(
        Age::Months(1).before(now).unwrap().to_rfc3339(),
        "2026-02-28T12:00:00+00:00"
    );
}

/// The family hash is hidden from partners; the `family_ref` filter must not hand them the same linkage
/// (guess a case reference, see which referrals in the inbox are that family's).
async fn partner_cannot_probe_family_refs(app: TestApp) {
    let f = fixture(&app).await;
    create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-2026-0042")).await;
    create(&app, &app.caseworker, &referral_body(f.service_a, "SAG-2026-0043")).await;
    let inbox = json_of(&app, "/v1/referrals", &f.partner_a).await;
    assert_eq!(inbox["total"], 2);
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["family_hash"].is_null())
    );
    problem(
        app.get("/v1/referrals?family_ref=SAG-2026-0042", Some(&f.partner_a))
            .await,
        403,
    )
    .await;
    // The sender and admins still filter by family.
    let own = json_of(&app, "/v1/referrals?family_ref=SAG-2026-0042", &app.caseworker).await;
    assert_eq!(own["total"], 1);
    let all = json_of(&app, "/v1/referrals?family_ref=SAG-2026-0042", &app.admin).await;
    assert_eq!(all["total"], 1);
}

/// Dates the databases cannot store (PostgreSQL ends at 4713 BC) are the client's mistake: 400, not 500.
async fn report_and_audit_bounds_outside_the_calendar_are_bad_requests(app: TestApp) {
    for path in [
        "/v1/reports/referrals?from=-99999-01-01",
        "/v1/reports/referrals?from=-4713-01-01",
        "/v1/reports/referrals?from=2026-01-01&to=%2B99999-01-01",
        "/v1/audit?from=-99999-01-01",
        "/v1/audit?to=%2B99999-01-01",
    ] {
        let response = app.get(path, Some(&app.admin)).await;
        assert_eq!(response.status(), 400, "{path}");
        problem(response, 400).await;
    }
    json_of(&app, "/v1/reports/referrals?from=2026-01-01&to=2026-12-31", &app.admin).await;
    json_of(&app, "/v1/audit?from=0001-01-01&to=9999-12-31", &app.admin).await;
}

async fn metrics_count_referrals_by_status(app: TestApp) {
    let f = fixture(&app).await;
    for status in [
        ReferralStatus::Accepted,
        ReferralStatus::Accepted,
        ReferralStatus::Requested,
        ReferralStatus::OnHold,
    ] {
        referral_in(&app, &f, status).await;
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let counts: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("brobygger_referrals{"))
        .collect();
    assert_eq!(
        counts.len(),
        ReferralStatus::ALL.len(),
        "every status, 0 too: {metrics}"
    );
    for expected in [
        "brobygger_referrals{status=\"accepted\"} 2",
        "brobygger_referrals{status=\"requested\"} 1",
        "brobygger_referrals{status=\"on-hold\"} 1",
        "brobygger_referrals{status=\"completed\"} 0",
    ] {
        assert!(counts.contains(&expected), "{expected} in {metrics}");
    }
}

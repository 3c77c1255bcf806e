//! HSDS 3.0 schedules in full: monthly days with an ordinal (`1SA`), days of the month, every other week,
//! and the dates a schedule is valid between, stored, round-tripped through /v1 and /hsds, and honoured by
//! "open on" a date.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of, problem};
use crate::on_both_backends;
use crate::search::search;

on_both_backends!(
    monthly_and_bounded_schedules_filter_by_date,
    schedules_round_trip_through_v1_and_hsds,
    bad_schedules_and_dates_are_refused,
);

async fn offer(app: &TestApp, org: Uuid, location: Uuid, name: &str, schedule: Value) -> Uuid {
    id_of(
        &app.service(json!({
            "name": name, "description": "Fællesspisning for familier.",
            "organization_id": org, "location_ids": [location],
            "needs": ["loneliness-network"], "languages": ["da"], "free": true,
            "schedules": [schedule]
        }))
        .await,
    )
}

fn ids(results: &Value) -> Vec<Uuid> {
    results["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

async fn monthly_and_bounded_schedules_filter_by_date(app: TestApp) {
    let org = app.organization("Beboerhuset Toveshøj").await;
    let place = app.location(org, "Toveshøj", 56.156, 10.129).await;
    let first_saturday = offer(
        &app,
        org,
        place,
        "Lørdagscafé",
        json!({"byday": ["1SA"], "opens_at": "10:00", "closes_at": "13:00"}),
    )
    .await;
    let ends_soon = offer(
        &app,
        org,
        place,
        "Julecafé",
        json!({"byday": ["SA"], "opens_at": "10:00", "closes_at": "13:00", "valid_to": "2026-12-10"}),
    )
    .await;
    let fortnightly = offer(
        &app,
        org,
        place,
        "Familiespisning",
        json!({"freq": "WEEKLY", "interval": 2, "byday": ["SA"], "dtstart": "2026-11-28", "opens_at": "17:00", "closes_at": "19:00"}),
    )
    .await;
    let fifteenth = offer(
        &app,
        org,
        place,
        "Rådgivning den 15.",
        json!({"freq": "MONTHLY", "bymonthday": [15], "opens_at": "09:00", "closes_at": "12:00"}),
    )
    .await;

    // Saturday 5 December 2026 is the first Saturday of the month.
    let on_5th = ids(&search(&app, "open_on=2026-12-05").await);
    assert!(
        on_5th.contains(&first_saturday) && on_5th.contains(&ends_soon),
        "{on_5th:?}"
    );
    assert!(!on_5th.contains(&fifteenth));
    let on_12th = ids(&search(&app, "open_on=2026-12-12").await);
    assert!(!on_12th.contains(&first_saturday), "the 12th is the second Saturday");
    assert!(!on_12th.contains(&ends_soon), "valid_to has passed");
    assert!(on_12th.contains(&fortnightly), "two weeks after dtstart");
    let at_11 = ids(&search(&app, "open_on=2026-12-05&open_at=11:30").await);
    assert!(at_11.contains(&first_saturday));
    let at_14 = ids(&search(&app, "open_on=2026-12-05&open_at=14:00").await);
    assert!(!at_14.contains(&first_saturday), "closed at 13:00");
    let on_15th = ids(&search(&app, "open_on=2026-12-15").await);
    assert_eq!(on_15th, [fifteenth]);
    // "Open on Saturdays" includes the first Saturday of the month and every other Saturday.
    let saturdays = ids(&search(&app, "open_on=sa").await);
    for id in [first_saturday, ends_soon, fortnightly] {
        assert!(saturdays.contains(&id));
    }
    // The web app offers dates and says when a schedule ends.
    let page = app
        .get(&format!("/offers/{ends_soon}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("til 10.12.2026"), "the offer page says when it ends");
    let search_page = app
        .get("/?need=loneliness-network&open_on=2026-12-05", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(search_page.contains("Lørdagscafé"), "{search_page}");
    assert!(!search_page.contains("Rådgivning den 15."));
}

async fn schedules_round_trip_through_v1_and_hsds(app: TestApp) {
    let org = app.organization("Bydelsmødrene").await;
    let place = app.location(org, "Gellerup Bibliotek", 56.155, 10.135).await;
    let schedule = json!({
        "freq": "MONTHLY", "interval": 1, "byday": ["-1FR", "2SA"], "bymonthday": [],
        "opens_at": "16:00", "closes_at": "18:00", "dtstart": "2026-01-01", "until": "2027-06-30",
        "valid_from": "2026-01-01", "valid_to": "2027-12-31",
        "description": "Kvindecafé", "notes": "Tag gerne en ven med"
    });
    let id = offer(&app, org, place, "Kvindecafé", schedule.clone()).await;
    let limited = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{id}"),
            Some(&app.admin),
            &json!({"capacity": "limited"}),
        )
        .await;
    assert_eq!(limited.status(), 200);
    let read: Value = app.get(&format!("/v1/services/{id}"), None).await.json().await.unwrap();
    let stored = &read["schedules"][0];
    for field in [
        "freq",
        "interval",
        "opens_at",
        "closes_at",
        "dtstart",
        "until",
        "valid_from",
        "valid_to",
        "notes",
    ] {
        assert_eq!(stored[field], schedule[field], "{field}");
    }
    assert_eq!(stored["byday"], json!(["-1FR", "2SA"]), "days in week order");

    let hsds: Value = app
        .get(&format!("/hsds/services/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    let exported = &hsds["schedules"][0];
    assert_eq!(exported["freq"], "MONTHLY");
    assert_eq!(exported["byday"], "-1FR,2SA");
    assert_eq!(exported["until"], "2027-06-30");
    assert_eq!(exported["dtstart"], "2026-01-01");
    assert_eq!(exported["notes"], "Tag gerne en ven med");

    // What /hsds exports, import takes back unchanged.
    let response = app
        .send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), &hsds)
        .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        report["services"]["unchanged"], 1,
        "{report}: schedules and capacity read back as written"
    );

    // HSDS data from outside: byday with an ordinal and no freq is monthly; bymonthday as a string.
    let mut outside = hsds.clone();
    outside["id"] = json!("7c0e5a4e-0d5b-4b7e-8f55-0a0f4f6d3c21");
    outside["schedules"] = json!([
        {"byday": "1SA", "opens_at": "10:00:00", "closes_at": "13:00:00"},
        {"freq": "MONTHLY", "bymonthday": "1,-1", "opens_at": "09:00", "closes_at": "11:00", "interval": 2}
    ]);
    let response = app
        .send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), &outside)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let imported: Value = app
        .get("/v1/services/7c0e5a4e-0d5b-4b7e-8f55-0a0f4f6d3c21", None)
        .await
        .json()
        .await
        .unwrap();
    let schedules = imported["schedules"].as_array().unwrap();
    assert!(
        schedules
            .iter()
            .any(|s| s["freq"] == "MONTHLY" && s["byday"] == json!(["1SA"]))
    );
    assert!(
        schedules
            .iter()
            .any(|s| s["bymonthday"] == json!([-1, 1]) && s["interval"] == 2)
    );
}

async fn bad_schedules_and_dates_are_refused(app: TestApp) {
    let org = app.organization("Foreningen").await;
    let place = app.location(org, "Huset", 56.156, 10.129).await;
    let base = json!({
        "name": "Café", "organization_id": org, "location_ids": [place], "needs": [], "free": true
    });
    for (schedule, path) in [
        (
            json!({"freq": "WEEKLY", "byday": ["1SA"], "opens_at": "10:00", "closes_at": "12:00"}),
            "schedules/0/byday",
        ),
        (
            json!({"freq": "MONTHLY", "bymonthday": [32], "opens_at": "10:00", "closes_at": "12:00"}),
            "schedules/0/bymonthday/0",
        ),
        (
            json!({"byday": ["SA"], "dtstart": "2027-01-01", "until": "2026-01-01", "opens_at": "10:00", "closes_at": "12:00"}),
            "schedules/0/until",
        ),
        (
            json!({"byday": ["SA"], "opens_at": "10:00", "closes_at": "12:00", "notes": "ring 010190-1234"}),
            "schedules/0/notes",
        ),
    ] {
        let mut body = base.clone();
        body["schedules"] = json!([schedule]);
        let refused = problem(
            app.send_json(Method::POST, "/v1/services", Some(&app.admin), &body)
                .await,
            422,
        )
        .await;
        assert_eq!(refused["errors"][0]["path"], path, "{refused}");
    }
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 0);
    problem(app.get("/v1/search?open_on=2026-13-01", None).await, 400).await;
    problem(app.get("/v1/search?open_on=someday", None).await, 400).await;
}

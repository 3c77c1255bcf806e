use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, problem};
use crate::on_both_backends;

on_both_backends!(
    hsds_example_imports_once,
    invalid_hsds_is_rejected_whole,
    demo_directory_imports_idempotently
);

fn example() -> Value {
    serde_json::from_str(include_str!("../../../docs/hsds-3.0/examples/service_full.json")).unwrap()
}

async fn import(app: &TestApp, document: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), document)
        .await
}

async fn hsds_example_imports_once(app: TestApp) {
    let response = import(&app, &example()).await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["services"]["created"], 1);
    assert_eq!(report["organizations"]["created"], 1);
    let service: Value = app
        .get("/v1/services/ac148810-d857-441c-9679-408f346de14b", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(service["name"], "Community Counselling");
    assert_eq!(service["minimum_age"], 12);
    assert_eq!(service["languages"], serde_json::json!(["ur"]));

    let again: Value = import(&app, &example()).await.json().await.unwrap();
    assert_eq!(again["services"]["created"], 0);
    assert_eq!(again["services"]["unchanged"], 1);
    assert_eq!(again["organizations"]["unchanged"], 1);
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 1);
    let read: Value = app
        .get("/v1/services/ac148810-d857-441c-9679-408f346de14b", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["version"], 1, "an unchanged re-import writes nothing");

    // Only admins import.
    let response = app
        .send_json(Method::POST, "/v1/import/hsds", Some(&app.caseworker), &example())
        .await;
    problem(response, 403).await;
}

async fn invalid_hsds_is_rejected_whole(app: TestApp) {
    let mut good = example();
    good["id"] = Value::String("0b6b3a8e-5f2c-4d5e-9a3b-2c1d0e9f8a7b".into());
    let mut bad = example();
    bad["status"] = Value::String("sleeping".into());
    bad["schedules"][0]["opens_at"] = Value::String("25:00".into());
    let response = import(&app, &Value::Array(vec![good, bad])).await;
    let body = problem(response, 422).await;
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/1/status"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("/1/schedules/0")), "{paths:?}");
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 0, "nothing of the valid half is stored");

    // A reference to an organization that is neither in the document nor in the directory.
    let mut orphan = example();
    orphan.as_object_mut().unwrap().remove("organization");
    orphan["organization_id"] = Value::String("0b6b3a8e-5f2c-4d5e-9a3b-2c1d0e9f8a7c".into());
    let body = problem(import(&app, &orphan).await, 422).await;
    assert!(
        body["errors"][0]["path"].as_str().unwrap().ends_with("organization_id"),
        "{body}"
    );
    let organizations: Value = app.get("/v1/organizations", None).await.json().await.unwrap();
    assert_eq!(organizations["total"], 0);
}

async fn demo_directory_imports_idempotently(app: TestApp) {
    let demo: Value = serde_json::from_str(api::DEMO_DIRECTORY_JSON).unwrap();
    let first: Value = import(&app, &demo).await.json().await.unwrap();
    let created = first["services"]["created"].as_u64().unwrap();
    assert!(created >= 200, "{first}");
    let second: Value = import(&app, &demo).await.json().await.unwrap();
    assert_eq!(second["services"]["created"], 0);
    assert_eq!(second["services"]["updated"], 0);
    assert_eq!(second["services"]["unchanged"], created);
    let services: Value = app.get("/v1/services?per_page=1", None).await.json().await.unwrap();
    assert_eq!(services["total"], created);
    // The seed is searchable at once: a caseworker in Gellerup finds homework help nearby.
    let results: Value = app
        .get("/v1/search?q=lektiehj%C3%A6lp&near=Gellerup", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(results["total"].as_u64().unwrap() >= 3, "{results}");
}

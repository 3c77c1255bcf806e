use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, problem};
use crate::on_both_backends;

on_both_backends!(
    hsds_example_imports_once,
    invalid_hsds_is_rejected_whole,
    demo_directory_imports_idempotently,
    reimport_rewrites_changed_services_only
);

fn example() -> Value {
    serde_json::from_str(include_str!("../../../docs/hsds-3.0/examples/service_full.json")).unwrap()
}

async fn read(app: &TestApp, path: &str) -> Value {
    app.get(path, None).await.json().await.unwrap()
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

/// One organization with five services for homework help in Danish, open Monday morning, at its first
/// location; the last one at its second location too.
fn directory(organization: Uuid, locations: [Uuid; 2], services: &[Uuid]) -> Value {
    let location = |id: Uuid, name: &str, latitude: f64| {
        json!({"id": id, "organization_id": organization, "name": name, "latitude": latitude, "longitude": 10.2,
               "addresses": [{"address_1": "Skolegade 1", "city": "Aarhus", "postal_code": "8000", "country": "DK"}]})
    };
    let links = |i: usize| {
        let mut links = vec![json!({"location": location(locations[0], "Huset", 56.15)})];
        if i == 4 {
            links.push(json!({"location": location(locations[1], "Annekset", 56.16)}));
        }
        links
    };
    let services: Vec<Value> = services
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"id": id, "organization_id": organization, "name": format!("Lektiecafé {i}"),
                   "description": format!("Lektiehjælp for børn, hold {i}."), "status": "active",
                   "languages": [{"code": "da"}],
                   "schedules": [{"freq": "WEEKLY", "byday": "MO", "opens_at": "10:00", "closes_at": "12:00"}],
                   "attributes": [{"taxonomy_term": {"code": "education-homework"}}],
                   "service_at_locations": links(i)})
        })
        .collect();
    json!({"id": organization, "name": "Foreningen Lektier", "services": services})
}

async fn reimport_rewrites_changed_services_only(app: TestApp) {
    let organization = Uuid::new_v4();
    let locations = [Uuid::new_v4(), Uuid::new_v4()];
    let services: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let original = directory(organization, locations, &services);
    let first: Value = import(&app, &original).await.json().await.unwrap();
    assert_eq!(
        first["services"],
        json!({"created": 5, "updated": 0, "unchanged": 0}),
        "{first}"
    );
    assert_eq!(first["locations"]["created"], 2, "{first}");

    let mut changed = original.clone();
    changed["services"][0]["description"] = json!("Klatrevæg og lektiehjælp for børn.");
    changed["services"][1]["schedules"][0] =
        json!({"freq": "WEEKLY", "byday": "TU,TH", "opens_at": "14:00", "closes_at": "16:00"});
    changed["services"][2]["attributes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"taxonomy_term": {"code": "debt-economy"}}));
    changed["services"][3]["service_at_locations"] = json!([{"location_id": locations[1]}]);
    // The organization and the first location change too; they are written in the same batches.
    changed["name"] = json!("Foreningen Lektier og Leg");
    for service in changed["services"].as_array_mut().unwrap() {
        for link in service["service_at_locations"].as_array_mut().unwrap() {
            if link["location"]["id"] == json!(locations[0]) {
                link["location"]["name"] = json!("Huset ved søen");
            }
        }
    }
    let second: Value = import(&app, &changed).await.json().await.unwrap();
    assert_eq!(
        second["services"],
        json!({"created": 0, "updated": 4, "unchanged": 1}),
        "{second}"
    );
    assert_eq!(
        second["organizations"],
        json!({"created": 0, "updated": 1, "unchanged": 0}),
        "{second}"
    );
    assert_eq!(
        second["locations"],
        json!({"created": 0, "updated": 1, "unchanged": 1}),
        "{second}"
    );
    let name_and_version = |record: Value| (record["name"].clone(), record["version"].clone());
    let organization_read = read(&app, &format!("/v1/organizations/{organization}")).await;
    assert_eq!(
        name_and_version(organization_read),
        (json!("Foreningen Lektier og Leg"), json!(2))
    );
    let location_read = read(&app, &format!("/v1/locations/{}", locations[0])).await;
    assert_eq!(name_and_version(location_read), (json!("Huset ved søen"), json!(2)));
    let untouched = read(&app, &format!("/v1/locations/{}", locations[1])).await;
    assert_eq!(untouched["version"], 1);

    let mut stored = Vec::new();
    for id in &services {
        stored.push(read(&app, &format!("/v1/services/{id}")).await);
    }
    let versions: Vec<&Value> = stored.iter().map(|s| &s["version"]).collect();
    assert_eq!(versions, [&json!(2), &json!(2), &json!(2), &json!(2), &json!(1)]);
    assert_eq!(stored[0]["description"], "Klatrevæg og lektiehjælp for børn.");
    assert_eq!(
        stored[0]["created_at"], stored[4]["created_at"],
        "an update keeps the creation time"
    );
    assert_ne!(stored[0]["updated_at"], stored[4]["updated_at"]);
    assert_eq!(stored[1]["schedules"].as_array().unwrap().len(), 1, "{}", stored[1]);
    assert_eq!(stored[1]["schedules"][0]["byday"], json!(["TU", "TH"]));
    assert_eq!(stored[1]["schedules"][0]["opens_at"], "14:00");
    assert_eq!(stored[2]["needs"], json!(["debt-economy", "education-homework"]));
    assert_eq!(stored[3]["location_ids"], json!([locations[1]]));
    for service in &stored {
        assert_eq!(service["languages"], json!(["da"]), "{service}");
    }
    for service in [&stored[0], &stored[2], &stored[3], &stored[4]] {
        assert_eq!(service["schedules"].as_array().unwrap().len(), 1, "{service}");
        assert_eq!(service["schedules"][0]["byday"], json!(["MO"]), "{service}");
    }
    for service in [&stored[0], &stored[1], &stored[2]] {
        assert_eq!(service["location_ids"], json!([locations[0]]), "{service}");
    }
    assert_eq!(stored[4]["location_ids"].as_array().unwrap().len(), 2);
    let total: Value = app.get("/v1/services?per_page=1", None).await.json().await.unwrap();
    assert_eq!(total["total"], 5);

    // Search follows the change log: the new text is found, once.
    let results: Value = app.get("/v1/search?q=klatrev%C3%A6g", None).await.json().await.unwrap();
    assert_eq!(results["total"], 1, "{results}");
    assert_eq!(results["items"][0]["id"], json!(services[0]), "{results}");

    // The same document again writes nothing.
    let third: Value = import(&app, &changed).await.json().await.unwrap();
    assert_eq!(
        third["services"],
        json!({"created": 0, "updated": 0, "unchanged": 5}),
        "{third}"
    );
    assert_eq!(third["locations"]["unchanged"], 2, "{third}");
    assert_eq!(third["organizations"]["unchanged"], 1, "{third}");
    let again = read(&app, &format!("/v1/services/{}", services[0])).await;
    assert_eq!(again["version"], 2);
}

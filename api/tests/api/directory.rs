use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of, problem};
use crate::on_both_backends;

on_both_backends!(
    crud_round_trip,
    partner_writes_only_its_own_organization,
    anonymous_and_reader_cannot_write,
    stale_if_match_is_refused,
    bad_input_is_a_problem_and_changes_nothing,
    confidential_location_is_redacted_by_role,
    cpr_numbers_in_public_text_are_refused_and_nothing_is_stored,
    a_stored_value_that_does_not_parse_is_a_server_error_not_a_default,
);

fn homework_service(organization_id: uuid::Uuid, location_id: uuid::Uuid) -> Value {
    json!({
        "name": "Lektiehjælp i Gellerup",
        "description": "Frivillige hjælper børn med lektier hver tirsdag og torsdag.",
        "organization_id": organization_id,
        "location_ids": [location_id],
        "needs": ["education-homework"],
        "minimum_age": 6, "maximum_age": 16,
        "languages": ["da", "ar"],
        "free": true,
        "schedules": [{"byday": ["TU", "TH"], "opens_at": "15:00", "closes_at": "17:30"}]
    })
}

async fn crud_round_trip(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let created = app.service(homework_service(org, location)).await;
    let id = id_of(&created);
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "active");
    assert_eq!(created["needs"], json!(["education-homework"]));

    let response = app.get(&format!("/v1/services/{id}"), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let read: Value = response.json().await.unwrap();
    assert_eq!(read["name"], "Lektiehjælp i Gellerup");
    assert_eq!(read["schedules"][0]["byday"], json!(["TU", "TH"]));
    assert_eq!(read["location_ids"], json!([location]));

    let mut replacement = homework_service(org, location);
    replacement["name"] = json!("Lektiecafé for børn");
    let response = app
        .request(Method::PUT, &format!("/v1/services/{id}"), Some(&app.admin))
        .header("If-Match", "\"1\"")
        .json(&replacement)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");

    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{id}"),
            Some(&app.admin),
            &json!({"maximum_age": 18, "fees_description": null}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["name"], "Lektiecafé for børn");
    assert_eq!(patched["maximum_age"], 18);
    assert_eq!(patched["minimum_age"], 6);
    assert_eq!(patched["version"], 3);

    let listed: Value = app
        .get(&format!("/v1/services?organization_id={org}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], json!(id));
    let other: Value = app
        .get(&format!("/v1/services?organization_id={}", uuid::Uuid::new_v4()), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["total"], 0);

    let response = app
        .request(Method::DELETE, &format!("/v1/services/{id}"), Some(&app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let read: Value = app.get(&format!("/v1/services/{id}"), None).await.json().await.unwrap();
    assert_eq!(read["status"], "inactive");
    let active: Value = app.get("/v1/services?status=active", None).await.json().await.unwrap();
    assert_eq!(active["total"], 0);

    let response = app.get(&format!("/v1/services/{}", uuid::Uuid::new_v4()), None).await;
    problem(response, 404).await;
}

async fn partner_writes_only_its_own_organization(app: TestApp) {
    let org_a = app.organization("Foreningen A").await;
    let org_b = app.organization("Foreningen B").await;
    let location_a = app.location(org_a, "Hus A", 56.15, 10.13).await;
    let service_a = id_of(&app.service(homework_service(org_a, location_a)).await);
    let partner_b = app.partner_key(org_b).await;
    let partner_a = app.partner_key(org_a).await;

    let mut edit = homework_service(org_a, location_a);
    edit["name"] = json!("Overtaget");
    let response = app
        .send_json(
            Method::PUT,
            &format!("/v1/services/{service_a}"),
            Some(&partner_b),
            &edit,
        )
        .await;
    problem(response, 403).await;
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{service_a}"),
            Some(&partner_b),
            &json!({"name": "Overtaget"}),
        )
        .await;
    problem(response, 403).await;
    let response = app
        .request(Method::DELETE, &format!("/v1/services/{service_a}"), Some(&partner_b))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    // Moving a service into another organization needs both to be yours.
    let mut moved = homework_service(org_b, location_a);
    moved["name"] = json!("Flyttet");
    let response = app
        .send_json(
            Method::PUT,
            &format!("/v1/services/{service_a}"),
            Some(&partner_a),
            &moved,
        )
        .await;
    problem(response, 403).await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/services",
            Some(&partner_b),
            &homework_service(org_a, location_a),
        )
        .await;
    problem(response, 403).await;
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/organizations/{org_a}"),
            Some(&partner_b),
            &json!({"name": "X"}),
        )
        .await;
    problem(response, 403).await;

    let read: Value = app
        .get(&format!("/v1/services/{service_a}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["name"], "Lektiehjælp i Gellerup");
    assert_eq!(read["version"], 1);

    // The owner may edit.
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{service_a}"),
            Some(&partner_a),
            &json!({"name": "Lektiecafé A"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/organizations/{org_a}"),
            Some(&partner_a),
            &json!({"website": "https://a.example.org"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    // They link their services to another organization's public place, not to its confidential one.
    let location_b = app.location(org_b, "Hus B", 56.16, 10.14).await;
    let mut linked = homework_service(org_a, location_b);
    linked["name"] = json!("Hos naboen");
    let response = app
        .send_json(Method::POST, "/v1/services", Some(&partner_a), &linked)
        .await;
    assert_eq!(response.status(), 201);
    let response = app
        .send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &json!({"organization_id": org_b, "name": "Skjult hus B", "confidential": true}),
        )
        .await;
    let hidden_b = id_of(&response.json::<Value>().await.unwrap());
    let mut linked = homework_service(org_a, hidden_b);
    linked["name"] = json!("Hos naboen i skjul");
    problem(
        app.send_json(Method::POST, "/v1/services", Some(&partner_a), &linked)
            .await,
        403,
    )
    .await;
    problem(
        app.send_json(
            Method::PUT,
            &format!("/v1/services/{service_a}"),
            Some(&partner_a),
            &linked,
        )
        .await,
        403,
    )
    .await;
    // Partners do not create organizations.
    let response = app
        .send_json(
            Method::POST,
            "/v1/organizations",
            Some(&partner_a),
            &json!({"name": "Ny", "kind": "ngo"}),
        )
        .await;
    problem(response, 403).await;
}

async fn anonymous_and_reader_cannot_write(app: TestApp) {
    let org = app.organization("Foreningen").await;
    let body = json!({"organization_id": org, "name": "Sted", "latitude": 56.1, "longitude": 10.1});
    let response = app.send_json(Method::POST, "/v1/locations", None, &body).await;
    problem(response, 401).await;
    let response = app
        .send_json(Method::POST, "/v1/locations", Some(&app.reader), &body)
        .await;
    problem(response, 403).await;
    let response = app
        .send_json(Method::POST, "/v1/locations", Some(&app.caseworker), &body)
        .await;
    problem(response, 403).await;
    let response = app
        .send_json(Method::POST, "/v1/locations", Some("bb_not-a-key"), &body)
        .await;
    problem(response, 401).await;
    let listed: Value = app.get("/v1/locations", None).await.json().await.unwrap();
    assert_eq!(listed["total"], 0);
}

async fn stale_if_match_is_refused(app: TestApp) {
    let org = app.organization("Foreningen").await;
    let response = app
        .request(Method::PATCH, &format!("/v1/organizations/{org}"), Some(&app.admin))
        .header("If-Match", "\"1\"")
        .json(&json!({"description": "Første redigering"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A second writer still holding version 1 loses.
    let response = app
        .request(Method::PATCH, &format!("/v1/organizations/{org}"), Some(&app.admin))
        .header("If-Match", "\"1\"")
        .json(&json!({"description": "Anden redigering"}))
        .send()
        .await
        .unwrap();
    problem(response, 412).await;
    let response = app
        .request(Method::DELETE, &format!("/v1/organizations/{org}"), Some(&app.admin))
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(response, 412).await;
    let read: Value = app
        .get(&format!("/v1/organizations/{org}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["description"], "Første redigering");
    assert_eq!(read["status"], "active");
    assert_eq!(read["version"], 2);
}

async fn bad_input_is_a_problem_and_changes_nothing(app: TestApp) {
    let org = app.organization("Foreningen").await;
    let location = app.location(org, "Hus", 56.15, 10.13).await;

    let response = app
        .request(Method::POST, "/v1/services", Some(&app.admin))
        .header("content-type", "application/json")
        .body("{\"name\": \"Halv")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;

    let response = app
        .send_json(
            Method::POST,
            "/v1/services",
            Some(&app.admin),
            &json!({"name": "Forkert type", "organization_id": org, "minimum_age": "six"}),
        )
        .await;
    problem(response, 400).await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/services",
            Some(&app.admin),
            &json!({"name": "Uden organisation"}),
        )
        .await;
    problem(response, 400).await;
    let response = app.get("/v1/services/not-a-uuid", None).await;
    problem(response, 400).await;

    let mut unknown_need = homework_service(org, location);
    unknown_need["needs"] = json!(["education-homework", "astrology"]);
    let body = problem(
        app.send_json(Method::POST, "/v1/services", Some(&app.admin), &unknown_need)
            .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "needs/1");

    let mut bad_schedule = homework_service(org, location);
    bad_schedule["schedules"] = json!([{"byday": ["XX"], "opens_at": "18:00", "closes_at": "18:00"}]);
    let body = problem(
        app.send_json(Method::POST, "/v1/services", Some(&app.admin), &bad_schedule)
            .await,
        422,
    )
    .await;
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["schedules/0/byday", "schedules/0/closes_at"]);

    let body = problem(
        app.send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &json!({"organization_id": org, "name": "Nordpolen", "latitude": 95.0, "longitude": 10.0}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["path"], "latitude");

    let response = app.get("/v1/services?per_page=101", None).await;
    problem(response, 400).await;
    for page in ["0", "18446744073709551615"] {
        problem(app.get(&format!("/v1/services?page={page}"), None).await, 400).await;
        problem(app.get(&format!("/v1/search?page={page}"), None).await, 400).await;
    }
    let too_long = "x".repeat(201);
    let response = app
        .send_json(
            Method::POST,
            "/v1/organizations",
            Some(&app.admin),
            &json!({"name": too_long, "kind": "ngo"}),
        )
        .await;
    problem(response, 422).await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/organizations",
            Some(&app.admin),
            &json!({"name": "X", "kind": "cult"}),
        )
        .await;
    problem(response, 400).await;

    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 0);
    let locations: Value = app.get("/v1/locations", None).await.json().await.unwrap();
    assert_eq!(locations["total"], 1);
    let organizations: Value = app.get("/v1/organizations", None).await.json().await.unwrap();
    assert_eq!(organizations["total"], 1);
}

async fn confidential_location_is_redacted_by_role(app: TestApp) {
    let shelter = app.organization("Kvindekrisecentret").await;
    let other = app.organization("Anden forening").await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &json!({"organization_id": shelter, "name": "Krisecenter", "latitude": 56.16, "longitude": 10.2,
                    "address": {"address_1": "Hemmelig Vej 1", "postal_code": "8000", "city": "Aarhus C"},
                    "confidential": true}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let id = id_of(&response.json::<Value>().await.unwrap());
    let owner = app.partner_key(shelter).await;
    let stranger = app.partner_key(other).await;

    for key in [None, Some(app.reader.as_str()), Some(stranger.as_str())] {
        let read: Value = app.get(&format!("/v1/locations/{id}"), key).await.json().await.unwrap();
        assert_eq!(read["confidential"], true);
        assert!(
            read["address"].is_null() && read["latitude"].is_null() && read["longitude"].is_null(),
            "{read}"
        );
        let listed: Value = app.get("/v1/locations", key).await.json().await.unwrap();
        assert!(listed["items"][0]["address"].is_null());
        assert!(!listed.to_string().contains("Hemmelig"));
    }
    for key in [app.caseworker.as_str(), app.admin.as_str(), owner.as_str()] {
        let read: Value = app
            .get(&format!("/v1/locations/{id}"), Some(key))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["address"]["address_1"], "Hemmelig Vej 1");
        assert_eq!(read["latitude"], 56.16);
    }

    // Search: the place is neither in range nor measured for those who may not know it, since shrinking
    // radii would otherwise give it away; its hits show no address.
    app.service(
        json!({"name": "Krisecenter for kvinder", "organization_id": shelter, "location_ids": [id],
                       "needs": ["domestic-violence"]}),
    )
    .await;
    let near = "/v1/search?q=krisecenter&lat=56.16&lon=10.2";
    for key in [
        None,
        Some(app.reader.as_str()),
        Some(stranger.as_str()),
        Some(owner.as_str()),
    ] {
        let results: Value = app.get(near, key).await.json().await.unwrap();
        assert_eq!(results["total"], 0, "{results}");
    }
    for key in [None, Some(app.reader.as_str()), Some(stranger.as_str())] {
        let results: Value = app.get("/v1/search?q=krisecenter", key).await.json().await.unwrap();
        let hit = &results["items"][0];
        assert_eq!(hit["location"]["id"], json!(id));
        assert!(
            hit["location"]["address"].is_null() && hit["location"]["latitude"].is_null(),
            "{hit}"
        );
        assert!(hit["distance_km"].is_null());
    }
    let results: Value = app.get(near, Some(&app.caseworker)).await.json().await.unwrap();
    assert_eq!(
        results["items"][0]["location"]["address"]["address_1"],
        "Hemmelig Vej 1"
    );
    assert!(results["items"][0]["distance_km"].as_f64().unwrap() < 0.1);
    let results: Value = app
        .get("/v1/search?q=krisecenter", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        results["items"][0]["location"]["address"]["address_1"],
        "Hemmelig Vej 1"
    );
}

/// The directory is public: a CPR number in any of its text would publish a person's identity.
async fn cpr_numbers_in_public_text_are_refused_and_nothing_is_stored(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let service = app.service(homework_service(org, location)).await;
    let id = id_of(&service);
    let writes = [
        (
            Method::POST,
            "/v1/services".to_owned(),
            {
                let mut body = homework_service(org, location);
                body["description"] = json!("Kontakt 010190-1234 for at komme med");
                body
            },
            "description",
        ),
        (
            Method::PATCH,
            format!("/v1/services/{id}"),
            json!({"eligibility_description": "Kun for 0101901234"}),
            "eligibility_description",
        ),
        (
            Method::PATCH,
            format!("/v1/services/{id}"),
            json!({"schedules": [{"byday": ["TU"], "opens_at": "15:00", "closes_at": "17:00", "description": "spørg efter 311299 1234"}]}),
            "schedules/0/description",
        ),
        (
            Method::PATCH,
            format!("/v1/organizations/{org}"),
            json!({"name": "Forening v. 010190-1234"}),
            "name",
        ),
        (
            Method::PATCH,
            format!("/v1/locations/{location}"),
            json!({"address": {"address_1": "c/o 010190-1234", "postal_code": "8220", "city": "Brabrand"}}),
            "address/address_1",
        ),
    ];
    for (method, path, body, field) in writes {
        let response = app.send_json(method.clone(), &path, Some(&app.admin), &body).await;
        let problem = problem(response, 422).await;
        assert_eq!(problem["errors"][0]["path"], field, "{method} {path}: {problem}");
        assert!(
            problem["errors"][0]["reason"].as_str().unwrap().contains("CPR"),
            "{problem}"
        );
    }
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 1, "the refused service was not stored");
    let read: Value = app.get(&format!("/v1/services/{id}"), None).await.json().await.unwrap();
    assert_eq!(read["version"], 1, "the refused patches changed nothing");
    assert_eq!(read["eligibility_description"], Value::Null);
    let org_read: Value = app
        .get(&format!("/v1/organizations/{org}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(org_read["name"], "Lektiecafé Gellerup");

    // Import: the same rule, and nothing of the document is stored.
    let mut document: Value =
        serde_json::from_str(include_str!("../../../docs/hsds-3.0/examples/service_full.json")).unwrap();
    document["description"] = json!("Ring til Amira (010190-1234) og aftal et møde");
    let response = app
        .send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), &document)
        .await;
    let problem = problem(response, 422).await;
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"].as_str().unwrap().ends_with("description")),
        "{problem}"
    );
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 1, "nothing of the document was stored");
    // A phone number, a date and a postal code are not CPR numbers.
    let fine = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{id}"),
            Some(&app.admin),
            &json!({"description": "Ring 8940 1234 eller +45 20 12 34 56, start 01-01-2027, 8220 Brabrand"}),
        )
        .await;
    assert_eq!(fine.status(), 200);
}

/// Only Brobygger writes these columns: a value it cannot read back is a fault to see, not a default to act on
/// (an unknown status read as `inactive` would hide an offer without a trace).
async fn a_stored_value_that_does_not_parse_is_a_server_error_not_a_default(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let service = id_of(&app.service(homework_service(org, location)).await);
    let db = app.state.store.connection();
    for (table, column, id, path) in [
        ("organization", "kind", org, format!("/v1/organizations/{org}")),
        ("location", "status", location, format!("/v1/locations/{location}")),
        ("service", "status", service, format!("/v1/services/{service}")),
    ] {
        assert_eq!(app.get(&path, Some(&app.admin)).await.status(), 200);
        let update = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            format!("UPDATE {table} SET {column} = 'sleeping' WHERE id = $1"),
            [sea_orm::Value::from(id)],
        );
        assert_eq!(db.execute_raw(update).await.unwrap().rows_affected(), 1);
        problem(app.get(&path, Some(&app.admin)).await, 500).await;
    }
}

//! Places shared by several organizations: one community house used by the services of three
//! organizations imports as one place; partners edit their own services wherever they are but only their
//! own organization's places; an ownerless place is the admins'; where a confidential place is shows only
//! to caseworkers, admins and its owner's partners, on every path.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of, problem};
use crate::hsds::get_json;
use crate::on_both_backends;

on_both_backends!(
    a_place_shared_by_three_organizations_imports_once,
    differing_copies_of_a_place_are_refused_naming_both,
    partners_edit_their_services_at_a_shared_place_not_the_place,
    confidential_places_are_linked_by_their_owners_only,
    a_place_without_owner_is_edited_by_admins_only,
    where_a_confidential_place_is_shows_by_role_on_every_path,
    the_migration_makes_the_owner_optional,
);

const PLACE: &str = "5b3f2a10-7c4e-4d2b-9e61-0a1b2c3d4e5f";

fn toveshoej() -> Value {
    json!({"id": PLACE, "location_type": "physical", "name": "Beboerhuset Toveshøj",
           "latitude": 56.1497, "longitude": 10.1432,
           "addresses": [{"address_1": "Dortesvej 37", "postal_code": "8220", "city": "Brabrand",
                          "country": "DK", "address_type": "physical"}]})
}

/// An organization with one service at `place`.
fn organization_at(n: u8, name: &str, place: Value) -> Value {
    json!({"id": format!("00000000-0000-4000-8000-00000000000{n}"), "name": name,
           "description": "Forening i Gellerup",
           "services": [{"id": format!("00000000-0000-4000-9000-00000000000{n}"),
                         "name": format!("{name} i Beboerhuset"), "status": "active",
                         "service_at_locations": [{"location": place}]}]})
}

fn three_organizations() -> Value {
    json!([
        organization_at(1, "Boligforeningen", toveshoej()),
        organization_at(2, "Bydelsmødrene", toveshoej()),
        organization_at(3, "Aarhus Kommune", toveshoej()),
    ])
}

async fn import(app: &TestApp, document: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), document)
        .await
}

async fn a_place_shared_by_three_organizations_imports_once(app: TestApp) {
    for round in 0..2 {
        let response = import(&app, &three_organizations()).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
        let report: Value = response.json().await.unwrap();
        let (created, unchanged) = if round == 0 { (1, 0) } else { (0, 1) };
        assert_eq!(report["locations"]["created"], created, "{report}");
        assert_eq!(report["locations"]["unchanged"], unchanged, "{report}");
        assert_eq!(report["services"]["created"], 3 * created, "{report}");
        assert_eq!(report["organizations"]["unchanged"], 3 * unchanged, "{report}");
        assert_eq!(report["warnings"], json!([]), "{report}");
    }
    let locations = get_json(&app, "/v1/locations", None).await;
    assert_eq!(locations["total"], 1, "{locations}");
    let place = &locations["items"][0];
    assert_eq!(place["id"], PLACE);
    assert_eq!(place["version"], 1, "the second import wrote nothing");
    assert!(place["organization_id"].is_null(), "no owner is made up: {place}");
    let services = get_json(&app, "/v1/services", None).await;
    assert_eq!(services["total"], 3);
    for service in services["items"].as_array().unwrap() {
        assert_eq!(service["location_ids"], json!([PLACE]));
    }
    // The export names no owner either, and shows the place with each service.
    let exported = get_json(&app, "/hsds/services?full=true", None).await;
    let contents = exported["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3);
    for service in contents {
        let location = &service["service_at_locations"][0]["location"];
        assert_eq!(location["id"], PLACE);
        assert!(location.get("organization_id").is_none(), "{location}");
        assert_eq!(location["addresses"][0]["address_1"], "Dortesvej 37");
    }
    // What was exported imports again unchanged.
    let response = import(&app, &Value::Array(contents.clone())).await;
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["locations"]["unchanged"], 1, "{report}");
    assert_eq!(report["services"]["unchanged"], 3, "{report}");
}

async fn differing_copies_of_a_place_are_refused_naming_both(app: TestApp) {
    let mut renamed = toveshoej();
    renamed["name"] = json!("Toveshøj Beboerhus");
    let document = json!([
        organization_at(1, "Boligforeningen", toveshoej()),
        organization_at(2, "Bydelsmødrene", renamed),
    ]);
    let body = problem(import(&app, &document).await, 422).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    let first = "/0/services/0/service_at_locations/0/location";
    let second = "/1/services/0/service_at_locations/0/location";
    assert_eq!(errors[0]["path"], second, "{body}");
    let reason = errors[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(first) && reason.contains(second) && reason.contains(PLACE),
        "{reason}"
    );
    for list in ["/v1/locations", "/v1/services", "/v1/organizations"] {
        assert_eq!(get_json(&app, list, None).await["total"], 0, "{list}: nothing stored");
    }
}

async fn create_location(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, "/v1/locations", Some(key), &body).await
}

/// A confidential place of `owner` (None: no owner) at `street`, created by an admin.
async fn confidential_place(app: &TestApp, owner: Option<Uuid>, name: &str, street: &str) -> Uuid {
    let body = json!({"organization_id": owner, "name": name, "latitude": 56.16, "longitude": 10.2,
                      "address": {"address_1": street, "postal_code": "8000", "city": "Aarhus C"},
                      "confidential": true});
    let response = create_location(app, &app.admin, body).await;
    assert_eq!(response.status(), 201);
    id_of(&response.json::<Value>().await.unwrap())
}

async fn patch(app: &TestApp, path: &str, key: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::PATCH, path, Some(key), &body).await
}

async fn post_service(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/v1/services", Some(key), body).await
}

fn service_at(organization_id: Uuid, name: &str, places: &[Uuid]) -> Value {
    json!({"name": name, "organization_id": organization_id, "location_ids": places,
           "needs": ["education-homework"]})
}

async fn partners_edit_their_services_at_a_shared_place_not_the_place(app: TestApp) {
    let housing = app.organization("Boligforeningen").await;
    let mothers = app.organization("Bydelsmødrene").await;
    let place = app.location(housing, "Beboerhuset Toveshøj", 56.1497, 10.1432).await;
    let service = id_of(
        &app.service(service_at(mothers, "Bydelsmødre i Beboerhuset", &[place]))
            .await,
    );
    let partner = app.partner_key(mothers).await;
    let owner = app.partner_key(housing).await;

    let response = patch(
        &app,
        &format!("/v1/services/{service}"),
        &partner,
        json!({"name": "Bydelsmødrenes café"}),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let response = app
        .send_json(
            Method::PUT,
            &format!("/v1/services/{service}"),
            Some(&partner),
            &service_at(mothers, "Bydelsmødrenes café", &[place]),
        )
        .await;
    assert_eq!(response.status(), 200);
    // A new service of theirs at the (public) place of another organization.
    let response = post_service(
        &app,
        &partner,
        &service_at(mothers, "Lektiehjælp i Beboerhuset", &[place]),
    )
    .await;
    assert_eq!(response.status(), 201);

    // The place itself stays the owner's.
    let path = format!("/v1/locations/{place}");
    problem(patch(&app, &path, &partner, json!({"name": "Vores hus"})).await, 403).await;
    let replacement = json!({"organization_id": mothers, "name": "Vores hus"});
    let response = app.send_json(Method::PUT, &path, Some(&partner), &replacement).await;
    problem(response, 403).await;
    let response = app.request(Method::DELETE, &path, Some(&partner)).send().await.unwrap();
    problem(response, 403).await;
    let read = get_json(&app, &path, None).await;
    assert_eq!(read["name"], "Beboerhuset Toveshøj");
    assert_eq!(read["version"], 1);
    assert_eq!(read["organization_id"], json!(housing));

    let response = patch(&app, &path, &owner, json!({"name": "Beboerhuset"})).await;
    assert_eq!(response.status(), 200);
    // The owner may not give its place away, nor make it ownerless: that is for an admin.
    problem(
        patch(&app, &path, &owner, json!({"organization_id": mothers})).await,
        403,
    )
    .await;
    let read = get_json(&app, &path, None).await;
    assert_eq!(read["organization_id"], json!(housing));
    // Omitting the owner on the owner's write keeps the partner's organization as owner.
    let response = patch(&app, &path, &owner, json!({"organization_id": null})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(get_json(&app, &path, None).await["organization_id"], json!(housing));
}

async fn confidential_places_are_linked_by_their_owners_only(app: TestApp) {
    let shelter = app.organization("Kvindekrisecentret").await;
    let other = app.organization("Anden forening").await;
    let hidden = confidential_place(&app, Some(shelter), "Krisecenter", "Hemmelig Vej 1").await;
    let public = app.location(other, "Foreningshuset", 56.15, 10.13).await;
    let service = id_of(&app.service(service_at(other, "Rådgivning", &[public])).await);
    let partner = app.partner_key(other).await;
    let owner = app.partner_key(shelter).await;

    let response = post_service(
        &app,
        &partner,
        &service_at(other, "Rådgivning på krisecentret", &[hidden]),
    )
    .await;
    let body = problem(response, 403).await;
    assert!(body["detail"].as_str().unwrap().contains(&hidden.to_string()), "{body}");
    let path = format!("/v1/services/{service}");
    let response = patch(&app, &path, &partner, json!({"location_ids": [public, hidden]})).await;
    problem(response, 403).await;
    let read = get_json(&app, &path, None).await;
    assert_eq!(read["location_ids"], json!([public]), "nothing changed");
    assert_eq!(read["version"], 1);
    assert_eq!(get_json(&app, "/v1/services", None).await["total"], 1);

    // Its own partners link it; so does an admin, and then the other partner still edits its service there.
    let response = post_service(&app, &owner, &service_at(shelter, "Krisecenter for kvinder", &[hidden])).await;
    assert_eq!(response.status(), 201);
    let response = patch(&app, &path, &app.admin, json!({"location_ids": [public, hidden]})).await;
    assert_eq!(response.status(), 200);
    let response = patch(&app, &path, &partner, json!({"name": "Rådgivning for kvinder"})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    // An inactive place of another organization is not linked anew either.
    let closed = app.location(shelter, "Gammelt hus", 56.1, 10.1).await;
    let response = app
        .request(Method::DELETE, &format!("/v1/locations/{closed}"), Some(&owner))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = patch(&app, &path, &partner, json!({"location_ids": [public, hidden, closed]})).await;
    problem(response, 403).await;
}

async fn a_place_without_owner_is_edited_by_admins_only(app: TestApp) {
    let housing = app.organization("Boligforeningen").await;
    let other = app.organization("Anden forening").await;
    let response = create_location(
        &app,
        &app.admin,
        json!({"name": "Beboerhuset Toveshøj", "latitude": 56.1497, "longitude": 10.1432}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert!(created["organization_id"].is_null(), "{created}");
    let place = id_of(&created);
    let path = format!("/v1/locations/{place}");
    let partner = app.partner_key(housing).await;

    problem(patch(&app, &path, &partner, json!({"name": "Vores hus"})).await, 403).await;
    let response = app.request(Method::DELETE, &path, Some(&partner)).send().await.unwrap();
    problem(response, 403).await;
    problem(patch(&app, &path, &app.caseworker, json!({"name": "X"})).await, 403).await;
    let response = patch(&app, &path, &app.admin, json!({"name": "Beboerhuset"})).await;
    assert_eq!(response.status(), 200);
    let read: Value = response.json().await.unwrap();
    assert_eq!(read["name"], "Beboerhuset");
    assert!(read["organization_id"].is_null());
    // Partners link their services to it.
    let response = post_service(&app, &partner, &service_at(housing, "Lektiecafé", &[place])).await;
    assert_eq!(response.status(), 201);

    // A partner's new place is its own organization's, unless it names another, which it may not.
    let response = create_location(&app, &partner, json!({"name": "Klubhuset"})).await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.json::<Value>().await.unwrap()["organization_id"],
        json!(housing)
    );
    let response = create_location(&app, &partner, json!({"name": "Fremmed", "organization_id": other})).await;
    problem(response, 403).await;
    let locations = get_json(&app, "/v1/locations", None).await;
    assert_eq!(locations["total"], 2);
}

fn hidden(location: &Value) -> bool {
    location["address"].is_null() && location["latitude"].is_null() && location["longitude"].is_null()
}

/// The HSDS location of the first link of `service` as `key` sees it.
async fn hsds_location(app: &TestApp, service: Uuid, key: Option<&str>) -> Value {
    let read = get_json(app, &format!("/hsds/services/{service}"), key).await;
    read["service_at_locations"][0]["location"].clone()
}

async fn where_a_confidential_place_is_shows_by_role_on_every_path(app: TestApp) {
    let shelter = app.organization("Kvindekrisecentret").await;
    let other = app.organization("Rådgivningen").await;
    let owned = confidential_place(&app, Some(shelter), "Krisecenter", "Hemmelig Vej 1").await;
    let ownerless = confidential_place(&app, None, "Skjult lejlighed", "Lukket Gade 2").await;
    // The other organization's service is at the shelter's place (an admin linked it).
    let at_owned = id_of(
        &app.service(service_at(other, "Rådgivning på krisecentret", &[owned]))
            .await,
    );
    let at_ownerless = id_of(
        &app.service(service_at(other, "Rådgivning i lejligheden", &[ownerless]))
            .await,
    );
    let owner = app.partner_key(shelter).await;
    let partner = app.partner_key(other).await;

    let cases: [(Option<&str>, bool, bool); 6] = [
        (None, false, false),
        (Some(&app.reader), false, false),
        // The partner whose service is there is not the place's owner.
        (Some(&partner), false, false),
        (Some(&owner), true, false),
        (Some(&app.caseworker), true, true),
        (Some(&app.admin), true, true),
    ];
    for (key, sees_owned, sees_ownerless) in cases {
        for (place, service, sees, street, word) in [
            (owned, at_owned, sees_owned, "Hemmelig Vej 1", "krisecentret"),
            (ownerless, at_ownerless, sees_ownerless, "Lukket Gade 2", "lejligheden"),
        ] {
            let v1 = get_json(&app, &format!("/v1/locations/{place}"), key).await;
            assert_eq!(!hidden(&v1), sees, "/v1 {key:?}: {v1}");
            let hsds = hsds_location(&app, service, key).await;
            assert_eq!(
                hsds["addresses"].as_array().unwrap().is_empty(),
                !sees,
                "/hsds {key:?}: {hsds}"
            );
            assert_eq!(hsds.get("latitude").is_some_and(|l| !l.is_null()), sees, "{hsds}");
            let results = get_json(&app, &format!("/v1/search?q={word}"), key).await;
            let hit = results["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["id"] == json!(service))
                .unwrap_or_else(|| panic!("{results}"))
                .clone();
            assert_eq!(!hidden(&hit["location"]), sees, "search {key:?}: {hit}");
            assert_eq!(results.to_string().contains(street), sees, "search {key:?}");
        }
    }
    // An ownerless place is nobody's in the listings either.
    let owned_by_shelter = get_json(&app, &format!("/v1/locations?organization_id={shelter}"), None).await;
    assert_eq!(owned_by_shelter["total"], 1);
}

/// A database migrated when every place had an owner (NOT NULL) gets the column made optional, its rows and
/// index kept, whichever first migration created it.
async fn the_migration_makes_the_owner_optional(app: TestApp) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let housing = app.organization("Boligforeningen").await;
    let place = app.location(housing, "Beboerhuset Toveshøj", 56.1497, 10.1432).await;
    let db = app.state.store.connection();
    let backend = db.get_database_backend();
    let not_null: &[&str] = match backend {
        DbBackend::Postgres => &[r#"ALTER TABLE "location" ALTER COLUMN "organization_id" SET NOT NULL"#],
        _ => &[
            r#"CREATE TABLE "location_before" ("id" uuid_text NOT NULL PRIMARY KEY,
               "organization_id" uuid_text NOT NULL, "name" varchar NOT NULL, "latitude" double NULL,
               "longitude" double NULL, "address_1" varchar NULL, "postal_code" varchar NULL, "city" varchar NULL,
               "confidential" boolean NOT NULL, "status" varchar NOT NULL, "version" integer NOT NULL,
               "created_at" timestamp_with_timezone_text NOT NULL,
               "updated_at" timestamp_with_timezone_text NOT NULL)"#,
            r#"INSERT INTO "location_before" SELECT "id", "organization_id", "name", "latitude", "longitude",
               "address_1", "postal_code", "city", "confidential", "status", "version", "created_at",
               "updated_at" FROM "location""#,
            r#"DROP TABLE "location""#,
            r#"ALTER TABLE "location_before" RENAME TO "location""#,
            r#"CREATE INDEX "idx-location-organization_id" ON "location" ("organization_id")"#,
        ],
    };
    // One connection for the rebuild: the pool's others may still read the old schema.
    let txn = db.begin().await.unwrap();
    for statement in not_null {
        txn.execute_unprepared(statement).await.unwrap();
    }
    txn.commit().await.unwrap();
    db.execute_unprepared("DELETE FROM seaql_migrations WHERE version = 'm20261202_000009_shared_locations'")
        .await
        .unwrap();
    let nullable = |db: sea_orm::DatabaseConnection| async move {
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable FROM information_schema.columns \
                 WHERE table_name = 'location' AND column_name = 'organization_id'"
            }
            _ => "SELECT 1 - \"notnull\" AS nullable FROM pragma_table_info('location') WHERE name = 'organization_id'",
        };
        let row = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i32>("", "nullable").unwrap() == 1
    };
    assert!(!nullable(db.clone()).await, "the test put the old constraint back");
    // Opening the database runs the migration again.
    let store = entities::Store::connect(&app.database_url).await.unwrap();
    assert!(nullable(store.connection().clone()).await);
    let kept = store.get_location(place).await.unwrap();
    assert_eq!(kept.data.organization_id, Some(housing));
    assert_eq!(kept.data.name, "Beboerhuset Toveshøj");
    let index = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = 'location' AND indexname = 'idx-location-organization_id'"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND tbl_name = 'location' AND name = 'idx-location-organization_id'"
        }
    };
    let row = store
        .connection()
        .query_one_raw(Statement::from_string(backend, index))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1, "the owner index is kept");
    // And a place without owner can be stored.
    let response = create_location(&app, &app.admin, json!({"name": "Fælleshuset"})).await;
    assert_eq!(response.status(), 201);
}

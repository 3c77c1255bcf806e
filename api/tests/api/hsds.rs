//! The HSDS 3.0 read API: every endpoint's output validated against `docs/hsds-3.0`, paging, filters,
//! ndjson, confidential redaction, a lossless round trip and a mirror that follows `/v1/changes`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, id_of, problem};
use crate::on_both_backends;

on_both_backends!(
    every_endpoint_validates_against_hsds,
    paging_filters_and_proximity,
    ndjson_streams_every_row,
    round_trip_is_lossless,
    mirror_from_the_change_feed_equals_the_directory,
    proximity_never_finds_a_service_through_a_hidden_location,
);

/// A schema from `docs/hsds-3.0`, with `{"$ref": "other.json"}` replaced by that file (resolved locally:
/// the per-object schemas refer to their neighbours by relative file name).
pub(crate) fn load(name: &str) -> Value {
    fn inline(value: &mut Value, depth: usize) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref")
                    && target.ends_with(".json")
                    && depth < 8
                {
                    let mut target = load_raw(target);
                    inline(&mut target, depth + 1);
                    *value = target;
                    return;
                }
                map.values_mut().for_each(|v| inline(v, depth));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| inline(v, depth)),
            _ => {}
        }
    }
    let mut schema = load_raw(name);
    inline(&mut schema, 0);
    schema
}

fn load_raw(name: &str) -> Value {
    let path = format!("{}/../docs/hsds-3.0/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

pub(crate) fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .expect("a valid schema")
}

/// Asserts `instance` validates against `schema`, naming `what` and every error.
pub(crate) fn assert_valid(schema: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = schema
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} is not valid HSDS: {errors:#?}\n{instance:#}");
}

/// The HSDS page envelope around items of `item` schema.
fn page_schema(item: Value) -> jsonschema::Validator {
    validator(&json!({
        "type": "object",
        "required": ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty", "contents"],
        "properties": {
            "total_items": {"type": "integer"}, "total_pages": {"type": "integer"},
            "page_number": {"type": "integer"}, "size": {"type": "integer"},
            "first_page": {"type": "boolean"}, "last_page": {"type": "boolean"}, "empty": {"type": "boolean"},
            "contents": {"type": "array", "items": item}
        }
    }))
}

async fn import_demo(app: &TestApp) {
    let demo: Value = serde_json::from_str(api::DEMO_DIRECTORY_JSON).unwrap();
    let response = app
        .send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), &demo)
        .await;
    assert_eq!(response.status(), 200);
}

pub async fn get_json(app: &TestApp, path: &str, key: Option<&str>) -> Value {
    let response = app.get(path, key).await;
    assert_eq!(
        response.status(),
        200,
        "GET {path}: {}",
        response.text().await.unwrap_or_default()
    );
    response.json().await.unwrap()
}

async fn ndjson(app: &TestApp, path: &str, key: Option<&str>) -> Vec<Value> {
    let response = app.get(path, key).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/x-ndjson"), "{content_type}");
    let text = response.text().await.unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn term_id(code: &str) -> Uuid {
    let ns = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://brobygger.example.org/seed-data/aarhus");
    Uuid::new_v5(&ns, format!("term:{code}").as_bytes())
}

/// Drops the fields the server assigns on write (`last_modified`), at any depth.
fn without_server_fields(mut value: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("last_modified");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

fn by_id(items: Vec<Value>) -> BTreeMap<String, Value> {
    items
        .into_iter()
        .map(|item| (item["id"].as_str().unwrap().to_owned(), item))
        .collect()
}

async fn every_endpoint_validates_against_hsds(app: TestApp) {
    import_demo(&app).await;
    let service = validator(&load("compiled/service.json"));
    let organization = validator(&load("compiled/organization.json"));
    let link = validator(&load("compiled/service_at_location.json"));
    let term = validator(&load("taxonomy_term.json"));
    let taxonomy = validator(&load("taxonomy.json"));

    // The HSDS root `/` under the base URL `/hsds` (poem routes it without the trailing slash).
    let about = get_json(&app, "/hsds", None).await;
    assert_eq!(about["version"], "3.0");
    assert!(
        about["profile"]
            .as_str()
            .unwrap()
            .starts_with("https://openreferral.org/")
    );
    assert!(about["openapi_url"].as_str().unwrap().ends_with("/openapi.json"));

    // Lists: every page of services, organizations and links in their list shape and fully nested.
    let checks = [
        ("/hsds/services?per_page=100", load("compiled/service_list.json")),
        ("/hsds/services?per_page=100&full=true", load("compiled/service.json")),
        (
            "/hsds/services?per_page=100&minimal=true",
            load("compiled/service_list.json"),
        ),
        (
            "/hsds/organizations?per_page=100",
            load("compiled/organization_list.json"),
        ),
        (
            "/hsds/organizations?per_page=100&full_service=true",
            load("compiled/organization.json"),
        ),
        (
            "/hsds/organizations?per_page=100&full=true",
            load("compiled/organization.json"),
        ),
        (
            "/hsds/service_at_locations?per_page=100",
            load("compiled/service_at_location_list.json"),
        ),
        (
            "/hsds/service_at_locations?per_page=100&full=true",
            load("compiled/service_at_location.json"),
        ),
        ("/hsds/taxonomies", load("taxonomy.json")),
        ("/hsds/taxonomy_terms?per_page=100", load("taxonomy_term.json")),
    ];
    for (path, item) in checks {
        let schema = page_schema(item);
        let mut page = 1;
        loop {
            let body = get_json(
                &app,
                &format!("{path}&page={page}").replace("taxonomies&", "taxonomies?"),
                None,
            )
            .await;
            assert_valid(&schema, &body, path);
            assert!(body["total_items"].as_u64().unwrap() > 0, "{path}");
            if body["last_page"] == true {
                break;
            }
            page += 1;
        }
    }

    // Every service fully nested, as anonymous and as a caseworker, and the single endpoints.
    for key in [None, Some(app.caseworker.as_str())] {
        for item in ndjson(&app, "/hsds/services?full=true&format=ndjson", key).await {
            assert_valid(&service, &item, "a streamed service");
        }
    }
    let services = ndjson(&app, "/hsds/services?format=ndjson&minimal=true", None).await;
    for item in services.iter().step_by(25) {
        let id = item["id"].as_str().unwrap();
        assert_valid(
            &service,
            &get_json(&app, &format!("/hsds/services/{id}"), None).await,
            "/hsds/services/{id}",
        );
    }
    let organizations = ndjson(&app, "/hsds/organizations?format=ndjson", None).await;
    for item in organizations.iter().step_by(10) {
        let id = item["id"].as_str().unwrap();
        for query in ["", "?full_service=true"] {
            let body = get_json(&app, &format!("/hsds/organizations/{id}{query}"), None).await;
            assert_valid(&organization, &body, "/hsds/organizations/{id}");
            assert!(!body["services"].as_array().unwrap().is_empty());
        }
    }
    let links = ndjson(&app, "/hsds/service_at_locations?format=ndjson", None).await;
    for item in links.iter().step_by(40) {
        let id = item["id"].as_str().unwrap();
        assert_valid(
            &link,
            &get_json(&app, &format!("/hsds/service_at_locations/{id}"), None).await,
            "sal/{id}",
        );
    }
    let employment = get_json(&app, &format!("/hsds/taxonomy_terms/{}", term_id("employment")), None).await;
    assert_valid(&term, &employment, "/hsds/taxonomy_terms/{id}");
    assert_eq!(employment["code"], "employment");
    let needs = get_json(&app, "/hsds/taxonomies?search=needs", None).await;
    let needs_id = needs["contents"][0]["id"].as_str().unwrap().to_owned();
    assert_valid(
        &taxonomy,
        &get_json(&app, &format!("/hsds/taxonomies/{needs_id}"), None).await,
        "taxonomy",
    );
    let children = get_json(
        &app,
        &format!("/hsds/taxonomy_terms?parent_id={}", term_id("employment")),
        None,
    )
    .await;
    assert_eq!(children["total_items"], 3, "{children}");

    // Confidential crisis shelters: no address or coordinates for anonymous callers and readers.
    let confidential = |items: &[Value]| -> Vec<Value> {
        items
            .iter()
            .flat_map(|s| s["service_at_locations"].as_array().cloned().unwrap_or_default())
            .map(|l| l["location"].clone())
            .filter(|l| {
                l["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["taxonomy_term"]["code"] == "confidential")
            })
            .collect()
    };
    for key in [None, Some(app.reader.as_str())] {
        let hidden = confidential(&ndjson(&app, "/hsds/services?full=true&format=ndjson", key).await);
        assert!(!hidden.is_empty());
        for location in hidden {
            assert!(
                location.get("latitude").is_none() && location["addresses"] == json!([]),
                "{location}"
            );
        }
    }
    let shown = confidential(&ndjson(&app, "/hsds/services?full=true&format=ndjson", Some(&app.caseworker)).await);
    assert!(
        shown
            .iter()
            .all(|l| l["latitude"].is_number() && l["addresses"][0]["address_1"].is_string())
    );

    // Bad parameters are problems.
    problem(app.get("/hsds/services?per_page=101", None).await, 400).await;
    problem(app.get("/hsds/services?modified_after=yesterday", None).await, 400).await;
    problem(app.get("/hsds/services?proximity=1000", None).await, 400).await;
    problem(app.get(&format!("/hsds/services/{}", Uuid::new_v4()), None).await, 404).await;
}

async fn paging_filters_and_proximity(app: TestApp) {
    import_demo(&app).await;
    let all = get_json(&app, "/hsds/services?per_page=7", None).await;
    let total = all["total_items"].as_u64().unwrap();
    assert_eq!(total, 299);
    let pages = total.div_ceil(7);
    assert_eq!(all["total_pages"], pages);
    assert_eq!(
        (all["first_page"].as_bool(), all["last_page"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!((all["size"].as_u64(), all["page_number"].as_u64()), (Some(7), Some(1)));
    let last = get_json(&app, &format!("/hsds/services?per_page=7&page={pages}"), None).await;
    assert_eq!(last["size"], total - (pages - 1) * 7);
    assert_eq!(
        (last["first_page"].as_bool(), last["last_page"].as_bool()),
        (Some(false), Some(true))
    );
    let past = get_json(&app, &format!("/hsds/services?per_page=7&page={}", pages + 1), None).await;
    assert_eq!(
        (past["empty"].as_bool(), past["contents"].clone()),
        (Some(true), json!([]))
    );
    assert_eq!(past["total_items"], total);

    // Paging visits every service once.
    let mut seen = std::collections::HashSet::new();
    for page in 1..=3 {
        let body = get_json(&app, &format!("/hsds/services?per_page=100&page={page}"), None).await;
        for item in body["contents"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(seen.len() as u64, total);

    // Needs as taxonomy terms: a top-level term includes its sub-terms; organization filter.
    let employment = get_json(
        &app,
        &format!("/hsds/services?taxonomy_term_id={}", term_id("employment")),
        None,
    )
    .await;
    assert_eq!(employment["total_items"], 18);
    let job_search = get_json(
        &app,
        &format!("/hsds/services?taxonomy_term_id={}", term_id("employment/job-search")),
        None,
    )
    .await;
    assert_eq!(job_search["total_items"], 6);
    let first = &employment["contents"][0];
    let organization_id = first["organization_id"].as_str().unwrap();
    let own = get_json(
        &app,
        &format!("/hsds/services?organization_id={organization_id}&per_page=100"),
        None,
    )
    .await;
    assert!(own["total_items"].as_u64().unwrap() >= 1);
    assert!(
        own["contents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["organization_id"] == organization_id)
    );

    // modified_after: only what changed since.
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let id = first["id"].as_str().unwrap();
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{id}"),
            Some(&app.admin),
            &json!({"name": "Jobsøgning, nyt navn"}),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let changed = get_json(
        &app,
        &format!("/hsds/services?modified_after={}", since.replace('+', "%2B")),
        None,
    )
    .await;
    assert_eq!(changed["total_items"], 1, "{changed}");
    assert_eq!(changed["contents"][0]["id"], id);
    assert_eq!(changed["contents"][0]["name"], "Jobsøgning, nyt navn");

    // Search runs the search engine.
    let homework = get_json(&app, "/hsds/services?search=lektiehj%C3%A6lp&per_page=100", None).await;
    let found = homework["total_items"].as_u64().unwrap();
    assert!((3..total).contains(&found), "{found}");

    // postcode + proximity: links within the distance of the postcode's centre, nearest first.
    let place = get_json(&app, "/v1/places?q=8220", None).await["items"][0].clone();
    let centre = (
        place["latitude"].as_f64().unwrap(),
        place["longitude"].as_f64().unwrap(),
    );
    let near = get_json(
        &app,
        "/hsds/service_at_locations?postcode=8220&proximity=1500&per_page=100",
        None,
    )
    .await;
    let contents = near["contents"].as_array().unwrap();
    assert!(!contents.is_empty(), "{near}");
    let mut previous = 0.0;
    for item in contents {
        let location = &item["location"];
        let d = distance_km(
            centre,
            (
                location["latitude"].as_f64().unwrap(),
                location["longitude"].as_f64().unwrap(),
            ),
        );
        assert!(d <= 1.5 && d >= previous - 1e-9, "{d} km");
        previous = d;
    }
    let wider = get_json(
        &app,
        "/hsds/service_at_locations?postcode=8220&proximity=10000&per_page=1",
        None,
    )
    .await;
    assert!(wider["total_items"].as_u64() > near["total_items"].as_u64());
    let services_near = get_json(&app, "/hsds/services?postcode=8220&proximity=1500", None).await;
    let services_wider = get_json(&app, "/hsds/services?postcode=8220&proximity=10000", None).await;
    assert!(services_near["total_items"].as_u64().unwrap() >= 1);
    assert!(services_wider["total_items"].as_u64() > services_near["total_items"].as_u64());
}

fn distance_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((lat2 - lat1).to_radians() / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().asin()
}

async fn ndjson_streams_every_row(app: TestApp) {
    import_demo(&app).await;
    for (list, paged) in [
        ("/hsds/services?format=ndjson", "/hsds/services?per_page=1"),
        ("/hsds/services?format=ndjson&full=true", "/hsds/services?per_page=1"),
        ("/hsds/organizations?format=ndjson", "/hsds/organizations?per_page=1"),
        (
            "/hsds/service_at_locations?format=ndjson",
            "/hsds/service_at_locations?per_page=1",
        ),
        ("/hsds/taxonomy_terms?format=ndjson", "/hsds/taxonomy_terms?per_page=1"),
        (
            "/hsds/services?format=ndjson&search=gæld",
            "/hsds/services?per_page=1&search=g%C3%A6ld",
        ),
    ] {
        let rows = ndjson(&app, list, None).await;
        let total = get_json(&app, paged, None).await["total_items"].as_u64().unwrap();
        assert!(total > 0, "{paged}");
        assert_eq!(rows.len() as u64, total, "{list}");
        let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), rows.len(), "{list}: every row once");
    }
}

async fn round_trip_is_lossless(app: TestApp) {
    import_demo(&app).await;
    // The whole directory as a caseworker sees it (confidential addresses included), into an empty instance.
    let exported = ndjson(&app, "/hsds/services?full=true&format=ndjson", Some(&app.caseworker)).await;
    assert_eq!(exported.len(), 299);
    let copy = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let response = copy
        .send_json(
            Method::POST,
            "/v1/import/hsds",
            Some(&copy.admin),
            &Value::Array(exported.clone()),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let again = ndjson(&copy, "/hsds/services?full=true&format=ndjson", Some(&copy.caseworker)).await;
    assert_eq!(
        by_id(exported.into_iter().map(without_server_fields).collect()),
        by_id(again.into_iter().map(without_server_fields).collect())
    );

    // One service by itself: GET /hsds/services/{id} → import → GET again.
    let single = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let full = ndjson(&app, "/hsds/services?full=true&format=ndjson", Some(&app.caseworker)).await;
    let own_places = full
        .iter()
        .find(|s| {
            let links = s["service_at_locations"].as_array().unwrap();
            !links.is_empty()
                && s["attributes"].as_array().unwrap().len() >= 2
                && links
                    .iter()
                    .all(|l| l["location"]["organization_id"] == s["organization_id"])
        })
        .expect("a service at its own organization's locations");
    let id = own_places["id"].as_str().unwrap();
    let original = get_json(&app, &format!("/hsds/services/{id}"), Some(&app.admin)).await;
    let response = single
        .send_json(Method::POST, "/v1/import/hsds", Some(&single.admin), &original)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    let read = get_json(&single, &format!("/hsds/services/{id}"), Some(&single.admin)).await;
    assert_eq!(without_server_fields(original), without_server_fields(read));
}

/// What an app keeps: services (without the nested organization, kept separately) and organizations.
#[derive(Default, Debug, PartialEq)]
struct Mirror {
    services: BTreeMap<String, Value>,
    organizations: BTreeMap<String, Value>,
}

fn service_without_organization(mut service: Value) -> Value {
    service.as_object_mut().unwrap().remove("organization");
    service
}

impl Mirror {
    /// Applies the change feed after `cursor`; returns the new cursor.
    async fn follow(&mut self, app: &TestApp, mut cursor: i64) -> i64 {
        loop {
            let feed = get_json(app, &format!("/v1/changes?after={cursor}&limit=3"), None).await;
            let items = feed["items"].as_array().unwrap();
            if items.is_empty() {
                return cursor;
            }
            for change in items {
                let id = change["id"].as_str().unwrap().to_owned();
                let (path, store) = match change["entity"].as_str().unwrap() {
                    "service" => (format!("/hsds/services/{id}"), &mut self.services),
                    "organization" => (format!("/hsds/organizations/{id}"), &mut self.organizations),
                    _ => continue, // location changes are logged for their services too
                };
                let response = app.get(&path, None).await;
                match response.status().as_u16() {
                    200 => {
                        let mut body: Value = response.json().await.unwrap();
                        body.as_object_mut().unwrap().remove("services");
                        store.insert(id, service_without_organization(body));
                    }
                    404 => {
                        store.remove(&id);
                    }
                    status => panic!("{path}: {status}"),
                }
            }
            cursor = feed["next"].as_i64().unwrap();
        }
    }

    async fn directory(app: &TestApp) -> Mirror {
        let services = ndjson(app, "/hsds/services?full=true&format=ndjson", None).await;
        let organizations = ndjson(app, "/hsds/organizations?format=ndjson", None).await;
        Mirror {
            services: by_id(services.into_iter().map(service_without_organization).collect()),
            organizations: by_id(organizations),
        }
    }
}

async fn mirror_from_the_change_feed_equals_the_directory(app: TestApp) {
    let mut mirror = Mirror::default();
    let org = app.organization("Lektiecafé Gellerup").await;
    let other = app.organization("Bydelsmødrene").await;
    let place = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let homework = id_of(
        &app.service(
            json!({"name": "Lektiehjælp", "organization_id": org, "location_ids": [place],
                            "needs": ["education-homework"], "free": true, "languages": ["da", "ar"]}),
        )
        .await,
    );
    let cafe = id_of(
        &app.service(json!({"name": "Sprogcafé", "organization_id": other, "needs": ["language-danish"]}))
            .await,
    );
    let cursor = mirror.follow(&app, 0).await;
    assert_eq!(mirror, Mirror::directory(&app).await);
    assert_eq!(mirror.services.len(), 2);

    // Edits, a moved location, soft deletes and a new service.
    let patch = |path: String, body: Value| {
        let app = &app;
        async move {
            let response = app.send_json(Method::PATCH, &path, Some(&app.admin), &body).await;
            assert_eq!(
                response.status(),
                200,
                "{path}: {}",
                response.text().await.unwrap_or_default()
            );
        }
    };
    patch(
        format!("/v1/services/{homework}"),
        json!({"name": "Lektiehjælp og madklub", "capacity": "full"}),
    )
    .await;
    patch(
        format!("/v1/organizations/{org}"),
        json!({"website": "https://lektiecafe.example.org"}),
    )
    .await;
    patch(format!("/v1/locations/{place}"), json!({"confidential": true})).await;
    for path in [format!("/v1/services/{cafe}"), format!("/v1/organizations/{other}")] {
        let response = app
            .request(Method::DELETE, &path, Some(&app.admin))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }
    let late = id_of(
        &app.service(json!({"name": "Mødregruppe", "organization_id": org}))
            .await,
    );
    mirror.follow(&app, cursor).await;

    let directory = Mirror::directory(&app).await;
    assert_eq!(mirror, directory);
    assert_eq!(mirror.services[&homework.to_string()]["name"], "Lektiehjælp og madklub");
    assert_eq!(
        mirror.services[&cafe.to_string()]["status"],
        "inactive",
        "a deleted service is inactive"
    );
    assert!(mirror.services.contains_key(&late.to_string()));
    assert!(
        !mirror.organizations.contains_key(&other.to_string()),
        "a deleted organization is gone"
    );
    let location = &mirror.services[&homework.to_string()]["service_at_locations"][0]["location"];
    assert!(
        location.get("latitude").is_none(),
        "the now confidential place is redacted: {location}"
    );
}

/// `/hsds/services?postcode=&proximity=` must not answer "is this shelter within N metres of here?" for
/// callers who may not see the shelter's coordinates: repeated with shrinking radii it would locate it.
async fn proximity_never_finds_a_service_through_a_hidden_location(app: TestApp) {
    let place = get_json(&app, "/v1/places?q=8220", None).await["items"][0].clone();
    let (latitude, longitude) = (
        place["latitude"].as_f64().unwrap(),
        place["longitude"].as_f64().unwrap(),
    );
    let shelter = app.organization("Krisecenter").await;
    let other = app.organization("Anden forening").await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/locations",
            Some(&app.admin),
            &json!({"organization_id": shelter, "name": "Krisecenter", "latitude": latitude + 0.001,
                    "longitude": longitude, "confidential": true}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let hidden = response.json::<Value>().await.unwrap()["id"].clone();
    let service = app
        .service(
            json!({"name": "Krisecenterophold", "description": "Ophold for kvinder og børn.",
                        "organization_id": shelter, "location_ids": [hidden], "needs": ["domestic-violence"]}),
        )
        .await;
    let id = service["id"].as_str().unwrap().to_owned();
    let found = |body: &Value| {
        body["contents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"].as_str() == Some(id.as_str()))
    };
    let path = "/hsds/services?postcode=8220&proximity=500";
    for key in [None, Some(app.reader.clone()), Some(app.partner_key(other).await)] {
        let body = get_json(&app, path, key.as_deref()).await;
        assert!(!found(&body), "{key:?} located the hidden place: {body}");
        let streamed = ndjson(&app, &format!("{path}&format=ndjson"), key.as_deref()).await;
        assert!(streamed.iter().all(|s| s["id"].as_str() != Some(id.as_str())));
    }
    // Search takes the public view for every partner, the owner included (it knows where its shelter is).
    for key in [app.caseworker.clone(), app.admin.clone()] {
        assert!(
            found(&get_json(&app, path, Some(&key)).await),
            "caseworkers and admins find it"
        );
    }
}

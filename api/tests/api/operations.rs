use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, problem};
use crate::on_both_backends;

on_both_backends!(
    operational_endpoints_answer,
    unknown_paths_and_methods_are_problems,
    oversized_bodies_are_refused,
    committed_openapi_matches_the_code,
    hsds_root_answers_with_and_without_trailing_slash,
);

async fn operational_endpoints_answer(app: TestApp) {
    let health: Value = app.get("/health", None).await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = app.get("/ready", None).await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(spec["paths"]["/v1/services"].is_object());
    // every operation has a unique, readable operationId and a tag, for generated clients
    let mut ids = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !id.contains('_'),
                "{id}"
            );
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}"
            );
            ids.push(id.to_owned());
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operationIds repeat");
    assert!(ids.contains(&"searchServices".to_owned()) && ids.contains(&"createReferral".to_owned()));
    // a problem's `errors` is only there for validation problems, so clients must not require it
    let problem = &spec["components"]["schemas"]["Problem"];
    let required: Vec<&str> = problem["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !required.contains(&"errors") && !required.contains(&"instance"),
        "{problem}"
    );
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    for expected in [
        "brobygger_http_request_duration_seconds_count{route=\"/health\",status=\"2xx\"} 1\n",
        "brobygger_http_request_duration_seconds_bucket{route=\"/health\",status=\"2xx\",le=\"+Inf\"} 1\n",
        "# TYPE brobygger_referrals gauge\n",
        "\nbrobygger_referrals{status=\"accepted\"} 0\n",
        "\nbrobygger_search_lag 0\n",
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
}

async fn unknown_paths_and_methods_are_problems(app: TestApp) {
    problem(app.get("/v1/nowhere", None).await, 404).await;
    let response = app
        .request(Method::DELETE, "/v1/services", Some(&app.admin))
        .send()
        .await
        .unwrap();
    problem(response, 405).await;
}

async fn oversized_bodies_are_refused(app: TestApp) {
    let body = format!("{{\"name\": \"{}\", \"kind\": \"ngo\"}}", "x".repeat(2 * 1024 * 1024));
    let response = app
        .request(Method::POST, "/v1/organizations", Some(&app.admin))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
}

async fn committed_openapi_matches_the_code(app: TestApp) {
    let generated = api::app::openapi_json(app.state.clone());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json"))
        .expect("openapi/openapi.json is committed");
    assert!(
        generated.trim() == committed.trim(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

async fn hsds_root_answers_with_and_without_trailing_slash(app: TestApp) {
    for path in ["/hsds", "/hsds/"] {
        let root: Value = app.get(path, None).await.json().await.unwrap();
        assert_eq!(root["version"], "3.0", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_on_one_postgres_migrate_once() {
    let Some(server) = crate::helpers::postgres_server() else {
        return;
    };
    let url = crate::helpers::fresh_postgres_database(&server).await;
    let nodes = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { entities::store::Store::connect(&url).await })
    });
    for node in futures_util::future::join_all(nodes).await {
        node.unwrap().expect("every node starts");
    }
    let store = entities::store::Store::connect(&url).await.unwrap();
    use sea_orm::ConnectionTrait;
    let rows = store
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT version, count(*) AS n FROM seaql_migrations GROUP BY version",
        ))
        .await
        .unwrap();
    assert!(rows.len() >= 7, "every migration recorded");
    for row in rows {
        let n: i64 = row.try_get("", "n").unwrap();
        assert_eq!(n, 1, "each migration ran once");
    }
}

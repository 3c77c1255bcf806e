//! The upgrade test: a database as the first release left it (a SQL dump kept in `upgrade/`) is migrated to now
//! by starting the real application on it, which must then serve the old data, and whose schema must equal a
//! fresh install's. On SQLite always, on PostgreSQL with `TEST_DATABASE_URL`.

use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, field_of_items, fresh_postgres_database, id_of, json_ok, postgres_server};

const SQLITE_DUMP: &str = include_str!("upgrade/first_release.sqlite.sql");
const POSTGRES_DUMP: &str = include_str!("upgrade/first_release.postgres.sql");
/// The secret of the caseworker key in the dumps.
const CASEWORKER: &str = "bb_first-release-caseworker";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_release_sqlite_database_migrates_to_now_and_serves_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = api::default_database_url(dir.path());
    load(&url, SQLITE_DUMP).await;
    let app = TestApp::spawn_on(url, dir).await;
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = api::default_database_url(fresh_dir.path());
    check(&app, &fresh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_release_postgres_database_migrates_to_now_and_serves_its_data() {
    let Some(server) = postgres_server() else {
        return;
    };
    let url = fresh_postgres_database(&server).await;
    load(&url, POSTGRES_DUMP).await;
    let app = TestApp::spawn_on(url, tempfile::tempdir().unwrap()).await;
    check(&app, &fresh_postgres_database(&server).await).await;
}

async fn load(url: &str, dump: &str) {
    let db = Database::connect(url).await.unwrap();
    db.execute_unprepared(dump).await.expect("loading the dump");
    db.close().await.unwrap();
}

async fn lines(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    let mut lines: Vec<String> = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get("", "line").unwrap())
        .collect();
    lines.sort();
    lines
}

/// Every table's columns (type, nullability, default, key) and indexes, one line each; column order aside.
async fn schema(db: &DatabaseConnection) -> Vec<String> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            lines(
                db,
                r#"SELECT m.name || '.' || p.name || ' ' || p.type || CASE WHEN p."notnull" THEN ' not null' ELSE '' END
                       || COALESCE(' default ' || p.dflt_value, '') || CASE WHEN p.pk > 0 THEN ' key' ELSE '' END AS line
                   FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'
                   UNION ALL
                   SELECT m.name || ' index ' || l.name || CASE WHEN l."unique" THEN ' unique' ELSE '' END || ' ('
                       || (SELECT group_concat(i.name, ',') FROM pragma_index_info(l.name) i) || ')' AS line
                   FROM sqlite_master m JOIN pragma_index_list(m.name) l WHERE m.type = 'table'"#,
            )
            .await
        }
        _ => {
            lines(
                db,
                "SELECT table_name || '.' || column_name || ' ' || data_type
                     || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END
                     || COALESCE(' default ' || column_default, '')
                     || CASE WHEN is_identity = 'YES' THEN ' identity' ELSE '' END AS line
                 FROM information_schema.columns WHERE table_schema = current_schema()
                 UNION ALL
                 SELECT indexdef AS line FROM pg_indexes WHERE schemaname = current_schema()",
            )
            .await
        }
    }
}

async fn check(app: &TestApp, fresh_url: &str) {
    // Every later migration ran, and the schema is a fresh install's.
    let upgraded = app.state.store.connection();
    let fresh = entities::store::Store::connect(fresh_url).await.unwrap();
    let migrations = "SELECT version AS line FROM seaql_migrations";
    let applied = lines(upgraded, migrations).await;
    assert_eq!(applied, lines(fresh.connection(), migrations).await);
    assert!(applied.len() > 2, "{applied:?}");
    let schema_now = schema(fresh.connection()).await;
    assert!(
        schema_now.iter().any(|l| l.contains("gender")) && schema_now.len() > 200,
        "{schema_now:?}"
    );
    assert_eq!(schema(upgraded).await, schema_now);

    let response = app.get("/ready", None).await;
    assert_eq!(response.status(), 200);

    // The old service, with what later releases added at its default.
    let services = json_ok(app.get("/v1/services", None).await).await;
    assert_eq!(services["total"], 1, "{services}");
    let service = id_of(&services["items"][0]);
    let body = json_ok(app.get(&format!("/v1/services/{service}"), None).await).await;
    assert_eq!(body["name"], "Lektiehjælp i Gellerup");
    assert_eq!(body["gender"], "any");
    assert_eq!(body["minimum_age"], 6);
    assert_eq!(body["needs"], json!(["education-homework"]));
    assert_eq!(body["languages"], json!(["ar", "da"]));
    assert_eq!(body["schedules"][0]["byday"], json!(["TU", "TH"]), "{body}");
    assert_eq!(body["schedules"][0]["opens_at"], "15:00");
    let organization: Uuid = body["organization_id"].as_str().unwrap().parse().unwrap();
    let location = body["location_ids"][0].as_str().unwrap().to_owned();
    let place = json_ok(app.get(&format!("/v1/locations/{location}"), None).await).await;
    assert_eq!(place["name"], "Toveshøj Beboerhus");
    // The search index is built from the old rows.
    let found = json_ok(app.get("/v1/search?q=lektiehj%C3%A6lp", None).await).await;
    assert_eq!(found["items"][0]["id"], service.to_string(), "{found}");

    // The old referral, to the old caseworker key, with its event and audit row.
    let referrals = json_ok(app.get("/v1/referrals", Some(CASEWORKER)).await).await;
    assert_eq!(referrals["total"], 1, "{referrals}");
    let referral = id_of(&referrals["items"][0]);
    let body = json_ok(app.get(&format!("/v1/referrals/{referral}"), Some(CASEWORKER)).await).await;
    assert_eq!(body["status"], "requested");
    assert_eq!(body["service_id"], service.to_string());
    assert_eq!(body["needs"], json!(["education-homework"]));
    assert_eq!(body["priority"], "routine");
    let events = json_ok(
        app.get(&format!("/v1/referrals/{referral}/events"), Some(CASEWORKER))
            .await,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events["items"][0]["to"], "requested");
    let audit = json_ok(
        app.get(&format!("/v1/audit?referral_id={referral}"), Some(&app.admin))
            .await,
    )
    .await;
    assert!(field_of_items(&audit, "action").contains(&"create"), "{audit}");
    assert!(audit["items"][0]["person_id"].is_null());

    // The old rows take new writes: the partner's first read, a new organisation after the old change log.
    let partner = app.partner_key(organization).await;
    let read = json_ok(app.get(&format!("/v1/referrals/{referral}"), Some(&partner)).await).await;
    assert_eq!(read["status"], "received");
    let patched = json_ok(
        app.send_json(
            Method::PATCH,
            &format!("/v1/services/{service}"),
            Some(&app.admin),
            &json!({"gender": "girls"}),
        )
        .await,
    )
    .await;
    assert_eq!(patched["gender"], "girls");
    assert_eq!(patched["version"], 2);
    app.organization("Boligsocialt Hus").await;
    let changes = json_ok(app.get("/v1/changes?limit=10", None).await).await;
    let seqs: Vec<i64> = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "{changes}");
}

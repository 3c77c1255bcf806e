//! `/v1/keys`: the admin lists the API keys (never their secrets) and revokes them; a revoked key answers 401
//! from its next request on. Nobody else may do either.

use entities::directory::Role;
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, problem};
use crate::on_both_backends;

on_both_backends!(the_admin_lists_and_revokes_keys, only_admins_manage_keys,);

async fn keys_page(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/keys{query}"), Some(&app.admin)).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn revoke(app: &TestApp, id: Uuid, key: Option<&str>) -> reqwest::Response {
    app.request(Method::DELETE, &format!("/v1/keys/{id}"), key)
        .send()
        .await
        .unwrap()
}

async fn the_admin_lists_and_revokes_keys(app: TestApp) {
    let organization = app.organization("Lektiecafé Gellerup").await;
    let (app_key, app_secret) = app
        .state
        .store
        .create_key(Role::Reader, None, Some("Kortapp".into()))
        .await
        .unwrap();
    let partner = app.partner_key(organization).await;
    assert_eq!(app.get("/v1/services", Some(&app_secret)).await.status(), 200);

    let response = app.get("/v1/keys?per_page=100", Some(&app.admin)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    // never a secret, nor its hash
    for secret in [&app.admin, &app.caseworker, &app.reader, &app_secret, &partner] {
        assert!(!text.contains(secret.as_str()), "{text}");
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(secret.as_bytes()));
        assert!(!text.contains(&hash), "{text}");
    }
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["total"], 5, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for item in items {
        let fields: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(
            fields.iter().all(|f| [
                "id",
                "role",
                "organization_id",
                "label",
                "created_at",
                "revoked_at",
                "status"
            ]
            .contains(f)),
            "{item}"
        );
    }
    let mine = items
        .iter()
        .find(|k| k["id"] == app_key.to_string())
        .expect("the app's key is listed");
    assert_eq!(mine["role"], "reader");
    assert_eq!(mine["label"], "Kortapp");
    assert_eq!(mine["status"], "active");
    assert!(mine["revoked_at"].is_null() && mine["created_at"].is_string(), "{mine}");

    // paging and one organization's keys
    let page = keys_page(&app, "?per_page=2&page=3").await;
    assert_eq!(
        (page["total"].as_u64(), page["items"].as_array().unwrap().len()),
        (Some(5), 1)
    );
    let partners = keys_page(&app, &format!("?organization_id={organization}")).await;
    assert_eq!(partners["total"], 1);
    assert_eq!(partners["items"][0]["role"], "partner");
    assert_eq!(partners["items"][0]["organization_id"], organization.to_string());
    problem(app.get("/v1/keys?per_page=101", Some(&app.admin)).await, 400).await;

    // revoking: 204, then the key is refused everywhere, listed as revoked, and the revocation audited
    let response = revoke(&app, app_key, Some(&app.admin)).await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    let refused = problem(app.get("/v1/services", Some(&app_secret)).await, 401).await;
    assert_eq!(refused["detail"], "unknown or revoked API key");
    let listed = keys_page(&app, "?per_page=100").await;
    let mine = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == app_key.to_string())
        .unwrap()
        .clone();
    assert_eq!(mine["status"], "revoked");
    let revoked_at = mine["revoked_at"].as_str().expect("a revocation time").to_owned();
    let audit: Value = app
        .get("/v1/audit?per_page=100", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    let rows: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["action"] == "revoke")
        .collect();
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["entity"], "api_key");
    assert_eq!(rows[0]["entity_id"], app_key.to_string());
    assert_eq!(rows[0]["role"], "admin");

    // revoking again keeps the first time; an unknown key is 404
    assert_eq!(revoke(&app, app_key, Some(&app.admin)).await.status(), 204);
    let listed = keys_page(&app, "?per_page=100").await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == app_key.to_string() && k["revoked_at"] == revoked_at.as_str()),
        "{listed}"
    );
    problem(revoke(&app, Uuid::new_v4(), Some(&app.admin)).await, 404).await;
    problem(
        app.request(Method::DELETE, "/v1/keys/not-a-uuid", Some(&app.admin))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    // the other keys still work
    assert_eq!(app.get("/v1/services", Some(&partner)).await.status(), 200);
}

async fn only_admins_manage_keys(app: TestApp) {
    let organization = app.organization("Boligsocialt Hus").await;
    let partner = app.partner_key(organization).await;
    let (target, target_secret) = app.state.store.create_key(Role::Reader, None, None).await.unwrap();
    for (key, status) in [
        (Some(partner.as_str()), 403),
        (Some(app.caseworker.as_str()), 403),
        (Some(app.reader.as_str()), 403),
        (None, 401),
    ] {
        problem(app.get("/v1/keys", key).await, status).await;
        problem(
            app.get(&format!("/v1/keys?organization_id={organization}"), key).await,
            status,
        )
        .await;
        problem(revoke(&app, target, key).await, status).await;
    }
    // nothing was revoked
    assert_eq!(app.get("/v1/services", Some(&target_secret)).await.status(), 200);
    assert!(app.state.store.authenticate(&target_secret).await.unwrap().is_some());
}

//! HSDS fields Brobygger does not map (a place's accessibility, required documents, funding, programs, `x_`
//! extensions, ...) are kept from an import and exported again; edits through /v1 leave them alone; they
//! follow the confidential rule of their place and the CPR rule of the directory.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};
use crate::hsds::{assert_valid, load, validator};
use crate::on_both_backends;

on_both_backends!(
    unmapped_hsds_fields_are_kept_and_exported,
    a_cpr_number_in_a_kept_field_is_refused,
    the_official_examples_import_and_export_with_every_field,
);

const SERVICE: &str = "ac148810-d857-441c-9679-408f346de14b";

fn example() -> Value {
    serde_json::from_str(include_str!("../../../docs/hsds-3.0/examples/service_full.json")).unwrap()
}

async fn import(app: &TestApp, document: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), document)
        .await
}

async fn exported(app: &TestApp, key: Option<&str>) -> Value {
    app.get(&format!("/hsds/services/{SERVICE}"), key)
        .await
        .json()
        .await
        .unwrap()
}

async fn unmapped_hsds_fields_are_kept_and_exported(app: TestApp) {
    let mut document = example();
    document["x_opgang"] = json!("Gellerupparken, opgang B");
    assert_eq!(import(&app, &document).await.status(), 200);
    let out = exported(&app, None).await;
    for key in [
        "required_documents",
        "funding",
        "program",
        "alternate_name",
        "wait_time",
        "accreditations",
        "x_opgang",
    ] {
        assert_eq!(out[key], document[key], "{key}");
    }
    let place = &out["service_at_locations"][0]["location"];
    let given = &document["service_at_locations"][0]["location"];
    assert_eq!(
        place["accessibility"], given["accessibility"],
        "accessibility of the place"
    );
    assert_eq!(place["transportation"], given["transportation"]);
    assert_eq!(
        out["organization"]["year_incorporated"],
        document["organization"]["year_incorporated"]
    );
    // The offer page says how the place can be reached.
    let page = app.get(&format!("/offers/{SERVICE}"), None).await.text().await.unwrap();
    assert!(page.contains("Tilgængelighed"), "{page}");
    assert!(page.contains("induction loops for hearing aids"));
    // Mapped fields are Brobygger's own, not the kept copy; languages carry their names.
    assert_eq!(out["name"], "Community Counselling");
    assert_eq!(out["languages"][0]["code"], "ur");
    assert_eq!(out["languages"][0]["name"], "Urdu");

    // An edit through /v1 changes Brobygger's fields and keeps the rest.
    let patched = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{SERVICE}"),
            Some(&app.admin),
            &json!({"name": "Familierådgivning"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let out = exported(&app, None).await;
    assert_eq!(out["name"], "Familierådgivning");
    assert_eq!(out["required_documents"], document["required_documents"]);

    // A re-import with a field gone drops it; one with the same fields writes nothing new.
    let mut without = document.clone();
    without.as_object_mut().unwrap().remove("x_opgang");
    assert_eq!(import(&app, &without).await.status(), 200);
    assert_eq!(exported(&app, None).await["x_opgang"], Value::Null);

    // A confidential place's kept fields say where it is no more than its address does.
    let location = given["id"].as_str().unwrap();
    let hidden = app
        .send_json(
            Method::PATCH,
            &format!("/v1/locations/{location}"),
            Some(&app.admin),
            &json!({"confidential": true}),
        )
        .await;
    assert_eq!(hidden.status(), 200);
    let public = exported(&app, None).await;
    let place = &public["service_at_locations"][0]["location"];
    assert_eq!(place["transportation"], Value::Null, "{place}");
    let page = app.get(&format!("/offers/{SERVICE}"), None).await.text().await.unwrap();
    assert!(
        !page.contains("induction loops"),
        "the hidden place's accessibility is not shown either"
    );
    let caseworker = exported(&app, Some(&app.caseworker)).await;
    assert_eq!(
        caseworker["service_at_locations"][0]["location"]["transportation"],
        given["transportation"]
    );
}

async fn a_cpr_number_in_a_kept_field_is_refused(app: TestApp) {
    let mut document = example();
    document["required_documents"][0]["document"] = json!("Ring til Amira, 010190-1234");
    let body = problem(import(&app, &document).await, 422).await;
    assert_eq!(body["errors"][0]["path"], "/required_documents/0/document", "{body}");
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 0);
}

/// The keys of `given` that `exported` lacks.
fn missing<'a>(given: &'a Value, exported: &Value) -> Vec<&'a str> {
    given
        .as_object()
        .unwrap()
        .keys()
        .filter(|key| exported.get(key.as_str()).is_none())
        .map(String::as_str)
        .collect()
}

/// The official HSDS 3.0 examples (docs/hsds-3.0/examples) import, and export valid against the schemas
/// with every field of the service, its organization and its place.
async fn the_official_examples_import_and_export_with_every_field(app: TestApp) {
    let organization: Value =
        serde_json::from_str(include_str!("../../../docs/hsds-3.0/examples/organization_full.json")).unwrap();
    let mut warnings = Vec::new();
    for document in [&example(), &organization] {
        let response = import(&app, document).await;
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.unwrap();
        warnings.extend(report["warnings"].as_array().unwrap().clone());
    }
    let service = exported(&app, None).await;
    assert_valid(
        &validator(&load("compiled/service.json")),
        &service,
        "the exported example service",
    );
    let given = example();
    assert_eq!(missing(&given, &service), Vec::<&str>::new(), "service fields");
    let place = &service["service_at_locations"][0]["location"];
    // The example's place lies at latitude 100: dropped, and the import says so.
    assert_eq!(
        missing(&given["service_at_locations"][0]["location"], place),
        ["latitude", "longitude"],
        "location fields"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w["path"].as_str().unwrap().ends_with("location/latitude")),
        "{warnings:?}"
    );
    let id = organization["id"].as_str().unwrap();
    let exported_organization: Value = app
        .get(&format!("/hsds/organizations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_valid(
        &validator(&load("compiled/organization.json")),
        &exported_organization,
        "the exported example organization",
    );
    // An organization's places are exported under the services at them, not nested in the organization.
    assert_eq!(
        missing(&organization, &exported_organization),
        ["locations"],
        "organization fields"
    );
}

//! Who an offer is for (`gender`): written and read through `/v1/services`, filtered by `/v1/search` and
//! `/v1/match`, carried through HSDS export and import, set in the partner's form and shown on the web,
//! tagged in the demo directory, and added to databases created before it existed.

use std::collections::BTreeSet;

use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, id_of, problem};
use crate::hsds::get_json;
use crate::partner_web::partner;
use crate::search::search;
use crate::web::WebClient;
use crate::{on_both_backends, on_both_backends_with_demo_data};

on_both_backends!(
    gender_is_written_read_and_patched,
    gender_filters_search_and_match,
    gender_survives_hsds_export_and_import,
    partner_form_sets_gender_and_pages_show_it,
    databases_before_gender_get_any,
);

on_both_backends_with_demo_data!(demo_directory_says_who_offers_are_for);

struct Offers {
    org: Uuid,
    location: Uuid,
    women: Uuid,
    men: Uuid,
    girls: Uuid,
    anyone: Uuid,
}

async fn club(app: &TestApp, org: Uuid, location: Uuid, name: &str, gender: Option<&str>) -> Uuid {
    let mut body = json!({
        "name": name, "organization_id": org, "location_ids": [location],
        "description": "Hjælp til jobsøgning og CV.", "needs": ["employment"], "languages": ["da"], "free": true
    });
    if let Some(gender) = gender {
        body["gender"] = json!(gender);
    }
    id_of(&app.service(body).await)
}

/// Four job clubs at one place in Gellerup: for women, for men, for girls and for anyone.
async fn job_clubs(app: &TestApp) -> Offers {
    let org = app.organization("Jobnetværket Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    Offers {
        org,
        location,
        women: club(app, org, location, "Jobklub for kvinder", Some("women")).await,
        men: club(app, org, location, "Jobklub for mænd", Some("men")).await,
        girls: club(app, org, location, "Jobklub for piger", Some("girls")).await,
        anyone: club(app, org, location, "Jobklub for alle", None).await,
    }
}

fn found(results: &Value) -> BTreeSet<Uuid> {
    results["items"].as_array().unwrap().iter().map(id_of).collect()
}

async fn service(app: &TestApp, id: Uuid) -> Value {
    get_json(app, &format!("/v1/services/{id}"), None).await
}

async fn gender_is_written_read_and_patched(app: TestApp) {
    let offers = job_clubs(&app).await;
    let women = service(&app, offers.women).await;
    assert_eq!(women["gender"], "women");
    assert_eq!(
        service(&app, offers.anyone).await["gender"],
        "any",
        "left out: for anyone"
    );

    // PATCH changes it; a version moves.
    let path = format!("/v1/services/{}", offers.women);
    let response = app
        .request(Method::PATCH, &path, Some(&app.admin))
        .header("if-match", "\"1\"")
        .json(&json!({"gender": "girls"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let patched: Value = response.json().await.unwrap();
    assert_eq!((&patched["gender"], &patched["version"]), (&json!("girls"), &json!(2)));

    // A value outside the list is refused like any other enum value (400, as `kind` or `capacity`), for
    // POST, PUT and PATCH alike, and nothing changes.
    let response = app
        .send_json(Method::PATCH, &path, Some(&app.admin), &json!({"gender": "female"}))
        .await;
    problem(response, 400).await;
    let mut body = patched.clone();
    body["gender"] = json!("Women");
    problem(app.send_json(Method::PUT, &path, Some(&app.admin), &body).await, 400).await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/services",
            Some(&app.admin),
            &json!({"name": "Ukendt", "organization_id": offers.org, "gender": "everyone"}),
        )
        .await;
    problem(response, 400).await;
    let unchanged = service(&app, offers.women).await;
    assert_eq!(
        (&unchanged["gender"], &unchanged["version"]),
        (&json!("girls"), &json!(2))
    );
    let services: Value = app.get("/v1/services", None).await.json().await.unwrap();
    assert_eq!(services["total"], 4, "nothing created");

    // A merge patch with null resets it to the default; PUT without it is for anyone too.
    let response = app
        .send_json(Method::PATCH, &path, Some(&app.admin), &json!({"gender": null}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["gender"], "any");
    let men_path = format!("/v1/services/{}", offers.men);
    let mut men = service(&app, offers.men).await;
    men.as_object_mut().unwrap().remove("gender");
    let response = app.send_json(Method::PUT, &men_path, Some(&app.admin), &men).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["gender"], "any");

    // A partner writes it for its own services.
    let key = app.partner_key(offers.org).await;
    let response = app
        .send_json(Method::PATCH, &men_path, Some(&key), &json!({"gender": "men"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(service(&app, offers.men).await["gender"], "men");
}

async fn gender_filters_search_and_match(app: TestApp) {
    let o = job_clubs(&app).await;
    let all = search(&app, "q=jobklub").await;
    assert_eq!(found(&all), BTreeSet::from([o.women, o.men, o.girls, o.anyone]));
    let genders: BTreeSet<(Uuid, String)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| (id_of(hit), hit["gender"].as_str().unwrap().to_owned()))
        .collect();
    assert!(genders.contains(&(o.women, "women".into())) && genders.contains(&(o.anyone, "any".into())));

    // A group finds its own offers and those for anyone, never another group's.
    let men = search(&app, "q=jobklub&gender=men").await;
    assert_eq!(found(&men), BTreeSet::from([o.men, o.anyone]));
    assert_eq!(men["total"], 2);
    let women = search(&app, "q=jobklub&gender=women").await;
    assert_eq!(found(&women), BTreeSet::from([o.women, o.anyone]));
    assert_eq!(
        found(&search(&app, "near=Gellerup&gender=girls").await),
        BTreeSet::from([o.girls, o.anyone])
    );
    assert_eq!(
        found(&search(&app, "need=employment&gender=boys").await),
        BTreeSet::from([o.anyone])
    );
    // `any` is no filter.
    assert_eq!(found(&search(&app, "q=jobklub&gender=any").await).len(), 4);
    problem(app.get("/v1/search?q=jobklub&gender=female", None).await, 400).await;

    // /v1/match takes the same filter.
    let response = app
        .send_json(
            Method::POST,
            "/v1/match",
            None,
            &json!({"near": "Gellerup", "gender": "men", "needs": [{"code": "employment"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let matched: Value = response.json().await.unwrap();
    assert_eq!(found(&matched["groups"][0]), BTreeSet::from([o.men, o.anyone]));

    // A change is searchable at once.
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{}", o.anyone),
            Some(&app.admin),
            &json!({"gender": "women"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        found(&search(&app, "q=jobklub&gender=men").await),
        BTreeSet::from([o.men])
    );
    assert!(found(&search(&app, "q=jobklub&gender=women").await).contains(&o.anyone));
}

fn gender_attributes(hsds: &Value) -> Vec<(String, String)> {
    hsds["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["taxonomy_term"]["code"].as_str().unwrap().starts_with("gender-"))
        .map(|a| {
            (
                a["taxonomy_term"]["code"].as_str().unwrap().to_owned(),
                a["taxonomy_term"]["taxonomy"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn gender_survives_hsds_export_and_import(app: TestApp) {
    let o = job_clubs(&app).await;
    let exported: Value = get_json(&app, &format!("/hsds/services/{}", o.girls), Some(&app.admin)).await;
    assert_eq!(
        gender_attributes(&exported),
        [("gender-girls".to_owned(), "brobygger-flags".to_owned())]
    );
    assert_eq!(exported["service_at_locations"][0]["location_id"], json!(o.location));
    let anyone: Value = get_json(&app, &format!("/hsds/services/{}", o.anyone), None).await;
    assert!(gender_attributes(&anyone).is_empty(), "for anyone: no attribute");
    let terms: Value = get_json(&app, "/hsds/taxonomy_terms?per_page=100", None).await;
    let codes: Vec<&str> = terms["contents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["code"].as_str())
        .collect();
    for code in ["gender-women", "gender-men", "gender-girls", "gender-boys"] {
        assert!(codes.contains(&code), "{code} in /hsds/taxonomy_terms");
    }

    // Into an empty instance and back: the same document, the same gender.
    let copy = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mut all = Vec::new();
    for id in [o.women, o.men, o.girls, o.anyone] {
        all.push(get_json(&app, &format!("/hsds/services/{id}"), Some(&app.admin)).await);
    }
    let response = copy
        .send_json(Method::POST, "/v1/import/hsds", Some(&copy.admin), &Value::Array(all))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    for (id, gender) in [
        (o.women, "women"),
        (o.men, "men"),
        (o.girls, "girls"),
        (o.anyone, "any"),
    ] {
        assert_eq!(service(&copy, id).await["gender"], gender);
    }
    let again: Value = get_json(&copy, &format!("/hsds/services/{}", o.girls), Some(&copy.admin)).await;
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("last_modified");
        v
    };
    assert_eq!(strip(again), strip(exported.clone()));

    // An unknown group stays unknown: the service is for anyone.
    let mut unknown = exported;
    let id = Uuid::new_v4();
    unknown["id"] = json!(id);
    unknown["attributes"] = json!([{
        "id": Uuid::new_v4(), "link_id": id, "link_type": "flag", "link_entity": "service", "value": "true",
        "taxonomy_term": {"id": Uuid::new_v4(), "code": "gender-nonbinary", "name": "Ikke-binære",
                          "taxonomy": "brobygger-flags"}
    }]);
    for link in unknown["service_at_locations"].as_array_mut().unwrap() {
        link["id"] = json!(Uuid::new_v4());
        link["service_id"] = json!(id);
    }
    let response = app
        .send_json(Method::POST, "/v1/import/hsds", Some(&app.admin), &unknown)
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
    assert_eq!(service(&app, id).await["gender"], "any");
}

async fn demo_directory_says_who_offers_are_for(app: TestApp) {
    // Bydelsmødre i Gellerupparken and the men's crisis shelter.
    let bydelsmoedre: Uuid = "b958157f-8aca-514f-a7fa-5a9a40619b94".parse().unwrap();
    let men_shelter: Uuid = "a054e4a8-4e9d-5fa1-80f2-44835e1240ef".parse().unwrap();
    assert_eq!(service(&app, bydelsmoedre).await["gender"], "women");
    assert_eq!(service(&app, men_shelter).await["gender"], "men");

    // Every active offer, page by page, with and without the filter.
    async fn every_hit(app: &TestApp, filter: &str) -> Vec<(Uuid, String)> {
        let mut hits = Vec::new();
        for page in 1.. {
            let results = search(app, &format!("per_page=100&page={page}{filter}")).await;
            let items = results["items"].as_array().unwrap();
            hits.extend(
                items
                    .iter()
                    .map(|hit| (id_of(hit), hit["gender"].as_str().unwrap().to_owned())),
            );
            if items.len() < 100 {
                break;
            }
        }
        hits
    }
    let everything = every_hit(&app, "").await;
    let for_men = every_hit(&app, "&gender=men").await;
    assert!(
        for_men.iter().all(|(_, g)| g == "any" || g == "men"),
        "never a women's or a girls' offer for a man"
    );
    assert!(for_men.iter().any(|(id, _)| *id == men_shelter));
    let female_only = everything.iter().filter(|(_, g)| g == "women" || g == "girls").count();
    assert!(female_only >= 25, "{female_only}");
    assert_eq!(for_men.len(), everything.len() - female_only);

    // Words and the filter together: the shelters for women, not the one for men, and vice versa.
    let women = search(&app, "q=krisecenter&gender=women&per_page=50").await;
    let women_ids = found(&women);
    assert!(women_ids.contains(&"619dd2be-dff0-592c-9175-5975cbafdda2".parse().unwrap()));
    assert!(!women_ids.contains(&men_shelter));
    let men = found(&search(&app, "q=krisecenter&gender=men&per_page=50").await);
    assert!(men.contains(&men_shelter));
    assert!(!men.contains(&"619dd2be-dff0-592c-9175-5975cbafdda2".parse().unwrap()));
}

async fn partner_form_sets_gender_and_pages_show_it(app: TestApp) {
    let o = job_clubs(&app).await;
    let mut lise = partner(&app, "lise@jobnetvaerket.dk", o.org).await;
    let (status, form) = lise.get(&format!("/listings/services/{}", o.anyone)).await;
    assert_eq!(status, 200);
    assert!(form.contains("<label class=\"form-label\" for=\"gender\">Hvem er tilbuddet for?</label>"));
    assert!(form.contains("<option value=\"any\" selected>Alle</option>"));
    let (_, new_form) = lise.get("/listings/services/new").await;
    assert!(new_form.contains("<option value=\"any\" selected>Alle</option>"));

    let location = o.location.to_string();
    let mut fields = vec![
        ("version", "1"),
        ("name", "Jobklub for alle"),
        ("description", "Hjælp til jobsøgning og CV."),
        ("needs", "employment"),
        ("languages", "da"),
        ("free", "true"),
        ("location_ids", location.as_str()),
        ("status", "active"),
        ("gender", "female"),
    ];
    // A value the select does not offer is a field error; nothing is stored.
    let path = format!("/listings/services/{}", o.anyone);
    let response = lise.post(&path, &fields, true).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"gender-error\""), "the error beside the select");
    let stored = app.state.store.get_service(o.anyone).await.unwrap();
    assert_eq!((stored.meta.version, stored.data.gender.as_str()), (1, "any"));

    fields.retain(|(k, _)| *k != "gender");
    fields.push(("gender", "women"));
    let response = lise.post(&path, &fields, true).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap_or_default());
    let stored = app.state.store.get_service(o.anyone).await.unwrap();
    assert_eq!(stored.data.gender, entities::directory::Gender::Women);
    let (_, form) = lise.get(&path).await;
    assert!(form.contains("<option value=\"women\" selected>Kun for kvinder</option>"));
    // Searchable at once.
    let men = found(&search(&app, "q=jobklub&gender=men").await);
    assert!(!men.contains(&o.anyone));

    // The offer page and the search results say who it is for; offers for anyone say nothing.
    let mut visitor = WebClient::new(&app);
    let (_, page) = visitor.get(&format!("/offers/{}", o.anyone)).await;
    assert!(page.contains("Kun for kvinder"), "the offer page");
    let (_, page) = visitor.get(&format!("/offers/{}", o.men)).await;
    assert!(page.contains("Kun for mænd"));

    // The public search has a labelled filter beside the others; it keeps what was chosen.
    let (status, html) = visitor.get("/?q=jobklub&gender=men").await;
    assert_eq!(status, 200);
    assert!(html.contains("<label class=\"form-label\" for=\"gender\">Hvem skal have hjælpen?</label>"));
    assert!(html.contains("<option value=\"men\" selected>En mand</option>"));
    assert!(html.contains("Jobklub for mænd") && html.contains("Kun for mænd"));
    assert!(!html.contains("Jobklub for kvinder") && !html.contains("Jobklub for piger"));
    assert!(
        !html.contains("Kun for kvinder"),
        "the renamed any-offer is for women now"
    );
    let (_, html) = visitor.get("/?q=jobklub").await;
    assert!(html.contains("Jobklub for piger") && html.contains("Kun for piger"));
    // In English.
    let mut english = WebClient::new(&app);
    english.cookies.insert("bb_lang".into(), "en".into());
    let (_, html) = english.get("/?q=jobklub&gender=women").await;
    assert!(html.contains("Who is the help for?") && html.contains("Women only"));
    // Several needs are grouped per need (as /v1/match does) and keep the filter.
    let (_, html) = visitor
        .get("/?q=jobklub&need=employment&need=education-homework&needs_set=1&gender=men")
        .await;
    assert!(html.contains("Jobklub for mænd") && !html.contains("Jobklub for piger"));
    // A value the select does not offer is a field error.
    let (status, html) = visitor.get("/?q=jobklub&gender=female").await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"gender-error\""));
}

/// A database migrated before `service.gender` existed gets the column, every service for anyone.
async fn databases_before_gender_get_any(app: TestApp) {
    let o = job_clubs(&app).await;
    let db = app.state.store.connection();
    db.execute_unprepared("ALTER TABLE service DROP COLUMN gender")
        .await
        .unwrap();
    db.execute_unprepared("DELETE FROM seaql_migrations WHERE version = 'm20261201_000005_service_gender'")
        .await
        .unwrap();
    // Opening the database runs the migrations that are missing.
    let store = entities::Store::connect(&app.database_url).await.unwrap();
    for id in [o.women, o.men, o.anyone] {
        let service = store.get_service(id).await.unwrap();
        assert_eq!(service.data.gender, entities::directory::Gender::Any);
    }
    // Running them again changes nothing.
    drop(store);
    let store = entities::Store::connect(&app.database_url).await.unwrap();
    let mut data = store.get_service(o.women).await.unwrap().data;
    data.gender = entities::directory::Gender::Women;
    let written = store
        .put_service(entities::access::Actor::ADMIN, o.women, data, None, false)
        .await;
    assert!(written.is_ok(), "{written:?}");
    assert_eq!(
        store.get_service(o.women).await.unwrap().data.gender,
        entities::directory::Gender::Women
    );
}

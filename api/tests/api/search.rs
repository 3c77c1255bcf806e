use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of, problem};
use crate::on_both_backends;

on_both_backends!(search_finds_by_words_place_and_filters, search_reads_its_own_writes);

/// Gellerup; the far location is ~6.5 km east of it.
const GELLERUP: (f64, f64) = (56.1530, 10.1330);
const FAR: (f64, f64) = (56.1530, 10.2380);

struct Fixture {
    homework: Uuid,
    debt: Uuid,
    far_debt: Uuid,
    inactive: Uuid,
    women: Uuid,
}

async fn fixture(app: &TestApp) -> Fixture {
    let org = app.organization("Foreningen Bydelsmødre").await;
    let near = app
        .location(org, "Foreningshuset Gellerup", GELLERUP.0, GELLERUP.1)
        .await;
    let near2 = app.location(org, "Toveshøj Beboerhus", 56.1560, 10.1290).await;
    let far = app.location(org, "Kontor i midtbyen", FAR.0, FAR.1).await;
    let homework = id_of(
        &app.service(json!({
            "name": "Lektiehjælp i Gellerup", "organization_id": org, "location_ids": [near],
            "description": "Frivillige hjælper børn og unge med matematik og dansk.",
            "needs": ["education-homework"], "minimum_age": 6, "maximum_age": 16, "languages": ["da", "ar"],
            "free": true, "schedules": [{"byday": ["TU", "TH"], "opens_at": "15:00", "closes_at": "17:30"}]
        }))
        .await,
    );
    let debt = id_of(
        &app.service(json!({
            "name": "Gældsrådgivning for familier", "organization_id": org, "location_ids": [near2],
            "description": "Hjælp til budget, regninger og inkasso.", "needs": ["debt-economy"],
            "minimum_age": 18, "languages": ["da", "so"], "free": true,
            "schedules": [{"byday": ["MO"], "opens_at": "10:00", "closes_at": "14:00"}]
        }))
        .await,
    );
    let far_debt = id_of(
        &app.service(json!({
            "name": "Gældsrådgivning i midtbyen", "organization_id": org, "location_ids": [far],
            "description": "Rådgivning om gæld og økonomi.", "needs": ["debt-economy"], "minimum_age": 18,
            "languages": ["da"], "free": false
        }))
        .await,
    );
    let inactive = id_of(
        &app.service(json!({
            "name": "Lektiecafé der er lukket", "organization_id": org, "location_ids": [near],
            "description": "Lektiehjælp for børn.", "needs": ["education-homework"], "status": "inactive"
        }))
        .await,
    );
    let women = id_of(
        &app.service(json!({
            "name": "Kvindenetværk i Århus", "organization_id": org, "location_ids": [near2],
            "description": "Et fællesskab for kvinder.", "needs": ["loneliness-network"], "languages": ["ar", "da"]
        }))
        .await,
    );
    Fixture {
        homework,
        debt,
        far_debt,
        inactive,
        women,
    }
}

pub async fn search(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/search?{query}"), None).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn ids(results: &Value) -> Vec<Uuid> {
    results["items"].as_array().unwrap().iter().map(id_of).collect()
}

async fn search_finds_by_words_place_and_filters(app: TestApp) {
    let f = fixture(&app).await;

    // Compound splitting: "lektie" finds "Lektiehjælp".
    let results = search(&app, "q=lektie").await;
    assert_eq!(ids(&results), [f.homework]);

    // One typo on a long word.
    assert!(ids(&search(&app, "q=g%C3%A6ldsr%C3%A5dgivnig").await).contains(&f.debt));
    // English words find Danish offers through the needs' synonyms.
    let english = search(&app, "q=debt%20advice").await;
    assert!(ids(&english).contains(&f.debt), "{english}");
    assert!(!ids(&english).contains(&f.homework));
    // Danish folding: Arhus = Århus.
    assert_eq!(ids(&search(&app, "q=Arhus").await), [f.women]);

    // Radius is a hard cut; without text, nearest first.
    let near = search(&app, &format!("lat={}&lon={}&radius_km=5", GELLERUP.0, GELLERUP.1)).await;
    assert!(!ids(&near).contains(&f.far_debt));
    assert_eq!(ids(&near)[0], f.homework, "the service at the point comes first");
    let distances: Vec<f64> = near["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["distance_km"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    let wide = search(
        &app,
        &format!("lat={}&lon={}&radius_km=10&need=debt-economy", GELLERUP.0, GELLERUP.1),
    )
    .await;
    assert_eq!(ids(&wide), [f.debt, f.far_debt], "same need, nearer first");
    // A place name instead of coordinates.
    let by_place = search(&app, "near=Gellerup&need=debt-economy").await;
    assert_eq!(ids(&by_place), [f.debt]);

    // Filters.
    assert!(!ids(&search(&app, "age=10").await).contains(&f.debt));
    assert!(ids(&search(&app, "age=10").await).contains(&f.homework));
    assert_eq!(ids(&search(&app, "language=so").await), [f.debt]);
    assert_eq!(ids(&search(&app, "open_on=tu&open_at=16:00").await), [f.homework]);
    assert_eq!(ids(&search(&app, "open_on=tu&open_at=18:00").await), Vec::<Uuid>::new());
    assert!(!ids(&search(&app, "free=true").await).contains(&f.far_debt));
    let both_needs = search(&app, "need=debt-economy&need=education-homework").await;
    assert_eq!(both_needs["total"], 3);
    assert_eq!(both_needs["facets"]["need"]["debt-economy"], 2);
    assert_eq!(both_needs["facets"]["language"]["da"], 3);

    // Inactive services are never returned.
    let all = search(&app, "per_page=100").await;
    assert!(!ids(&all).contains(&f.inactive));
    assert_eq!(all["total"], 4);
    assert!(!ids(&search(&app, "q=lukket").await).contains(&f.inactive));

    // User text is never query syntax.
    for nasty in ["%22((%3A", "AND%20OR%20NOT", "*", "name%3Ax", "%5C"] {
        search(&app, &format!("q={nasty}")).await;
    }
    // Bad parameters are problems.
    problem(app.get("/v1/search?lat=56.1", None).await, 400).await;
    problem(app.get("/v1/search?lat=95&lon=10", None).await, 422).await;
    problem(app.get("/v1/search?near=Atlantis", None).await, 422).await;
    problem(app.get("/v1/search?need=astrology", None).await, 422).await;
    problem(app.get("/v1/search?open_on=someday", None).await, 400).await;
    problem(app.get("/v1/search?language=arabic", None).await, 400).await;
    problem(app.get("/v1/search?open_at=24:00", None).await, 400).await;
    let malformed = problem(app.get("/v1/search?need=G%C3%A6ld", None).await, 422).await;
    assert_eq!(malformed["errors"][0]["path"], "need/0");
    assert_eq!(
        app.get("/v1/search?language=AR", None).await.status(),
        200,
        "read as `ar`"
    );
    problem(app.get("/v1/search?lat=56.1&lon=10.1&radius_km=500", None).await, 400).await;

    // Match a family: needs grouped, each with offers near the family.
    let response = app
        .send_json(
            Method::POST,
            "/v1/match",
            None,
            &json!({"near": "Gellerup", "ages": [9, 38], "languages": ["ar"],
                    "needs": [{"code": "education-homework"}, {"text": "hjælp med gæld"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let matched: Value = response.json().await.unwrap();
    assert_eq!(matched["groups"][0]["need"], "education-homework");
    assert_eq!(ids(&matched["groups"][0]), [f.homework]);
    assert_eq!(ids(&matched["groups"][1])[0], f.debt);
}

async fn search_reads_its_own_writes(app: TestApp) {
    let f = fixture(&app).await;
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{}", f.debt),
            Some(&app.admin),
            &json!({"name": "Budgetvejledning", "description": "Vi hjælper med husholdningsbudget."}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(ids(&search(&app, "q=husholdningsbudget").await).contains(&f.debt));
    let response = app
        .request(
            Method::DELETE,
            &format!("/v1/services/{}", f.homework),
            Some(&app.admin),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!ids(&search(&app, "q=lektie").await).contains(&f.homework));
    // Deactivating the organization hides all its services.
    let org = search(&app, "q=Budgetvejledning").await["items"][0]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .request(Method::DELETE, &format!("/v1/organizations/{org}"), Some(&app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(search(&app, "").await["total"], 0);
}

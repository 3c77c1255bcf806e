//! `POST /v1/needs/detect`: the needs a family's own words name, and `POST /v1/match` choosing offers by them.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of, problem};
use crate::on_both_backends;

on_both_backends!(
    detect_finds_the_needs_in_family_words,
    detect_answers_with_labels_scores_and_words,
    detect_refuses_bad_requests,
    detect_knows_only_the_taxonomy_codes,
    match_chooses_offers_by_the_needs_words_name,
);

async fn detect(app: &TestApp, text: &str, language: Option<&str>) -> Value {
    let mut body = json!({ "text": text });
    if let Some(language) = language {
        body["language"] = json!(language);
    }
    let response = app.send_json(Method::POST, "/v1/needs/detect", None, &body).await;
    assert_eq!(response.status(), 200, "{text}");
    response.json().await.unwrap()
}

fn codes(found: &Value) -> Vec<&str> {
    found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["code"].as_str().unwrap())
        .collect()
}

/// The phrases and the needs expected for them (`api/tests/detect-cases.json`, shared with the bench).
#[derive(serde::Deserialize)]
struct Cases {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    language: Option<String>,
    expected: Vec<String>,
}

fn cases() -> Vec<Case> {
    let cases: Cases = serde_json::from_str(include_str!("../detect-cases.json")).expect("detect-cases.json");
    cases.cases
}

async fn detect_finds_the_needs_in_family_words(app: TestApp) {
    let cases = cases();
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    // the first expected need must come first and the others be found too; none expected: nothing found
    for Case {
        text,
        language,
        expected,
    } in &cases
    {
        let found = detect(&app, text, language.as_deref()).await;
        let found = codes(&found);
        let right = match expected.split_first() {
            None => found.is_empty(),
            Some((first, others)) => {
                found.first() == Some(&first.as_str()) && others.iter().all(|c| found.contains(&c.as_str()))
            }
        };
        if !right {
            failures.push(format!("{text:?} ({language:?}): {found:?}, expected {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn detect_answers_with_labels_scores_and_words(app: TestApp) {
    let found = detect(&app, "Min mand SLÅR mig, og vi har ingen penge til huslejen", None).await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(codes(&found)[0], "domestic-violence", "{found}");
    let violence = &items[0];
    assert_eq!(
        violence["label"],
        json!({"da": "Vold i nære relationer", "en": "Domestic violence"})
    );
    // the words as written
    assert_eq!(violence["matched"], json!(["Min mand SLÅR mig"]));
    let debt = items
        .iter()
        .find(|n| n["code"] == "debt-economy")
        .expect("debt-economy");
    assert_eq!(debt["label"]["en"], "Debt and money");
    assert_eq!(debt["matched"], json!(["penge", "huslejen"]));
    let scores: Vec<f64> = items.iter().map(|n| n["score"].as_f64().unwrap()).collect();
    assert!(scores.iter().all(|s| *s > 0.0 && *s <= 1.0), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");

    // Sub-terms the words name, under their top-level need.
    let found = detect(&app, "hun har brug for et krisecenter", None).await;
    assert_eq!(found["items"][0]["code"], "domestic-violence");
    assert_eq!(found["items"][0]["sub_codes"], json!(["domestic-violence/shelter"]));
    let found = detect(&app, "min mand slår mig", None).await;
    assert_eq!(found["items"][0]["sub_codes"], json!([]));

    // Nothing to find is an empty list, not an error; with or without a key.
    for text in ["", "   ", "hej", "!!!"] {
        assert_eq!(detect(&app, text, None).await, json!({"items": []}), "{text:?}");
    }
    let response = app
        .send_json(
            Method::POST,
            "/v1/needs/detect",
            Some(&app.reader),
            &json!({"text": "lektiehjælp"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(codes(&response.json().await.unwrap()), ["education-homework"]);
}

async fn detect_refuses_bad_requests(app: TestApp) {
    let at_limit = "gæld ".repeat(100);
    assert_eq!(at_limit.chars().count(), 500);
    assert_eq!(codes(&detect(&app, &at_limit, None).await), ["debt-economy"]);
    let too_long = format!("{at_limit}x");
    let body = problem(
        app.send_json(Method::POST, "/v1/needs/detect", None, &json!({"text": too_long}))
            .await,
        400,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("500"), "{body}");
    for bad in [json!({"text": "gæld", "language": "ar"}), json!({"language": "da"})] {
        problem(app.send_json(Method::POST, "/v1/needs/detect", None, &bad).await, 400).await;
    }
    let response = app
        .request(Method::POST, "/v1/needs/detect", None)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;
}

async fn detect_knows_only_the_taxonomy_codes(app: TestApp) {
    let needs: Value = app.get("/v1/needs", None).await.json().await.unwrap();
    let items = needs["items"].as_array().unwrap();
    let top: Vec<&str> = items.iter().map(|n| n["code"].as_str().unwrap()).collect();
    let detector = &app.state.detector;
    assert_eq!(detector.codes().collect::<Vec<_>>(), top);
    let children: Vec<&str> = items
        .iter()
        .flat_map(|n| n["children"].as_array().unwrap())
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(detector.sub_codes().all(|c| children.contains(&c)));
}

/// A family's words in `/v1/match`: the offers of the needs they name, not every offer sharing a word.
async fn match_chooses_offers_by_the_needs_words_name(app: TestApp) {
    let org = app.organization("Foreningen Bydelsmødre").await;
    let here = app.location(org, "Foreningshuset Gellerup", 56.1530, 10.1330).await;
    let near = app.location(org, "Toveshøj Beboerhus", 56.1560, 10.1290).await;
    let service = |name: &str, description: &str, need: &str, location: Uuid| {
        json!({"name": name, "description": description, "organization_id": org, "location_ids": [location],
               "needs": [need], "languages": ["da"]})
    };
    let shelter = id_of(
        &app.service(service(
            "Krisecenter for kvinder",
            "Et sikkert sted for kvinder og børn, der udsættes for vold.",
            "domestic-violence",
            near,
        ))
        .await,
    );
    let counselling = id_of(
        &app.service(service(
            "Rådgivning mod vold",
            "Samtaler når en mand slår, truer eller kontrollerer.",
            "domestic-violence",
            here,
        ))
        .await,
    );
    let football = id_of(
        &app.service(service(
            "Fodbold for mænd",
            "Hver mand sin bold: fodbold for mænd i alle aldre.",
            "leisure-sport",
            here,
        ))
        .await,
    );
    let debt = id_of(
        &app.service(service(
            "Gældsrådgivning for familier",
            "Hjælp til budget, regninger og inkasso.",
            "debt-economy",
            near,
        ))
        .await,
    );

    let response = app
        .send_json(
            Method::POST,
            "/v1/match",
            None,
            &json!({"near": "Gellerup", "needs": [
                {"text": "min mand slår mig"},
                {"text": "vi har gæld og regninger"},
                {"text": "lukket"},
                {"code": "leisure-sport", "text": "fodbold"}
            ]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let matched: Value = response.json().await.unwrap();
    let ids = |group: &Value| -> Vec<Uuid> { group["items"].as_array().unwrap().iter().map(id_of).collect() };

    let violence = &matched["groups"][0];
    assert_eq!(violence["need"], "min mand slår mig");
    assert_eq!(violence["detected"], json!(["domestic-violence"]));
    // The offer that shares the family's words first, then the need's other offers; never the football club
    // that only shares the word "mand".
    assert_eq!(ids(violence), [counselling, shelter], "{violence}");
    assert_eq!(violence["total"], 2);

    let money = &matched["groups"][1];
    assert_eq!(money["detected"], json!(["debt-economy"]));
    assert_eq!(ids(money), [debt]);

    // Words that name no need are searched as they are; a code keeps its group as asked.
    assert_eq!(matched["groups"][2]["detected"], json!([]));
    assert_eq!(ids(&matched["groups"][2]), Vec::<Uuid>::new());
    assert_eq!(matched["groups"][3]["detected"], json!([]));
    assert_eq!(ids(&matched["groups"][3]), [football]);
}

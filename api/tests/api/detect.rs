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

/// (text, language, expected) — the first expected code must come first and the others be found too; no
/// expected codes: nothing found.
const CASES: &[(&str, Option<&str>, &[&str])] = &[
    // Danish
    ("min mand slår mig", None, &["domestic-violence"]),
    ("han truer med at slå børnene", None, &["domestic-violence"]),
    (
        "jeg er bange for min mand og tør ikke gå hjem",
        None,
        &["domestic-violence"],
    ),
    ("kvindekrisecenter", None, &["domestic-violence"]),
    (
        "hun vil gerne lære dansk og har brug for hjælp til regninger",
        None,
        &["language-danish", "debt-economy"],
    ),
    ("vi har fået en rykker fra inkasso", None, &["debt-economy"]),
    ("jeg skylder penge til banken", None, &["debt-economy"]),
    ("vi kan ikke betale huslejen", None, &["debt-economy", "housing"]),
    ("gaeld og regninger", None, &["debt-economy"]),
    (
        "min søn har brug for hjælp til lektierne",
        None,
        &["education-homework"],
    ),
    ("jeg er arbejdsløs og søger job", None, &["employment"]),
    (
        "jeg har ikke noget arbejde og ingen penge",
        None,
        &["employment", "debt-economy"],
    ),
    ("hun er ensom og har ingen venner", None, &["loneliness-network"]),
    ("min datter er ked af det og har angst", None, &["mental-health"]),
    ("vi er blevet smidt ud af lejligheden", None, &["housing"]),
    ("vi bor trangt og har skimmelsvamp", None, &["housing"]),
    ("han drikker for meget", None, &["substance-abuse"]),
    ("han er afhængig af hash", None, &["substance-abuse"]),
    ("vi har ikke penge til mad", None, &["debt-economy", "food-clothing"]),
    ("familien har brug for julehjælp", None, &["food-clothing"]),
    (
        "jeg har brug for en advokat til min opholdstilladelse",
        None,
        &["legal-advice"],
    ),
    (
        "vi har fået en afgørelse fra kommunen og vil klage",
        None,
        &["legal-advice"],
    ),
    (
        "min søn hænger ud med de forkerte venner og laver ballade",
        None,
        &["youth-mentor"],
    ),
    ("hun er gravid og har brug for hjælp", None, &["parenting"]),
    ("vores teenager hører ikke efter", None, &["parenting"]),
    ("han går til fodbold", None, &["leisure-sport"]),
    ("hun har diabetes og skal til lægen", None, &["health"]),
    ("hun taler ikke dansk", None, &["language-danish"]),
    // Danish negations
    ("han har ikke problemer med gæld", None, &[]),
    ("jeg er ikke ensom", None, &[]),
    ("han har aldrig slået mig", None, &[]),
    ("han slår ikke børnene", None, &[]),
    ("vi har ikke brug for tolk", None, &[]),
    // English
    ("my husband hits me", None, &["domestic-violence"]),
    ("I am afraid of my husband", None, &["domestic-violence"]),
    ("a safe place to stay", None, &["domestic-violence"]),
    ("I am lonely and have no friends", None, &["loneliness-network"]),
    (
        "my daughter feels sad and lonely",
        None,
        &["mental-health", "loneliness-network"],
    ),
    ("I feel anxious and can't sleep", None, &["mental-health"]),
    ("we can't pay the bills", None, &["debt-economy"]),
    ("I need help with homework for my son", None, &["education-homework"]),
    ("I lost my job and need work", None, &["employment"]),
    ("she wants to learn Danish", None, &["language-danish"]),
    (
        "help understanding letters from the municipality",
        None,
        &["language-danish"],
    ),
    ("we are being evicted", None, &["housing"]),
    ("we have nothing to eat", None, &["food-clothing"]),
    ("I need a lawyer for my residence permit", None, &["legal-advice"]),
    ("he drinks too much", None, &["substance-abuse"]),
    ("my son needs a mentor", None, &["youth-mentor"]),
    ("my child needs a football club", None, &["leisure-sport"]),
    ("she is pregnant", None, &["parenting"]),
    // English negations
    ("he does not have debt problems", None, &[]),
    ("I don't need a job", None, &[]),
    ("I have never had any debt", None, &[]),
    ("she is not depressed", None, &[]),
    // The language, given or read from the small words, chooses the lexicon.
    ("min mand slår mig", Some("da"), &["domestic-violence"]),
    ("min mand slår mig", Some("en"), &[]),
    ("bills", Some("da"), &[]),
    ("mad", Some("da"), &["food-clothing"]),
    ("I am so mad at my landlord", None, &["housing"]),
];

async fn detect_finds_the_needs_in_family_words(app: TestApp) {
    assert!(CASES.len() >= 40);
    let mut failures = Vec::new();
    for &(text, language, expected) in CASES {
        let found = detect(&app, text, language).await;
        let found = codes(&found);
        let right = match expected.split_first() {
            None => found.is_empty(),
            Some((first, others)) => found.first() == Some(first) && others.iter().all(|c| found.contains(c)),
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

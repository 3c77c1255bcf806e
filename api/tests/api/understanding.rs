//! Search that understands a family's own words, on the Aarhus demo directory: needs found in sentences,
//! stop words that never match, nearest relevant first, irregular forms and split compounds, English words
//! finding Danish offers, who an offer is for, capacity, and a `why` to read aloud.

use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of};
use crate::{on_both_backends, on_both_backends_with_demo_data};

on_both_backends_with_demo_data!(
    family_words_find_the_needs_they_name,
    stop_words_never_match,
    the_nearest_relevant_offer_comes_first,
    irregular_forms_and_split_compounds_match,
    english_words_find_danish_offers,
    why_reads_aloud_in_danish_and_english,
);

on_both_backends!(full_offers_say_so_and_rank_after_offers_with_room);

async fn search(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/search?{query}"), Some(&app.reader)).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn q(text: &str) -> String {
    format!("q={}", urlencode(text))
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn items(results: &Value) -> &Vec<Value> {
    results["items"].as_array().unwrap()
}

/// The first `top` names, with score and why (for failure messages).
fn names(results: &Value, top: usize) -> Vec<String> {
    items(results)
        .iter()
        .take(top)
        .map(|hit| {
            format!(
                "{} ({}, {}, {})",
                hit["name"].as_str().unwrap(),
                hit["score"],
                hit["why"]["matched_terms"],
                hit["why"]["needs"]
            )
        })
        .collect()
}

fn names_only(results: &Value, top: usize) -> Vec<String> {
    items(results)
        .iter()
        .take(top)
        .map(|hit| hit["name"].as_str().unwrap().to_owned())
        .collect()
}

fn has_need(hit: &Value, code: &str) -> bool {
    hit["needs"].as_array().unwrap().iter().any(|n| {
        n.as_str()
            .is_some_and(|n| n == code || n.starts_with(&format!("{code}/")))
    })
}

async fn family_words_find_the_needs_they_name(app: TestApp) {
    // "my husband hits me", from a family that speaks Arabic: domestic-violence offers in Arabic, the men's
    // shelter not first
    let results = search(&app, &format!("{}&language=ar", q("min mand slår mig"))).await;
    let hits = items(&results);
    assert!(hits.len() >= 3, "{results}");
    for hit in hits.iter().take(3) {
        assert!(has_need(hit, "domestic-violence"), "{:?}", names(&results, 5));
        assert!(hit["languages"].as_array().unwrap().contains(&json!("ar")));
    }
    assert!(
        !hits[0]["name"].as_str().unwrap().contains("mænd"),
        "{:?}",
        names(&results, 5)
    );

    // women's shelters among the first for "domestic violence shelter"
    let results = search(&app, &q("domestic violence shelter")).await;
    let top = names_only(&results, 5);
    assert!(
        top.iter().any(|n| n.contains("Kvindehuset") || n.contains("kvinder")),
        "{top:?}"
    );

    // a sentence about bills: debt offers first, not offers sharing a small word
    let results = search(&app, &q("vi kan ikke betale regningerne og har fået en rykker")).await;
    for hit in items(&results).iter().take(5) {
        assert!(has_need(hit, "debt-economy"), "{:?}", names(&results, 5));
    }
}

async fn stop_words_never_match(app: TestApp) {
    let stop = [
        "hun", "er", "og", "vil", "gerne", "i", "et", "a", "to", "my", "the", "for", "ved",
    ];
    for text in [
        "hun er ensom og vil gerne i et kvindenetværk",
        "we need a safe place to stay",
        "hjælp til gæld ved flytning",
    ] {
        let results = search(&app, &q(text)).await;
        assert!(!items(&results).is_empty(), "{text}");
        for hit in items(&results) {
            for term in hit["why"]["matched_terms"].as_array().unwrap() {
                assert!(
                    !stop.contains(&term.as_str().unwrap()),
                    "{text}: {term} in {}",
                    hit["why"]
                );
            }
        }
    }
    let results = search(&app, &q("hun er ensom og vil gerne i et kvindenetværk")).await;
    let top = names_only(&results, 5);
    assert!(
        top.iter().all(|n| !n.contains("CV") && !n.contains("gymnastik")),
        "{top:?}"
    );
    // a text of stop words alone is the same as no text
    let everything = search(&app, "").await;
    let results = search(&app, &q("og i et")).await;
    assert_eq!(results["total"], everything["total"], "{results}");
}

async fn the_nearest_relevant_offer_comes_first(app: TestApp) {
    for (text, near) in [("lektiehjælp", "Gellerupparken"), ("gæld", "Gellerup")] {
        let results = search(&app, &format!("{}&near={near}", q(text))).await;
        let hits = items(&results);
        assert!(hits.len() >= 5, "{text}");
        let first = hits[0]["distance_km"].as_f64().unwrap();
        assert!(
            first < 0.5,
            "{text} near {near}: first at {first} km: {:?}",
            names(&results, 5)
        );
        // and among the first five, nothing relevant nearer is left behind
        let nearest = hits
            .iter()
            .take(10)
            .filter_map(|h| h["distance_km"].as_f64())
            .fold(f64::INFINITY, f64::min);
        assert!(first <= nearest + 0.3, "{text}: first {first} km, nearest {nearest} km");
    }
}

async fn irregular_forms_and_split_compounds_match(app: TestApp) {
    let results = search(&app, &q("bydelsmor")).await;
    let top = names(&results, 5);
    assert!(
        top.iter().filter(|n| n.starts_with("Bydelsmødre")).count() >= 3,
        "{top:?}"
    );

    let results = search(&app, &q("sprog cafe")).await;
    let top = names_only(&results, 3);
    assert!(top.iter().all(|n| n.starts_with("Sprogcafé")), "{top:?}");

    let results = search(&app, &q("lektie hjælp")).await;
    for hit in items(&results).iter().take(5) {
        assert!(has_need(hit, "education-homework"), "{:?}", names(&results, 5));
    }
}

async fn english_words_find_danish_offers(app: TestApp) {
    let results = search(&app, &q("women's network")).await;
    let top: Vec<&Value> = items(&results).iter().take(5).collect();
    assert!(
        top.iter()
            .filter(|hit| has_need(hit, "loneliness-network/women-network"))
            .count()
            >= 3,
        "{:?}",
        names(&results, 5)
    );
    let results = search(&app, &q("homework club")).await;
    for hit in items(&results).iter().take(5) {
        assert!(has_need(hit, "education-homework"), "{:?}", names(&results, 5));
    }
}

async fn why_reads_aloud_in_danish_and_english(app: TestApp) {
    let results = search(&app, &format!("{}&near=Gellerupparken&language=ar", q("lektiehjælp"))).await;
    let why = &items(&results)[0]["why"];
    let da = why["text"]["da"].as_str().unwrap();
    let en = why["text"]["en"].as_str().unwrap();
    assert!(
        da.contains("Uddannelse og lektiehjælp") && da.contains("taler arabisk") && da.contains("fra jer"),
        "{da}"
    );
    assert!(
        en.contains("Education and homework help") && en.contains("speaks Arabic") && en.contains("from you"),
        "{en}"
    );
    // asked for an opening time: said
    let results = search(&app, &format!("{}&open_on=tu&open_at=16:00", q("lektiehjælp"))).await;
    let da = items(&results)[0]["why"]["text"]["da"].as_str().unwrap().to_owned();
    assert!(da.contains("åben tirsdag kl. 16"), "{da}");
}

async fn full_offers_say_so_and_rank_after_offers_with_room(app: TestApp) {
    let org = app.organization("Foreningen Lektier").await;
    let here = app.location(org, "Beboerhuset", 56.1530, 10.1330).await;
    let service = |capacity: &str| {
        json!({"name": "Lektiecafé for alle", "description": "Hjælp til lektier hver tirsdag.",
               "organization_id": org, "location_ids": [here], "needs": ["education-homework"],
               "languages": ["da"], "capacity": capacity})
    };
    // the full one first, so that index order alone would put it first
    let full = id_of(&app.service(service("full")).await);
    let open = id_of(&app.service(service("available")).await);
    let results = search(&app, &q("lektiecafé")).await;
    let hits = items(&results);
    assert_eq!(hits.len(), 2, "{results}");
    assert_eq!(hits[0]["id"], json!(open), "{results}");
    assert_eq!(hits[1]["id"], json!(full));
    assert_eq!(hits[0]["capacity"], "available");
    assert_eq!(hits[1]["capacity"], "full");
    assert!(
        hits[1]["why"]["text"]["da"]
            .as_str()
            .unwrap()
            .contains("ingen ledige pladser")
    );
    assert!(
        hits[1]["why"]["text"]["en"]
            .as_str()
            .unwrap()
            .contains("no free places")
    );
    // without text too (nearest first, full last)
    let results = search(&app, "near=Gellerup&radius_km=5").await;
    let ids: Vec<&Value> = items(&results).iter().map(|h| &h["id"]).collect();
    assert_eq!(ids, [&json!(open), &json!(full)], "{results}");
}

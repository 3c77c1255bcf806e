//! Smoke test against the real needs taxonomy in seed-data/ (skipped when it is missing).

use indexer::{DocLocation, Gender, NeedTerms, SearchIndex, SearchQuery, ServiceDoc, Vocabulary};
use serde_json::Value;
use uuid::Uuid;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn flatten(items: &Value, out: &mut Vec<NeedTerms>) {
    for item in items.as_array().into_iter().flatten() {
        let label = &item["label"];
        out.push(NeedTerms {
            code: item["code"].as_str().unwrap_or_default().to_string(),
            labels: ["da", "en"]
                .iter()
                .filter_map(|l| label[l].as_str().map(String::from))
                .collect(),
            synonyms_da: strings(&item["synonyms"]["da"]),
            synonyms_en: strings(&item["synonyms"]["en"]),
        });
        flatten(&item["children"], out);
    }
}

#[test]
fn seed_taxonomy_builds_and_expands_queries() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../seed-data/needs.json");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("{path} missing, skipped");
        return;
    };
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut needs = Vec::new();
    flatten(&json["items"], &mut needs);
    assert!(needs.len() >= 15);
    let index = SearchIndex::in_memory(needs, &Vocabulary::default()).unwrap();
    let doc = |n: u128, name: &str, description: &str, need: &str| ServiceDoc {
        id: Uuid::from_u128(n),
        name: name.into(),
        description: description.into(),
        organization_id: Uuid::from_u128(100 + n),
        organization_name: "Forening".into(),
        eligibility: String::new(),
        needs: vec![need.into()],
        languages: vec!["da".into()],
        minimum_age: None,
        maximum_age: None,
        free: true,
        gender: Gender::Any,
        full: false,
        schedules: vec![],
        locations: vec![DocLocation {
            id: Uuid::from_u128(200 + n),
            latitude: 56.15,
            longitude: 10.2,
            confidential: false,
        }],
        service_area: None,
        payload: String::new(),
    };
    index
        .apply(
            vec![
                doc(1, "Varmestuen", "Et varmt måltid og et sted at være.", "housing"),
                doc(2, "Gældsrådgivning", "Rådgivning om gæld.", "debt-economy"),
            ],
            &[],
            1,
        )
        .unwrap();
    let search = |t: &str| {
        index
            .search(&SearchQuery {
                text: Some(t.into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id.as_u128())
            .collect::<Vec<_>>()
    };
    assert_eq!(search("homeless").first(), Some(&1));
    assert_eq!(search("hjemløs").first(), Some(&1));
    assert_eq!(search("debt").first(), Some(&2));
    assert_eq!(search("gæld").first(), Some(&2));
}

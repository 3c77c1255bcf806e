//! Relevance over the Aarhus seed directory: graded judgments in `bench/relevance.json`, nDCG@10 and
//! recall@5 for our engine and for the PostgreSQL baseline.

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgedSet {
    #[allow(dead_code)]
    pub about: Vec<String>,
    pub queries: Vec<JudgedQuery>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgedQuery {
    pub id: String,
    pub text: String,
    /// A gazetteer place; with it the query is a text+radius query.
    #[serde(default)]
    pub near: Option<String>,
    #[serde(default)]
    pub radius_km: Option<f64>,
    /// Kind of query (`keyword`, `family-words`, `en-da`, `da-en`, `place`, `compound`, `typo`, `filters`).
    pub class: String,
    /// Never tuned on: the engine's results on these were not looked at while it was changed.
    #[serde(default)]
    pub held_out: bool,
    /// Filters, as the API's `age`, `language` and `need`.
    #[serde(default)]
    pub age: Option<u32>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub needs: Vec<String>,
    /// Service id → grade: 3 exactly what was asked for, 2 clearly relevant, 1 marginal, 0 not relevant.
    pub judgments: HashMap<String, u8>,
}

pub const RELEVANCE_JSON: &str = include_str!("../relevance.json");

pub fn load() -> anyhow::Result<JudgedSet> {
    Ok(serde_json::from_str(RELEVANCE_JSON)?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn judgments_are_well_formed_and_name_seed_services() {
        let set = load().unwrap();
        assert!(set.queries.len() >= 150, "{} labelled queries", set.queries.len());
        let held_out = set.queries.iter().filter(|q| q.held_out).count();
        assert!(
            held_out * 3 >= set.queries.len(),
            "{held_out} held out of {}",
            set.queries.len()
        );
        let seed: serde_json::Value = serde_json::from_str(api::DEMO_DIRECTORY_JSON).unwrap();
        let ids: HashSet<String> = seed
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| o["services"].as_array().cloned().unwrap_or_default())
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        let gazetteer = indexer::gazetteer::Gazetteer::from_json(api::state::PLACES_JSON).unwrap();
        let mut seen = HashSet::new();
        for q in &set.queries {
            assert!(seen.insert(&q.id), "duplicate query id {}", q.id);
            assert!(
                q.judgments.values().any(|g| *g >= 2),
                "{} has no relevant service",
                q.id
            );
            for (id, grade) in &q.judgments {
                assert!(ids.contains(id), "{}: {id} is not a seed service", q.id);
                assert!(*grade <= 3, "{}: grade {grade}", q.id);
            }
            if let Some(near) = &q.near {
                assert!(gazetteer.resolve(near).is_some(), "{}: unknown place {near}", q.id);
            }
        }
    }
}

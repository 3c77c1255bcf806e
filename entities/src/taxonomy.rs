//! The needs taxonomy (`seed-data/needs.json`): codes with Danish and English labels and synonyms.
//! Top-level codes are part of the API contract; sub-terms are `parent/child`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    pub da: String,
    pub en: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synonyms {
    #[serde(default)]
    pub da: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeedTerm {
    pub code: String,
    pub label: Localized,
    pub description: Option<Localized>,
    #[serde(default)]
    pub synonyms: Synonyms,
    #[serde(default)]
    pub children: Vec<NeedTerm>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxonomy {
    pub items: Vec<NeedTerm>,
}

/// The taxonomy shipped with the binary.
pub const NEEDS_JSON: &str = include_str!("../../seed-data/needs.json");

impl Taxonomy {
    pub fn builtin() -> Self {
        serde_json::from_str(NEEDS_JSON).expect("seed-data/needs.json is valid (checked by tests)")
    }

    /// Every term, parents before their children, with its parent code.
    pub fn flatten(&self) -> Vec<(&NeedTerm, Option<&str>)> {
        let mut out = Vec::new();
        for term in &self.items {
            out.push((term, None));
            for child in &term.children {
                out.push((child, Some(term.code.as_str())));
            }
        }
        out
    }

    pub fn find(&self, code: &str) -> Option<&NeedTerm> {
        self.flatten().into_iter().map(|(t, _)| t).find(|t| t.code == code)
    }

    /// The top-level code a code belongs to (itself for top-level codes).
    pub fn top_level(code: &str) -> &str {
        code.split('/').next().unwrap_or(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_CODES: [&str; 15] = [
        "housing",
        "debt-economy",
        "employment",
        "education-homework",
        "leisure-sport",
        "mental-health",
        "domestic-violence",
        "language-danish",
        "parenting",
        "loneliness-network",
        "food-clothing",
        "legal-advice",
        "substance-abuse",
        "health",
        "youth-mentor",
    ];

    #[test]
    fn builtin_taxonomy_has_exactly_the_contract_codes() {
        let taxonomy = Taxonomy::builtin();
        let codes: Vec<&str> = taxonomy.items.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(codes, CONTRACT_CODES);
        for (term, parent) in taxonomy.flatten() {
            assert!(
                !term.label.da.is_empty() && !term.label.en.is_empty(),
                "{} lacks a label",
                term.code
            );
            if let Some(parent) = parent {
                assert!(
                    term.code.starts_with(&format!("{parent}/")),
                    "{} is not under {parent}",
                    term.code
                );
            } else {
                assert!(
                    !term.synonyms.da.is_empty() && !term.synonyms.en.is_empty(),
                    "{} lacks synonyms",
                    term.code
                );
            }
        }
    }
}

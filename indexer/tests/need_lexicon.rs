//! The shipped need lexicon (`seed-data/need-lexicon.json`) against the needs taxonomy and the detector.

use indexer::{Lang, NeedDetector};
use serde_json::Value;

const LEXICON: &str = include_str!("../../seed-data/need-lexicon.json");
const NEEDS: &str = include_str!("../../seed-data/needs.json");

fn detector() -> NeedDetector {
    NeedDetector::from_json(LEXICON).expect("seed-data/need-lexicon.json builds")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn lexicon_covers_every_need_of_the_taxonomy() {
    let detector = detector();
    let needs: Value = serde_json::from_str(NEEDS).unwrap();
    let items = needs["items"].as_array().unwrap();
    let top: Vec<&str> = items.iter().map(|n| n["code"].as_str().unwrap()).collect();
    assert_eq!(
        detector.codes().collect::<Vec<_>>(),
        top,
        "the taxonomy's top-level codes, in its order"
    );
    let children: Vec<&str> = items
        .iter()
        .flat_map(|n| n["children"].as_array().unwrap())
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    for sub in detector.sub_codes() {
        assert!(children.contains(&sub), "{sub} is not a sub-term in needs.json");
    }
    assert!(detector.sub_codes().count() >= 40);
    for code in top {
        for lang in [Lang::Da, Lang::En] {
            let count = detector.entry_count(code, lang);
            assert!(count >= 15, "{code} has {count} {lang:?} entries");
        }
    }
}

/// Every word and phrase of the lexicon, on its own, names its need (and its sub-term): no entry is hidden by
/// another need's entry, cancelled by a negation inside it, or lost in analysis.
#[test]
fn every_entry_names_its_own_need() {
    let detector = detector();
    let lexicon: Value = serde_json::from_str(LEXICON).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for need in lexicon["needs"].as_array().unwrap() {
        let code = need["code"].as_str().unwrap();
        let mut lists = vec![(&need["triggers"], None), (&need["lack"], None)];
        for sub in need["sub_terms"].as_array().unwrap() {
            lists.push((&sub["triggers"], sub["code"].as_str()));
            lists.push((&sub["lack"], sub["code"].as_str()));
        }
        for (list, sub) in lists {
            for (lang, key) in [(Lang::Da, "da"), (Lang::En, "en")] {
                for entry in strings(&list[key]) {
                    let text = entry.trim_end_matches('=');
                    let found = detector.detect(text, Some(lang));
                    checked += 1;
                    match found.iter().find(|n| n.code == code) {
                        None => failures.push(format!("{entry} ({lang:?}) → {found:?}, not {code}")),
                        Some(n) if sub.is_some_and(|s| !n.sub_codes.iter().any(|c| c == s)) => {
                            failures.push(format!("{entry} ({lang:?}) → {:?}, not {sub:?}", n.sub_codes))
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    assert!(checked > 1500, "{checked}");
    assert!(
        failures.is_empty(),
        "{} entries:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Context words strengthen a need but never name it alone; missing entries name it only when missing.
#[test]
fn context_and_missing_entries_alone_name_nothing_of_their_own() {
    let detector = detector();
    let lexicon: Value = serde_json::from_str(LEXICON).unwrap();
    let mut missing = 0;
    for need in lexicon["needs"].as_array().unwrap() {
        let code = need["code"].as_str().unwrap();
        for (lang, key, negation) in [(Lang::Da, "da", "ingen"), (Lang::En, "en", "no")] {
            for entry in strings(&need["context"][key])
                .iter()
                .chain(&strings(&need["missing"][key]))
            {
                let found = detector.detect(entry.trim_end_matches('='), Some(lang));
                assert!(!found.iter().any(|n| n.code == code), "{entry} → {found:?}");
            }
            for entry in strings(&need["missing"][key]) {
                let text = format!("{negation} {}", entry.trim_end_matches('='));
                let found = detector.detect(&text, Some(lang));
                assert!(found.iter().any(|n| n.code == code), "{text} → {found:?}");
                missing += 1;
            }
        }
    }
    assert!(missing >= 10, "{missing}");
}

/// Other forms than the entry's, and what a family lacks.
#[test]
fn forms_and_lacks_name_their_needs() {
    let detector = detector();
    for (text, code) in [
        ("fritidsaktiviteter", "leisure-sport"),
        ("vi har ikke råd til fritidsaktiviteter", "leisure-sport"),
        ("lejlighederne", "housing"),
        ("gældsproblemerne", "debt-economy"),
        ("vi har ingen bolig", "housing"),
        ("vi har ingen vintertøj", "food-clothing"),
        ("we have no winter clothes", "food-clothing"),
        ("hun har ikke opholdstilladelse", "legal-advice"),
        ("han har ikke noget fritidsjob", "employment"),
        ("hun har ikke nogen venner", "loneliness-network"),
        ("the children have no shoes", "food-clothing"),
    ] {
        let found = detector.detect(text, None);
        assert!(found.iter().any(|n| n.code == code), "{text}: {found:?}");
    }
    for (text, code) in [
        ("jeg har ikke brug for en bolig", "housing"),
        ("vi har ikke problemer med boligen", "housing"),
        ("han spiller fodbold med sine venner", "loneliness-network"),
        ("hun har nye sko", "food-clothing"),
        ("min mand arbejder i Aarhus", "employment"),
        ("I am fine, thank you", "legal-advice"),
    ] {
        let found = detector.detect(text, None);
        assert!(!found.iter().any(|n| n.code == code), "{text}: {found:?}");
    }
}

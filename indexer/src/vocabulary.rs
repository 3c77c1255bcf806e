//! What the engine knows of how people ask, beyond the needs taxonomy: a Danish↔English bridge of everyday
//! words, Danish word forms a stemmer does not relate (mor/mødre, barn/børn), the words that say who an offer
//! should be for, words that never count as a match, and the need detector. Kept as data
//! (`seed-data/bridge.json`); used only at query time, so changing it needs no index rebuild.

use std::sync::Arc;

use serde::Deserialize;

use crate::{Error, Gender, NeedDetector, Result};

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeFile {
    #[serde(default)]
    #[allow(dead_code)]
    about: Vec<String>,
    #[serde(default)]
    pairs: Vec<(String, String)>,
    #[serde(default)]
    forms: Vec<Vec<String>>,
    #[serde(default)]
    audience: Audience,
    #[serde(default)]
    stop_words: Vec<String>,
}

/// Words (phrases) that say who an offer is for; "min mand" (my husband) says the asker is a woman.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Audience {
    /// Phrases that name nobody's group and hide the shorter ones inside them ("min mand": not men).
    #[serde(default)]
    anyone: Vec<String>,
    #[serde(default)]
    women: Vec<String>,
    #[serde(default)]
    men: Vec<String>,
    #[serde(default)]
    girls: Vec<String>,
    #[serde(default)]
    boys: Vec<String>,
    #[serde(default)]
    children: Vec<String>,
    #[serde(default)]
    seniors: Vec<String>,
}

/// An age group a query can name ("min datter", "ældre").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeGroup {
    /// Children and young people: offers up to 25 fit, offers only for adults less so.
    Young,
    /// Older people: offers from 50 fit, offers only for young people do not.
    Seniors,
}

/// The query-time vocabulary of an index. `Vocabulary::default()` is empty (plain word matching).
#[derive(Clone, Default)]
pub struct Vocabulary {
    /// (Danish, English), lowercase.
    pub(crate) pairs: Vec<(String, String)>,
    /// Groups of Danish forms of one word, lowercase.
    pub(crate) forms: Vec<Vec<String>>,
    /// Phrases naming a group of people, lowercase.
    pub(crate) audience: Vec<(Gender, String)>,
    /// Phrases naming an age group, lowercase.
    pub(crate) ages: Vec<(AgeGroup, String)>,
    /// Words beyond Danish and English stop words that carry no meaning in a query ("gerne", "please").
    pub(crate) stop_words: Vec<String>,
    pub(crate) detector: Option<Arc<NeedDetector>>,
}

/// Lowercase, trimmed, without empty entries.
fn cleaned(list: &[String]) -> impl Iterator<Item = String> + '_ {
    list.iter().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty())
}

impl Vocabulary {
    /// Reads `seed-data/bridge.json`; errors name what is wrong.
    pub fn from_json(json: &str) -> Result<Self> {
        let file: BridgeFile =
            serde_json::from_str(json).map_err(|e| Error::InvalidDocument(format!("bridge: {e}")))?;
        let clean = |s: &str| s.trim().to_lowercase();
        let mut vocabulary = Vocabulary::default();
        for (da, en) in file.pairs {
            let (da, en) = (clean(&da), clean(&en));
            if da.is_empty() || en.is_empty() {
                return Err(Error::InvalidDocument(format!(
                    "bridge: empty side in pair ({da:?}, {en:?})"
                )));
            }
            vocabulary.pairs.push((da, en));
        }
        for group in file.forms {
            let group: Vec<String> = group.iter().map(|s| clean(s)).filter(|s| !s.is_empty()).collect();
            if group.len() < 2 {
                return Err(Error::InvalidDocument(format!(
                    "bridge: a form group needs two forms: {group:?}"
                )));
            }
            vocabulary.forms.push(group);
        }
        let a = file.audience;
        for (group, phrases) in [(AgeGroup::Young, &a.children), (AgeGroup::Seniors, &a.seniors)] {
            vocabulary.ages.extend(cleaned(phrases).map(|p| (group, p)));
        }
        for (gender, phrases) in [
            (Gender::Any, &a.anyone),
            (Gender::Women, &a.women),
            (Gender::Men, &a.men),
            (Gender::Girls, &a.girls),
            (Gender::Boys, &a.boys),
        ] {
            vocabulary.audience.extend(cleaned(phrases).map(|p| (gender, p)));
        }
        vocabulary.stop_words = cleaned(&file.stop_words).collect();
        Ok(vocabulary)
    }

    /// Danish words of the bridge and the word forms: compounds made of them are split when indexing, so that
    /// "madudlevering" is found by "mad".
    pub fn danish_words(&self) -> Vec<String> {
        let mut words: Vec<String> = self
            .pairs
            .iter()
            .map(|(da, _)| da.clone())
            .chain(self.forms.iter().flatten().cloned())
            .filter(|w| !w.contains(char::is_whitespace))
            .collect();
        words.sort();
        words.dedup();
        words
    }

    /// Detected needs in the query text boost offers tagged with them.
    pub fn with_detector(mut self, detector: Arc<NeedDetector>) -> Self {
        self.detector = Some(detector);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sections_and_names_mistakes() {
        let v = Vocabulary::from_json(
            r#"{"pairs": [["Gæld", "debt"]], "forms": [["mor", "mødre"]],
                "audience": {"women": ["kvinder"], "anyone": ["min mand"], "children": ["datter"]},
                "stop_words": ["gerne"]}"#,
        )
        .unwrap();
        assert_eq!(v.pairs, [("gæld".to_owned(), "debt".to_owned())]);
        assert_eq!(
            v.audience,
            [
                (Gender::Any, "min mand".to_owned()),
                (Gender::Women, "kvinder".to_owned())
            ]
        );
        assert_eq!(v.ages, [(AgeGroup::Young, "datter".to_owned())]);
        assert_eq!(v.danish_words(), ["gæld", "mor", "mødre"]);
        for bad in [
            r#"{"pairs": [["", "debt"]]}"#,
            r#"{"forms": [["mor"]]}"#,
            r#"{"audience": {"aliens": ["x"]}}"#,
            r#"{"stopwords": []}"#,
        ] {
            assert!(Vocabulary::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shipped_file_is_valid() {
        let v = Vocabulary::from_json(include_str!("../../seed-data/bridge.json")).unwrap();
        assert!(
            v.pairs.len() >= 350 && v.forms.len() >= 40,
            "{} pairs {} forms",
            v.pairs.len(),
            v.forms.len()
        );
        assert!(!v.audience.is_empty() && !v.ages.is_empty() && !v.stop_words.is_empty());
    }
}

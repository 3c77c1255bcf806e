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
    #[serde(default)]
    women: Vec<String>,
    #[serde(default)]
    men: Vec<String>,
    #[serde(default)]
    girls: Vec<String>,
    #[serde(default)]
    boys: Vec<String>,
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
    /// Words beyond Danish and English stop words that carry no meaning in a query ("gerne", "please").
    pub(crate) stop_words: Vec<String>,
    pub(crate) detector: Option<Arc<NeedDetector>>,
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
        for (gender, phrases) in [
            (Gender::Women, a.women),
            (Gender::Men, a.men),
            (Gender::Girls, a.girls),
            (Gender::Boys, a.boys),
        ] {
            vocabulary.audience.extend(
                phrases
                    .iter()
                    .map(|p| clean(p))
                    .filter(|p| !p.is_empty())
                    .map(|p| (gender, p)),
            );
        }
        vocabulary.stop_words = file
            .stop_words
            .iter()
            .map(|s| clean(s))
            .filter(|s| !s.is_empty())
            .collect();
        Ok(vocabulary)
    }

    /// Detected needs in the query text boost offers tagged with them.
    pub fn with_detector(mut self, detector: Arc<NeedDetector>) -> Self {
        self.detector = Some(detector);
        self
    }
}

//! The app's words in Danish and English (`api/web/i18n/da.json`, `en.json`: flat key → text, reviewable
//! without reading code), and the labels of the family's printed list in the languages families in
//! Gellerup speak (`list-labels.json`: Danish, English, Arabic, Somali, Turkish).

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The language of the app's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Da,
    En,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "da" => Some(Lang::Da),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Da => "da",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Da => Lang::En,
            Lang::En => Lang::Da,
        }
    }
}

pub type Texts = BTreeMap<String, String>;

static DA: LazyLock<Texts> =
    LazyLock::new(|| serde_json::from_str(include_str!("../../web/i18n/da.json")).expect("web/i18n/da.json"));
static EN: LazyLock<Texts> =
    LazyLock::new(|| serde_json::from_str(include_str!("../../web/i18n/en.json")).expect("web/i18n/en.json"));

/// Every text of the app in `lang`.
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    }
}

/// One text; the key itself when missing (a test checks both files have the same keys).
pub fn text(lang: Lang, key: &str) -> String {
    texts(lang).get(key).cloned().unwrap_or_else(|| key.to_owned())
}

/// The languages the family's list can be printed in, with their writing direction.
pub const FAMILY_LANGUAGES: &[(&str, &str)] = &[
    ("da", "ltr"),
    ("en", "ltr"),
    ("ar", "rtl"),
    ("so", "ltr"),
    ("tr", "ltr"),
];

static LIST_LABELS: LazyLock<BTreeMap<String, Texts>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../web/i18n/list-labels.json")).expect("web/i18n/list-labels.json")
});

/// The fixed labels of the printed list and the SMS text in `language` (Danish when we lack the words).
pub fn list_labels(language: &str) -> (&'static str, &'static str, &'static Texts) {
    let (code, dir) = FAMILY_LANGUAGES
        .iter()
        .find(|(code, _)| *code == language)
        .copied()
        .unwrap_or(("da", "ltr"));
    (code, dir, &LIST_LABELS[code])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn danish_and_english_have_the_same_keys() {
        let da: Vec<_> = DA.keys().collect();
        let en: Vec<_> = EN.keys().collect();
        assert_eq!(da, en);
    }

    #[test]
    fn every_family_language_has_every_list_label() {
        let danish: Vec<_> = LIST_LABELS["da"].keys().collect();
        for (code, _) in FAMILY_LANGUAGES {
            let keys: Vec<_> = LIST_LABELS[*code].keys().collect();
            assert_eq!(keys, danish, "{code}");
        }
    }
}

//! Need detection: which needs of the taxonomy a family's own words point to ("min mand slår mig" →
//! `domestic-violence`), from a lexicon kept as data (`seed-data/need-lexicon.json`, see its README).
//!
//! Everything is prepared when the detector is built; `detect` only tokenises the text, analyses each word
//! (lowercase, stem, split Danish compounds, fold æ/ø/å and other diacritics) and looks the tokens up.
//!
//! - A lexicon entry matches when its words occur in this order, next to each other, in the text (after
//!   the same analysis, so "regningerne" matches "regninger" and "gældsproblemer" matches "gæld"). An entry
//!   ending in `=` matches only those word forms (no stemming or compound splitting: `banker=` is not "banken").
//! - A longer match hides the shorter ones inside it ("social kontrol" is not also "social").
//! - Negation: a negation word cancels the first match up to [`NEGATION_WINDOW`] words after it, in the same
//!   clause ("han har ikke problemer med gæld"), and the next items of a list ("ingen gæld eller regninger"),
//!   not what follows ("ingen penge til huslejen"); a post-negation right after a match too ("han slår ikke").
//!   For `lack` entries (what a family can be without: a job, a home, money) a plain negation confirms the need
//!   ("ingen bolig", "no job"); only a strong negation ("ikke brug for", "don't need") cancels them. `missing`
//!   entries name the need only so, or after a lack word ("mangler venner", "needs shoes"), and are context
//!   words otherwise. A negation inside a matched phrase ("kan ikke betale") negates nothing else, and
//!   pseudo-negations ("ikke kun") nothing at all.
//! - Each need scores `1 - exp(-sum)` over its matches: 1 for a word, +0.5 per further word of a phrase (at most
//!   2.5), context words 0.3 and only beside a real trigger.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Deserialize;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, SimpleTokenizer, SplitCompoundWords, Stemmer, TextAnalyzer,
};

use crate::analysis::{DanishFold, tokens};
use crate::{Error, Result};

/// At most this many words may stand between a negation and the match it cancels.
pub const NEGATION_WINDOW: usize = 3;
/// At most this many words may stand between a match and a post-negation ("slår mig ikke").
const POST_NEGATION_WINDOW: usize = 1;
/// Weight of a one-word trigger; each further word of a phrase adds [`PHRASE_BONUS`], up to [`MAX_WEIGHT`].
const WORD_WEIGHT: f32 = 1.0;
const PHRASE_BONUS: f32 = 0.5;
const MAX_WEIGHT: f32 = 2.5;
/// Weight of a context word (counted only when the need also has a trigger).
const CONTEXT_WEIGHT: f32 = 0.3;
/// Language hints needed to take a text as one language (more than the other language's hints).
const LANGUAGE_MARGIN: usize = 2;
/// Words of a text beyond this are ignored (the API limits texts to 500 characters anyway).
const MAX_WORDS: usize = 400;

/// A language of the lexicon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    Da,
    En,
}

impl Lang {
    /// `da` or `en` (ISO 639-1), any case.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "da" => Some(Lang::Da),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            Lang::Da => 0,
            Lang::En => 1,
        }
    }
}

/// One need found in a text.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectedNeed {
    /// Top-level need code.
    pub code: String,
    /// 0..1, higher is surer; three decimals.
    pub score: f64,
    /// The stretches of the text that triggered the need, as written, in text order (overlapping matches merged).
    pub matched: Vec<String>,
    /// Sub-term codes the matched words point to, surest first (may be empty).
    pub sub_codes: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------
// The lexicon file

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PerLang {
    #[serde(default)]
    da: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
}

impl PerLang {
    fn both(&self) -> [&[String]; 2] {
        [&self.da, &self.en]
    }

    fn get(&self, lang: Lang) -> &[String] {
        match lang {
            Lang::Da => &self.da,
            Lang::En => &self.en,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubTermEntry {
    code: String,
    #[serde(default)]
    triggers: PerLang,
    #[serde(default)]
    lack: PerLang,
    #[serde(default)]
    missing: PerLang,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedEntry {
    code: String,
    #[serde(default)]
    triggers: PerLang,
    #[serde(default)]
    lack: PerLang,
    #[serde(default)]
    missing: PerLang,
    #[serde(default)]
    context: PerLang,
    #[serde(default)]
    sub_terms: Vec<SubTermEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    /// Free text for the people who edit the file.
    #[serde(default, rename = "about")]
    _about: Vec<String>,
    #[serde(default)]
    negations: PerLang,
    #[serde(default)]
    strong_negations: PerLang,
    #[serde(default)]
    post_negations: PerLang,
    #[serde(default)]
    pseudo_negations: PerLang,
    #[serde(default)]
    clause_breaks: PerLang,
    #[serde(default)]
    list_words: PerLang,
    #[serde(default)]
    lack_words: PerLang,
    #[serde(default)]
    language_hints: PerLang,
    #[serde(default)]
    compound_parts: PerLang,
    needs: Vec<NeedEntry>,
}

// ---------------------------------------------------------------------------------------------------------
// Compiled form

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Names the need; a negation cancels it.
    Trigger,
    /// Names the need, and a plain negation confirms it ("ingen bolig").
    Lack,
    /// Names the need only under a plain negation ("ingen venner"); otherwise context.
    Missing,
    /// Adds weight to a need named by other words.
    Context,
}

impl Kind {
    /// A plain negation confirms rather than cancels it.
    fn lackable(self) -> bool {
        matches!(self, Kind::Lack | Kind::Missing)
    }
}

/// One analysed lexicon entry.
struct Pattern {
    /// Analysed token keys; an exact entry's keys are its words' keys (see `Word::key`).
    keys: Vec<String>,
    /// `keys` with "ae" → "a", "oe" → "o", compared with words typed in plain ASCII.
    ascii_keys: Vec<String>,
    exact: bool,
    /// Words in the entry (a compound counts as one).
    words: usize,
    need: usize,
    sub: Option<usize>,
    kind: Kind,
    weight: f32,
}

/// What negations make of a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Stands,
    Cancelled,
    Confirmed,
}

/// Patterns of one language, indexed by their first key (and its ASCII form); exact entries apart.
#[derive(Default)]
struct PatternSet {
    patterns: Vec<Pattern>,
    by_first: HashMap<String, Vec<usize>>,
    by_first_ascii: HashMap<String, Vec<usize>>,
    by_first_exact: HashMap<String, Vec<usize>>,
    by_first_exact_ascii: HashMap<String, Vec<usize>>,
}

impl PatternSet {
    fn add(&mut self, pattern: Pattern) {
        let id = self.patterns.len();
        let (by_first, by_first_ascii) = if pattern.exact {
            (&mut self.by_first_exact, &mut self.by_first_exact_ascii)
        } else {
            (&mut self.by_first, &mut self.by_first_ascii)
        };
        by_first.entry(pattern.keys[0].clone()).or_default().push(id);
        by_first_ascii
            .entry(pattern.ascii_keys[0].clone())
            .or_default()
            .push(id);
        self.patterns.push(pattern);
    }
}

fn lookup<'a>(map: &'a HashMap<String, Vec<usize>>, key: &str) -> impl Iterator<Item = usize> + 'a {
    map.get(key).into_iter().flatten().copied()
}

/// Word sequences (of word keys, unstemmed), for negations and the like; indexed by their first word.
#[derive(Default)]
struct WordPhrases {
    by_first: HashMap<String, Vec<Vec<String>>>,
}

impl WordPhrases {
    fn new(phrases: impl Iterator<Item = Vec<String>>) -> Self {
        let mut by_first: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for phrase in phrases.filter(|p| !p.is_empty()) {
            by_first.entry(phrase[0].clone()).or_default().push(phrase);
        }
        WordPhrases { by_first }
    }

    /// `(start, end)` word spans (inclusive) of every occurrence.
    fn find(&self, words: &[Word]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (start, word) in words.iter().enumerate() {
            for phrase in self.by_first.get(&word.key).into_iter().flatten() {
                let end = start + phrase.len();
                if end <= words.len() && words[start..end].iter().zip(phrase).all(|(w, k)| w.key == *k) {
                    out.push((start, end - 1));
                }
            }
        }
        out
    }

    fn words(self) -> HashSet<String> {
        self.by_first.into_values().flatten().flatten().collect()
    }
}

struct NeedInfo {
    code: String,
    subs: Vec<String>,
}

/// The analysers of one language: lowercase + stem; for Danish, compound splitting of the stem and each part (or
/// the unsplit stem) stemmed again, like the search index's Danish chain; then folding.
#[derive(Clone)]
struct Chain {
    stem: TextAnalyzer,
    split: Option<TextAnalyzer>,
    fold: TextAnalyzer,
}

impl Chain {
    fn new(lang: Lang, compounds: Option<SplitCompoundWords>) -> Self {
        let language = match lang {
            Lang::Da => Language::Danish,
            Lang::En => Language::English,
        };
        Chain {
            stem: TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(LowerCaser)
                .filter(Stemmer::new(language))
                .build(),
            split: compounds.map(|c| TextAnalyzer::builder(SimpleTokenizer::default()).filter(c).build()),
            fold: fold_analyzer(),
        }
    }

    /// Token keys of one word (lowercase, no spaces).
    fn word(&mut self, word: &str) -> Vec<String> {
        let stems = tokens(&mut self.stem, word);
        let mut parts = Vec::with_capacity(2);
        for stem in stems {
            let split = match &mut self.split {
                // two parts of at least three letters
                Some(splitter) if stem.len() >= 6 => tokens(splitter, &stem),
                _ => Vec::new(),
            };
            if split.len() > 1 {
                for part in split {
                    parts.extend(tokens(&mut self.stem, &part));
                }
            } else if self.split.is_some() {
                // Danish: a second pass conflates forms one pass leaves apart ("aktiviteter" → "aktivitet" →
                // "aktivit", like "aktivitet")
                parts.extend(tokens(&mut self.stem, &stem));
            } else {
                parts.push(stem);
            }
        }
        parts.into_iter().map(|p| fold(&mut self.fold, &p)).collect()
    }

    /// The tokens of each word, in order.
    fn analyse(&mut self, words: &[Word]) -> Vec<Tok> {
        let mut out = Vec::with_capacity(words.len() + 4);
        for (i, word) in words.iter().enumerate() {
            let keys = self.word(&word.norm);
            let whole = keys.len() == 1;
            out.extend(keys.into_iter().map(|key| Tok {
                ascii_key: word.ascii.then(|| ascii_key(&key)),
                key,
                word: i,
                whole,
            }));
        }
        out
    }
}

/// Detects needs in a text; build once (from the lexicon JSON), share freely.
pub struct NeedDetector {
    needs: Vec<NeedInfo>,
    /// Per language (`Lang::index`).
    patterns: [PatternSet; 2],
    chains: [Chain; 2],
    fold: TextAnalyzer,
    negations: WordPhrases,
    strong_negations: WordPhrases,
    post_negations: HashSet<String>,
    pseudo_negations: WordPhrases,
    clause_breaks: HashSet<String>,
    list_words: HashSet<String>,
    lack_words: WordPhrases,
    hints: [HashSet<String>; 2],
}

/// One word of the text: `[start, end)` byte offsets and its keys.
#[derive(Clone, Debug)]
struct Word {
    start: usize,
    end: usize,
    /// Lowercased, contractions expanded ("don't" → "do" "not").
    norm: String,
    /// `norm` folded, unstemmed: æ → ae, ø → oe, å/aa → a, other diacritics dropped ("Århus" → "arhus").
    key: String,
    /// Typed in plain ASCII in a text without æ, ø and å: may stand for a word with æ/ø ("gald" for "gæld"), see
    /// `ascii_key`.
    ascii: bool,
    /// `ascii_key(key)` when `ascii` and different from `key`.
    ascii_key: Option<String>,
}

impl Word {
    fn new(start: usize, end: usize, norm: String, key: String, ascii: bool) -> Self {
        let ascii_key = ascii.then(|| ascii_key(&key)).filter(|k| *k != key);
        Word {
            start,
            end,
            norm,
            key,
            ascii,
            ascii_key,
        }
    }

    /// The key to compare with patterns' `ascii_keys`, for words typed in plain ASCII.
    fn ascii_key(&self) -> Option<&str> {
        self.ascii.then(|| self.ascii_key.as_deref().unwrap_or(&self.key))
    }
}

/// One analysed token of a word.
struct Tok {
    key: String,
    /// For words typed in plain ASCII (see `Word::ascii`): `ascii_key(key)`.
    ascii_key: Option<String>,
    word: usize,
    /// The only token of its word (the word was not split), so exact entries may match it.
    whole: bool,
}

/// One match of a pattern: inclusive word span and the number of tokens it covers.
#[derive(Clone, Copy, Debug)]
struct Match {
    lang: usize,
    pattern: usize,
    start: usize,
    end: usize,
    tokens: usize,
    /// A plain negation confirms it (lack and missing entries: "ingen venner").
    confirmed: bool,
}

impl Match {
    fn contains(&self, other: &Match) -> bool {
        self.start <= other.start
            && other.end <= self.end
            && (self.end - self.start > other.end - other.start || self.tokens > other.tokens)
    }
}

/// A folded key as someone without æ/ø on their keyboard types it: "ae" → "a", "oe" → "o", so that "gald"
/// finds "gæld" (folded "gaeld") and "born" finds "børn". Used only for words typed in plain ASCII: applied to
/// every word it would merge e.g. "fået" (folded "faet") with "fat".
fn ascii_key(folded: &str) -> String {
    if folded.contains("ae") || folded.contains("oe") {
        folded.replace("ae", "a").replace("oe", "o")
    } else {
        folded.to_string()
    }
}

/// Lowercases and folds one word as typed (no stemming).
fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(DanishFold)
        .filter(AsciiFoldingFilter)
        .build()
}

/// `word` (lowercase) folded with `analyzer` (a `fold_analyzer`); plain ASCII needs only the Danish "aa" → "a".
fn fold(analyzer: &mut TextAnalyzer, word: &str) -> String {
    if word.is_ascii() {
        crate::analysis::danish_fold(word)
    } else {
        tokens(analyzer, word).concat()
    }
}

/// English contractions: the word before `'t` and its expansion.
fn expand_contraction(word: &str) -> Option<&'static str> {
    Some(match word {
        "don" => "do",
        "doesn" => "does",
        "didn" => "did",
        "isn" => "is",
        "aren" => "are",
        "wasn" => "was",
        "weren" => "were",
        "haven" => "have",
        "hasn" => "has",
        "hadn" => "had",
        "couldn" => "could",
        "wouldn" => "would",
        "shouldn" => "should",
        "mustn" => "must",
        "needn" => "need",
        "won" => "will",
        "can" => "can",
        "ain" => "is",
        _ => return None,
    })
}

/// Splits `text` into at most `limit` words (runs of letters and digits, like tantivy's `SimpleTokenizer`),
/// lowercased, with English contractions expanded: "don't" → "do" + "not", "cannot" → "can" + "not".
fn split_words(fold_analyzer: &mut TextAnalyzer, text: &str, limit: usize) -> Vec<Word> {
    let mut raw: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if raw.len() >= limit {
            break;
        }
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            raw.push((s, i));
        }
    }
    if let Some(s) = start
        && raw.len() < limit
    {
        raw.push((s, text.len()));
    }
    let plain = |start: usize, end: usize, norm: &str| Word::new(start, end, norm.into(), norm.into(), true);
    // Someone who writes æ, ø or å anywhere means the words without them as written.
    let has_danish_letters = text.contains(['æ', 'ø', 'å', 'Æ', 'Ø', 'Å']);
    let mut words: Vec<Word> = Vec::with_capacity(raw.len());
    for (start, end) in raw {
        let norm = text[start..end].to_lowercase();
        if norm == "t"
            && let Some(prev) = words.last_mut()
            && matches!(&text[prev.end..start], "'" | "’")
            && let Some(expanded) = expand_contraction(&prev.norm)
        {
            // "don't": the word before ends right at the apostrophe
            *prev = plain(prev.start, prev.end, expanded);
            words.push(plain(start, end, "not"));
            continue;
        }
        if norm == "cannot" {
            words.push(plain(start, end, "can"));
            words.push(plain(start, end, "not"));
            continue;
        }
        let key = fold(fold_analyzer, &norm);
        let ascii = !has_danish_letters && norm.is_ascii();
        words.push(Word::new(start, end, norm, key, ascii));
    }
    words
}

/// Dictionary for Danish compound splitting: each word (lowercased), its stem and its "s"/"e" joint forms,
/// like the search index's (`analysis.rs`).
fn compound_dictionary<'a>(words: impl Iterator<Item = &'a str>) -> Result<SplitCompoundWords> {
    let mut stemmer_only = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::Danish))
        .build();
    let mut dict: BTreeSet<String> = BTreeSet::new();
    for word in words {
        let word = word.trim().to_lowercase();
        if word.chars().count() < 3 || !word.chars().all(char::is_alphanumeric) {
            continue;
        }
        let mut forms = vec![word.clone()];
        forms.extend(tokens(&mut stemmer_only, &word));
        for form in forms {
            if form.chars().count() < 3 {
                continue;
            }
            if !form.ends_with('s') {
                dict.insert(format!("{form}s"));
            }
            if !form.ends_with('e') {
                dict.insert(format!("{form}e"));
            }
            dict.insert(form);
        }
    }
    Ok(SplitCompoundWords::from_dictionary(dict.iter())?)
}

fn invalid(message: String) -> Error {
    Error::InvalidDocument(format!("need lexicon: {message}"))
}

impl NeedDetector {
    /// Builds the detector from the lexicon JSON (`seed-data/need-lexicon.json`). Errors name the bad entry.
    pub fn from_json(json: &str) -> Result<Self> {
        let file: LexiconFile = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        Self::new(file)
    }

    fn new(file: LexiconFile) -> Result<Self> {
        // Danish compounds split into the lexicon's single words and the extra compound parts.
        let single_words = file
            .needs
            .iter()
            .flat_map(|n| {
                [&n.triggers, &n.lack, &n.missing, &n.context]
                    .into_iter()
                    .chain(n.sub_terms.iter().flat_map(|s| [&s.triggers, &s.lack, &s.missing]))
            })
            .flat_map(|p| p.da.iter())
            .filter(|e| !e.trim().contains(char::is_whitespace) && !e.trim().ends_with('='))
            .chain(file.compound_parts.da.iter())
            .map(String::as_str);
        let mut chains = [
            Chain::new(Lang::Da, Some(compound_dictionary(single_words)?)),
            Chain::new(Lang::En, None),
        ];
        let mut fold = fold_analyzer();

        // Negations and the like are matched on words as typed (folded, not stemmed), in either language.
        let mut word_phrases = |lists: &[&[String]]| -> WordPhrases {
            WordPhrases::new(lists.iter().flat_map(|list| list.iter()).map(|p| {
                split_words(&mut fold, p, MAX_WORDS)
                    .into_iter()
                    .map(|w| w.key)
                    .collect()
            }))
        };
        let negations = word_phrases(&file.negations.both());
        let strong_negations = word_phrases(&file.strong_negations.both());
        let pseudo_negations = word_phrases(&file.pseudo_negations.both());
        let post_negations = word_phrases(&file.post_negations.both()).words();
        let clause_breaks = word_phrases(&file.clause_breaks.both()).words();
        let list_words = word_phrases(&file.list_words.both()).words();
        let lack_words = word_phrases(&file.lack_words.both());
        let hints = [
            word_phrases(&[&file.language_hints.da]).words(),
            word_phrases(&[&file.language_hints.en]).words(),
        ];

        let mut needs: Vec<NeedInfo> = Vec::new();
        let mut patterns: [PatternSet; 2] = Default::default();
        let mut seen_codes = HashSet::new();
        let mut repeated = Vec::new();
        for entry in &file.needs {
            let code = entry.code.trim();
            if code.is_empty() || code.contains('/') || !seen_codes.insert(code.to_string()) {
                return Err(invalid(format!("need code `{code}` is empty, a sub-term or repeated")));
            }
            let need = needs.len();
            let mut subs = Vec::new();
            let mut lists: Vec<(&PerLang, Option<usize>, Kind)> = vec![
                (&entry.triggers, None, Kind::Trigger),
                (&entry.lack, None, Kind::Lack),
                (&entry.missing, None, Kind::Missing),
                (&entry.context, None, Kind::Context),
            ];
            for sub in &entry.sub_terms {
                let sub_code = sub.code.trim();
                if !sub_code.starts_with(&format!("{code}/")) || !seen_codes.insert(sub_code.to_string()) {
                    return Err(invalid(format!(
                        "sub-term `{sub_code}` does not belong to `{code}` or is repeated"
                    )));
                }
                lists.push((&sub.triggers, Some(subs.len()), Kind::Trigger));
                lists.push((&sub.lack, Some(subs.len()), Kind::Lack));
                lists.push((&sub.missing, Some(subs.len()), Kind::Missing));
                subs.push(sub_code.to_string());
            }
            // An entry that repeats another of the same need (after analysis) is a mistake in the file.
            let mut entries: [HashMap<(bool, Vec<String>), &str>; 2] = Default::default();
            for (list, sub, kind) in lists {
                for lang in [Lang::Da, Lang::En] {
                    for text in list.get(lang) {
                        let pattern = Self::pattern(&mut chains[lang.index()], &mut fold, text, need, sub, kind)?;
                        if let Some(first) =
                            entries[lang.index()].insert((pattern.exact, pattern.keys.clone()), text.as_str())
                        {
                            repeated.push(format!("`{text}` repeats `{first}` under `{code}` ({lang:?})"));
                        }
                        patterns[lang.index()].add(pattern);
                    }
                }
            }
            needs.push(NeedInfo {
                code: code.to_string(),
                subs,
            });
        }
        if !repeated.is_empty() {
            return Err(invalid(format!("keep one of each: {}", repeated.join("; "))));
        }
        Ok(NeedDetector {
            needs,
            patterns,
            chains,
            fold,
            negations,
            strong_negations,
            post_negations,
            pseudo_negations,
            clause_breaks,
            list_words,
            lack_words,
            hints,
        })
    }

    fn pattern(
        chain: &mut Chain,
        fold: &mut TextAnalyzer,
        text: &str,
        need: usize,
        sub: Option<usize>,
        kind: Kind,
    ) -> Result<Pattern> {
        let trimmed = text.trim();
        let (body, exact) = match trimmed.strip_suffix('=') {
            Some(body) => (body, true),
            None => (trimmed, false),
        };
        let words = split_words(fold, body, MAX_WORDS);
        let keys: Vec<String> = if exact {
            words.iter().map(|w| w.key.clone()).collect()
        } else {
            chain.analyse(&words).into_iter().map(|t| t.key).collect()
        };
        if keys.is_empty() || keys.iter().any(String::is_empty) {
            return Err(invalid(format!("entry `{text}` has no words")));
        }
        let weight = match kind {
            Kind::Context => CONTEXT_WEIGHT,
            _ => (WORD_WEIGHT + PHRASE_BONUS * words.len().saturating_sub(1) as f32).min(MAX_WEIGHT),
        };
        Ok(Pattern {
            ascii_keys: keys.iter().map(|k| ascii_key(k)).collect(),
            keys,
            exact,
            words: words.len(),
            need,
            sub,
            kind,
            weight,
        })
    }

    /// Top-level need codes of the lexicon, in its order.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.needs.iter().map(|n| n.code.as_str())
    }

    /// Sub-term codes of the lexicon, in its order.
    pub fn sub_codes(&self) -> impl Iterator<Item = &str> {
        self.needs.iter().flat_map(|n| n.subs.iter().map(String::as_str))
    }

    /// Number of entries (words and phrases) naming `code` (triggers and lack, its sub-terms' included; not
    /// context words) in `lang`.
    pub fn entry_count(&self, code: &str, lang: Lang) -> usize {
        let Some(need) = self.needs.iter().position(|n| n.code == code) else {
            return 0;
        };
        self.patterns[lang.index()]
            .patterns
            .iter()
            .filter(|p| p.need == need && p.kind != Kind::Context)
            .count()
    }

    /// The needs `text` points to, surest first. `language` says which lexicon to use; without it the text's
    /// small words decide ("jeg", "og" → Danish; "my", "the" → English), and a text without enough of them (a few
    /// words, "gæld", "lonely") is read with both.
    pub fn detect(&self, text: &str, language: Option<Lang>) -> Vec<DetectedNeed> {
        let words = split_words(&mut self.fold.clone(), text, MAX_WORDS);
        if words.is_empty() {
            return Vec::new();
        }
        let mut matches = Vec::new();
        match language.or_else(|| self.guess_language(&words)) {
            Some(lang) => self.find(lang, &words, &mut matches),
            None => {
                self.find(Lang::Da, &words, &mut matches);
                self.find(Lang::En, &words, &mut matches);
            }
        }
        if matches.is_empty() {
            return Vec::new();
        }
        // A longer match hides the shorter ones inside it.
        let kept: Vec<Match> = matches
            .iter()
            .filter(|m| !matches.iter().any(|o| o.contains(m)))
            .copied()
            .collect();
        let verdicts = self.negated(text, &words, &kept);
        let kept: Vec<Match> = kept
            .into_iter()
            .zip(verdicts)
            .filter_map(|(m, verdict)| match verdict {
                Verdict::Stands => Some(m),
                Verdict::Confirmed => Some(Match { confirmed: true, ..m }),
                Verdict::Cancelled => None,
            })
            .collect();
        self.score(text, &words, &kept)
    }

    fn guess_language(&self, words: &[Word]) -> Option<Lang> {
        let votes = |lang: Lang| {
            words
                .iter()
                .filter(|w| self.hints[lang.index()].contains(&w.key))
                .count()
        };
        let (da, en) = (votes(Lang::Da), votes(Lang::En));
        if da >= en + LANGUAGE_MARGIN {
            Some(Lang::Da)
        } else if en >= da + LANGUAGE_MARGIN {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Every occurrence of a pattern of `lang` in the text.
    fn find(&self, lang: Lang, words: &[Word], out: &mut Vec<Match>) {
        let set = &self.patterns[lang.index()];
        let toks = self.chains[lang.index()].clone().analyse(words);
        let token_matches = |t: &Tok, pattern: &Pattern, i: usize| {
            if pattern.exact {
                let word = &words[t.word];
                t.whole && (word.key == pattern.keys[i] || word.ascii_key() == Some(pattern.ascii_keys[i].as_str()))
            } else {
                t.key == pattern.keys[i] || t.ascii_key.as_ref() == Some(&pattern.ascii_keys[i])
            }
        };
        let mut candidates: Vec<usize> = Vec::new();
        for (i, tok) in toks.iter().enumerate() {
            candidates.clear();
            candidates.extend(lookup(&set.by_first, &tok.key));
            if let Some(ascii) = &tok.ascii_key {
                candidates.extend(lookup(&set.by_first_ascii, ascii));
            }
            if tok.whole {
                let word = &words[tok.word];
                candidates.extend(lookup(&set.by_first_exact, &word.key));
                if let Some(ascii) = word.ascii_key() {
                    candidates.extend(lookup(&set.by_first_exact_ascii, ascii));
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
            for &id in &candidates {
                let pattern = &set.patterns[id];
                let end = i + pattern.keys.len();
                if end <= toks.len() && (0..pattern.keys.len()).all(|k| token_matches(&toks[i + k], pattern, k)) {
                    out.push(Match {
                        lang: lang.index(),
                        pattern: id,
                        start: tok.word,
                        end: toks[end - 1].word,
                        tokens: pattern.keys.len(),
                        confirmed: false,
                    });
                }
            }
        }
    }

    /// A clause ends between words `a` < `b`: punctuation, or a clause-break word ("men", "but") strictly between.
    fn clause_break(&self, text: &str, words: &[Word], a: usize, b: usize) -> bool {
        // (the two words of "cannot" share their offsets: nothing between them)
        let between = text.get(words[a].end..words[b].start).unwrap_or_default();
        if between.contains(['.', ',', ';', ':', '!', '?', '\n', '(', ')']) {
            return true;
        }
        words[a + 1..b].iter().any(|w| self.clause_breaks.contains(&w.key))
    }

    /// For each match: does a negation cancel it, or confirm it (lack and missing entries)?
    ///
    /// A negation's object is the first trigger after it (within [`NEGATION_WINDOW`] words, same clause), with
    /// the context words before it, and the next items of a list joined by list words ("ingen gæld eller
    /// regninger"); not what follows ("ingen penge til huslejen" still names the rent).
    fn negated(&self, text: &str, words: &[Word], matches: &[Match]) -> Vec<Verdict> {
        let kind = |m: &Match| self.patterns[m.lang].patterns[m.pattern].kind;
        // A negation inside a matched phrase ("kan ikke betale", "ingen venner") is part of it.
        let inside_match = |start: usize, end: usize| {
            matches
                .iter()
                .any(|m| m.start <= start && end <= m.end && self.patterns[m.lang].patterns[m.pattern].words > 1)
        };
        let pseudo = self.pseudo_negations.find(words);
        let in_pseudo = |start: usize, end: usize| pseudo.iter().any(|&(s, e)| s <= end && start <= e);
        let negations: Vec<(usize, bool)> = self
            .strong_negations
            .find(words)
            .into_iter()
            .map(|(s, e)| (s, e, true))
            .chain(self.negations.find(words).into_iter().map(|(s, e)| (s, e, false)))
            .filter(|&(s, e, _)| !inside_match(s, e) && !in_pseudo(s, e))
            .map(|(_, e, strong)| (e, strong))
            .collect();
        let mut verdicts = vec![Verdict::Stands; matches.len()];
        let mut cancel = |i: usize, strong: bool| {
            // cancelled by one negation stays cancelled
            verdicts[i] = if strong || !kind(&matches[i]).lackable() || verdicts[i] == Verdict::Cancelled {
                Verdict::Cancelled
            } else {
                Verdict::Confirmed
            };
        };
        for &(negation_end, strong) in &negations {
            // Matches after the negation, by start.
            let mut after: Vec<usize> = (0..matches.len())
                .filter(|&i| matches[i].start > negation_end)
                .collect();
            after.sort_by_key(|&i| (matches[i].start, matches[i].end));
            // Until the object is found: within the window after the negation; then: list items after it.
            let mut object_end: Option<usize> = None;
            let mut k = 0;
            while k < after.len() {
                let start = matches[after[k]].start;
                let reaches = match object_end {
                    None => {
                        start - negation_end - 1 <= NEGATION_WINDOW
                            && !self.clause_break(text, words, negation_end, start)
                    }
                    Some(end) => {
                        let gap = &words[end + 1..start];
                        !gap.is_empty()
                            && gap.iter().all(|w| self.list_words.contains(&w.key))
                            && !self.clause_break(text, words, end, start)
                    }
                };
                if !reaches {
                    break;
                }
                // every match starting here (one word can name two needs)
                let group: Vec<usize> = after[k..]
                    .iter()
                    .copied()
                    .take_while(|&i| matches[i].start == start)
                    .collect();
                k += group.len();
                for &i in &group {
                    cancel(i, strong);
                }
                if group.iter().any(|&i| kind(&matches[i]) != Kind::Context) {
                    let end = group.iter().map(|&i| matches[i].end).max().unwrap_or(start);
                    object_end = Some(end);
                    // matches overlapping the object are part of it
                    while k < after.len() && matches[after[k]].start <= end {
                        k += 1;
                    }
                }
            }
        }
        // Lack words ("mangler", "har brug for", "need") confirm a lack or missing entry just after them.
        let lacking = self.lack_words.find(words);
        for (i, m) in matches.iter().enumerate() {
            let confirmed = kind(m).lackable()
                && lacking.iter().any(|&(s, e)| {
                    e < m.start
                        && m.start - e - 1 <= NEGATION_WINDOW
                        && !inside_match(s, e)
                        && !self.clause_break(text, words, e, m.start)
                });
            if confirmed && verdicts[i] == Verdict::Stands {
                verdicts[i] = Verdict::Confirmed;
            }
        }
        // Post-negations ("han slår ikke") cancel the match just before them.
        let post: Vec<usize> = (0..words.len())
            .filter(|&i| self.post_negations.contains(&words[i].key) && !inside_match(i, i) && !in_pseudo(i, i))
            .collect();
        for (i, m) in matches.iter().enumerate() {
            let after = post.iter().any(|&p| {
                p > m.end && p - m.end - 1 <= POST_NEGATION_WINDOW && !self.clause_break(text, words, m.end, p)
            });
            if after && !kind(m).lackable() {
                verdicts[i] = Verdict::Cancelled;
            }
        }
        verdicts
    }

    fn score(&self, text: &str, words: &[Word], matches: &[Match]) -> Vec<DetectedNeed> {
        struct Acc {
            first: usize,
            sum: f32,
            context: f32,
            triggered: bool,
            patterns: HashSet<(usize, usize)>,
            spans: HashSet<(usize, usize)>,
            spans_seen: Vec<(usize, usize)>,
            subs: Vec<f32>,
        }
        let mut per_need: HashMap<usize, Acc> = HashMap::new();
        let mut ordered: Vec<&Match> = matches.iter().collect();
        ordered.sort_by_key(|m| (m.start, m.end, m.lang));
        for m in ordered {
            let pattern = &self.patterns[m.lang].patterns[m.pattern];
            let acc = per_need.entry(pattern.need).or_insert_with(|| Acc {
                first: m.start,
                sum: 0.0,
                context: 0.0,
                triggered: false,
                patterns: HashSet::new(),
                spans: HashSet::new(),
                spans_seen: Vec::new(),
                subs: vec![0.0; self.needs[pattern.need].subs.len()],
            });
            acc.spans_seen.push((m.start, m.end));
            if let Some(sub) = pattern.sub {
                acc.subs[sub] += pattern.weight;
            }
            // The same entry twice, or the same words matched in both languages, count once.
            if !acc.patterns.insert((m.lang, m.pattern)) || !acc.spans.insert((m.start, m.end)) {
                continue;
            }
            match pattern.kind {
                Kind::Context => acc.context += pattern.weight,
                Kind::Missing if !m.confirmed => acc.context += CONTEXT_WEIGHT,
                Kind::Trigger | Kind::Lack | Kind::Missing => {
                    acc.triggered = true;
                    acc.sum += pattern.weight;
                }
            }
        }
        let mut out: Vec<(usize, usize, DetectedNeed)> = per_need
            .into_iter()
            .filter(|(_, acc)| acc.triggered)
            .map(|(need, acc)| {
                let raw = acc.sum + acc.context;
                let score = ((1.0 - (-f64::from(raw)).exp()) * 1000.0).round() / 1000.0;
                let info = &self.needs[need];
                let mut subs: Vec<(usize, f32)> =
                    acc.subs.iter().copied().enumerate().filter(|(_, w)| *w > 0.0).collect();
                subs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                // Overlapping matches read as one stretch of the text ("kan ikke betale" + "betale regningerne").
                let mut spans = acc.spans_seen;
                spans.sort_unstable();
                let mut merged: Vec<(usize, usize)> = Vec::new();
                for (start, end) in spans {
                    match merged.last_mut() {
                        Some(last) if start <= last.1 => last.1 = last.1.max(end),
                        _ => merged.push((start, end)),
                    }
                }
                let mut matched: Vec<String> = Vec::new();
                for (start, end) in merged {
                    let stretch = &text[words[start].start..words[end].end];
                    if !matched.iter().any(|m| m.to_lowercase() == stretch.to_lowercase()) {
                        matched.push(stretch.to_string());
                    }
                }
                (
                    acc.first,
                    need,
                    DetectedNeed {
                        code: info.code.clone(),
                        score,
                        matched,
                        sub_codes: subs.into_iter().map(|(i, _)| info.subs[i].clone()).collect(),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| b.2.score.total_cmp(&a.2.score).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        out.into_iter().map(|(_, _, d)| d).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEXICON: &str = r#"{
      "about": ["A small lexicon for the rules; the real one is seed-data/need-lexicon.json."],
      "negations": {"da": ["ikke", "ingen", "aldrig", "uden"], "en": ["not", "no", "never"]},
      "strong_negations": {"da": ["ikke brug for", "ikke problemer med"], "en": ["not need"]},
      "post_negations": {"da": ["ikke"]},
      "pseudo_negations": {"da": ["ikke kun"], "en": ["not only"]},
      "clause_breaks": {"da": ["men", "og"], "en": ["but", "and"]},
      "list_words": {"da": ["eller"], "en": ["or"]},
      "lack_words": {"da": ["mangler", "brug for"], "en": ["need", "needs"]},
      "language_hints": {"da": ["jeg", "har", "og", "min", "mig", "han", "vi", "er", "ikke"],
                         "en": ["i", "my", "the", "and", "have", "not", "he", "am", "so"]},
      "compound_parts": {"da": ["problemer"]},
      "needs": [
        {"code": "debt-economy",
         "triggers": {"da": ["gæld", "regninger", "kan ikke betale"], "en": ["debt", "bills"]},
         "lack": {"da": ["penge"], "en": ["money"]},
         "context": {"da": ["banken"], "en": ["bank"]},
         "sub_terms": [{"code": "debt-economy/debt-counselling", "triggers": {"da": ["inkasso"], "en": ["debt collector"]}}]},
        {"code": "domestic-violence",
         "triggers": {"da": ["slår", "min mand slår mig", "banker=", "social kontrol"], "en": ["hits me", "domestic violence"]}},
        {"code": "loneliness-network",
         "triggers": {"da": ["ensom", "social", "ingen venner"], "en": ["lonely"]},
         "missing": {"da": ["venner"], "en": ["friends"]}},
        {"code": "food-clothing", "triggers": {"da": ["mad"], "en": ["food"]}},
        {"code": "housing", "triggers": {"da": ["husleje"], "en": ["rent"]}}
      ]
    }"#;

    fn detector() -> NeedDetector {
        NeedDetector::from_json(LEXICON).unwrap()
    }

    fn codes(found: &[DetectedNeed]) -> Vec<&str> {
        found.iter().map(|n| n.code.as_str()).collect()
    }

    fn detect<'a>(d: &NeedDetector, text: &str, found: &'a mut Vec<DetectedNeed>) -> Vec<&'a str> {
        *found = d.detect(text, None);
        codes(found)
    }

    #[test]
    fn words_match_in_any_form_and_inside_compounds() {
        let d = detector();
        let found = d.detect("Regningerne hober sig op", None);
        assert_eq!(codes(&found), ["debt-economy"]);
        assert_eq!(found[0].matched, ["Regningerne"]);
        let found = d.detect("store gældsproblemer", None);
        assert_eq!(codes(&found), ["debt-economy"]);
        assert_eq!(found[0].matched, ["gældsproblemer"]);
        assert!(d.detect("hun går i skole", None).is_empty());
    }

    #[test]
    fn diacritics_are_optional_unless_the_writer_uses_them() {
        let d = detector();
        let mut found = Vec::new();
        for text in ["GÆLD", "gaeld", "gald"] {
            assert_eq!(detect(&d, text, &mut found), ["debt-economy"], "{text}");
        }
        // Someone who types æ/ø/å means "gald" as written.
        assert!(d.detect("gald og æbler", None).is_empty());
    }

    #[test]
    fn a_phrase_counts_more_and_hides_the_words_inside_it() {
        let d = detector();
        let phrase = d.detect("Min mand SLÅR mig", None);
        assert_eq!(codes(&phrase), ["domestic-violence"]);
        assert_eq!(phrase[0].matched, ["Min mand SLÅR mig"]);
        let word = d.detect("han slår", None);
        assert_eq!(codes(&word), ["domestic-violence"]);
        assert!(phrase[0].score > word[0].score, "{phrase:?} {word:?}");
        // "social kontrol" is violence, not the loneliness word "social" inside it
        assert_eq!(codes(&d.detect("social kontrol", None)), ["domestic-violence"]);
        assert_eq!(codes(&d.detect("social", None)), ["loneliness-network"]);
    }

    #[test]
    fn more_evidence_scores_higher_and_ranks_first() {
        let d = detector();
        let one = d.detect("gæld", None);
        let two = d.detect("gæld og regninger", None);
        assert!(0.0 < one[0].score && one[0].score < two[0].score && two[0].score < 1.0);
        let found = d.detect("jeg er ensom og min mand slår mig", None);
        assert_eq!(codes(&found), ["domestic-violence", "loneliness-network"]);
        // a repeated word is one piece of evidence
        assert_eq!(d.detect("gæld gæld gæld", None)[0].score, one[0].score);
    }

    #[test]
    fn context_words_only_strengthen() {
        let d = detector();
        assert!(d.detect("banken", None).is_empty());
        let plain = d.detect("gæld", None);
        let with_context = d.detect("gæld i banken", None);
        assert!(with_context[0].score > plain[0].score);
        assert_eq!(with_context[0].matched, ["gæld", "banken"]);
    }

    #[test]
    fn exact_entries_match_only_their_form() {
        let d = detector();
        assert_eq!(codes(&d.detect("han banker mig", None)), ["domestic-violence"]);
        assert!(d.detect("banker", Some(Lang::Da)).len() == 1);
        // "banken" stems like "banker" but is not it
        assert!(codes(&d.detect("jeg ringer til banken", None)).is_empty());
    }

    #[test]
    fn negation_before_a_word_cancels_it() {
        let d = detector();
        let mut found = Vec::new();
        for text in [
            "han har ikke problemer med gæld",
            "han har ikke gæld",
            "hun er aldrig ensom",
            "he does not have any debt",
            "we never had bills",
            "han slår ikke",
        ] {
            assert_eq!(detect(&d, text, &mut found), Vec::<&str>::new(), "{text}");
        }
        // ... within a few words and the same clause only
        assert_eq!(
            detect(&d, "han har ikke tid til at se på regningerne", &mut found),
            ["debt-economy"]
        );
        assert_eq!(
            detect(&d, "jeg har ikke gæld, men jeg er ensom", &mut found),
            ["loneliness-network"]
        );
        assert_eq!(
            detect(&d, "han har ikke gæld men han slår", &mut found),
            ["domestic-violence"]
        );
        // a negation's object is the first word it reaches, and the rest of a list with "eller"
        assert_eq!(detect(&d, "han har ikke gæld til husleje", &mut found), ["housing"]);
        assert_eq!(
            detect(&d, "vi har ingen penge til huslejen", &mut found),
            ["debt-economy", "housing"]
        );
        assert_eq!(
            detect(&d, "han har ikke gæld eller regninger", &mut found),
            Vec::<&str>::new()
        );
        assert_eq!(detect(&d, "we have no debt or bills", &mut found), Vec::<&str>::new());
        assert_eq!(
            detect(&d, "ingen regninger eller husleje", &mut found),
            Vec::<&str>::new()
        );
        // context words before the object do not end its reach
        assert_eq!(detect(&d, "ikke banken gæld", &mut found), Vec::<&str>::new());
        // pseudo-negations are none
        assert_eq!(detect(&d, "ikke kun gæld", &mut found), ["debt-economy"]);
        assert_eq!(detect(&d, "not only debt", &mut found), ["debt-economy"]);
    }

    #[test]
    fn lacking_something_names_the_need() {
        let d = detector();
        let mut found = Vec::new();
        assert_eq!(detect(&d, "vi har ingen penge", &mut found), ["debt-economy"]);
        assert_eq!(found[0].matched, ["penge"]);
        assert_eq!(detect(&d, "I have no friends", &mut found), ["loneliness-network"]);
        assert_eq!(detect(&d, "jeg har ingen venner", &mut found), ["loneliness-network"]);
        assert_eq!(found[0].matched, ["ingen venner"]);
        // missing entries name the need only when missing
        assert_eq!(
            detect(&d, "jeg har ikke nogen venner", &mut found),
            ["loneliness-network"]
        );
        assert_eq!(found[0].matched, ["venner"]);
        assert_eq!(detect(&d, "han leger med sine venner", &mut found), Vec::<&str>::new());
        assert_eq!(detect(&d, "I have friends", &mut found), Vec::<&str>::new());
        assert_eq!(
            detect(&d, "hun mangler nogle venner", &mut found),
            ["loneliness-network"]
        );
        assert_eq!(detect(&d, "she needs friends", &mut found), ["loneliness-network"]);
        // (not across a clause)
        assert_eq!(
            detect(&d, "she needs help, friends say", &mut found),
            Vec::<&str>::new()
        );
        // ... and add weight like context otherwise
        let lonely = d.detect("ensom", None)[0].score;
        assert!(d.detect("ensom, savner venner", None)[0].score > lonely);
        // a strong negation cancels lack words too
        assert_eq!(detect(&d, "vi har ikke brug for penge", &mut found), Vec::<&str>::new());
        assert_eq!(detect(&d, "I don't need money", &mut found), Vec::<&str>::new());
        assert_eq!(detect(&d, "I don’t need money", &mut found), Vec::<&str>::new());
    }

    #[test]
    fn a_negation_inside_a_phrase_negates_nothing_else() {
        let d = detector();
        let found = d.detect("vi kan ikke betale regningerne", None);
        assert_eq!(codes(&found), ["debt-economy"]);
        assert_eq!(found[0].matched, ["kan ikke betale", "regningerne"]);
        // while the same "ikke" alone would cancel "regningerne"
        assert!(d.detect("vi har ikke regningerne", None).is_empty());
    }

    #[test]
    fn language_chooses_the_lexicon() {
        let d = detector();
        assert_eq!(codes(&d.detect("bills", None)), ["debt-economy"]);
        assert!(d.detect("bills", Some(Lang::Da)).is_empty());
        assert_eq!(codes(&d.detect("mad", Some(Lang::Da))), ["food-clothing"]);
        assert!(d.detect("mad", Some(Lang::En)).is_empty());
        // the small words of a sentence tell its language: English "mad" is not food
        assert!(d.detect("I am so mad at my landlord", None).is_empty());
        assert_eq!(codes(&d.detect("vi har brug for mad", None)), ["food-clothing"]);
        assert_eq!(Lang::from_code("EN"), Some(Lang::En));
        assert_eq!(Lang::from_code("ar"), None);
    }

    #[test]
    fn sub_terms_are_named_and_count_for_their_need() {
        let d = detector();
        let found = d.detect("brev fra inkasso", None);
        assert_eq!(codes(&found), ["debt-economy"]);
        assert_eq!(found[0].sub_codes, ["debt-economy/debt-counselling"]);
        assert!(d.detect("gæld", None)[0].sub_codes.is_empty());
        assert_eq!(d.sub_codes().collect::<Vec<_>>(), ["debt-economy/debt-counselling"]);
        assert_eq!(d.entry_count("debt-economy", Lang::Da), 5);
        assert_eq!(d.entry_count("loneliness-network", Lang::En), 2);
        assert_eq!(d.entry_count("debt-economy", Lang::En), 4);
    }

    #[test]
    fn contractions_and_odd_characters_are_words_like_others() {
        let d = detector();
        for text in [
            "I cannot pay the bills",
            "bills, I cannot",
            "cannot",
            "'t bills",
            "don't",
            "’t",
            "gæld 😢 gæld",
            "e\u{301}gæld",
            "ديون gæld",
            "123 gæld 456",
            "I can't. Debt",
        ] {
            let found = d.detect(text, None);
            assert!(found.len() <= 1, "{text}: {found:?}");
            for need in &found {
                assert!(
                    need.matched.iter().all(|m| text.contains(m.as_str())),
                    "{text}: {found:?}"
                );
            }
        }
        assert!(d.detect("I cannot say I have debt", None).is_empty());
        assert_eq!(codes(&d.detect("I can't. Debt", None)), ["debt-economy"]);
    }

    #[test]
    fn empty_and_odd_texts_name_nothing() {
        let d = detector();
        for text in ["", "   ", "!!!", "((:", "ikke", "not"] {
            assert!(d.detect(text, None).is_empty(), "{text}");
        }
        let long = "gæld ".repeat(1000);
        assert_eq!(codes(&d.detect(&long, None)), ["debt-economy"]);
    }

    #[test]
    fn mistakes_in_the_lexicon_are_named() {
        let broken = |from: &str, to: &str| {
            assert!(LEXICON.contains(from), "{from}");
            match NeedDetector::from_json(&LEXICON.replacen(from, to, 1)) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{to} should be refused"),
            }
        };
        let message = broken(r#""gæld", "regninger""#, r#""gæld", "gælden""#);
        assert!(
            message.contains("`gælden` repeats `gæld` under `debt-economy`"),
            "{message}"
        );
        assert!(broken(r#""triggers": {"da": ["mad"]"#, r#""trigers": {"da": ["mad"]"#).contains("trigers"));
        assert!(broken("debt-economy/debt-counselling", "housing/debt-counselling").contains("does not belong"));
        assert!(broken(r#""code": "food-clothing""#, r#""code": "debt-economy""#).contains("repeated"));
        assert!(broken(r#"["mad"]"#, r#"["mad", "--"]"#).contains("`--` has no words"));
    }
}

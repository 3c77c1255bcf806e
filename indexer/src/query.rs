//! Builds tantivy queries from a [`SearchQuery`] — from tokens, never via the query parser.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::{Language, LowerCaser, SimpleTokenizer, StopWordFilter, TextAnalyzer};
use tantivy::{DocId, SegmentReader, Term};

use crate::analysis::{Analyzers, tokens};
use crate::geo_util::bounding_box;
use crate::opening::OpenDate;
use crate::saturate::SaturatedQuery;
use crate::schema::{Fields, MINUTES_PER_DAY};
use crate::spelling;
use crate::{AgeGroup, Error, Gender, NeedDetector, NeedTerms, Result, SearchQuery, Vocabulary};

/// Weight of a query word that is not among the words the need detector read a need from, when it read one:
/// in "vi kan ikke betale regningerne og der kommer rykkere", "kommer" says little.
pub const OTHER_WORD_BOOST: f32 = 0.4;
/// Constant score of a one-typo match (per field); exact matches of the same word also get it,
/// so a typo-only match never outranks an exact match of the same word.
pub const FUZZY_SCORE: f32 = 0.25;
/// Words shorter than this (in chars) get no typo tolerance.
pub const FUZZY_MIN_CHARS: usize = 5;
/// At most this many query words are used.
const MAX_WORDS: usize = 32;

/// A field and its boost.
type FieldBoost = (Field, f32);

struct NeedEntry {
    code: String,
    da: Vec<BTreeSet<String>>,
    en: Vec<BTreeSet<String>>,
}

/// Matches query tokens against the needs' labels and synonyms (Danish and English).
pub struct NeedMatcher {
    entries: Vec<NeedEntry>,
}

impl NeedMatcher {
    pub fn new(needs: &[NeedTerms], analyzers: &Analyzers) -> Self {
        let mut da = analyzers.da.clone();
        let mut en = analyzers.en.clone();
        let mut entries = Vec::new();
        for need in needs {
            let mut entry = NeedEntry {
                code: need.code.trim().to_string(),
                da: Vec::new(),
                en: Vec::new(),
            };
            if entry.code.is_empty() {
                continue;
            }
            for text in need.labels.iter().chain(&need.synonyms_da) {
                let set: BTreeSet<String> = tokens(&mut da, text).into_iter().collect();
                if !set.is_empty() {
                    entry.da.push(set);
                }
            }
            for text in need.labels.iter().chain(&need.synonyms_en) {
                let set: BTreeSet<String> = tokens(&mut en, text).into_iter().collect();
                if !set.is_empty() {
                    entry.en.push(set);
                }
            }
            entries.push(entry);
        }
        NeedMatcher { entries }
    }

    /// Need codes one of whose labels/synonyms has all its tokens in the query.
    fn matches(&self, da: &HashSet<String>, en: &HashSet<String>) -> Vec<String> {
        let mut out: Vec<String> = self
            .entries
            .iter()
            .filter(|e| {
                e.da.iter().any(|p| p.iter().all(|t| da.contains(t)))
                    || e.en.iter().any(|p| p.iter().all(|t| en.contains(t)))
            })
            .map(|e| e.code.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The queries of one search.
pub struct Built {
    /// Text (scored) + filters (score 0).
    pub query: Box<dyn Query>,
    /// The scored text part alone, for snippets.
    pub text_query: Option<Box<dyn Query>>,
    /// Each query word with the query deciding whether a document matched it.
    pub words: Vec<(String, Box<dyn Query>)>,
    /// Need codes the text names (labels, synonyms, detected in the family's words).
    pub query_needs: Vec<String>,
    /// The group of people the text names ("kvinder", "min mand"): their offers rank higher, other groups' lower.
    pub audience: Option<Gender>,
    /// The age group the text names ("min datter", "ældre"): offers for those ages rank higher.
    pub age_group: Option<AgeGroup>,
    /// Need codes of the need filter.
    pub filter_needs: Vec<String>,
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

fn u64_range(field: Field, lower: Bound<u64>, upper: Bound<u64>) -> Box<dyn Query> {
    let map = |b: Bound<u64>| match b {
        Bound::Included(v) => Bound::Included(Term::from_field_u64(field, v)),
        Bound::Excluded(v) => Bound::Excluded(Term::from_field_u64(field, v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Box::new(RangeQuery::new(map(lower), map(upper)))
}

fn f64_range(field: Field, lower: f64, upper: f64) -> Box<dyn Query> {
    Box::new(RangeQuery::new(
        Bound::Included(Term::from_field_f64(field, lower)),
        Bound::Included(Term::from_field_f64(field, upper)),
    ))
}

fn must_all(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        clauses.into_iter().map(|q| (Occur::Must, q)).collect(),
    ))
}

/// Validates the request; errors are caller mistakes.
pub fn validate(q: &SearchQuery) -> Result<()> {
    if let Some((lat, lon)) = q.point
        && (!lat.is_finite() || !lon.is_finite() || lat.abs() > 90.0 || lon.abs() > 180.0)
    {
        return Err(Error::InvalidQuery(format!("invalid point ({lat}, {lon})")));
    }
    if let Some(r) = q.radius_km
        && (!r.is_finite() || r < 0.0)
    {
        return Err(Error::InvalidQuery(format!("invalid radius {r}")));
    }
    if let Some(d) = q.open_on
        && d > 6
    {
        return Err(Error::InvalidQuery(format!("weekday {d} out of range 0..=6")));
    }
    if let Some(m) = q.open_at
        && u64::from(m) >= MINUTES_PER_DAY
    {
        return Err(Error::InvalidQuery(format!("minute {m} out of range 0..1440")));
    }
    Ok(())
}

/// A query word's score (BM25 over the fields, boosted) `s` counts `s / (s + WORD_SATURATION)`: each word adds
/// at most 1, so matching more of the words counts more than matching one word in many fields.
pub const WORD_SATURATION: f32 = 10.0;
/// Boost of a translation (bridge) or another form of a word, relative to the word as typed.
pub const BRIDGE_BOOST: f32 = 0.8;
/// Boost of two adjacent query words written together ("sprog cafe" → "sprogcafe").
pub const JOINED_BOOST: f32 = 1.0;

/// Query-time expansions prepared from a [`Vocabulary`] with the index's analysers.
pub struct Expansions {
    /// Lowercasing + Danish, English and the vocabulary's stop words: a word it drops never counts as a match.
    stop: TextAnalyzer,
    /// One-word Danish side (its da tokens) → English words; one-word English side (en tokens) → Danish words.
    da_word: HashMap<String, Vec<String>>,
    en_word: HashMap<String, Vec<String>>,
    /// Phrases: (the side's tokens, the other side's text).
    da_phrases: Vec<(BTreeSet<String>, String)>,
    en_phrases: Vec<(BTreeSet<String>, String)>,
    /// Folded form → the group's other forms.
    forms: HashMap<String, Vec<String>>,
    /// Folded words of a phrase naming a group of people, or an age group.
    audience: Vec<(Gender, Vec<String>)>,
    ages: Vec<(AgeGroup, Vec<String>)>,
    detector: Option<Arc<NeedDetector>>,
}

fn fold_word(fold: &mut TextAnalyzer, text: &str) -> Vec<String> {
    tokens(fold, text)
}

impl Expansions {
    pub fn new(vocabulary: &Vocabulary, analyzers: &Analyzers) -> Self {
        let mut stop_builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Language::Danish).expect("danish stop words"))
            .filter(StopWordFilter::new(Language::English).expect("english stop words"))
            .dynamic();
        if !vocabulary.stop_words.is_empty() {
            stop_builder = stop_builder.filter_dynamic(StopWordFilter::remove(vocabulary.stop_words.clone()));
        }
        let stop = stop_builder.build();
        let mut an = analyzers.clone();
        let mut exp = Expansions {
            stop,
            da_word: HashMap::new(),
            en_word: HashMap::new(),
            da_phrases: Vec::new(),
            en_phrases: Vec::new(),
            forms: HashMap::new(),
            audience: Vec::new(),
            ages: Vec::new(),
            detector: vocabulary.detector.clone(),
        };
        let key_tokens = |tokens: Vec<String>| -> BTreeSet<String> {
            tokens.into_iter().filter(|t| t.chars().count() > 1).collect()
        };
        for (da, en) in &vocabulary.pairs {
            let da_words = tokens(&mut an.words, da);
            let en_words = tokens(&mut an.words, en);
            let da_keys = key_tokens(tokens(&mut an.da, da));
            let en_keys = key_tokens(tokens(&mut an.en, en));
            if da_words.len() == 1 && da_keys.len() == 1 {
                exp.da_word
                    .entry(da_keys.into_iter().next().unwrap_or_default())
                    .or_default()
                    .push(en.clone());
            } else if !da_keys.is_empty() {
                exp.da_phrases.push((da_keys, en.clone()));
            }
            if en_words.len() == 1 && en_keys.len() == 1 {
                exp.en_word
                    .entry(en_keys.into_iter().next().unwrap_or_default())
                    .or_default()
                    .push(da.clone());
            } else if !en_keys.is_empty() {
                exp.en_phrases.push((en_keys, da.clone()));
            }
        }
        for group in &vocabulary.forms {
            for form in group {
                let Some(key) = fold_word(&mut an.fold, form).pop() else {
                    continue;
                };
                let others = group.iter().filter(|f| *f != form).cloned();
                exp.forms.entry(key).or_default().extend(others);
            }
        }
        for (gender, phrase) in &vocabulary.audience {
            let words = fold_word(&mut an.fold, phrase);
            if !words.is_empty() {
                exp.audience.push((*gender, words));
            }
        }
        for (group, phrase) in &vocabulary.ages {
            let words = fold_word(&mut an.fold, phrase);
            if !words.is_empty() {
                exp.ages.push((*group, words));
            }
        }
        exp
    }

    /// The words of `text` that can match (lowercase, stop words and "anyone" phrases left out), in order.
    pub fn content_words(&self, an: &mut Analyzers, text: &str) -> Vec<String> {
        let all_words = tokens(&mut an.words, text);
        let folded: Vec<String> = all_words
            .iter()
            .map(|w| fold_word(&mut an.fold, w).pop().unwrap_or_default())
            .collect();
        let hidden = self.anyone_spans(&folded);
        all_words
            .into_iter()
            .enumerate()
            .filter(|(i, w)| !hidden.iter().any(|(start, end)| start <= i && i < end) && !self.is_stop_word(w))
            .map(|(_, w)| w)
            .collect()
    }

    /// Whether the vocabulary knows `word` (the need lexicon reads a need from it, the bridge translates it, or it
    /// is a word form): such a word is not a misspelling even if no offer uses it.
    pub fn knows(&self, an: &mut Analyzers, word: &str) -> bool {
        let folded = fold_word(&mut an.fold, word).pop().unwrap_or_default();
        self.forms.contains_key(&folded)
            || tokens(&mut an.da, word).iter().any(|t| self.da_word.contains_key(t))
            || tokens(&mut an.en, word).iter().any(|t| self.en_word.contains_key(t))
            || self.detector.as_ref().is_some_and(|d| !d.detect(word, None).is_empty())
    }

    fn is_stop_word(&self, word: &str) -> bool {
        tokens(&mut self.stop.clone(), word).is_empty()
    }

    /// Other forms of a (folded) word; for a compound ending in a form, the compound with the other forms
    /// ("bydelsmor" → "bydelsmødre").
    fn other_forms(&self, folded: &str) -> Vec<String> {
        if let Some(others) = self.forms.get(folded) {
            return others.clone();
        }
        let mut out = Vec::new();
        for (form, others) in &self.forms {
            if form.len() >= 3
                && folded.len() >= form.len() + 3
                && let Some(head) = folded.strip_suffix(form.as_str())
            {
                out.extend(others.iter().map(|o| format!("{head}{o}")));
            }
        }
        out
    }

    /// The group the query's words name, when they name exactly one.
    fn audience(&self, folded_words: &[String]) -> Option<Gender> {
        only_one(&self.audience, folded_words)
    }

    /// `(start, end)` word spans of the phrases naming nobody's group ("min mand").
    fn anyone_spans(&self, folded_words: &[String]) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        for (gender, phrase) in self.audience.iter().filter(|(g, _)| *g == Gender::Any) {
            debug_assert_eq!(*gender, Gender::Any);
            for (start, window) in folded_words.windows(phrase.len()).enumerate() {
                if window == phrase.as_slice() {
                    spans.push((start, start + phrase.len()));
                }
            }
        }
        spans
    }

    /// The age group the query's words name, when they name exactly one.
    fn age_group(&self, folded_words: &[String]) -> Option<AgeGroup> {
        only_one(&self.ages, folded_words)
    }
}

/// The one group `phrases` find in the words, None when they find none or several. A longer phrase hides the
/// shorter ones inside it: "min mand" (my husband) is not also "mand".
fn only_one<G: Copy + PartialEq>(phrases: &[(G, Vec<String>)], folded_words: &[String]) -> Option<G> {
    let mut spans: Vec<(G, usize, usize)> = Vec::new();
    for (group, phrase) in phrases {
        for (start, window) in folded_words.windows(phrase.len()).enumerate() {
            if window == phrase.as_slice() {
                spans.push((*group, start, start + phrase.len()));
            }
        }
    }
    let mut found: Option<G> = None;
    for &(group, start, end) in &spans {
        let hidden = spans
            .iter()
            .any(|&(_, s, e)| s <= start && end <= e && e - s > end - start);
        if hidden {
            continue;
        }
        match found {
            Some(g) if g != group => return None,
            _ => found = Some(group),
        }
    }
    found
}

/// Scored clauses matching one word in the Danish, unsplit Danish and English fields, each at `boost`.
fn word_clauses(word: &str, f: &Fields, an: &mut Analyzers, boost: f32) -> Vec<(Occur, Box<dyn Query>)> {
    let da = tokens(&mut an.da, word);
    let plain = tokens(&mut an.da_plain, word);
    let en = tokens(&mut an.en, word);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let groups: [(&[String], &[FieldBoost]); 3] = [
        (
            &da,
            &[
                (f.name, 2.0),
                (f.description, 1.0),
                (f.organization, 0.8),
                (f.eligibility, 0.5),
            ],
        ),
        (&plain, &[(f.name_plain, 3.0), (f.description_plain, 1.5)]),
        (&en, &[(f.name_en, 1.5), (f.description_en, 0.8)]),
    ];
    for (toks, fields) in groups {
        for tok in toks {
            for &(field, field_boost) in fields {
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(term_query(field, tok), field_boost * boost)),
                ));
            }
        }
    }
    clauses
}

/// A query matching all of `text`'s words (a translation or another form), scored at `boost`.
fn phrase_query(text: &str, f: &Fields, an: &mut Analyzers, exp: &Expansions, boost: f32) -> Option<Box<dyn Query>> {
    let words: Vec<String> = tokens(&mut an.words, text)
        .into_iter()
        .filter(|w| !exp.is_stop_word(w))
        .collect();
    let mut musts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for word in &words {
        let clauses = word_clauses(word, f, an, boost);
        if clauses.is_empty() {
            return None;
        }
        musts.push((Occur::Must, Box::new(BooleanQuery::new(clauses))));
    }
    match musts.len() {
        0 => None,
        1 => musts.pop().map(|(_, q)| q),
        _ => Some(Box::new(BooleanQuery::new(musts))),
    }
}

/// `known` tells whether a term occurs in the index; words that do get no typo tolerance.
pub fn build(
    q: &SearchQuery,
    f: &Fields,
    analyzers: &Analyzers,
    needs: &NeedMatcher,
    exp: &Expansions,
    corrections: &HashMap<String, String>,
    known: &dyn Fn(&Term) -> bool,
) -> Result<Built> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut text_query = None;
    let mut words_out = Vec::new();
    let mut query_needs = Vec::new();
    let mut audience = None;
    let mut age_group = None;

    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let mut an = analyzers.clone();
        let folded_all: Vec<String> = tokens(&mut an.words, text)
            .iter()
            .map(|w| fold_word(&mut an.fold, w).pop().unwrap_or_default())
            .collect();
        audience = exp.audience(&folded_all).filter(|g| *g != Gender::Any);
        age_group = exp.age_group(&folded_all);
        // stop words never count as a match, in any field; nor do the words of "min mand" (my husband): the family
        // is not looking for an offer about men
        let mut words = exp.content_words(&mut an, text);
        let mut seen = HashSet::new();
        let in_order = words.clone();
        words.retain(|w| seen.insert(w.clone()));
        words.truncate(MAX_WORDS);

        // needs the detector reads in the family's words, and the words it read them from
        let corrected = spelling::corrected_text(text, corrections);
        let detected = exp
            .detector
            .as_ref()
            .map(|d| d.detect(&corrected, None))
            .unwrap_or_default();
        let surest = detected.first().map_or(0.0, |d| d.score);
        let detected: Vec<_> = detected.into_iter().filter(|d| d.score >= surest / 2.0).collect();
        let trigger_words: HashSet<String> = detected
            .iter()
            .flat_map(|d| &d.matched)
            .flat_map(|m| tokens(&mut an.words, m))
            .collect();

        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut da_all = HashSet::new();
        let mut en_all = HashSet::new();
        for word in &words {
            // a misspelt word is read as the word meant; the typo clauses below still look at it as typed
            let meant = corrections.get(word).unwrap_or(word);
            let da = tokens(&mut an.da, meant);
            let en = tokens(&mut an.en, meant);
            let mut word_clauses_ = word_clauses(meant, f, &mut an, 1.0);
            // another form of the word, or its translation, counts as the word
            let folded = fold_word(&mut an.fold, meant).pop().unwrap_or_default();
            let mut alternatives: Vec<String> = exp.other_forms(&folded);
            if da.len() == 1 {
                alternatives.extend(exp.da_word.get(&da[0]).into_iter().flatten().cloned());
            }
            if en.len() == 1 {
                alternatives.extend(exp.en_word.get(&en[0]).into_iter().flatten().cloned());
            }
            alternatives.sort();
            alternatives.dedup();
            for alternative in alternatives.iter().filter(|a| *a != meant) {
                if let Some(query) = phrase_query(alternative, f, &mut an, exp, BRIDGE_BOOST) {
                    word_clauses_.push((Occur::Should, query));
                }
            }
            if word.chars().count() >= FUZZY_MIN_CHARS {
                // one edit on the word as typed (unstemmed: stemming a misspelt word can cut
                // a different suffix than stemming the correct one)
                for tok in tokens(&mut an.fold, word) {
                    let spelt_right = [f.name_fold, f.description_fold]
                        .into_iter()
                        .any(|field| known(&Term::from_field_text(field, &tok)));
                    for field in [f.name_fold, f.description_fold] {
                        let term = Term::from_field_text(field, &tok);
                        // Same constant score either way; an exact term costs a lookup, a fuzzy one a
                        // walk of the term dictionary.
                        let query: Box<dyn Query> = if spelt_right {
                            Box::new(TermQuery::new(term, IndexRecordOption::Basic))
                        } else {
                            Box::new(FuzzyTermQuery::new(term, 1, true))
                        };
                        word_clauses_.push((Occur::Should, Box::new(ConstScoreQuery::new(query, FUZZY_SCORE))));
                    }
                }
                // a word the index does not know: one edit on its stem too ("hjemmløs" ~ "hjemløs", the stem of
                // "hjemløse", which as typed is two edits away)
                for tok in &da {
                    let unknown = [f.name, f.description]
                        .into_iter()
                        .all(|field| !known(&Term::from_field_text(field, tok)));
                    if unknown && tok.chars().count() >= FUZZY_MIN_CHARS {
                        for field in [f.name, f.description] {
                            let query = FuzzyTermQuery::new(Term::from_field_text(field, tok), 1, true);
                            word_clauses_.push((
                                Occur::Should,
                                Box::new(ConstScoreQuery::new(Box::new(query), FUZZY_SCORE)),
                            ));
                        }
                    }
                }
            }
            da_all.extend(da);
            en_all.extend(en);
            if word_clauses_.is_empty() {
                continue;
            }
            let mut word_query: Box<dyn Query> = Box::new(SaturatedQuery::new(
                Box::new(BooleanQuery::new(word_clauses_)),
                WORD_SATURATION,
            ));
            if !detected.is_empty() && !trigger_words.contains(meant) {
                word_query = Box::new(BoostQuery::new(word_query, OTHER_WORD_BOOST));
            }
            should.push((Occur::Should, word_query.box_clone()));
            words_out.push((word.clone(), word_query));
        }
        // phrases of the bridge found in the query add their translation
        let mut translations: Vec<&str> = Vec::new();
        for (keys, other) in &exp.da_phrases {
            if keys.iter().all(|k| da_all.contains(k)) {
                translations.push(other);
            }
        }
        for (keys, other) in &exp.en_phrases {
            if keys.iter().all(|k| en_all.contains(k)) {
                translations.push(other);
            }
        }
        translations.sort();
        translations.dedup();
        for text in translations {
            if let Some(query) = phrase_query(text, f, &mut an, exp, BRIDGE_BOOST) {
                should.push((Occur::Should, Box::new(SaturatedQuery::new(query, WORD_SATURATION))));
            }
        }
        // two words typed apart that are one word in Danish ("sprog cafe", "lektie hjælp")
        for pair in in_order.windows(2) {
            if pair[0].chars().count() < 2 || pair[1].chars().count() < 2 {
                continue;
            }
            let joined = format!("{}{}", pair[0], pair[1]);
            let mut joined_clauses = word_clauses(&joined, f, &mut an, JOINED_BOOST);
            for tok in tokens(&mut an.fold, &joined) {
                for (field, boost) in [(f.name_fold, 3.0), (f.description_fold, 1.5)] {
                    joined_clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(term_query(field, &tok), boost * JOINED_BOOST)),
                    ));
                }
            }
            should.push((
                Occur::Should,
                Box::new(SaturatedQuery::new(
                    Box::new(BooleanQuery::new(joined_clauses)),
                    WORD_SATURATION,
                )),
            ));
        }
        // needs: named by a label or synonym, or found by the detector in the family's words; summed, so an
        // offer for two of the needs ranks above an offer for one
        // The detector reads negations ("vi mangler ikke mad"): when it finds needs, labels and synonyms count only
        // for those needs (their sub-terms say more); when it finds none, labels and synonyms decide.
        query_needs = needs.matches(&da_all, &en_all);
        if !detected.is_empty() {
            query_needs.retain(|code| {
                let top = code.split('/').next().unwrap_or(code);
                detected.iter().any(|d| d.code == top)
            });
        }
        for need in detected {
            query_needs.extend(need.sub_codes);
            query_needs.push(need.code);
        }
        query_needs.sort();
        query_needs.dedup();
        // an offer tagged with one of the needs is found without sharing a word; the collector scores it
        for code in &query_needs {
            should.push((
                Occur::Should,
                Box::new(ConstScoreQuery::new(term_query(f.need, code), 0.0)),
            ));
        }
        // a text of stop words or punctuation alone is the same as no text
        if !should.is_empty() {
            let tq: Box<dyn Query> = Box::new(BooleanQuery::new(should));
            clauses.push((Occur::Must, tq.box_clone()));
            text_query = Some(tq);
        }
    }

    // need filter: OR over codes; parents are indexed with each sub-term
    let filter_needs: Vec<String> = {
        let mut v: Vec<String> = q
            .needs
            .iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if !filter_needs.is_empty() {
        let terms = filter_needs.iter().map(|n| Term::from_field_text(f.need, n));
        clauses.push(filter(Box::new(TermSetQuery::new(terms))));
    }
    if let Some(age) = q.age {
        let age = u64::from(age);
        clauses.push(filter(must_all(vec![
            u64_range(f.min_age, Bound::Unbounded, Bound::Included(age)),
            u64_range(f.max_age, Bound::Included(age), Bound::Unbounded),
        ])));
    }
    if let Some(lang) = q.language.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        clauses.push(filter(term_query(f.lang, &lang.to_lowercase())));
    }
    if let Some(free) = q.free {
        clauses.push(filter(Box::new(TermQuery::new(
            Term::from_field_bool(f.free, free),
            IndexRecordOption::Basic,
        ))));
    }
    if let Some(gender) = q.gender.filter(|g| *g != Gender::Any) {
        let terms = [Gender::Any, gender].map(|g| Term::from_field_text(f.gender, g.as_str()));
        clauses.push(filter(Box::new(TermSetQuery::new(terms))));
    }
    match (q.open_date, q.open_on, q.open_at) {
        (Some(date), _, minute) => clauses.push(filter(open_on_date_query(date, minute))),
        (None, Some(day), None) => clauses.push(filter(Box::new(TermQuery::new(
            Term::from_field_u64(f.open_day, u64::from(day)),
            IndexRecordOption::Basic,
        )))),
        (None, day, Some(minute)) => {
            let days: Vec<u64> = match day {
                Some(d) => vec![u64::from(d)],
                None => (0..7).collect(),
            };
            let targets: Vec<u64> = days.iter().map(|d| d * MINUTES_PER_DAY + u64::from(minute)).collect();
            clauses.push(filter(open_at_query(targets)));
        }
        (None, None, None) => {}
    }
    if let (Some((lat, lon)), Some(radius)) = (q.point, q.radius_km) {
        let (lat_min, lat_max, lon_bounds) = bounding_box(lat, lon, radius);
        let (lat_field, lon_field) = if q.include_confidential {
            (f.lat, f.lon)
        } else {
            (f.public_lat, f.public_lon)
        };
        let mut near = vec![f64_range(lat_field, lat_min, lat_max)];
        if let Some((lon_min, lon_max)) = lon_bounds {
            near.push(f64_range(lon_field, lon_min, lon_max));
        }
        let area = must_all(vec![
            f64_range(f.area_lat_min, -90.0, lat),
            f64_range(f.area_lat_max, lat, 90.0),
            f64_range(f.area_lon_min, -180.0, lon),
            f64_range(f.area_lon_max, lon, 180.0),
        ]);
        // bounding-box prefilter; the exact haversine / polygon cut is done by the collector
        clauses.push(filter(Box::new(BooleanQuery::new(vec![
            (Occur::Should, must_all(near)),
            (Occur::Should, area),
        ]))));
    }

    let query: Box<dyn Query> = if clauses.is_empty() {
        Box::new(AllQuery)
    } else {
        Box::new(BooleanQuery::new(clauses))
    };
    Ok(Built {
        query,
        text_query,
        words: words_out,
        query_needs,
        filter_needs,
        audience,
        age_group,
    })
}

/// Services open on `date` (at `minute` when given), from the `open_rule` fast field.
fn open_on_date_query(date: OpenDate, minute: Option<u16>) -> Box<dyn Query> {
    let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
        let column = segment.fast_fields().column_opt::<u64>("open_rule")?;
        Ok(move |doc: DocId| {
            column.as_ref().is_some_and(|col| {
                col.values_for_doc(doc)
                    .any(|rule| crate::opening::open_on(rule, &date, minute))
            })
        })
    });
    let query: DocPredicateQuery = predicate.into();
    Box::new(query)
}

/// Services open at one of `targets` (absolute minutes of the week), from the `open_span` fast
/// field (`start << 32 | end`, end exclusive).
fn open_at_query(targets: Vec<u64>) -> Box<dyn Query> {
    let predicate = FunctionPredicate::from(move |segment: &SegmentReader| {
        let column = segment.fast_fields().column_opt::<u64>("open_span")?;
        let targets = targets.clone();
        Ok(move |doc: DocId| {
            column.as_ref().is_some_and(|col| {
                col.values_for_doc(doc).any(|span| {
                    let (start, end) = (span >> 32, span & 0xffff_ffff);
                    targets.iter().any(|&t| start <= t && t < end)
                })
            })
        })
    });
    let query: DocPredicateQuery = predicate.into();
    Box::new(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn a_longer_phrase_hides_the_shorter_inside_it() {
        let phrases = vec![
            (Gender::Men, words("mand")),
            (Gender::Any, words("min mand")),
            (Gender::Women, words("kvinder")),
        ];
        assert_eq!(only_one(&phrases, &words("min mand slår mig")), Some(Gender::Any));
        assert_eq!(only_one(&phrases, &words("en mand")), Some(Gender::Men));
        assert_eq!(only_one(&phrases, &words("kvinder og mand")), None);
        assert_eq!(only_one(&phrases, &words("børn")), None);
    }
}

//! Builds tantivy queries from a [`SearchQuery`] — from tokens, never via the query parser.

use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use tantivy::query::doc_predicate_query::{DocPredicateQuery, FunctionPredicate};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
    TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, SegmentReader, Term};

use crate::analysis::{Analyzers, tokens};
use crate::geo_util::bounding_box;
use crate::schema::{Fields, MINUTES_PER_DAY};
use crate::{Error, Gender, NeedTerms, Result, SearchQuery};

/// Constant score added when a query matches a need's labels/synonyms and the service has
/// that need.
pub const NEED_SCORE: f32 = 1.5;
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
    /// Need codes matched via labels/synonyms.
    pub synonym_needs: Vec<String>,
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

/// `known` tells whether a term occurs in the index; words that do get no typo tolerance.
pub fn build(
    q: &SearchQuery,
    f: &Fields,
    analyzers: &Analyzers,
    needs: &NeedMatcher,
    known: &dyn Fn(&Term) -> bool,
) -> Result<Built> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut text_query = None;
    let mut words_out = Vec::new();
    let mut synonym_needs = Vec::new();

    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let mut an = analyzers.clone();
        let mut words = tokens(&mut an.words, text);
        let mut seen = HashSet::new();
        words.retain(|w| seen.insert(w.clone()));
        words.truncate(MAX_WORDS);

        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut da_all = HashSet::new();
        let mut en_all = HashSet::new();
        for word in &words {
            let da = tokens(&mut an.da, word);
            let plain = tokens(&mut an.da_plain, word);
            let en = tokens(&mut an.en, word);
            let mut word_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
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
                    for &(field, boost) in fields {
                        word_clauses.push((Occur::Should, Box::new(BoostQuery::new(term_query(field, tok), boost))));
                    }
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
                        word_clauses.push((Occur::Should, Box::new(ConstScoreQuery::new(query, FUZZY_SCORE))));
                    }
                }
            }
            da_all.extend(da);
            en_all.extend(en);
            if word_clauses.is_empty() {
                continue;
            }
            let word_query: Box<dyn Query> = Box::new(BooleanQuery::new(word_clauses));
            should.push((Occur::Should, word_query.box_clone()));
            words_out.push((word.clone(), word_query));
        }
        synonym_needs = needs.matches(&da_all, &en_all);
        for code in &synonym_needs {
            should.push((
                Occur::Should,
                Box::new(ConstScoreQuery::new(term_query(f.need, code), NEED_SCORE)),
            ));
        }
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
    match (q.open_on, q.open_at) {
        (Some(day), None) => clauses.push(filter(Box::new(TermQuery::new(
            Term::from_field_u64(f.open_day, u64::from(day)),
            IndexRecordOption::Basic,
        )))),
        (day, Some(minute)) => {
            let days: Vec<u64> = match day {
                Some(d) => vec![u64::from(d)],
                None => (0..7).collect(),
            };
            let targets: Vec<u64> = days.iter().map(|d| d * MINUTES_PER_DAY + u64::from(minute)).collect();
            clauses.push(filter(open_at_query(targets)));
        }
        (None, None) => {}
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
        synonym_needs,
        filter_needs,
    })
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

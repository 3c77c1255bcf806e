//! [`SaturatedQuery`]: a query word's score `s` (BM25 summed over fields and forms) counted as
//! `s / (s + k)`, so each word adds at most 1. Summed over the words of a query this rewards offers that match
//! more of the words (the family's "motion" *and* "seniorer") over offers that match one word in many fields.

use std::fmt;

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

pub struct SaturatedQuery {
    query: Box<dyn Query>,
    k: Score,
}

impl SaturatedQuery {
    /// `k`: the score at which a word counts half.
    pub fn new(query: Box<dyn Query>, k: Score) -> Self {
        SaturatedQuery { query, k }
    }
}

impl Clone for SaturatedQuery {
    fn clone(&self) -> Self {
        SaturatedQuery {
            query: self.query.box_clone(),
            k: self.k,
        }
    }
}

impl fmt::Debug for SaturatedQuery {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Saturated(query={:?}, k={})", self.query, self.k)
    }
}

impl Query for SaturatedQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let inner = self.query.weight(enable_scoring)?;
        if !enable_scoring.is_scoring_enabled() {
            return Ok(inner);
        }
        Ok(Box::new(SaturatedWeight { inner, k: self.k }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.query.query_terms(visitor)
    }
}

struct SaturatedWeight {
    inner: Box<dyn Weight>,
    k: Score,
}

impl Weight for SaturatedWeight {
    /// `boost` (from an enclosing boost) applies to the saturated score.
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(SaturatedScorer {
            inner: self.inner.scorer(reader, 1.0)?,
            k: self.k,
            boost,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let inner = self.inner.explain(reader, doc)?;
        let s = inner.value();
        let mut explanation = Explanation::new_with_string(format!("s / (s + {})", self.k), s / (s + self.k));
        explanation.add_detail(inner);
        Ok(explanation)
    }

    fn count(&self, reader: &SegmentReader) -> tantivy::Result<u32> {
        self.inner.count(reader)
    }
}

struct SaturatedScorer {
    inner: Box<dyn Scorer>,
    k: Score,
    boost: Score,
}

impl DocSet for SaturatedScorer {
    fn advance(&mut self) -> DocId {
        self.inner.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.inner.seek(target)
    }

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }

    fn cost(&self) -> u64 {
        self.inner.cost()
    }
}

impl Scorer for SaturatedScorer {
    fn score(&mut self) -> Score {
        let s = self.inner.score();
        self.boost * s / (s + self.k)
    }
}

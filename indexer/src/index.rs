//! [`SearchIndex`]: opening, writing (atomic commits with the change-log position) and searching.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};
use tantivy::collector::DocSetCollector;
use tantivy::directory::MmapDirectory;
use tantivy::query::{EnableScoring, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocSet, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use crate::analysis::{Analyzers, tokens};
use crate::collect::{Areas, Candidate, SearchCollector};
use crate::geo_util::{decode_area, haversine_km};
use crate::query::{self, Built, Expansions, NeedMatcher};
use crate::schema::{Fields, Meta, build_schema, to_document};
use crate::spelling;
use crate::{Error, Hit, NeedTerms, Result, SearchQuery, SearchResults, ServiceDoc, Vocabulary, Why};

/// Two indexing threads (the machines we run on have two cores) sharing 100 MB before a segment is flushed:
/// the arena grows only as documents arrive, so small incremental writes stay small.
const WRITER_THREADS: usize = 2;
const WRITER_HEAP_BYTES: usize = 100_000_000;
const SNIPPET_CHARS: usize = 200;
/// Distance at which an offer keeps half of what distance can take from its score, whatever the radius (the radius
/// only cuts): tuned on the judged place queries, see `docs/ranking.md`.
const DISTANCE_SCALE_KM: f64 = 5.0;
const PROGRESS_EVERY: u64 = 1000;

/// The commit payload.
#[derive(Serialize, Deserialize)]
struct Payload {
    applied_seq: i64,
    /// Fingerprint of the analysis chain (hex); a different one means "rebuild".
    analysis: String,
}

/// The search index. `Send + Sync`; share it in an `Arc`.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    analyzers: Analyzers,
    needs: NeedMatcher,
    expansions: Expansions,
    areas: RwLock<Areas>,
    applied_seq: RwLock<Option<i64>>,
}

/// Rolls the writer back to the last commit unless the transaction committed — also when a
/// panic unwinds through `apply`/`rebuild` (e.g. from the caller's iterator).
struct Transaction<'a> {
    writer: MutexGuard<'a, IndexWriter>,
    committed: bool,
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = self.writer.rollback()
        {
            tracing::error!(error = %e, "search index rollback failed");
        }
    }
}

impl SearchIndex {
    /// Creates or opens the index in `dir` (a directory dedicated to the index). An index with
    /// an incompatible schema is wiped and recreated (its `applied_seq` is then `None`).
    pub fn open(dir: &Path, needs: Vec<NeedTerms>, vocabulary: &Vocabulary) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = build_schema();
        let directory = MmapDirectory::open(dir)?;
        let exists = Index::exists(&directory).map_err(tantivy::TantivyError::from)?;
        let index = if exists {
            let index = Index::open(directory)?;
            if index.schema() == schema {
                index
            } else {
                tracing::warn!(dir = %dir.display(), "search index schema changed; recreating it");
                drop(index);
                for entry in std::fs::read_dir(dir)? {
                    let path = entry?.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(&path)?;
                    } else {
                        std::fs::remove_file(&path)?;
                    }
                }
                Index::create(MmapDirectory::open(dir)?, schema, IndexSettings::default())?
            }
        } else {
            Index::create(directory, schema, IndexSettings::default())?
        };
        Self::init(index, fields, needs, vocabulary)
    }

    /// A RAM index, for tests and benchmarks.
    pub fn in_memory(needs: Vec<NeedTerms>, vocabulary: &Vocabulary) -> Result<Self> {
        let (schema, fields) = build_schema();
        Self::init(Index::create_in_ram(schema), fields, needs, vocabulary)
    }

    fn init(index: Index, fields: Fields, needs: Vec<NeedTerms>, vocabulary: &Vocabulary) -> Result<Self> {
        let analyzers = Analyzers::new(&needs, &vocabulary.danish_words())?;
        analyzers.register(index.tokenizers());
        let need_matcher = NeedMatcher::new(&needs, &analyzers);
        let expansions = Expansions::new(vocabulary, &analyzers);
        let writer = index.writer_with_num_threads(WRITER_THREADS, WRITER_HEAP_BYTES)?;
        let reader: IndexReader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let applied_seq = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok())
            .filter(|p| p.analysis == format!("{:016x}", analyzers.fingerprint))
            .map(|p| p.applied_seq);
        let areas = load_areas(&reader.searcher(), &fields)?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            analyzers,
            needs: need_matcher,
            expansions,
            areas: RwLock::new(Arc::new(areas)),
            applied_seq: RwLock::new(applied_seq),
        })
    }

    fn begin(&self) -> Transaction<'_> {
        Transaction {
            writer: self.writer.lock().unwrap_or_else(PoisonError::into_inner),
            committed: false,
        }
    }

    fn commit(&self, mut tx: Transaction<'_>, applied_seq: i64) -> Result<()> {
        let payload = serde_json::to_string(&Payload {
            applied_seq,
            analysis: format!("{:016x}", self.analyzers.fingerprint),
        })?;
        let mut prepared = tx.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        tx.committed = true;
        self.reader.reload()?;
        *self.applied_seq.write().unwrap_or_else(PoisonError::into_inner) = Some(applied_seq);
        Ok(())
    }

    fn id_term(&self, id: &uuid::Uuid) -> Term {
        Term::from_field_text(self.fields.id, &id.to_string())
    }

    /// Replaces these services (by id), deletes these ids, commits with `applied_seq` in the
    /// commit payload and reloads the reader (read-your-writes). All or nothing.
    pub fn apply(&self, upserts: Vec<ServiceDoc>, deletes: &[uuid::Uuid], applied_seq: i64) -> Result<()> {
        // convert first: an invalid document fails the batch before anything is written
        let docs = upserts
            .iter()
            .map(|d| to_document(&self.fields, d))
            .collect::<Result<Vec<_>>>()?;
        let tx = self.begin();
        for (service, doc) in upserts.iter().zip(docs) {
            tx.writer.delete_term(self.id_term(&service.id));
            tx.writer.add_document(doc)?;
        }
        for id in deletes {
            tx.writer.delete_term(self.id_term(id));
        }
        self.commit(tx, applied_seq)?;

        let mut areas = self.areas.write().unwrap_or_else(PoisonError::into_inner);
        let touches_areas = deletes.iter().any(|id| areas.contains_key(id))
            || upserts
                .iter()
                .any(|d| d.service_area.is_some() || areas.contains_key(&d.id));
        if touches_areas {
            let mut map = HashMap::clone(&areas);
            for d in &upserts {
                map.remove(&d.id);
            }
            for id in deletes {
                map.remove(id);
            }
            for d in upserts {
                if let Some(area) = d.service_area {
                    map.insert(d.id, area);
                }
            }
            *areas = Arc::new(map);
        }
        Ok(())
    }

    /// Deletes everything and indexes `docs` (full rebuild) in one commit. `progress` is called
    /// with the number of documents done every 1000 documents and at the end. If it fails (or
    /// the iterator panics) the last commit stays intact.
    pub fn rebuild(
        &self,
        docs: impl Iterator<Item = ServiceDoc>,
        applied_seq: i64,
        mut progress: impl FnMut(u64),
    ) -> Result<()> {
        let tx = self.begin();
        tx.writer.delete_all_documents()?;
        let mut areas = HashMap::new();
        let mut done = 0u64;
        for service in docs {
            let doc = to_document(&self.fields, &service)?;
            tx.writer.add_document(doc)?;
            if let Some(area) = service.service_area {
                areas.insert(service.id, area);
            }
            done += 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                progress(done);
            }
        }
        self.commit(tx, applied_seq)?;
        *self.areas.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(areas);
        progress(done);
        Ok(())
    }

    /// The change-log position of the last commit; `None` if never committed (or committed
    /// with a different analysis chain, which calls for a rebuild).
    pub fn applied_seq(&self) -> Option<i64> {
        *self.applied_seq.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Number of indexed services.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Runs a search. Free text is tokenized, never parsed as query syntax.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults> {
        query::validate(q)?;
        let searcher = self.reader.searcher();
        // A word found as typed somewhere in the index is taken as spelt right: typo matching (the costliest
        // part of a text query) runs only for words the index does not know.
        let known = |term: &Term| searcher.doc_freq(term).is_ok_and(|n| n > 0);
        let corrections = match q.text.as_deref() {
            Some(text) => {
                let mut analyzers = self.analyzers.clone();
                let words = self.expansions.content_words(&mut analyzers, text);
                // a word known folded ("gaeldsraadgivning") or to the vocabulary is no misspelling
                let known_folded = |word: &str| {
                    let mut analyzers = self.analyzers.clone();
                    tokens(&mut analyzers.fold, word).iter().any(|t| {
                        [self.fields.name_fold, self.fields.description_fold]
                            .into_iter()
                            .any(|field| known(&Term::from_field_text(field, t)))
                    }) || self.expansions.knows(&mut analyzers, word)
                };
                spelling::corrections(&searcher, self.fields.words, &words, &known_folded)?
            }
            None => HashMap::new(),
        };
        let built = query::build(
            q,
            &self.fields,
            &self.analyzers,
            &self.needs,
            &self.expansions,
            &corrections,
            &known,
        )?;
        let areas = self.areas.read().unwrap_or_else(PoisonError::into_inner).clone();
        let collector = SearchCollector {
            point: q.point,
            radius_km: q.radius_km.filter(|_| q.point.is_some()),
            scale_km: DISTANCE_SCALE_KM,
            has_text: built.text_query.is_some(),
            areas,
            keep: q.offset.saturating_add(q.limit),
            include_confidential: q.include_confidential,
            audience: built.audience,
            age_group: built.age_group,
            query_needs: built.query_needs.clone(),
        };
        let collected = searcher.search(&*built.query, &collector)?;
        let page: Vec<Candidate> = collected.candidates.into_iter().skip(q.offset).take(q.limit).collect();
        let hits = self.hits(&searcher, q, &built, &page)?;
        Ok(SearchResults {
            total: collected.total,
            hits,
            need_facets: collected.needs,
            language_facets: collected.languages,
        })
    }

    fn hits(&self, searcher: &Searcher, q: &SearchQuery, built: &Built, page: &[Candidate]) -> Result<Vec<Hit>> {
        if page.is_empty() {
            return Ok(Vec::new());
        }
        let f = &self.fields;
        let snippets = match &built.text_query {
            Some(tq) => {
                let mut description = SnippetGenerator::create(searcher, &**tq, f.description)?;
                description.set_max_num_chars(SNIPPET_CHARS);
                let mut name = SnippetGenerator::create(searcher, &**tq, f.name)?;
                name.set_max_num_chars(SNIPPET_CHARS);
                Some((description, name))
            }
            None => None,
        };
        let scoring = EnableScoring::disabled_from_searcher(searcher);
        let word_weights = built
            .words
            .iter()
            .map(|(w, query)| Ok((w.clone(), query.weight(scoring)?)))
            .collect::<Result<Vec<_>>>()?;
        let query_needs: BTreeSet<&str> = built
            .query_needs
            .iter()
            .chain(&built.filter_needs)
            .map(String::as_str)
            .collect();

        let mut hits = Vec::with_capacity(page.len());
        for cand in page {
            let doc: TantivyDocument = searcher.doc(cand.address)?;
            let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("");
            let id: uuid::Uuid = text(f.id)
                .parse()
                .map_err(|_| Error::Corrupt(format!("bad id {:?}", text(f.id))))?;
            let meta: Meta = serde_json::from_str(text(f.meta))?;

            let nearest_location_id = q.point.and_then(|(lat, lon)| {
                meta.locations
                    .iter()
                    .filter(|(_, _, _, confidential)| q.include_confidential || !confidential)
                    .map(|(lid, a, b, _)| (*lid, haversine_km(lat, lon, *a, *b)))
                    .min_by(|x, y| x.1.total_cmp(&y.1))
                    .map(|(lid, _)| lid)
            });

            let segment = searcher.segment_reader(cand.address.segment_ord);
            let mut matched_terms = Vec::new();
            for (word, weight) in &word_weights {
                let mut scorer = weight.scorer(segment, 1.0)?;
                let target = cand.address.doc_id;
                let matched = scorer.doc() == target || (scorer.doc() < target && scorer.seek(target) == target);
                if matched {
                    matched_terms.push(word.clone());
                }
            }

            let highlight = snippets.as_ref().and_then(|(description, name)| {
                [(description, text(f.description)), (name, text(f.name))]
                    .into_iter()
                    .find_map(|(generator, source)| {
                        let mut snippet = generator.snippet(source);
                        if snippet.highlighted().is_empty() {
                            return None;
                        }
                        snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                        Some(snippet.to_html())
                    })
            });

            let needs: Vec<String> = meta
                .needs
                .iter()
                .filter(|n| query_needs.contains(&n[..]))
                .cloned()
                .collect();

            hits.push(Hit {
                id,
                score: cand.score,
                distance_km: cand.distance_km,
                nearest_location_id,
                highlight,
                why: Why {
                    matched_terms,
                    needs,
                    distance_km: cand.distance_km,
                    in_service_area: cand.in_area,
                },
                payload: text(f.payload).to_owned(),
            });
        }
        Ok(hits)
    }

    /// The underlying tantivy index (for diagnostics).
    pub fn tantivy_index(&self) -> &Index {
        &self.index
    }
}

fn load_areas(searcher: &Searcher, f: &Fields) -> Result<HashMap<uuid::Uuid, MultiPolygon<f64>>> {
    let query = TermQuery::new(Term::from_field_bool(f.has_area, true), IndexRecordOption::Basic);
    let addresses = searcher.search(&query, &DocSetCollector)?;
    let mut areas = HashMap::new();
    for address in addresses {
        let doc: TantivyDocument = searcher.doc(address)?;
        let id = doc.get_first(f.id).and_then(|v| v.as_str()).unwrap_or("");
        let id: uuid::Uuid = id.parse().map_err(|_| Error::Corrupt(format!("bad id {id:?}")))?;
        if let Some(area) = doc.get_first(f.area).and_then(|v| v.as_str()) {
            areas.insert(id, decode_area(area)?);
        }
    }
    Ok(areas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<SearchIndex>();
    }
}

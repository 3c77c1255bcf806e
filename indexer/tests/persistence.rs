mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::*;
use indexer::{DocLocation, SearchIndex, SearchQuery, Vocabulary};

fn near(point: (f64, f64), radius_km: f64) -> SearchQuery {
    SearchQuery {
        point: Some(point),
        radius_km: Some(radius_km),
        ..q()
    }
}

#[test]
fn reopen_keeps_docs_applied_seq_and_service_areas() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open(dir.path(), needs(), &Vocabulary::default()).unwrap();
        assert_eq!(index.applied_seq(), None);
        assert_eq!(index.num_docs(), 0);
        index.apply(docs(), &[], 42).unwrap();
        assert_eq!(index.applied_seq(), Some(42));
    }
    let index = SearchIndex::open(dir.path(), needs(), &Vocabulary::default()).unwrap();
    assert_eq!(index.num_docs(), docs().len() as u64);
    assert_eq!(index.applied_seq(), Some(42));
    assert_eq!(ids(&index, &text("gæld")).first(), Some(&DEBT));
    // the service-area polygon is reloaded
    let r = index.search(&near(GELLERUP, 2.0)).unwrap();
    assert_eq!(r.hits[0].id.as_u128(), AREA);
    assert!(r.hits[0].why.in_service_area);
}

#[test]
fn different_needs_dictionary_asks_for_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open(dir.path(), needs(), &Vocabulary::default()).unwrap();
        index.apply(docs(), &[], 7).unwrap();
    }
    let mut other = needs();
    other[0].synonyms_da.push("matematikhjælp".into());
    let index = SearchIndex::open(dir.path(), other, &Vocabulary::default()).unwrap();
    assert_eq!(index.applied_seq(), None, "analysis changed → caller rebuilds");
    index.rebuild(docs().into_iter(), 7, |_| {}).unwrap();
    assert_eq!(index.applied_seq(), Some(7));
}

#[test]
fn interrupted_rebuild_leaves_last_commit_intact() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = SearchIndex::open(dir.path(), needs(), &Vocabulary::default()).unwrap();
        index.apply(docs(), &[], 5).unwrap();
        // the caller's stream dies half way through a rebuild
        let stream = docs().into_iter().take(2).chain(std::iter::from_fn(|| {
            panic!("database connection lost");
        }));
        let result = catch_unwind(AssertUnwindSafe(|| index.rebuild(stream, 9, |_| {})));
        assert!(result.is_err());
        // nothing of the failed rebuild is visible, and the writer still works
        assert_eq!(index.num_docs(), docs().len() as u64);
        assert_eq!(index.applied_seq(), Some(5));
        // an invalid document fails the whole batch
        let mut bad = docs()[0].clone();
        bad.locations.push(DocLocation {
            id: id(999),
            latitude: 200.0,
            longitude: 0.0,
            confidential: false,
        });
        assert!(index.apply(vec![bad], &[id(DEBT)], 6).is_err());
        assert_eq!(index.num_docs(), docs().len() as u64);
        assert_eq!(index.applied_seq(), Some(5));
        assert!(ids(&index, &text("gæld")).contains(&DEBT));
    }
    let index = SearchIndex::open(dir.path(), needs(), &Vocabulary::default()).unwrap();
    assert_eq!(index.num_docs(), docs().len() as u64);
    assert_eq!(index.applied_seq(), Some(5));
    assert!(ids(&index, &text("gæld")).contains(&DEBT));
}

#[test]
fn apply_is_read_your_writes_upsert_and_delete() {
    let index = SearchIndex::in_memory(needs(), &Vocabulary::default()).unwrap();
    assert_eq!(index.applied_seq(), None);
    index.apply(docs(), &[], 1).unwrap();
    assert_eq!(index.num_docs(), 8);

    // update: renamed, no longer mentions "gæld"
    let mut debt = docs()[2].clone();
    debt.name = "Økonomisk vejledning".into();
    debt.description = "Hjælp med budget.".into();
    debt.eligibility.clear();
    index.apply(vec![debt], &[id(SPURT)], 2).unwrap();
    assert_eq!(index.num_docs(), 7);
    assert_eq!(index.applied_seq(), Some(2));
    assert!(ids(&index, &text("vejledning")).contains(&DEBT));
    assert!(!ids(&index, &text("Århus")).contains(&DEBT));
    assert!(!ids(&index, &q()).contains(&SPURT));

    // removing the service area of AREA takes effect immediately
    let mut area = docs()[5].clone();
    area.service_area = None;
    index.apply(vec![area], &[], 3).unwrap();
    assert!(!ids(&index, &near(GELLERUP, 2.0)).contains(&AREA));

    // the same id twice in one batch: the last one wins
    let mut a = docs()[0].clone();
    a.name = "Vinterhold".into();
    let mut b = docs()[0].clone();
    b.name = "Sommerhold".into();
    index.apply(vec![a, b], &[], 4).unwrap();
    assert_eq!(index.num_docs(), 7);
    assert_eq!(ids(&index, &text("sommerhold")), vec![LEKTIE]);
    assert!(ids(&index, &text("vinterhold")).is_empty());
}

#[test]
fn rebuild_replaces_everything_and_reports_progress() {
    let index = index();
    let mut seen = Vec::new();
    let few = docs().into_iter().filter(|d| d.id.as_u128() <= 3);
    index.rebuild(few, 10, |n| seen.push(n)).unwrap();
    assert_eq!(index.num_docs(), 3);
    assert_eq!(index.applied_seq(), Some(10));
    assert_eq!(seen.last(), Some(&3));
    // AREA is gone, and so is its polygon
    assert!(!ids(&index, &near(GELLERUP, 2.0)).contains(&AREA));

    // a larger rebuild reports progress every 1000 documents
    let many = (0..2500u128).map(|n| {
        let mut d = docs()[1].clone();
        d.id = id(10_000 + n);
        d
    });
    let mut seen = Vec::new();
    index.rebuild(many, 11, |n| seen.push(n)).unwrap();
    assert_eq!(seen, vec![1000, 2000, 2500]);
    assert_eq!(index.num_docs(), 2500);
    assert_eq!(index.search(&text("lektiecafé")).unwrap().total, 2500);
}

#[test]
fn concurrent_searches_during_writes() {
    let index = std::sync::Arc::new(index());
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let index = index.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let r = index.search(&text("lektie")).unwrap();
                    assert!(r.total >= 2);
                }
            })
        })
        .collect();
    for seq in 2..12 {
        let mut d = docs()[1].clone();
        d.id = id(100 + seq as u128);
        index.apply(vec![d], &[], seq).unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(index.applied_seq(), Some(11));
    assert_eq!(index.num_docs(), 18);
}

mod common;

use common::*;
use indexer::SearchQuery;

fn needs(codes: &[&str]) -> SearchQuery {
    SearchQuery {
        needs: codes.iter().map(|s| s.to_string()).collect(),
        ..q()
    }
}

#[test]
fn need_filter_or_and_parent_matches_children() {
    let index = index();
    assert_eq!(sorted(ids(&index, &needs(&["education-homework"]))), vec![LEKTIE, CAFE]);
    assert_eq!(ids(&index, &needs(&["education-homework/homework-cafe"])), vec![LEKTIE]);
    assert_eq!(
        sorted(ids(&index, &needs(&["debt-economy", "leisure-sport"]))),
        vec![DEBT, SPORT, SPURT]
    );
    assert!(ids(&index, &needs(&["housing"])).is_empty());
    let r = index.search(&needs(&["education-homework"])).unwrap();
    assert!(
        r.hits
            .iter()
            .all(|h| h.why.needs == vec!["education-homework".to_string()])
    );
}

#[test]
fn age_filter_with_open_bounds() {
    let index = index();
    let age = |a| SearchQuery { age: Some(a), ..q() };
    // 10: LEKTIE (6-16), SPORT (8-14) and the ones without bounds
    assert_eq!(
        sorted(ids(&index, &age(10))),
        vec![LEKTIE, CAFE, SPORT, AREA, SPURT, JOBS]
    );
    assert_eq!(
        sorted(ids(&index, &age(30))),
        vec![CAFE, DEBT, NIGHT, AREA, SPURT, JOBS]
    );
    assert!(ids(&index, &age(16)).contains(&LEKTIE));
    assert!(!ids(&index, &age(17)).contains(&LEKTIE));
    assert!(ids(&index, &age(18)).contains(&DEBT));
}

#[test]
fn language_and_free_filters() {
    let index = index();
    let lang = SearchQuery {
        language: Some("AR".into()),
        ..q()
    };
    assert_eq!(sorted(ids(&index, &lang)), vec![LEKTIE, NIGHT]);
    let paid = SearchQuery {
        free: Some(false),
        ..q()
    };
    assert_eq!(ids(&index, &paid), vec![SPORT]);
    let free = SearchQuery {
        free: Some(true),
        ..q()
    };
    assert_eq!(index.search(&free).unwrap().total, docs().len() - 1);
}

#[test]
fn opening_hours_filters() {
    let index = index();
    let open = |day: Option<u8>, minute: Option<u16>| SearchQuery {
        open_on: day,
        open_at: minute,
        ..q()
    };
    assert_eq!(ids(&index, &open(Some(1), None)), vec![LEKTIE]); // Tuesday
    assert_eq!(ids(&index, &open(Some(1), Some(16 * 60))), vec![LEKTIE]);
    assert!(ids(&index, &open(Some(1), Some(14 * 60 + 59))).is_empty());
    assert!(ids(&index, &open(Some(1), Some(18 * 60))).is_empty()); // closes at 18:00
    // Thursday 17:00 → DEBT (16-19)
    assert_eq!(ids(&index, &open(Some(3), Some(17 * 60))), vec![DEBT]);
    // the night line: Friday 22:00 → Saturday 06:00
    assert_eq!(ids(&index, &open(Some(4), Some(23 * 60))), vec![NIGHT]);
    assert_eq!(ids(&index, &open(Some(5), Some(3 * 60))), vec![NIGHT]);
    assert_eq!(sorted(ids(&index, &open(Some(5), None))), vec![NIGHT]);
    assert!(ids(&index, &open(Some(5), Some(7 * 60))).is_empty());
    // any day at 17:30: LEKTIE (Tue), SPORT (Wed), DEBT (Thu)
    assert_eq!(
        sorted(ids(&index, &open(None, Some(17 * 60 + 30)))),
        vec![LEKTIE, DEBT, SPORT]
    );
    assert!(index.search(&open(Some(7), None)).is_err());
    assert!(index.search(&open(None, Some(1440))).is_err());
}

#[test]
fn filters_combine_with_text_and_geo() {
    let index = index();
    // "lektie" matches LEKTIE and CAFE; age 20 excludes LEKTIE (6-16)
    let query = SearchQuery {
        text: Some("lektie".into()),
        age: Some(20),
        ..q()
    };
    assert_eq!(ids(&index, &query), vec![CAFE]);
    // text + need filter + point
    let query = SearchQuery {
        text: Some("lektie".into()),
        needs: vec!["education-homework".into()],
        point: Some(GELLERUP),
        radius_km: Some(2.0),
        ..q()
    };
    assert_eq!(ids(&index, &query), vec![LEKTIE]);
    // everything at once, no text
    let query = SearchQuery {
        needs: vec!["education-homework".into()],
        age: Some(10),
        language: Some("ar".into()),
        free: Some(true),
        open_on: Some(1),
        open_at: Some(15 * 60),
        point: Some(GELLERUP),
        radius_km: Some(1.0),
        ..q()
    };
    assert_eq!(ids(&index, &query), vec![LEKTIE]);
}

#[test]
fn facets_cover_the_whole_result_set() {
    let index = index();
    let query = SearchQuery { limit: 1, ..q() };
    let r = index.search(&query).unwrap();
    assert_eq!(r.hits.len(), 1);
    assert_eq!(r.total, 8);
    let needs: Vec<(&str, u64)> = r.need_facets.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        needs,
        vec![
            ("debt-economy", 1),
            ("domestic-violence", 1),
            ("education-homework", 2), // top level: the sub-term counts for its parent
            ("employment", 1),
            ("leisure-sport", 2),
            ("mental-health", 1),
        ]
    );
    let langs: Vec<(&str, u64)> = r.language_facets.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(langs, vec![("ar", 2), ("da", 7), ("en", 3)]);

    // facets follow the filters
    let query = SearchQuery {
        language: Some("ar".into()),
        limit: 0,
        ..q()
    };
    let r = index.search(&query).unwrap();
    assert!(r.hits.is_empty());
    assert_eq!(r.total, 2);
    assert_eq!(r.need_facets.get("education-homework"), Some(&1));
    assert_eq!(r.need_facets.get("domestic-violence"), Some(&1));
    assert_eq!(r.need_facets.len(), 2);
}

#[test]
fn paging() {
    let index = index();
    let all = ids(&index, &q());
    assert_eq!(all.len(), 8);
    for offset in 0..9 {
        let page = SearchQuery {
            offset,
            limit: 3,
            ..q()
        };
        let r = index.search(&page).unwrap();
        assert_eq!(r.total, 8);
        let got: Vec<u128> = r.hits.iter().map(|h| h.id.as_u128()).collect();
        let end = (offset + 3).min(all.len());
        assert_eq!(got, all[offset.min(all.len())..end].to_vec(), "offset {offset}");
    }
    // paging over a text ranking is consistent too
    let tail = SearchQuery {
        offset: 1,
        ..text("rådgivning lektier fodbold")
    };
    let head_all = ids(&index, &text("rådgivning lektier fodbold"));
    assert!(head_all.len() >= 3, "{head_all:?}");
    assert_eq!(ids(&index, &tail), head_all[1..].to_vec());
}

#[test]
fn extreme_paging_values_do_not_panic() {
    let index = index();
    let r = index
        .search(&SearchQuery {
            offset: usize::MAX,
            limit: usize::MAX,
            ..q()
        })
        .unwrap();
    assert_eq!(r.total, 8);
    assert!(r.hits.is_empty());
    let r = index
        .search(&SearchQuery {
            limit: usize::MAX,
            ..text("lektie")
        })
        .unwrap();
    assert_eq!(r.hits.len(), r.total);
}

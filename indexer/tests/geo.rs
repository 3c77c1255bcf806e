mod common;

use common::*;
use indexer::{DocLocation, SearchIndex, SearchQuery, Vocabulary, haversine_km};

fn near(point: (f64, f64), radius_km: Option<f64>) -> SearchQuery {
    SearchQuery {
        point: Some(point),
        radius_km,
        ..q()
    }
}

#[test]
fn radius_cut_and_distance_order_without_text() {
    let index = index();
    let r = index.search(&near(GELLERUP, Some(2.0))).unwrap();
    let hits: Vec<u128> = r.hits.iter().map(|h| h.id.as_u128()).collect();
    // AREA contains the point (distance 0), LEKTIE ~100 m, SPORT (Brabrand) ~1.7 km;
    // CAFE (Hasle, ~3 km) and AARHUS_C (~4.5 km) are cut.
    assert_eq!(hits, vec![AREA, LEKTIE, SPORT]);
    assert_eq!(r.total, 3);
    let d: Vec<f64> = r.hits.iter().map(|h| h.distance_km.unwrap()).collect();
    assert_eq!(d[0], 0.0);
    assert!(d[1] > 0.05 && d[1] < 0.15, "{d:?}");
    let expected = haversine_km(GELLERUP.0, GELLERUP.1, BRABRAND.0, BRABRAND.1);
    assert!((d[2] - expected).abs() < 1e-9);
    assert!(expected < 2.0);
    assert!(r.hits[0].why.in_service_area);
    assert!(!r.hits[1].why.in_service_area);
    assert_eq!(r.hits[1].why.distance_km, r.hits[1].distance_km);
    assert_eq!(r.hits[1].nearest_location_id, Some(id(101)));
    assert_eq!(r.hits[0].nearest_location_id, None, "area-only service");
}

#[test]
fn exact_haversine_cut_at_the_boundary() {
    let index = index();
    let d = haversine_km(GELLERUP.0, GELLERUP.1, BRABRAND.0, BRABRAND.1);
    assert!(ids(&index, &near(GELLERUP, Some(d + 0.001))).contains(&SPORT));
    assert!(!ids(&index, &near(GELLERUP, Some(d - 0.001))).contains(&SPORT));
}

#[test]
fn nearest_location_is_reported() {
    let index = index();
    // DEBT has locations in Aarhus C (301) and Viby (302)
    let r = index.search(&near(VIBY, Some(1.0))).unwrap();
    let debt = r.hits.iter().find(|h| h.id.as_u128() == DEBT).expect("debt");
    assert_eq!(debt.nearest_location_id, Some(id(302)));
    assert!(debt.distance_km.unwrap() < 1e-6);
    let r = index.search(&near(AARHUS_C, Some(1.0))).unwrap();
    let debt = r.hits.iter().find(|h| h.id.as_u128() == DEBT).expect("debt");
    assert_eq!(debt.nearest_location_id, Some(id(301)));
}

#[test]
fn service_area_outside_point_is_not_a_hit() {
    let index = index();
    let r = index.search(&near(COPENHAGEN, Some(10.0))).unwrap();
    let hits: Vec<u128> = r.hits.iter().map(|h| h.id.as_u128()).collect();
    assert_eq!(hits, vec![NIGHT]);
}

#[test]
fn point_without_radius_sorts_all_by_distance() {
    let index = index();
    let r = index.search(&near(COPENHAGEN, None)).unwrap();
    assert_eq!(r.total, docs().len());
    assert_eq!(r.hits[0].id.as_u128(), NIGHT);
    let d: Vec<f64> = r.hits.iter().filter_map(|h| h.distance_km).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
}

#[test]
fn text_ranking_is_weighted_by_distance() {
    let index = index();
    // both mention "rådgivning"; near Viby DEBT is at 0 km and AREA contains the point
    let query = SearchQuery {
        text: Some("rådgivning".into()),
        ..near(VIBY, Some(10.0))
    };
    let r = index.search(&query).unwrap();
    let hits: Vec<u128> = r.hits.iter().map(|h| h.id.as_u128()).collect();
    assert_eq!(sorted(hits.clone()), sorted(vec![DEBT, AREA]));
    // same text far away (radius large): the score shrinks with distance
    let far = SearchQuery {
        text: Some("rådgivning".into()),
        ..near((56.40, 10.60), Some(100.0))
    };
    let far_r = index.search(&far).unwrap();
    let score = |r: &indexer::SearchResults, id: u128| r.hits.iter().find(|h| h.id.as_u128() == id).unwrap().score;
    assert!(score(&r, DEBT) > score(&far_r, DEBT));
    // the factor is 1 at 0 km and never below 0.3 of the pure text score (docs/ranking.md)
    let plain = index.search(&text("rådgivning")).unwrap();
    let base = score(&plain, DEBT);
    assert!((score(&r, DEBT) - base).abs() < 1e-3 * base);
    assert!(score(&far_r, DEBT) >= 0.3 * base - 1e-6);
    assert!(score(&far_r, DEBT) < 0.5 * base);
}

#[test]
fn invalid_geo_input_is_an_error_not_a_panic() {
    let index = index();
    assert!(index.search(&near((91.0, 0.0), Some(1.0))).is_err());
    assert!(index.search(&near((f64::NAN, 0.0), Some(1.0))).is_err());
    assert!(index.search(&near(GELLERUP, Some(-1.0))).is_err());
    // radius without a point is ignored
    let r = index
        .search(&SearchQuery {
            radius_km: Some(1.0),
            ..q()
        })
        .unwrap();
    assert_eq!(r.total, docs().len());
}

#[test]
fn confidential_locations_count_only_when_asked() {
    let index = SearchIndex::in_memory(needs(), &Vocabulary::default()).unwrap();
    let mut shelter = docs()[0].clone();
    shelter.locations = vec![DocLocation {
        id: id(900),
        latitude: GELLERUP.0,
        longitude: GELLERUP.1,
        confidential: true,
    }];
    index.apply(vec![shelter.clone()], &[], 1).unwrap();
    let mut query = near(GELLERUP, Some(2.0));
    let public = index.search(&query).unwrap();
    assert!(
        public.hits.is_empty(),
        "a hidden place is neither in range nor measured"
    );
    let unfiltered = index.search(&near(GELLERUP, None)).unwrap();
    let hit = unfiltered
        .hits
        .iter()
        .find(|h| h.id == shelter.id)
        .expect("still found without a radius");
    assert_eq!((hit.distance_km, hit.nearest_location_id), (None, None));
    query.include_confidential = true;
    let trusted = index.search(&query).unwrap();
    assert_eq!(trusted.hits[0].id, shelter.id);
    assert_eq!(trusted.hits[0].nearest_location_id, Some(id(900)));
    assert!(trusted.hits[0].distance_km.unwrap() < 0.01);
}

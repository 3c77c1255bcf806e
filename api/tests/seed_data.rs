//! The shipped data files: the demo directory is valid HSDS 3.0, uses only known need codes, lies in
//! Denmark; the taxonomy and gazetteer load; `generate` is deterministic.

use std::collections::HashSet;

use entities::taxonomy::Taxonomy;
use indexer::gazetteer::Gazetteer;
use serde_json::Value;

const SERVICE_SCHEMA: &str = include_str!("../../docs/hsds-3.0/compiled/service.json");

fn in_denmark(latitude: f64, longitude: f64) -> bool {
    (54.5..=57.8).contains(&latitude) && (8.0..=15.2).contains(&longitude)
}

fn demo() -> Vec<Value> {
    serde_json::from_str::<Value>(api::DEMO_DIRECTORY_JSON)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn every_demo_service_is_valid_hsds() {
    let schema: Value = serde_json::from_str(SERVICE_SCHEMA).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let mut count = 0;
    for organization in demo() {
        for service in organization["services"].as_array().unwrap() {
            let errors: Vec<String> = validator
                .iter_errors(service)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", service["name"]);
            count += 1;
        }
    }
    assert!(count >= 200, "the demo directory has {count} services");
}

#[test]
fn demo_needs_exist_and_places_lie_in_denmark() {
    let taxonomy = Taxonomy::builtin();
    let codes: HashSet<String> = taxonomy.flatten().into_iter().map(|(t, _)| t.code.clone()).collect();
    let batch = entities::hsds::parse(&Value::Array(demo()), &codes).expect("the demo directory imports");
    assert!(batch.organizations.len() >= 60);
    assert!(batch.locations.len() >= 120);
    let mut used = HashSet::new();
    for organization in demo() {
        for service in organization["services"].as_array().unwrap() {
            for attribute in service["attributes"].as_array().into_iter().flatten() {
                let code = attribute["taxonomy_term"]["code"].as_str().unwrap();
                if attribute["taxonomy_term"]["taxonomy"] == "brobygger-needs" {
                    assert!(codes.contains(code), "unknown need code {code}");
                    used.insert(entities::taxonomy::Taxonomy::top_level(code).to_owned());
                }
            }
        }
    }
    assert_eq!(
        used.len(),
        taxonomy.items.len(),
        "every top-level need has demo services"
    );
    for location in batch.locations.values() {
        let (lat, lon) = (location.latitude.unwrap(), location.longitude.unwrap());
        assert!(in_denmark(lat, lon), "{} at {lat},{lon}", location.name);
    }
    assert!(
        batch.locations.values().any(|l| l.confidential),
        "some shelters are confidential"
    );
}

#[test]
fn gazetteer_covers_aarhus_and_lies_in_denmark() {
    let gazetteer = Gazetteer::from_json(api::state::PLACES_JSON).unwrap();
    for place in gazetteer.places() {
        assert!(in_denmark(place.latitude, place.longitude), "{}", place.name);
    }
    for name in [
        "Gellerup",
        "Toveshøj",
        "Brabrand",
        "Hasle",
        "Herredsvang",
        "Bispehaven",
        "Frederiksbjerg",
        "Viby",
        "Tilst",
        "Skejby",
        "Risskov",
        "Lystrup",
        "Harlev",
        "Trige",
    ] {
        assert!(gazetteer.resolve(name).is_some(), "{name} is missing");
    }
    for postcode in [
        "8000", "8200", "8210", "8220", "8230", "8240", "8250", "8260", "8270", "8310", "8320", "8330", "8340", "8361",
        "8380", "8381", "8462", "8471", "8520", "8530", "8541",
    ] {
        assert_eq!(
            gazetteer.resolve(postcode).map(|p| p.postcode.as_deref()),
            Some(Some(postcode)),
            "{postcode}"
        );
    }
    let aarhus = ["Arhus", "aarhus", "Århus"].map(|q| gazetteer.resolve(q).map(|p| p.name.clone()));
    assert!(aarhus.iter().all(|p| p.is_some() && *p == aarhus[0]), "{aarhus:?}");
    assert!(gazetteer.places().iter().filter(|p| p.kind == "town").count() >= 60);
}

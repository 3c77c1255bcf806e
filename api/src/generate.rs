//! Deterministic synthetic HSDS 3.0 data for all of Denmark, for benchmarks and load tests.
//!
//! Organizations are placed in towns drawn by population (the gazetteer's towns), with one or two
//! locations scattered around the town centre, and one to five services each. Service names and
//! descriptions are built from the needs taxonomy's Danish words, so search has realistic text to chew on.
//! Output is NDJSON: one organization with its nested services per line, written as it is generated, so
//! a million services never sit in memory. The same `seed` gives the same bytes.

use std::io::Write;

use entities::taxonomy::{NeedTerm, Taxonomy};
use indexer::gazetteer::Place;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use uuid::Uuid;

const ORGANIZATION_KINDS: [&str; 6] = [
    "association",
    "ngo",
    "volunteer-group",
    "municipal",
    "housing-social",
    "other",
];
const ORGANIZATION_WORDS: [&str; 12] = [
    "Foreningen",
    "Netværket",
    "Huset",
    "Fællesskabet",
    "Frivilligcentret",
    "Bydelshuset",
    "Kulturforeningen",
    "Sammen om",
    "Værestedet",
    "Initiativet",
    "Klubben",
    "Rådgivningen",
];
const OPENINGS: [&str; 6] = [
    "Vi tilbyder",
    "Her kan du få",
    "Kom og få",
    "Gratis tilbud om",
    "Vi hjælper med",
    "Åbent tilbud:",
];
const AUDIENCES: [&str; 6] = [
    "for børn og unge",
    "for familier",
    "for voksne",
    "for kvinder",
    "for seniorer",
    "for nye i Danmark",
];
const EXTRA_LANGUAGES: [&str; 8] = ["ar", "so", "tr", "en", "uk", "fa", "ur", "ti"];
const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

/// Draws towns by population (towns without one count as small), as people live; the generator places
/// organizations with it and the benchmarks their queries.
pub struct TownPicker<'a> {
    towns: Vec<&'a Place>,
    cumulative: Vec<u64>,
}

impl<'a> TownPicker<'a> {
    pub fn new(places: &'a [Place]) -> Self {
        let towns: Vec<&Place> = places.iter().filter(|p| p.kind == "town").collect();
        let mut total = 0;
        let cumulative = towns
            .iter()
            .map(|t| {
                total += t.population.unwrap_or(5_000).max(1);
                total
            })
            .collect();
        Self { towns, cumulative }
    }

    pub fn pick(&self, rng: &mut StdRng) -> &'a Place {
        let total = *self.cumulative.last().unwrap_or(&1);
        let draw = rng.random_range(0..total);
        let index = self.cumulative.partition_point(|c| *c <= draw);
        self.towns[index.min(self.towns.len() - 1)]
    }
}

fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Typical ages per need: (minimum, maximum) or None for all ages.
fn ages(code: &str, rng: &mut StdRng) -> (Option<u32>, Option<u32>) {
    match code {
        "education-homework" => (Some(6), Some(*pick(rng, &[12, 16, 18, 25]))),
        "youth-mentor" => (Some(13), Some(*pick(rng, &[18, 25, 30]))),
        "leisure-sport" => (Some(*pick(rng, &[6, 10, 13])), Some(*pick(rng, &[17, 25, 99]))),
        "parenting" | "debt-economy" | "employment" | "housing" | "legal-advice" | "domestic-violence" => {
            (Some(18), None)
        }
        _ => match rng.random_range(0..4) {
            0 => (Some(18), None),
            1 => (Some(60), None),
            _ => (None, None),
        },
    }
}

fn service(
    rng: &mut StdRng,
    organization_id: Uuid,
    organization_name: &str,
    town: &Place,
    locations: &[Value],
    needs: &[&NeedTerm],
) -> Value {
    let id = uuid(rng);
    let need = *pick(rng, needs);
    let word = pick(rng, &need.synonyms.da).clone();
    let second = pick(rng, &need.synonyms.da).clone();
    let audience = *pick(rng, &AUDIENCES);
    let name = match rng.random_range(0..3) {
        0 => format!("{} i {}", capitalize(&word), town.name),
        1 => format!("{} {}", capitalize(&word), audience),
        _ => format!("{organization_name}: {}", need.label.da.to_lowercase()),
    };
    let description = format!(
        "{} {} og {} {audience} i {}. {}",
        pick(rng, &OPENINGS),
        word,
        second,
        town.name,
        need.description.as_ref().map(|d| d.da.as_str()).unwrap_or_default()
    );
    let mut codes = vec![need.code.clone()];
    if rng.random_bool(0.3) {
        let other = *pick(rng, needs);
        if other.code != need.code {
            codes.push(other.code.clone());
        }
    }
    if rng.random_bool(0.4) && !need.children.is_empty() {
        codes.push(pick(rng, &need.children).code.clone());
    }
    let attributes: Vec<Value> = codes
        .iter()
        .map(|code| {
            json!({"id": uuid(rng), "taxonomy_term_id": Uuid::new_v5(&Uuid::NAMESPACE_URL, code.as_bytes()), "value": "true",
                   "taxonomy_term": {"id": Uuid::new_v5(&Uuid::NAMESPACE_URL, code.as_bytes()), "code": code, "name": code, "description": code, "taxonomy": "brobygger-needs"}})
        })
        .collect();
    let mut languages = vec![json!({"id": uuid(rng), "code": "da", "name": "Dansk"})];
    for _ in 0..rng.random_range(0..3) {
        let code = *pick(rng, &EXTRA_LANGUAGES);
        if !languages.iter().any(|l| l["code"] == code) {
            languages.push(json!({"id": uuid(rng), "code": code, "name": code}));
        }
    }
    let schedules: Vec<Value> = (0..rng.random_range(0..3))
        .map(|_| {
            let opens = rng.random_range(8..19);
            let hours = rng.random_range(1..5);
            let day = *pick(rng, &DAYS);
            json!({"id": uuid(rng), "freq": "WEEKLY", "byday": day,
                   "opens_at": format!("{opens:02}:00"), "closes_at": format!("{:02}:00", (opens + hours).min(23))})
        })
        .collect();
    let free = rng.random_bool(0.85);
    let (minimum_age, maximum_age) = ages(&need.code, rng);
    let links: Vec<Value> = locations
        .iter()
        .take(rng.random_range(1..=locations.len()))
        .map(|location| json!({"id": uuid(rng), "service_id": id, "location_id": location["id"], "location": location}))
        .collect();
    let mut service = json!({
        "id": id,
        "organization_id": organization_id,
        "name": name,
        "description": description,
        "status": if rng.random_bool(0.97) { "active" } else { "inactive" },
        "email": format!("kontakt+{}@example.org", &id.simple().to_string()[..8]),
        "languages": languages,
        "schedules": schedules,
        "attributes": attributes,
        "service_at_locations": links,
        "cost_options": if free { json!([{"id": uuid(rng), "option": "Gratis", "amount": 0, "currency": "DKK"}]) } else { json!([]) },
    });
    if !free {
        service["fees_description"] = json!(format!("{} kr. pr. gang", rng.random_range(2..20) * 10));
    }
    if let Some(age) = minimum_age {
        service["minimum_age"] = json!(age);
    }
    if let Some(age) = maximum_age {
        service["maximum_age"] = json!(age);
    }
    service
}

/// Writes `services` synthetic services as NDJSON organizations to `out`; calls `progress` with the
/// number of services written so far every 1,000 services and at the end.
pub fn generate(
    services: u64,
    seed: u64,
    taxonomy: &Taxonomy,
    places: &[Place],
    out: &mut impl Write,
    progress: impl FnMut(u64),
) -> std::io::Result<()> {
    generate_changed(services, seed, 0, taxonomy, places, out, progress)
}

/// Whether service number `n` (from 0) is one of the `percent` % revised ones: spread evenly over the
/// file, exactly `services * percent / 100` of them (rounded down).
fn revised(n: u64, percent: u64) -> bool {
    (n + 1) * percent / 100 != n * percent / 100
}

/// The data of `generate` with the same seed, except that `change_percent` % of the services (spread
/// evenly) have a revised description: the file a re-import of an edited export would read.
pub fn generate_changed(
    services: u64,
    seed: u64,
    change_percent: u64,
    taxonomy: &Taxonomy,
    places: &[Place],
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> std::io::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let towns = TownPicker::new(places);
    let needs: Vec<&NeedTerm> = taxonomy.items.iter().collect();
    let mut written = 0;
    while written < services {
        let town = towns.pick(&mut rng);
        let organization_id = uuid(&mut rng);
        let organization_name = format!("{} {}", pick(&mut rng, &ORGANIZATION_WORDS), town.name);
        let locations: Vec<Value> = (0..rng.random_range(1..=2))
            .map(|i| {
                // About ±3 km around the town centre.
                let latitude = town.latitude + rng.random_range(-0.027..0.027);
                let longitude = town.longitude + rng.random_range(-0.045..0.045);
                let location_id = uuid(&mut rng);
                json!({"id": location_id, "location_type": "physical", "organization_id": organization_id,
                       "name": if i == 0 { organization_name.clone() } else { format!("{organization_name}, afdeling {}", i + 1) },
                       "latitude": (latitude * 1e5).round() / 1e5, "longitude": (longitude * 1e5).round() / 1e5,
                       "addresses": [{"id": uuid(&mut rng), "location_id": location_id,
                                      "address_1": format!("{} {}", pick(&mut rng, &["Skolegade", "Torvet", "Parkvej", "Stationsvej", "Søndergade", "Kirkevej"]), rng.random_range(1..120)),
                                      "city": town.name, "postal_code": town.postcode.clone().unwrap_or_default(),
                                      "state_province": "", "country": "DK", "address_type": "physical"}]})
            })
            .collect();
        let count = rng.random_range(1..=5).min(services - written);
        let organization_services: Vec<Value> = (written..written + count)
            .map(|n| {
                let mut service = service(&mut rng, organization_id, &organization_name, town, &locations, &needs);
                if revised(n, change_percent) {
                    let description = format!(
                        "{} Revideret udgave.",
                        service["description"].as_str().unwrap_or_default()
                    );
                    service["description"] = json!(description);
                }
                service
            })
            .collect();
        let organization = json!({
            "id": organization_id,
            "name": organization_name,
            "description": format!("Lokalt tilbud i {}.", town.name),
            "email": format!("info+{}@example.org", &organization_id.simple().to_string()[..8]),
            "x_kind": pick(&mut rng, &ORGANIZATION_KINDS),
            "services": organization_services,
        });
        serde_json::to_writer(&mut *out, &organization)?;
        out.write_all(b"\n")?;
        let before = written;
        written += count;
        if written / 1_000 != before / 1_000 {
            progress(written);
        }
    }
    progress(written);
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(services: u64, seed: u64) -> Vec<u8> {
        run_changed(services, seed, 0)
    }

    fn run_changed(services: u64, seed: u64, change_percent: u64) -> Vec<u8> {
        let gazetteer = indexer::gazetteer::Gazetteer::from_json(crate::state::PLACES_JSON).unwrap();
        let mut out = Vec::new();
        generate_changed(
            services,
            seed,
            change_percent,
            &Taxonomy::builtin(),
            gazetteer.places(),
            &mut out,
            |_| {},
        )
        .unwrap();
        out
    }

    /// The services of NDJSON output, in order.
    fn services_of(bytes: &[u8]) -> Vec<Value> {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .flat_map(|line| {
                serde_json::from_slice::<Value>(line).unwrap()["services"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .collect()
    }

    #[test]
    fn same_seed_same_bytes_and_exact_count() {
        let first = run(300, 7);
        assert_eq!(first, run(300, 7));
        assert_ne!(first, run(300, 8));
        assert_eq!(services_of(&first).len(), 300);
    }

    #[test]
    fn revisions_are_exact_and_keep_everything_else() {
        assert_eq!((0..1000).filter(|n| revised(*n, 10)).count(), 100);
        assert_eq!((0..1000).filter(|n| revised(*n, 0)).count(), 0);
        assert_eq!((0..1000).filter(|n| revised(*n, 100)).count(), 1000);
        let (before, after) = (services_of(&run(300, 7)), services_of(&run_changed(300, 7, 10)));
        assert_eq!(before.len(), after.len());
        let differing = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert_eq!(differing, 30);
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b["id"], a["id"]);
        }
    }

    #[test]
    fn generated_documents_import_cleanly() {
        let taxonomy = Taxonomy::builtin();
        let needs = taxonomy.flatten().into_iter().map(|(t, _)| t.code.clone()).collect();
        for line in run(200, 1).split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let document: Value = serde_json::from_slice(line).unwrap();
            let batch = entities::hsds::parse(&document, &needs).unwrap();
            for location in batch.locations.values() {
                let (lat, lon) = (location.latitude.unwrap(), location.longitude.unwrap());
                assert!(
                    (54.5..=57.8).contains(&lat) && (8.0..=15.2).contains(&lon),
                    "{lat},{lon} is outside Denmark"
                );
            }
        }
    }
}

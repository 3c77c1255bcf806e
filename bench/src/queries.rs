//! The fixed query mix, built deterministically from the needs taxonomy's words and the gazetteer's towns.

use api::generate::TownPicker;
use entities::taxonomy::Taxonomy;
use indexer::gazetteer::Place;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Danish words, no place.
    Text,
    /// Danish words near a town, 5–25 km.
    TextRadius,
    /// No text: a town, a radius, a need code and an age, nearest first.
    RadiusNeedAge,
    /// One Danish word with one typo (swap, drop or replace a letter), no place.
    Typo,
    /// English words, no place.
    English,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::Text,
        Class::TextRadius,
        Class::RadiusNeedAge,
        Class::Typo,
        Class::English,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Text => "text",
            Class::TextRadius => "text+radius",
            Class::RadiusNeedAge => "radius+need+age",
            Class::Typo => "typo",
            Class::English => "english",
        }
    }
}

/// One benchmark query, engine-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchQuery {
    pub class: Class,
    pub text: Option<String>,
    /// (lat, lon)
    pub point: Option<(f64, f64)>,
    pub radius_km: Option<f64>,
    pub need: Option<String>,
    pub age: Option<u32>,
    /// For printing: the town of the point.
    pub place: Option<String>,
}

impl BenchQuery {
    pub fn to_search(&self, limit: usize) -> indexer::SearchQuery {
        indexer::SearchQuery {
            text: self.text.clone(),
            point: self.point,
            radius_km: self.radius_km,
            needs: self.need.iter().cloned().collect(),
            age: self.age,
            limit,
            ..Default::default()
        }
    }
}

const RADII_KM: [f64; 3] = [5.0, 10.0, 25.0];
const AGES: [u32; 8] = [8, 12, 15, 17, 25, 35, 45, 67];

/// Misspells `word` with one edit: swap two neighbouring letters, drop one, or replace one.
pub fn misspell(word: &str, rng: &mut StdRng) -> String {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 3 {
        return word.to_owned();
    }
    for _ in 0..10 {
        let mut out = chars.clone();
        // keep the first letter: people rarely get it wrong
        let i = rng.random_range(1..chars.len() - 1);
        match rng.random_range(0..3) {
            0 => out.swap(i, i + 1),
            1 => {
                out.remove(i);
            }
            _ => {
                out[i] = *['e', 'a', 'i', 'n', 'r', 's']
                    .get(rng.random_range(0..6))
                    .unwrap_or(&'e')
            }
        }
        let typo: String = out.into_iter().collect();
        if typo != word {
            return typo;
        }
    }
    word.to_owned()
}

/// `count` queries, spread evenly over the classes in a fixed order; the same seed gives the same list.
pub fn build(taxonomy: &Taxonomy, places: &[Place], count: usize, seed: u64) -> Vec<BenchQuery> {
    let mut rng = StdRng::seed_from_u64(seed);
    let towns = TownPicker::new(places);
    let terms: Vec<_> = taxonomy.flatten().into_iter().map(|(t, _)| t).collect();
    let danish: Vec<String> = terms
        .iter()
        .flat_map(|t| std::iter::once(t.label.da.clone()).chain(t.synonyms.da.iter().cloned()))
        .map(|s| s.to_lowercase())
        .collect();
    let english: Vec<String> = terms
        .iter()
        .flat_map(|t| std::iter::once(t.label.en.clone()).chain(t.synonyms.en.iter().cloned()))
        .map(|s| s.to_lowercase())
        .collect();
    // single words long enough that a typo is still recognisable
    let mut long_words: Vec<String> = danish
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| w.chars().count() >= 6 && w.chars().all(char::is_alphabetic))
        .collect();
    long_words.sort();
    long_words.dedup();
    let codes: Vec<&str> = taxonomy.items.iter().map(|t| t.code.as_str()).collect();
    let pick = |rng: &mut StdRng, list: &[String]| list[rng.random_range(0..list.len())].clone();

    (0..count)
        .map(|i| {
            let class = Class::ALL[i % Class::ALL.len()];
            let mut q = BenchQuery {
                class,
                text: None,
                point: None,
                radius_km: None,
                need: None,
                age: None,
                place: None,
            };
            match class {
                Class::Text => q.text = Some(pick(&mut rng, &danish)),
                Class::English => q.text = Some(pick(&mut rng, &english)),
                Class::Typo => {
                    let word = pick(&mut rng, &long_words);
                    q.text = Some(misspell(&word, &mut rng));
                }
                Class::TextRadius | Class::RadiusNeedAge => {
                    let town = towns.pick(&mut rng);
                    q.point = Some((town.latitude, town.longitude));
                    q.place = Some(town.name.clone());
                    q.radius_km = Some(RADII_KM[rng.random_range(0..RADII_KM.len())]);
                    if class == Class::TextRadius {
                        q.text = Some(pick(&mut rng, &danish));
                    } else {
                        q.need = Some(codes[rng.random_range(0..codes.len())].to_owned());
                        q.age = Some(AGES[rng.random_range(0..AGES.len())]);
                    }
                }
            }
            q
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_queries_all_classes() {
        let taxonomy = Taxonomy::builtin();
        let gazetteer = indexer::gazetteer::Gazetteer::from_json(api::state::PLACES_JSON).unwrap();
        let a = build(&taxonomy, gazetteer.places(), 250, 1);
        assert_eq!(a, build(&taxonomy, gazetteer.places(), 250, 1));
        for class in Class::ALL {
            assert_eq!(a.iter().filter(|q| q.class == class).count(), 50);
        }
        assert!(
            a.iter()
                .filter(|q| q.class == Class::Typo)
                .all(|q| q.text.as_ref().unwrap().len() >= 5)
        );
    }

    #[test]
    fn misspelling_changes_the_word() {
        let mut rng = StdRng::seed_from_u64(3);
        for word in ["lektiehjælp", "gældsrådgivning", "psykolog"] {
            assert_ne!(misspell(word, &mut rng), word);
        }
    }
}

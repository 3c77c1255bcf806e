//! Place names → coordinates, for `near=` and `/v1/places`. Matching ignores case and Danish spelling
//! variants ("Arhus", "aarhus", "Århus" are one name) and accepts a postcode.

use serde::Deserialize;

use crate::analysis::danish_fold;

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Place {
    pub name: String,
    pub kind: String,
    pub postcode: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub population: Option<u64>,
}

#[derive(Deserialize)]
struct PlaceFile {
    items: Vec<Place>,
}

pub struct Gazetteer {
    places: Vec<Place>,
    /// Folded name and aliases per place, same order as `places`.
    keys: Vec<Vec<String>>,
}

fn fold(text: &str) -> String {
    let lower: String = text
        .trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    danish_fold(&lower.replace(['-', '.'], " "))
}

impl Gazetteer {
    pub fn from_json(json: &str) -> crate::Result<Self> {
        let file: PlaceFile = serde_json::from_str(json)?;
        Ok(Self::new(file.items))
    }

    pub fn new(places: Vec<Place>) -> Self {
        let keys = places
            .iter()
            .map(|p| std::iter::once(&p.name).chain(&p.aliases).map(|n| fold(n)).collect())
            .collect();
        Self { places, keys }
    }

    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// Places matching `query`, best first: postcode or exact name, then names starting with the query,
    /// then names containing it. Among equals, neighbourhoods before postcodes before towns.
    pub fn lookup(&self, query: &str, limit: usize) -> Vec<&Place> {
        let wanted = fold(query);
        if wanted.is_empty() {
            return Vec::new();
        }
        let digits = query.trim();
        let mut ranked: Vec<(u8, u8, usize)> = Vec::new();
        for (i, (place, keys)) in self.places.iter().zip(&self.keys).enumerate() {
            let exact_postcode = place.postcode.as_deref() == Some(digits) && place.kind == "postcode";
            let rank = if exact_postcode || keys.contains(&wanted) {
                Some(0)
            } else if place.postcode.as_deref() == Some(digits) {
                Some(1)
            } else if keys.iter().any(|k| k.starts_with(&wanted)) {
                Some(2)
            } else if wanted.len() >= 3 && keys.iter().any(|k| k.contains(&wanted)) {
                Some(3)
            } else {
                None
            };
            if let Some(rank) = rank {
                let kind = match place.kind.as_str() {
                    "neighbourhood" => 0,
                    "postcode" => 1,
                    _ => 2,
                };
                ranked.push((rank, kind, i));
            }
        }
        ranked.sort();
        ranked
            .into_iter()
            .take(limit)
            .map(|(_, _, i)| &self.places[i])
            .collect()
    }

    /// The single best place for `query`, if any.
    pub fn resolve(&self, query: &str) -> Option<&Place> {
        self.lookup(query, 1).into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(name: &str, kind: &str, postcode: Option<&str>, aliases: &[&str]) -> Place {
        Place {
            name: name.into(),
            kind: kind.into(),
            postcode: postcode.map(Into::into),
            latitude: 56.0,
            longitude: 10.0,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            population: None,
        }
    }

    #[test]
    fn spelling_variants_and_postcodes_resolve() {
        let gazetteer = Gazetteer::new(vec![
            place("Aarhus", "town", Some("8000"), &["Århus"]),
            place("Gellerup", "neighbourhood", Some("8220"), &["Gellerupparken"]),
            place("Brabrand", "postcode", Some("8220"), &[]),
        ]);
        for query in ["Arhus", "aarhus", "Århus", "AARHUS", " århus "] {
            assert_eq!(gazetteer.resolve(query).unwrap().name, "Aarhus", "{query}");
        }
        assert_eq!(gazetteer.resolve("8220").unwrap().name, "Brabrand");
        assert_eq!(gazetteer.resolve("gellerupparken").unwrap().name, "Gellerup");
        assert_eq!(gazetteer.resolve("geller").unwrap().name, "Gellerup");
        assert!(gazetteer.resolve("Xyzzy").is_none());
        assert!(gazetteer.resolve("").is_none());
    }
}

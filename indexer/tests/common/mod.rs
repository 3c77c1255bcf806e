//! A small fixture set of services around Aarhus.
#![allow(dead_code)]

use geo::{LineString, MultiPolygon, Polygon};
use indexer::{DocLocation, Gender, NeedTerms, SearchIndex, SearchQuery, ServiceDoc, Vocabulary, WeeklyOpening};
use uuid::Uuid;

pub const GELLERUP: (f64, f64) = (56.1543, 10.1380);
pub const BRABRAND: (f64, f64) = (56.1530, 10.1100);
pub const HASLE: (f64, f64) = (56.1745, 10.1710);
pub const AARHUS_C: (f64, f64) = (56.1572, 10.2107);
pub const VIBY: (f64, f64) = (56.1280, 10.1600);
pub const COPENHAGEN: (f64, f64) = (55.6761, 12.5683);

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub const LEKTIE: u128 = 1;
pub const CAFE: u128 = 2;
pub const DEBT: u128 = 3;
pub const SPORT: u128 = 4;
pub const NIGHT: u128 = 5;
pub const AREA: u128 = 6;
pub const SPURT: u128 = 7;
pub const JOBS: u128 = 8;

pub fn needs() -> Vec<NeedTerms> {
    let n = |code: &str, labels: &[&str], da: &[&str], en: &[&str]| NeedTerms {
        code: code.into(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        synonyms_da: da.iter().map(|s| s.to_string()).collect(),
        synonyms_en: en.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        n(
            "education-homework",
            &["Lektiehjælp", "Homework help"],
            &["lektier", "lektiecafé", "lektiehjælp"],
            &["homework", "tutoring"],
        ),
        n(
            "debt-economy",
            &["Gæld og økonomi", "Debt and money"],
            &["gæld", "gældsrådgivning", "budget"],
            &["debt", "debt advice", "money trouble"],
        ),
        n(
            "leisure-sport",
            &["Fritid og sport", "Leisure and sport"],
            &["fodbold", "idræt"],
            &["football", "sports"],
        ),
        n(
            "domestic-violence",
            &["Vold i hjemmet", "Domestic violence"],
            &["krisecenter", "vold"],
            &["shelter", "abuse"],
        ),
        n(
            "mental-health",
            &["Psykisk sundhed", "Mental health"],
            &["trivsel", "angst"],
            &["anxiety", "counselling"],
        ),
        n(
            "employment",
            &["Job og beskæftigelse", "Employment"],
            &["job", "arbejde"],
            &["job", "work"],
        ),
    ]
}

fn loc(n: u128, (lat, lon): (f64, f64)) -> DocLocation {
    DocLocation {
        id: id(n),
        latitude: lat,
        longitude: lon,
        confidential: false,
    }
}

fn open(weekday: u8, from_h: u16, to_h: u16) -> WeeklyOpening {
    WeeklyOpening {
        weekday,
        opens_minute: from_h * 60,
        closes_minute: to_h * 60,
        ..Default::default()
    }
}

fn base(n: u128, name: &str, description: &str) -> ServiceDoc {
    ServiceDoc {
        id: id(n),
        name: name.into(),
        description: description.into(),
        organization_id: id(1000 + n),
        organization_name: format!("Forening {n}"),
        eligibility: String::new(),
        needs: vec![],
        languages: vec!["da".into()],
        minimum_age: None,
        maximum_age: None,
        free: true,
        gender: Gender::Any,
        full: false,
        schedules: vec![],
        locations: vec![],
        service_area: None,
        payload: format!("payload {n}"),
    }
}

pub fn aarhus_area() -> MultiPolygon<f64> {
    let ring = LineString::from(vec![
        (9.95, 56.05),
        (10.35, 56.05),
        (10.35, 56.30),
        (9.95, 56.30),
        (9.95, 56.05),
    ]);
    MultiPolygon(vec![Polygon::new(ring, vec![])])
}

pub fn docs() -> Vec<ServiceDoc> {
    vec![
        ServiceDoc {
            needs: vec!["education-homework/homework-cafe".into()],
            languages: vec!["da".into(), "ar".into()],
            minimum_age: Some(6),
            maximum_age: Some(16),
            schedules: vec![open(1, 15, 18)],
            // ~100 m from the Gellerup point
            locations: vec![loc(101, (GELLERUP.0 + 0.0009, GELLERUP.1))],
            ..base(
                LEKTIE,
                "Lektiehjælp i Gellerup",
                "Frivillige hjælper børn og unge med lektier hver tirsdag.",
            )
        },
        ServiceDoc {
            needs: vec!["education-homework".into()],
            locations: vec![loc(201, HASLE)],
            ..base(CAFE, "Lektiecafé Hasle", "Lektiecafé for skoleelever.")
        },
        ServiceDoc {
            needs: vec!["debt-economy".into()],
            languages: vec!["da".into(), "en".into()],
            minimum_age: Some(18),
            schedules: vec![open(0, 10, 14), open(3, 16, 19)],
            locations: vec![loc(301, AARHUS_C), loc(302, VIBY)],
            eligibility: "Voksne med gæld".into(),
            ..base(
                DEBT,
                "Gældsrådgivning for alle",
                "Gratis økonomisk rådgivning om gæld og budget i Århus.",
            )
        },
        ServiceDoc {
            needs: vec!["leisure-sport".into()],
            minimum_age: Some(8),
            maximum_age: Some(14),
            free: false,
            schedules: vec![open(2, 17, 19)],
            locations: vec![loc(401, BRABRAND)],
            ..base(SPORT, "Fodbold for piger", "Sport og fællesskab for piger i Aarhus V.")
        },
        ServiceDoc {
            needs: vec!["domestic-violence".into()],
            languages: vec!["da".into(), "en".into(), "ar".into()],
            minimum_age: Some(18),
            // Friday 22:00 – Saturday 06:00
            schedules: vec![open(4, 22, 6)],
            locations: vec![loc(501, COPENHAGEN)],
            ..base(
                NIGHT,
                "Nattelefon for voldsramte",
                "Anonym telefon om natten for kvinder udsat for vold.",
            )
        },
        ServiceDoc {
            needs: vec!["mental-health".into()],
            service_area: Some(aarhus_area()),
            ..base(
                AREA,
                "Rådgivning i hele kommunen",
                "Telefonisk rådgivning om trivsel for familier.",
            )
        },
        ServiceDoc {
            needs: vec!["leisure-sport".into()],
            locations: vec![loc(701, AARHUS_C)],
            ..base(SPURT, "Spurt for seniorer", "Løb for ældre.")
        },
        ServiceDoc {
            needs: vec!["employment".into()],
            languages: vec!["en".into()],
            locations: vec![loc(801, AARHUS_C)],
            ..base(
                JOBS,
                "Job counselling for young people",
                "We help young people find jobs.",
            )
        },
    ]
}

pub fn index() -> SearchIndex {
    let index = SearchIndex::in_memory(needs(), &Vocabulary::default()).unwrap();
    index.apply(docs(), &[], 1).unwrap();
    index
}

pub fn q() -> SearchQuery {
    SearchQuery {
        limit: 20,
        ..Default::default()
    }
}

pub fn text(t: &str) -> SearchQuery {
    SearchQuery {
        text: Some(t.into()),
        ..q()
    }
}

pub fn ids(index: &SearchIndex, query: &SearchQuery) -> Vec<u128> {
    index
        .search(query)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.id.as_u128())
        .collect()
}

pub fn sorted(mut v: Vec<u128>) -> Vec<u128> {
    v.sort();
    v
}

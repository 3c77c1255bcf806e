//! The tantivy schema and the conversion of a [`ServiceDoc`] to a document.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use tantivy::TantivyDocument;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analysis::{DA, DA_PLAIN, EN, FOLD, WORDS};
use crate::geo_util::{area_bbox, encode_area};
use crate::{Error, Result, ServiceDoc};

pub const MINUTES_PER_DAY: u64 = 1440;
pub const MINUTES_PER_WEEK: u64 = 7 * MINUTES_PER_DAY;
/// `max_age` stored for services without an upper bound.
pub const OPEN_MAX_AGE: u64 = 1000;

/// Field handles.
#[derive(Clone, Debug)]
pub struct Fields {
    pub id: Field,
    /// The id's two halves as u64 fast fields (cheap uuid lookup in collectors).
    pub id_hi: Field,
    pub id_lo: Field,
    // text (Danish with compounds; stored for snippets)
    pub name: Field,
    pub description: Field,
    pub organization: Field,
    pub eligibility: Field,
    // text (Danish, unsplit, for boosted exact matches)
    pub name_plain: Field,
    pub description_plain: Field,
    // text (English analysis of the same text)
    pub name_en: Field,
    pub description_en: Field,
    // text (lowercased + folded, unstemmed, for typo tolerance)
    pub name_fold: Field,
    pub description_fold: Field,
    /// name and description lowercased only (no stemming, no folding; no scoring): the words as written, for
    /// spelling correction
    pub words: Field,
    // filters / facets
    pub need: Field,
    pub need_top: Field,
    pub lang: Field,
    pub free: Field,
    pub gender: Field,
    /// Capacity full (a fast field the ranking reads).
    pub full: Field,
    pub min_age: Field,
    pub max_age: Field,
    pub open_day: Field,
    pub open_span: Field,
    /// Each opening with its calendar, packed by [`crate::opening::pack`].
    pub open_rule: Field,
    // geo
    pub lat: Field,
    /// Coordinates of the non-confidential locations only.
    pub public_lat: Field,
    pub public_lon: Field,
    pub lon: Field,
    pub has_area: Field,
    pub area_lat_min: Field,
    pub area_lat_max: Field,
    pub area_lon_min: Field,
    pub area_lon_max: Field,
    pub area: Field,
    // stored-only
    pub meta: Field,
    pub payload: Field,
}

fn text(tokenizer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored { options.set_stored() } else { options }
}

pub fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        id_hi: b.add_u64_field("id_hi", FAST),
        id_lo: b.add_u64_field("id_lo", FAST),
        name: b.add_text_field("name", text(DA, true)),
        description: b.add_text_field("description", text(DA, true)),
        organization: b.add_text_field("organization", text(DA, false)),
        eligibility: b.add_text_field("eligibility", text(DA, false)),
        name_plain: b.add_text_field("name_plain", text(DA_PLAIN, false)),
        description_plain: b.add_text_field("description_plain", text(DA_PLAIN, false)),
        name_en: b.add_text_field("name_en", text(EN, false)),
        description_en: b.add_text_field("description_en", text(EN, false)),
        name_fold: b.add_text_field("name_fold", text(FOLD, false)),
        description_fold: b.add_text_field("description_fold", text(FOLD, false)),
        words: b.add_text_field(
            "words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(WORDS)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
        need: b.add_text_field("need", STRING | FAST),
        need_top: b.add_text_field("need_top", STRING | FAST),
        lang: b.add_text_field("lang", STRING | FAST),
        free: b.add_bool_field("free", INDEXED),
        gender: b.add_text_field("gender", STRING | FAST),
        full: b.add_bool_field("full", FAST),
        min_age: b.add_u64_field("min_age", INDEXED | FAST),
        max_age: b.add_u64_field("max_age", INDEXED | FAST),
        open_day: b.add_u64_field("open_day", INDEXED),
        open_span: b.add_u64_field("open_span", FAST),
        open_rule: b.add_u64_field("open_rule", FAST),
        lat: b.add_f64_field("lat", INDEXED | FAST),
        lon: b.add_f64_field("lon", INDEXED | FAST),
        public_lat: b.add_f64_field("public_lat", INDEXED | FAST),
        public_lon: b.add_f64_field("public_lon", INDEXED | FAST),
        has_area: b.add_bool_field("has_area", INDEXED | FAST),
        area_lat_min: b.add_f64_field("area_lat_min", INDEXED),
        area_lat_max: b.add_f64_field("area_lat_max", INDEXED),
        area_lon_min: b.add_f64_field("area_lon_min", INDEXED),
        area_lon_max: b.add_f64_field("area_lon_max", INDEXED),
        area: b.add_text_field("area", STORED),
        meta: b.add_text_field("meta", STORED),
        payload: b.add_text_field("payload", STORED),
    };
    (b.build(), fields)
}

/// Stored per-document data needed to build hits.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Meta {
    /// (location id, lat, lon), in the order of `ServiceDoc::locations`.
    /// (location id, lat, lon, confidential), in the order of `ServiceDoc::locations`.
    pub locations: Vec<(uuid::Uuid, f64, f64, bool)>,
    /// Need codes plus their ancestors.
    pub needs: Vec<String>,
}

/// A need code and its ancestors: "a/b/c" → ["a", "a/b", "a/b/c"].
pub fn need_with_ancestors(code: &str) -> impl Iterator<Item = &str> {
    code.match_indices('/')
        .map(move |(i, _)| &code[..i])
        .chain(std::iter::once(code))
}

/// Opening spans as absolute minutes of the week `[start, end)`, split at the week boundary.
pub fn opening_spans(doc: &ServiceDoc) -> Result<Vec<(u64, u64)>> {
    let mut spans = Vec::new();
    for o in &doc.schedules {
        if o.weekday > crate::opening::MONTH_DAY || u64::from(o.opens_minute) > MINUTES_PER_DAY {
            return Err(Error::InvalidDocument(format!(
                "opening weekday {} minute {} out of range",
                o.weekday, o.opens_minute
            )));
        }
        // A day of the month falls on any weekday: for weekday and time filters it may be open on each.
        let weekdays = if o.weekday == crate::opening::MONTH_DAY {
            0..7
        } else {
            o.weekday..o.weekday + 1
        };
        for weekday in weekdays {
            let closes = u64::from(o.closes_minute).min(MINUTES_PER_DAY);
            let start = u64::from(weekday) * MINUTES_PER_DAY + u64::from(o.opens_minute);
            let mut end = u64::from(weekday) * MINUTES_PER_DAY + closes;
            if closes <= u64::from(o.opens_minute) {
                end += MINUTES_PER_DAY; // closes after midnight
            }
            if end > MINUTES_PER_WEEK {
                spans.push((start, MINUTES_PER_WEEK));
                spans.push((0, end - MINUTES_PER_WEEK));
            } else {
                spans.push((start, end));
            }
        }
    }
    Ok(spans)
}

pub fn to_document(f: &Fields, doc: &ServiceDoc) -> Result<TantivyDocument> {
    let mut d = TantivyDocument::default();
    d.add_text(f.id, doc.id.to_string());
    let (hi, lo) = doc.id.as_u64_pair();
    d.add_u64(f.id_hi, hi);
    d.add_u64(f.id_lo, lo);
    for (fields, value) in [
        (&[f.name, f.name_plain, f.name_en, f.name_fold, f.words][..], &doc.name),
        (
            &[
                f.description,
                f.description_plain,
                f.description_en,
                f.description_fold,
                f.words,
            ][..],
            &doc.description,
        ),
        (&[f.organization][..], &doc.organization_name),
        (&[f.eligibility][..], &doc.eligibility),
    ] {
        for field in fields {
            d.add_text(*field, value);
        }
    }

    let mut needs = BTreeSet::new();
    let mut tops = BTreeSet::new();
    for code in &doc.needs {
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        needs.extend(need_with_ancestors(code).map(str::to_string));
        tops.insert(need_with_ancestors(code).next().unwrap_or(code).to_string());
    }
    for n in &needs {
        d.add_text(f.need, n);
    }
    for t in &tops {
        d.add_text(f.need_top, t);
    }
    let langs: BTreeSet<String> = doc
        .languages
        .iter()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    for l in &langs {
        d.add_text(f.lang, l);
    }
    d.add_bool(f.free, doc.free);
    d.add_text(f.gender, doc.gender.as_str());
    d.add_bool(f.full, doc.full);
    d.add_u64(f.min_age, doc.minimum_age.map_or(0, u64::from));
    d.add_u64(
        f.max_age,
        doc.maximum_age.map_or(OPEN_MAX_AGE, |a| u64::from(a).min(OPEN_MAX_AGE)),
    );

    for opening in &doc.schedules {
        d.add_u64(f.open_rule, crate::opening::pack(opening));
    }
    let spans = opening_spans(doc)?;
    let mut days = BTreeSet::new();
    for &(start, end) in &spans {
        d.add_u64(f.open_span, (start << 32) | end);
        let mut day = start / MINUTES_PER_DAY;
        while day * MINUTES_PER_DAY < end {
            days.insert(day % 7);
            day += 1;
        }
    }
    for day in days {
        d.add_u64(f.open_day, day);
    }

    for loc in &doc.locations {
        if !loc.latitude.is_finite()
            || !loc.longitude.is_finite()
            || loc.latitude.abs() > 90.0
            || loc.longitude.abs() > 180.0
        {
            return Err(Error::InvalidDocument(format!(
                "location {} has invalid coordinates",
                loc.id
            )));
        }
        d.add_f64(f.lat, loc.latitude);
        d.add_f64(f.lon, loc.longitude);
        if !loc.confidential {
            d.add_f64(f.public_lat, loc.latitude);
            d.add_f64(f.public_lon, loc.longitude);
        }
    }
    let area_bounds = doc.service_area.as_ref().and_then(area_bbox);
    d.add_bool(f.has_area, area_bounds.is_some());
    if let (Some(area), Some((a, b, c, e))) = (&doc.service_area, area_bounds) {
        d.add_f64(f.area_lat_min, a);
        d.add_f64(f.area_lat_max, b);
        d.add_f64(f.area_lon_min, c);
        d.add_f64(f.area_lon_max, e);
        d.add_text(f.area, encode_area(area)?);
    }

    let meta = Meta {
        locations: doc
            .locations
            .iter()
            .map(|l| (l.id, l.latitude, l.longitude, l.confidential))
            .collect(),
        needs: needs.into_iter().collect(),
    };
    d.add_text(f.meta, serde_json::to_string(&meta)?);
    d.add_text(f.payload, &doc.payload);
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors() {
        let v: Vec<_> = need_with_ancestors("a/b/c").collect();
        assert_eq!(v, ["a", "a/b", "a/b/c"]);
        let v: Vec<_> = need_with_ancestors("housing").collect();
        assert_eq!(v, ["housing"]);
    }
}

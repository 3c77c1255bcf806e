//! One collector computing, over the whole filtered result set: the exact geo cut, the final
//! ranking (bm25 × (0.5 + gauss(distance)) or distance), the total and the facets.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use geo::MultiPolygon;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::geo_util::{area_contains, gauss_decay, haversine_km};
use crate::{AgeGroup, Gender};

/// Added for each of the query's needs an offer is tagged with (summed: two needs of the family rank above one).
pub const NEED_WEIGHT: f64 = 0.8;
/// At most this much of a need's weight goes to how focused an offer is on the query's needs.
const FOCUS_SHARE: f64 = 0.2;
/// Share of a text score kept however far away an offer is; the rest decays with distance (see
/// `docs/ranking.md` for the curve).
pub const DISTANCE_FLOOR: f64 = 0.3;
/// A full offer keeps this share of its score: below an available offer that matches as well.
pub const FULL_FACTOR: f64 = 0.7;
/// Score factors of offers for the group the query names, and of offers for another group only.
const AUDIENCE_OWN: f64 = 1.25;
const AUDIENCE_OTHER: f64 = 0.4;
/// Age groups: offers up to `YOUNG_UP_TO` are for the young, from `SENIOR_FROM` for seniors, from `ADULT_FROM` for
/// adults only. An offer for the age group the query names counts ×`AGE_OWN`; an adults-only offer for a child
/// ×`AGE_OTHER_YOUNG` (the parent may still use it), a young people's offer for a senior ×`AGE_OTHER_SENIORS`.
const YOUNG_UP_TO: u64 = 25;
const ADULT_FROM: u64 = 18;
const SENIOR_FROM: u64 = 50;
const AGE_OWN: f64 = 1.25;
const AGE_OTHER_YOUNG: f64 = 0.7;
const AGE_OTHER_SENIORS: f64 = 0.4;
/// Without text, a full offer sorts as if it were this much farther away (behind every offer with room).
const FULL_BEHIND_KM: f64 = 100_000.0;

pub type Areas = Arc<HashMap<uuid::Uuid, MultiPolygon<f64>>>;

pub struct SearchCollector {
    pub point: Option<(f64, f64)>,
    pub radius_km: Option<f64>,
    /// Distance at which the gauss decay is 0.5.
    pub scale_km: f64,
    pub has_text: bool,
    pub areas: Areas,
    /// How many of the best candidates to keep (offset + limit).
    pub keep: usize,
    /// Measure distances to confidential locations too.
    pub include_confidential: bool,
    /// The group the query names: its offers rank higher, other groups' offers lower.
    pub audience: Option<Gender>,
    /// The age group the query names: offers for those ages rank higher, offers only for other ages lower.
    pub age_group: Option<AgeGroup>,
    /// Need codes the query's text names: each one an offer is tagged with adds [`NEED_WEIGHT`].
    pub query_needs: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Sort key, higher is better.
    pub rank: f64,
    pub score: f32,
    pub distance_km: Option<f64>,
    pub in_area: bool,
    pub address: DocAddress,
    /// Low half of the service id: equal ranks fall in the same order whatever segment a document is in.
    pub tiebreak: u64,
}

fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    b.rank
        .partial_cmp(&a.rank)
        .unwrap_or(Ordering::Equal)
        .then(a.tiebreak.cmp(&b.tiebreak))
        .then(a.address.cmp(&b.address))
}

fn keep_best(cands: &mut Vec<Candidate>, keep: usize) {
    if cands.len() > keep {
        if keep > 0 {
            cands.select_nth_unstable_by(keep - 1, compare);
        }
        cands.truncate(keep);
    }
}

#[derive(Default)]
pub struct Collected {
    pub total: usize,
    /// The best `keep` candidates, best first.
    pub candidates: Vec<Candidate>,
    pub needs: BTreeMap<String, u64>,
    pub languages: BTreeMap<String, u64>,
}

pub struct SegmentSearchCollector {
    segment_ord: SegmentOrdinal,
    point: Option<(f64, f64)>,
    radius_km: Option<f64>,
    scale_km: f64,
    has_text: bool,
    areas: Areas,
    keep: usize,
    lat: Option<Column<f64>>,
    lon: Option<Column<f64>>,
    has_area: Option<Column<bool>>,
    full: Option<Column<bool>>,
    /// Term ordinals (in this segment's `gender` column) of the audience's own offers and of other groups'.
    audience_ords: Option<(Option<u64>, Vec<u64>)>,
    gender: Option<StrColumn>,
    need: Option<StrColumn>,
    age_group: Option<AgeGroup>,
    min_age: Option<Column<u64>>,
    max_age: Option<Column<u64>>,
    /// Term ordinals of the query's needs (and sub-terms) in this segment's `need` column.
    need_ords: Vec<u64>,
    id_hi: Option<Column<u64>>,
    id_lo: Option<Column<u64>>,
    need_top: Option<StrColumn>,
    lang: Option<StrColumn>,
    need_counts: Vec<u64>,
    lang_counts: Vec<u64>,
    total: usize,
    candidates: Vec<Candidate>,
}

impl Collector for SearchCollector {
    type Fruit = Collected;
    type Child = SegmentSearchCollector;

    fn for_segment(
        &self,
        segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentSearchCollector> {
        let ff = segment.fast_fields();
        let need_top = ff.str("need_top")?;
        let lang = ff.str("lang")?;
        let gender = ff.str("gender")?;
        let need = ff.str("need")?;
        let audience_ords = match (self.audience, &gender) {
            (Some(audience), Some(column)) => {
                let ord = |g: Gender| column.dictionary().term_ord(g.as_str()).ok().flatten();
                let others = Gender::ALL
                    .into_iter()
                    .filter(|g| *g != audience && *g != Gender::Any)
                    .filter_map(ord)
                    .collect();
                Some((ord(audience), others))
            }
            _ => None,
        };
        Ok(SegmentSearchCollector {
            segment_ord,
            point: self.point,
            radius_km: self.radius_km,
            scale_km: self.scale_km,
            has_text: self.has_text,
            areas: self.areas.clone(),
            keep: self.keep,
            lat: ff.column_opt(if self.include_confidential { "lat" } else { "public_lat" })?,
            lon: ff.column_opt(if self.include_confidential { "lon" } else { "public_lon" })?,
            has_area: ff.column_opt("has_area")?,
            full: ff.column_opt("full")?,
            need_ords: match &need {
                Some(column) => self
                    .query_needs
                    .iter()
                    .filter_map(|code| column.dictionary().term_ord(code).ok().flatten())
                    .collect(),
                None => Vec::new(),
            },
            need,
            age_group: self.age_group,
            min_age: ff.column_opt("min_age")?,
            max_age: ff.column_opt("max_age")?,
            audience_ords,
            gender,
            id_hi: ff.column_opt("id_hi")?,
            id_lo: ff.column_opt("id_lo")?,
            need_counts: vec![0; need_top.as_ref().map_or(0, |c| c.num_terms())],
            lang_counts: vec![0; lang.as_ref().map_or(0, |c| c.num_terms())],
            need_top,
            lang,
            total: 0,
            candidates: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.has_text
    }

    fn merge_fruits(&self, fruits: Vec<Collected>) -> tantivy::Result<Collected> {
        let mut out = Collected::default();
        for fruit in fruits {
            out.total += fruit.total;
            out.candidates.extend(fruit.candidates);
            for (k, v) in fruit.needs {
                *out.needs.entry(k).or_default() += v;
            }
            for (k, v) in fruit.languages {
                *out.languages.entry(k).or_default() += v;
            }
        }
        keep_best(&mut out.candidates, self.keep);
        out.candidates.sort_by(compare);
        Ok(out)
    }
}

impl SegmentSearchCollector {
    /// How many of the query's needs the offer is tagged with, plus a share under 1 for how much of what the
    /// offer is tagged with they are (an offer about only this ranks above one that also does much else).
    fn needs_matched(&self, doc: DocId) -> f64 {
        match &self.need {
            Some(column) if !self.need_ords.is_empty() => {
                let (mut matched, mut all) = (0usize, 0usize);
                for ord in column.term_ords(doc) {
                    all += 1;
                    if self.need_ords.contains(&ord) {
                        matched += 1;
                    }
                }
                matched as f64 + FOCUS_SHARE * matched as f64 / all.max(1) as f64
            }
            _ => 0.0,
        }
    }

    fn age_factor(&self, doc: DocId) -> f64 {
        let Some(group) = self.age_group else { return 1.0 };
        let min = self.min_age.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
        let max = self.max_age.as_ref().and_then(|c| c.first(doc)).unwrap_or(u64::MAX);
        match group {
            AgeGroup::Young if max <= YOUNG_UP_TO => AGE_OWN,
            AgeGroup::Young if min >= ADULT_FROM => AGE_OTHER_YOUNG,
            AgeGroup::Seniors if min >= SENIOR_FROM => AGE_OWN,
            AgeGroup::Seniors if max <= YOUNG_UP_TO => AGE_OTHER_SENIORS,
            _ => 1.0,
        }
    }

    fn audience_factor(&self, doc: DocId) -> f64 {
        let (Some((own, others)), Some(column)) = (&self.audience_ords, &self.gender) else {
            return 1.0;
        };
        match column.term_ords(doc).next() {
            Some(ord) if Some(ord) == *own => AUDIENCE_OWN,
            Some(ord) if others.contains(&ord) => AUDIENCE_OTHER,
            _ => 1.0,
        }
    }

    /// (distance of the nearest location or 0 inside the service area, inside the area)
    fn distance(&self, doc: DocId, lat: f64, lon: f64) -> (Option<f64>, bool) {
        let mut best: Option<f64> = None;
        if let (Some(lats), Some(lons)) = (&self.lat, &self.lon) {
            for (a, b) in lats.values_for_doc(doc).zip(lons.values_for_doc(doc)) {
                let d = haversine_km(lat, lon, a, b);
                if best.is_none_or(|x| d < x) {
                    best = Some(d);
                }
            }
        }
        let has_area = self.has_area.as_ref().and_then(|c| c.first(doc)).unwrap_or(false);
        if has_area
            && best != Some(0.0)
            && let Some(id) = self.doc_id(doc)
            && let Some(area) = self.areas.get(&id)
            && area_contains(area, lat, lon)
        {
            return (Some(0.0), true);
        }
        (best, false)
    }

    fn doc_id(&self, doc: DocId) -> Option<uuid::Uuid> {
        let hi = self.id_hi.as_ref()?.first(doc)?;
        let lo = self.id_lo.as_ref()?.first(doc)?;
        Some(uuid::Uuid::from_u64_pair(hi, lo))
    }
}

fn str_counts(col: &Option<StrColumn>, counts: Vec<u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Some(col) = col else { return out };
    let mut s = String::new();
    for (ord, n) in counts.into_iter().enumerate() {
        if n > 0 && col.ord_to_str(ord as u64, &mut s).unwrap_or(false) {
            out.insert(s.clone(), n);
        }
    }
    out
}

impl SegmentCollector for SegmentSearchCollector {
    type Fruit = Collected;

    fn collect(&mut self, doc: DocId, score: Score) {
        let (distance_km, in_area) = match self.point {
            Some((lat, lon)) => self.distance(doc, lat, lon),
            None => (None, false),
        };
        if self.point.is_some()
            && let Some(radius) = self.radius_km
            && distance_km.is_none_or(|d| d > radius)
        {
            return;
        }
        self.total += 1;
        if let Some(col) = &self.need_top {
            for ord in col.term_ords(doc) {
                self.need_counts[ord as usize] += 1;
            }
        }
        if let Some(col) = &self.lang {
            for ord in col.term_ords(doc) {
                self.lang_counts[ord as usize] += 1;
            }
        }
        let decay = distance_km.map_or(0.0, |d| gauss_decay(d, self.scale_km));
        let full = self.full.as_ref().and_then(|c| c.first(doc)).unwrap_or(false);
        let (rank, score) = match (self.has_text, self.point) {
            (true, point) => {
                // the words' scores are saturated per word (see `SaturatedQuery`), each at most 1
                let mut s = f64::from(score) + NEED_WEIGHT * self.needs_matched(doc);
                if point.is_some() {
                    s *= DISTANCE_FLOOR + (1.0 - DISTANCE_FLOOR) * decay;
                }
                if full {
                    s *= FULL_FACTOR;
                }
                s *= self.audience_factor(doc) * self.age_factor(doc);
                (s, s as f32)
            }
            // nearest first; full offers after all offers with room
            (false, Some(_)) => (
                -distance_km.unwrap_or(f64::INFINITY) - if full { FULL_BEHIND_KM } else { 0.0 },
                decay as f32,
            ),
            (false, None) => (if full { -1.0 } else { 0.0 }, 0.0),
        };
        self.candidates.push(Candidate {
            rank,
            score,
            distance_km,
            in_area,
            address: DocAddress::new(self.segment_ord, doc),
            tiebreak: self.id_lo.as_ref().and_then(|c| c.first(doc)).unwrap_or(0),
        });
        if self.candidates.len() >= self.keep.max(64).saturating_mul(2) {
            keep_best(&mut self.candidates, self.keep);
        }
    }

    fn harvest(mut self) -> Collected {
        keep_best(&mut self.candidates, self.keep);
        Collected {
            total: self.total,
            candidates: self.candidates,
            needs: str_counts(&self.need_top, self.need_counts),
            languages: str_counts(&self.lang, self.lang_counts),
        }
    }
}

//! Keeps the search index equal to the database. The index follows the change log: after every write
//! (read-your-writes), once a second (writes by other processes on the same PostgreSQL), and at start. An
//! index that is missing, built with other analysis, or ahead of the database is rebuilt from scratch.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use entities::Store;
use entities::directory::{self as domain, RecordStatus, ServiceStatus, parse_byday, parse_clock};
use entities::taxonomy::Taxonomy;
use indexer::opening::{CalendarDay, LAST_WEEK, MONTH_DAY, SECOND_LAST_WEEK};
use indexer::{DocLocation, NeedTerms, SearchIndex, ServiceDoc, WeeklyOpening};
use uuid::Uuid;

const BATCH: u64 = 500;
/// Beyond this many unapplied changes the index is rebuilt instead of followed.
const REBUILD_AFTER_CHANGES: i64 = 20_000;

/// Need terms for query expansion, from the taxonomy (children included).
pub fn need_terms(taxonomy: &Taxonomy) -> Vec<NeedTerms> {
    taxonomy
        .flatten()
        .into_iter()
        .map(|(term, _)| NeedTerms {
            code: term.code.clone(),
            labels: vec![term.label.da.clone(), term.label.en.clone()],
            synonyms_da: term.synonyms.da.clone(),
            synonyms_en: term.synonyms.en.clone(),
        })
        .collect()
}

/// GeoJSON Polygon/MultiPolygon → geo MultiPolygon (lon/lat order as GeoJSON has it).
pub fn service_area(value: &serde_json::Value) -> Option<geo::MultiPolygon<f64>> {
    fn ring(value: &serde_json::Value) -> Option<geo::LineString<f64>> {
        let points = value
            .as_array()?
            .iter()
            .map(|p| Some(geo::coord! { x: p.get(0)?.as_f64()?, y: p.get(1)?.as_f64()? }))
            .collect::<Option<Vec<_>>>()?;
        Some(geo::LineString::new(points))
    }
    fn polygon(value: &serde_json::Value) -> Option<geo::Polygon<f64>> {
        let mut rings = value.as_array()?.iter().map(ring);
        let exterior = rings.next()??;
        Some(geo::Polygon::new(exterior, rings.collect::<Option<Vec<_>>>()?))
    }
    let coordinates = value.get("coordinates")?;
    match value.get("type")?.as_str()? {
        "Polygon" => Some(geo::MultiPolygon::new(vec![polygon(coordinates)?])),
        "MultiPolygon" => Some(geo::MultiPolygon::new(
            coordinates
                .as_array()?
                .iter()
                .map(polygon)
                .collect::<Option<Vec<_>>>()?,
        )),
        _ => None,
    }
}

/// What a search hit shows, stored in the index with the service so that search answers without touching
/// the database. It is written with every change, so it is as current as the index itself.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct HitCard {
    pub name: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub needs: Vec<String>,
    pub languages: Vec<String>,
    pub minimum_age: Option<u32>,
    pub maximum_age: Option<u32>,
    pub free: bool,
    /// `available`, `limited` or `full`, when known.
    #[serde(default)]
    pub capacity: Option<String>,
    /// Absent from cards written before services had it: for anyone.
    #[serde(default)]
    pub gender: domain::Gender,
    pub locations: Vec<CardLocation>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CardLocation {
    pub id: Uuid,
    pub name: String,
    /// The owner, whose partners may see a confidential address; None for a place without owner (cards
    /// written before places could be shared always name one).
    pub organization_id: Option<Uuid>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub address: Option<(String, String, String)>,
    pub confidential: bool,
}

/// Who an offer is for, as the search index spells it.
pub fn index_gender(gender: domain::Gender) -> indexer::Gender {
    match gender {
        domain::Gender::Any => indexer::Gender::Any,
        domain::Gender::Women => indexer::Gender::Women,
        domain::Gender::Men => indexer::Gender::Men,
        domain::Gender::Girls => indexer::Gender::Girls,
        domain::Gender::Boys => indexer::Gender::Boys,
    }
}

/// The search document of a service, or None when it must not be found (not active, organization inactive).
fn search_doc(
    service: &domain::Service,
    organizations: &HashMap<Uuid, domain::Organization>,
    locations: &HashMap<Uuid, domain::Location>,
) -> Option<ServiceDoc> {
    let data = &service.data;
    let organization = organizations.get(&data.organization_id)?;
    if data.status != ServiceStatus::Active || organization.data.status != RecordStatus::Active {
        return None;
    }
    let active_locations: Vec<&domain::Location> = data
        .location_ids
        .iter()
        .filter_map(|id| locations.get(id))
        .filter(|l| l.data.status == RecordStatus::Active)
        .collect();
    let card = HitCard {
        name: data.name.clone(),
        organization_id: data.organization_id,
        organization_name: organization.data.name.clone(),
        needs: data.needs.clone(),
        languages: data.languages.clone(),
        minimum_age: data.minimum_age,
        maximum_age: data.maximum_age,
        free: data.free,
        capacity: data.capacity.map(|c| c.as_str().to_owned()),
        gender: data.gender,
        locations: active_locations
            .iter()
            .map(|l| CardLocation {
                id: l.meta.id,
                name: l.data.name.clone(),
                organization_id: l.data.organization_id,
                latitude: l.data.latitude,
                longitude: l.data.longitude,
                address: l
                    .data
                    .address
                    .as_ref()
                    .map(|a| (a.address_1.clone(), a.postal_code.clone(), a.city.clone())),
                confidential: l.data.confidential,
            })
            .collect(),
    };
    let schedules = data.schedules.iter().flat_map(openings).collect();
    Some(ServiceDoc {
        id: service.meta.id,
        name: data.name.clone(),
        description: data.description.clone(),
        organization_id: data.organization_id,
        organization_name: organization.data.name.clone(),
        eligibility: data.eligibility_description.clone().unwrap_or_default(),
        needs: data.needs.clone(),
        languages: data.languages.clone(),
        minimum_age: data.minimum_age,
        maximum_age: data.maximum_age,
        free: data.free,
        gender: index_gender(data.gender),
        full: data.capacity == Some(domain::Capacity::Full),
        schedules,
        locations: active_locations
            .iter()
            .filter_map(|l| {
                Some(DocLocation {
                    id: l.meta.id,
                    latitude: l.data.latitude?,
                    longitude: l.data.longitude?,
                    confidential: l.data.confidential,
                })
            })
            .collect(),
        service_area: data.service_area.as_ref().and_then(service_area),
        payload: serde_json::to_string(&card).unwrap_or_default(),
    })
}

/// Search documents straight from a parsed HSDS batch, without a database: for benchmarks and tools that
/// measure the engine alone. Uses the same mapping as the live index.
pub fn documents_from_batch(batch: &entities::hsds::ImportBatch) -> Vec<ServiceDoc> {
    let stamp = |id: Uuid| domain::Meta {
        id,
        version: 1,
        created_at: chrono::DateTime::UNIX_EPOCH,
        updated_at: chrono::DateTime::UNIX_EPOCH,
    };
    let organizations: HashMap<Uuid, domain::Organization> = batch
        .organizations
        .iter()
        .map(|(id, data)| {
            (
                *id,
                domain::Stored {
                    meta: stamp(*id),
                    data: data.clone(),
                },
            )
        })
        .collect();
    let locations: HashMap<Uuid, domain::Location> = batch
        .locations
        .iter()
        .map(|(id, data)| {
            (
                *id,
                domain::Stored {
                    meta: stamp(*id),
                    data: data.clone(),
                },
            )
        })
        .collect();
    batch
        .services
        .iter()
        .filter_map(|(id, data)| {
            let service = domain::Stored {
                meta: stamp(*id),
                data: data.clone(),
            };
            search_doc(&service, &organizations, &locations)
        })
        .collect()
}

/// Loads services and what their documents need; returns documents to upsert and ids to delete.
async fn documents(store: &Store, ids: &[Uuid]) -> entities::Result<(Vec<ServiceDoc>, Vec<Uuid>)> {
    let services = store.services_by_id(ids).await?;
    let organization_ids: Vec<Uuid> = services.iter().map(|s| s.data.organization_id).collect();
    let location_ids: Vec<Uuid> = services
        .iter()
        .flat_map(|s| s.data.location_ids.iter().copied())
        .collect();
    let organizations = store.organizations_by_id(&organization_ids).await?;
    let locations = store.locations_by_id(&location_ids).await?;
    let mut upserts = Vec::new();
    let mut deletes: BTreeSet<Uuid> = ids.iter().copied().collect();
    for service in &services {
        if let Some(doc) = search_doc(service, &organizations, &locations) {
            deletes.remove(&doc.id);
            upserts.push(doc);
        }
    }
    Ok((upserts, deletes.into_iter().collect()))
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] entities::Error),
    #[error(transparent)]
    Index(#[from] indexer::Error),
    #[error("index task failed: {0}")]
    Task(String),
}

pub struct SearchSync {
    pub index: Arc<SearchIndex>,
    lock: tokio::sync::Mutex<()>,
}

impl SearchSync {
    pub fn new(index: SearchIndex) -> Self {
        Self {
            index: Arc::new(index),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Brings the index up to the end of the change log; rebuilds when it cannot catch up incrementally.
    pub async fn catch_up(&self, store: &Store) -> Result<(), SyncError> {
        self.catch_up_reporting(store, |_| {}).await
    }

    /// [`Self::catch_up`]; a rebuild reports the services indexed so far to `progress` (following the change
    /// log is quick and reports nothing).
    pub async fn catch_up_reporting(
        &self,
        store: &Store,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<(), SyncError> {
        let _guard = self.lock.lock().await;
        let latest = store.latest_seq().await?;
        match self.index.applied_seq() {
            // Far behind (a bulk import, a restored backup): one rebuild beats hundreds of small commits.
            Some(applied) if applied <= latest && latest - applied <= REBUILD_AFTER_CHANGES => {
                self.follow(store, applied).await
            }
            _ => self.rebuild_locked(store, progress).await,
        }
    }

    async fn follow(&self, store: &Store, mut after: i64) -> Result<(), SyncError> {
        loop {
            let changes = store.changes_after(after, 2 * BATCH).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(());
            };
            let mut services = BTreeSet::new();
            let mut organizations = Vec::new();
            for change in &changes {
                match change.entity.as_str() {
                    "service" => {
                        services.insert(change.id);
                    }
                    "organization" => organizations.push(change.id),
                    // Location writes also log their services.
                    _ => {}
                }
            }
            if !organizations.is_empty() {
                services.extend(store.service_ids_of_organizations(&organizations).await?);
            }
            let ids: Vec<Uuid> = services.into_iter().collect();
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for chunk in ids.chunks(BATCH as usize) {
                let (u, d) = documents(store, chunk).await?;
                upserts.extend(u);
                deletes.extend(d);
            }
            let index = self.index.clone();
            tokio::task::spawn_blocking(move || index.apply(upserts, &deletes, last))
                .await
                .map_err(|e| SyncError::Task(e.to_string()))??;
            after = last;
        }
    }

    /// Rebuilds the index from the database, streaming services in batches; `progress` gets the count so far.
    pub async fn rebuild(&self, store: &Store, progress: impl FnMut(u64) + Send + 'static) -> Result<(), SyncError> {
        let _guard = self.lock.lock().await;
        self.rebuild_locked(store, progress).await
    }

    async fn rebuild_locked(&self, store: &Store, progress: impl FnMut(u64) + Send + 'static) -> Result<(), SyncError> {
        let seq = store.latest_seq().await?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<ServiceDoc>(2 * BATCH as usize);
        let index = self.index.clone();
        let writer = tokio::task::spawn_blocking(move || {
            index.rebuild(std::iter::from_fn(|| receiver.blocking_recv()), seq, progress)
        });
        let mut after = None;
        let produced: Result<(), SyncError> = async {
            loop {
                let ids = store.service_ids_after(after, BATCH).await?;
                let Some(last) = ids.last().copied() else { break };
                let (docs, _) = documents(store, &ids).await?;
                for doc in docs {
                    // The writer only hangs up early on an error, which it reports below.
                    if sender.send(doc).await.is_err() {
                        break;
                    }
                }
                after = Some(last);
            }
            Ok(())
        }
        .await;
        drop(sender);
        let written = writer.await.map_err(|e| SyncError::Task(e.to_string()))?;
        produced?;
        // A change committed while rebuilding has a seq above `seq` and is applied by the next follow.
        written?;
        Ok(())
    }
}

/// Days since 2000-01-01, as the index counts dates (clamped to what it can hold).
pub fn day_number(date: NaiveDate) -> u16 {
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
    u16::try_from((date - epoch).num_days().clamp(0, i64::from(u16::MAX - 1))).unwrap_or(0)
}

/// A date as the index's "open on" filter takes it.
pub fn calendar_day(date: NaiveDate) -> CalendarDay {
    let day = domain::CalendarDay::of(date);
    CalendarDay {
        day_number: day_number(date),
        weekday: day.weekday as u8,
        month_day: day.month_day as u8,
        days_in_month: day.days_in_month as u8,
    }
}

/// The index's openings of a schedule: one per day code or day of the month, with its weeks of the month
/// and the dates it is valid between. Every `interval`th week is indexed as every week: "open on Saturdays"
/// includes "every other Saturday" (the words of the hit say which).
fn openings(schedule: &domain::Schedule) -> Vec<WeeklyOpening> {
    let opens = parse_clock(&schedule.opens_at).unwrap_or(0);
    let closes = parse_clock(&schedule.closes_at).unwrap_or(1440) % 1440;
    let (first, last) = schedule.window();
    let base = WeeklyOpening {
        opens_minute: opens,
        closes_minute: closes,
        first_day: first.map(day_number),
        last_day: last.map(day_number),
        ..Default::default()
    };
    let on_weekdays = schedule.byday.iter().filter_map(|day| {
        let (ordinal, weekday) = parse_byday(day)?;
        let weeks = match ordinal {
            None => 0,
            Some(n @ 1..=5) => 1 << (n - 1),
            Some(-1) => LAST_WEEK,
            Some(-2) => SECOND_LAST_WEEK,
            // The third-last and earlier are rare; indexed as every week, which errs on showing the offer.
            Some(_) => 0,
        };
        Some(WeeklyOpening {
            weekday: weekday as u8,
            weeks,
            ..base
        })
    });
    let month_days = match schedule.freq {
        domain::Freq::Monthly => &schedule.bymonthday[..],
        domain::Freq::Weekly => &[],
    };
    let on_month_days = month_days.iter().map(|&month_day| WeeklyOpening {
        weekday: MONTH_DAY,
        month_day,
        ..base
    });
    on_weekdays.chain(on_month_days).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index's packed openings say "open on this date" exactly when the schedule's own rule does.
    #[test]
    fn indexed_openings_agree_with_the_schedule_rule_on_every_day_of_two_years() {
        let date = |text: &str| -> NaiveDate { text.parse().unwrap() };
        let schedule = |freq, byday: &[&str], bymonthday: Vec<i8>| domain::Schedule {
            freq,
            interval: 1,
            byday: byday.iter().map(|d| d.to_string()).collect(),
            bymonthday,
            opens_at: "10:00".into(),
            closes_at: "12:00".into(),
            ..Default::default()
        };
        use domain::Freq::{Monthly, Weekly};
        let mut bounded = schedule(Weekly, &["TU", "SA"], vec![]);
        bounded.valid_from = Some(date("2026-03-01"));
        bounded.until = Some(date("2027-02-14"));
        let schedules = [
            schedule(Weekly, &["MO", "FR"], vec![]),
            schedule(Monthly, &["1SA", "3WE"], vec![]),
            schedule(Monthly, &["-1FR", "-2TH", "5SU"], vec![]),
            schedule(Monthly, &[], vec![1, 15, 31, -1, -3]),
            schedule(Monthly, &["2MO"], vec![10]),
            bounded,
        ];
        for schedule in &schedules {
            let packed: Vec<u64> = openings(schedule).iter().map(indexer::opening::pack).collect();
            let mut day = date("2026-01-01");
            while day < date("2028-01-01") {
                let asked = indexer::opening::OpenDate {
                    day: calendar_day(day),
                    before: calendar_day(day.pred_opt().unwrap()),
                };
                let indexed = packed.iter().any(|&rule| indexer::opening::open_on(rule, &asked, None));
                assert_eq!(indexed, schedule.occurs_on(day), "{day}: {schedule:?}");
                day = day.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn geojson_polygons_convert() {
        let polygon = serde_json::json!({"type": "Polygon", "coordinates": [[[10.0, 56.0], [10.2, 56.0], [10.2, 56.2], [10.0, 56.0]]]});
        assert_eq!(service_area(&polygon).unwrap().0.len(), 1);
        let multi = serde_json::json!({"type": "MultiPolygon", "coordinates": [[[[10.0, 56.0], [10.2, 56.0], [10.2, 56.2], [10.0, 56.0]]]]});
        assert_eq!(service_area(&multi).unwrap().0.len(), 1);
        assert!(service_area(&serde_json::json!({"type": "Point", "coordinates": [10.0, 56.0]})).is_none());
    }

    #[test]
    fn genders_are_spelled_alike_in_the_directory_and_the_index() {
        for gender in domain::Gender::ALL {
            assert_eq!(index_gender(*gender).as_str(), gender.as_str());
        }
        assert_eq!(domain::Gender::ALL.len(), indexer::Gender::ALL.len());
    }

    #[test]
    fn a_card_without_gender_is_for_anyone() {
        let card: HitCard = serde_json::from_value(serde_json::json!({
            "name": "Lektiehjælp", "organization_id": Uuid::nil(), "organization_name": "Foreningen",
            "needs": [], "languages": [], "minimum_age": null, "maximum_age": null, "free": true, "locations": []
        }))
        .unwrap();
        assert_eq!(card.gender, domain::Gender::Any);
    }
}

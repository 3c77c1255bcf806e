//! Referrals: a caseworker refers a family to a service, the receiving partner reports what became of it,
//! and the municipality reads the outcomes as aggregates.
//!
//! - The family is named only by `family_ref`, the caseworker's own case reference, stored as
//!   HMAC-SHA256(server secret, family_ref): the same family links across referrals without being
//!   identifiable, and nobody without the secret can test a guess.
//! - Free text (message, family_ref, transition notes) containing a CPR number is refused and not stored.
//! - Every status change goes through [`crate::referral_rules::check_transition`] and appends an event.
//! - Concurrent changes: every transition updates the row `WHERE version = <read version>`, so of two
//!   writers that read the same version exactly one succeeds; the other gets [`Error::VersionMismatch`].

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::Sha256;
use uuid::Uuid;

use crate::audit::{Accessor, insert_audit};
use crate::cpr::contains_cpr;
use crate::directory::{Capacity, Checker, ServiceStatus};
use crate::error::{Error, FieldError, Result};
use crate::referral_rules::{Actor, REASON_MAX_CHARS, ReferralStatus, RejectionReason, check_transition};
use crate::store::{Page, Store, stored};
use crate::tables::{
    location, need, organization, referral, referral_event, referral_need, service, service_at_location,
};
use crate::values::FamilyRef;

/// The longest referral message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 2000;
/// The longest note on a status change, in characters.
pub const NOTE_MAX_CHARS: usize = 2000;
/// The longest `family_ref`, in characters.
pub use crate::values::FAMILY_REF_MAX_CHARS;
/// The most needs one referral may name.
pub const MAX_NEEDS: usize = 20;
/// How the family prefers to be contacted.
pub const CONTACT_PREFERENCES: [&str; 6] = ["phone", "sms", "email", "letter", "in-person", "via-caseworker"];

pub(crate) const CPR_REFUSED: &str = "must not contain a CPR number (refer families by your own case reference)";

/// The server secret that keys the `family_ref` hashes. Never printed.
#[derive(Clone)]
pub struct FamilySecret(Vec<u8>);

impl std::fmt::Debug for FamilySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FamilySecret(..)")
    }
}

impl FamilySecret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A fresh random 256-bit secret.
    pub fn random() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// HMAC-SHA256(secret, family_ref) in lowercase hex. Surrounding whitespace of the reference is ignored.
    pub fn hash(&self, family_ref: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(family_ref.trim().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// How urgent a referral is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Priority {
    Routine,
    Urgent,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Routine => "routine",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "routine" => Some(Priority::Routine),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }
}

/// The family's consent to the referral: when it was given and what it covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Consent {
    pub given_at: DateTime<Utc>,
    pub scope: String,
}

/// The family reference (a case reference, never a CPR number) and the family's consent, as referrals and family
/// plans take them.
pub(crate) fn check_family(check: &mut Checker, family_ref: &str, consent: Option<&Consent>, now: DateTime<Utc>) {
    if let Err(reason) = FamilyRef::parse(family_ref) {
        check.fail("family_ref", reason);
    }
    match consent {
        None => check.fail("consent", "the family's consent is required (given_at, scope)"),
        Some(consent) => {
            check.text("consent/scope", &consent.scope, 1, REASON_MAX_CHARS);
            if contains_cpr(&consent.scope) {
                check.fail("consent/scope", CPR_REFUSED);
            }
            if consent.given_at > now + Duration::minutes(5) {
                check.fail("consent/given_at", "must not be in the future");
            }
        }
    }
}

/// A referral as a caseworker sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewReferral {
    pub service_id: Uuid,
    /// The caseworker's own case reference; stored only as a keyed hash.
    pub family_ref: String,
    /// Need codes; empty means the service's own needs.
    pub needs: Vec<String>,
    pub message: Option<String>,
    /// Required: a referral without consent is refused.
    pub consent: Option<Consent>,
    pub preferred_language: Option<String>,
    pub contact_preference: Option<String>,
    pub priority: Priority,
}

impl NewReferral {
    /// Everything that needs no database: lengths, CPR numbers, consent, codes.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), Vec<FieldError>> {
        let mut check = Checker::default();
        check_family(&mut check, &self.family_ref, self.consent.as_ref(), now);
        if let Some(message) = &self.message {
            check.text("message", message, 0, MESSAGE_MAX_CHARS);
            if contains_cpr(message) {
                check.fail("message", CPR_REFUSED);
            }
        }
        if self.needs.len() > MAX_NEEDS {
            check.fail("needs", format!("at most {MAX_NEEDS} entries"));
        }
        if let Some(language) = &self.preferred_language
            && !(language.len() == 2 && language.chars().all(|c| c.is_ascii_lowercase()))
        {
            check.fail("preferred_language", "must be an ISO 639-1 code such as `da` or `ar`");
        }
        if let Some(preference) = &self.contact_preference
            && !CONTACT_PREFERENCES.contains(&preference.as_str())
        {
            check.fail(
                "contact_preference",
                format!("must be one of {}", CONTACT_PREFERENCES.join(", ")),
            );
        }
        check.into_result()
    }
}

/// A stored referral.
#[derive(Clone, Debug, PartialEq)]
pub struct Referral {
    pub id: Uuid,
    pub service_id: Uuid,
    /// The receiving organization (offers the service).
    pub organization_id: Uuid,
    /// The sending caseworker: a key's id or a person's id.
    pub sender_key_id: Uuid,
    /// The sending person's team, when sent from the web app by a caseworker in a team.
    pub sender_team: Option<String>,
    /// HMAC of the family_ref; None after purge.
    pub family_hash: Option<String>,
    pub needs: Vec<String>,
    /// None when not given or after purge.
    pub message: Option<String>,
    pub consent: Consent,
    pub preferred_language: Option<String>,
    pub contact_preference: Option<String>,
    pub priority: Priority,
    pub status: ReferralStatus,
    pub held_from: Option<ReferralStatus>,
    pub rejection_reason: Option<RejectionReason>,
    pub area: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub purged_at: Option<DateTime<Utc>>,
}

/// One status change of a referral; the first event of every referral has `from: None`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferralEvent {
    pub id: i64,
    pub referral_id: Uuid,
    pub from: Option<ReferralStatus>,
    pub to: ReferralStatus,
    pub actor: Actor,
    pub role: String,
    pub key_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Who asks for a status change: the actor the rules know, plus the key for the event record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActingKey {
    pub actor: Actor,
    pub role: String,
    pub key_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
}

impl ActingKey {
    fn system() -> Self {
        ActingKey {
            actor: Actor::System,
            role: "system".into(),
            key_id: None,
            organization_id: None,
        }
    }
}

/// A move of a referral: where to, and the reason and note the mover gives.
#[derive(Clone, Debug)]
pub struct Move {
    pub to: ReferralStatus,
    pub reason: Option<String>,
    pub note: Option<String>,
}

/// Filters of the referral list; access filters (sender, organization) are set by the API from the caller.
#[derive(Clone, Debug, Default)]
pub struct ReferralFilter {
    /// Sent by this key or person; with `sender_team` too: sent by it or by anyone of that team.
    pub sender_key_id: Option<Uuid>,
    pub sender_team: Option<String>,
    pub organization_id: Option<Uuid>,
    pub service_id: Option<Uuid>,
    pub status: Option<ReferralStatus>,
    pub family_hash: Option<String>,
}

/// What a referral report groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportGroupBy {
    /// Each need code of a referral (a referral naming two needs counts in both groups).
    Need,
    /// The receiving organization.
    Organization,
    /// The current status.
    Status,
    /// The postal code of the service's first location when the referral was made.
    Area,
    /// The month the referral was made, `YYYY-MM` (UTC).
    Month,
}

/// Median and 90th percentile (nearest rank) of a duration in hours; None without data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HoursStats {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// The aggregates of one group of referrals. Aggregates only: no family hash, no message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportRow {
    pub key: String,
    /// The organization's name or the need's Danish label, when grouping by those.
    pub label: Option<String>,
    pub count: u64,
    /// Referrals that were accepted at some point (including those since completed or failed).
    pub accepted: u64,
    pub rejected: u64,
    /// Rejections per reason code, every code of [`RejectionReason::ALL`] present.
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Not closed yet.
    pub open: u64,
    /// From creation to the receiving partner's first move past requested/received.
    pub first_response_hours: HoursStats,
    /// From creation to completion, for completed referrals.
    pub completion_hours: HoursStats,
}

/// Referrals created in `[from, to)`, grouped.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferralReport {
    pub groups: Vec<ReportRow>,
    pub total: ReportRow,
}

fn hours_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 3_600_000.0
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Median (mean of the two middle values for an even count) and nearest-rank 90th percentile.
pub fn hours_stats(mut values: Vec<f64>) -> HoursStats {
    if values.is_empty() {
        return HoursStats::default();
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
    HoursStats {
        median: Some(round2(median)),
        p90: Some(round2(values[rank - 1])),
    }
}

#[derive(Default)]
struct Accumulator {
    count: u64,
    accepted: u64,
    rejected: BTreeMap<String, u64>,
    completed: u64,
    failed: u64,
    cancelled: u64,
    open: u64,
    first_response: Vec<f64>,
    completion: Vec<f64>,
}

impl Accumulator {
    fn add(&mut self, r: &referral::Model) {
        self.count += 1;
        if r.accepted_at.is_some() {
            self.accepted += 1;
        }
        match ReferralStatus::parse(&r.status) {
            Ok(ReferralStatus::Rejected) => {
                let reason = r.rejection_reason.clone().unwrap_or_else(|| "other".into());
                *self.rejected.entry(reason).or_default() += 1;
            }
            Ok(ReferralStatus::Completed) => self.completed += 1,
            Ok(ReferralStatus::Failed) => self.failed += 1,
            Ok(ReferralStatus::Cancelled) => self.cancelled += 1,
            _ => self.open += 1,
        }
        if let Some(at) = r.first_response_at {
            self.first_response.push(hours_between(r.created_at, at));
        }
        if r.status == ReferralStatus::Completed.as_str()
            && let Some(at) = r.closed_at
        {
            self.completion.push(hours_between(r.created_at, at));
        }
    }

    fn finish(self, key: String, label: Option<String>) -> ReportRow {
        let mut rejected_by_reason: BTreeMap<String, u64> = RejectionReason::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), 0))
            .collect();
        for (reason, n) in &self.rejected {
            *rejected_by_reason.entry(reason.clone()).or_default() += n;
        }
        ReportRow {
            key,
            label,
            count: self.count,
            accepted: self.accepted,
            rejected: self.rejected.values().sum(),
            rejected_by_reason,
            completed: self.completed,
            failed: self.failed,
            cancelled: self.cancelled,
            open: self.open,
            first_response_hours: hours_stats(self.first_response),
            completion_hours: hours_stats(self.completion),
        }
    }
}

/// A stored status; only this module writes the column, so an unknown one is a corrupt row.
fn parse_status(id: impl std::fmt::Display, column: &str, text: &str) -> Result<ReferralStatus> {
    stored(|t| ReferralStatus::parse(t).ok(), "referral", id, column, text)
}

fn parse_actor(id: i64, text: &str) -> Result<Actor> {
    stored(
        |t| Actor::ALL.into_iter().find(|a| a.as_str() == t),
        "referral_event",
        id,
        "actor",
        text,
    )
}

fn referral_from_row(row: referral::Model, needs: Vec<String>) -> Result<Referral> {
    let id = row.id;
    Ok(Referral {
        id: row.id,
        service_id: row.service_id,
        organization_id: row.organization_id,
        sender_key_id: row.sender_key_id,
        sender_team: row.sender_team,
        family_hash: row.family_hash,
        needs,
        message: row.message,
        consent: Consent {
            given_at: row.consent_given_at,
            scope: row.consent_scope,
        },
        preferred_language: row.preferred_language,
        contact_preference: row.contact_preference,
        priority: stored(Priority::parse, "referral", id, "priority", &row.priority)?,
        status: parse_status(id, "status", &row.status)?,
        held_from: row
            .held_from
            .as_deref()
            .map(|held| parse_status(id, "held_from", held))
            .transpose()?,
        rejection_reason: row
            .rejection_reason
            .as_deref()
            .map(|reason| stored(RejectionReason::parse, "referral", id, "rejection_reason", reason))
            .transpose()?,
        area: row.area,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        first_response_at: row.first_response_at,
        accepted_at: row.accepted_at,
        closed_at: row.closed_at,
        purged_at: row.purged_at,
    })
}

fn event_from_row(row: referral_event::Model) -> Result<ReferralEvent> {
    Ok(ReferralEvent {
        id: row.id,
        referral_id: row.referral_id,
        from: row
            .from_status
            .as_deref()
            .map(|from| parse_status(row.id, "from_status", from))
            .transpose()?,
        to: parse_status(row.id, "to_status", &row.to_status)?,
        actor: parse_actor(row.id, &row.actor)?,
        role: row.role,
        key_id: row.key_id,
        organization_id: row.organization_id,
        reason: row.reason,
        note: row.note,
        at: row.at,
    })
}

fn referral_not_found(id: Uuid) -> Error {
    Error::NotFound {
        entity: "referral",
        id: id.to_string(),
    }
}

async fn needs_of<C: sea_orm::ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<String>>> {
    let mut needs: HashMap<Uuid, Vec<String>> = HashMap::new();
    // Chunked: SQLite limits the number of bound parameters.
    for chunk in ids.chunks(500) {
        for row in referral_need::Entity::find()
            .filter(referral_need::Column::ReferralId.is_in(chunk.iter().copied()))
            .order_by_asc(referral_need::Column::NeedCode)
            .all(db)
            .await?
        {
            needs.entry(row.referral_id).or_default().push(row.need_code);
        }
    }
    Ok(needs)
}

async fn load_referral<C: sea_orm::ConnectionTrait>(db: &C, id: Uuid) -> Result<Referral> {
    let row = referral::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| referral_not_found(id))?;
    let mut needs = needs_of(db, &[id]).await?;
    referral_from_row(row, needs.remove(&id).unwrap_or_default())
}

#[allow(clippy::too_many_arguments)]
async fn append_event(
    txn: &DatabaseTransaction,
    referral_id: Uuid,
    from: Option<ReferralStatus>,
    to: ReferralStatus,
    by: &ActingKey,
    reason: Option<String>,
    note: Option<String>,
    at: DateTime<Utc>,
) -> Result<()> {
    referral_event::ActiveModel {
        referral_id: Set(referral_id),
        from_status: Set(from.map(|s| s.as_str().to_owned())),
        to_status: Set(to.as_str().to_owned()),
        actor: Set(by.actor.as_str().to_owned()),
        role: Set(by.role.clone()),
        key_id: Set(by.key_id),
        organization_id: Set(by.organization_id),
        reason: Set(reason),
        note: Set(note),
        at: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Applies one checked status change to the row read at `current.version`; fails with
/// [`Error::VersionMismatch`] when another writer changed the row since.
async fn apply_transition(
    txn: &DatabaseTransaction,
    current: &referral::Model,
    to: ReferralStatus,
    by: &ActingKey,
    reason: Option<String>,
    note: Option<String>,
) -> Result<()> {
    let from = parse_status(current.id, "status", &current.status)?;
    let held_from = current
        .held_from
        .as_deref()
        .map(|held| parse_status(current.id, "held_from", held))
        .transpose()?;
    check_transition(from, to, by.actor, held_from, reason.as_deref())?;
    let at = Utc::now();
    let mut change = referral::ActiveModel {
        status: Set(to.as_str().to_owned()),
        held_from: Set(if to == ReferralStatus::OnHold {
            Some(from.as_str().to_owned())
        } else {
            None
        }),
        version: Set(current.version + 1),
        updated_at: Set(at),
        ..Default::default()
    };
    if to == ReferralStatus::Rejected {
        change.rejection_reason = Set(reason.clone());
    }
    let responds = by.actor == Actor::ReceivingPartner
        && matches!(from, ReferralStatus::Requested | ReferralStatus::Received)
        && to != ReferralStatus::Received
        && to != ReferralStatus::Cancelled;
    if responds && current.first_response_at.is_none() {
        change.first_response_at = Set(Some(at));
    }
    if to == ReferralStatus::Accepted && current.accepted_at.is_none() {
        change.accepted_at = Set(Some(at));
    }
    if to.is_closed() {
        change.closed_at = Set(Some(at));
    }
    let updated = referral::Entity::update_many()
        .set(change)
        .filter(referral::Column::Id.eq(current.id))
        .filter(referral::Column::Version.eq(current.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        let now_current = referral::Entity::find_by_id(current.id)
            .one(txn)
            .await?
            .ok_or_else(|| referral_not_found(current.id))?;
        return Err(Error::VersionMismatch {
            entity: "referral",
            current: now_current.version,
        });
    }
    append_event(txn, current.id, Some(from), to, by, reason, note, at).await
}

/// The referrals matching `filter`.
fn filtered(filter: &ReferralFilter) -> sea_orm::Select<referral::Entity> {
    let mut query = referral::Entity::find();
    match (filter.sender_key_id, &filter.sender_team) {
        (Some(key), Some(team)) => {
            query = query.filter(
                sea_orm::Condition::any()
                    .add(referral::Column::SenderKeyId.eq(key))
                    .add(referral::Column::SenderTeam.eq(team.clone())),
            )
        }
        (Some(key), None) => query = query.filter(referral::Column::SenderKeyId.eq(key)),
        (None, Some(team)) => query = query.filter(referral::Column::SenderTeam.eq(team.clone())),
        (None, None) => {}
    }
    if let Some(org) = filter.organization_id {
        query = query.filter(referral::Column::OrganizationId.eq(org));
    }
    if let Some(service) = filter.service_id {
        query = query.filter(referral::Column::ServiceId.eq(service));
    }
    if let Some(status) = filter.status {
        query = query.filter(referral::Column::Status.eq(status.as_str()));
    }
    if let Some(hash) = &filter.family_hash {
        query = query.filter(referral::Column::FamilyHash.eq(hash.clone()));
    }
    query
}

impl Store {
    /// Stores a referral sent by the caseworker `sender_key_id` (a key's or a person's id) of `sender_team`.
    /// The receiving organization is the service's; a service whose capacity is `full` rejects it at once
    /// (reason `no-capacity`, by the system).
    pub async fn create_referral(
        &self,
        input: NewReferral,
        sender_key_id: Uuid,
        sender_team: Option<String>,
        secret: &FamilySecret,
        who: &Accessor,
    ) -> Result<Referral> {
        let now = Utc::now();
        let who = who.clone();
        input.validate(now).map_err(Error::Invalid)?;
        let family_hash = secret.hash(&input.family_ref);
        let id = Uuid::new_v4();
        self.write(move |txn| {
            Box::pin(async move {
                let Some(service) = service::Entity::find_by_id(input.service_id).one(txn).await? else {
                    return Err(Error::invalid("service_id", format!("no service {}", input.service_id)));
                };
                if service.status != ServiceStatus::Active.as_str() {
                    return Err(Error::invalid(
                        "service_id",
                        format!("the service is {} and takes no referrals", service.status),
                    ));
                }
                let needs = if input.needs.is_empty() {
                    crate::tables::service_need::Entity::find()
                        .filter(crate::tables::service_need::Column::ServiceId.eq(service.id))
                        .all(txn)
                        .await?
                        .into_iter()
                        .map(|n| n.need_code)
                        .collect()
                } else {
                    input.needs.clone()
                };
                let known: HashSet<String> = need::Entity::find()
                    .filter(need::Column::Code.is_in(needs.iter().cloned()))
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|n| n.code)
                    .collect();
                let unknown: Vec<FieldError> = needs
                    .iter()
                    .enumerate()
                    .filter(|(_, code)| !known.contains(*code))
                    .map(|(i, code)| FieldError::new(format!("needs/{i}"), format!("unknown need code `{code}`")))
                    .collect();
                if !unknown.is_empty() {
                    return Err(Error::Invalid(unknown));
                }
                let mut location_ids: Vec<Uuid> = service_at_location::Entity::find()
                    .filter(service_at_location::Column::ServiceId.eq(service.id))
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|l| l.location_id)
                    .collect();
                location_ids.sort();
                let area = match location_ids.first() {
                    Some(first) => location::Entity::find_by_id(*first)
                        .one(txn)
                        .await?
                        .and_then(|l| l.postal_code),
                    None => None,
                };
                let consent = input.consent.clone().expect("validated: consent is present");
                let row = referral::ActiveModel {
                    id: Set(id),
                    service_id: Set(service.id),
                    organization_id: Set(service.organization_id),
                    sender_key_id: Set(sender_key_id),
                    sender_team: Set(sender_team),
                    family_hash: Set(Some(family_hash)),
                    message: Set(input.message.clone().filter(|m| !m.trim().is_empty())),
                    consent_given_at: Set(consent.given_at),
                    consent_scope: Set(consent.scope),
                    preferred_language: Set(input.preferred_language.clone()),
                    contact_preference: Set(input.contact_preference.clone()),
                    priority: Set(input.priority.as_str().to_owned()),
                    status: Set(ReferralStatus::Requested.as_str().to_owned()),
                    held_from: Set(None),
                    rejection_reason: Set(None),
                    area: Set(area),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                    first_response_at: Set(None),
                    accepted_at: Set(None),
                    closed_at: Set(None),
                    purged_at: Set(None),
                };
                let row = row.insert(txn).await?;
                let mut seen = HashSet::new();
                let need_rows: Vec<_> = needs
                    .iter()
                    .filter(|n| seen.insert(n.as_str()))
                    .map(|code| referral_need::ActiveModel {
                        id: Set(Uuid::new_v5(&id, code.as_bytes())),
                        referral_id: Set(id),
                        need_code: Set(code.clone()),
                    })
                    .collect();
                if !need_rows.is_empty() {
                    referral_need::Entity::insert_many(need_rows).exec(txn).await?;
                }
                let sender = ActingKey {
                    actor: Actor::Sender,
                    role: "caseworker".into(),
                    key_id: Some(sender_key_id),
                    organization_id: None,
                };
                append_event(txn, id, None, ReferralStatus::Requested, &sender, None, None, now).await?;
                if service.capacity.as_deref() == Some(Capacity::Full.as_str()) {
                    apply_transition(
                        txn,
                        &row,
                        ReferralStatus::Rejected,
                        &ActingKey::system(),
                        Some(RejectionReason::NoCapacity.as_str().to_owned()),
                        Some("the service is full".into()),
                    )
                    .await?;
                }
                insert_audit(txn, &who, "create", "referral", Some(id)).await?;
                load_referral(txn, id).await
            })
        })
        .await
    }

    /// Reads a referral for `by` and records the read. The receiving partner's first read is the referral's
    /// `received`: the move and the audit row of the read commit together.
    pub async fn open_referral(&self, id: Uuid, by: &ActingKey, who: &Accessor) -> Result<Referral> {
        let current = self.get_referral(id).await?;
        let first_read = by.actor == Actor::ReceivingPartner && current.status == ReferralStatus::Requested;
        if !first_read {
            self.record_audit(who, "read", "referral", Some(id)).await?;
            return Ok(current);
        }
        let (by, who) = (by.clone(), who.clone());
        self.write(move |txn| {
            Box::pin(async move {
                let row = referral::Entity::find_by_id(id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| referral_not_found(id))?;
                // Another read or a transition may have moved it since: then this read only reads.
                if row.status == ReferralStatus::Requested.as_str() {
                    apply_transition(txn, &row, ReferralStatus::Received, &by, None, None).await?;
                }
                insert_audit(txn, &who, "read", "referral", Some(id)).await?;
                load_referral(txn, id).await
            })
        })
        .await
    }

    pub async fn get_referral(&self, id: Uuid) -> Result<Referral> {
        load_referral(self.connection(), id).await
    }

    /// How many referrals match `filter` (the partner's count of new ones on every page).
    pub async fn count_referrals(&self, filter: &ReferralFilter) -> Result<u64> {
        Ok(filtered(filter).count(self.connection()).await?)
    }

    /// How many referrals are in each status, every status listed (0 for none); one GROUP BY query. For the
    /// operators' `/metrics`.
    pub async fn referral_counts_by_status(&self) -> Result<Vec<(ReferralStatus, u64)>> {
        let rows: Vec<(String, i64)> = referral::Entity::find()
            .select_only()
            .column(referral::Column::Status)
            .column_as(referral::Column::Id.count(), "count")
            .group_by(referral::Column::Status)
            .into_tuple()
            .all(self.connection())
            .await?;
        let counts: HashMap<String, i64> = rows.into_iter().collect();
        Ok(ReferralStatus::ALL
            .iter()
            .map(|status| {
                let count = counts.get(status.as_str()).copied().unwrap_or(0);
                (*status, u64::try_from(count).unwrap_or(0))
            })
            .collect())
    }

    /// A page of referrals, newest first.
    pub async fn list_referrals(&self, filter: &ReferralFilter, page: Page) -> Result<(u64, Vec<Referral>)> {
        let query = filtered(filter);
        let (total, rows) = page
            .fetch(
                self.connection(),
                query
                    .order_by_desc(referral::Column::CreatedAt)
                    .order_by_asc(referral::Column::Id),
            )
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let mut needs = needs_of(self.connection(), &ids).await?;
        let referrals = rows
            .into_iter()
            .map(|row| {
                let n = needs.remove(&row.id).unwrap_or_default();
                referral_from_row(row, n)
            })
            .collect::<Result<_>>()?;
        Ok((total, referrals))
    }

    /// Moves a referral. `expected_version` (from If-Match) must equal the current version when given; the
    /// update itself is conditional on the version read, so racing writers cannot both win.
    pub async fn transition_referral(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        movement: Move,
        by: &ActingKey,
        who: &Accessor,
    ) -> Result<Referral> {
        let Move { to, reason, note } = movement;
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        let note = note.filter(|n| !n.trim().is_empty());
        let mut check = Checker::default();
        if let Some(note) = &note {
            check.text("note", note, 0, NOTE_MAX_CHARS);
            if contains_cpr(note) {
                check.fail("note", CPR_REFUSED);
            }
        }
        if reason.as_deref().is_some_and(contains_cpr) {
            check.fail("reason", CPR_REFUSED);
        }
        check.into_result().map_err(Error::Invalid)?;
        let (by, who) = (by.clone(), who.clone());
        self.write(move |txn| {
            Box::pin(async move {
                let current = referral::Entity::find_by_id(id)
                    .one(txn)
                    .await?
                    .ok_or_else(|| referral_not_found(id))?;
                if let Some(expected) = expected_version
                    && expected != current.version
                {
                    return Err(Error::VersionMismatch {
                        entity: "referral",
                        current: current.version,
                    });
                }
                apply_transition(txn, &current, to, &by, reason, note).await?;
                insert_audit(txn, &who, "transition", "referral", Some(id)).await?;
                load_referral(txn, id).await
            })
        })
        .await
    }

    /// Every status change of a referral, oldest first.
    pub async fn referral_events(&self, id: Uuid) -> Result<Vec<ReferralEvent>> {
        referral_event::Entity::find()
            .filter(referral_event::Column::ReferralId.eq(id))
            .order_by_asc(referral_event::Column::Id)
            .all(self.connection())
            .await?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    /// Aggregates of the referrals created in `[from, to)`, grouped; groups sorted by key.
    pub async fn referral_report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group_by: ReportGroupBy,
    ) -> Result<ReferralReport> {
        let rows = referral::Entity::find()
            .filter(referral::Column::CreatedAt.gte(from))
            .filter(referral::Column::CreatedAt.lt(to))
            .order_by_asc(referral::Column::CreatedAt)
            .all(self.connection())
            .await?;
        let mut total = Accumulator::default();
        let mut groups: BTreeMap<String, Accumulator> = BTreeMap::new();
        let needs = if group_by == ReportGroupBy::Need {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            needs_of(self.connection(), &ids).await?
        } else {
            HashMap::new()
        };
        for row in &rows {
            total.add(row);
            let keys: Vec<String> = match group_by {
                ReportGroupBy::Need => needs.get(&row.id).cloned().unwrap_or_default(),
                ReportGroupBy::Organization => vec![row.organization_id.to_string()],
                ReportGroupBy::Status => vec![row.status.clone()],
                ReportGroupBy::Area => vec![row.area.clone().unwrap_or_else(|| "unknown".into())],
                ReportGroupBy::Month => vec![row.created_at.format("%Y-%m").to_string()],
            };
            for key in keys {
                groups.entry(key).or_default().add(row);
            }
        }
        let labels: HashMap<String, String> = match group_by {
            ReportGroupBy::Organization => {
                let ids: Vec<Uuid> = groups.keys().filter_map(|k| k.parse().ok()).collect();
                organization::Entity::find()
                    .filter(organization::Column::Id.is_in(ids))
                    .all(self.connection())
                    .await?
                    .into_iter()
                    .map(|o| (o.id.to_string(), o.name))
                    .collect()
            }
            ReportGroupBy::Need => need::Entity::find()
                .all(self.connection())
                .await?
                .into_iter()
                .map(|n| (n.code, n.label_da))
                .collect(),
            _ => HashMap::new(),
        };
        Ok(ReferralReport {
            groups: groups
                .into_iter()
                .map(|(key, acc)| {
                    let label = labels.get(&key).cloned();
                    acc.finish(key, label)
                })
                .collect(),
            total: total.finish("total".into(), None),
        })
    }

    /// Retention: removes the message, the family hash and the event notes of referrals closed before
    /// `cutoff`, keeping what reports need. Returns how many referrals were purged.
    pub async fn purge_closed_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        self.write(move |txn| {
            Box::pin(async move {
                let ids: Vec<Uuid> = referral::Entity::find()
                    .filter(referral::Column::ClosedAt.lt(cutoff))
                    .filter(referral::Column::PurgedAt.is_null())
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                let now = Utc::now();
                for chunk in ids.chunks(500) {
                    referral::Entity::update_many()
                        .set(referral::ActiveModel {
                            message: Set(None),
                            family_hash: Set(None),
                            purged_at: Set(Some(now)),
                            ..Default::default()
                        })
                        .filter(referral::Column::Id.is_in(chunk.iter().copied()))
                        .exec(txn)
                        .await?;
                    referral_event::Entity::update_many()
                        .set(referral_event::ActiveModel {
                            note: Set(None),
                            ..Default::default()
                        })
                        .filter(referral_event::Column::ReferralId.is_in(chunk.iter().copied()))
                        .exec(txn)
                        .await?;
                }
                Ok(ids.len() as u64)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_hash_is_keyed_and_stable() {
        let secret = FamilySecret::new(b"one secret".to_vec());
        let same = FamilySecret::new(b"one secret".to_vec());
        let other = FamilySecret::new(b"another secret".to_vec());
        let hash = secret.hash("SAG-2026-0042");
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(hash, secret.hash("SAG-2026-0042"));
        assert_eq!(hash, same.hash(" SAG-2026-0042 "));
        assert_ne!(hash, other.hash("SAG-2026-0042"));
        assert_ne!(hash, secret.hash("SAG-2026-0043"));
        assert!(!format!("{secret:?}").contains("secret"));
    }

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let secret = FamilySecret::new(b"Jefe".to_vec());
        assert_eq!(
            secret.hash("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn input() -> NewReferral {
        NewReferral {
            service_id: Uuid::nil(),
            family_ref: "SAG-1".into(),
            needs: vec![],
            message: Some("Familien ønsker lektiehjælp".into()),
            consent: Some(Consent {
                given_at: Utc::now(),
                scope: "henvisning".into(),
            }),
            preferred_language: Some("ar".into()),
            contact_preference: Some("phone".into()),
            priority: Priority::Routine,
        }
    }

    #[test]
    fn validation_refuses_cpr_missing_consent_and_long_messages() {
        let now = Utc::now();
        assert!(input().validate(now).is_ok());
        let mut cpr = input();
        cpr.message = Some("barnet 010190-1234".into());
        assert_eq!(cpr.validate(now).unwrap_err()[0].path, "message");
        let mut cpr = input();
        cpr.family_ref = "0101901234".into();
        assert_eq!(cpr.validate(now).unwrap_err()[0].path, "family_ref");
        let mut no_consent = input();
        no_consent.consent = None;
        assert_eq!(no_consent.validate(now).unwrap_err()[0].path, "consent");
        let mut long = input();
        long.message = Some("x".repeat(MESSAGE_MAX_CHARS + 1));
        assert_eq!(long.validate(now).unwrap_err()[0].path, "message");
        let mut exact = input();
        exact.message = Some("æ".repeat(MESSAGE_MAX_CHARS));
        assert!(exact.validate(now).is_ok());
    }

    #[test]
    fn stats_use_median_and_nearest_rank_p90() {
        assert_eq!(hours_stats(vec![]), HoursStats::default());
        let s = hours_stats(vec![10.0, 2.0, 4.0]);
        assert_eq!((s.median, s.p90), (Some(4.0), Some(10.0)));
        let s = hours_stats(vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!((s.median, s.p90), (Some(2.5), Some(4.0)));
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = hours_stats(values);
        assert_eq!((s.median, s.p90), (Some(5.5), Some(9.0)));
    }
}

//! `/v1/referrals`, `/v1/audit`, `/v1/reports/referrals`: closed-loop referrals.
//!
//! Who may do what:
//! - a caseworker creates referrals and lists, reads and cancels its own (those its key sent);
//! - a partner lists, reads and moves referrals to its organization; opening one the first time marks it
//!   `received`;
//! - an admin (the municipality) reads everything, the audit trail and the reports, and moves nothing;
//! - reader keys get 403, anonymous callers 401.
//!
//! A referral the caller may not see answers 404, exactly like one that does not exist. Every read and
//! write of a referral writes one audit row (a list writes one per referral returned).

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use entities::audit::AuditFilter;
use entities::directory::Role;
use entities::referral_rules::{self as rules, Actor};
use entities::referrals::{self as domain, ActingKey, FamilySecret, ReferralFilter, ReportGroupBy};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, ResponseContent, Tags};
use uuid::Uuid;

use crate::app::Config;
use crate::auth::{Auth, Caller};
use crate::directory::{etag, expected_version, page_of};
use crate::problem::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::PageOf;

/// The file in the data dir that holds the generated server secret.
pub const SECRET_FILE: &str = "secret.key";

/// The server secret for `family_ref` hashes: `config.secret` (`--secret` / `BROBYGGER_SECRET`) when set,
/// else the one in `<data dir>/secret.key`, generated on first use (32 random bytes, hex, mode 0600).
pub fn load_secret(config: &Config) -> anyhow::Result<FamilySecret> {
    if let Some(secret) = config.secret.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        anyhow::ensure!(secret.len() >= 16, "the server secret must be at least 16 characters");
        return Ok(FamilySecret::new(secret.as_bytes().to_vec()));
    }
    secret_from_file(&config.data_dir.join(SECRET_FILE))
}

fn secret_from_file(path: &FsPath) -> anyhow::Result<FamilySecret> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
            anyhow::ensure!(bytes.len() >= 16, "{} holds too short a secret", path.display());
            Ok(FamilySecret::new(bytes))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, hex::encode(bytes).as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    tracing::info!(path = %path.display(), "generated the server secret");
                    Ok(FamilySecret::new(bytes.to_vec()))
                }
                // Another process created it first: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => secret_from_file(path),
                Err(error) => Err(error).with_context(|| format!("creating {}", path.display())),
            }
        }
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

#[derive(Tags)]
pub enum ReferralTag {
    /// Referrals of families to services, their status events, the audit trail and the municipality's reports.
    Referrals,
}

/// Referral status after FHIR Task (SDOH Clinical Care).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum ReferralStatus {
    Requested,
    Received,
    Accepted,
    Rejected,
    InProgress,
    OnHold,
    Completed,
    Failed,
    Cancelled,
}

impl From<ReferralStatus> for rules::ReferralStatus {
    fn from(value: ReferralStatus) -> Self {
        use rules::ReferralStatus as S;
        match value {
            ReferralStatus::Requested => S::Requested,
            ReferralStatus::Received => S::Received,
            ReferralStatus::Accepted => S::Accepted,
            ReferralStatus::Rejected => S::Rejected,
            ReferralStatus::InProgress => S::InProgress,
            ReferralStatus::OnHold => S::OnHold,
            ReferralStatus::Completed => S::Completed,
            ReferralStatus::Failed => S::Failed,
            ReferralStatus::Cancelled => S::Cancelled,
        }
    }
}

impl From<rules::ReferralStatus> for ReferralStatus {
    fn from(value: rules::ReferralStatus) -> Self {
        use rules::ReferralStatus as S;
        match value {
            S::Requested => ReferralStatus::Requested,
            S::Received => ReferralStatus::Received,
            S::Accepted => ReferralStatus::Accepted,
            S::Rejected => ReferralStatus::Rejected,
            S::InProgress => ReferralStatus::InProgress,
            S::OnHold => ReferralStatus::OnHold,
            S::Completed => ReferralStatus::Completed,
            S::Failed => ReferralStatus::Failed,
            S::Cancelled => ReferralStatus::Cancelled,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum Priority {
    Routine,
    Urgent,
}

fn routine() -> Priority {
    Priority::Routine
}

/// The family's consent to being referred.
#[derive(Clone, Debug, Object)]
pub struct Consent {
    pub given_at: DateTime<Utc>,
    /// What the family agreed to, e.g. "henvisning og tilbagemelding til kommunen".
    pub scope: String,
}

/// A referral as a caseworker sends it. Do not put names or CPR numbers anywhere: a CPR number is refused.
#[derive(Clone, Debug, Object)]
pub struct ReferralInput {
    pub service_id: Uuid,
    /// Your own case reference for the family; stored only as a keyed hash.
    pub family_ref: String,
    /// Need codes (see /v1/needs); empty or missing: the service's needs.
    #[oai(default)]
    pub needs: Vec<String>,
    /// To the receiving partner, at most 2000 characters.
    pub message: Option<String>,
    /// Required (422 without it).
    pub consent: Option<Consent>,
    /// ISO 639-1, e.g. `ar`.
    pub preferred_language: Option<String>,
    /// phone, sms, email, letter, in-person or via-caseworker.
    pub contact_preference: Option<String>,
    #[oai(default = "routine")]
    pub priority: Priority,
}

/// A referral as its sender, its receiving partner or an admin sees it.
#[derive(Clone, Debug, Object)]
pub struct Referral {
    pub id: Uuid,
    pub service_id: Uuid,
    /// The receiving organization (offers the service).
    pub organization_id: Uuid,
    /// The caseworker that sent it: a key's id, or a person's id when sent from the web app.
    pub sender_key_id: Uuid,
    /// HMAC of the family_ref, to link a family's referrals; shown to the sender and admins, null after purge.
    pub family_hash: Option<String>,
    pub needs: Vec<String>,
    /// Null when none was given or after purge.
    pub message: Option<String>,
    pub consent: Consent,
    pub preferred_language: Option<String>,
    pub contact_preference: Option<String>,
    pub priority: Priority,
    pub status: ReferralStatus,
    /// For `on-hold`: the state it resumes to.
    pub held_from: Option<ReferralStatus>,
    /// For `rejected`: no-capacity, not-eligible, family-declined, unreachable, duplicate or other.
    pub rejection_reason: Option<String>,
    /// The statuses the caller may move it to now.
    pub allowed_transitions: Vec<ReferralStatus>,
    /// Increases with every change; the ETag is this number in quotes.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub purged_at: Option<DateTime<Utc>>,
    /// The kinds of the family-plan goals the referral serves (`/v1/goal-kinds`); a partner sees only these, never
    /// the plan. Given on single-referral answers; empty in lists.
    pub goal_kinds: Vec<String>,
}

impl Referral {
    pub(crate) fn for_caller(r: domain::Referral, actor: Actor) -> Self {
        let shows_family = matches!(actor, Actor::Sender | Actor::Admin);
        Referral {
            id: r.id,
            service_id: r.service_id,
            organization_id: r.organization_id,
            sender_key_id: r.sender_key_id,
            family_hash: r.family_hash.filter(|_| shows_family),
            needs: r.needs,
            message: r.message,
            consent: Consent {
                given_at: r.consent.given_at,
                scope: r.consent.scope,
            },
            preferred_language: r.preferred_language,
            contact_preference: r.contact_preference,
            priority: match r.priority {
                domain::Priority::Routine => Priority::Routine,
                domain::Priority::Urgent => Priority::Urgent,
            },
            status: r.status.into(),
            held_from: r.held_from.map(Into::into),
            rejection_reason: r.rejection_reason.map(|reason| reason.as_str().to_owned()),
            allowed_transitions: rules::legal_targets(r.status, actor, r.held_from)
                .into_iter()
                .map(Into::into)
                .collect(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            first_response_at: r.first_response_at,
            closed_at: r.closed_at,
            purged_at: r.purged_at,
            goal_kinds: Vec::new(),
        }
    }
}

/// A status change. `reason` is required for rejected (a rejection code), failed, cancelled and on-hold.
#[derive(Clone, Debug, Object)]
pub struct TransitionInput {
    pub to: ReferralStatus,
    pub reason: Option<String>,
    /// Free text, at most 2000 characters, no CPR numbers.
    pub note: Option<String>,
    /// The version you read; the same as `If-Match` (which wins when both are given).
    pub version: Option<i64>,
    /// Receiving partner, on `completed` or `failed` of a referral that serves family-plan goals
    /// (`goal_kinds`): did it help? `yes`, `partly`, `no` or `unknown`.
    pub goal_outcome: Option<crate::plans::GoalOutcome>,
}

/// One status change of a referral.
#[derive(Clone, Debug, Object)]
pub struct ReferralEvent {
    pub id: i64,
    /// Null for the creation event.
    pub from: Option<ReferralStatus>,
    pub to: ReferralStatus,
    /// sender, receiving-partner or system.
    pub actor: String,
    /// The role of the key that made the change (`system` for automatic ones).
    pub role: String,
    pub organization_id: Option<Uuid>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, Object)]
pub struct ReferralEventList {
    pub items: Vec<ReferralEvent>,
}

/// One audit row: who accessed which record, how, when.
#[derive(Clone, Debug, Object)]
pub struct AuditEntry {
    pub id: i64,
    /// The API key that acted (apps).
    pub key_id: Option<Uuid>,
    /// The person that acted (web app users; see `brobygger users list`).
    pub person_id: Option<Uuid>,
    pub role: String,
    pub organization_id: Option<Uuid>,
    /// create, read, list, transition, events, report.
    pub action: String,
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
#[oai(rename_all = "kebab-case")]
pub enum GroupBy {
    Need,
    Organization,
    Status,
    Area,
    /// The month of creation, `YYYY-MM` (UTC).
    Month,
}

impl From<GroupBy> for ReportGroupBy {
    fn from(value: GroupBy) -> Self {
        match value {
            GroupBy::Need => ReportGroupBy::Need,
            GroupBy::Organization => ReportGroupBy::Organization,
            GroupBy::Status => ReportGroupBy::Status,
            GroupBy::Area => ReportGroupBy::Area,
            GroupBy::Month => ReportGroupBy::Month,
        }
    }
}

/// Median and 90th percentile (nearest rank), in hours; null without data.
#[derive(Clone, Debug, Object)]
pub struct HoursStats {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl From<domain::HoursStats> for HoursStats {
    fn from(s: domain::HoursStats) -> Self {
        HoursStats {
            median: s.median,
            p90: s.p90,
        }
    }
}

/// Aggregates of one group of referrals.
#[derive(Clone, Debug, Object)]
pub struct ReportRow {
    /// Need code, organization id, status, postal code (`unknown` without one) or month (`YYYY-MM`);
    /// `total` for the total.
    pub key: String,
    /// The organization's name or the need's Danish label.
    pub label: Option<String>,
    pub count: u64,
    /// Accepted at some point (including those since completed or failed).
    pub accepted: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Not closed yet.
    pub open: u64,
    /// From creation to the partner's first move past requested/received (accept, reject, hold, ...).
    pub first_response_hours: HoursStats,
    /// From creation to completion, over completed referrals.
    pub completion_hours: HoursStats,
}

impl From<domain::ReportRow> for ReportRow {
    fn from(r: domain::ReportRow) -> Self {
        ReportRow {
            key: r.key,
            label: r.label,
            count: r.count,
            accepted: r.accepted,
            rejected: r.rejected,
            rejected_by_reason: r.rejected_by_reason,
            completed: r.completed,
            failed: r.failed,
            cancelled: r.cancelled,
            open: r.open,
            first_response_hours: r.first_response_hours.into(),
            completion_hours: r.completion_hours.into(),
        }
    }
}

/// Referrals created in `[from, to)`, grouped. Aggregates only: no family references, no messages.
#[derive(Clone, Debug, Object)]
pub struct ReferralReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
    pub groups: Vec<ReportRow>,
    pub total: ReportRow,
}

/// A single referral with its ETag.
#[derive(ApiResponse)]
pub enum ReferralRecord {
    #[oai(status = 200)]
    Ok(Json<Referral>, #[oai(header = "ETag")] String),
    #[oai(status = 201)]
    Created(
        Json<Referral>,
        #[oai(header = "ETag")] String,
        #[oai(header = "Location")] String,
    ),
}

/// The report as JSON, or as CSV with `Accept: text/csv`.
#[derive(ResponseContent)]
#[allow(clippy::large_enum_variant)] // built once per request and returned at once
pub enum ReportBody {
    Json(Json<ReferralReport>),
    #[oai(content_type = "text/csv")]
    Csv(PlainText<String>),
}

#[derive(ApiResponse)]
pub enum ReportResponse {
    #[oai(status = 200)]
    Ok(ReportBody),
}

/// One CSV field, quoted when needed (RFC 4180). Text a spreadsheet would run as a formula gets a `'`.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn csv_number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV: a header, one line per group, then the total.
pub fn report_csv(report: &ReferralReport) -> String {
    let reasons: Vec<&str> = rules::RejectionReason::ALL.iter().map(|r| r.as_str()).collect();
    let mut header = vec!["group_by".to_owned(), "key".into(), "label".into(), "count".into()];
    header.push("accepted".into());
    header.push("rejected".into());
    header.extend(reasons.iter().map(|r| format!("rejected_{}", r.replace('-', "_"))));
    for column in [
        "completed",
        "failed",
        "cancelled",
        "open",
        "first_response_median_hours",
        "first_response_p90_hours",
        "completion_median_hours",
        "completion_p90_hours",
    ] {
        header.push(column.into());
    }
    let mut out = header.join(",");
    out.push_str("\r\n");
    let group_by = match report.group_by {
        GroupBy::Need => "need",
        GroupBy::Organization => "organization",
        GroupBy::Status => "status",
        GroupBy::Area => "area",
        GroupBy::Month => "month",
    };
    for row in report.groups.iter().chain(std::iter::once(&report.total)) {
        let mut fields = vec![
            group_by.to_owned(),
            csv_field(&row.key),
            csv_field(row.label.as_deref().unwrap_or("")),
            row.count.to_string(),
            row.accepted.to_string(),
            row.rejected.to_string(),
        ];
        fields.extend(
            reasons
                .iter()
                .map(|r| row.rejected_by_reason.get(*r).copied().unwrap_or(0).to_string()),
        );
        fields.extend([
            row.completed.to_string(),
            row.failed.to_string(),
            row.cancelled.to_string(),
            row.open.to_string(),
            csv_number(row.first_response_hours.median),
            csv_number(row.first_response_hours.p90),
            csv_number(row.completion_hours.median),
            csv_number(row.completion_hours.p90),
        ]);
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// `2026-01-31` (a whole day: from its start, or `to` up to its end) or an RFC 3339 time.
pub(crate) fn parse_bound(name: &str, value: &str, end: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        // RFC 3339's years; PostgreSQL stores nothing before 4713 BC.
        .filter(|day| (1..=9999).contains(&chrono::Datelike::year(day)))
        .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a date (YYYY-MM-DD) or an RFC 3339 time")))?;
    let day = if end { day.succ_opt().unwrap_or(day) } else { day };
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

fn not_found(id: Uuid) -> ApiError {
    // Worded exactly like a missing referral: no existence leak.
    ApiError::NotFound(format!("referral {id} not found"))
}

/// The actor a caller is towards one referral; 404 for referrals that are not theirs. A caseworker acts as
/// the sender for referrals it sent and for those its team sent (colleagues cover for each other).
fn actor_for(caller: &Caller, referral: &domain::Referral) -> Result<Actor, ApiError> {
    let same_team = caller.team.is_some() && caller.team == referral.sender_team;
    match caller.role {
        Some(Role::Admin) => Ok(Actor::Admin),
        Some(Role::Caseworker) if caller.principal_id() == Some(referral.sender_key_id) || same_team => {
            Ok(Actor::Sender)
        }
        Some(Role::Partner) if caller.organization_id == Some(referral.organization_id) => Ok(Actor::ReceivingPartner),
        _ => Err(not_found(referral.id)),
    }
}

fn acting_key(caller: &Caller, actor: Actor) -> ActingKey {
    ActingKey {
        actor,
        role: caller.role_name().to_owned(),
        key_id: caller.principal_id(),
        organization_id: caller.organization_id,
    }
}

const REFERRAL_ROLES: &[Role] = &[Role::Admin, Role::Caseworker, Role::Partner];

/// Whose referrals a caseworker lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SenderScope {
    /// Those the caller sent.
    Mine,
    /// Those the caller or anyone of its team sent.
    Team,
}

/// The referral rules as one caller may use them: every access check, the partner's first read, and the
/// audit row of every read and write. Both the JSON API and the web app go through here.
pub struct Referrals<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
}

impl Referrals<'_> {
    async fn audit(&self, action: &str, entity: &str, id: Option<Uuid>) -> Result<(), ApiError> {
        self.caller.audit(&self.state.store, action, entity, id).await
    }

    /// Loads a referral the caller may see (404 otherwise) and the caller's actor towards it.
    async fn visible(&self, id: Uuid) -> Result<(domain::Referral, Actor), ApiError> {
        self.caller.require(REFERRAL_ROLES)?;
        let referral = match self.state.store.get_referral(id).await {
            Err(entities::Error::NotFound { .. }) => return Err(not_found(id)),
            other => other?,
        };
        let actor = actor_for(self.caller, &referral)?;
        Ok((referral, actor))
    }

    /// A caseworker refers a family.
    pub async fn create(&self, new: domain::NewReferral) -> Result<domain::Referral, ApiError> {
        self.caller.require(&[Role::Caseworker])?;
        let sender = self
            .caller
            .principal_id()
            .ok_or_else(|| ApiError::Unauthorized("a caseworker key is needed".into()))?;
        let referral = self
            .state
            .store
            .create_referral(
                new,
                sender,
                self.caller.team.clone(),
                &self.state.referral_secret,
                &self.caller.accessor(),
            )
            .await?;
        Ok(referral)
    }

    /// A page of the referrals the caller may see, with the caller's actor towards them: a caseworker's own
    /// (or its team's), a partner's inbox, or all (admin). `filter` carries the caller's own filters.
    pub async fn list(
        &self,
        mut filter: ReferralFilter,
        scope: SenderScope,
        page: entities::store::Page,
    ) -> Result<(u64, Vec<domain::Referral>, Actor), ApiError> {
        let caller = self.caller;
        caller.require(REFERRAL_ROLES)?;
        let actor = match caller.role {
            Some(Role::Caseworker) => {
                filter.sender_key_id = Some(caller.principal_id().unwrap_or_else(Uuid::nil));
                filter.sender_team = caller.team.clone().filter(|_| scope == SenderScope::Team);
                Actor::Sender
            }
            Some(Role::Partner) => {
                // The family hash is not shown to partners; filtering by family would link the same way.
                if filter.family_hash.is_some() {
                    return Err(ApiError::Forbidden(
                        "only the sender and admins may filter by family_ref".into(),
                    ));
                }
                filter.organization_id = Some(caller.organization_id.unwrap_or_else(Uuid::nil));
                Actor::ReceivingPartner
            }
            _ => Actor::Admin,
        };
        let (total, items) = self.state.store.list_referrals(&filter, page).await?;
        let ids: Vec<Uuid> = items.iter().map(|r| r.id).collect();
        self.state
            .store
            .record_audit_each(&caller.accessor(), "list", "referral", &ids)
            .await?;
        Ok((total, items, actor))
    }

    /// Reads one referral; the receiving partner's first read marks it `received` (a rule of the store).
    pub async fn open(&self, id: Uuid) -> Result<(domain::Referral, Actor), ApiError> {
        let (_, actor) = self.visible(id).await?;
        let referral = self
            .state
            .store
            .open_referral(id, &acting_key(self.caller, actor), &self.caller.accessor())
            .await?;
        Ok((referral, actor))
    }

    /// Moves a referral; `expected_version` guards against a stale page (412).
    pub async fn transition(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        to: rules::ReferralStatus,
        reason: Option<String>,
        note: Option<String>,
        goal_outcome: Option<entities::plans::GoalOutcome>,
    ) -> Result<(domain::Referral, Actor), ApiError> {
        let (_, actor) = self.visible(id).await?;
        let closing = matches!(to, rules::ReferralStatus::Completed | rules::ReferralStatus::Failed);
        if goal_outcome.is_some() && !(closing && actor == Actor::ReceivingPartner) {
            return Err(ApiError::Invalid(vec![entities::FieldError::new(
                "goal_outcome",
                "only the receiving partner says it, on completed or failed",
            )]));
        }
        let referral = self
            .state
            .store
            .transition_referral(
                id,
                expected_version,
                domain::Move { to, reason, note },
                &acting_key(self.caller, actor),
                &self.caller.accessor(),
            )
            .await?;
        if let Some(outcome) = goal_outcome {
            self.state.store.record_goal_outcome(id, outcome).await?;
        }
        Ok((referral, actor))
    }

    /// The outcomes report of the referrals created in `[from, to)` (admin), audited as a `report`.
    pub async fn report(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        group_by: GroupBy,
    ) -> Result<ReferralReport, ApiError> {
        self.caller.require(&[Role::Admin])?;
        let report = self.state.store.referral_report(from, to, group_by.into()).await?;
        self.audit("report", "referral-report", None).await?;
        Ok(ReferralReport {
            from,
            to,
            group_by,
            groups: report.groups.into_iter().map(Into::into).collect(),
            total: report.total.into(),
        })
    }

    /// A referral's status changes, oldest first.
    pub async fn events(&self, id: Uuid) -> Result<Vec<domain::ReferralEvent>, ApiError> {
        self.visible(id).await?;
        let events = self.state.store.referral_events(id).await?;
        self.audit("events", "referral", Some(id)).await?;
        Ok(events)
    }
}

pub struct ReferralApi {
    pub state: Arc<AppState>,
}

impl ReferralApi {
    /// A single referral, with the kinds of the goals it serves.
    async fn record(&self, referral: domain::Referral, actor: Actor) -> Result<ReferralRecord, ApiError> {
        let tag = etag(referral.version);
        let goal_kinds = self.state.store.goal_kinds_of_referral(referral.id).await?;
        let mut referral = Referral::for_caller(referral, actor);
        referral.goal_kinds = goal_kinds;
        Ok(ReferralRecord::Ok(Json(referral), tag))
    }
}

#[OpenApi(prefix_path = "/v1")]
impl ReferralApi {
    /// Refer a family to a service (caseworker)
    ///
    /// The receiving organization is the service's. A service whose capacity is `full` rejects the referral
    /// at once with reason `no-capacity`. Consent is required; a CPR number anywhere is refused (422).
    #[oai(
        path = "/referrals",
        method = "post",
        tag = "ReferralTag::Referrals",
        operation_id = "createReferral"
    )]
    async fn create_referral(&self, auth: Auth, body: Json<ReferralInput>) -> ApiResult<ReferralRecord> {
        let caller = auth.caller();
        let input = body.0;
        let new = domain::NewReferral {
            service_id: input.service_id,
            family_ref: input.family_ref,
            needs: input.needs,
            message: input.message,
            consent: input.consent.map(|c| domain::Consent {
                given_at: c.given_at,
                scope: c.scope,
            }),
            preferred_language: input.preferred_language,
            contact_preference: input.contact_preference,
            priority: match input.priority {
                Priority::Routine => domain::Priority::Routine,
                Priority::Urgent => domain::Priority::Urgent,
            },
        };
        let referral = Referrals {
            state: &self.state,
            caller: &caller,
        }
        .create(new)
        .await?;
        let tag = etag(referral.version);
        let location = format!("/v1/referrals/{}", referral.id);
        Ok(ReferralRecord::Created(
            Json(Referral::for_caller(referral, Actor::Sender)),
            tag,
            location,
        ))
    }

    /// List referrals: a caseworker's own, a partner's inbox, or all (admin)
    #[oai(
        path = "/referrals",
        method = "get",
        tag = "ReferralTag::Referrals",
        operation_id = "listReferrals"
    )]
    async fn list_referrals(
        &self,
        auth: Auth,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        status: Query<Option<ReferralStatus>>,
        service_id: Query<Option<Uuid>>,
        /// Only this family's referrals (your case reference; it is hashed, never stored or logged).
        family_ref: Query<Option<String>>,
    ) -> ApiResult<Json<PageOf<Referral>>> {
        let caller = auth.caller();
        let page = page_of(page.0, per_page.0)?;
        let filter = ReferralFilter {
            service_id: service_id.0,
            status: status.0.map(Into::into),
            family_hash: family_ref.0.as_deref().map(|f| self.state.referral_secret.hash(f)),
            ..Default::default()
        };
        let (total, items, actor) = Referrals {
            state: &self.state,
            caller: &caller,
        }
        .list(filter, SenderScope::Mine, page)
        .await?;
        Ok(Json(PageOf::new(
            total,
            page,
            items.into_iter().map(|r| Referral::for_caller(r, actor)),
        )))
    }

    /// Get a referral; the receiving partner's first read marks it `received`
    #[oai(
        path = "/referrals/:id",
        method = "get",
        tag = "ReferralTag::Referrals",
        operation_id = "getReferral"
    )]
    async fn get_referral(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<ReferralRecord> {
        let caller = auth.caller();
        let (referral, actor) = Referrals {
            state: &self.state,
            caller: &caller,
        }
        .open(id.0)
        .await?;
        Ok(self.record(referral, actor).await?)
    }

    /// Change a referral's status
    ///
    /// 409 for a step the state machine does not have, 403 for a step that is not the caller's to make,
    /// 412 when `If-Match` (or `version`) is stale, 422 for a missing or bad reason.
    #[oai(
        path = "/referrals/:id/transitions",
        method = "post",
        tag = "ReferralTag::Referrals",
        operation_id = "transitionReferral"
    )]
    async fn transition(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "If-Match")] if_match: Header<Option<String>>,
        body: Json<TransitionInput>,
    ) -> ApiResult<ReferralRecord> {
        let caller = auth.caller();
        let expected = expected_version(if_match.0.as_deref())?.or(body.0.version);
        let (referral, actor) = Referrals {
            state: &self.state,
            caller: &caller,
        }
        .transition(
            id.0,
            expected,
            body.0.to.into(),
            body.0.reason,
            body.0.note,
            body.0.goal_outcome.map(Into::into),
        )
        .await?;
        Ok(self.record(referral, actor).await?)
    }

    /// A referral's status changes, oldest first
    #[oai(
        path = "/referrals/:id/events",
        method = "get",
        tag = "ReferralTag::Referrals",
        operation_id = "listReferralEvents"
    )]
    async fn events(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Json<ReferralEventList>> {
        let caller = auth.caller();
        let events = Referrals {
            state: &self.state,
            caller: &caller,
        }
        .events(id.0)
        .await?;
        Ok(Json(ReferralEventList {
            items: events
                .into_iter()
                .map(|e| ReferralEvent {
                    id: e.id,
                    from: e.from.map(Into::into),
                    to: e.to.into(),
                    actor: e.actor.as_str().to_owned(),
                    role: e.role,
                    organization_id: e.organization_id,
                    reason: e.reason,
                    note: e.note,
                    at: e.at,
                })
                .collect(),
        }))
    }

    /// The audit trail (admin)
    #[oai(
        path = "/audit",
        method = "get",
        tag = "ReferralTag::Referrals",
        operation_id = "listAuditEvents"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn audit_trail(
        &self,
        auth: Auth,
        page: Query<Option<u64>>,
        per_page: Query<Option<u64>>,
        referral_id: Query<Option<Uuid>>,
        key_id: Query<Option<Uuid>>,
        person_id: Query<Option<Uuid>>,
        /// From this time (inclusive): YYYY-MM-DD or RFC 3339.
        from: Query<Option<String>>,
        /// Up to this time (exclusive; a date includes that whole day).
        to: Query<Option<String>>,
    ) -> ApiResult<Json<PageOf<AuditEntry>>> {
        auth.caller().require(&[Role::Admin])?;
        let page = page_of(page.0, per_page.0)?;
        let filter = AuditFilter {
            entity_id: referral_id.0,
            key_id: key_id.0,
            person_id: person_id.0,
            from: from.0.as_deref().map(|v| parse_bound("from", v, false)).transpose()?,
            to: to.0.as_deref().map(|v| parse_bound("to", v, true)).transpose()?,
        };
        let (total, items) = self.state.store.list_audit(&filter, page).await?;
        Ok(Json(PageOf::new(
            total,
            page,
            items.into_iter().map(|a| AuditEntry {
                id: a.id,
                key_id: a.key_id,
                person_id: a.person_id,
                role: a.role,
                organization_id: a.organization_id,
                action: a.action,
                entity: a.entity,
                entity_id: a.entity_id,
                at: a.at,
            }),
        )))
    }

    /// Referral outcomes for the municipality (admin; JSON, or CSV with `Accept: text/csv`)
    #[oai(
        path = "/reports/referrals",
        method = "get",
        tag = "ReferralTag::Referrals",
        operation_id = "referralReport"
    )]
    async fn report(
        &self,
        auth: Auth,
        /// Referrals created from this time (inclusive): YYYY-MM-DD or RFC 3339; default: all.
        from: Query<Option<String>>,
        /// Up to this time (exclusive; a date includes that whole day); default: now.
        to: Query<Option<String>>,
        /// Default: status.
        group_by: Query<Option<GroupBy>>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> ApiResult<ReportResponse> {
        let caller = auth.caller();
        caller.require(&[Role::Admin])?;
        let from = match from.0.as_deref() {
            Some(v) => parse_bound("from", v, false)?,
            None => DateTime::<Utc>::UNIX_EPOCH,
        };
        let to = match to.0.as_deref() {
            Some(v) => parse_bound("to", v, true)?,
            None => Utc::now(),
        };
        if from > to {
            return Err(ApiError::BadRequest("from must not be after to".into()).into());
        }
        let group_by = group_by.0.unwrap_or(GroupBy::Status);
        let report = Referrals {
            state: &self.state,
            caller: &caller,
        }
        .report(from, to, group_by)
        .await?;
        let wants_csv = accept
            .0
            .as_deref()
            .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/csv")));
        Ok(ReportResponse::Ok(if wants_csv {
            ReportBody::Csv(PlainText(report_csv(&report)))
        } else {
            ReportBody::Json(Json(report))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn the_secret_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE);
        let first = secret_from_file(&path).unwrap();
        let second = secret_from_file(&path).unwrap();
        assert_eq!(first.hash("SAG-1"), second.hash("SAG-1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let config = Config {
            database_url: String::new(),
            data_dir: dir.path().to_owned(),
            seed: false,
            secret: Some("a configured secret of some length".into()),
            http: Default::default(),
            webhooks: Default::default(),
            mail: Default::default(),
        };
        assert_ne!(load_secret(&config).unwrap().hash("SAG-1"), first.hash("SAG-1"));
    }

    #[test]
    fn report_bounds_accept_dates_and_times() {
        assert_eq!(
            parse_bound("to", "2026-01-31", true).unwrap().to_rfc3339(),
            "2026-02-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_bound("from", "2026-01-31", false).unwrap().to_rfc3339(),
            "2026-01-31T00:00:00+00:00"
        );
        assert!(parse_bound("from", "31/01/2026", false).is_err());
    }
}

//! `/v1/family-plans`: a family's plan with goals, quarterly follow-ups and the referrals that serve a goal
//! (issue 17), and `/v1/goal-kinds`. Only caseworkers use plans, and only the owner's team sees one (404 for
//! anyone else, as referrals); admins see aggregates only, so they get 403 here. Every read and write is
//! audited.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use entities::directory::Role;
use entities::plans as domain;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use uuid::Uuid;

use crate::auth::{Auth, Caller};
use crate::problem::{ApiError, ApiResult};
use crate::referrals::{Consent, Referrals, SenderScope};
use crate::state::AppState;

#[derive(Tags)]
pub enum PlanTag {
    /// Family plans: goals the family sets, follow-ups on them, and the referrals that serve them.
    FamilyPlans,
}

/// A kind of goal and the scale its values are on.
#[derive(Clone, Debug, Object)]
pub struct GoalKind {
    pub code: String,
    pub label_da: String,
    pub label_en: String,
    /// `yes-no` (0 or 1), `percent` (0–100) or `score` (1–10).
    pub scale: String,
    /// `higher` or `lower`: which way is progress.
    pub better: String,
    /// Who a goal of this kind can be for: `parent`, `child`, `family`.
    pub for_whom: Vec<String>,
    /// The need whose offers serve such a goal.
    pub need: Option<String>,
}

#[derive(Clone, Debug, Object)]
pub struct GoalKindList {
    pub items: Vec<GoalKind>,
}

/// A goal as the caseworker sets it with the family.
#[derive(Clone, Debug, Object)]
pub struct GoalInput {
    /// A code from `/v1/goal-kinds`.
    pub kind: String,
    /// What the goal is, for kind `other` (no names).
    pub other_text: Option<String>,
    /// `parent`, `child` or `family`: never a name.
    pub for_whom: String,
    /// Where the family is now, on the kind's scale.
    pub baseline: f64,
    pub target: f64,
    pub target_date: NaiveDate,
}

/// A family plan as the caseworker makes it. No names or CPR numbers anywhere: a CPR number is refused.
#[derive(Clone, Debug, Object)]
pub struct PlanInput {
    /// Your own case reference for the family; stored only as a keyed hash (as referrals).
    pub family_ref: String,
    /// The family's biggest challenges, in its own words.
    pub challenges: String,
    /// Need codes (`POST /v1/needs/detect` suggests them from the challenges).
    #[oai(default)]
    pub needs: Vec<String>,
    pub consent: Option<Consent>,
    /// 1–5 goals.
    pub goals: Vec<GoalInput>,
}

#[derive(Clone, Debug, Object)]
pub struct FollowUpInput {
    pub on_date: NaiveDate,
    /// On the goal's scale.
    pub value: f64,
    /// A short note (no names; a CPR number is refused).
    pub note: Option<String>,
}

#[derive(Clone, Debug, Object)]
pub struct LinkInput {
    /// A referral of yours (or your team's) for the same family reference.
    pub referral_id: Uuid,
}

#[derive(Clone, Debug, Object)]
pub struct FollowUp {
    pub id: Uuid,
    pub on_date: NaiveDate,
    pub value: f64,
    pub note: Option<String>,
}

/// Whether a referral helped the goal it serves, as the receiving partner said on completing or failing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum GoalOutcome {
    Yes,
    Partly,
    No,
    Unknown,
}

impl From<GoalOutcome> for domain::GoalOutcome {
    fn from(outcome: GoalOutcome) -> Self {
        match outcome {
            GoalOutcome::Yes => domain::GoalOutcome::Yes,
            GoalOutcome::Partly => domain::GoalOutcome::Partly,
            GoalOutcome::No => domain::GoalOutcome::No,
            GoalOutcome::Unknown => domain::GoalOutcome::Unknown,
        }
    }
}

impl From<domain::GoalOutcome> for GoalOutcome {
    fn from(outcome: domain::GoalOutcome) -> Self {
        match outcome {
            domain::GoalOutcome::Yes => GoalOutcome::Yes,
            domain::GoalOutcome::Partly => GoalOutcome::Partly,
            domain::GoalOutcome::No => GoalOutcome::No,
            domain::GoalOutcome::Unknown => GoalOutcome::Unknown,
        }
    }
}

/// A referral serving a goal.
#[derive(Clone, Debug, Object)]
pub struct LinkedReferral {
    pub referral_id: Uuid,
    /// Null until the receiving partner completes or fails the referral and says.
    pub helped: Option<GoalOutcome>,
}

#[derive(Clone, Debug, Object)]
pub struct Goal {
    pub id: Uuid,
    pub kind: String,
    pub other_text: Option<String>,
    pub for_whom: String,
    pub baseline: f64,
    pub target: f64,
    pub target_date: NaiveDate,
    /// The latest follow-up's value, or the baseline.
    pub current: f64,
    /// Whether `current` reaches `target` in the kind's direction of progress.
    pub met: bool,
    /// A quarter after the last follow-up (or after the goal was set).
    pub next_follow_up: NaiveDate,
    /// Oldest first: the goal's line over time.
    pub follow_ups: Vec<FollowUp>,
    pub referrals: Vec<LinkedReferral>,
}

#[derive(Clone, Debug, Object)]
pub struct FamilyPlan {
    pub id: Uuid,
    pub challenges: String,
    pub needs: Vec<String>,
    pub consent: Consent,
    /// The owner's team, whose caseworkers share the plan.
    pub team: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub goals: Vec<Goal>,
    /// The programmes the plan is enrolled in.
    pub programme_ids: Vec<Uuid>,
}

impl From<domain::Plan> for FamilyPlan {
    fn from(plan: domain::Plan) -> Self {
        FamilyPlan {
            id: plan.id,
            challenges: plan.challenges,
            needs: plan.needs,
            consent: Consent {
                given_at: plan.consent.given_at,
                scope: plan.consent.scope,
            },
            team: plan.team,
            created_at: plan.created_at,
            updated_at: plan.updated_at,
            programme_ids: plan.programme_ids,
            goals: plan
                .goals
                .into_iter()
                .map(|goal| Goal {
                    current: goal.current(),
                    met: goal.met(),
                    next_follow_up: goal.next_follow_up(),
                    id: goal.id,
                    kind: goal.kind,
                    other_text: goal.other_text,
                    for_whom: goal.for_whom,
                    baseline: goal.baseline,
                    target: goal.target,
                    target_date: goal.target_date,
                    follow_ups: goal
                        .follow_ups
                        .into_iter()
                        .map(|f| FollowUp {
                            id: f.id,
                            on_date: f.on_date,
                            value: f.value,
                            note: f.note,
                        })
                        .collect(),
                    referrals: goal
                        .referrals
                        .into_iter()
                        .map(|(referral_id, helped)| LinkedReferral {
                            referral_id,
                            helped: helped.map(Into::into),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Object)]
pub struct FamilyPlanList {
    pub items: Vec<FamilyPlan>,
}

/// A goal whose follow-up is due.
#[derive(Clone, Debug, Object)]
pub struct DueFollowUp {
    pub plan_id: Uuid,
    pub goal_id: Uuid,
    pub kind: String,
    pub for_whom: String,
    pub due: NaiveDate,
}

#[derive(Clone, Debug, Object)]
pub struct DueFollowUpList {
    pub items: Vec<DueFollowUp>,
}

/// A programme's target for one goal kind.
#[derive(Clone, Debug, Object)]
pub struct ProgrammeTarget {
    /// A code from `/v1/goal-kinds`.
    pub kind: String,
    /// The share (0–1) of enrolled plans with such a goal that should meet it, e.g. 0.75.
    pub share: f64,
}

#[derive(Clone, Debug, Object)]
pub struct ProgrammeInput {
    pub name: String,
    /// The area it covers, e.g. "Gellerupparken".
    pub area: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[oai(default)]
    pub targets: Vec<ProgrammeTarget>,
}

#[derive(Clone, Debug, Object)]
pub struct Programme {
    pub id: Uuid,
    pub name: String,
    pub area: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub targets: Vec<ProgrammeTarget>,
}

impl From<entities::programmes::Programme> for Programme {
    fn from(p: entities::programmes::Programme) -> Self {
        Programme {
            id: p.id,
            name: p.name,
            area: p.area,
            starts_on: p.starts_on,
            ends_on: p.ends_on,
            targets: p
                .targets
                .into_iter()
                .map(|(kind, share)| ProgrammeTarget { kind, share })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Object)]
pub struct ProgrammeList {
    pub items: Vec<Programme>,
}

#[derive(Clone, Debug, Object)]
pub struct EnrolInput {
    pub programme_id: Uuid,
}

/// One goal kind in one quarter. Counts of fewer than 5 families are suppressed (null): small numbers identify
/// people.
#[derive(Clone, Debug, Object)]
pub struct ProgrammeCell {
    pub goal_kind: String,
    pub target_share: Option<f64>,
    /// Enrolled plans with a goal of this kind set by the quarter's end.
    pub families: Option<u64>,
    /// Of those, plans whose goal was met at the quarter's end.
    pub met: Option<u64>,
    pub share: Option<f64>,
    pub meets_target: Option<bool>,
    pub suppressed: bool,
}

#[derive(Clone, Debug, Object)]
pub struct ProgrammeQuarter {
    /// `2026-Q4`.
    pub quarter: String,
    pub ends_on: NaiveDate,
    pub cells: Vec<ProgrammeCell>,
}

/// The enrolled families' referrals with one need, or to one partner. Counts are null when fewer than 5 families.
#[derive(Clone, Debug, Object)]
pub struct ReferralGroup {
    /// The need code, or the partner organisation's id.
    pub key: String,
    /// The partner organisation's name (the code for needs).
    pub label: String,
    pub families: Option<u64>,
    pub referrals: Option<u64>,
    pub completed: Option<u64>,
    pub failed: Option<u64>,
    pub rejected: Option<u64>,
    pub open: Option<u64>,
    pub suppressed: bool,
}

impl From<entities::programmes::ReferralGroup> for ReferralGroup {
    fn from(g: entities::programmes::ReferralGroup) -> Self {
        ReferralGroup {
            key: g.key,
            label: g.label,
            families: g.families,
            referrals: g.referrals,
            completed: g.completed,
            failed: g.failed,
            rejected: g.rejected,
            open: g.open,
            suppressed: g.suppressed,
        }
    }
}

/// A partner whose services families that reached a goal of this kind were referred to (5 families or more).
#[derive(Clone, Debug, Object)]
pub struct PartnerUse {
    pub goal_kind: String,
    pub organization_id: Uuid,
    pub organization: String,
    pub families: u64,
}

/// A programme's goals per quarter against its targets, and what its families' referrals were and did:
/// aggregates only, never a family.
#[derive(Clone, Debug, Object)]
pub struct ProgrammeReport {
    pub programme: Programme,
    pub quarters: Vec<ProgrammeQuarter>,
    /// The enrolled families' referrals since the programme started, per need.
    pub referrals_by_need: Vec<ReferralGroup>,
    /// The same, per partner organisation.
    pub referrals_by_partner: Vec<ReferralGroup>,
    /// Partners whose services the families that reached a goal were referred to.
    pub partners_of_goal_reachers: Vec<PartnerUse>,
}

/// Everything Brobygger keeps about one family that the caller may see, for a data-subject access request (GDPR
/// art. 15): the plan with its goals and follow-ups, and the referrals sent for the same family reference by the
/// caller or the caller's team.
#[derive(Clone, Debug, Object)]
pub struct FamilyExport {
    pub exported_at: DateTime<Utc>,
    pub plan: FamilyPlan,
    pub referrals: Vec<crate::referrals::Referral>,
}

#[derive(ApiResponse)]
pub enum ProgrammeCreated {
    #[oai(status = 201)]
    Created(Json<Programme>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum PlanRecord {
    #[oai(status = 200)]
    Ok(Json<FamilyPlan>),
    #[oai(status = 201)]
    Created(Json<FamilyPlan>, #[oai(header = "Location")] String),
}

/// The goals of `plans` not yet met whose follow-up is due by `today + days_ahead`, soonest first.
pub fn due_follow_ups(plans: &[domain::Plan], today: NaiveDate, days_ahead: u32) -> Vec<DueFollowUp> {
    let by = today + chrono::Duration::days(i64::from(days_ahead));
    let mut due: Vec<DueFollowUp> = plans
        .iter()
        .flat_map(|plan| {
            plan.goals.iter().filter(|g| !g.met()).map(|g| DueFollowUp {
                plan_id: plan.id,
                goal_id: g.id,
                due: g.next_follow_up(),
                kind: g.kind.clone(),
                for_whom: g.for_whom.clone(),
            })
        })
        .filter(|d| d.due <= by)
        .collect();
    // soonest first; a stable sort keeps the goals of a plan in the order they were set
    due.sort_by_key(|d| d.due);
    due
}

/// The plan rules as one caller may use them: who may see a plan, and the audit row of every read and write.
/// Both the JSON API and the web app go through here.
pub struct Plans<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("no family plan {id}"))
}

impl Plans<'_> {
    fn require(&self) -> Result<Uuid, ApiError> {
        self.caller.require(&[Role::Caseworker])?;
        self.caller
            .principal_id()
            .ok_or_else(|| ApiError::Unauthorized("this endpoint needs an API key".into()))
    }

    async fn audit(&self, action: &str, id: Option<Uuid>) -> Result<(), ApiError> {
        self.caller
            .audit(&self.state.store, action, entities::plans::PLAN, id)
            .await
    }

    /// Whether the caller may see `plan`: its owner, or a caseworker of the owner's team.
    fn sees(&self, plan: &domain::Plan) -> bool {
        Some(plan.owner_id) == self.caller.principal_id() || (plan.team.is_some() && plan.team == self.caller.team)
    }

    /// A plan the caller may see (404 otherwise), audited.
    pub async fn get(&self, id: Uuid) -> Result<domain::Plan, ApiError> {
        self.require()?;
        let plan = match self.state.store.get_plan(id).await {
            Err(entities::Error::NotFound { .. }) => return Err(not_found(id)),
            other => other?,
        };
        if !self.sees(&plan) {
            return Err(not_found(id));
        }
        self.audit("read", Some(id)).await?;
        Ok(plan)
    }

    /// The plan and the family's referrals the caller may see (audited as an export).
    pub async fn export(&self, id: Uuid) -> Result<FamilyExport, ApiError> {
        let plan = self.get(id).await?;
        let referrals = Referrals {
            state: self.state,
            caller: self.caller,
        };
        let mut items = Vec::new();
        for page in 1.. {
            let filter = entities::referrals::ReferralFilter {
                family_hash: Some(plan.family_hash.clone()),
                ..Default::default()
            };
            let page = entities::store::Page { page, per_page: 100 };
            let (total, batch, actor) = referrals.list(filter, SenderScope::Team, page).await?;
            let done = batch.is_empty() || items.len() + batch.len() >= total as usize;
            items.extend(
                batch
                    .into_iter()
                    .map(|r| crate::referrals::Referral::for_caller(r, actor)),
            );
            if done {
                break;
            }
        }
        self.audit("export", Some(id)).await?;
        Ok(FamilyExport {
            exported_at: Utc::now(),
            plan: plan.into(),
            referrals: items,
        })
    }

    pub async fn create(&self, input: domain::NewPlan) -> Result<domain::Plan, ApiError> {
        let owner = self.require()?;
        let plan = self
            .state
            .store
            .create_plan(
                input,
                owner,
                self.caller.team.clone(),
                &self.state.referral_secret,
                &self.caller.accessor(),
            )
            .await?;
        Ok(plan)
    }

    /// The caller's plans and its team's, newest first (audited as one list read).
    pub async fn list(&self) -> Result<Vec<domain::Plan>, ApiError> {
        let owner = self.require()?;
        let plans = self.state.store.list_plans(owner, self.caller.team.as_deref()).await?;
        self.audit("list", None).await?;
        Ok(plans)
    }

    /// Goals of the caller's plans whose follow-up is due by `today + days_ahead`, soonest first.
    pub async fn due(&self, today: NaiveDate, days_ahead: u32) -> Result<Vec<DueFollowUp>, ApiError> {
        Ok(due_follow_ups(&self.list().await?, today, days_ahead))
    }

    /// Enrols a plan the caller may see in a programme.
    pub async fn enrol(&self, id: Uuid, programme_id: Uuid) -> Result<domain::Plan, ApiError> {
        self.get(id).await?;
        self.state
            .store
            .enrol_plan(id, programme_id, &self.caller.accessor())
            .await?;
        Ok(self.state.store.get_plan(id).await?)
    }

    pub async fn add_goal(&self, id: Uuid, goal: domain::NewGoal) -> Result<domain::Plan, ApiError> {
        self.get(id).await?;
        let plan = self.state.store.add_goal(id, goal, &self.caller.accessor()).await?;
        Ok(plan)
    }

    pub async fn add_follow_up(
        &self,
        id: Uuid,
        goal_id: Uuid,
        follow_up: domain::NewFollowUp,
    ) -> Result<domain::Plan, ApiError> {
        let recorder = self.require()?;
        self.get(id).await?;
        let plan = match self
            .state
            .store
            .add_follow_up(id, goal_id, follow_up, recorder, &self.caller.accessor())
            .await
        {
            Err(entities::Error::NotFound { .. }) => {
                return Err(ApiError::NotFound(format!("no goal {goal_id} in plan {id}")));
            }
            other => other?,
        };
        Ok(plan)
    }

    /// Links a referral the caller may see (its own or its team's) to a goal of the plan.
    pub async fn link_referral(&self, id: Uuid, goal_id: Uuid, referral_id: Uuid) -> Result<domain::Plan, ApiError> {
        self.get(id).await?;
        let referrals = Referrals {
            state: self.state,
            caller: self.caller,
        };
        referrals.open(referral_id).await.map_err(|error| match error {
            ApiError::NotFound(_) => ApiError::Invalid(vec![entities::FieldError::new(
                "referral_id",
                format!("no referral {referral_id} of yours"),
            )]),
            other => other,
        })?;
        let plan = match self
            .state
            .store
            .link_referral(id, goal_id, referral_id, &self.caller.accessor())
            .await
        {
            Err(entities::Error::NotFound { .. }) => {
                return Err(ApiError::NotFound(format!("no goal {goal_id} in plan {id}")));
            }
            other => other?,
        };
        Ok(plan)
    }
}

fn new_goal(input: GoalInput) -> domain::NewGoal {
    domain::NewGoal {
        kind: input.kind,
        other_text: input.other_text,
        for_whom: input.for_whom,
        baseline: input.baseline,
        target: input.target,
        target_date: input.target_date,
    }
}

/// A programme's report for `caller` (admin only), audited as a report. The JSON API and the admin dashboard
/// both answer with this.
pub async fn programme_report(state: &AppState, caller: &Caller, id: Uuid) -> Result<ProgrammeReport, ApiError> {
    caller.require(&[Role::Admin])?;
    let programme = match state.store.get_programme(id).await {
        Err(entities::Error::NotFound { .. }) => return Err(ApiError::NotFound(format!("no programme {id}"))),
        other => other?,
    };
    let today = Utc::now().date_naive();
    let quarters = state.store.programme_report(id, today).await?;
    let referrals = state.store.programme_referrals(id, today).await?;
    caller
        .audit(&state.store, "report", "programme-report", Some(id))
        .await?;
    Ok(ProgrammeReport {
        programme: programme.into(),
        quarters: quarters
            .into_iter()
            .map(|q| ProgrammeQuarter {
                quarter: q.quarter,
                ends_on: q.ends_on,
                cells: q
                    .cells
                    .into_iter()
                    .map(|c| ProgrammeCell {
                        goal_kind: c.goal_kind,
                        target_share: c.target_share,
                        families: c.families,
                        met: c.met,
                        share: c.share,
                        meets_target: c.meets_target,
                        suppressed: c.suppressed,
                    })
                    .collect(),
            })
            .collect(),
        referrals_by_need: referrals.by_need.into_iter().map(Into::into).collect(),
        referrals_by_partner: referrals.by_partner.into_iter().map(Into::into).collect(),
        partners_of_goal_reachers: referrals
            .partners_of_goal_reachers
            .into_iter()
            .map(|p| PartnerUse {
                goal_kind: p.goal_kind,
                organization_id: p.organization_id,
                organization: p.organization,
                families: p.families,
            })
            .collect(),
    })
}

/// The programme report as CSV (RFC 4180): a line per quarter and goal kind; suppressed cells are empty.
pub fn programme_report_csv(report: &ProgrammeReport) -> String {
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let count = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from("quarter,goal_kind,target_share,families,met,share,meets_target,suppressed\r\n");
    for quarter in &report.quarters {
        for c in &quarter.cells {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}\r\n",
                quarter.quarter,
                c.goal_kind,
                number(c.target_share),
                count(c.families),
                count(c.met),
                number(c.share),
                c.meets_target.map(|m| m.to_string()).unwrap_or_default(),
                c.suppressed
            ));
        }
    }
    out
}

pub struct PlanApi {
    pub state: Arc<AppState>,
}

#[OpenApi(prefix_path = "/v1")]
impl PlanApi {
    /// Kinds of goal a family plan can have, with their scales
    #[oai(
        path = "/goal-kinds",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "listGoalKinds"
    )]
    async fn goal_kinds(&self) -> Json<GoalKindList> {
        Json(GoalKindList {
            items: domain::goal_kinds()
                .iter()
                .map(|k| GoalKind {
                    code: k.code.clone(),
                    label_da: k.label.da.clone(),
                    label_en: k.label.en.clone(),
                    scale: k.scale.as_str().to_owned(),
                    better: match k.better {
                        domain::Better::Higher => "higher".into(),
                        domain::Better::Lower => "lower".into(),
                    },
                    for_whom: k.for_whom.iter().map(|f| f.as_str().to_owned()).collect(),
                    need: k.need.clone(),
                })
                .collect(),
        })
    }

    /// Make a family plan (caseworker)
    ///
    /// The challenges in the family's words and 1–5 goals; consent is required; a CPR number anywhere is
    /// refused (422). Only the owner and the owner's team see the plan.
    #[oai(
        path = "/family-plans",
        method = "post",
        tag = "PlanTag::FamilyPlans",
        operation_id = "createFamilyPlan"
    )]
    async fn create(&self, auth: Auth, body: Json<PlanInput>) -> ApiResult<PlanRecord> {
        let caller = auth.caller();
        let input = body.0;
        let new = domain::NewPlan {
            family_ref: input.family_ref,
            challenges: input.challenges,
            needs: input.needs,
            consent: input.consent.map(|c| entities::referrals::Consent {
                given_at: c.given_at,
                scope: c.scope,
            }),
            goals: input.goals.into_iter().map(new_goal).collect(),
        };
        let plan = Plans {
            state: &self.state,
            caller: &caller,
        }
        .create(new)
        .await?;
        let location = format!("/v1/family-plans/{}", plan.id);
        Ok(PlanRecord::Created(Json(plan.into()), location))
    }

    /// Your family plans and your team's (caseworker)
    #[oai(
        path = "/family-plans",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "listFamilyPlans"
    )]
    async fn list(&self, auth: Auth) -> ApiResult<Json<FamilyPlanList>> {
        let caller = auth.caller();
        let plans = Plans {
            state: &self.state,
            caller: &caller,
        }
        .list()
        .await?;
        Ok(Json(FamilyPlanList {
            items: plans.into_iter().map(Into::into).collect(),
        }))
    }

    /// Goals whose quarterly follow-up is due (caseworker)
    ///
    /// Goals not yet met, of your plans and your team's, whose follow-up is due today or within `days_ahead`.
    #[oai(
        path = "/family-plans/due",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "listDueFollowUps"
    )]
    async fn due(&self, auth: Auth, days_ahead: Query<Option<u32>>) -> ApiResult<Json<DueFollowUpList>> {
        let caller = auth.caller();
        let days_ahead = days_ahead.0.unwrap_or(0);
        if days_ahead > 366 {
            return Err(ApiError::BadRequest("days_ahead must be at most 366".into()).into());
        }
        let items = Plans {
            state: &self.state,
            caller: &caller,
        }
        .due(Utc::now().date_naive(), days_ahead)
        .await?;
        Ok(Json(DueFollowUpList { items }))
    }

    /// Get a family plan with its goals, their follow-ups and linked referrals
    #[oai(
        path = "/family-plans/:id",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "getFamilyPlan"
    )]
    async fn get(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<PlanRecord> {
        let caller = auth.caller();
        let plan = Plans {
            state: &self.state,
            caller: &caller,
        }
        .get(id.0)
        .await?;
        Ok(PlanRecord::Ok(Json(plan.into())))
    }

    /// Everything kept about the plan's family that you may see (data-subject access request)
    ///
    /// The plan with its goals and follow-ups, and the referrals you or your team sent for the same family
    /// reference, with their messages and statuses. Audited as an export.
    #[oai(
        path = "/family-plans/:id/export",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "exportFamilyPlan"
    )]
    async fn export(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Json<FamilyExport>> {
        let caller = auth.caller();
        let export = Plans {
            state: &self.state,
            caller: &caller,
        }
        .export(id.0)
        .await?;
        Ok(Json(export))
    }

    /// Enrol a family plan in a programme (caseworker)
    #[oai(
        path = "/family-plans/:id/programmes",
        method = "post",
        tag = "PlanTag::FamilyPlans",
        operation_id = "enrolFamilyPlan"
    )]
    async fn enrol(&self, auth: Auth, id: Path<Uuid>, body: Json<EnrolInput>) -> ApiResult<PlanRecord> {
        let caller = auth.caller();
        let plan = Plans {
            state: &self.state,
            caller: &caller,
        }
        .enrol(id.0, body.0.programme_id)
        .await?;
        Ok(PlanRecord::Ok(Json(plan.into())))
    }

    /// Define a programme with targets per goal kind (admin)
    #[oai(
        path = "/programmes",
        method = "post",
        tag = "PlanTag::FamilyPlans",
        operation_id = "createProgramme"
    )]
    async fn create_programme(&self, auth: Auth, body: Json<ProgrammeInput>) -> ApiResult<ProgrammeCreated> {
        let caller = auth.caller();
        caller.require(&[Role::Admin])?;
        let input = body.0;
        let programme = self
            .state
            .store
            .create_programme(entities::programmes::NewProgramme {
                name: input.name,
                area: input.area,
                starts_on: input.starts_on,
                ends_on: input.ends_on,
                targets: input.targets.into_iter().map(|t| (t.kind, t.share)).collect(),
            })
            .await?;
        let location = format!("/v1/programmes/{}", programme.id);
        Ok(ProgrammeCreated::Created(Json(programme.into()), location))
    }

    /// The programmes (admin, caseworker)
    #[oai(
        path = "/programmes",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "listProgrammes"
    )]
    async fn list_programmes(&self, auth: Auth) -> ApiResult<Json<ProgrammeList>> {
        auth.caller().require(&[Role::Admin, Role::Caseworker])?;
        let items = self
            .state
            .store
            .list_programmes()
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(Json(ProgrammeList { items }))
    }

    /// A programme's goals per quarter against its targets (admin)
    ///
    /// Per quarter from the programme's start and goal kind: enrolled plans with such a goal, those meeting it at
    /// the quarter's end, the share and whether it meets the target. Aggregates only; a cell of fewer than 5
    /// families is suppressed.
    #[oai(
        path = "/reports/programmes/:id",
        method = "get",
        tag = "PlanTag::FamilyPlans",
        operation_id = "programmeReport"
    )]
    async fn programme_report(&self, auth: Auth, id: Path<Uuid>) -> ApiResult<Json<ProgrammeReport>> {
        Ok(Json(programme_report(&self.state, &auth.caller(), id.0).await?))
    }

    /// Add a goal to a family plan (at most 5)
    #[oai(
        path = "/family-plans/:id/goals",
        method = "post",
        tag = "PlanTag::FamilyPlans",
        operation_id = "addGoal"
    )]
    async fn add_goal(&self, auth: Auth, id: Path<Uuid>, body: Json<GoalInput>) -> ApiResult<PlanRecord> {
        let caller = auth.caller();
        let plan = Plans {
            state: &self.state,
            caller: &caller,
        }
        .add_goal(id.0, new_goal(body.0))
        .await?;
        Ok(PlanRecord::Created(
            Json(plan.into()),
            format!("/v1/family-plans/{}", id.0),
        ))
    }

    /// Record a follow-up of a goal: the value on its scale at a date, and a short note
    #[oai(
        path = "/family-plans/:id/goals/:goal_id/follow-ups",
        method = "post",
        tag = "PlanTag::FamilyPlans",
        operation_id = "addFollowUp"
    )]
    async fn add_follow_up(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        goal_id: Path<Uuid>,
        body: Json<FollowUpInput>,
    ) -> ApiResult<PlanRecord> {
        let caller = auth.caller();
        let input = body.0;
        let plan = Plans {
            state: &self.state,
            caller: &caller,
        }
        .add_follow_up(
            id.0,
            goal_id.0,
            domain::NewFollowUp {
                on_date: input.on_date,
                value: input.value,
                note: input.note,
            },
        )
        .await?;
        Ok(PlanRecord::Created(
            Json(plan.into()),
            format!("/v1/family-plans/{}", id.0),
        ))
    }

    /// Link a referral to the goal it serves
    #[oai(
        path = "/family-plans/:id/goals/:goal_id/referrals",
        method = "post",
        tag = "PlanTag::FamilyPlans",
        operation_id = "linkReferralToGoal"
    )]
    async fn link_referral(
        &self,
        auth: Auth,
        id: Path<Uuid>,
        goal_id: Path<Uuid>,
        body: Json<LinkInput>,
    ) -> ApiResult<PlanRecord> {
        let caller = auth.caller();
        let plan = Plans {
            state: &self.state,
            caller: &caller,
        }
        .link_referral(id.0, goal_id.0, body.0.referral_id)
        .await?;
        Ok(PlanRecord::Ok(Json(plan.into())))
    }
}

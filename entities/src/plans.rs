//! Family plans (issue 17): the challenges in the family's own words, 1–5 goals on the scale of their kind
//! (`seed-data/goal-kinds.json`), follow-ups on each goal, and the referrals that serve a goal. The family is
//! known only by the keyed hash of the caseworker's case reference (as referrals); no names, no CPR numbers.
//! Who may see a plan is the API's rule; here are the data and the rules of the data.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Deserialize;
use uuid::Uuid;

use crate::audit::{Accessor, insert_audit};
use crate::cpr::contains_cpr;
use crate::directory::Checker;
use crate::error::{Error, FieldError, Result};
use crate::referrals::{CPR_REFUSED, Consent, FamilySecret, MESSAGE_MAX_CHARS, check_family};
use crate::store::Store;
use crate::tables::{family_plan, goal_follow_up, plan_goal, referral, referral_goal};

/// At most this many goals in one plan: a plan the family can hold in mind.
pub const MAX_GOALS: usize = 5;
/// A follow-up is due this many days after the last one (or after the goal was set): every quarter.
pub const FOLLOW_UP_DAYS: i64 = 91;
const NOTE_MAX_CHARS: usize = 1000;
const OTHER_MAX_CHARS: usize = 200;

/// The goal kinds shipped with the service.
pub const GOAL_KINDS_JSON: &str = include_str!("../../seed-data/goal-kinds.json");

/// The scale a goal's values are on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// 0 = no, 1 = yes.
    YesNo,
    /// 0–100.
    Percent,
    /// 1–10, as the family rates it.
    Score,
}

impl Scale {
    pub fn range(self) -> (f64, f64) {
        match self {
            Scale::YesNo => (0.0, 1.0),
            Scale::Percent => (0.0, 100.0),
            Scale::Score => (1.0, 10.0),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scale::YesNo => "yes-no",
            Scale::Percent => "percent",
            Scale::Score => "score",
        }
    }

    fn admits(self, value: f64) -> bool {
        let (low, high) = self.range();
        value.is_finite() && (low..=high).contains(&value) && (self != Scale::YesNo || value.fract() == 0.0)
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Label {
    pub da: String,
    pub en: String,
}

/// A kind of goal.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalKind {
    pub code: String,
    pub label: Label,
    pub scale: Scale,
    /// `higher` or `lower`: which way is progress.
    pub better: Better,
    /// Who the goal can be for.
    #[serde(rename = "for")]
    pub for_whom: Vec<ForWhom>,
    /// The need whose offers serve the goal.
    pub need: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

impl Better {
    /// Whether `value` reaches `target` in this direction.
    pub fn reached(self, value: f64, target: f64) -> bool {
        match self {
            Better::Higher => value >= target,
            Better::Lower => value <= target,
        }
    }
}

/// Who a goal is for: a role in the family, never a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForWhom {
    Parent,
    Child,
    Family,
}

impl ForWhom {
    pub const ALL: [ForWhom; 3] = [ForWhom::Parent, ForWhom::Child, ForWhom::Family];

    pub fn as_str(self) -> &'static str {
        match self {
            ForWhom::Parent => "parent",
            ForWhom::Child => "child",
            ForWhom::Family => "family",
        }
    }

    pub fn parse(text: &str) -> Option<ForWhom> {
        ForWhom::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

#[derive(Deserialize)]
struct GoalKindsFile {
    #[allow(dead_code)]
    about: Vec<String>,
    kinds: Vec<GoalKind>,
}

/// The goal kinds of `seed-data/goal-kinds.json`, read once.
pub fn goal_kinds() -> &'static [GoalKind] {
    static KINDS: std::sync::OnceLock<Vec<GoalKind>> = std::sync::OnceLock::new();
    KINDS.get_or_init(|| {
        let file: GoalKindsFile =
            serde_json::from_str(GOAL_KINDS_JSON).expect("seed-data/goal-kinds.json is valid (tested)");
        file.kinds
    })
}

/// The goal kind with this code.
pub fn goal_kind(code: &str) -> Option<&'static GoalKind> {
    goal_kinds().iter().find(|k| k.code == code)
}

/// A goal as the caseworker sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewGoal {
    pub kind: String,
    pub other_text: Option<String>,
    pub for_whom: String,
    pub baseline: f64,
    pub target: f64,
    pub target_date: NaiveDate,
}

impl NewGoal {
    fn check(&self, path: &str, check: &mut Checker) {
        let Some(kind) = goal_kind(&self.kind) else {
            let codes: Vec<&str> = goal_kinds().iter().map(|k| k.code.as_str()).collect();
            check.fail(format!("{path}kind"), format!("must be one of {}", codes.join(", ")));
            return;
        };
        match (&self.other_text, kind.code == "other") {
            (None, true) => check.fail(format!("{path}other_text"), "say what the goal is"),
            (Some(text), _) => {
                check.text(&format!("{path}other_text"), text, 1, OTHER_MAX_CHARS);
                if contains_cpr(text) {
                    check.fail(format!("{path}other_text"), CPR_REFUSED);
                }
            }
            (None, false) => {}
        }
        match ForWhom::parse(&self.for_whom) {
            Some(whom) if kind.for_whom.contains(&whom) => {}
            _ => check.fail(
                format!("{path}for_whom"),
                format!(
                    "must be one of {}",
                    kind.for_whom.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
        }
        let (low, high) = kind.scale.range();
        for (field, value) in [("baseline", self.baseline), ("target", self.target)] {
            if !kind.scale.admits(value) {
                check.fail(
                    format!("{path}{field}"),
                    format!("must be on the {} scale ({low}–{high})", kind.scale.as_str()),
                );
            }
        }
    }
}

/// A plan as the caseworker makes it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPlan {
    /// The caseworker's own case reference; stored only as a keyed hash.
    pub family_ref: String,
    /// The family's biggest challenges, in its own words.
    pub challenges: String,
    /// Need codes (suggested from the challenges by need detection, confirmed by the caseworker).
    pub needs: Vec<String>,
    pub consent: Option<Consent>,
    pub goals: Vec<NewGoal>,
}

impl NewPlan {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), Vec<FieldError>> {
        let mut check = Checker::default();
        check_family(&mut check, &self.family_ref, self.consent.as_ref(), now);
        check.text("challenges", &self.challenges, 1, MESSAGE_MAX_CHARS);
        if contains_cpr(&self.challenges) {
            check.fail("challenges", CPR_REFUSED);
        }
        if self.goals.is_empty() || self.goals.len() > MAX_GOALS {
            check.fail("goals", format!("give 1–{MAX_GOALS} goals"));
        }
        for (i, goal) in self.goals.iter().enumerate() {
            goal.check(&format!("goals/{i}/"), &mut check);
        }
        check.into_result()
    }
}

/// A follow-up as the caseworker records it.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFollowUp {
    pub on_date: NaiveDate,
    pub value: f64,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FollowUp {
    pub id: Uuid,
    pub on_date: NaiveDate,
    pub value: f64,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    pub id: Uuid,
    pub kind: String,
    pub other_text: Option<String>,
    pub for_whom: String,
    pub baseline: f64,
    pub target: f64,
    pub target_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// Oldest first.
    pub follow_ups: Vec<FollowUp>,
    /// The referrals serving the goal, and whether each helped (once the partner has said).
    pub referrals: Vec<(Uuid, Option<GoalOutcome>)>,
}

/// Whether a referral helped the goal it serves, as the receiving partner says on completing or failing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoalOutcome {
    Yes,
    Partly,
    No,
    Unknown,
}

impl GoalOutcome {
    pub const ALL: [GoalOutcome; 4] = [
        GoalOutcome::Yes,
        GoalOutcome::Partly,
        GoalOutcome::No,
        GoalOutcome::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GoalOutcome::Yes => "yes",
            GoalOutcome::Partly => "partly",
            GoalOutcome::No => "no",
            GoalOutcome::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<GoalOutcome> {
        GoalOutcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

impl Goal {
    /// The latest value recorded, or the baseline.
    pub fn current(&self) -> f64 {
        self.follow_ups.last().map_or(self.baseline, |f| f.value)
    }

    /// Whether the latest value reaches the target, in the direction of progress of the goal's kind.
    pub fn met(&self) -> bool {
        let better = goal_kind(&self.kind).map_or(Better::Higher, |k| k.better);
        better.reached(self.current(), self.target)
    }

    /// When the next follow-up is due: a quarter after the last one, or after the goal was set.
    pub fn next_follow_up(&self) -> NaiveDate {
        let last = self
            .follow_ups
            .iter()
            .map(|f| f.on_date)
            .max()
            .unwrap_or(self.created_at.date_naive());
        last + Duration::days(FOLLOW_UP_DAYS)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub id: Uuid,
    pub family_hash: String,
    pub owner_id: Uuid,
    pub team: Option<String>,
    pub challenges: String,
    pub needs: Vec<String>,
    pub consent: Consent,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub goals: Vec<Goal>,
    /// The programmes the plan is enrolled in.
    pub programme_ids: Vec<Uuid>,
}

fn goal_row(plan_id: Uuid, position: usize, goal: &NewGoal, now: DateTime<Utc>) -> plan_goal::ActiveModel {
    plan_goal::ActiveModel {
        id: Set(Uuid::new_v4()),
        plan_id: Set(plan_id),
        position: Set(position as i32),
        kind: Set(goal.kind.clone()),
        other_text: Set(goal.other_text.clone()),
        for_whom: Set(goal.for_whom.clone()),
        baseline: Set(goal.baseline),
        target: Set(goal.target),
        target_date: Set(goal.target_date),
        created_at: Set(now),
    }
}

/// The entity name of a plan in the audit trail.
pub const PLAN: &str = "family_plan";

impl Store {
    /// Creates a plan with its goals.
    pub async fn create_plan(
        &self,
        input: NewPlan,
        owner_id: Uuid,
        team: Option<String>,
        secret: &FamilySecret,
        who: &Accessor,
    ) -> Result<Plan> {
        let now = Utc::now();
        let who = who.clone();
        input.validate(now).map_err(Error::Invalid)?;
        let id = Uuid::new_v4();
        let consent = input.consent.clone().expect("validated");
        let row = family_plan::ActiveModel {
            id: Set(id),
            family_hash: Set(secret.hash(&input.family_ref)),
            owner_id: Set(owner_id),
            team: Set(team),
            challenges: Set(input.challenges.clone()),
            needs: Set(serde_json::to_string(&input.needs).unwrap_or_else(|_| "[]".into())),
            consent_given_at: Set(consent.given_at),
            consent_scope: Set(consent.scope),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let goals: Vec<plan_goal::ActiveModel> = input
            .goals
            .iter()
            .enumerate()
            .map(|(position, g)| goal_row(id, position, g, now))
            .collect();
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                family_plan::Entity::insert(row).exec(txn).await?;
                plan_goal::Entity::insert_many(goals).exec(txn).await?;
                insert_audit(txn, &who, "create", PLAN, Some(id)).await
            })
        })
        .await?;
        self.get_plan(id).await
    }

    /// A plan with its goals, their follow-ups and linked referrals.
    pub async fn get_plan(&self, id: Uuid) -> Result<Plan> {
        let db = self.connection();
        let Some(row) = family_plan::Entity::find_by_id(id).one(db).await? else {
            return Err(Error::NotFound {
                entity: "family plan",
                id: id.to_string(),
            });
        };
        let goal_rows = plan_goal::Entity::find()
            .filter(plan_goal::Column::PlanId.eq(id))
            .order_by_asc(plan_goal::Column::Position)
            .all(db)
            .await?;
        let goal_ids: Vec<Uuid> = goal_rows.iter().map(|g| g.id).collect();
        let mut follow_ups: HashMap<Uuid, Vec<FollowUp>> = HashMap::new();
        for f in goal_follow_up::Entity::find()
            .filter(goal_follow_up::Column::GoalId.is_in(goal_ids.clone()))
            .order_by_asc(goal_follow_up::Column::OnDate)
            .order_by_asc(goal_follow_up::Column::CreatedAt)
            .all(db)
            .await?
        {
            follow_ups.entry(f.goal_id).or_default().push(FollowUp {
                id: f.id,
                on_date: f.on_date,
                value: f.value,
                note: f.note,
                created_at: f.created_at,
            });
        }
        let mut referrals: HashMap<Uuid, Vec<(Uuid, Option<GoalOutcome>)>> = HashMap::new();
        for link in referral_goal::Entity::find()
            .filter(referral_goal::Column::GoalId.is_in(goal_ids))
            .order_by_asc(referral_goal::Column::ReferralId)
            .all(db)
            .await?
        {
            let helped = link.helped.as_deref().and_then(GoalOutcome::parse);
            referrals
                .entry(link.goal_id)
                .or_default()
                .push((link.referral_id, helped));
        }
        let programme_ids = self.programmes_of_plan(id).await?;
        Ok(Plan {
            programme_ids,
            id: row.id,
            family_hash: row.family_hash,
            owner_id: row.owner_id,
            team: row.team,
            challenges: row.challenges,
            needs: serde_json::from_str(&row.needs).unwrap_or_default(),
            consent: Consent {
                given_at: row.consent_given_at,
                scope: row.consent_scope,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
            goals: goal_rows
                .into_iter()
                .map(|g| Goal {
                    follow_ups: follow_ups.remove(&g.id).unwrap_or_default(),
                    referrals: referrals.remove(&g.id).unwrap_or_default(),
                    id: g.id,
                    kind: g.kind,
                    other_text: g.other_text,
                    for_whom: g.for_whom,
                    baseline: g.baseline,
                    target: g.target,
                    target_date: g.target_date,
                    created_at: g.created_at,
                })
                .collect(),
        })
    }

    /// The plans of an owner, or of a team, newest first.
    pub async fn list_plans(&self, owner_id: Uuid, team: Option<&str>) -> Result<Vec<Plan>> {
        let mut query = family_plan::Entity::find();
        query = match team {
            Some(team) => query.filter(
                family_plan::Column::Team
                    .eq(team)
                    .or(family_plan::Column::OwnerId.eq(owner_id)),
            ),
            None => query.filter(family_plan::Column::OwnerId.eq(owner_id)),
        };
        let rows = query
            .order_by_desc(family_plan::Column::CreatedAt)
            .all(self.connection())
            .await?;
        let mut plans = Vec::with_capacity(rows.len());
        for row in rows {
            plans.push(self.get_plan(row.id).await?);
        }
        Ok(plans)
    }

    /// Adds a goal to a plan (at most [`MAX_GOALS`]).
    pub async fn add_goal(&self, plan_id: Uuid, goal: NewGoal, who: &Accessor) -> Result<Plan> {
        let who = who.clone();
        let mut check = Checker::default();
        goal.check("", &mut check);
        check.into_result().map_err(Error::Invalid)?;
        let now = Utc::now();
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let count = plan_goal::Entity::find()
                    .filter(plan_goal::Column::PlanId.eq(plan_id))
                    .all(txn)
                    .await?
                    .len();
                if count >= MAX_GOALS {
                    return Err(Error::invalid("kind", format!("a plan has at most {MAX_GOALS} goals")));
                }
                plan_goal::Entity::insert(goal_row(plan_id, count, &goal, now))
                    .exec(txn)
                    .await?;
                insert_audit(txn, &who, "add-goal", PLAN, Some(plan_id)).await?;
                touch(txn, plan_id, now).await
            })
        })
        .await?;
        self.get_plan(plan_id).await
    }

    /// Records a follow-up of a goal of `plan_id`.
    pub async fn add_follow_up(
        &self,
        plan_id: Uuid,
        goal_id: Uuid,
        follow_up: NewFollowUp,
        recorded_by: Uuid,
        who: &Accessor,
    ) -> Result<Plan> {
        let who = who.clone();
        let plan = self.get_plan(plan_id).await?;
        let Some(goal) = plan.goals.iter().find(|g| g.id == goal_id) else {
            return Err(Error::NotFound {
                entity: "goal",
                id: goal_id.to_string(),
            });
        };
        let mut check = Checker::default();
        if let Some(kind) = goal_kind(&goal.kind)
            && !kind.scale.admits(follow_up.value)
        {
            let (low, high) = kind.scale.range();
            check.fail(
                "value",
                format!("must be on the {} scale ({low}–{high})", kind.scale.as_str()),
            );
        }
        let now = Utc::now();
        if follow_up.on_date > now.date_naive() {
            check.fail("on_date", "must not be in the future");
        }
        if let Some(note) = &follow_up.note {
            check.text("note", note, 0, NOTE_MAX_CHARS);
            if contains_cpr(note) {
                check.fail("note", CPR_REFUSED);
            }
        }
        check.into_result().map_err(Error::Invalid)?;
        let row = goal_follow_up::ActiveModel {
            id: Set(Uuid::new_v4()),
            goal_id: Set(goal_id),
            on_date: Set(follow_up.on_date),
            value: Set(follow_up.value),
            note: Set(follow_up.note),
            recorded_by: Set(recorded_by),
            created_at: Set(now),
        };
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                goal_follow_up::Entity::insert(row).exec(txn).await?;
                insert_audit(txn, &who, "add-follow-up", PLAN, Some(plan_id)).await?;
                touch(txn, plan_id, now).await
            })
        })
        .await?;
        self.get_plan(plan_id).await
    }

    /// Links a referral to a goal of `plan_id`: the referral must be for the same family.
    pub async fn link_referral(&self, plan_id: Uuid, goal_id: Uuid, referral_id: Uuid, who: &Accessor) -> Result<Plan> {
        let who = who.clone();
        let plan = self.get_plan(plan_id).await?;
        if !plan.goals.iter().any(|g| g.id == goal_id) {
            return Err(Error::NotFound {
                entity: "goal",
                id: goal_id.to_string(),
            });
        }
        let Some(referral) = referral::Entity::find_by_id(referral_id).one(self.connection()).await? else {
            return Err(Error::invalid("referral_id", format!("no referral {referral_id}")));
        };
        if referral.family_hash.as_deref() != Some(plan.family_hash.as_str()) {
            return Err(Error::invalid(
                "referral_id",
                "the referral is for another family reference",
            ));
        }
        let now = Utc::now();
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let exists = referral_goal::Entity::find_by_id((referral_id, goal_id))
                    .one(txn)
                    .await?;
                if exists.is_none() {
                    referral_goal::Entity::insert(referral_goal::ActiveModel {
                        referral_id: Set(referral_id),
                        goal_id: Set(goal_id),
                        helped: Set(None),
                    })
                    .exec(txn)
                    .await?;
                }
                insert_audit(txn, &who, "link-referral", PLAN, Some(plan_id)).await?;
                touch(txn, plan_id, now).await
            })
        })
        .await?;
        self.get_plan(plan_id).await
    }
}

impl Store {
    /// The kinds of the goals `referral_id` serves (what a receiving partner may know of the plan).
    pub async fn goal_kinds_of_referral(&self, referral_id: Uuid) -> Result<Vec<String>> {
        let goals: Vec<Uuid> = referral_goal::Entity::find()
            .filter(referral_goal::Column::ReferralId.eq(referral_id))
            .all(self.connection())
            .await?
            .into_iter()
            .map(|l| l.goal_id)
            .collect();
        let mut kinds: Vec<String> = plan_goal::Entity::find()
            .filter(plan_goal::Column::Id.is_in(goals))
            .all(self.connection())
            .await?
            .into_iter()
            .map(|g| g.kind)
            .collect();
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }

    /// Records whether `referral_id` helped the goals it serves.
    pub async fn record_goal_outcome(&self, referral_id: Uuid, outcome: GoalOutcome) -> Result<()> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                referral_goal::Entity::update_many()
                    .set(referral_goal::ActiveModel {
                        helped: Set(Some(outcome.as_str().to_owned())),
                        ..Default::default()
                    })
                    .filter(referral_goal::Column::ReferralId.eq(referral_id))
                    .exec(txn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Deletes the plans not changed since `cutoff` (retention), with their goals, follow-ups and links to
    /// referrals; returns how many plans went. The referrals themselves follow their own retention rule.
    pub async fn purge_plans_before(&self, cutoff: DateTime<Utc>) -> Result<u64> {
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                let plans: Vec<Uuid> = family_plan::Entity::find()
                    .filter(family_plan::Column::UpdatedAt.lt(cutoff))
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|p| p.id)
                    .collect();
                for chunk in plans.chunks(500) {
                    let goals: Vec<Uuid> = plan_goal::Entity::find()
                        .filter(plan_goal::Column::PlanId.is_in(chunk.iter().copied()))
                        .all(txn)
                        .await?
                        .into_iter()
                        .map(|g| g.id)
                        .collect();
                    goal_follow_up::Entity::delete_many()
                        .filter(goal_follow_up::Column::GoalId.is_in(goals.iter().copied()))
                        .exec(txn)
                        .await?;
                    referral_goal::Entity::delete_many()
                        .filter(referral_goal::Column::GoalId.is_in(goals.iter().copied()))
                        .exec(txn)
                        .await?;
                    plan_goal::Entity::delete_many()
                        .filter(plan_goal::Column::PlanId.is_in(chunk.iter().copied()))
                        .exec(txn)
                        .await?;
                    family_plan::Entity::delete_many()
                        .filter(family_plan::Column::Id.is_in(chunk.iter().copied()))
                        .exec(txn)
                        .await?;
                }
                Ok(plans.len() as u64)
            })
        })
        .await
    }
}

async fn touch(txn: &sea_orm::DatabaseTransaction, plan_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    family_plan::Entity::update(family_plan::ActiveModel {
        id: Set(plan_id),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_goal_kinds_are_valid() {
        let kinds = goal_kinds();
        assert!(kinds.iter().any(|k| k.code == "other"));
        for code in [
            "parent-employment",
            "school-attendance",
            "wellbeing",
            "danish-language",
            "debt-free",
        ] {
            assert!(goal_kind(code).is_some(), "{code}");
        }
        let mut codes: Vec<&str> = kinds.iter().map(|k| k.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }

    #[test]
    fn scales_admit_their_values_only() {
        assert!(Scale::YesNo.admits(1.0) && !Scale::YesNo.admits(0.5) && !Scale::YesNo.admits(2.0));
        assert!(Scale::Percent.admits(12.5) && !Scale::Percent.admits(101.0));
        assert!(Scale::Score.admits(7.0) && !Scale::Score.admits(0.0) && !Scale::Score.admits(f64::NAN));
    }

    #[test]
    fn a_goal_is_met_in_its_direction() {
        let goal = |kind: &str, baseline: f64, target: f64, values: &[f64]| Goal {
            id: Uuid::nil(),
            kind: kind.into(),
            other_text: None,
            for_whom: "child".into(),
            baseline,
            target,
            target_date: NaiveDate::from_ymd_opt(2027, 6, 1).unwrap(),
            created_at: Utc::now(),
            follow_ups: values
                .iter()
                .map(|v| FollowUp {
                    id: Uuid::nil(),
                    on_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    value: *v,
                    note: None,
                    created_at: Utc::now(),
                })
                .collect(),
            referrals: vec![],
        };
        assert!(!goal("school-attendance", 30.0, 10.0, &[]).met());
        assert!(goal("school-attendance", 30.0, 10.0, &[20.0, 8.0]).met());
        assert!(goal("wellbeing", 4.0, 7.0, &[7.0]).met());
        assert!(!goal("wellbeing", 4.0, 7.0, &[8.0, 6.0]).met());
    }
}

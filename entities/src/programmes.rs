//! Programmes (issue 17): the municipality's programmes with targets per goal kind ("Opgang til Opgang":
//! 75 % of the parents in work), plans enrolled in them, and the programme report: per quarter and goal kind, how
//! many enrolled plans have such a goal and how many meet it, against the target. Aggregates only, and a cell of
//! fewer than [`SMALL_CELL`] families is suppressed: small numbers identify people.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::audit::{Accessor, insert_audit};
use crate::directory::Checker;
use crate::error::{Error, Result};
use crate::plans::{Better, goal_kinds};
use crate::store::Store;
use crate::tables::{
    family_plan, goal_follow_up, organization, plan_goal, plan_programme, programme, programme_target, referral,
    referral_need,
};

/// A report cell counting fewer families than this is not shown.
pub const SMALL_CELL: u64 = 5;
const NAME_MAX_CHARS: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub struct NewProgramme {
    pub name: String,
    pub area: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// (goal kind, share 0–1 of the plans with such a goal that should meet it).
    pub targets: Vec<(String, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Programme {
    pub id: Uuid,
    pub name: String,
    pub area: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub targets: Vec<(String, f64)>,
    pub created_at: DateTime<Utc>,
}

/// One goal kind in one quarter of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportCell {
    pub goal_kind: String,
    pub target_share: Option<f64>,
    /// Enrolled plans with a goal of this kind set by the quarter's end; None when suppressed.
    pub families: Option<u64>,
    /// Of those, the plans whose goal was met at the quarter's end (the latest follow-up on or before it).
    pub met: Option<u64>,
    pub share: Option<f64>,
    pub meets_target: Option<bool>,
    pub suppressed: bool,
}

/// Referrals of the enrolled families grouped by a key (a need code, or a partner organisation): counts of
/// referrals by outcome and of distinct families; None when fewer than [`SMALL_CELL`] families (suppressed).
#[derive(Clone, Debug, PartialEq)]
pub struct ReferralGroup {
    pub key: String,
    pub label: String,
    pub families: Option<u64>,
    pub referrals: Option<u64>,
    pub completed: Option<u64>,
    pub failed: Option<u64>,
    pub rejected: Option<u64>,
    pub open: Option<u64>,
    pub suppressed: bool,
}

/// A partner whose services families that reached a goal of this kind were referred to.
#[derive(Clone, Debug, PartialEq)]
pub struct PartnerUse {
    pub goal_kind: String,
    pub organization_id: Uuid,
    pub organization: String,
    /// Distinct families; rows under [`SMALL_CELL`] families are left out entirely.
    pub families: u64,
}

/// What the enrolled families' referrals were and did.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReferralOutcomes {
    pub by_need: Vec<ReferralGroup>,
    pub by_partner: Vec<ReferralGroup>,
    pub partners_of_goal_reachers: Vec<PartnerUse>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReportQuarter {
    /// `2026-Q4`.
    pub quarter: String,
    pub ends_on: NaiveDate,
    pub cells: Vec<ReportCell>,
}

/// The last day of the quarter `day` is in.
pub fn quarter_end(day: NaiveDate) -> NaiveDate {
    let last_month = (day.month0() / 3) * 3 + 3;
    let next = if last_month == 12 {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year(), last_month + 1, 1)
    };
    next.expect("a valid date") - Duration::days(1)
}

impl NewProgramme {
    fn validate(&self) -> Result<(), Vec<crate::error::FieldError>> {
        let mut check = Checker::default();
        check.text("name", self.name.trim(), 1, NAME_MAX_CHARS);
        check.text("area", self.area.trim(), 1, NAME_MAX_CHARS);
        if self.ends_on <= self.starts_on {
            check.fail("ends_on", "must be after starts_on");
        }
        let codes: HashSet<&str> = goal_kinds().iter().map(|k| k.code.as_str()).collect();
        let mut seen = HashSet::new();
        for (i, (kind, share)) in self.targets.iter().enumerate() {
            if !codes.contains(kind.as_str()) {
                check.fail(format!("targets/{i}/kind"), format!("unknown goal kind `{kind}`"));
            } else if !seen.insert(kind) {
                check.fail(format!("targets/{i}/kind"), "one target per goal kind");
            }
            if !share.is_finite() || !(0.0..=1.0).contains(share) {
                check.fail(format!("targets/{i}/share"), "must be between 0 and 1");
            }
        }
        check.into_result()
    }
}

impl Store {
    pub async fn create_programme(&self, input: NewProgramme) -> Result<Programme> {
        input.validate().map_err(Error::Invalid)?;
        let id = Uuid::new_v4();
        let now = Utc::now();
        let row = programme::ActiveModel {
            id: Set(id),
            name: Set(input.name.trim().to_owned()),
            area: Set(input.area.trim().to_owned()),
            starts_on: Set(input.starts_on),
            ends_on: Set(input.ends_on),
            created_at: Set(now),
        };
        let targets: Vec<programme_target::ActiveModel> = input
            .targets
            .iter()
            .map(|(kind, share)| programme_target::ActiveModel {
                programme_id: Set(id),
                goal_kind: Set(kind.clone()),
                target_share: Set(*share),
            })
            .collect();
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                programme::Entity::insert(row).exec(txn).await?;
                if !targets.is_empty() {
                    programme_target::Entity::insert_many(targets).exec(txn).await?;
                }
                Ok(())
            })
        })
        .await?;
        self.get_programme(id).await
    }

    pub async fn get_programme(&self, id: Uuid) -> Result<Programme> {
        let db = self.connection();
        let Some(row) = programme::Entity::find_by_id(id).one(db).await? else {
            return Err(Error::NotFound {
                entity: "programme",
                id: id.to_string(),
            });
        };
        let targets = programme_target::Entity::find()
            .filter(programme_target::Column::ProgrammeId.eq(id))
            .order_by_asc(programme_target::Column::GoalKind)
            .all(db)
            .await?
            .into_iter()
            .map(|t| (t.goal_kind, t.target_share))
            .collect();
        Ok(Programme {
            id: row.id,
            name: row.name,
            area: row.area,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            targets,
            created_at: row.created_at,
        })
    }

    pub async fn list_programmes(&self) -> Result<Vec<Programme>> {
        let rows = programme::Entity::find()
            .order_by_asc(programme::Column::StartsOn)
            .order_by_asc(programme::Column::Name)
            .all(self.connection())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.get_programme(row.id).await?);
        }
        Ok(out)
    }

    /// Enrols a plan in a programme (again is the same).
    pub async fn enrol_plan(&self, plan_id: Uuid, programme_id: Uuid, who: &Accessor) -> Result<()> {
        let who = who.clone();
        self.get_programme(programme_id)
            .await
            .map_err(|_| Error::invalid("programme_id", format!("no programme {programme_id}")))?;
        self.write_unlogged(move |txn| {
            Box::pin(async move {
                if plan_programme::Entity::find_by_id((plan_id, programme_id))
                    .one(txn)
                    .await?
                    .is_none()
                {
                    plan_programme::Entity::insert(plan_programme::ActiveModel {
                        plan_id: Set(plan_id),
                        programme_id: Set(programme_id),
                    })
                    .exec(txn)
                    .await?;
                }
                insert_audit(txn, &who, "enrol", crate::plans::PLAN, Some(plan_id)).await
            })
        })
        .await
    }

    /// The programmes a plan is enrolled in.
    pub async fn programmes_of_plan(&self, plan_id: Uuid) -> Result<Vec<Uuid>> {
        Ok(plan_programme::Entity::find()
            .filter(plan_programme::Column::PlanId.eq(plan_id))
            .order_by_asc(plan_programme::Column::ProgrammeId)
            .all(self.connection())
            .await?
            .into_iter()
            .map(|p| p.programme_id)
            .collect())
    }

    /// The programme report: for each quarter from the programme's start to `today` (or its end), per goal kind
    /// with a target or with goals, the enrolled plans with such a goal and those meeting it at the quarter's end.
    pub async fn programme_report(&self, programme_id: Uuid, today: NaiveDate) -> Result<Vec<ReportQuarter>> {
        let programme = self.get_programme(programme_id).await?;
        let db = self.connection();
        let plan_ids: Vec<Uuid> = plan_programme::Entity::find()
            .filter(plan_programme::Column::ProgrammeId.eq(programme_id))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.plan_id)
            .collect();
        // only plans that still exist (a purged plan leaves its enrolment behind)
        let live: HashSet<Uuid> = family_plan::Entity::find()
            .filter(family_plan::Column::Id.is_in(plan_ids.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        let goals = plan_goal::Entity::find()
            .filter(plan_goal::Column::PlanId.is_in(live.iter().copied()))
            .all(db)
            .await?;
        let follow_ups = goal_follow_up::Entity::find()
            .filter(goal_follow_up::Column::GoalId.is_in(goals.iter().map(|g| g.id)))
            .order_by_asc(goal_follow_up::Column::OnDate)
            .order_by_asc(goal_follow_up::Column::CreatedAt)
            .all(db)
            .await?;
        let kinds = goal_kinds();
        let mut codes: Vec<String> = programme.targets.iter().map(|(k, _)| k.clone()).collect();
        for goal in &goals {
            if !codes.contains(&goal.kind) {
                codes.push(goal.kind.clone());
            }
        }
        let last = today.min(programme.ends_on);
        let mut quarters = Vec::new();
        let mut end = quarter_end(programme.starts_on);
        loop {
            let mut cells = Vec::new();
            for code in &codes {
                let better = kinds
                    .iter()
                    .find(|k| &k.code == code)
                    .map_or(Better::Higher, |k| k.better);
                // per plan: does any of its goals of this kind, set by the quarter's end, meet its target then?
                let mut plans: HashSet<Uuid> = HashSet::new();
                let mut met: HashSet<Uuid> = HashSet::new();
                for goal in goals
                    .iter()
                    .filter(|g| &g.kind == code && g.created_at.date_naive() <= end)
                {
                    plans.insert(goal.plan_id);
                    let value = follow_ups
                        .iter()
                        .rfind(|f| f.goal_id == goal.id && f.on_date <= end)
                        .map_or(goal.baseline, |f| f.value);
                    if better.reached(value, goal.target) {
                        met.insert(goal.plan_id);
                    }
                }
                let families = plans.len() as u64;
                let target_share = programme.targets.iter().find(|(k, _)| k == code).map(|(_, s)| *s);
                let suppressed = families < SMALL_CELL;
                let share = (!suppressed).then(|| met.len() as f64 / families as f64);
                cells.push(ReportCell {
                    goal_kind: code.clone(),
                    target_share,
                    families: (!suppressed).then_some(families),
                    met: (!suppressed).then_some(met.len() as u64),
                    meets_target: share.zip(target_share).map(|(s, t)| s >= t),
                    share,
                    suppressed,
                });
            }
            quarters.push(ReportQuarter {
                quarter: format!("{}-Q{}", end.year(), end.month0() / 3 + 1),
                ends_on: end,
                cells,
            });
            if end >= last {
                break;
            }
            end = quarter_end(end + Duration::days(1));
        }
        Ok(quarters)
    }
}

fn group(key: String, label: String, rows: &[&referral::Model]) -> ReferralGroup {
    let families: HashSet<&str> = rows.iter().filter_map(|r| r.family_hash.as_deref()).collect();
    let families = families.len() as u64;
    let suppressed = families < SMALL_CELL;
    let count = |status: &[&str]| -> Option<u64> {
        (!suppressed).then(|| rows.iter().filter(|r| status.contains(&r.status.as_str())).count() as u64)
    };
    ReferralGroup {
        key,
        label,
        families: (!suppressed).then_some(families),
        referrals: (!suppressed).then_some(rows.len() as u64),
        completed: count(&["completed"]),
        failed: count(&["failed"]),
        rejected: count(&["rejected"]),
        open: count(&["requested", "received", "accepted", "in-progress", "on-hold"]),
        suppressed,
    }
}

impl Store {
    /// The referrals of the programme's enrolled families (by the family hash of their plans) made since the
    /// programme started: per need and per partner, and the partners whose services the families that reached
    /// a goal were referred to. Aggregates only; small cells suppressed.
    pub async fn programme_referrals(&self, programme_id: Uuid, today: NaiveDate) -> Result<ReferralOutcomes> {
        let programme = self.get_programme(programme_id).await?;
        let db = self.connection();
        let plan_ids: Vec<Uuid> = plan_programme::Entity::find()
            .filter(plan_programme::Column::ProgrammeId.eq(programme_id))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.plan_id)
            .collect();
        let plans = family_plan::Entity::find()
            .filter(family_plan::Column::Id.is_in(plan_ids))
            .all(db)
            .await?;
        let hashes: Vec<String> = plans.iter().map(|p| p.family_hash.clone()).collect();
        let start = programme.starts_on.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let referrals = referral::Entity::find()
            .filter(referral::Column::FamilyHash.is_in(hashes))
            .filter(referral::Column::CreatedAt.gte(start))
            .all(db)
            .await?;
        let needs = referral_need::Entity::find()
            .filter(referral_need::Column::ReferralId.is_in(referrals.iter().map(|r| r.id)))
            .all(db)
            .await?;
        let organizations: std::collections::HashMap<Uuid, String> = organization::Entity::find()
            .filter(organization::Column::Id.is_in(referrals.iter().map(|r| r.organization_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();

        let mut need_codes: Vec<String> = needs.iter().map(|n| n.need_code.clone()).collect();
        need_codes.sort();
        need_codes.dedup();
        let by_need = need_codes
            .into_iter()
            .map(|code| {
                let ids: HashSet<Uuid> = needs
                    .iter()
                    .filter(|n| n.need_code == code)
                    .map(|n| n.referral_id)
                    .collect();
                let rows: Vec<&referral::Model> = referrals.iter().filter(|r| ids.contains(&r.id)).collect();
                group(code.clone(), code, &rows)
            })
            .collect();
        let mut partner_ids: Vec<Uuid> = referrals.iter().map(|r| r.organization_id).collect();
        partner_ids.sort();
        partner_ids.dedup();
        let by_partner = partner_ids
            .into_iter()
            .map(|id| {
                let rows: Vec<&referral::Model> = referrals.iter().filter(|r| r.organization_id == id).collect();
                group(
                    id.to_string(),
                    organizations.get(&id).cloned().unwrap_or_default(),
                    &rows,
                )
            })
            .collect();

        // families that reached a goal (by the latest quarter), per goal kind, and the partners they were sent to
        let _ = today;
        let goals = plan_goal::Entity::find()
            .filter(plan_goal::Column::PlanId.is_in(plans.iter().map(|p| p.id)))
            .all(db)
            .await?;
        let follow_ups = goal_follow_up::Entity::find()
            .filter(goal_follow_up::Column::GoalId.is_in(goals.iter().map(|g| g.id)))
            .order_by_asc(goal_follow_up::Column::OnDate)
            .order_by_asc(goal_follow_up::Column::CreatedAt)
            .all(db)
            .await?;
        let kinds = goal_kinds();
        let mut partners_of_goal_reachers = Vec::new();
        let mut goal_codes: Vec<String> = goals.iter().map(|g| g.kind.clone()).collect();
        goal_codes.sort();
        goal_codes.dedup();
        for code in goal_codes {
            let better = kinds
                .iter()
                .find(|k| k.code == code)
                .map_or(Better::Higher, |k| k.better);
            let reachers: HashSet<&str> = goals
                .iter()
                .filter(|g| g.kind == code)
                .filter(|g| {
                    let value = follow_ups
                        .iter()
                        .rfind(|f| f.goal_id == g.id)
                        .map_or(g.baseline, |f| f.value);
                    better.reached(value, g.target)
                })
                .filter_map(|g| plans.iter().find(|p| p.id == g.plan_id).map(|p| p.family_hash.as_str()))
                .collect();
            let mut per_partner: std::collections::BTreeMap<Uuid, HashSet<&str>> = Default::default();
            for r in &referrals {
                if let Some(hash) = r.family_hash.as_deref().filter(|h| reachers.contains(h)) {
                    per_partner.entry(r.organization_id).or_default().insert(hash);
                }
            }
            for (organization_id, families) in per_partner {
                if (families.len() as u64) < SMALL_CELL {
                    continue;
                }
                partners_of_goal_reachers.push(PartnerUse {
                    goal_kind: code.clone(),
                    organization_id,
                    organization: organizations.get(&organization_id).cloned().unwrap_or_default(),
                    families: families.len() as u64,
                });
            }
        }
        Ok(ReferralOutcomes {
            by_need,
            by_partner,
            partners_of_goal_reachers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_end_where_they_should() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(quarter_end(d(2026, 12, 1)), d(2026, 12, 31));
        assert_eq!(quarter_end(d(2026, 1, 1)), d(2026, 3, 31));
        assert_eq!(quarter_end(d(2026, 5, 15)), d(2026, 6, 30));
        assert_eq!(quarter_end(d(2026, 9, 30)), d(2026, 9, 30));
    }
}

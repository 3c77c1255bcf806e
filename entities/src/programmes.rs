//! Programmes (issue 17): the municipality's programmes with targets per goal kind ("Opgang til Opgang":
//! 75 % of the parents in work), plans enrolled in them, and the programme report: per quarter and goal kind, how
//! many enrolled plans have such a goal and how many meet it, against the target. Aggregates only, and a cell of
//! fewer than [`SMALL_CELL`] families is suppressed: small numbers identify people.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::directory::Checker;
use crate::error::{Error, Result};
use crate::plans::{Better, goal_kinds};
use crate::store::Store;
use crate::tables::{family_plan, goal_follow_up, plan_goal, plan_programme, programme, programme_target};

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
        let codes: HashSet<String> = goal_kinds().into_iter().map(|k| k.code).collect();
        let mut seen = HashSet::new();
        for (i, (kind, share)) in self.targets.iter().enumerate() {
            if !codes.contains(kind) {
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
    pub async fn enrol_plan(&self, plan_id: Uuid, programme_id: Uuid) -> Result<()> {
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
                Ok(())
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
                    let reached = match better {
                        Better::Higher => value >= goal.target,
                        Better::Lower => value <= goal.target,
                    };
                    if reached {
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

//! A caseworker's family plans (`/plans`): make a plan from the family's own words, set goals, record the
//! quarterly follow-up and see each goal's line. The same rules as `/v1/family-plans` (`crate::plans::Plans`):
//! only the owner and the owner's team see a plan.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use entities::directory::Role;
use entities::plans as domain;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use crate::plans::Plans;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::i18n::{Lang, text};
use crate::web::render::{api_error_page, page, page_with_status};
use crate::web::search::{FieldProblem, need_label};
use crate::web::visitor::Visitor;
use crate::web::{Fields, parse_id};

#[derive(Serialize, Clone)]
struct KindOption {
    code: String,
    label: String,
    scale: String,
    scale_hint: String,
}

#[derive(Serialize)]
struct PointView {
    x: f64,
    y: f64,
    label: String,
}

/// A referral of the same family that can be linked to a goal.
#[derive(Serialize, Clone)]
struct LinkOption {
    id: Uuid,
    label: String,
}

#[derive(Serialize)]
struct GoalView {
    /// The family's referrals not yet linked to this goal.
    link_options: Vec<LinkOption>,
    id: Uuid,
    kind: String,
    title: String,
    for_whom: String,
    baseline: String,
    target: String,
    current: String,
    met: bool,
    target_date: NaiveDate,
    next_follow_up: NaiveDate,
    due: bool,
    scale_hint: String,
    /// Follow-ups as points of an SVG line (viewBox 0 0 300 100), with the target as a line.
    points: Vec<PointView>,
    polyline: String,
    target_y: f64,
    follow_ups: Vec<(NaiveDate, String, String)>,
    referrals: usize,
}

#[derive(Serialize)]
struct PlanRow {
    id: Uuid,
    created: NaiveDate,
    challenges: String,
    goals: usize,
    met: usize,
}

#[derive(Serialize)]
struct DueRow {
    plan_id: Uuid,
    goal_id: Uuid,
    title: String,
    due: NaiveDate,
}

#[derive(Serialize, Default)]
struct PlansView {
    plans: Vec<PlanRow>,
    due: Vec<DueRow>,
}

#[derive(Serialize, Default, Clone)]
struct GoalForm {
    kind: String,
    other_text: String,
    for_whom: String,
    baseline: String,
    target: String,
    target_date: String,
}

#[derive(Serialize, Default)]
struct NewPlanView {
    kinds: Vec<KindOption>,
    family_ref: String,
    challenges: String,
    consent: bool,
    goal: GoalForm,
    errors: Vec<FieldProblem>,
}

#[derive(Serialize, Default)]
struct PlanView {
    id: Uuid,
    challenges: String,
    needs: Vec<String>,
    goals: Vec<GoalView>,
    kinds: Vec<KindOption>,
    goal: GoalForm,
    today: String,
    may_add_goal: bool,
    errors: Vec<FieldProblem>,
    /// The goal whose follow-up form has the errors.
    error_goal: Option<Uuid>,
}

/// A goal kind's name in `lang` ("Forælder i arbejde"); the code itself for a kind we do not know.
pub(crate) fn goal_kind_label(lang: Lang, code: &str) -> String {
    domain::goal_kind(code).map_or_else(
        || code.to_owned(),
        |k| match lang {
            Lang::Da => k.label.da.clone(),
            Lang::En => k.label.en.clone(),
        },
    )
}

fn kinds(lang: Lang) -> Vec<KindOption> {
    domain::goal_kinds()
        .iter()
        .map(|k| KindOption {
            label: goal_kind_label(lang, &k.code),
            scale_hint: text(lang, &format!("scale_{}", k.scale.as_str())),
            scale: k.scale.as_str().to_owned(),
            code: k.code.clone(),
        })
        .collect()
}

fn kind_title(lang: Lang, goal: &domain::Goal) -> String {
    let label = goal_kind_label(lang, &goal.kind);
    match &goal.other_text {
        Some(other) => format!("{label}: {other}"),
        None => label,
    }
}

/// A value in words on its scale: "ja"/"nej", "20 %", "7".
fn value_text(lang: Lang, kind: &str, value: f64) -> String {
    let scale = domain::goal_kind(kind).map(|k| k.scale);
    match scale {
        Some(domain::Scale::YesNo) => text(lang, if value >= 1.0 { "yes" } else { "no" }),
        Some(domain::Scale::Percent) => format!("{value} %"),
        _ => format!("{value}"),
    }
}

fn goal_view(lang: Lang, goal: domain::Goal, today: NaiveDate) -> GoalView {
    let scale = domain::goal_kind(&goal.kind).map_or(domain::Scale::Score, |k| k.scale);
    let (low, high) = scale.range();
    let y = |value: f64| 95.0 - 90.0 * (value - low) / (high - low);
    // baseline at x = 0, then each follow-up, evenly spaced
    let mut values = vec![(goal.created_at.date_naive(), goal.baseline)];
    values.extend(goal.follow_ups.iter().map(|f| (f.on_date, f.value)));
    let step = if values.len() > 1 {
        290.0 / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<PointView> = values
        .iter()
        .enumerate()
        .map(|(i, (date, value))| PointView {
            x: 5.0 + step * i as f64,
            y: y(*value),
            label: format!("{date}: {}", value_text(lang, &goal.kind, *value)),
        })
        .collect();
    let polyline = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", p.x, p.y))
        .collect::<Vec<_>>()
        .join(" ");
    GoalView {
        id: goal.id,
        title: kind_title(lang, &goal),
        for_whom: text(lang, &format!("for_whom_{}", goal.for_whom)),
        baseline: value_text(lang, &goal.kind, goal.baseline),
        target: value_text(lang, &goal.kind, goal.target),
        current: value_text(lang, &goal.kind, goal.current()),
        met: goal.met(),
        target_date: goal.target_date,
        next_follow_up: goal.next_follow_up(),
        due: !goal.met() && goal.next_follow_up() <= today,
        scale_hint: text(lang, &format!("scale_{}", scale.as_str())),
        target_y: y(goal.target),
        points,
        polyline,
        follow_ups: goal
            .follow_ups
            .iter()
            .map(|f| {
                (
                    f.on_date,
                    value_text(lang, &goal.kind, f.value),
                    f.note.clone().unwrap_or_default(),
                )
            })
            .collect(),
        referrals: goal.referrals.len(),
        link_options: Vec::new(),
        kind: goal.kind,
    }
}

fn plan_view(state: &AppState, lang: Lang, plan: domain::Plan) -> PlanView {
    let today = Utc::now().date_naive();
    PlanView {
        id: plan.id,
        may_add_goal: plan.goals.len() < domain::MAX_GOALS,
        challenges: plan.challenges,
        needs: plan.needs.iter().map(|code| need_label(state, lang, code)).collect(),
        goals: plan.goals.into_iter().map(|g| goal_view(lang, g, today)).collect(),
        kinds: kinds(lang),
        today: today.to_string(),
        goal: GoalForm {
            target_date: (today + chrono::Duration::days(365)).to_string(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The plan page's view, with the family's referrals (sent by the visitor or its team) each goal can be linked to.
async fn plan_view_with_links(state: &AppState, visitor: &Visitor, plan: domain::Plan) -> Result<PlanView, ApiError> {
    let lang = visitor.lang;
    let filter = entities::referrals::ReferralFilter {
        family_hash: Some(plan.family_hash.clone()),
        ..Default::default()
    };
    let page = entities::store::Page { page: 1, per_page: 100 };
    let (_, referrals, _) = crate::referrals::Referrals {
        state,
        caller: &visitor.caller,
    }
    .list(filter, crate::referrals::SenderScope::Team, page)
    .await?;
    let service_ids: Vec<Uuid> = referrals.iter().map(|r| r.service_id).collect();
    let names: std::collections::HashMap<Uuid, String> = state
        .store
        .services_by_id(&service_ids)
        .await?
        .into_iter()
        .map(|s| (s.meta.id, s.data.name))
        .collect();
    let options: Vec<(Uuid, LinkOption)> = referrals
        .iter()
        .map(|r| {
            let service = names.get(&r.service_id).cloned().unwrap_or_default();
            let status = text(lang, &format!("status_{}", r.status.as_str()));
            let label = format!("{service} ({status}, {})", r.created_at.date_naive());
            (r.id, LinkOption { id: r.id, label })
        })
        .collect();
    let linked: std::collections::HashMap<Uuid, Vec<Uuid>> = plan
        .goals
        .iter()
        .map(|g| (g.id, g.referrals.iter().map(|(id, _)| *id).collect()))
        .collect();
    let mut view = plan_view(state, lang, plan);
    for goal in &mut view.goals {
        let taken = linked.get(&goal.id).cloned().unwrap_or_default();
        goal.link_options = options
            .iter()
            .filter(|(id, _)| !taken.contains(id))
            .map(|(_, o)| o.clone())
            .collect();
    }
    Ok(view)
}

/// The form field a rule's error path belongs to, and the message in the app's words where we have them.
fn problems(lang: Lang, error: ApiError, prefix: &str) -> Result<Vec<FieldProblem>, ApiError> {
    match error {
        ApiError::Invalid(fields) => Ok(fields
            .into_iter()
            .map(|f| {
                let field = f.path.rsplit('/').next().unwrap_or(&f.path).to_owned();
                let message = if f.reason.contains("CPR") {
                    text(lang, "error_cpr")
                } else if field == "consent" {
                    text(lang, "error_consent")
                } else {
                    f.reason
                };
                FieldProblem {
                    field: format!("{prefix}{field}"),
                    message,
                }
            })
            .collect()),
        other => Err(other),
    }
}

fn number(fields: &Fields, name: &str) -> f64 {
    fields
        .get(name)
        .and_then(|v| v.trim().replace(',', ".").parse().ok())
        .unwrap_or(f64::NAN)
}

/// A date field (`YYYY-MM-DD`, as a date input sends it), or a validation error naming the field.
fn date(lang: Lang, fields: &Fields, name: &str) -> Result<NaiveDate, ApiError> {
    fields
        .get(name)
        .and_then(|v| NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok())
        .ok_or_else(|| ApiError::Invalid(vec![entities::FieldError::new(name, text(lang, "error_date"))]))
}

fn goal_form(fields: &Fields) -> GoalForm {
    let get = |name: &str| fields.get(name).unwrap_or_default().to_owned();
    GoalForm {
        kind: get("kind"),
        other_text: get("other_text"),
        for_whom: get("for_whom"),
        baseline: get("baseline"),
        target: get("target"),
        target_date: get("target_date"),
    }
}

fn new_goal(lang: Lang, fields: &Fields) -> Result<domain::NewGoal, ApiError> {
    Ok(domain::NewGoal {
        kind: fields.get("kind").unwrap_or_default().to_owned(),
        other_text: fields
            .get("other_text")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        for_whom: fields.get("for_whom").unwrap_or_default().to_owned(),
        baseline: number(fields, "baseline"),
        target: number(fields, "target"),
        target_date: date(lang, fields, "target_date")?,
    })
}

#[handler]
pub async fn plans_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let plans = Plans {
        state: &state,
        caller: &visitor.caller,
    };
    let today = Utc::now().date_naive();
    // the plans are read (and audited) once; what is due is worked out from them
    let all = match plans.list().await {
        Ok(all) => all,
        Err(error) => return api_error_page(&state, visitor, error),
    };
    let due = crate::plans::due_follow_ups(&all, today, 0);
    let lang = visitor.lang;
    let titles: std::collections::HashMap<Uuid, String> = all
        .iter()
        .flat_map(|p| p.goals.iter().map(|g| (g.id, kind_title(lang, g))))
        .collect();
    let view = PlansView {
        due: due
            .into_iter()
            .map(|d| DueRow {
                title: titles.get(&d.goal_id).cloned().unwrap_or_default(),
                plan_id: d.plan_id,
                goal_id: d.goal_id,
                due: d.due,
            })
            .collect(),
        plans: all
            .into_iter()
            .map(|p| PlanRow {
                id: p.id,
                created: p.created_at.date_naive(),
                challenges: p.challenges.chars().take(120).collect(),
                met: p.goals.iter().filter(|g| g.met()).count(),
                goals: p.goals.len(),
            })
            .collect(),
    };
    page(visitor, "plans.html", view)
}

#[handler]
pub async fn new_plan_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let view = NewPlanView {
        kinds: kinds(visitor.lang),
        goal: GoalForm {
            target_date: (Utc::now().date_naive() + chrono::Duration::days(365)).to_string(),
            ..Default::default()
        },
        ..Default::default()
    };
    page(visitor, "plan_new.html", view)
}

#[handler]
pub async fn create_plan(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(fields): Form<Fields>) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let challenges = fields.get("challenges").unwrap_or_default().to_owned();
    // the needs the family's words name, as the search chips read them
    let needs = state
        .detector
        .detect(&challenges, None)
        .into_iter()
        .map(|d| d.code)
        .collect();
    let consent = fields.has("consent");
    let plans = Plans {
        state: &state,
        caller: &visitor.caller,
    };
    let created = match new_goal(visitor.lang, &fields) {
        Ok(goal) => {
            plans
                .create(domain::NewPlan {
                    family_ref: fields.get("family_ref").unwrap_or_default().to_owned(),
                    challenges: challenges.clone(),
                    needs,
                    consent: consent.then(|| entities::referrals::Consent {
                        given_at: Utc::now(),
                        scope: text(Lang::Da, "plan_consent_scope"),
                    }),
                    goals: vec![goal],
                })
                .await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok(plan) => Redirect::see_other(format!("/plans/{}", plan.id)).into_response(),
        Err(error) => match problems(visitor.lang, error, "") {
            Ok(errors) => {
                let view = NewPlanView {
                    kinds: kinds(visitor.lang),
                    family_ref: fields.get("family_ref").unwrap_or_default().to_owned(),
                    challenges,
                    consent,
                    goal: goal_form(&fields),
                    errors,
                };
                page_with_status(visitor, StatusCode::UNPROCESSABLE_ENTITY, "plan_new.html", view)
            }
            Err(error) => api_error_page(&state, visitor, error),
        },
    }
}

#[handler]
pub async fn plan_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let plans = Plans {
        state: &state,
        caller: &visitor.caller,
    };
    match parse_id(&id) {
        Ok(id) => match plans.get(id).await {
            Ok(plan) => match plan_view_with_links(&state, visitor, plan).await {
                Ok(view) => page(visitor, "plan.html", view),
                Err(error) => api_error_page(&state, visitor, error),
            },
            Err(error) => api_error_page(&state, visitor, error),
        },
        Err(error) => api_error_page(&state, visitor, error),
    }
}

/// Shows the plan again with the errors of a form (422), or the error page.
async fn plan_with_errors(
    state: &AppState,
    visitor: &Visitor,
    id: Uuid,
    error: ApiError,
    goal: Option<Uuid>,
    form: GoalForm,
) -> Response {
    let prefix = if goal.is_some() { "follow_up_" } else { "" };
    let errors = match problems(visitor.lang, error, prefix) {
        Ok(errors) => errors,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let plans = Plans {
        state,
        caller: &visitor.caller,
    };
    match plans.get(id).await {
        Ok(plan) => {
            let mut view = match plan_view_with_links(state, visitor, plan).await {
                Ok(view) => view,
                Err(error) => return api_error_page(state, visitor, error),
            };
            view.errors = errors;
            view.error_goal = goal;
            view.goal = form;
            page_with_status(visitor, StatusCode::UNPROCESSABLE_ENTITY, "plan.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

#[handler]
pub async fn add_goal(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(error) => return api_error_page(&state, visitor, error),
    };
    let plans = Plans {
        state: &state,
        caller: &visitor.caller,
    };
    let added = match new_goal(visitor.lang, &fields) {
        Ok(goal) => plans.add_goal(id, goal).await,
        Err(error) => Err(error),
    };
    match added {
        Ok(_) => Redirect::see_other(format!("/plans/{id}#goals")).into_response(),
        Err(error) => plan_with_errors(&state, visitor, id, error, None, goal_form(&fields)).await,
    }
}

#[handler]
pub async fn add_follow_up(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path((id, goal_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let (id, goal_id) = match (parse_id(&id), parse_id(&goal_id)) {
        (Ok(id), Ok(goal_id)) => (id, goal_id),
        (Err(error), _) | (_, Err(error)) => return api_error_page(&state, visitor, error),
    };
    let plans = Plans {
        state: &state,
        caller: &visitor.caller,
    };
    let added = match date(visitor.lang, &fields, "on_date") {
        Ok(on_date) => {
            let follow_up = domain::NewFollowUp {
                on_date,
                value: number(&fields, "value"),
                note: fields
                    .get("note")
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            };
            plans.add_follow_up(id, goal_id, follow_up).await
        }
        Err(error) => Err(error),
    };
    match added {
        Ok(_) => Redirect::see_other(format!("/plans/{id}#goal-{goal_id}")).into_response(),
        Err(error) => plan_with_errors(&state, visitor, id, error, Some(goal_id), GoalForm::default()).await,
    }
}

#[handler]
pub async fn link_referral(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path((id, goal_id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let ids = (
        parse_id(&id),
        parse_id(&goal_id),
        parse_id(fields.get("referral_id").unwrap_or_default()),
    );
    let (id, goal_id, referral_id) = match ids {
        (Ok(id), Ok(goal_id), Ok(referral_id)) => (id, goal_id, referral_id),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return api_error_page(&state, visitor, error),
    };
    let plans = Plans {
        state: &state,
        caller: &visitor.caller,
    };
    match plans.link_referral(id, goal_id, referral_id).await {
        Ok(_) => Redirect::see_other(format!("/plans/{id}#goal-{goal_id}")).into_response(),
        Err(error) => plan_with_errors(&state, visitor, id, error, Some(goal_id), GoalForm::default()).await,
    }
}

//! The municipality's programmes (`/admin/programmes`): define a programme with targets per goal kind, and see
//! per quarter the share of enrolled plans meeting each goal against its target — a chart and the same numbers in
//! a table, aggregates only (cells under 5 families suppressed), and the report as CSV.

use std::sync::Arc;

use chrono::NaiveDate;
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use super::admin;
use super::chart::{BLUE, GREEN, Series, bar_chart};
use crate::plans::{programme_report, programme_report_csv};
use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::i18n::{Lang, text};
use crate::web::plans::goal_kind_label;
use crate::web::render::{api_error_page, page_with_status};
use crate::web::search::{FieldProblem, need_label};
use crate::web::visitor::Visitor;
use crate::web::{Fields, parse_id};

const CHART_WIDTH: u32 = 720;

#[derive(Serialize)]
struct ProgrammeRow {
    id: Uuid,
    name: String,
    area: String,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
}

#[derive(Serialize)]
struct KindTarget {
    code: String,
    label: String,
    value: String,
}

#[derive(Serialize, Default)]
struct ProgrammesView {
    programmes: Vec<ProgrammeRow>,
    kinds: Vec<KindTarget>,
    name: String,
    area: String,
    starts_on: String,
    ends_on: String,
    errors: Vec<FieldProblem>,
}

#[derive(Serialize)]
struct CellRow {
    quarter: String,
    goal: String,
    families: String,
    met: String,
    share: String,
    target: String,
    status: String,
}

#[derive(Serialize)]
struct ReferralRow {
    label: String,
    families: String,
    referrals: String,
    completed: String,
    failed: String,
    rejected: String,
    open: String,
}

#[derive(Serialize)]
struct PartnerRow {
    goal: String,
    organization: String,
    families: u64,
}

#[derive(Serialize, Default)]
struct ReportView {
    by_need: Vec<ReferralRow>,
    by_partner: Vec<ReferralRow>,
    partners: Vec<PartnerRow>,
    id: Uuid,
    name: String,
    area: String,
    starts_on: String,
    ends_on: String,
    latest_quarter: String,
    chart: String,
    rows: Vec<CellRow>,
}

fn percent(share: f64) -> String {
    format!("{} %", (share * 100.0).round())
}

async fn list_view(state: &AppState, lang: Lang) -> Result<ProgrammesView, ApiError> {
    Ok(ProgrammesView {
        programmes: state
            .store
            .list_programmes()
            .await?
            .into_iter()
            .map(|p| ProgrammeRow {
                id: p.id,
                name: p.name,
                area: p.area,
                starts_on: p.starts_on,
                ends_on: p.ends_on,
            })
            .collect(),
        kinds: entities::plans::goal_kinds()
            .iter()
            .filter(|k| k.code != "other")
            .map(|k| KindTarget {
                label: goal_kind_label(lang, &k.code),
                code: k.code.clone(),
                value: String::new(),
            })
            .collect(),
        ..Default::default()
    })
}

#[handler]
pub async fn programmes_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    if let Err(response) = admin(&state, visitor) {
        return response;
    }
    match list_view(&state, visitor.lang).await {
        Ok(view) => page_with_status(visitor, StatusCode::OK, "admin_programmes.html", view),
        Err(error) => api_error_page(&state, visitor, error),
    }
}

#[handler]
pub async fn create_programme(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(fields): Form<Fields>) -> Response {
    if let Err(response) = admin(&state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let get = |name: &str| fields.get(name).unwrap_or_default().trim().to_owned();
    let date = |name: &str| NaiveDate::parse_from_str(&get(name), "%Y-%m-%d").ok();
    let mut errors = Vec::new();
    let mut targets = Vec::new();
    for kind in entities::plans::goal_kinds() {
        let value = get(&format!("target-{}", kind.code));
        if value.is_empty() {
            continue;
        }
        match value.replace(',', ".").trim_end_matches('%').trim().parse::<f64>() {
            Ok(percent) if (0.0..=100.0).contains(&percent) => targets.push((kind.code.clone(), percent / 100.0)),
            _ => errors.push(FieldProblem {
                field: format!("target-{}", kind.code),
                message: text(lang, "programme_error_target"),
            }),
        }
    }
    for name in ["starts_on", "ends_on"] {
        if date(name).is_none() {
            errors.push(FieldProblem {
                field: name.into(),
                message: text(lang, "error_date"),
            });
        }
    }
    let created = match (errors.is_empty(), date("starts_on"), date("ends_on")) {
        (true, Some(starts_on), Some(ends_on)) => Some(
            state
                .store
                .create_programme(entities::programmes::NewProgramme {
                    name: get("name"),
                    area: get("area"),
                    starts_on,
                    ends_on,
                    targets,
                })
                .await,
        ),
        _ => None,
    };
    match created {
        Some(Ok(programme)) => {
            return Redirect::see_other(format!("/admin/programmes/{}", programme.id)).into_response();
        }
        Some(Err(entities::Error::Invalid(fields))) => errors.extend(fields.into_iter().map(|f| FieldProblem {
            field: f.path.split('/').next().unwrap_or("name").to_owned(),
            message: f.reason,
        })),
        Some(Err(error)) => return api_error_page(&state, visitor, error.into()),
        None => {}
    }
    match list_view(&state, lang).await {
        Ok(mut view) => {
            for kind in &mut view.kinds {
                kind.value = get(&format!("target-{}", kind.code));
            }
            view.name = get("name");
            view.area = get("area");
            view.starts_on = get("starts_on");
            view.ends_on = get("ends_on");
            view.errors = errors;
            page_with_status(visitor, StatusCode::UNPROCESSABLE_ENTITY, "admin_programmes.html", view)
        }
        Err(error) => api_error_page(&state, visitor, error),
    }
}

#[handler]
pub async fn programme_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    if let Err(response) = admin(&state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let report = match parse_id(&id) {
        Ok(id) => programme_report(&state, &visitor.caller, id).await,
        Err(error) => Err(error),
    };
    let report = match report {
        Ok(report) => report,
        Err(error) => return api_error_page(&state, visitor, error),
    };
    let mut view = ReportView {
        id: report.programme.id,
        name: report.programme.name.clone(),
        area: report.programme.area.clone(),
        starts_on: report.programme.starts_on.to_string(),
        ends_on: report.programme.ends_on.to_string(),
        ..Default::default()
    };
    for quarter in &report.quarters {
        for c in &quarter.cells {
            view.rows.push(CellRow {
                quarter: quarter.quarter.clone(),
                goal: goal_kind_label(lang, &c.goal_kind),
                families: c
                    .families
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| text(lang, "programme_suppressed")),
                met: c.met.map(|n| n.to_string()).unwrap_or_default(),
                share: c.share.map(percent).unwrap_or_default(),
                target: c.target_share.map(percent).unwrap_or_default(),
                status: match c.meets_target {
                    Some(true) => text(lang, "programme_on_target"),
                    Some(false) => text(lang, "programme_below_target"),
                    None => String::new(),
                },
            });
        }
    }
    let rows = |groups: &[crate::plans::ReferralGroup], need: bool| -> Vec<ReferralRow> {
        let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        groups
            .iter()
            .map(|g| ReferralRow {
                label: if need {
                    need_label(&state, lang, &g.key)
                } else {
                    g.label.clone()
                },
                families: g
                    .families
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| text(lang, "programme_suppressed")),
                referrals: n(g.referrals),
                completed: n(g.completed),
                failed: n(g.failed),
                rejected: n(g.rejected),
                open: n(g.open),
            })
            .collect()
    };
    view.by_need = rows(&report.referrals_by_need, true);
    view.by_partner = rows(&report.referrals_by_partner, false);
    view.partners = report
        .partners_of_goal_reachers
        .iter()
        .map(|p| PartnerRow {
            goal: goal_kind_label(lang, &p.goal_kind),
            organization: p.organization.clone(),
            families: p.families,
        })
        .collect();
    // the chart: the latest quarter, reached against target per goal kind (suppressed cells left out)
    if let Some(latest) = report.quarters.last()
        && latest.cells.iter().any(|c| !c.suppressed)
    {
        view.latest_quarter = latest.quarter.clone();
        let shown: Vec<_> = latest.cells.iter().filter(|c| !c.suppressed).collect();
        let categories: Vec<String> = shown.iter().map(|c| goal_kind_label(lang, &c.goal_kind)).collect();
        let reached: Vec<u64> = shown
            .iter()
            .map(|c| (c.share.unwrap_or(0.0) * 100.0).round() as u64)
            .collect();
        let targets: Vec<u64> = shown
            .iter()
            .map(|c| (c.target_share.unwrap_or(0.0) * 100.0).round() as u64)
            .collect();
        let desc = shown
            .iter()
            .zip(&categories)
            .map(|(c, label)| {
                format!(
                    "{label}: {} / {}",
                    c.share.map(percent).unwrap_or_default(),
                    c.target_share.map(percent).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        view.chart = bar_chart(
            "programme-chart",
            &text(lang, "programme_chart_title").replace("{}", &latest.quarter),
            &desc,
            &categories,
            &[
                Series {
                    name: text(lang, "programme_reached"),
                    color: BLUE,
                    values: reached,
                },
                Series {
                    name: text(lang, "programme_target"),
                    color: GREEN,
                    values: targets,
                },
            ],
            CHART_WIDTH,
        );
    }
    page_with_status(visitor, StatusCode::OK, "admin_programme.html", view)
}

/// The report as CSV, the same numbers as the page.
#[handler]
pub async fn programme_csv(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(id): Path<String>) -> Response {
    if let Err(response) = admin(&state, visitor) {
        return response;
    }
    let report = match parse_id(&id) {
        Ok(id) => programme_report(&state, &visitor.caller, id).await,
        Err(error) => Err(error),
    };
    match report {
        Ok(report) => programme_report_csv(&report)
            .with_content_type("text/csv; charset=utf-8")
            .with_header(
                poem::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"brobygger-programme-{}.csv\"",
                    report.programme.id
                ),
            )
            .into_response(),
        Err(error) => api_error_page(&state, visitor, error),
    }
}

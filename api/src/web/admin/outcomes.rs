//! The outcomes dashboard (`/admin/outcomes?from=&to=&group_by=need|organization|area|month`): the referral
//! report of `GET /v1/reports/referrals` (through `Referrals::report`, audited the same way) as a page —
//! counts by status, acceptance and completion rates, rejection reasons, median and 90th-percentile hours
//! to the first response and to completion — with charts drawn on the server, each beside a table of its
//! numbers, and the same report as CSV (`/admin/outcomes.csv`).

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, Utc};
use entities::referral_rules::{ReferralStatus, RejectionReason};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;

use super::admin;
use super::chart::{self, Series};
use crate::problem::ApiError;
use crate::referrals::{GroupBy, ReferralReport, Referrals, ReportRow, parse_bound, report_csv};
use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::{Lang, text};
use crate::web::render::{api_error_page, page_with_status};
use crate::web::search::{Choice, FieldProblem, need_label};
use crate::web::visitor::Visitor;

/// Chart widths in pixels: beside a table (half the page on a desktop), and across the page.
const SIDE_CHART: u32 = 520;
const WIDE_CHART: u32 = 960;

const GROUPINGS: [(&str, GroupBy); 4] = [
    ("month", GroupBy::Month),
    ("need", GroupBy::Need),
    ("organization", GroupBy::Organization),
    ("area", GroupBy::Area),
];

/// The period and grouping a dashboard request asks for, with what was wrong in it.
struct Period {
    from: String,
    to: String,
    group: &'static str,
    group_by: GroupBy,
    errors: Vec<FieldProblem>,
}

/// Default: the last twelve months, this one included, by month.
fn period(lang: Lang, query: &Fields) -> Period {
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    let default_from = first.checked_sub_months(Months::new(11)).unwrap_or(first);
    let from = query
        .get("from")
        .map_or_else(|| default_from.to_string(), str::to_owned);
    let to = query.get("to").map_or_else(|| today.to_string(), str::to_owned);
    let (group, group_by) = GROUPINGS
        .iter()
        .find(|(name, _)| Some(*name) == query.get("group_by"))
        .copied()
        .unwrap_or(GROUPINGS[0]);
    let mut errors = Vec::new();
    for (field, value) in [("from", &from), ("to", &to)] {
        if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() || parse_bound(field, value, false).is_err() {
            errors.push(FieldProblem {
                field: field.into(),
                message: text(lang, "admin_error_date"),
            });
        }
    }
    if errors.is_empty() && from > to {
        errors.push(FieldProblem {
            field: "to".into(),
            message: text(lang, "admin_error_period"),
        });
    }
    Period {
        from,
        to,
        group,
        group_by,
        errors,
    }
}

async fn report(
    state: &AppState,
    visitor: &Visitor,
    period: &Period,
    group_by: GroupBy,
) -> Result<ReferralReport, ApiError> {
    let from = parse_bound("from", &period.from, false)?;
    let to = parse_bound("to", &period.to, true)?;
    Referrals {
        state,
        caller: &visitor.caller,
    }
    .report(from, to, group_by)
    .await
}

/// "4,5" in Danish, "4.5" in English; "–" without data.
fn number(lang: Lang, value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(v) => {
            let text = format!("{v:.1}");
            match lang {
                Lang::Da => text.replace('.', ","),
                Lang::En => text,
            }
        }
    }
}

/// `part` of `whole` as a whole percentage; None when there is nothing to divide.
fn rate(part: u64, whole: u64) -> Option<u64> {
    (whole > 0).then(|| (part as f64 * 100.0 / whole as f64).round() as u64)
}

fn percent(value: Option<u64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v} %"))
}

#[derive(Serialize)]
struct Row {
    key: String,
    label: String,
    count: u64,
    accepted: u64,
    rejected: u64,
    completed: u64,
    failed: u64,
    cancelled: u64,
    open: u64,
    acceptance: String,
    completion: String,
    first_response_median: String,
    first_response_p90: String,
    completion_median: String,
    completion_p90: String,
}

fn row(lang: Lang, label: String, r: &ReportRow) -> Row {
    Row {
        key: r.key.clone(),
        label,
        count: r.count,
        accepted: r.accepted,
        rejected: r.rejected,
        completed: r.completed,
        failed: r.failed,
        cancelled: r.cancelled,
        open: r.open,
        // Of the referrals the partner decided on, the share accepted; of those accepted, the share completed.
        acceptance: percent(rate(r.accepted, r.accepted + r.rejected)),
        completion: percent(rate(r.completed, r.accepted)),
        first_response_median: number(lang, r.first_response_hours.median),
        first_response_p90: number(lang, r.first_response_hours.p90),
        completion_median: number(lang, r.completion_hours.median),
        completion_p90: number(lang, r.completion_hours.p90),
    }
}

#[derive(Serialize)]
struct Count {
    key: String,
    label: String,
    count: u64,
}

#[derive(Serialize)]
struct Legend {
    name: String,
    color: String,
}

#[derive(Serialize)]
struct OutcomesView {
    from: String,
    to: String,
    group: &'static str,
    group_label: String,
    group_choices: Vec<Choice>,
    errors: Vec<FieldProblem>,
    has_data: bool,
    total: Option<Row>,
    statuses: Vec<Count>,
    status_chart: String,
    reasons: Vec<Count>,
    reasons_chart: String,
    groups: Vec<Row>,
    groups_chart: String,
    groups_legend: Vec<Legend>,
    csv_url: String,
}

fn hex(color: plotters::style::RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", color.0, color.1, color.2)
}

fn group_label(state: &AppState, lang: Lang, group_by: GroupBy, r: &ReportRow) -> String {
    match group_by {
        GroupBy::Need => need_label(state, lang, &r.key),
        GroupBy::Area if r.key == "unknown" => text(lang, "admin_area_unknown"),
        _ => r.label.clone().unwrap_or_else(|| r.key.clone()),
    }
}

/// "Sendt 3, Accepteret 12": a chart's numbers in words for its description.
fn in_words(items: &[(String, u64)]) -> String {
    items
        .iter()
        .map(|(label, n)| format!("{label}: {n}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[handler]
pub async fn outcomes_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let period = period(lang, &query);
    let csv_url = format!(
        "/admin/outcomes.csv?{}",
        serde_urlencoded::to_string([
            ("from", period.from.as_str()),
            ("to", period.to.as_str()),
            ("group_by", period.group)
        ])
        .unwrap_or_default()
    );
    let mut view = OutcomesView {
        from: period.from.clone(),
        to: period.to.clone(),
        group: period.group,
        group_label: text(lang, &format!("admin_group_{}", period.group)),
        group_choices: GROUPINGS
            .iter()
            .map(|(name, _)| Choice {
                value: (*name).to_owned(),
                label: text(lang, &format!("admin_group_{name}")),
                selected: *name == period.group,
            })
            .collect(),
        errors: Vec::new(),
        has_data: false,
        total: None,
        statuses: Vec::new(),
        status_chart: String::new(),
        reasons: Vec::new(),
        reasons_chart: String::new(),
        groups: Vec::new(),
        groups_chart: String::new(),
        groups_legend: Vec::new(),
        csv_url,
    };
    if !period.errors.is_empty() {
        view.errors = period.errors;
        return page_with_status(visitor, StatusCode::BAD_REQUEST, "admin_outcomes.html", view);
    }
    let by_status = match report(state, visitor, &period, GroupBy::Status).await {
        Ok(report) => report,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let grouped = match report(state, visitor, &period, period.group_by).await {
        Ok(report) => report,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let total = &grouped.total;
    view.has_data = total.count > 0;
    view.total = Some(row(lang, text(lang, "admin_total"), total));

    // Counts by the referrals' current status, every status in the state machine's order.
    view.statuses = ReferralStatus::ALL
        .iter()
        .map(|s| Count {
            key: s.as_str().to_owned(),
            label: text(lang, &format!("status_{}", s.as_str())),
            count: by_status
                .groups
                .iter()
                .find(|g| g.key == s.as_str())
                .map_or(0, |g| g.count),
        })
        .collect();
    let pairs: Vec<(String, u64)> = view.statuses.iter().map(|c| (c.label.clone(), c.count)).collect();
    view.status_chart = chart::bar_chart(
        "chart-status",
        &text(lang, "admin_chart_status"),
        &in_words(&pairs),
        &pairs.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        &[Series {
            name: text(lang, "admin_referrals"),
            color: chart::BLUE,
            values: pairs.iter().map(|(_, n)| *n).collect(),
        }],
        SIDE_CHART,
    );

    view.reasons = RejectionReason::ALL
        .iter()
        .map(|r| Count {
            key: r.as_str().to_owned(),
            label: {
                let label = text(lang, &format!("reason_{}", r.as_str()));
                let mut chars = label.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                    .unwrap_or_default()
            },
            count: total.rejected_by_reason.get(r.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let pairs: Vec<(String, u64)> = view.reasons.iter().map(|c| (c.label.clone(), c.count)).collect();
    view.reasons_chart = chart::bar_chart(
        "chart-reasons",
        &text(lang, "admin_chart_reasons"),
        &in_words(&pairs),
        &pairs.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        &[Series {
            name: text(lang, "admin_rejected"),
            color: chart::ORANGE,
            values: pairs.iter().map(|(_, n)| *n).collect(),
        }],
        SIDE_CHART,
    );

    view.groups = grouped
        .groups
        .iter()
        .map(|g| row(lang, group_label(state, lang, period.group_by, g), g))
        .collect();
    let categories: Vec<String> = view.groups.iter().map(|g| g.label.clone()).collect();
    let series = vec![
        Series {
            name: text(lang, "admin_referrals"),
            color: chart::BLUE,
            values: view.groups.iter().map(|g| g.count).collect(),
        },
        Series {
            name: text(lang, "admin_accepted"),
            color: chart::GREEN,
            values: view.groups.iter().map(|g| g.accepted).collect(),
        },
        Series {
            name: text(lang, "admin_completed"),
            color: chart::PURPLE,
            values: view.groups.iter().map(|g| g.completed).collect(),
        },
    ];
    let desc = view
        .groups
        .iter()
        .map(|g| {
            format!(
                "{}: {} {}, {} {}, {} {}",
                g.label, g.count, series[0].name, g.accepted, series[1].name, g.completed, series[2].name
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    view.groups_legend = series
        .iter()
        .map(|s| Legend {
            name: s.name.clone(),
            color: hex(s.color),
        })
        .collect();
    if !view.groups.is_empty() {
        view.groups_chart = chart::bar_chart(
            "chart-groups",
            &text(lang, "admin_chart_groups").replace("{}", &view.group_label.to_lowercase()),
            &desc,
            &categories,
            &series,
            WIDE_CHART,
        );
    }
    page_with_status(visitor, StatusCode::OK, "admin_outcomes.html", view)
}

/// The dashboard's report as CSV, the same file `GET /v1/reports/referrals` gives with `Accept: text/csv`.
#[handler]
pub async fn outcomes_csv(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let period = period(visitor.lang, &query);
    if !period.errors.is_empty() {
        return api_error_page(state, visitor, ApiError::BadRequest("from and to must be dates".into()));
    }
    match report(state, visitor, &period, period.group_by).await {
        Ok(report) => {
            let filename = format!(
                "brobygger-henvisninger-{}-{}-{}.csv",
                period.from, period.to, period.group
            );
            report_csv(&report)
                .with_content_type("text/csv; charset=utf-8")
                .with_header(
                    poem::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                )
                .into_response()
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

//! The directory's health (`/admin/health`): stale listings (not confirmed for `BROBYGGER_STALE_MONTHS`,
//! the rule the partner's pages use too), services at capacity, without a place or without needs, and
//! organizations without a partner person — by organization, each with a link to where it is fixed — and
//! the unmet needs: searches for a need that found nothing within their radius, by need, area and month.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Months, Utc};
use poem::web::Data;
use poem::{Response, handler};
use serde::Serialize;
use uuid::Uuid;

use super::admin;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::web::i18n::text;
use crate::web::render::{api_error_page, page};
use crate::web::search::need_label;
use crate::web::visitor::Visitor;

/// Examples listed per kind of problem (the counts are complete).
const LIMIT: u64 = 200;
/// Months of unmet needs shown.
const UNMET_MONTHS: u32 = 12;

#[derive(Serialize)]
struct Problem {
    /// `stale`, `full`, `no-location`, `no-needs`.
    kind: &'static str,
    text: String,
    service_id: Uuid,
    service: String,
}

#[derive(Serialize)]
struct OrganizationProblems {
    id: Uuid,
    name: String,
    without_partner: bool,
    problems: Vec<Problem>,
}

#[derive(Serialize)]
struct Summary {
    kind: &'static str,
    label: String,
    total: u64,
}

#[derive(Serialize)]
struct Unmet {
    need: String,
    area: String,
    month: String,
    count: u64,
}

#[derive(Serialize)]
struct HealthView {
    stale_months: u32,
    cutoff: String,
    summary: Vec<Summary>,
    truncated: bool,
    organizations: Vec<OrganizationProblems>,
    unmet: Vec<Unmet>,
    unmet_from: String,
}

async fn health_view(state: &AppState, visitor: &Visitor) -> Result<HealthView, ApiError> {
    let lang = visitor.lang;
    let health = state.store.directory_health(LIMIT).await?;
    let mut organizations: BTreeMap<Uuid, OrganizationProblems> = BTreeMap::new();
    let mut add = |kind: &'static str,
                   items: &[entities::health::ServiceProblem],
                   words: &dyn Fn(&entities::health::ServiceProblem) -> String| {
        for item in items {
            organizations
                .entry(item.organization_id)
                .or_insert_with(|| OrganizationProblems {
                    id: item.organization_id,
                    name: String::new(),
                    without_partner: false,
                    problems: Vec::new(),
                })
                .problems
                .push(Problem {
                    kind,
                    text: words(item),
                    service_id: item.id,
                    service: item.name.clone(),
                });
        }
    };
    add("stale", &health.stale.items, &|s| match s.assured_date {
        Some(date) => text(lang, "admin_health_stale_since").replace("{}", &date.to_string()),
        None => text(lang, "admin_health_never_confirmed"),
    });
    add("full", &health.full.items, &|_| text(lang, "admin_health_full"));
    add("no-location", &health.without_location.items, &|_| {
        text(lang, "admin_health_no_location")
    });
    add("no-needs", &health.without_needs.items, &|_| {
        text(lang, "admin_health_no_needs")
    });
    for (id, name) in &health.without_partner.items {
        let entry = organizations.entry(*id).or_insert_with(|| OrganizationProblems {
            id: *id,
            name: name.clone(),
            without_partner: false,
            problems: Vec::new(),
        });
        entry.without_partner = true;
    }
    let ids: Vec<Uuid> = organizations.keys().copied().collect();
    let names = state.store.organizations_by_id(&ids).await?;
    for (id, entry) in &mut organizations {
        if let Some(organization) = names.get(id) {
            entry.name = organization.data.name.clone();
        }
    }
    let mut organizations: Vec<OrganizationProblems> = organizations.into_values().collect();
    organizations.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));

    let summary = vec![
        ("stale", "admin_health_sum_stale", &health.stale.total),
        ("full", "admin_health_sum_full", &health.full.total),
        (
            "no-location",
            "admin_health_sum_no_location",
            &health.without_location.total,
        ),
        ("no-needs", "admin_health_sum_no_needs", &health.without_needs.total),
        (
            "no-partner",
            "admin_health_sum_no_partner",
            &health.without_partner.total,
        ),
    ];
    let truncated = summary.iter().any(|(_, _, total)| **total > LIMIT);
    let this_month = Utc::now().date_naive();
    let from = this_month
        .checked_sub_months(Months::new(UNMET_MONTHS - 1))
        .unwrap_or(this_month);
    let unmet_from = entities::unmet::month_of(from.and_time(chrono::NaiveTime::MIN).and_utc());
    let unmet = state
        .store
        .unmet_needs(Some(&unmet_from), None)
        .await?
        .into_iter()
        .map(|u| Unmet {
            need: need_label(state, lang, &u.need_code),
            area: state
                .gazetteer
                .resolve(&u.area)
                .filter(|p| p.postcode.as_deref() == Some(u.area.as_str()))
                .map_or_else(|| u.area.clone(), |p| format!("{} {}", u.area, p.name)),
            month: u.month,
            count: u.count,
        })
        .collect();
    Ok(HealthView {
        stale_months: entities::health::stale_months(),
        cutoff: health.cutoff.to_string(),
        summary: summary
            .into_iter()
            .map(|(kind, key, total)| Summary {
                kind,
                label: text(lang, key),
                total: *total,
            })
            .collect(),
        truncated,
        organizations,
        unmet,
        unmet_from,
    })
}

#[handler]
pub async fn health_page(state: Data<&Arc<AppState>>, visitor: &Visitor) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    match health_view(state, visitor).await {
        Ok(view) => page(visitor, "admin_health.html", view),
        Err(error) => api_error_page(state, visitor, error),
    }
}

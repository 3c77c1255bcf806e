//! The audit trail (`/admin/audit`): who — a person by e-mail, or an app's key — read or changed which
//! referral and when, filtered by referral, person, key and period, for a data-protection request. The
//! same rows and filter as `GET /v1/audit`.

use std::collections::HashMap;
use std::sync::Arc;

use entities::audit::AuditFilter;
use entities::store::Page;
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Response, handler};
use serde::Serialize;
use uuid::Uuid;

use super::{admin, page_links, page_number, time};
use crate::problem::ApiError;
use crate::referrals::parse_bound;
use crate::state::AppState;
use crate::web::Fields;
use crate::web::i18n::text;
use crate::web::render::{api_error_page, page_with_status};
use crate::web::search::FieldProblem;
use crate::web::visitor::Visitor;

const PER_PAGE: u64 = 50;

#[derive(Serialize)]
struct AuditRow {
    at: String,
    who: String,
    /// `person` or `key`.
    who_kind: &'static str,
    role: String,
    action: String,
    entity: String,
    entity_id: Option<Uuid>,
}

#[derive(Serialize, Default)]
struct AuditView {
    referral_id: String,
    person: String,
    key_id: String,
    from: String,
    to: String,
    errors: Vec<FieldProblem>,
    rows: Vec<AuditRow>,
    total: u64,
    searched: bool,
    prev_url: Option<String>,
    next_url: Option<String>,
}

#[handler]
pub async fn audit_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let state: &AppState = &state;
    if let Err(response) = admin(state, visitor) {
        return response;
    }
    let lang = visitor.lang;
    let value = |name: &str| query.get(name).unwrap_or_default().to_owned();
    let mut view = AuditView {
        referral_id: value("referral_id"),
        person: value("person"),
        key_id: value("key_id"),
        from: value("from"),
        to: value("to"),
        ..Default::default()
    };
    let people = match state.store.list_people().await {
        Ok(people) => people,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let mut errors: Vec<FieldProblem> = Vec::new();
    let mut problem = |field: &str, key: &str| {
        errors.push(FieldProblem {
            field: field.into(),
            message: text(lang, key),
        })
    };
    let uuid = |text: &str| (!text.is_empty()).then(|| Uuid::parse_str(text).ok());
    let referral_id = uuid(&view.referral_id);
    if referral_id == Some(None) {
        problem("referral_id", "admin_error_audit_id");
    }
    let key_id = uuid(&view.key_id);
    if key_id == Some(None) {
        problem("key_id", "admin_error_audit_id");
    }
    let person_id = if view.person.is_empty() {
        None
    } else {
        let wanted = view.person.trim().to_lowercase();
        let found = people
            .iter()
            .find(|p| p.email == wanted || p.id.to_string() == wanted)
            .map(|p| p.id);
        if found.is_none() {
            problem("person", "admin_error_audit_person");
        }
        found
    };
    let bound = |field: &str, text: &str, end: bool| {
        (!text.is_empty()).then(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|_| parse_bound(field, text, end).ok())
        })
    };
    let from = bound("from", &view.from, false);
    if from == Some(None) {
        problem("from", "admin_error_date");
    }
    let to = bound("to", &view.to, true);
    if to == Some(None) {
        problem("to", "admin_error_date");
    }
    if !errors.is_empty() {
        view.errors = errors;
        return page_with_status(visitor, StatusCode::BAD_REQUEST, "admin_audit.html", view);
    }
    let filter = AuditFilter {
        entity_id: referral_id.flatten(),
        key_id: key_id.flatten(),
        person_id,
        from: from.flatten(),
        to: to.flatten(),
    };
    let page_no = page_number(query.get("page"));
    let listed = state
        .store
        .list_audit(
            &filter,
            Page {
                page: page_no,
                per_page: PER_PAGE,
            },
        )
        .await;
    let (total, events) = match listed {
        Ok(listed) => listed,
        Err(error) => return api_error_page(state, visitor, error.into()),
    };
    let keys = match state.store.list_keys(None).await {
        Ok(keys) => keys,
        Err(error) => return api_error_page(state, visitor, ApiError::from(error)),
    };
    let emails: HashMap<Uuid, &str> = people.iter().map(|p| (p.id, p.email.as_str())).collect();
    let labels: HashMap<Uuid, Option<&str>> = keys.iter().map(|k| (k.id, k.label.as_deref())).collect();
    view.rows = events
        .into_iter()
        .map(|e| {
            let (who_kind, who) = match (e.person_id, e.key_id) {
                (Some(person), _) => (
                    "person",
                    emails
                        .get(&person)
                        .map_or_else(|| person.to_string(), |e| (*e).to_owned()),
                ),
                (None, Some(key)) => (
                    "key",
                    match labels.get(&key).copied().flatten() {
                        Some(label) => format!("{} {key} ({label})", text(lang, "admin_audit_key")),
                        None => format!("{} {key}", text(lang, "admin_audit_key")),
                    },
                ),
                (None, None) => ("key", text(lang, "admin_audit_unknown")),
            };
            AuditRow {
                at: time(e.at),
                who,
                who_kind,
                role: e.role,
                action: {
                    let key = format!("admin_action_{}", e.action);
                    let words = text(lang, &key);
                    if words == key { e.action } else { words }
                },
                entity: e.entity,
                entity_id: e.entity_id,
            }
        })
        .collect();
    view.total = total;
    view.searched = true;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (name, value) in [
        ("referral_id", &view.referral_id),
        ("person", &view.person),
        ("key_id", &view.key_id),
        ("from", &view.from),
        ("to", &view.to),
    ] {
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    let base = format!(
        "/admin/audit?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    );
    let (prev_url, next_url) = page_links(&base, page_no, total, PER_PAGE);
    view.prev_url = prev_url;
    view.next_url = next_url;
    page_with_status(visitor, StatusCode::OK, "admin_audit.html", view)
}

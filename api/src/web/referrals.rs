//! Referring a family (`/refer/{service}`), "my referrals" and "my team's referrals" (`/referrals`), and a
//! referral's page with its timeline (`/referrals/{id}`), where the sender may cancel it while it is open.
//! Every rule (who may see what, validation, the state machine, the audit trail) is `referrals::Referrals`,
//! the same as `/v1/referrals`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use entities::directory::Role;
use entities::referral_rules::{Actor, ReferralStatus, RejectionReason, legal_targets};
use entities::referrals::{CONTACT_PREFERENCES, Consent, NewReferral, Priority, Referral, ReferralFilter};
use poem::http::StatusCode;
use poem::web::{Data, Form, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::referrals::{Referrals, SenderScope};
use crate::state::AppState;
use crate::web::format;
use crate::web::i18n::{Lang, text};
use crate::web::render::{api_error_page, page, page_with_status};
use crate::web::search::{Choice, FieldProblem, LANGUAGES, OfferCard, need_label, offer_by_id};
use crate::web::visitor::Visitor;
use crate::web::{Fields, parse_id};

fn referrals<'a>(state: &'a AppState, visitor: &'a Visitor) -> Referrals<'a> {
    Referrals {
        state,
        caller: &visitor.caller,
    }
}

fn status_label(lang: Lang, status: ReferralStatus) -> String {
    text(lang, &format!("status_{}", status.as_str()))
}

/// "for 3 timer siden" / "3 hours ago", coarse.
fn ago(lang: Lang, at: chrono::DateTime<Utc>) -> String {
    let minutes = (Utc::now() - at).num_minutes().max(0);
    let (n, unit) = match minutes {
        0..60 => (minutes, "minutes"),
        60..2880 => (minutes / 60, "hours"),
        _ => (minutes / 1440, "days"),
    };
    text(lang, &format!("ago_{unit}")).replace("{}", &n.to_string())
}

// ---- the referral form ----------------------------------------------------------------------------------

#[derive(Serialize, Default)]
struct ReferForm {
    family_ref: String,
    needs: Vec<String>,
    message: String,
    preferred_language: String,
    contact_preference: String,
    consent: bool,
}

#[derive(Serialize)]
struct ReferView {
    offer: OfferCard,
    form: ReferForm,
    need_choices: Vec<Choice>,
    language_choices: Vec<Choice>,
    contact_choices: Vec<Choice>,
    consent_scope: String,
    today: String,
    errors: Vec<FieldProblem>,
}

async fn refer_view(
    state: &AppState,
    visitor: &Visitor,
    service_id: Uuid,
    form: ReferForm,
    errors: Vec<FieldProblem>,
) -> Result<ReferView, ApiError> {
    let lang = visitor.lang;
    let offer = offer_by_id(state, visitor, service_id).await?;
    let service_needs = state
        .store
        .services_by_id(&[service_id])
        .await?
        .pop()
        .map(|s| s.data.needs)
        .unwrap_or_default();
    Ok(ReferView {
        need_choices: service_needs
            .iter()
            .map(|code| Choice {
                value: code.clone(),
                label: need_label(state, lang, code),
                selected: form.needs.contains(code),
            })
            .collect(),
        language_choices: LANGUAGES
            .iter()
            .map(|l| Choice {
                value: (*l).to_owned(),
                label: format::language_name(lang, l),
                selected: form.preferred_language == *l,
            })
            .collect(),
        contact_choices: CONTACT_PREFERENCES
            .iter()
            .map(|c| Choice {
                value: (*c).to_owned(),
                label: text(lang, &format!("contact_{c}")),
                selected: form.contact_preference == *c,
            })
            .collect(),
        consent_scope: text(lang, "consent_scope"),
        today: Utc::now().date_naive().to_string(),
        offer,
        form,
        errors,
    })
}

#[handler]
pub async fn refer_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Path(service_id): Path<String>) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let service_id = match parse_id(&service_id) {
        Ok(id) => id,
        Err(error) => return api_error_page(&state, visitor, error),
    };
    let form = ReferForm {
        preferred_language: "da".into(),
        ..Default::default()
    };
    match refer_view(&state, visitor, service_id, form, Vec::new()).await {
        Ok(view) => page(visitor, "refer.html", view),
        Err(error) => api_error_page(&state, visitor, error),
    }
}

/// The form field a rule's error path belongs to.
fn field_of(path: &str) -> &'static str {
    match path.split('/').next().unwrap_or("") {
        "family_ref" => "family_ref",
        "message" => "message",
        "needs" => "needs",
        "preferred_language" => "preferred_language",
        "contact_preference" => "contact_preference",
        "consent" => "consent",
        _ => "family_ref",
    }
}

/// Says a rule's refusal in the app's words where we have them (the rule's own words otherwise).
fn problem_text(lang: Lang, field: &str, reason: &str) -> String {
    if reason.contains("CPR") {
        return text(lang, "error_cpr");
    }
    match field {
        "consent" => text(lang, "error_consent"),
        "family_ref" if reason.contains("at least") || reason.contains("empty") => text(lang, "error_family_ref"),
        _ => reason.to_owned(),
    }
}

#[handler]
pub async fn refer(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(service_id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker]) {
        return need.response(&state, visitor);
    }
    let service_id = match parse_id(&service_id) {
        Ok(id) => id,
        Err(error) => return api_error_page(&state, visitor, error),
    };
    let lang = visitor.lang;
    let form = ReferForm {
        family_ref: fields.get("family_ref").unwrap_or_default().to_owned(),
        needs: fields.all("needs").into_iter().map(str::to_owned).collect(),
        message: fields.get("message").unwrap_or_default().to_owned(),
        preferred_language: fields.get("preferred_language").unwrap_or_default().to_owned(),
        contact_preference: fields.get("contact_preference").unwrap_or_default().to_owned(),
        consent: fields.get("consent") == Some("yes"),
    };
    let new = NewReferral {
        service_id,
        family_ref: form.family_ref.clone(),
        needs: form.needs.clone(),
        message: Some(form.message.clone()).filter(|m| !m.is_empty()),
        consent: form.consent.then(|| Consent {
            given_at: Utc::now(),
            scope: text(lang, "consent_scope"),
        }),
        preferred_language: Some(form.preferred_language.clone()).filter(|l| !l.is_empty()),
        contact_preference: Some(form.contact_preference.clone()).filter(|c| !c.is_empty()),
        priority: Priority::Routine,
    };
    match referrals(&state, visitor).create(new).await {
        Ok(referral) => Redirect::see_other(format!("/referrals/{}?created=1", referral.id)).into_response(),
        Err(ApiError::Invalid(problems)) => {
            let mut errors: Vec<FieldProblem> = Vec::new();
            for problem in problems {
                let field = field_of(&problem.path);
                if !errors.iter().any(|e| e.field == field) {
                    errors.push(FieldProblem {
                        field: field.to_owned(),
                        message: problem_text(lang, field, &problem.reason),
                    });
                }
            }
            match refer_view(&state, visitor, service_id, form, errors).await {
                Ok(view) => page_with_status(visitor, StatusCode::UNPROCESSABLE_ENTITY, "refer.html", view),
                Err(error) => api_error_page(&state, visitor, error),
            }
        }
        Err(error) => api_error_page(&state, visitor, error),
    }
}

// ---- lists and one referral -----------------------------------------------------------------------------

#[derive(Serialize)]
struct ReferralRow {
    id: Uuid,
    service: String,
    organization: String,
    status: String,
    status_code: &'static str,
    latest: Option<String>,
    changed: String,
    created: String,
    mine: bool,
}

#[derive(Serialize)]
struct ReferralsView {
    rows: Vec<ReferralRow>,
    scope: &'static str,
    has_team: bool,
    is_partner: bool,
    service_choices: Vec<Choice>,
    status_choices: Vec<Choice>,
    status: String,
    total: u64,
    page: u64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

/// Names of the services and their organizations for a page of referrals.
async fn names(state: &AppState, referrals: &[Referral]) -> Result<HashMap<Uuid, (String, String)>, ApiError> {
    let ids: Vec<Uuid> = referrals.iter().map(|r| r.service_id).collect();
    let services = state.store.services_by_id(&ids).await?;
    let org_ids: Vec<Uuid> = services.iter().map(|s| s.data.organization_id).collect();
    let organizations = state.store.organizations_by_id(&org_ids).await?;
    Ok(services
        .into_iter()
        .map(|s| {
            let org = organizations
                .get(&s.data.organization_id)
                .map(|o| o.data.name.clone())
                .unwrap_or_default();
            (s.meta.id, (s.data.name, org))
        })
        .collect())
}

/// The partner's latest step in words: "Afvist: ingen plads — Vi har venteliste".
fn latest_step(lang: Lang, events: &[entities::referrals::ReferralEvent]) -> Option<String> {
    let event = events.iter().rev().find(|e| e.actor != Actor::Sender)?;
    let mut words = status_label(lang, event.to);
    if let Some(reason) = &event.reason {
        let key = format!("reason_{reason}");
        let label = text(lang, &key);
        words = format!("{words}: {}", if label == key { reason.clone() } else { label });
    }
    if let Some(note) = &event.note {
        words = format!("{words} — {note}");
    }
    Some(words)
}

const PER_PAGE: u64 = 20;

#[handler]
pub async fn referrals_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let state: &AppState = &state;
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker, Role::Partner]) {
        return need.response(state, visitor);
    }
    let lang = visitor.lang;
    let is_partner = visitor.is(Role::Partner);
    let has_team = visitor.caller.team.is_some();
    let scope = if has_team && query.get("scope") == Some("team") {
        SenderScope::Team
    } else {
        SenderScope::Mine
    };
    let status = query.get("status").and_then(|s| ReferralStatus::parse(s).ok());
    let page_number = query
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    // A partner filters its inbox by service too (its organization's services).
    let services = match (is_partner, visitor.caller.organization_id) {
        (true, Some(org)) => {
            let filter = entities::store::ListFilter {
                organization_id: Some(org),
                status: None,
            };
            let paging = entities::store::Page { page: 1, per_page: 100 };
            match state.store.list_services(&filter, paging).await {
                Ok((_, services)) => services,
                Err(error) => return api_error_page(state, visitor, error.into()),
            }
        }
        _ => Vec::new(),
    };
    let service_id = query
        .get("service")
        .and_then(|id| Uuid::parse_str(id).ok())
        .filter(|id| services.iter().any(|s| s.meta.id == *id));
    let filter = ReferralFilter {
        status,
        service_id,
        ..Default::default()
    };
    let paging = entities::store::Page {
        page: page_number,
        per_page: PER_PAGE,
    };
    let (total, items, _) = match referrals(state, visitor).list(filter, scope, paging).await {
        Ok(listed) => listed,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let names = match names(state, &items).await {
        Ok(names) => names,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let mut rows = Vec::new();
    for referral in items {
        // The events were audited with the list; reading them is part of showing the latest step.
        let events = state.store.referral_events(referral.id).await.unwrap_or_default();
        let (service, organization) = names.get(&referral.service_id).cloned().unwrap_or_default();
        rows.push(ReferralRow {
            id: referral.id,
            service,
            organization,
            status: status_label(lang, referral.status),
            status_code: referral.status.as_str(),
            latest: latest_step(lang, &events),
            changed: ago(lang, referral.updated_at),
            created: referral.created_at.format("%Y-%m-%d").to_string(),
            mine: visitor.caller.principal_id() == Some(referral.sender_key_id),
        });
    }
    let scope_code = match scope {
        SenderScope::Mine => "mine",
        SenderScope::Team => "team",
    };
    let url = |page: u64| {
        let mut pairs = vec![("scope", scope_code.to_owned()), ("page", page.to_string())];
        if let Some(status) = status {
            pairs.push(("status", status.as_str().to_owned()));
        }
        if let Some(service) = service_id {
            pairs.push(("service", service.to_string()));
        }
        format!("/referrals?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let pages = total.div_ceil(PER_PAGE).max(1);
    page(
        visitor,
        "referrals.html",
        ReferralsView {
            rows,
            scope: scope_code,
            has_team,
            is_partner,
            service_choices: services
                .iter()
                .map(|s| Choice {
                    value: s.meta.id.to_string(),
                    label: s.data.name.clone(),
                    selected: service_id == Some(s.meta.id),
                })
                .collect(),
            status_choices: ReferralStatus::ALL
                .iter()
                .map(|s| Choice {
                    value: s.as_str().to_owned(),
                    label: status_label(lang, *s),
                    selected: status == Some(*s),
                })
                .collect(),
            status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            total,
            page: page_number,
            prev_url: (page_number > 1).then(|| url(page_number - 1)),
            next_url: (page_number < pages).then(|| url(page_number + 1)),
        },
    )
}

#[derive(Serialize)]
struct EventRow {
    status: String,
    who: String,
    reason: Option<String>,
    note: Option<String>,
    at: String,
}

/// One legal next step: accept, reject (with a reason from the list), hold, ...
#[derive(Serialize)]
struct ActionView {
    to: &'static str,
    label: String,
    /// `rejection` (a reason from the list), `text` (a free-text reason) or `none`.
    reason: &'static str,
    reasons: Vec<Choice>,
    /// Buttons of steps that end the referral badly get the warning style.
    warning: bool,
}

fn actions(lang: Lang, referral: &Referral, actor: Actor) -> Vec<ActionView> {
    legal_targets(referral.status, actor, referral.held_from)
        .into_iter()
        .map(|to| ActionView {
            to: to.as_str(),
            label: text(lang, &format!("action_{}", to.as_str())),
            reason: match to {
                ReferralStatus::Rejected => "rejection",
                to if to.requires_reason() => "text",
                _ => "none",
            },
            reasons: if to == ReferralStatus::Rejected {
                RejectionReason::ALL
                    .iter()
                    .map(|r| Choice {
                        value: r.as_str().to_owned(),
                        label: text(lang, &format!("reason_{}", r.as_str())),
                        selected: false,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            warning: matches!(
                to,
                ReferralStatus::Rejected | ReferralStatus::Failed | ReferralStatus::Cancelled
            ),
        })
        .collect()
}

#[derive(Serialize)]
struct ReferralView {
    id: Uuid,
    service: String,
    service_id: Uuid,
    organization: String,
    status: String,
    status_code: &'static str,
    needs: Vec<String>,
    message: Option<String>,
    preferred_language: Option<String>,
    contact_preference: Option<String>,
    consent: String,
    created: String,
    version: i64,
    events: Vec<EventRow>,
    /// The steps the visitor may take now, each its own small form.
    actions: Vec<ActionView>,
    is_partner: bool,
    /// The kinds of the family-plan goals the referral serves (a partner sees only these), in words.
    goals: Vec<String>,
    created_now: bool,
    conflict: bool,
    errors: Vec<FieldProblem>,
}

async fn referral_view(
    state: &AppState,
    visitor: &Visitor,
    referral: Referral,
    actor: Actor,
) -> Result<ReferralView, ApiError> {
    let lang = visitor.lang;
    let events = referrals(state, visitor).events(referral.id).await?;
    let actions = actions(lang, &referral, actor);
    let names = names(state, std::slice::from_ref(&referral)).await?;
    let (service, organization) = names.get(&referral.service_id).cloned().unwrap_or_default();
    let time = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%d %H:%M").to_string();
    let goals = state
        .store
        .goal_kinds_of_referral(referral.id)
        .await?
        .iter()
        .map(|code| crate::web::plans::goal_kind_label(lang, code))
        .collect();
    Ok(ReferralView {
        goals,
        id: referral.id,
        service,
        service_id: referral.service_id,
        organization,
        status: status_label(lang, referral.status),
        status_code: referral.status.as_str(),
        needs: referral
            .needs
            .iter()
            .map(|code| need_label(state, lang, code))
            .collect(),
        message: referral.message.clone(),
        preferred_language: referral
            .preferred_language
            .as_deref()
            .map(|l| format::language_name(lang, l)),
        contact_preference: referral
            .contact_preference
            .as_deref()
            .map(|c| text(lang, &format!("contact_{c}"))),
        consent: format!(
            "{} ({})",
            referral.consent.scope,
            referral.consent.given_at.format("%Y-%m-%d")
        ),
        created: time(referral.created_at),
        version: referral.version,
        events: events
            .iter()
            .map(|e| EventRow {
                status: status_label(lang, e.to),
                who: text(lang, &format!("actor_{}", e.actor.as_str())),
                reason: e.reason.as_ref().map(|r| {
                    let key = format!("reason_{r}");
                    let label = text(lang, &key);
                    if label == key { r.clone() } else { label }
                }),
                note: e.note.clone(),
                at: time(e.at),
            })
            .collect(),
        actions,
        is_partner: actor == Actor::ReceivingPartner,
        created_now: false,
        conflict: false,
        errors: Vec::new(),
    })
}

#[handler]
pub async fn referral_page(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Query(query): Query<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker, Role::Partner]) {
        return need.response(state, visitor);
    }
    let result = async {
        let id = parse_id(&id)?;
        let (referral, actor) = referrals(state, visitor).open(id).await?;
        referral_view(state, visitor, referral, actor).await
    }
    .await;
    match result {
        Ok(mut view) => {
            view.created_now = query.has("created");
            // Opening a new referral may just have made it received: count the new ones again.
            if view.is_partner && visitor.new_referrals > 0 {
                let filter = ReferralFilter {
                    organization_id: visitor.caller.organization_id,
                    status: Some(ReferralStatus::Requested),
                    ..Default::default()
                };
                let mut visitor = visitor.clone();
                visitor.new_referrals = state.store.count_referrals(&filter).await.unwrap_or(0);
                return page(&visitor, "referral.html", view);
            }
            page(visitor, "referral.html", view)
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

/// One step of the state machine from the referral's page: the sender cancels; the receiving partner
/// accepts, rejects, holds, starts, completes or fails. `version` is the one the page showed: a referral
/// someone else moved meanwhile is shown as it is now ("changed meanwhile"), never overwritten.
#[handler]
pub async fn move_referral(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    let state: &AppState = &state;
    if let Err(need) = visitor.person_with_role(&[Role::Caseworker, Role::Partner]) {
        return need.response(state, visitor);
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(error) => return api_error_page(state, visitor, error),
    };
    let Some(to) = fields.get("to").and_then(|to| ReferralStatus::parse(to).ok()) else {
        return api_error_page(state, visitor, ApiError::BadRequest("to".into()));
    };
    let version = fields.get("version").and_then(|v| v.parse::<i64>().ok());
    let reason = fields.get("reason").map(str::to_owned);
    let note = fields.get("note").map(str::to_owned);
    // the partner's answer whether the referral helped the family's goal, when it closes one that serves a goal
    let goal_outcome = fields
        .get("goal_outcome")
        .filter(|o| !o.is_empty())
        .and_then(entities::plans::GoalOutcome::parse);
    let moved = referrals(state, visitor)
        .transition(id, version, to, reason, note, goal_outcome)
        .await;
    match moved {
        Ok(_) => Redirect::see_other(format!("/referrals/{id}")).into_response(),
        Err(error @ (ApiError::PreconditionFailed(_) | ApiError::Invalid(_) | ApiError::Conflict(_))) => {
            // Show the referral as it is now, with what went wrong: never a silent overwrite.
            let reopened = async {
                let (referral, actor) = referrals(state, visitor).open(id).await?;
                referral_view(state, visitor, referral, actor).await
            }
            .await;
            match reopened {
                Ok(mut view) => {
                    let status = error.status();
                    match &error {
                        ApiError::Invalid(problems) => {
                            let key = if problems.iter().any(|p| p.reason.contains("CPR")) {
                                "error_cpr"
                            } else if problems.iter().any(|p| p.path == "note") {
                                "error_note"
                            } else {
                                "error_reason"
                            };
                            view.errors.push(FieldProblem {
                                field: format!("reason-{}", to.as_str()),
                                message: text(visitor.lang, key),
                            });
                        }
                        _ => view.conflict = true,
                    }
                    page_with_status(visitor, status, "referral.html", view)
                }
                Err(error) => api_error_page(state, visitor, error),
            }
        }
        Err(error) => api_error_page(state, visitor, error),
    }
}

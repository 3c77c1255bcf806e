//! "Familiens liste": offers a caseworker collects during a visit, to print on one A4 page or send as short
//! texts, in the family's language where we have the words. Kept with the caseworker (never with the
//! family's identity) and deleted after 30 days.

use std::sync::Arc;

use entities::directory::Role;
use poem::web::{Data, Form, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Serialize;
use uuid::Uuid;

use crate::state::AppState;
use crate::web::Fields;
use crate::web::format;
use crate::web::i18n::{FAMILY_LANGUAGES, Lang, list_labels};
use crate::web::login::local_path;
use crate::web::render::{api_error_page, page};
use crate::web::search::{Choice, OfferCard, offer_by_id};
use crate::web::visitor::Visitor;

/// An SMS is at most 480 characters (three joined messages).
pub const SMS_MAX_CHARS: usize = 480;

#[derive(Serialize)]
struct ListItem {
    offer: OfferCard,
    sms: String,
}

#[derive(Serialize)]
struct ListView {
    items: Vec<ListItem>,
    /// Offers on the list that are no longer active.
    gone: usize,
    family_lang: String,
    family_lang_choices: Vec<Choice>,
    labels: &'static crate::web::i18n::Texts,
    dir: &'static str,
    days: i64,
}

/// The offers on the visitor's list, as cards, and how many are gone from the directory.
async fn load(state: &AppState, visitor: &Visitor, person_id: Uuid) -> Result<(Vec<OfferCard>, usize), Response> {
    let ids = state
        .store
        .family_list(person_id)
        .await
        .map_err(|e| api_error_page(state, visitor, e.into()))?;
    let mut offers = Vec::new();
    let mut gone = 0;
    for id in ids {
        match offer_by_id(state, visitor, id).await {
            Ok(offer) => offers.push(offer),
            Err(crate::problem::ApiError::NotFound(_)) => gone += 1,
            Err(error) => return Err(api_error_page(state, visitor, error)),
        }
    }
    Ok((offers, gone))
}

/// The short text for one offer in the family's language: labels translated, names as written.
fn sms(offer: &OfferCard, labels: &crate::web::i18n::Texts, hours: &[String]) -> String {
    fn label<'a>(labels: &'a crate::web::i18n::Texts, key: &'a str) -> &'a str {
        labels.get(key).map(String::as_str).unwrap_or(key)
    }
    let label = |key: &'static str| label(labels, key);
    let mut lines = vec![format!("{} ({})", offer.name, offer.organization)];
    match &offer.address {
        Some(address) => lines.push(format!("{}: {address}", label("address"))),
        None if offer.address_hidden => lines.push(label("address_on_request").to_owned()),
        None => {}
    }
    if !hours.is_empty() {
        lines.push(format!("{}: {}", label("hours"), hours.join("; ")));
    }
    if let Some(phone) = &offer.phone {
        lines.push(format!("{}: {phone}", label("phone")));
    }
    lines.push(if offer.free {
        label("free").to_owned()
    } else {
        label("fee").to_owned()
    });
    let text = lines.join("\n");
    if text.chars().count() <= SMS_MAX_CHARS {
        text
    } else {
        let mut cut: String = text.chars().take(SMS_MAX_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

fn view(offers: Vec<OfferCard>, gone: usize, family_lang: &str, lang: Lang) -> ListView {
    let (code, dir, labels) = list_labels(family_lang);
    let word = |key: &str| labels.get(key).cloned().unwrap_or_else(|| key.to_owned());
    let clock_lang = if code == "en" { Lang::En } else { Lang::Da };
    let items = offers
        .into_iter()
        .map(|mut offer| {
            offer.hours = format::hours_with_words(&word, clock_lang, &offer.schedules);
            let sms = sms(&offer, labels, &offer.hours);
            ListItem { offer, sms }
        })
        .collect();
    ListView {
        items,
        gone,
        family_lang: code.to_owned(),
        family_lang_choices: FAMILY_LANGUAGES
            .iter()
            .map(|(c, _)| Choice {
                value: (*c).to_owned(),
                label: format::language_name(lang, c),
                selected: *c == code,
            })
            .collect(),
        labels,
        dir,
        days: entities::people::FAMILY_LIST_DAYS,
    }
}

#[handler]
pub async fn list_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let person_id = match visitor.person_with_role(&[Role::Caseworker]) {
        Ok(person) => person.id,
        Err(need) => return need.response(&state, visitor),
    };
    let (offers, gone) = match load(&state, visitor, person_id).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let family_lang = query.get("family_lang").unwrap_or(visitor.lang.code());
    page(visitor, "list.html", view(offers, gone, family_lang, visitor.lang))
}

#[handler]
pub async fn print_page(state: Data<&Arc<AppState>>, visitor: &Visitor, Query(query): Query<Fields>) -> Response {
    let person_id = match visitor.person_with_role(&[Role::Caseworker]) {
        Ok(person) => person.id,
        Err(need) => return need.response(&state, visitor),
    };
    let (offers, gone) = match load(&state, visitor, person_id).await {
        Ok(loaded) => loaded,
        Err(response) => return response,
    };
    let family_lang = query.get("family_lang").unwrap_or(visitor.lang.code());
    page(visitor, "print.html", view(offers, gone, family_lang, visitor.lang))
}

/// After a change: back where the caseworker was; with htmx, just the button's new state.
fn after_change(visitor: &Visitor, form: &Fields, htmx: bool, service_id: Option<Uuid>, added: bool) -> Response {
    if htmx && let Some(id) = service_id {
        #[derive(Serialize)]
        struct ButtonView {
            id: Uuid,
            on_list: bool,
            back: String,
        }
        return crate::web::render::fragment(
            visitor,
            "list_button.html",
            ButtonView {
                id,
                on_list: added,
                back: local_path(form.get("back")),
            },
        );
    }
    Redirect::see_other(local_path(form.get("back"))).into_response()
}

fn service_id(form: &Fields) -> Option<Uuid> {
    form.get("service_id").and_then(|id| Uuid::parse_str(id).ok())
}

/// Adds (`adding`) or removes the form's service on the caseworker's list.
async fn change(state: &AppState, visitor: &Visitor, htmx: bool, form: &Fields, adding: bool) -> Response {
    let person_id = match visitor.person_with_role(&[Role::Caseworker]) {
        Ok(person) => person.id,
        Err(need) => return need.response(state, visitor),
    };
    let Some(id) = service_id(form) else {
        return api_error_page(
            state,
            visitor,
            crate::problem::ApiError::BadRequest("service_id".into()),
        );
    };
    let changed = if adding {
        state.store.add_to_family_list(person_id, id).await
    } else {
        state.store.remove_from_family_list(person_id, id).await
    };
    if let Err(error) = changed {
        return api_error_page(state, visitor, error.into());
    }
    after_change(visitor, form, htmx, Some(id), adding)
}

#[handler]
pub async fn add(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    req: &poem::Request,
    Form(form): Form<Fields>,
) -> Response {
    change(&state, visitor, req.headers().contains_key("hx-request"), &form, true).await
}

#[handler]
pub async fn remove(
    state: Data<&Arc<AppState>>,
    visitor: &Visitor,
    req: &poem::Request,
    Form(form): Form<Fields>,
) -> Response {
    change(&state, visitor, req.headers().contains_key("hx-request"), &form, false).await
}

#[handler]
pub async fn clear(state: Data<&Arc<AppState>>, visitor: &Visitor, Form(form): Form<Fields>) -> Response {
    let person_id = match visitor.person_with_role(&[Role::Caseworker]) {
        Ok(person) => person.id,
        Err(need) => return need.response(&state, visitor),
    };
    if let Err(error) = state.store.clear_family_list(person_id).await {
        return api_error_page(&state, visitor, error.into());
    }
    after_change(visitor, &form, false, None, false)
}

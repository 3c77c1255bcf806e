//! The web app: server-rendered HTML for caseworkers (and the public search), partners and the
//! municipality, Danish first with English
//! as a switch. Templates live as files in `api/web/templates/`, texts in `api/web/i18n/`, and the vendored
//! design system (DKFDS) and htmx in `api/web/static/`; all are embedded in the binary.
//!
//! Pages call the same rules as the JSON API (`search::Search`, `referrals::Referrals`,
//! `directory::DirectoryWrites`, the store) with a
//! [`Caller`] made from the logged-in person, so roles, redaction and validation live in one place. Every
//! page works without JavaScript; htmx only spares a full reload where it is loaded.
//!
//! Tour: `visitor.rs` resolves the session cookie, language and CSRF token of a request; `render.rs` turns
//! a template and a view into a response (and errors into error pages); `search.rs`, `family_list.rs`,
//! `referrals.rs` (a caseworker's referrals and a partner's inbox) and `login.rs` are the pages (`notifications.rs` the choice of mails);
//! `listings.rs` and `people.rs` the partner's own, `admin/` the municipality's, `invite.rs` the invitation
//! link; `format.rs` says facts in words.

mod admin;
mod family_list;
pub(crate) mod format;
pub(crate) mod i18n;
mod invite;
mod listings;
mod login;
mod notifications;
mod people;
pub(crate) mod plans;
mod referrals;
mod render;
mod search;
mod visitor;

use std::sync::Arc;

use poem::endpoint::EmbeddedFilesEndpoint;
use poem::{EndpointExt, Route, get, post};

use crate::state::AppState;

pub use render::Templates;
pub use visitor::{SESSION_COOKIE, SESSION_IDLE};

/// The vendored assets (DKFDS, htmx, the app's own script and styles), served under `/static`.
#[derive(rust_embed::RustEmbed)]
#[folder = "web/static/"]
struct Assets;

/// Every page of the web app, with the session middleware in front.
pub fn routes(state: Arc<AppState>) -> impl poem::Endpoint<Output = poem::Response> {
    Route::new()
        .at("/", get(search::search_page))
        .at("/offers/:id", get(search::offer_page))
        .at("/login", get(login::login_page).post(login::login))
        .at("/logout", post(login::logout))
        .at("/language", post(login::switch_language))
        .at("/password", get(login::password_page).post(login::change_password))
        .at(
            "/notifications",
            get(notifications::notifications_page).post(notifications::save_notifications),
        )
        .at("/list", get(family_list::list_page))
        .at("/list/add", post(family_list::add))
        .at("/list/remove", post(family_list::remove))
        .at("/list/clear", post(family_list::clear))
        .at("/list/print", get(family_list::print_page))
        .at("/refer/:service_id", get(referrals::refer_page).post(referrals::refer))
        .at("/referrals", get(referrals::referrals_page))
        .at("/referrals/:id", get(referrals::referral_page))
        .at("/referrals/:id/move", post(referrals::move_referral))
        .at("/listings", get(listings::listings_page))
        .at(
            "/listings/organization",
            get(listings::organization_page).post(listings::save_organization),
        )
        .at(
            "/listings/services/:id",
            get(listings::service_page).post(listings::save_service),
        )
        .at("/listings/services/:id/confirm", post(listings::confirm_service))
        .at(
            "/listings/locations/:id",
            get(listings::location_page).post(listings::save_location),
        )
        .at("/plans", get(plans::plans_page).post(plans::create_plan))
        .at("/plans/new", get(plans::new_plan_page))
        .at("/plans/:id", get(plans::plan_page))
        .at("/plans/:id/goals", post(plans::add_goal))
        .at("/plans/:id/goals/:goal_id/follow-ups", post(plans::add_follow_up))
        .at("/plans/:id/goals/:goal_id/referrals", post(plans::link_referral))
        .at("/people", get(people::people_page))
        .at("/people/invite", post(people::invite))
        .at("/people/:id/remove", post(people::remove))
        .at("/invite/:token", get(invite::invite_page).post(invite::accept_invite))
        .at("/admin", get(admin::admin_home))
        .at("/admin/outcomes", get(admin::outcomes_page))
        .at("/admin/outcomes.csv", get(admin::outcomes_csv))
        .at(
            "/admin/programmes",
            get(admin::programmes_page).post(admin::create_programme),
        )
        .at("/admin/programmes/:id", get(admin::programme_page))
        .at("/admin/programme-report/:id", get(admin::programme_csv))
        .at(
            "/admin/organizations",
            get(admin::organizations_page).post(admin::create_organization),
        )
        .at("/admin/organizations/new", get(admin::new_organization_page))
        .at("/admin/organizations/:id", get(admin::organization_page))
        .at(
            "/admin/organizations/:id/deactivate",
            post(admin::deactivate_organization),
        )
        .at("/admin/organizations/:id/invite", post(admin::invite_partner))
        .at("/admin/people/:id/reinvite", post(admin::reinvite))
        .at("/admin/keys", get(admin::keys_page).post(admin::create_key))
        .at("/admin/keys/:id/revoke", post(admin::revoke_key))
        .at("/admin/health", get(admin::health_page))
        .at("/admin/audit", get(admin::audit_page))
        .nest("/static", EmbeddedFilesEndpoint::<Assets>::new())
        .around(visitor::resolve)
        .data(state)
}

/// The paths the web app answers, so the app can send them here and everything else to the API.
pub fn is_web_path(path: &str) -> bool {
    section(path).is_some()
}

/// The web app's section a path is in (`/plans`, `/admin/`, ...), from a fixed set; None outside the web app.
pub fn section(path: &str) -> Option<&'static str> {
    const PAGES: &[&str] = &[
        "/",
        "/login",
        "/logout",
        "/language",
        "/password",
        "/notifications",
        "/admin",
    ];
    const PREFIXES: &[&str] = &[
        "/offers/",
        "/listings",
        "/list",
        "/refer/",
        "/referrals",
        "/people",
        "/plans",
        "/static/",
        "/admin/",
        "/invite/",
    ];
    PAGES
        .iter()
        .find(|page| **page == path)
        .or_else(|| PREFIXES.iter().find(|prefix| path.starts_with(**prefix)))
        .copied()
}

/// A record id from a page's path; anything else is "not found", like a record that does not exist.
pub fn parse_id(text: &str) -> Result<uuid::Uuid, crate::problem::ApiError> {
    uuid::Uuid::parse_str(text).map_err(|_| crate::problem::ApiError::NotFound("not found".into()))
}

/// The fields of a query string or url-encoded form, repeatable ones included (`need=a&need=b`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; None when missing or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every non-blank value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

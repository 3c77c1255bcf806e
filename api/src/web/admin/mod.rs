//! The municipality's pages (`/admin/...`, admins only): organizations and who acts for them, API keys,
//! the outcomes dashboard, the directory's health with unmet needs, and the audit trail. Each calls the
//! same rules as the JSON API: `DirectoryWrites` for organizations, `Referrals::report` for outcomes,
//! the store's keys, audit and invitation functions.
//!
//! Tour: `organizations.rs` (list, create, deactivate, invite, who acts), `keys.rs`, `outcomes.rs` (with
//! `chart.rs`, the server-drawn SVG), `health.rs`, `audit.rs`.

mod audit;
mod chart;
mod health;
mod keys;
mod organizations;
mod outcomes;
mod programmes;

use entities::directory::Role;
use entities::people::Person;
use poem::http::StatusCode;
use poem::web::Redirect;
use poem::{IntoResponse, Response, handler};
use uuid::Uuid;

use crate::state::AppState;
use crate::web::render::error_page;
use crate::web::visitor::{Need, Visitor};

pub use audit::audit_page;
pub use health::health_page;
pub use keys::{create_key, keys_page, revoke_key};
pub use organizations::{
    create_organization, deactivate_organization, invite_partner, new_organization_page, organization_page,
    organizations_page, reinvite,
};
pub use outcomes::{outcomes_csv, outcomes_page};
pub use programmes::{create_programme, programme_csv, programme_page, programmes_page};

/// The logged-in admin, or the response for everyone else: the login page for visitors, 403 for
/// caseworkers and partners.
#[allow(clippy::result_large_err)] // the refusal is the page itself, returned at once
fn admin<'a>(state: &AppState, visitor: &'a Visitor) -> Result<&'a Person, Response> {
    visitor.person_with_role(&[Role::Admin]).map_err(|need| match need {
        Need::Login => need.response(state, visitor),
        Need::Forbidden => error_page(state, visitor, StatusCode::FORBIDDEN, "admin_forbidden"),
    })
}

/// `/admin` opens the dashboard.
#[handler]
pub fn admin_home(state: poem::web::Data<&std::sync::Arc<AppState>>, visitor: &Visitor) -> Response {
    match admin(&state, visitor) {
        Ok(_) => Redirect::see_other("/admin/outcomes").into_response(),
        Err(response) => response,
    }
}

/// A path id; an unparsable one is a 404 like an unknown one.
fn parse_id(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text).ok()
}

/// Pages with a secret in them (a key, an invitation link) are not kept by browsers or proxies.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        poem::http::header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// The page number of `?page=`, from 1.
fn page_number(value: Option<&str>) -> u64 {
    value
        .and_then(|p| p.parse().ok())
        .filter(|p| (1..=crate::directory::MAX_PAGE).contains(p))
        .unwrap_or(1)
}

/// The previous and next page's URLs of a list: `base` (a path with its query, without `page`) plus `page=`.
fn page_links(base: &str, page: u64, total: u64, per_page: u64) -> (Option<String>, Option<String>) {
    let pages = total.div_ceil(per_page).max(1);
    let join = if base.contains('?') { '&' } else { '?' };
    let url = |n: u64| format!("{base}{join}page={n}");
    ((page > 1).then(|| url(page - 1)), (page < pages).then(|| url(page + 1)))
}

/// "2026-11-26 10:04" (UTC).
fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

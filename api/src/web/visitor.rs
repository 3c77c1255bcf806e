//! Who is looking at a page: the session cookie resolved into a person and a [`Caller`], the page language,
//! and the CSRF token every form must echo.
//!
//! CSRF: a logged-in session has its own random token (stored with the session); an anonymous visitor gets
//! one in a `bb_csrf` cookie (double submit). Every POST must carry the token in the form field `csrf`, or
//! it is refused with 403 before any handler runs.

use std::sync::Arc;

use entities::directory::Role;
use entities::people::Person;
use poem::http::{Method, StatusCode, header};
use poem::web::cookie::{Cookie, SameSite};
use poem::{Endpoint, FromRequest, IntoResponse, Request, RequestBody, Response};

use crate::auth::Caller;
use crate::state::AppState;
use crate::web::i18n::Lang;

pub const SESSION_COOKIE: &str = "bb_session";
const CSRF_COOKIE: &str = "bb_csrf";
const LANG_COOKIE: &str = "bb_lang";
/// A session unused this long is over (the person logs in again).
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::minutes(60);

/// The resolved visitor of one web request.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub caller: Caller,
    pub person: Option<Person>,
    pub lang: Lang,
    pub csrf: String,
    pub session_token: Option<String>,
    /// The path of the page, for the navigation's "current" mark and the login's way back.
    pub path: String,
    pub path_and_query: String,
    /// For partners: referrals to their organization not yet opened (shown on every page).
    pub new_referrals: u64,
    /// Served over TLS (directly or, by `X-Forwarded-Proto`, behind a proxy): cookies get `Secure`.
    pub secure: bool,
}

impl Visitor {
    pub fn is(&self, role: Role) -> bool {
        self.caller.is(role)
    }

    /// A cookie with the flags every cookie of the app has.
    pub fn cookie(&self, name: &str, value: String, max_age: Option<std::time::Duration>) -> Cookie {
        let mut cookie = Cookie::new_with_str(name, value);
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_secure(self.secure);
        if let Some(age) = max_age {
            cookie.set_max_age(age);
        }
        cookie
    }
}

impl<'a> FromRequest<'a> for &'a Visitor {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        req.extensions()
            .get::<Visitor>()
            .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
    }
}

fn cookie_value(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    hex::encode(bytes)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `csrf` field of a url-encoded form body, read without consuming the body for the handler.
async fn form_csrf(req: &mut Request) -> Option<String> {
    let body = req.take_body().into_bytes().await.ok()?;
    let value = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
    req.set_body(body);
    value
}

/// Middleware of every web route: builds the [`Visitor`], refuses POSTs without the right CSRF token,
/// sets the anonymous CSRF cookie when it is new, and adds the security headers of HTML pages.
pub async fn resolve<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    // Assets are the same for everyone: no session lookup (a page loads a dozen of them).
    if req.uri().path().starts_with("/static/") {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let secure = req.uri().scheme_str() == Some("https")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let session_token = cookie_value(&req, SESSION_COOKIE);
    let session = match &session_token {
        Some(token) => state.store.session(token, SESSION_IDLE).await.map_err(|error| {
            tracing::error!(%error, "session lookup failed");
            poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
        })?,
        None => None,
    };
    let cookie_lang = cookie_value(&req, LANG_COOKIE).and_then(|l| Lang::parse(&l));
    let (caller, person, csrf, new_csrf_cookie) = match session {
        Some(session) => {
            let person = session.person;
            let caller = Caller {
                key_id: None,
                person_id: Some(person.id),
                role: Some(person.role),
                organization_id: person.organization_id,
                team: person.team.clone(),
            };
            (caller, Some(person), session.csrf_token, None)
        }
        None => match cookie_value(&req, CSRF_COOKIE).filter(|t| t.len() == 64) {
            Some(token) => (Caller::ANONYMOUS, None, token, None),
            None => {
                let token = random_token();
                (Caller::ANONYMOUS, None, token.clone(), Some(token))
            }
        },
    };
    let lang = person
        .as_ref()
        .and_then(|p| Lang::parse(&p.language))
        .or(cookie_lang)
        .unwrap_or(Lang::Da);
    let session_token = session_token.filter(|_| person.is_some());
    let new_referrals = match (caller.role, caller.organization_id) {
        (Some(Role::Partner), Some(organization_id)) => {
            let filter = entities::referrals::ReferralFilter {
                organization_id: Some(organization_id),
                status: Some(entities::referral_rules::ReferralStatus::Requested),
                ..Default::default()
            };
            state.store.count_referrals(&filter).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "counting new referrals failed");
                0
            })
        }
        _ => 0,
    };
    let visitor = Visitor {
        caller,
        person,
        lang,
        csrf,
        session_token,
        path: req.uri().path().to_owned(),
        path_and_query: req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        new_referrals,
        secure,
    };
    if req.method() == Method::POST {
        let sent = form_csrf(&mut req).await;
        if !sent.as_deref().is_some_and(|sent| same_token(sent, &visitor.csrf)) {
            return Ok(crate::web::render::error_page(
                &state,
                &visitor,
                StatusCode::FORBIDDEN,
                "error_csrf",
            ));
        }
    }
    // A one-time password is for choosing one's own: nothing else opens until then.
    if visitor.person.as_ref().is_some_and(|p| p.must_change_password)
        && !matches!(visitor.path.as_str(), "/password" | "/logout" | "/language")
        && !visitor.path.starts_with("/static/")
    {
        return Ok(poem::web::Redirect::see_other("/password").into_response());
    }
    let csrf_cookie = new_csrf_cookie.map(|token| visitor.cookie(CSRF_COOKIE, token, None));
    req.extensions_mut().insert(visitor);
    let mut response = next.call(req).await?.into_response();
    if let Some(cookie) = csrf_cookie
        && let Ok(value) = cookie.to_string().parse()
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    let headers = response.headers_mut();
    // Scripts and styles only from our own origin: DKFDS and htmx are vendored, nothing inline.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
             form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    Ok(response)
}

/// Sets the language cookie (anonymous visitors) and the person's choice (logged in).
pub fn lang_cookie(visitor: &Visitor, lang: Lang) -> Cookie {
    visitor.cookie(
        LANG_COOKIE,
        lang.code().to_owned(),
        Some(std::time::Duration::from_secs(365 * 24 * 3600)),
    )
}

/// The session cookie after a login, or an expired one after a logout.
pub fn session_cookie(visitor: &Visitor, token: Option<String>) -> Cookie {
    match token {
        Some(token) => visitor.cookie(SESSION_COOKIE, token, None),
        None => visitor.cookie(SESSION_COOKIE, String::new(), Some(std::time::Duration::ZERO)),
    }
}

impl Visitor {
    /// The logged-in person when their role is one of `roles`; otherwise what they lack.
    pub fn person_with_role(&self, roles: &[Role]) -> Result<&Person, Need> {
        match (&self.person, self.caller.role) {
            (Some(person), Some(role)) if roles.contains(&role) => Ok(person),
            (None, _) => Err(Need::Login),
            _ => Err(Need::Forbidden),
        }
    }

    /// A partner person and the organisation they act for; otherwise what they lack.
    pub fn partner(&self) -> Result<(&Person, uuid::Uuid), Need> {
        let person = self.person_with_role(&[Role::Partner])?;
        person.organization_id.map(|org| (person, org)).ok_or(Need::Forbidden)
    }
}

/// What a visitor lacks for a page.
pub enum Need {
    Login,
    Forbidden,
}

impl Need {
    /// The login page (coming back here afterwards) or a 403 page.
    pub fn response(self, state: &AppState, visitor: &Visitor) -> Response {
        match self {
            Need::Login => {
                let next = serde_urlencoded::to_string([("next", visitor.path_and_query.as_str())]).unwrap_or_default();
                poem::web::Redirect::see_other(format!("/login?{next}")).into_response()
            }
            Need::Forbidden => crate::web::render::error_page(state, visitor, StatusCode::FORBIDDEN, "error_forbidden"),
        }
    }
}

//! The web app over real HTTP (no browser): logins and sessions, cookie flags, CSRF, throttling, who may
//! open which page, escaping, the referral form and team visibility. The browser flows are in
//! `tests/browser/`.

use std::collections::BTreeMap;

use entities::directory::Role;
use entities::people::NewPerson;
use entities::tables::{audit_event, family_list_item, referral};
use reqwest::{Client, StatusCode, redirect};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, id_of};
use crate::on_both_backends;

on_both_backends!(
    login_sets_a_safe_session_cookie_and_logout_ends_it,
    repeated_failed_logins_are_throttled,
    forms_without_the_csrf_token_are_refused_and_change_nothing,
    only_caseworkers_open_caseworker_pages,
    names_are_shown_as_text,
    referral_form_refers_and_teams_share_referrals,
    cpr_number_in_the_form_is_a_field_error_and_stores_nothing,
    family_list_adds_removes_and_prints_in_the_family_language,
    search_page_finds_offers_near_a_place,
    a_one_time_password_is_changed_before_anything_else,
);

/// A browser without a browser: keeps cookies, follows no redirects, reads the CSRF token of pages.
pub struct WebClient {
    pub base: String,
    pub client: Client,
    pub cookies: BTreeMap<String, String>,
    pub csrf: Option<String>,
}

impl WebClient {
    pub fn new(app: &TestApp) -> Self {
        WebClient {
            base: app.base.clone(),
            client: Client::builder().redirect(redirect::Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) -> Vec<String> {
        let set: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
        set
    }

    fn read_csrf(&mut self, html: &str) {
        if let Some(start) = html.find("name=\"csrf\" value=\"") {
            let rest = &html[start + 19..];
            self.csrf = Some(rest[..rest.find('"').unwrap()].to_owned());
        }
    }

    pub async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let status = response.status();
        let html = response.text().await.unwrap();
        self.read_csrf(&html);
        (status, html)
    }

    /// Posts a form with the page's CSRF token (unless `fields` brings its own or `with_csrf` is false).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)], with_csrf: bool) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone().unwrap_or_default();
        if with_csrf {
            form.push(("csrf", &csrf));
        }
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    pub async fn login(&mut self, email: &str, password: &str) -> reqwest::Response {
        self.get("/login").await;
        self.post(
            "/login",
            &[("email", email), ("password", password), ("next", "/")],
            true,
        )
        .await
    }
}

pub async fn person(app: &TestApp, email: &str, role: Role, organization: Option<Uuid>, team: Option<&str>) -> String {
    app.state
        .store
        .create_person(NewPerson {
            email: email.into(),
            role,
            organization_id: organization,
            name: Some("Test Person".into()),
            team: team.map(Into::into),
            password: Some("correct horse battery".into()),
        })
        .await
        .unwrap();
    "correct horse battery".into()
}

pub async fn logged_in(app: &TestApp, email: &str, team: Option<&str>) -> WebClient {
    let password = person(app, email, Role::Caseworker, None, team).await;
    let mut web = WebClient::new(app);
    let response = web.login(email, &password).await;
    assert_eq!(response.status(), 303);
    web.get("/").await;
    web
}

/// An organization with one service in Gellerup; returns (organization, service).
pub async fn offer(app: &TestApp, organization: &str, service: &str) -> (Uuid, Uuid) {
    let org = app.organization(organization).await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let created = app
        .service(json!({
            "name": service,
            "description": "Frivillige hjælper børn med lektier.",
            "organization_id": org,
            "location_ids": [location],
            "needs": ["education-homework"],
            "languages": ["da", "ar"],
            "minimum_age": 6, "maximum_age": 16,
            "free": true,
            "phone": "+45 12 34 56 78",
            "schedules": [{"byday": ["TU", "TH"], "opens_at": "15:00", "closes_at": "17:30"}]
        }))
        .await;
    (org, id_of(&created))
}

async fn referrals_stored(app: &TestApp) -> u64 {
    referral::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

async fn login_sets_a_safe_session_cookie_and_logout_ends_it(app: TestApp) {
    let password = person(&app, "Anna@Aarhus.dk", Role::Caseworker, None, None).await;
    let mut web = WebClient::new(&app);
    let (status, html) = web.get("/login").await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"password\""));

    let wrong = web
        .post(
            "/login",
            &[("email", "anna@aarhus.dk"), ("password", "not the password")],
            true,
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("role=\"alert\""));

    let response = web
        .post(
            "/login",
            &[
                ("email", "anna@aarhus.dk"),
                ("password", &password),
                ("next", "/referrals"),
            ],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/referrals");
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("bb_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let (status, html) = web.get("/referrals").await;
    assert_eq!(status, 200);
    assert!(html.contains("Log af"));

    // An open redirect is not possible through `next`.
    let mut other = WebClient::new(&app);
    other.get("/login").await;
    let response = other
        .post(
            "/login",
            &[
                ("email", "anna@aarhus.dk"),
                ("password", &password),
                ("next", "//evil.example"),
            ],
            true,
        )
        .await;
    assert_eq!(response.headers()["location"], "/");

    // Behind a TLS proxy the cookie is Secure.
    let response = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/login", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let csrf_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        csrf_cookie.contains("Secure") && csrf_cookie.contains("HttpOnly"),
        "{csrf_cookie}"
    );

    let session = web.cookies["bb_session"].clone();
    let response = web.post("/logout", &[], true).await;
    assert_eq!(response.status(), 303);
    // The old cookie no longer opens anything.
    web.cookies.insert("bb_session".into(), session);
    let (status, _) = web.get("/referrals").await;
    assert_eq!(status, 303, "logged out: back to the login page");
}

async fn repeated_failed_logins_are_throttled(app: TestApp) {
    let password = person(&app, "bo@aarhus.dk", Role::Caseworker, None, None).await;
    let mut web = WebClient::new(&app);
    web.get("/login").await;
    for attempt in 1..entities::people::MAX_FAILED_LOGINS {
        let response = web
            .post(
                "/login",
                &[("email", "bo@aarhus.dk"), ("password", "guess guess")],
                true,
            )
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let response = web
        .post(
            "/login",
            &[("email", "bo@aarhus.dk"), ("password", "guess guess")],
            true,
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    // Locked: even the right password is refused for now.
    let response = web
        .post("/login", &[("email", "bo@aarhus.dk"), ("password", &password)], true)
        .await;
    assert_eq!(response.status(), 429);
    assert!(!web.cookies.contains_key("bb_session"));
}

async fn forms_without_the_csrf_token_are_refused_and_change_nothing(app: TestApp) {
    let (_, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let mut web = logged_in(&app, "cw@aarhus.dk", None).await;
    let refer_path = format!("/refer/{service}");
    let form = [
        ("family_ref", "SAG-1"),
        ("consent", "yes"),
        ("preferred_language", "da"),
    ];
    let response = web.post(&refer_path, &form, false).await;
    assert_eq!(response.status(), 403);
    let mut with_wrong = form.to_vec();
    with_wrong.push((
        "csrf",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ));
    let response = web.post(&refer_path, &with_wrong, false).await;
    assert_eq!(response.status(), 403);
    assert_eq!(referrals_stored(&app).await, 0);

    let id = service.to_string();
    let response = web.post("/list/add", &[("service_id", &id)], false).await;
    assert_eq!(response.status(), 403);
    let listed = family_list_item::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(listed, 0);

    // Logout without the token does not log out.
    let response = web.post("/logout", &[], false).await;
    assert_eq!(response.status(), 403);
    assert_eq!(web.get("/referrals").await.0, 200);

    // With the token it all works.
    let response = web.post(&refer_path, &form, true).await;
    assert_eq!(response.status(), 303);
    assert_eq!(referrals_stored(&app).await, 1);
}

async fn only_caseworkers_open_caseworker_pages(app: TestApp) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let caseworker_pages = ["/referrals", "/list", "/list/print", &format!("/refer/{service}")];
    // Anonymous visitors are sent to the login page, and come back afterwards.
    let mut anonymous = WebClient::new(&app);
    for page in caseworker_pages {
        let response = anonymous
            .client
            .get(format!("{}{page}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{page}");
        let location = response.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next=%2F"), "{location}");
    }
    // The public search and offer pages are open to all.
    assert_eq!(anonymous.get("/").await.0, 200);
    assert_eq!(anonymous.get(&format!("/offers/{service}")).await.0, 200);

    // A partner's or an admin's session may not use them.
    for (email, role, organization) in [
        ("partner@forening.dk", Role::Partner, Some(org)),
        ("admin@aarhus.dk", Role::Admin, None),
    ] {
        let password = person(&app, email, role, organization, None).await;
        let mut web = WebClient::new(&app);
        assert_eq!(web.login(email, &password).await.status(), 303);
        for page in caseworker_pages {
            // `/referrals` is a partner's inbox too (its own organization's referrals only).
            if role == Role::Partner && page == "/referrals" {
                let (status, html) = web.get(page).await;
                assert_eq!(status, 200);
                assert!(html.contains("Indbakke"));
                continue;
            }
            let (status, html) = web.get(page).await;
            assert_eq!(status, 403, "{email} {page}");
            assert!(html.contains("<h1>"), "an error page");
        }
        let id = service.to_string();
        web.get("/").await;
        let response = web.post("/list/add", &[("service_id", &id)], true).await;
        assert_eq!(response.status(), 403);
    }
}

async fn names_are_shown_as_text(app: TestApp) {
    let (_, service) = offer(
        &app,
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(2)> Lektiehjælp",
    )
    .await;
    let mut web = logged_in(&app, "cw@aarhus.dk", None).await;
    for page in [
        "/?q=lektiehj%C3%A6lp&near=Gellerup".to_owned(),
        format!("/offers/{service}"),
        format!("/refer/{service}"),
    ] {
        let (status, html) = web.get(&page).await;
        assert_eq!(status, 200, "{page}");
        assert!(!html.contains("<script>alert(1)</script>"), "{page}");
        assert!(!html.contains("<img src=x"), "{page}");
        assert!(html.contains("&lt;script&gt;alert(1)"), "shown as text: {page}");
    }
}

async fn referral_form_refers_and_teams_share_referrals(app: TestApp) {
    let (_, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let mut anna = logged_in(&app, "anna@aarhus.dk", Some("Gellerup")).await;
    let (status, html) = anna.get(&format!("/refer/{service}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"consent\""));
    let response = anna
        .post(
            &format!("/refer/{service}"),
            &[
                ("family_ref", "SAG-2026-0042"),
                ("needs", "education-homework"),
                ("message", "To børn på 9 og 12 år."),
                ("preferred_language", "ar"),
                ("contact_preference", "phone"),
                ("consent", "yes"),
            ],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id: Uuid = location
        .trim_start_matches("/referrals/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (status, html) = anna.get(&location).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-status=\"requested\""), "{html}");
    assert!(html.contains("To børn på 9 og 12 år."));
    let (_, list) = anna.get("/referrals").await;
    assert!(list.contains(&format!("/referrals/{id}")));

    // The referral names the person who sent it, and every access is audited under that person.
    let stored = referral::Entity::find_by_id(id)
        .one(app.state.store.connection())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.sender_team.as_deref(), Some("Gellerup"));
    let anna_id = app
        .state
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.email == "anna@aarhus.dk")
        .unwrap()
        .id;
    assert_eq!(stored.sender_key_id, anna_id);
    let audited = audit_event::Entity::find()
        .filter(audit_event::Column::EntityId.eq(id))
        .filter(audit_event::Column::PersonId.eq(anna_id))
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert!(audited >= 2, "create and read audited: {audited}");

    // A colleague of the same team sees it under "my team", not under "mine"; another team gets a 404.
    let mut bo = logged_in(&app, "bo@aarhus.dk", Some("Gellerup")).await;
    assert!(!bo.get("/referrals").await.1.contains(&format!("/referrals/{id}")));
    assert!(
        bo.get("/referrals?scope=team")
            .await
            .1
            .contains(&format!("/referrals/{id}"))
    );
    assert_eq!(bo.get(&format!("/referrals/{id}")).await.0, 200);
    let mut cy = logged_in(&app, "cy@aarhus.dk", Some("Viby")).await;
    assert!(
        !cy.get("/referrals?scope=team")
            .await
            .1
            .contains(&format!("/referrals/{id}"))
    );
    let (status, html) = cy.get(&format!("/referrals/{id}")).await;
    assert_eq!(status, 404);
    assert!(!html.contains("To børn"));

    // The sender cancels while it is open: a reason is needed, and a stale page is told so.
    let (_, page) = anna.get(&format!("/referrals/{id}")).await;
    assert!(page.contains("id=\"action-cancelled\""));
    assert!(
        !page.contains("id=\"action-accepted\""),
        "accepting is the partner's step"
    );
    let response = anna
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "cancelled"), ("version", "1"), ("reason", "")],
            true,
        )
        .await;
    assert_eq!(response.status(), 422);
    let response = anna
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "cancelled"), ("version", "0"), ("reason", "Familien flytter")],
            true,
        )
        .await;
    assert_eq!(response.status(), 412);
    assert!(response.text().await.unwrap().contains("id=\"changed-meanwhile\""));
    let response = anna
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "cancelled"), ("version", "1"), ("reason", "Familien flytter")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, page) = anna.get(&format!("/referrals/{id}")).await;
    assert!(page.contains("data-status=\"cancelled\""));
    assert!(page.contains("Familien flytter"));
}

async fn cpr_number_in_the_form_is_a_field_error_and_stores_nothing(app: TestApp) {
    let (_, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let mut web = logged_in(&app, "cw@aarhus.dk", None).await;
    let response = web
        .post(
            &format!("/refer/{service}"),
            &[("family_ref", "010190-1234"), ("message", "Hej"), ("consent", "yes")],
            true,
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"error-summary\""));
    assert!(html.contains("id=\"family_ref-error\""));
    assert!(html.contains("CPR"));
    // Nothing typed is lost: the message is still in the form.
    assert!(html.contains(">Hej</textarea>"));
    // Without consent: the consent field's error.
    let response = web
        .post(&format!("/refer/{service}"), &[("family_ref", "SAG-7")], true)
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("id=\"consent-error\""));
    assert_eq!(referrals_stored(&app).await, 0);
}

async fn family_list_adds_removes_and_prints_in_the_family_language(app: TestApp) {
    let (_, first) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let (_, second) = offer(&app, "Røde Kors", "Lektiecafé på biblioteket").await;
    let mut web = logged_in(&app, "cw@aarhus.dk", None).await;
    for id in [first, second] {
        let id = id.to_string();
        let response = web.post("/list/add", &[("service_id", &id), ("back", "/")], true).await;
        assert_eq!(response.status(), 303);
    }
    let (status, html) = web.get("/list").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("class=\"form-input sms\"").count(), 2);
    assert!(html.contains("tirsdag og torsdag 15–17.30"));

    // Printed for an Arabic-speaking family: labels in Arabic, right to left, names as written.
    let (status, print) = web.get("/list/print?family_lang=ar").await;
    assert_eq!(status, 200);
    assert!(print.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(print.contains("العنوان"), "the Arabic label for address");
    assert!(print.contains("Lektiehjælp"));
    assert!(print.contains("الثلاثاء"), "Tuesday in Arabic");

    // Every short text fits an SMS.
    for text in html.split("class=\"form-input sms\"").skip(1) {
        let body = &text[text.find('>').unwrap() + 1..text.find("</textarea>").unwrap()];
        assert!(body.chars().count() <= 480, "{body}");
    }

    let id = first.to_string();
    assert_eq!(
        web.post("/list/remove", &[("service_id", &id), ("back", "/list")], true)
            .await
            .status(),
        303
    );
    let (_, html) = web.get("/list").await;
    assert_eq!(html.matches("class=\"form-input sms\"").count(), 1);
    assert_eq!(web.post("/list/clear", &[("back", "/list")], true).await.status(), 303);
    let stored = family_list_item::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

async fn search_page_finds_offers_near_a_place(app: TestApp) {
    offer(&app, "Lektiecafé Gellerup", "Lektiehjælp i Gellerup").await;
    let mut web = WebClient::new(&app);
    let (status, html) = web.get("/?q=lektieh%C3%A6lp&near=Gellerup&ages=10&language=ar").await;
    assert_eq!(status, 200);
    assert!(html.contains("Lektiehjælp i Gellerup"));
    assert!(html.contains("taler arabisk"), "the why in words");
    assert!(html.contains("for 6–16 år"));
    assert!(html.contains("tirsdag og torsdag 15–17.30"));
    // Anonymous visitors search but get no caseworker buttons.
    assert!(!html.contains("data-testid=\"refer\""));
    // A place we do not know and a bad age are field errors, not a crash.
    let (status, html) = web.get("/?q=job&near=Xyzzyville&ages=ti").await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"near-error\"") && html.contains("id=\"ages-error\""));
    // English as a switch.
    web.get("/").await;
    let response = web
        .post("/language", &[("lang", "en"), ("back", "/?q=homework")], true)
        .await;
    assert_eq!(response.status(), 303);
    let (_, html) = web.get("/?q=homework").await;
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("What does the family say?"));
}

async fn a_one_time_password_is_changed_before_anything_else(app: TestApp) {
    let (_, one_time) = app
        .state
        .store
        .create_person(NewPerson {
            email: "ny@aarhus.dk".into(),
            role: Role::Caseworker,
            organization_id: None,
            name: None,
            team: None,
            password: None,
        })
        .await
        .unwrap();
    let mut web = WebClient::new(&app);
    assert_eq!(web.login("ny@aarhus.dk", &one_time).await.status(), 303);
    let response = web
        .client
        .get(format!("{}/referrals", app.base))
        .header("cookie", web.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/password");
    let (status, _) = web.get("/password").await;
    assert_eq!(status, 200);
    let response = web
        .post("/password", &[("password", "short"), ("repeat", "short")], true)
        .await;
    assert_eq!(response.status(), 422);
    let response = web
        .post(
            "/password",
            &[
                ("password", "my own long password"),
                ("repeat", "my own other password"),
            ],
            true,
        )
        .await;
    assert_eq!(response.status(), 422);
    let response = web
        .post(
            "/password",
            &[("password", "my own long password"), ("repeat", "my own long password")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(web.get("/referrals").await.0, 200);
    // The one-time password is spent; the new one works.
    assert!(
        app.state
            .store
            .verify_login("ny@aarhus.dk", &one_time)
            .await
            .unwrap()
            .is_err()
    );
    assert!(
        app.state
            .store
            .verify_login("ny@aarhus.dk", "my own long password")
            .await
            .unwrap()
            .is_ok()
    );
}

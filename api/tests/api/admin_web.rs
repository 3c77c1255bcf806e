//! The municipality's pages over real HTTP (no browser): who may open them, organizations with field
//! errors, invitations, keys revoked at once, the outcomes dashboard's numbers, unmet needs as bare
//! aggregates, directory health and the audit trail. The browser flow is in `tests/browser/admin.rs`.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use entities::directory::Role;
use entities::people::NewPerson;
use entities::tables::{invitation, organization, referral};
use reqwest::{Client, Method, StatusCode, redirect};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of};
use crate::on_both_backends;

on_both_backends!(
    admin_pages_refuse_everyone_but_admins,
    organization_form_shows_errors_next_to_fields_then_creates_and_deactivates,
    an_invited_partner_chooses_a_password_once_and_logs_in,
    a_revoked_key_gets_401_at_once,
    dashboard_shows_the_numbers_of_known_referrals,
    unmet_needs_are_only_need_area_month_and_count,
    health_lists_problems_by_organization,
    audit_page_lists_a_persons_read,
);

const PASSWORD: &str = "correct horse battery";

/// A browser without a browser: keeps cookies, follows no redirects, reads the CSRF token of pages.
struct WebClient {
    base: String,
    client: Client,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
}

impl WebClient {
    fn new(app: &TestApp) -> Self {
        WebClient {
            base: app.base.clone(),
            client: Client::builder().redirect(redirect::Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for cookie in response.headers().get_all("set-cookie") {
            let pair = cookie.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }

    fn read_csrf(&mut self, html: &str) {
        if let Some(start) = html.find("name=\"csrf\" value=\"") {
            let rest = &html[start + 19..];
            self.csrf = Some(rest[..rest.find('"').unwrap()].to_owned());
        }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        let response = self.get_response(path).await;
        let status = response.status();
        let html = unescape_slashes(response.text().await.unwrap());
        self.read_csrf(&html);
        (status, html)
    }

    async fn get_response(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Posts a form with the page's CSRF token.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone().unwrap_or_default();
        form.push(("csrf", &csrf));
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

    /// Posts and reads the answer as a page (status, html), keeping its CSRF token.
    async fn post_page(&mut self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, Option<String>) {
        let response = self.post(path, fields).await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let html = unescape_slashes(response.text().await.unwrap());
        self.read_csrf(&html);
        (status, html, location)
    }

    async fn login(&mut self, email: &str, password: &str) -> reqwest::Response {
        self.get("/login").await;
        self.post("/login", &[("email", email), ("password", password), ("next", "/")])
            .await
    }
}

/// minijinja escapes `/` in values as `&#x2f;`; the tests read the text as a browser shows it.
fn unescape_slashes(html: String) -> String {
    html.replace("&#x2f;", "/")
}

async fn person(app: &TestApp, email: &str, role: Role, organization: Option<Uuid>) -> Uuid {
    app.state
        .store
        .create_person(NewPerson {
            email: email.into(),
            role,
            organization_id: organization,
            name: Some("Test Person".into()),
            team: None,
            password: Some(PASSWORD.into()),
        })
        .await
        .unwrap()
        .0
        .id
}

async fn logged_in(app: &TestApp, email: &str, role: Role, organization: Option<Uuid>) -> WebClient {
    person(app, email, role, organization).await;
    let mut web = WebClient::new(app);
    let response = web.login(email, PASSWORD).await;
    assert_eq!(response.status(), 303);
    web.get("/").await;
    web
}

async fn admin(app: &TestApp) -> WebClient {
    logged_in(app, "kommune@aarhus.dk", Role::Admin, None).await
}

/// The inside of the element with `id="id"` (up to its own closing tag, nested ones of its kind included).
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let open = html[..at].rfind('<').unwrap();
    let tag: String = html[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let start = html[at..].find('>').unwrap() + at + 1;
    let (opening, closing) = (format!("<{tag}"), format!("</{tag}>"));
    let (mut depth, mut position) = (1, start);
    loop {
        let next_close = html[position..].find(&closing).unwrap() + position;
        match html[position..next_close].find(&opening) {
            Some(inner) => {
                depth += 1;
                position += inner + opening.len();
            }
            None => {
                depth -= 1;
                if depth == 0 {
                    return &html[start..next_close];
                }
                position = next_close + closing.len();
            }
        }
    }
}

/// The number in the cell `data-col="col"` of the row `data-key="key"` of a table's html.
fn cell(table: &str, key: &str, col: &str) -> String {
    let row_at = table
        .find(&format!("data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    let row = &table[row_at..table[row_at..].find("</tr>").unwrap() + row_at];
    let at = row
        .find(&format!("data-col=\"{col}\">"))
        .unwrap_or_else(|| panic!("no column {col} in {row}"));
    let rest = &row[at + col.len() + 12..];
    rest[..rest.find('<').unwrap()].trim().to_owned()
}

/// The count of the row `data-key="key"` of a two-column table (label, count).
fn count_of(table: &str, key: &str) -> String {
    let row_at = table
        .find(&format!("data-key=\"{key}\""))
        .unwrap_or_else(|| panic!("no row {key} in {table}"));
    let row = &table[row_at..table[row_at..].find("</tr>").unwrap() + row_at];
    let cell = &row[row.rfind("<td").unwrap()..];
    let value = &cell[cell.find('>').unwrap() + 1..];
    value[..value.find('<').unwrap()].trim().to_owned()
}

async fn admin_pages_refuse_everyone_but_admins(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let pages = [
        "/admin".to_owned(),
        "/admin/outcomes".into(),
        "/admin/outcomes.csv".into(),
        "/admin/organizations".into(),
        "/admin/organizations/new".into(),
        format!("/admin/organizations/{org}"),
        "/admin/keys".into(),
        "/admin/health".into(),
        "/admin/audit".into(),
    ];
    // Anonymous: to the login page, coming back afterwards.
    let mut anonymous = WebClient::new(&app);
    for path in &pages {
        let response = anonymous.get_response(path).await;
        assert_eq!(response.status(), 303, "{path}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/login?next="), "{path}: {location}");
    }
    // Caseworkers and partners: 403, for pages and for forms (which change nothing).
    for (email, role, organization) in [
        ("anna@aarhus.dk", Role::Caseworker, None),
        ("lise@lektiecafe.dk", Role::Partner, Some(org)),
    ] {
        let mut web = logged_in(&app, email, role, organization).await;
        for path in &pages {
            let (status, html) = web.get(path).await;
            assert_eq!(status, 403, "{role} {path}");
            assert!(html.contains("administratorer"), "{role} {path}");
        }
        for (path, fields) in [
            (
                "/admin/organizations",
                vec![("name", "Ny forening"), ("kind", "association")],
            ),
            (
                &*format!("/admin/organizations/{org}/deactivate"),
                vec![("version", "1")],
            ),
            (
                &*format!("/admin/organizations/{org}/invite"),
                vec![("email", "x@y.dk")],
            ),
            ("/admin/keys", vec![("role", "admin")]),
        ] {
            let response = web.post(path, &fields).await;
            assert_eq!(response.status(), 403, "{role} POST {path}");
        }
    }
    let total = organization::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(total, 1, "nothing was created");
    assert_eq!(
        app.state
            .store
            .get_organization(org)
            .await
            .unwrap()
            .data
            .status
            .as_str(),
        "active"
    );
    assert_eq!(
        app.state.store.list_keys(None).await.unwrap().len(),
        3,
        "the harness's keys only"
    );

    // The admin opens every page.
    let mut admin = admin(&app).await;
    let response = admin.get_response("/admin").await;
    assert_eq!(response.headers()["location"], "/admin/outcomes");
    for path in pages.iter().skip(1) {
        let response = admin.get_response(path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let (_, html) = admin.get("/admin/health").await;
    assert!(html.contains("aria-label=\"Kommunens menu\""), "the admin's navigation");
    assert!(html.contains("href=\"/admin/audit\""));
}

async fn organization_form_shows_errors_next_to_fields_then_creates_and_deactivates(app: TestApp) {
    let mut admin = admin(&app).await;
    let (status, html) = admin.get("/admin/organizations/new").await;
    assert_eq!(status, 200);
    assert!(html.contains("<label class=\"form-label\" for=\"name\">"));

    let (status, html, _) = admin
        .post_page(
            "/admin/organizations",
            &[
                ("name", "Jobcafé Bispehaven"),
                ("kind", "association"),
                ("website", "jobcafe.dk"),
                ("cvr", "1234"),
                ("description", "Hjælp til CV og jobsøgning"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    // Each error next to its field, named in the summary, the field marked invalid; what was typed stays.
    assert!(html.contains("id=\"error-summary\""));
    assert!(html.contains("href=\"#website\""));
    assert!(element(&html, "website-error").contains("https://"));
    assert!(element(&html, "cvr-error").contains("8 cifre"));
    assert!(html.contains("aria-describedby=\"website-hint website-error\" aria-invalid=\"true\""));
    assert!(html.contains("value=\"Jobcafé Bispehaven\""));
    assert!(html.contains("Hjælp til CV og jobsøgning</textarea>"));
    assert!(!html.contains("id=\"name-error\""));
    let stored = organization::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing stored");

    let (status, _, location) = admin
        .post_page(
            "/admin/organizations",
            &[
                ("name", "Jobcafé Bispehaven"),
                ("kind", "ngo"),
                ("website", "https://jobcafe.dk"),
                ("cvr", "1234 5678"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    let id: Uuid = location
        .trim_start_matches("/admin/organizations/")
        .trim_end_matches("?created=1")
        .parse()
        .unwrap();
    let created = app.get(&format!("/v1/organizations/{id}"), None).await;
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["kind"], "ngo");
    assert_eq!(created["cvr"], "12345678");
    let (status, html) = admin.get(&location).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"organization-created\""));
    assert!(html.contains("id=\"no-people\""), "nobody acts for it yet");

    // Search by name, any case; inactive ones only when asked for.
    app.organization("Lektiecafé Gellerup").await;
    let (_, html) = admin.get("/admin/organizations?q=JOBCAF").await;
    assert!(html.contains("Jobcafé Bispehaven") && !html.contains("Lektiecafé Gellerup"));
    let (_, html) = admin.get("/admin/organizations?q=100%25").await;
    assert!(!html.contains("Jobcafé Bispehaven"), "% is a character, not a wildcard");

    // Deactivate with the version seen; a stale version is a conflict that changes nothing.
    let (status, html, _) = admin
        .post_page(&format!("/admin/organizations/{id}/deactivate"), &[("version", "7")])
        .await;
    assert_eq!(status, 412);
    assert!(html.contains("id=\"changed-meanwhile\""));
    assert_eq!(
        app.state.store.get_organization(id).await.unwrap().data.status.as_str(),
        "active"
    );
    let (status, _, location) = admin
        .post_page(&format!("/admin/organizations/{id}/deactivate"), &[("version", "1")])
        .await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap(), format!("/admin/organizations/{id}?deactivated=1"));
    let read: Value = app
        .get(&format!("/v1/organizations/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "inactive");
    let (_, html) = admin.get("/admin/organizations?q=jobcaf").await;
    assert!(!html.contains("Jobcafé Bispehaven"), "active ones by default");
    let (_, html) = admin.get("/admin/organizations?q=jobcaf&status=inactive").await;
    assert!(html.contains("Jobcafé Bispehaven"));
}

/// The token of the `/invite/<token>` link on an invitation page.
fn invite_token(html: &str) -> String {
    let at = html.find("/invite/").expect("an invitation link");
    html[at + 8..at + 8 + 64].to_owned()
}

async fn an_invited_partner_chooses_a_password_once_and_logs_in(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let mut admin = admin(&app).await;
    admin.get(&format!("/admin/organizations/{org}")).await;
    let (status, html, _) = admin
        .post_page(
            &format!("/admin/organizations/{org}/invite"),
            &[("email", "not an address")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(element(&html, "email-error").contains("e-mailadresse"));

    let (status, html, _) = admin
        .post_page(
            &format!("/admin/organizations/{org}/invite"),
            &[("email", "Lise@Lektiecafe.dk")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("lise@lektiecafe.dk er inviteret"));
    let token = invite_token(&html);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // The link is stored only as a hash.
    let rows = invitation::Entity::find()
        .all(app.state.store.connection())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].token_hash, token);
    assert!(rows[0].expires_at > Utc::now() + Duration::days(6));
    let (_, html) = admin.get(&format!("/admin/organizations/{org}")).await;
    assert!(html.contains("data-state=\"invited\""));
    // The same person twice: a field error.
    let (status, html, _) = admin
        .post_page(
            &format!("/admin/organizations/{org}/invite"),
            &[("email", "lise@lektiecafe.dk")],
        )
        .await;
    assert_eq!(status, 409);
    assert!(element(&html, "email-error").contains("findes allerede"));

    // The invited person: the link shows whom it is for; the passwords must agree and be long enough.
    let mut lise = WebClient::new(&app);
    let path = format!("/invite/{token}");
    let response = lise.get_response(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = unescape_slashes(response.text().await.unwrap());
    lise.read_csrf(&html);
    assert!(html.contains("lise@lektiecafe.dk"));
    let (status, html, _) = lise
        .post_page(&path, &[("password", "en lang adgangskode"), ("repeat", "en anden")])
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"repeat-error\""));
    let (status, html, _) = lise.post_page(&path, &[("password", "kort"), ("repeat", "kort")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"password-error\""));
    // She cannot log in before she has chosen a password.
    assert_eq!(
        lise.login("lise@lektiecafe.dk", "en lang adgangskode").await.status(),
        401
    );
    let (status, html, _) = lise
        .post_page(
            &path,
            &[("password", "en lang adgangskode"), ("repeat", "en lang adgangskode")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"invite-done\""));

    // Used: the link says so and changes nothing; she logs in with her password, as the first partner.
    let (status, html) = lise.get(&path).await;
    assert_eq!(status, 410);
    assert!(html.contains("data-problem=\"used\""));
    let (status, _, _) = lise
        .post_page(&path, &[("password", "en helt ny kode"), ("repeat", "en helt ny kode")])
        .await;
    assert_eq!(status, 410);
    let response = lise.login("lise@lektiecafe.dk", "en lang adgangskode").await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    let people = app.state.store.list_people().await.unwrap();
    let lise_person = people.iter().find(|p| p.email == "lise@lektiecafe.dk").unwrap();
    assert_eq!(lise_person.role, Role::Partner);
    assert_eq!(lise_person.organization_id, Some(org));
    assert!(
        lise_person.organization_admin,
        "the first partner manages the organization's people"
    );
    assert!(!lise_person.must_change_password);
    let (_, html) = admin.get(&format!("/admin/organizations/{org}")).await;
    assert!(html.contains("data-state=\"active\""));

    // Unknown and expired links.
    let (status, html) = lise.get(&format!("/invite/{}", "0".repeat(64))).await;
    assert_eq!(status, 404);
    assert!(html.contains("data-problem=\"unknown\""));
    let (status, _) = lise.get("/invite/short").await;
    assert_eq!(status, 404);
    let (status, html, _) = admin
        .post_page(
            &format!("/admin/organizations/{org}/invite"),
            &[("email", "omar@lektiecafe.dk")],
        )
        .await;
    assert_eq!(status, 200);
    let token = invite_token(&html);
    invitation::Entity::update_many()
        .set(invitation::ActiveModel {
            expires_at: Set(Utc::now() - Duration::minutes(1)),
            ..Default::default()
        })
        .filter(invitation::Column::UsedAt.is_null())
        .exec(app.state.store.connection())
        .await
        .unwrap();
    let (status, html) = lise.get(&format!("/invite/{token}")).await;
    assert_eq!(status, 410);
    assert!(html.contains("data-problem=\"expired\""));
    // A new link for Omar works; the expired one stays dead.
    let omar = people_id(&app, "omar@lektiecafe.dk").await;
    admin.get(&format!("/admin/organizations/{org}")).await;
    let (status, html, _) = admin.post_page(&format!("/admin/people/{omar}/reinvite"), &[]).await;
    assert_eq!(status, 200);
    let fresh = invite_token(&html);
    assert_ne!(fresh, token);
    assert_eq!(lise.get(&format!("/invite/{fresh}")).await.0, 200);
    assert_eq!(lise.get(&format!("/invite/{token}")).await.0, 410);
}

pub async fn people_id(app: &TestApp, email: &str) -> Uuid {
    app.state
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.email == email)
        .unwrap()
        .id
}

/// The key's secret on the page that shows it once.
fn secret_on(html: &str) -> String {
    let at = html.find("id=\"key-secret\" value=\"").expect("the secret on the page");
    let rest = &html[at + 23..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn a_revoked_key_gets_401_at_once(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let mut admin = admin(&app).await;
    admin.get("/admin/keys").await;
    // A partner key needs its organization.
    let (status, html, _) = admin
        .post_page("/admin/keys", &[("role", "partner"), ("organization_id", "")])
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"organization_id-error\""));
    let (status, html, _) = admin
        .post_page("/admin/keys", &[("role", "caseworker"), ("label", "Fagsystem")])
        .await;
    assert_eq!(status, 200);
    let secret = secret_on(&html);
    assert!(secret.starts_with("bb_"));
    let response = app.get("/v1/referrals", Some(&secret)).await;
    assert_eq!(response.status(), 200);

    // The list names the key but never its secret.
    let (_, html) = admin.get("/admin/keys").await;
    assert!(html.contains("Fagsystem"));
    assert!(!html.contains(&secret));
    let key = app
        .state
        .store
        .list_keys(None)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.label.as_deref() == Some("Fagsystem"))
        .unwrap();
    let (status, _, location) = admin
        .post_page(&format!("/admin/keys/{}/revoke", key.id), &[("back", "/admin/keys")])
        .await;
    assert_eq!(status, 303);
    assert_eq!(location.unwrap(), "/admin/keys?revoked=1");
    let response = app.get("/v1/referrals", Some(&secret)).await;
    assert_eq!(response.status(), 401, "the very next request");
    let (_, html) = admin.get("/admin/keys?revoked=1").await;
    assert!(html.contains("id=\"key-revoked\""));
    assert!(html.contains(&format!("data-key=\"{}\" data-revoked=\"true\"", key.id)));

    // A partner key from the organization's page belongs to it and answers for it.
    admin.get(&format!("/admin/organizations/{org}")).await;
    let organization = org.to_string();
    let (status, html, _) = admin
        .post_page(
            "/admin/keys",
            &[
                ("role", "partner"),
                ("organization_id", &organization),
                ("label", "Bookingsystem"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let partner = secret_on(&html);
    let patched = app
        .request(Method::PATCH, &format!("/v1/organizations/{org}"), Some(&partner))
        .json(&json!({"website": "https://lektiecafe.dk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let (_, html) = admin.get(&format!("/admin/organizations/{org}")).await;
    assert!(html.contains("Bookingsystem"), "the organization's page shows its keys");
}

// ---- referrals for the dashboard ------------------------------------------------------------------

fn referral_body(service_id: Uuid, family_ref: &str) -> Value {
    json!({
        "service_id": service_id,
        "family_ref": family_ref,
        "needs": ["education-homework"],
        "message": "To børn har brug for lektiehjælp.",
        "consent": {"given_at": Utc::now().to_rfc3339(), "scope": "henvisning og tilbagemelding"},
    })
}

async fn refer(app: &TestApp, service: Uuid, family_ref: &str) -> Uuid {
    let response = app
        .send_json(
            Method::POST,
            "/v1/referrals",
            Some(&app.caseworker),
            &referral_body(service, family_ref),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    id_of(&response.json::<Value>().await.unwrap())
}

async fn move_to(app: &TestApp, key: &str, id: Uuid, to: &str, reason: Option<&str>) {
    let response = app
        .send_json(
            Method::POST,
            &format!("/v1/referrals/{id}/transitions"),
            Some(key),
            &json!({"to": to, "reason": reason}),
        )
        .await;
    assert_eq!(
        response.status(),
        200,
        "{to}: {}",
        response.text().await.unwrap_or_default()
    );
}

/// Sets a referral's times relative to `base`, in hours, so durations are exact.
async fn set_times(app: &TestApp, id: Uuid, base: chrono::DateTime<Utc>, response: Option<i64>, closed: Option<i64>) {
    let hours = |h: i64| base + Duration::hours(h);
    referral::Entity::update_many()
        .set(referral::ActiveModel {
            created_at: Set(base),
            first_response_at: Set(response.map(hours)),
            closed_at: Set(closed.map(hours)),
            ..Default::default()
        })
        .filter(referral::Column::Id.eq(id))
        .exec(app.state.store.connection())
        .await
        .unwrap();
}

async fn dashboard_shows_the_numbers_of_known_referrals(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let service = id_of(
        &app.service(json!({
            "name": "Lektiehjælp", "description": "Frivillige hjælper med lektier.",
            "organization_id": org, "location_ids": [location], "needs": ["education-homework"], "free": true
        }))
        .await,
    );
    let partner = app.partner_key(org).await;
    // Completed (first response after 2 h, done after 50 h), completed (4 h, 30 h), rejected as not
    // eligible (6 h), accepted and still open (10 h), and one just sent.
    let base = Utc::now() - Duration::days(3);
    let mut ids = Vec::new();
    for (n, steps) in [
        vec!["accepted", "in-progress", "completed"],
        vec!["accepted", "in-progress", "completed"],
        vec!["rejected"],
        vec!["accepted"],
        vec![],
    ]
    .into_iter()
    .enumerate()
    {
        let id = refer(&app, service, &format!("SAG-{n}")).await;
        for to in steps {
            let reason = (to == "rejected").then_some("not-eligible");
            if to == "accepted" || to == "rejected" {
                app.get(&format!("/v1/referrals/{id}"), Some(&partner)).await;
            }
            move_to(&app, &partner, id, to, reason).await;
        }
        ids.push(id);
    }
    set_times(&app, ids[0], base, Some(2), Some(50)).await;
    set_times(&app, ids[1], base, Some(4), Some(30)).await;
    set_times(&app, ids[2], base, Some(6), Some(6)).await;
    set_times(&app, ids[3], base, Some(10), None).await;
    set_times(&app, ids[4], base, None, None).await;

    let mut admin = admin(&app).await;
    let from = (base - Duration::days(1)).date_naive();
    let to = Utc::now().date_naive();
    let (status, html) = admin
        .get(&format!("/admin/outcomes?from={from}&to={to}&group_by=organization"))
        .await;
    assert_eq!(status, 200);
    // Counts by current status.
    let statuses = element(&html, "status-table");
    assert_eq!(count_of(statuses, "completed"), "2");
    assert_eq!(count_of(statuses, "rejected"), "1");
    assert_eq!(count_of(statuses, "accepted"), "1");
    assert_eq!(count_of(statuses, "requested"), "1");
    assert_eq!(count_of(statuses, "failed"), "0");
    // By organization, and the total: acceptance 3 of 4 decided, completion 2 of 3 accepted; first
    // responses 2, 4, 6, 10 h (median 5, p90 10); completions 30, 50 h (median 40, p90 50).
    let groups = element(&html, "groups-table");
    assert!(groups.contains("Lektiecafé Gellerup"));
    for key in [org.to_string().as_str(), "total"] {
        assert_eq!(cell(groups, key, "count"), "5");
        assert_eq!(cell(groups, key, "accepted"), "3");
        assert_eq!(cell(groups, key, "rejected"), "1");
        assert_eq!(cell(groups, key, "completed"), "2");
        assert_eq!(cell(groups, key, "open"), "2");
        assert_eq!(cell(groups, key, "acceptance"), "75 %");
        assert_eq!(cell(groups, key, "completion"), "67 %");
        assert_eq!(cell(groups, key, "first-response"), "5,0 / 10,0");
        assert_eq!(cell(groups, key, "completion-time"), "40,0 / 50,0");
    }
    let reasons = element(&html, "reasons-table");
    assert_eq!(count_of(reasons, "not-eligible"), "1");
    assert_eq!(count_of(reasons, "no-capacity"), "0");
    // Charts: server-drawn SVG images with a title and a description.
    assert_eq!(
        html.matches("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"")
            .count(),
        3
    );
    assert!(html.contains("role=\"img\" aria-labelledby=\"chart-status-title chart-status-desc\""));
    assert!(html.contains("<desc id=\"chart-status-desc\">Sendt: 1; Modtaget: 0; Accepteret: 1;"));
    assert!(
        !html.contains("SAG-") && !html.contains("lektiehjælp."),
        "aggregates only"
    );

    // By month: this period's referrals all in one month.
    let (_, html) = admin
        .get(&format!("/admin/outcomes?from={from}&to={to}&group_by=month"))
        .await;
    let month = base.format("%Y-%m").to_string();
    assert_eq!(cell(element(&html, "groups-table"), &month, "count"), "5");
    // A period before them: nothing.
    let (_, html) = admin.get("/admin/outcomes?from=2020-01-01&to=2020-12-31").await;
    assert!(html.contains("id=\"no-referrals\""));
    let (status, html) = admin.get("/admin/outcomes?from=31-12-2026").await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"from-error\""));

    // The CSV is the API's.
    let csv_path = format!("/admin/outcomes.csv?from={from}&to={to}&group_by=organization");
    let response = admin.get_response(&csv_path).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = response.text().await.unwrap();
    let api_csv = app
        .request(
            Method::GET,
            &format!("/v1/reports/referrals?from={from}&to={to}&group_by=organization"),
            Some(&app.admin),
        )
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv, api_csv);
    assert!(csv.lines().last().unwrap().starts_with("organization,total,,5,3,1,"));
    // The month grouping is on the API too.
    let response = app
        .get(
            &format!("/v1/reports/referrals?from={from}&to={to}&group_by=month"),
            Some(&app.admin),
        )
        .await;
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["group_by"], "month");
    assert_eq!(report["groups"][0]["key"], month);
}

async fn unmet_needs_are_only_need_area_month_and_count(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    app.service(json!({
        "name": "Lektiehjælp", "description": "Frivillige hjælper med lektier.",
        "organization_id": org, "location_ids": [location], "needs": ["education-homework"], "free": true
    }))
    .await;
    // Found: not counted. Nothing for housing near Gellerup (twice, once from the web page), nothing
    // for housing at a point in Viby: counted by area and month.
    for path in [
        "/v1/search?need=education-homework&near=Gellerup",
        "/v1/search?need=housing&near=8220&q=familien+er+sat+ud",
        "/v1/search?need=housing&lat=56.127&lon=10.159&radius_km=1",
        "/v1/search?need=housing",
        "/v1/search?need=housing&near=8220&page=2",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), 200, "{path}");
    }
    let mut web = WebClient::new(&app);
    let (status, _) = web.get("/?need=housing&near=8220").await;
    assert_eq!(status, 200);

    let month = Utc::now().format("%Y-%m").to_string();
    let rows = app.state.store.unmet_needs(None, None).await.unwrap();
    let rows: Vec<(String, String, String, u64)> = rows
        .into_iter()
        .map(|u| (u.need_code, u.area, u.month, u.count))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("housing".into(), "8220".into(), month.clone(), 2),
            ("housing".into(), "8260".into(), month.clone(), 1),
        ]
    );
    // The stored rows are these four columns and nothing else: no words, no caller, no time.
    let backend = app.state.store.backend();
    let stored = app
        .state
        .store
        .connection()
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT * FROM unmet_need ORDER BY area",
        ))
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    let mut columns = stored[0].column_names();
    columns.sort();
    assert_eq!(columns, ["area", "count", "month", "need_code"]);
    let dump = format!("{stored:?}");
    assert!(!dump.contains("sat ud") && !dump.contains("familien"), "{dump}");

    let mut admin = admin(&app).await;
    let (_, html) = admin.get("/admin/health").await;
    let table = element(&html, "unmet-table");
    assert!(table.contains("Bolig"), "{table}");
    assert!(table.contains("8220 Brabrand"), "{table}");
    assert!(table.contains(&month));
}

async fn health_lists_problems_by_organization(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let today = Utc::now().date_naive();
    let fresh = id_of(
        &app.service(json!({
            "name": "Lektiehjælp", "description": "Lektier.", "organization_id": org,
            "location_ids": [location], "needs": ["education-homework"], "assured_date": today.to_string()
        }))
        .await,
    );
    let stale = id_of(
        &app.service(json!({
            "name": "Mødregruppe", "description": "Mødre.", "organization_id": org,
            "location_ids": [location], "needs": ["parenting"],
            "assured_date": (today - Duration::days(400)).to_string(), "capacity": "full"
        }))
        .await,
    );
    let homeless = id_of(
        &app.service(json!({
            "name": "Telefonrådgivning", "description": "Ring.", "organization_id": org,
            "location_ids": [], "needs": [], "assured_date": today.to_string()
        }))
        .await,
    );
    person(&app, "lise@lektiecafe.dk", Role::Partner, Some(org)).await;
    let lonely = app.organization("Boligsocialt Hus").await;

    let mut admin = admin(&app).await;
    let (status, html) = admin.get("/admin/health").await;
    assert_eq!(status, 200);
    let summary = element(&html, "health-summary");
    for (kind, total) in [
        ("stale", 1),
        ("full", 1),
        ("no-location", 1),
        ("no-needs", 1),
        ("no-partner", 1),
    ] {
        assert!(
            summary.contains(&format!("data-kind=\"{kind}\"><th scope=\"row\">")),
            "{kind}"
        );
        let at = summary.find(&format!("data-kind=\"{kind}\"")).unwrap();
        assert!(
            summary[at..].contains(&format!("<td>{total}</td>")),
            "{kind}: {summary}"
        );
    }
    assert!(html.contains(&format!(
        "<a href=\"/offers/{stale}\">Mødregruppe</a>: ikke bekræftet siden"
    )));
    assert!(html.contains(&format!(
        "<a href=\"/offers/{homeless}\">Telefonrådgivning</a>: har intet aktivt sted"
    )));
    assert!(html.contains(&format!(
        "<a href=\"/offers/{homeless}\">Telefonrådgivning</a>: har ingen behov"
    )));
    assert!(
        !html.contains(&format!("/offers/{fresh}")),
        "a confirmed, complete offer is healthy"
    );
    assert!(html.contains(&format!("data-organization=\"{lonely}\"")));
    assert!(html.contains(&format!("<a href=\"/admin/organizations/{lonely}#invite-form\">")));
    assert!(
        !html.contains(&format!("href=\"/admin/organizations/{org}#invite-form\"")),
        "Lise acts for it"
    );
}

async fn audit_page_lists_a_persons_read(app: TestApp) {
    let org = app.organization("Lektiecafé Gellerup").await;
    let location = app.location(org, "Foreningshuset", 56.153, 10.133).await;
    let service = id_of(
        &app.service(json!({
            "name": "Lektiehjælp", "description": "Lektier.", "organization_id": org,
            "location_ids": [location], "needs": ["education-homework"]
        }))
        .await,
    );
    // A key refers; a partner person reads it in the app.
    let id = refer(&app, service, "SAG-1").await;
    let partner = person(&app, "lise@lektiecafe.dk", Role::Partner, Some(org)).await;
    let caller = api::auth::Caller {
        key_id: None,
        person_id: Some(partner),
        role: Some(Role::Partner),
        organization_id: Some(org),
        team: None,
    };
    api::referrals::Referrals {
        state: &app.state,
        caller: &caller,
    }
    .open(id)
    .await
    .unwrap();
    let key_id = app
        .state
        .store
        .authenticate(&app.caseworker)
        .await
        .unwrap()
        .unwrap()
        .key_id;

    let mut admin = admin(&app).await;
    let (status, html) = admin.get("/admin/audit?person=Lise@Lektiecafe.dk").await;
    assert_eq!(status, 200);
    let table = element(&html, "audit-table");
    assert_eq!(table.matches("<tr data-who=\"person\">").count(), 1, "{table}");
    assert!(
        table.contains("<td>lise@lektiecafe.dk</td><td>partner</td><td>læste</td>"),
        "{table}"
    );
    assert!(table.contains(&id.to_string()));

    let (_, html) = admin.get(&format!("/admin/audit?referral_id={id}")).await;
    let table = element(&html, "audit-table");
    assert!(table.contains("lise@lektiecafe.dk"));
    assert!(table.contains(&format!("Nøgle {key_id}")), "the key that created it");
    assert!(table.contains("oprettede"));

    let (_, html) = admin.get(&format!("/admin/audit?key_id={key_id}")).await;
    assert!(!element(&html, "audit-table").contains("lise@"));
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    let (_, html) = admin.get(&format!("/admin/audit?from={tomorrow}")).await;
    assert!(html.contains("0 hændelser"));
    let (status, html) = admin.get("/admin/audit?person=nobody@aarhus.dk&referral_id=123").await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"person-error\"") && html.contains("id=\"referral_id-error\""));
}

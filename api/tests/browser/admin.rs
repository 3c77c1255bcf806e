//! The municipality's day in a real browser, on the Aarhus demo data: the admin logs in, reads the outcomes
//! dashboard (numbers in the table, the charts as SVG), the directory's health and the audit trail,
//! creates an organization (a field error first), invites its first partner person, makes and revokes an
//! app's key; the invited person chooses a password through the link and logs in. axe on every page,
//! screenshots of each.

use chrono::Utc;
use entities::directory::Role;
use entities::people::NewPerson;
use entities::referral_rules::ReferralStatus;
use entities::referrals::{Consent, NewReferral, Priority};
use entities::store::{ListFilter, Page};

use crate::harness::{App, Browser, spawn_app};

const PASSWORD: &str = "en lang og god adgangskode";

async fn person(app: &App, email: &str, role: Role, organization_id: Option<uuid::Uuid>) -> uuid::Uuid {
    app.state
        .store
        .create_person(NewPerson {
            email: email.into(),
            role,
            organization_id,
            name: Some("Test".into()),
            team: None,
            password: Some(PASSWORD.into()),
        })
        .await
        .unwrap()
        .0
        .id
}

fn caller(id: uuid::Uuid, role: Role, organization_id: Option<uuid::Uuid>) -> api::auth::Caller {
    api::auth::Caller {
        key_id: None,
        person_id: Some(id),
        role: Some(role),
        organization_id,
        team: None,
    }
}

/// Three referrals to one demo service: one accepted, one rejected (not eligible), one just sent.
/// Returns the partner's e-mail.
async fn referrals(app: &App) -> String {
    let (_, services) = app
        .state
        .store
        .list_services(&ListFilter::default(), Page { page: 1, per_page: 1 })
        .await
        .unwrap();
    let service = &services[0];
    let organization = service.data.organization_id;
    let caseworker = caller(
        person(app, "anna@aarhus.dk", Role::Caseworker, None).await,
        Role::Caseworker,
        None,
    );
    let partner_email = "lise@partner.dk";
    let partner = caller(
        person(app, partner_email, Role::Partner, Some(organization)).await,
        Role::Partner,
        Some(organization),
    );
    let sender = api::referrals::Referrals {
        state: &app.state,
        caller: &caseworker,
    };
    let receiver = api::referrals::Referrals {
        state: &app.state,
        caller: &partner,
    };
    for (n, answer) in [Some("accepted"), Some("rejected"), None].into_iter().enumerate() {
        let referral = sender
            .create(NewReferral {
                service_id: service.meta.id,
                family_ref: format!("SAG-{n}"),
                needs: Vec::new(),
                message: None,
                consent: Some(Consent {
                    given_at: Utc::now(),
                    scope: "henvisning og tilbagemelding".into(),
                }),
                preferred_language: None,
                contact_preference: None,
                priority: Priority::Routine,
            })
            .await
            .unwrap();
        if let Some(answer) = answer {
            receiver.open(referral.id).await.unwrap();
            let to = ReferralStatus::parse(answer).unwrap();
            let reason = (to == ReferralStatus::Rejected).then(|| "not-eligible".to_owned());
            receiver
                .transition(referral.id, None, to, reason, None, None)
                .await
                .unwrap();
        }
    }
    partner_email.to_owned()
}

async fn log_in(browser: &Browser, app: &App, email: &str, password: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.submit("#login-submit").await;
    assert!(browser.exists("#logout").await, "logged in");
}

/// axe (0 serious or critical violations) and both screenshots.
async fn look_at(browser: &Browser, name: &str) {
    browser.assert_accessible(name).await;
    browser.screenshots(name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_municipality_reads_outcomes_and_runs_the_network() {
    let app = spawn_app().await;
    person(&app, "kommune@aarhus.dk", Role::Admin, None).await;
    let partner_email = referrals(&app).await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    log_in(&browser, &app, "kommune@aarhus.dk", PASSWORD).await;
    assert!(
        browser.exists("a[href='/admin/outcomes']").await,
        "the admin's navigation"
    );

    // The dashboard: the numbers in the tables, the charts as server-drawn SVG.
    browser.goto(&app.url("/admin/outcomes?group_by=organization")).await;
    let cell = |col: &str| format!("#groups-table tr[data-key=total] td[data-col={col}]");
    assert_eq!(browser.text(&cell("count")).await, "3");
    assert_eq!(browser.text(&cell("accepted")).await, "1");
    assert_eq!(browser.text(&cell("rejected")).await, "1");
    assert_eq!(browser.text(&cell("acceptance")).await, "50 %");
    assert_eq!(browser.text("#status-table tr[data-key=requested] td").await, "1");
    assert_eq!(browser.text("#reasons-table tr[data-key=not-eligible] td").await, "1");
    assert_eq!(browser.find_all("svg.chart[role=img]").await.len(), 3);
    assert!(
        browser
            .page_source()
            .await
            .contains("<title id=\"chart-status-title\">")
    );
    look_at(&browser, "admin-outcomes").await;
    browser.select("#group_by", "month").await;
    browser.submit("#period-submit").await;
    let month = Utc::now().format("%Y-%m").to_string();
    assert_eq!(
        browser
            .text(&format!("#groups-table tr[data-key='{month}'] td[data-col=count]"))
            .await,
        "3"
    );

    // The directory's health: the demo directory's listings are counted, each with a way to fix it.
    browser.goto(&app.url("/admin/health")).await;
    assert!(browser.exists("#health-summary").await);
    assert!(browser.exists("#unmet").await);
    look_at(&browser, "admin-health").await;

    // The audit trail: the partner's reads and moves, by e-mail.
    browser.goto(&app.url("/admin/audit")).await;
    look_at(&browser, "admin-audit-form").await;
    browser.fill("#person", &partner_email).await;
    browser.submit("#audit-submit").await;
    let rows = browser.texts("#audit-table tbody tr").await;
    assert!(rows.len() >= 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.contains(&partner_email)), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("læste")), "{rows:?}");
    look_at(&browser, "admin-audit").await;

    // A new organization: a field error first, then created; then its first partner person is invited.
    browser.goto(&app.url("/admin/organizations")).await;
    look_at(&browser, "admin-organizations").await;
    browser.submit("#new-organization").await;
    look_at(&browser, "admin-organization-new").await;
    browser.fill("#name", "Mødrenetværket Hasle").await;
    browser.fill("#website", "moedrenetvaerket.dk").await;
    browser.submit("#organization-submit").await;
    assert!(browser.exists("#error-summary").await);
    assert!(browser.text("#website-error").await.contains("https://"));
    look_at(&browser, "admin-organization-error").await;
    browser.fill("#website", "https://moedrenetvaerket.dk").await;
    browser.select("#kind", "volunteer-group").await;
    browser.submit("#organization-submit").await;
    assert!(browser.exists("#organization-created").await);
    assert_eq!(browser.text("h1").await, "Mødrenetværket Hasle");
    assert!(browser.exists("#no-people").await);
    look_at(&browser, "admin-organization").await;
    browser.fill("#email", "fatima@moedrenetvaerket.dk").await;
    browser.submit("#invite-submit").await;
    let link = browser.attr("#invite-link", "value").await.unwrap();
    assert!(link.contains("/invite/"), "{link}");
    look_at(&browser, "admin-invited").await;
    browser.submit("#back-to-organization").await;
    assert!(browser.exists("#people-table tr[data-state=invited]").await);

    // An app's key: shown once, then revoked; the very next request with it is refused.
    browser.goto(&app.url("/admin/keys")).await;
    browser.select("#role", "reader").await;
    browser.fill("#label", "Kortapp").await;
    browser.submit("#key-submit").await;
    let secret = browser.attr("#key-secret", "value").await.unwrap();
    let key_id = browser.text("#key-id").await;
    look_at(&browser, "admin-key-created").await;
    let http = reqwest::Client::new();
    let status = |secret: String| {
        let http = http.clone();
        let url = app.url("/v1/services?per_page=1");
        async move {
            http.get(url)
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(secret.clone()).await, 200);
    browser.goto(&app.url("/admin/keys")).await;
    look_at(&browser, "admin-keys").await;
    browser
        .submit(&format!("#keys-table tr[data-key='{key_id}'] [data-testid=revoke]"))
        .await;
    assert!(browser.exists("#key-revoked").await);
    assert_eq!(status(secret).await, 401);

    // The invited person: chooses a password through the link, then logs in as the organization's partner.
    browser.submit("#logout").await;
    let path = link[link.find("/invite/").unwrap()..].to_owned();
    browser.goto(&app.url(&path)).await;
    look_at(&browser, "invite").await;
    browser.fill("#password", "vores forening hjælper mødre").await;
    browser.fill("#repeat", "vores forening hjælper mødre").await;
    browser.submit("#invite-submit").await;
    assert!(browser.exists("#invite-done").await);
    look_at(&browser, "invite-done").await;
    browser.submit("#invite-login").await;
    log_in(
        &browser,
        &app,
        "fatima@moedrenetvaerket.dk",
        "vores forening hjælper mødre",
    )
    .await;
    browser.goto(&app.url("/admin/outcomes")).await;
    assert!(
        browser.title().await.contains("administratorer"),
        "a partner gets the 403 page"
    );
    browser.close().await;
}

/// A programme from the form to its report page: the chart, the table, the CSV link (axe-checked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_municipality_defines_a_programme_and_reads_its_report() {
    let app = spawn_app().await;
    person(&app, "kommune@aarhus.dk", Role::Admin, None).await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    log_in(&browser, &app, "kommune@aarhus.dk", PASSWORD).await;
    browser.click("a[href='/admin/programmes']").await;
    assert_eq!(browser.path().await, "/admin/programmes");
    look_at(&browser, "admin-programmes").await;
    let today = chrono::Utc::now().date_naive();
    browser.fill("#name", "Opgang til Opgang").await;
    browser.fill("#area", "Gellerupparken").await;
    browser.fill("#starts_on", &today.format("%m%d%Y").to_string()).await;
    browser
        .fill(
            "#ends_on",
            &(today + chrono::Duration::days(4 * 365)).format("%m%d%Y").to_string(),
        )
        .await;
    browser.fill("#target-parent-employment", "75").await;
    browser.fill("#target-wellbeing", "80").await;
    browser.submit("#programme-submit").await;
    let path = browser.path().await;
    assert!(path.starts_with("/admin/programmes/"), "{path}");
    assert!(browser.exists("#programme-table").await);
    assert!(browser.exists("#programme-csv").await);

    // six families enrolled, five of the parents in work: 83 % against the 75 % target
    let programme_id: uuid::Uuid = path.trim_start_matches("/admin/programmes/").parse().unwrap();
    let caseworker = uuid::Uuid::new_v4();
    let who = entities::audit::Accessor {
        key_id: None,
        person_id: Some(caseworker),
        role: "caseworker".into(),
        organization_id: None,
    };
    for i in 0..6 {
        let plan = app
            .state
            .store
            .create_plan(
                entities::plans::NewPlan {
                    family_ref: format!("SAG-{i}"),
                    challenges: "Far vil gerne i arbejde".into(),
                    needs: vec!["employment".into()],
                    consent: Some(entities::referrals::Consent {
                        given_at: chrono::Utc::now(),
                        scope: "familieplan".into(),
                    }),
                    goals: vec![entities::plans::NewGoal {
                        kind: "parent-employment".into(),
                        other_text: None,
                        for_whom: "parent".into(),
                        baseline: 0.0,
                        target: 1.0,
                        target_date: today + chrono::Duration::days(365),
                    }],
                },
                caseworker,
                None,
                &app.state.referral_secret,
                &who,
            )
            .await
            .unwrap();
        if i < 5 {
            let follow_up = entities::plans::NewFollowUp {
                on_date: today,
                value: 1.0,
                note: None,
            };
            app.state
                .store
                .add_follow_up(plan.id, plan.goals[0].id, follow_up, caseworker, &who)
                .await
                .unwrap();
        }
        app.state.store.enrol_plan(plan.id, programme_id, &who).await.unwrap();
    }
    browser.goto(&app.url(&path)).await;
    let rows = browser.texts("#programme-table tbody tr").await;
    assert!(
        rows.iter()
            .any(|r| r.contains("Forælder i arbejde") && r.contains("83 %") && r.contains("75 %")),
        "{rows:?}"
    );
    assert!(browser.exists(".chart-box svg").await, "the chart is drawn");
    look_at(&browser, "admin-programme").await;
    browser.close().await;
}

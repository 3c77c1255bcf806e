//! A partner's day in a real browser, on the Aarhus demo data: the new referral in the inbox, opening it
//! (received), accepting it, a stale second tab, editing the offer's hours and capacity (searchable at
//! once; a full offer rejects referrals), "still correct?", and another organisation locked out.

use entities::directory::Role;
use entities::people::NewPerson;
use uuid::Uuid;

use crate::harness::{App, Browser, BrowserOptions, spawn_app};

const PASSWORD: &str = "en lang og god adgangskode";

async fn person(app: &App, email: &str, role: Role, organization: Option<Uuid>) {
    app.state
        .store
        .create_person(NewPerson {
            email: email.into(),
            role,
            organization_id: organization,
            name: None,
            team: None,
            password: Some(PASSWORD.into()),
        })
        .await
        .unwrap();
}

async fn log_in(browser: &Browser, app: &App, email: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.submit("#login-submit").await;
    assert!(browser.exists("#logout").await, "logged in");
}

async fn look_at(browser: &Browser, name: &str) {
    browser.assert_accessible(name).await;
    browser.screenshots(name).await;
}

/// The demo's homework café of the Red Cross in Brabrand, and its organisation.
async fn demo_service(app: &App) -> (Uuid, Uuid) {
    let page = entities::store::Page { page: 1, per_page: 100 };
    let organizations = app
        .state
        .store
        .list_organizations(&Default::default(), page)
        .await
        .unwrap()
        .1;
    let org = organizations
        .iter()
        .find(|o| o.data.name == "Røde Kors Aarhus")
        .expect("the demo directory has Røde Kors Aarhus")
        .meta
        .id;
    let filter = entities::store::ListFilter {
        organization_id: Some(org),
        status: None,
    };
    let services = app.state.store.list_services(&filter, page).await.unwrap().1;
    let service = services
        .into_iter()
        .find(|s| s.data.name == "Røde Kors Lektiehjælp")
        .expect("the demo directory has Røde Kors Lektiehjælp");
    (service.meta.id, org)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_answers_referrals_and_keeps_its_offer_current() {
    let app = spawn_app().await;
    let (service, org) = demo_service(&app).await;
    person(&app, "anna@aarhus.dk", Role::Caseworker, None).await;
    person(&app, "lise@redcross.dk", Role::Partner, Some(org)).await;
    let other_org = app
        .state
        .store
        .list_organizations(&Default::default(), entities::store::Page { page: 1, per_page: 100 })
        .await
        .unwrap()
        .1
        .into_iter()
        .find(|o| o.meta.id != org)
        .unwrap()
        .meta
        .id;
    person(&app, "bo@other.dk", Role::Partner, Some(other_org)).await;
    let Some(caseworker) = Browser::start(true).await else {
        return;
    };

    // A caseworker refers a family to the Red Cross homework café.
    log_in(&caseworker, &app, "anna@aarhus.dk").await;
    caseworker.goto(&app.url(&format!("/refer/{service}"))).await;
    caseworker.fill("#family_ref", "SAG-2026-0100").await;
    caseworker
        .fill("#message", "En dreng på 11 år har brug for hjælp med matematik.")
        .await;
    caseworker.check("#consent").await;
    caseworker.submit("#refer-submit").await;
    let referral = caseworker.path().await.split('?').next().unwrap().to_owned();

    // The partner sees it as new in the inbox, opens it (received) and accepts it.
    let partner = Browser::start_with(BrowserOptions::default())
        .await
        .expect("a second browser");
    log_in(&partner, &app, "lise@redcross.dk").await;
    assert!(partner.text("#new-count").await.contains('1'));
    partner.goto(&app.url("/referrals")).await;
    assert!(partner.exists(&format!("a[href='{referral}']")).await);
    look_at(&partner, "partner-inbox").await;
    partner.goto(&app.url(&referral)).await;
    assert_eq!(
        partner.attr("#referral-status", "data-status").await.as_deref(),
        Some("received")
    );
    look_at(&partner, "partner-referral").await;

    // A second tab of the same page, left open while the first accepts.
    let second_tab = Browser::start(true).await.expect("a third browser");
    log_in(&second_tab, &app, "lise@redcross.dk").await;
    second_tab.goto(&app.url(&referral)).await;
    partner.fill("#note-accepted", "Vi ringer til familien torsdag.").await;
    partner.submit("#do-accepted").await;
    assert_eq!(
        partner.attr("#referral-status", "data-status").await.as_deref(),
        Some("accepted")
    );
    second_tab.submit("#do-rejected").await;
    assert!(
        second_tab.exists("#changed-meanwhile").await,
        "a stale tab is told, not obeyed"
    );
    assert_eq!(
        second_tab.attr("#referral-status", "data-status").await.as_deref(),
        Some("accepted")
    );
    second_tab.close().await;

    // The caseworker's page shows the answer.
    caseworker.goto(&app.url(&referral)).await;
    assert_eq!(
        caseworker.attr("#referral-status", "data-status").await.as_deref(),
        Some("accepted")
    );
    assert!(
        caseworker
            .page_source()
            .await
            .contains("Vi ringer til familien torsdag.")
    );

    // The partner moves the café to Saturdays and marks it full.
    partner.goto(&app.url("/listings")).await;
    look_at(&partner, "partner-listings").await;
    partner.goto(&app.url(&format!("/listings/services/{service}"))).await;
    look_at(&partner, "partner-service-form").await;
    for day in ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] {
        for row in 0..4 {
            let id = format!("#schedule-{row}-{day}");
            if partner.exists(&id).await {
                partner.uncheck(&id).await;
            }
        }
    }
    for row in 0..4 {
        for field in ["opens", "closes"] {
            let id = format!("#schedule-{row}-{field}");
            if partner.exists(&id).await {
                partner.fill(&id, "").await;
            }
        }
    }
    partner.check("#schedule-0-SA").await;
    partner.fill("#schedule-0-opens", "10:00").await;
    partner.fill("#schedule-0-closes", "12:00").await;
    partner.select("#capacity", "full").await;
    partner.submit("#save-service").await;
    assert_eq!(partner.path().await.split('?').next().unwrap(), "/listings");

    // The public search shows the change at once; a referral to the now-full offer is rejected.
    let anonymous = Browser::start(true).await.expect("a browser");
    anonymous.goto(&app.url(&format!("/offers/{service}"))).await;
    let text = anonymous.page_source().await;
    assert!(text.contains("lørdag 10–12"), "the new hours");
    assert!(text.contains("Fuldt booket"), "says it is full");
    anonymous.close().await;
    caseworker.goto(&app.url(&format!("/refer/{service}"))).await;
    caseworker.fill("#family_ref", "SAG-2026-0101").await;
    caseworker.check("#consent").await;
    caseworker.submit("#refer-submit").await;
    assert_eq!(
        caseworker.attr("#referral-status", "data-status").await.as_deref(),
        Some("rejected")
    );
    assert!(caseworker.page_source().await.contains("ingen plads"));

    // The organisation's and a place's forms, and its people (the first partner person is their admin).
    partner.goto(&app.url("/listings/organization")).await;
    look_at(&partner, "partner-organization-form").await;
    partner.goto(&app.url("/listings/locations/new")).await;
    look_at(&partner, "partner-location-form").await;
    partner.goto(&app.url("/people")).await;
    assert!(partner.exists("#invite-submit").await);
    look_at(&partner, "partner-people").await;

    // "Still correct?" confirms another offer today.
    partner.goto(&app.url("/listings")).await;
    partner
        .submit("#services-table tbody tr[data-stale] .confirm-button")
        .await;
    assert!(partner.exists("#confirmed").await);

    // Another organisation's partner: 404 for the referral, 403 for the service.
    let other = Browser::start(true).await.expect("a browser");
    log_in(&other, &app, "bo@other.dk").await;
    other.goto(&app.url(&referral)).await;
    assert!(other.title().await.contains("findes ikke"));
    other.goto(&app.url(&format!("/listings/services/{service}"))).await;
    assert!(other.title().await.contains("adgang"));
    other.close().await;
    partner.close().await;
    caseworker.close().await;
}

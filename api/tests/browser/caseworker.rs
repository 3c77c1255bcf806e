//! The caseworker's day in a real browser, on the Aarhus demo data: log in, search from the family's words,
//! collect offers on the family's list, print it, refer with consent, follow the referral, log out — with
//! JavaScript on (axe-checked, screenshots of every page) and the same flow with JavaScript off.

use entities::directory::Role;
use entities::people::NewPerson;
use entities::tables::referral;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::harness::{App, Browser, spawn_app};

const PASSWORD: &str = "en lang og god adgangskode";

async fn caseworker(app: &App, email: &str, team: &str) {
    app.state
        .store
        .create_person(NewPerson {
            email: email.into(),
            role: Role::Caseworker,
            organization_id: None,
            name: Some("Anna Jensen".into()),
            team: Some(team.into()),
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
    assert_eq!(browser.path().await, "/");
    assert!(browser.exists("#logout").await, "logged in");
}

async fn stored_referrals(app: &App) -> u64 {
    referral::Entity::find()
        .count(app.state.store.connection())
        .await
        .unwrap()
}

/// Takes both screenshots of the page and checks it with axe (0 serious or critical violations).
async fn look_at(browser: &Browser, name: &str) {
    browser.assert_accessible(name).await;
    browser.screenshots(name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caseworker_from_the_familys_words_to_a_referral() {
    let app = spawn_app().await;
    caseworker(&app, "anna@aarhus.dk", "Gellerup").await;
    caseworker(&app, "cy@aarhus.dk", "Viby").await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };

    // Anyone may search; the first screen is the public search with a way to log in.
    browser.goto(&app.url("/")).await;
    assert!(browser.exists("#login-link").await);
    look_at(&browser, "search").await;
    browser.goto(&app.url("/login")).await;
    look_at(&browser, "login").await;
    log_in(&browser, &app, "anna@aarhus.dk").await;

    // "lektiehjælp" near Gellerup for a child of 10 in an Arabic-speaking family.
    browser.fill("#q", "lektiehjælp").await;
    browser.fill("#near", "Gellerup").await;
    browser.fill("#ages", "10").await;
    browser.select("#language", "ar").await;
    browser.submit("#search-submit").await;
    let names = browser.texts(".offer .card-heading").await;
    assert!(names.len() >= 3, "results in the page: {names:?}");
    assert!(names.iter().any(|n| n.to_lowercase().contains("lektie")), "{names:?}");
    let whys = browser.texts(".offer .why").await;
    assert!(
        whys.iter().all(|w| w.contains(" fra jer")),
        "distance in words: {whys:?}"
    );
    look_at(&browser, "results").await;

    // Two offers onto the family's list (htmx swaps the button; the page stays where it is).
    browser.click("[data-testid=list-add]").await;
    browser.wait_for("[data-testid=list-remove]").await;
    browser.click("[data-testid=list-add]").await;
    for _ in 0..50 {
        if browser.find_all("[data-testid=list-remove]").await.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(browser.find_all("[data-testid=list-remove]").await.len(), 2);

    // The family's own words become need chips: Danish lessons and debt.
    browser.goto(&app.url("/")).await;
    browser
        .fill("#q", "hun vil gerne lære dansk og har brug for hjælp til regninger")
        .await;
    browser.fill("#near", "Gellerup").await;
    browser.submit("#search-submit").await;
    assert!(browser.find_all(".chip").await.len() >= 2, "chips shown");
    let source = browser.page_source().await;
    assert!(
        source.contains("data-need=\"language-danish\""),
        "a chip for Danish lessons"
    );
    assert!(source.contains("data-need=\"debt-economy\""), "a chip for debt");
    assert!(browser.find_all(".group-heading").await.len() >= 2, "grouped per need");
    look_at(&browser, "results-needs").await;

    // The list, and its print view for an Arabic-speaking family.
    browser.goto(&app.url("/list")).await;
    assert_eq!(browser.find_all(".family-list > li").await.len(), 2);
    look_at(&browser, "list").await;
    browser.select("#family_lang", "ar").await;
    browser.submit(".family-lang-form button[type=submit]").await;
    browser.submit("#print-link").await;
    assert!(browser.path().await.starts_with("/list/print"));
    assert_eq!(browser.attr("html", "dir").await.as_deref(), Some("rtl"));
    assert_eq!(browser.attr("html", "lang").await.as_deref(), Some("ar"));
    assert_eq!(browser.find_all(".print-item").await.len(), 2);
    look_at(&browser, "print").await;

    // Refer from the list's first offer: a CPR number is a field error and stores nothing.
    browser.goto(&app.url("/list")).await;
    let offer = browser.attr(".family-list > li h2 a", "href").await.unwrap();
    let service_id = offer.trim_start_matches("/offers/").to_owned();
    browser.goto(&app.url(&format!("/refer/{service_id}"))).await;
    look_at(&browser, "refer").await;
    browser.fill("#family_ref", "010190-1234").await;
    browser
        .fill("#message", "To børn på 9 og 12 år har brug for lektiehjælp.")
        .await;
    browser.check("#consent").await;
    browser.submit("#refer-submit").await;
    assert!(browser.exists("#error-summary").await);
    assert!(browser.text("#family_ref-error").await.contains("CPR"));
    assert_eq!(stored_referrals(&app).await, 0, "nothing stored");
    assert!(
        browser
            .page_source()
            .await
            .contains("To børn på 9 og 12 år har brug for lektiehjælp.</textarea>"),
        "nothing typed is lost"
    );
    look_at(&browser, "refer-error").await;
    browser.fill("#family_ref", "SAG-2026-0042").await;
    if browser.attr("#consent", "checked").await.is_none() {
        browser.check("#consent").await;
    }
    browser.submit("#refer-submit").await;
    assert!(browser.exists("#referral-created").await);
    assert_eq!(
        browser.attr("#referral-status", "data-status").await.as_deref(),
        Some("requested")
    );
    let referral_path = browser.path().await;
    let referral_path = referral_path.split('?').next().unwrap().to_owned();
    look_at(&browser, "referral").await;

    // My referrals shows it as sent.
    browser.goto(&app.url("/referrals")).await;
    assert_eq!(
        browser
            .attr("#referrals-table tbody tr", "data-status")
            .await
            .as_deref(),
        Some("requested")
    );
    look_at(&browser, "referrals").await;

    // Log out; a caseworker of another team cannot open the referral.
    browser.submit("#logout").await;
    assert!(browser.exists("#login-link").await);
    log_in(&browser, &app, "cy@aarhus.dk").await;
    browser.goto(&app.url(&referral_path)).await;
    assert!(browser.title().await.contains("findes ikke"), "a 404 page");
    assert!(!browser.page_source().await.contains("To børn på 9"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_works_without_javascript() {
    let app = spawn_app().await;
    caseworker(&app, "anna@aarhus.dk", "Gellerup").await;
    let Some(browser) = Browser::start(false).await else {
        return;
    };
    log_in(&browser, &app, "anna@aarhus.dk").await;
    browser.fill("#q", "lektiehjælp").await;
    browser.fill("#near", "8220").await;
    browser.submit("#search-submit").await;
    assert!(!browser.find_all(".offer").await.is_empty());
    // Plain form posts: the list button reloads the page, which then offers removal.
    browser.submit("[data-testid=list-add]").await;
    assert!(browser.exists("[data-testid=list-remove]").await);
    browser.goto(&app.url("/list")).await;
    assert_eq!(browser.find_all(".family-list > li").await.len(), 1);
    browser.submit("#print-link").await;
    assert!(browser.exists(".print-item").await);

    browser.goto(&app.url("/list")).await;
    let offer = browser.attr(".family-list > li h2 a", "href").await.unwrap();
    browser.goto(&app.url(&offer.replace("/offers/", "/refer/"))).await;
    browser.fill("#family_ref", "SAG-2026-0043").await;
    browser.check("#consent").await;
    browser.submit("#refer-submit").await;
    assert_eq!(
        browser.attr("#referral-status", "data-status").await.as_deref(),
        Some("requested")
    );
    browser.goto(&app.url("/referrals")).await;
    assert_eq!(browser.find_all("#referrals-table tbody tr").await.len(), 1);
    browser.submit("#logout").await;
    assert!(browser.exists("#login-link").await);
    assert_eq!(stored_referrals(&app).await, 1);
    browser.close().await;
}

/// A family plan in a real browser: from the family's words and a first goal to a quarterly follow-up and the
/// goal's line, axe-checked with screenshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caseworker_makes_a_family_plan_and_follows_it_up() {
    let app = spawn_app().await;
    caseworker(&app, "bo@aarhus.dk", "Gellerup").await;
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    log_in(&browser, &app, "bo@aarhus.dk").await;
    browser.click("a[href='/plans']").await;
    assert_eq!(browser.path().await, "/plans");
    assert!(browser.exists("#nothing-due").await);
    look_at(&browser, "plans").await;

    browser.click("#new-plan").await;
    assert_eq!(browser.path().await, "/plans/new");
    look_at(&browser, "plan-new").await;
    // forgotten consent: the error summary names it, nothing is made
    browser.fill("#family_ref", "SAG-2026-0044").await;
    browser
        .fill(
            "#challenges",
            "Far vil gerne i arbejde, og sønnen keder sig efter skole",
        )
        .await;
    browser.select("#kind", "parent-employment").await;
    browser.select("#for_whom", "parent").await;
    browser.fill("#baseline", "0").await;
    browser.fill("#target", "1").await;
    browser.submit("#plan-submit").await;
    assert!(browser.exists("#error-summary").await);
    look_at(&browser, "plan-new-error").await;
    browser.check("#consent").await;
    browser.submit("#plan-submit").await;
    let plan_path = browser.path().await;
    assert!(plan_path.starts_with("/plans/"), "{plan_path}");
    assert!(
        browser
            .text("#challenges-text")
            .await
            .contains("Far vil gerne i arbejde")
    );

    // a second goal, then the first follow-up of the first: yes, he works
    browser.select("#kind", "child-leisure").await;
    browser.select("#for_whom", "child").await;
    browser.fill("#baseline", "0").await;
    browser.fill("#target", "1").await;
    browser.submit("#goal-submit").await;
    assert_eq!(browser.find_all("section[id^=goal-]").await.len(), 2);
    browser.fill("section[id^=goal-] input[name=value]", "1").await;
    browser
        .fill("section[id^=goal-] input[name=note]", "fast job fra januar")
        .await;
    browser.submit("section[id^=goal-] .follow-up-form button").await;
    assert!(browser.exists(".goal-met").await, "the employment goal is met");
    assert!(browser.page_source().await.contains("fast job fra januar"));
    look_at(&browser, "plan").await;
    browser.close().await;
}

//! Browser tests: the real app with the demo data, in headless Chromium through chromedriver. They skip
//! with a notice where chromedriver is missing, and fail there when `BROBYGGER_BROWSER_TESTS=required` (CI).
//! Screenshots land in `target/screenshots/` (or `$BROBYGGER_SCREENSHOTS`). See `harness.rs`.

mod admin;
mod caseworker;
mod harness;
mod partner;

use std::time::Instant;

use harness::{App, Browser, spawn_app};

/// A page whose script changes the DOM, and whose <noscript> only shows without JavaScript.
const SCRIPT_PAGE: &str = "data:text/html;charset=utf-8,<!doctype html><html lang=en><title>script check</title>\
    <p id=out>static</p><noscript><p id=noscript>no JavaScript</p></noscript>\
    <script>document.getElementById('out').textContent = 'scripted'</script></html>";

/// The harness itself: the app serves the demo data, both kinds of browser start, forms, screenshots and
/// axe work, and a browser with JavaScript off really runs no page script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_works() {
    let started = Instant::now();
    let app = spawn_app().await;
    assert!(
        app.state.store.count_services().await.unwrap() > 0,
        "the demo directory is loaded"
    );
    eprintln!("app with demo data: {:.1} s", started.elapsed().as_secs_f64());
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    eprintln!("browser started: {:.1} s", started.elapsed().as_secs_f64());

    // Swagger UI is rendered by its script, from the spec embedded in the page.
    browser.goto(&app.url("/docs")).await;
    assert_eq!(browser.title().await, "Swagger UI");
    browser.wait_for("#ui .swagger-ui .info .title").await;
    let title = browser.text("#ui .info .title").await;
    assert!(title.contains("Brobygger"), "{title}");
    assert!(browser.path().await.starts_with("/docs"));
    for file in browser.screenshots("docs").await {
        let png = std::fs::read(&file).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is a PNG", file.display());
    }
    // Swagger UI is not ours: count its violations, assert nothing about them.
    let violations = browser.axe("docs").await;
    let ids: Vec<String> = violations
        .iter()
        .map(|v| {
            format!(
                "{} ({}, {} node(s))",
                v.id,
                v.impact.as_deref().unwrap_or("?"),
                v.nodes.len()
            )
        })
        .collect();
    eprintln!(
        "axe on /docs (Swagger UI, not ours): {} violation(s): {}",
        violations.len(),
        ids.join(", ")
    );
    assert!(
        violations
            .iter()
            .all(|v| !v.id.is_empty() && !v.help.is_empty() && !v.nodes.is_empty())
    );

    let language = browser
        .client()
        .execute("return navigator.language", vec![])
        .await
        .unwrap();
    assert_eq!(language, "da", "the browser's language is fixed");
    browser.goto(SCRIPT_PAGE).await;
    assert_eq!(browser.text("#out").await, "scripted");
    assert!(
        !browser.exists("#noscript").await,
        "<noscript> is not rendered with JavaScript on"
    );
    submits_a_form(&browser, &app).await;
    browser.close().await;
    eprintln!("JavaScript on done: {:.1} s", started.elapsed().as_secs_f64());

    // JavaScript off: the page's script does not run, its <noscript> shows, Swagger UI stays empty.
    let browser = Browser::start(false).await.expect("a browser started before");
    browser.goto(SCRIPT_PAGE).await;
    assert_eq!(browser.text("#out").await, "static", "the page's script did not run");
    assert_eq!(browser.text("#noscript").await, "no JavaScript");
    browser.goto(&app.url("/docs")).await;
    assert_eq!(browser.title().await, "Swagger UI");
    assert!(browser.exists("#ui").await);
    assert!(!browser.exists("#ui *").await, "Swagger UI's script did not render");
    browser.assert_accessible("docs without JavaScript").await; // a no-op without JavaScript
    submits_a_form(&browser, &app).await;
    browser.close().await;

    eprintln!("harness_works took {:.1} s", started.elapsed().as_secs_f64());
}

/// fill, select, check, uncheck and submit on a plain GET form whose action is the app: the fields arrive
/// in the next page's URL.
async fn submits_a_form(browser: &Browser, app: &App) {
    let form = format!(
        "data:text/html;charset=utf-8,<!doctype html><html lang=en><title>form</title>\
         <form action='{}/health' method=get>\
         <label>Need <input name=q id=q value=old></label>\
         <label>Kind <select name=kind id=kind><option value=a>A</option><option value=b>B</option></select></label>\
         <label><input type=checkbox name=ok id=ok> ok</label>\
         <label><input type=checkbox name=no id=no checked> no</label>\
         <ul><li class=item>one</li><li class=item>two</li></ul>\
         <button id=go>Go</button></form></html>",
        app.base
    );
    browser.goto(&form).await;
    assert_eq!(browser.texts(".item").await, ["one", "two"]);
    assert_eq!(browser.attr("#q", "name").await.as_deref(), Some("q"));
    browser.fill("#q", "lektier og æbler").await;
    browser.select("#kind", "b").await;
    browser.check("#ok").await;
    browser.check("#ok").await; // already ticked: stays ticked
    browser.uncheck("#no").await;
    browser.submit("#go").await;
    assert_eq!(browser.path().await, "/health?q=lektier+og+%C3%A6bler&kind=b&ok=on");
    assert!(browser.page_source().await.contains("ok"), "the next page is /health's");
}

//! Browser test harness: the real application with the Aarhus demo data on a random loopback port, and
//! headless Chromium driven through a chromedriver child process (WebDriver over plain http, via
//! `fantoccini`), with helpers for forms, screenshots and axe-core accessibility checks.
//!
//! A test looks like this:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn search_page() {
//!     let app = spawn_app().await; // first: it takes this test's turn, see `TURN`
//!     let Some(browser) = Browser::start(true).await else { return }; // None: no Chromium, skip
//!     browser.goto(&app.url("/")).await;
//!     browser.fill("#q", "lektiecafé").await;
//!     browser.submit("button[type=submit]").await; // click, then wait for the next page
//!     assert!(browser.texts(".result h2").await.len() > 0);
//!     browser.screenshots("search").await;
//!     browser.assert_accessible("search").await;
//! }
//! ```
//!
//! Every helper panics with the selector and the page's URL when something is missing: these are tests.
//! Selectors are CSS. Elements are looked up at once (no implicit wait): the pages are rendered on the
//! server, so a page is complete when `goto` or `submit` returns; use `wait_for` for anything that appears
//! later (htmx swaps).

// A toolbox: each test uses some of the helpers, none uses them all.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::{AppState, Config};
use base64::Engine;
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::{Value, json};

/// axe-core, vendored next to this file (see `AXE-LICENSE.txt`); injected into pages by [`Browser::axe`].
const AXE_JS: &str = include_str!("axe.min.js");

/// How long `submit` and `wait_for` wait before failing.
const WAIT: Duration = Duration::from_secs(10);

/// One browser test at a time. cargo runs the tests of a binary on parallel threads, but this machine (and
/// CI's) has 2 cores: two tests each with a Chromium (browser, renderer and network processes), a
/// chromedriver and an app importing the demo directory would starve each other, and waits would turn into
/// flaky timeouts. `spawn_app` takes this lock and the returned [`App`] holds it until the test ends, so
/// tests queue up whatever `--test-threads` says; a tokio mutex does not get poisoned when a test panics.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------------------
// The application.

/// The real application, with the demo data, served on `127.0.0.1:<random port>` from a fresh SQLite file.
/// Dropping it stops the server and ends the test's turn.
pub struct App {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
    /// The server's state: make people, keys or data through `state.store` (e.g. `create_person`).
    pub state: Arc<AppState>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _data_dir: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl App {
    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Starts the app (`api::open` + `api::serve`) with `seed: true`, so the Aarhus demo directory is loaded.
/// Waits for this test's turn first (see [`TURN`]): call it once per test, before [`Browser::start`].
pub async fn spawn_app() -> App {
    let turn = TURN.lock().await;
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        database_url: api::default_database_url(data_dir.path()),
        data_dir: data_dir.path().to_owned(),
        seed: true,
        secret: None,
        http: Default::default(),
        webhooks: Default::default(),
        mail: Default::default(),
    };
    let state = api::open(&config).await.expect("opening the app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    tokio::spawn(async move {
        api::serve(listener, server_state, async {
            let _ = rx.await;
        })
        .await
        .expect("server");
    });
    App {
        base: format!("http://127.0.0.1:{port}"),
        state,
        _shutdown: tx,
        _data_dir: data_dir,
        _turn: turn,
    }
}

// ---------------------------------------------------------------------------------------------------------
// The browser.

/// How to start a browser; [`Browser::start`] takes the defaults but for `js_enabled`.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// false: pages' JavaScript is off (Chrome's content setting), as for a visitor without JavaScript.
    pub js_enabled: bool,
    /// The window (in headless Chromium: the viewport) in CSS pixels.
    pub width: u32,
    pub height: u32,
    /// The browser's language, sent as `Accept-Language`: fixed so pages do not follow the machine's locale.
    pub lang: String,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            js_enabled: true,
            width: 1280,
            height: 900,
            lang: "da".into(),
        }
    }
}

/// An accessibility violation found by axe-core.
#[derive(Clone, Debug, Deserialize)]
pub struct Violation {
    /// The axe rule, e.g. `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: Option<String>,
    pub description: String,
    pub help: String,
    pub help_url: String,
    pub nodes: Vec<ViolationNode>,
}

/// One element that breaks an axe rule.
#[derive(Clone, Debug, Deserialize)]
pub struct ViolationNode {
    /// A CSS selector for the element (frames and shadow roots joined by ` >>> `).
    pub target: String,
    /// The element's opening HTML, as axe shows it.
    pub html: String,
    pub failure_summary: Option<String>,
}

impl Violation {
    /// `serious` or `critical`: what [`Browser::assert_accessible`] fails on.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("?");
        writeln!(f, "[{impact}] {}: {} ({})", self.id, self.help, self.help_url)?;
        for node in &self.nodes {
            writeln!(f, "    at {}: {}", node.target, node.html)?;
        }
        Ok(())
    }
}

/// A headless Chromium session on its own chromedriver. Dropping it ends the session and kills chromedriver
/// (and anything left of Chromium), also when the test panics.
///
/// With JavaScript off (`Browser::start(false)`: Chrome's content setting, as a policy would set it) no
/// script of a page runs, and `<noscript>` content is shown. Everything WebDriver does itself still works:
/// `goto`, finding, reading text, typing, selecting, clicking, form submits, screenshots. So does
/// `client().execute(...)` of a synchronous script (it may even change the DOM, so do not use it to fake a
/// visitor), and promises resolve; but the page's timers (`setTimeout`) never fire, so `execute_async`
/// scripts that wait on one, axe among them, time out.
pub struct Browser {
    // Field order is drop order: the client, then the driver (which ends the session and kills the
    // processes), then the profile folder once nothing writes to it.
    client: Client,
    driver: Driver,
    _profile: tempfile::TempDir,
    js_enabled: bool,
}

impl Browser {
    /// A browser with a 1280×900 window and Danish as its language; `js_enabled: false` turns pages'
    /// JavaScript off. None when chromedriver (or Chromium) is missing and the browser tests are not
    /// required (`BROBYGGER_BROWSER_TESTS=required` makes that a panic).
    pub async fn start(js_enabled: bool) -> Option<Browser> {
        Browser::start_with(BrowserOptions {
            js_enabled,
            ..BrowserOptions::default()
        })
        .await
    }

    pub async fn start_with(options: BrowserOptions) -> Option<Browser> {
        assert!(
            TURN.try_lock().is_err(),
            "call harness::spawn_app() before Browser::start: the app holds the test's turn, so browser tests run one at a time"
        );
        let (chromedriver, chromium) = find_binaries()?;
        let profile = tempfile::Builder::new()
            .prefix("brobygger-chromium-")
            .tempdir()
            .expect("temp dir for the Chromium profile");
        let mut driver = Driver::start(&chromedriver, profile.path()).await;

        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--hide-scrollbars".into(),
            // chromedriver talks to Chromium over a pipe rather than a DevTools port on loopback.
            "--remote-debugging-pipe".into(),
            format!("--user-data-dir={}", profile.path().join("profile").display()),
            format!("--window-size={},{}", options.width, options.height),
            format!("--lang={}", options.lang),
        ];
        let mut prefs = json!({ "intl.accept_languages": options.lang });
        if !options.js_enabled {
            // The content setting a policy would set: no script of any page runs (nor <noscript> hides).
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "script": 60_000, "pageLoad": 30_000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": args,
                "prefs": prefs,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}/", driver.port))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium ({}): {e}\n{}",
                    chromium.display(),
                    driver.log_tail()
                )
            });
        driver.session = client.session_id().await.ok().flatten();
        Some(Browser {
            client,
            driver,
            _profile: profile,
            js_enabled: options.js_enabled,
        })
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn js_enabled(&self) -> bool {
        self.js_enabled
    }

    /// Ends the session now (Drop does it too).
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.driver.session = None;
        }
    }

    // --- navigation and reading

    /// Loads `url` (absolute: use `App::url`) and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client.current_url().await.expect("current url").to_string()
    }

    /// The current URL's path and query, e.g. `/referrals?status=sent`.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn title(&self) -> String {
        self.client.title().await.expect("title")
    }

    /// The current DOM serialized (not the bytes the server sent).
    pub async fn page_source(&self) -> String {
        self.client.source().await.expect("page source")
    }

    /// The first element matching `css`; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {css:?} on {}: {e}", self.current_url().await),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding {css:?}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.find_all(css).await.is_empty()
    }

    /// The rendered text of the first element matching `css` (as a person sees it: hidden text is left out,
    /// whitespace collapsed).
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// The rendered text of every element matching `css`, in document order.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut texts = Vec::new();
        for element in self.find_all(css).await {
            texts.push(element.text().await.expect("element text"));
        }
        texts
    }

    /// The attribute `name` of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.expect("attribute")
    }

    /// Waits up to 10 s for an element matching `css` to appear (htmx swaps, anything after load).
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no element {css:?} within {WAIT:?} on {}: {e}",
                self.current_url().await
            ),
        }
    }

    // --- forms

    /// Clears the field and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap_or_else(|e| panic!("clearing {css:?}: {e}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css:?}: {e}"));
    }

    /// Chooses the `<option value="...">` of the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("selecting {value:?} in {css:?}: {e}"));
    }

    /// Ticks the checkbox or radio button matching `css` (clicks it only when it is not ticked yet).
    pub async fn check(&self, css: &str) {
        let input = self.find(css).await;
        if !input.is_selected().await.expect("is selected") {
            input.click().await.unwrap_or_else(|e| panic!("checking {css:?}: {e}"));
        }
    }

    /// Unticks the checkbox matching `css` when it is ticked.
    pub async fn uncheck(&self, css: &str) {
        let input = self.find(css).await;
        if input.is_selected().await.expect("is selected") {
            input
                .click()
                .await
                .unwrap_or_else(|e| panic!("unchecking {css:?}: {e}"));
        }
    }

    /// Clicks the element matching `css`. For a click that loads another page use [`Browser::submit`].
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css:?}: {e}"));
    }

    /// Clicks the element matching `css` (a submit button, a link) and waits until the next page has
    /// replaced this one: until this page's `<html>` element is gone, which also holds when the form posts
    /// and redirects back to the same URL. Panics when no new page came within 10 s.
    pub async fn submit(&self, css: &str) {
        let old_page = self.find("html").await;
        self.click(css).await;
        let deadline = Instant::now() + WAIT;
        loop {
            match old_page.tag_name().await {
                Err(e) if e.is_stale_element_reference() => break,
                // chromedriver may say the same mid-navigation as an "unknown error" about the old node.
                Err(e) if e.to_string().contains("does not belong to the document") => break,
                Err(e) => panic!("waiting for the page after clicking {css:?}: {e}"),
                Ok(_) if Instant::now() > deadline => panic!(
                    "clicking {css:?} on {} did not load another page within {WAIT:?}",
                    self.current_url().await
                ),
                Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        // chromedriver waits for the pending navigation before the next command; make it one now.
        self.client.title().await.expect("the next page");
    }

    // --- screenshots

    /// Resizes the window (in headless Chromium: the viewport) to `width`×`height` CSS pixels.
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("resizing the window to {width}x{height}: {e}"));
    }

    /// Saves the whole page (beyond the window, through Chrome DevTools) as `<folder>/<name>.png`, the
    /// folder being `$BROBYGGER_SCREENSHOTS` or `<workspace>/target/screenshots`. Returns the file.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = match self.full_page_png().await {
            Ok(png) => png,
            Err(e) => {
                eprintln!("notice: no full-page screenshot ({e}); saving the window only");
                self.client.screenshot().await.expect("screenshot")
            }
        };
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let file = dir.join(format!("{}.png", file_name(name)));
        std::fs::write(&file, png).unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
        eprintln!("screenshot: {}", file.display());
        file
    }

    /// Two screenshots, `<name>-mobile.png` at 390×844 and `<name>-desktop.png` at 1280×900, each of the
    /// whole page; the window gets its size back afterwards.
    pub async fn screenshots(&self, name: &str) -> Vec<PathBuf> {
        let (width, height) = self.client.get_window_size().await.expect("window size");
        let mut files = Vec::new();
        for (suffix, w, h) in [("mobile", 390, 844), ("desktop", 1280, 900)] {
            self.set_window_size(w, h).await;
            files.push(self.screenshot(&format!("{name}-{suffix}")).await);
        }
        self.set_window_size(width as u32, height as u32).await;
        files
    }

    async fn full_page_png(&self) -> Result<Vec<u8>, CmdError> {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await?;
        let size = &metrics["cssContentSize"];
        let viewport = &metrics["cssLayoutViewport"];
        let width = size["width"]
            .as_f64()
            .unwrap_or(0.0)
            .max(viewport["clientWidth"].as_f64().unwrap_or(0.0));
        // A runaway page should not make a gigapixel file.
        let height = size["height"].as_f64().unwrap_or(0.0).clamp(1.0, 16_384.0);
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width.ceil(), "height": height.ceil(), "scale": 1 },
                }),
            )
            .await?;
        let data = shot["data"].as_str().ok_or_else(|| CmdError::NotW3C(shot.clone()))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(CmdError::ImageDecodeError)
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value, CmdError> {
        self.client
            .issue_cmd(CdpCommand {
                cmd: cmd.to_owned(),
                params,
            })
            .await
    }

    // --- accessibility

    /// Runs axe-core on the current page and returns its violations (every impact). Needs the page's
    /// JavaScript: in a browser started with `js_enabled: false` it panics (use `assert_accessible`, which
    /// skips there), because `axe.run` waits on `setTimeout`, whose callbacks never fire there, so it would
    /// hang until the script timeout. `page` names the page in messages.
    pub async fn axe(&self, page: &str) -> Vec<Violation> {
        assert!(
            self.js_enabled,
            "axe({page}): axe-core needs JavaScript; this browser has it off"
        );
        let loaded = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .unwrap_or_else(|e| panic!("axe({page}): {e}"));
        if loaded != Value::Bool(true) {
            self.client
                .execute(AXE_JS, vec![])
                .await
                .unwrap_or_else(|e| panic!("axe({page}): injecting axe.min.js: {e}"));
        }
        let result = self
            .client
            .execute_async(AXE_RUN, vec![])
            .await
            .unwrap_or_else(|e| panic!("axe({page}): running axe: {e}"));
        if let Some(error) = result.get("error") {
            panic!("axe({page}): {error}");
        }
        serde_json::from_value(result["violations"].clone())
            .unwrap_or_else(|e| panic!("axe({page}): unexpected result {result}: {e}"))
    }

    /// Fails listing every `serious` or `critical` axe violation of the current page; prints the minor and
    /// moderate ones as a notice. In a browser with JavaScript off it does nothing: axe cannot run there
    /// (see [`Browser::axe`]). A server-rendered page has the same DOM either way (but for `<noscript>`), so
    /// check each page in a JS-enabled browser.
    pub async fn assert_accessible(&self, page: &str) {
        if !self.js_enabled {
            return;
        }
        let violations = self.axe(page).await;
        let (serious, minor): (Vec<_>, Vec<_>) = violations.into_iter().partition(Violation::is_serious);
        if !minor.is_empty() {
            let list: String = minor.iter().map(ToString::to_string).collect();
            eprintln!(
                "notice: {page}: {} minor/moderate accessibility issue(s):\n{list}",
                minor.len()
            );
        }
        if !serious.is_empty() {
            let list: String = serious.iter().map(ToString::to_string).collect();
            panic!(
                "{page} ({}): {} serious/critical accessibility violation(s):\n{list}",
                self.current_url().await,
                serious.len()
            );
        }
    }
}

/// Runs axe (injected before) and hands back the violations in the shape of [`Violation`].
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
const target = t => Array.isArray(t) ? t.join(' >>> ') : String(t);
window.axe.run(document, { resultTypes: ['violations'] }).then(r => done({
  violations: r.violations.map(v => ({
    id: v.id, impact: v.impact || null, description: v.description, help: v.help, help_url: v.helpUrl,
    nodes: v.nodes.map(n => ({ target: n.target.map(target).join(' '), html: n.html,
                               failure_summary: n.failureSummary || null })),
  })),
})).catch(e => done({ error: String((e && e.stack) || e) }));
"#;

/// chromedriver's extension command that runs one Chrome DevTools Protocol method.
#[derive(Debug)]
struct CdpCommand {
    cmd: String,
    params: Value,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

fn screenshot_dir() -> PathBuf {
    match std::env::var_os("BROBYGGER_SCREENSHOTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace")
            .join("target")
            .join("screenshots"),
    }
}

fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// chromedriver.

/// chromedriver (`$CHROMEDRIVER` or on PATH) and Chromium (`$CHROME_BIN` or /usr/bin/chromium); None, with
/// a notice, when one is missing, unless `BROBYGGER_BROWSER_TESTS=required`, which panics instead.
fn find_binaries() -> Option<(PathBuf, PathBuf)> {
    let chromedriver = match std::env::var_os("CHROMEDRIVER") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        _ => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("chromedriver"))
                .find(|p| p.is_file())
        }),
    };
    let chromium = match std::env::var_os("CHROME_BIN") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("/usr/bin/chromium"),
    };
    let missing = match &chromedriver {
        None => Some("chromedriver not found".to_owned()),
        Some(_) if !chromium.is_file() => Some(format!("Chromium not found at {}", chromium.display())),
        Some(_) => None,
    };
    if let Some(missing) = missing {
        let required = std::env::var("BROBYGGER_BROWSER_TESTS").is_ok_and(|v| v == "required");
        if required {
            panic!(
                "{missing}, and BROBYGGER_BROWSER_TESTS=required: install Debian's chromium and chromium-driver \
                 (or set CHROMEDRIVER and CHROME_BIN)"
            );
        }
        eprintln!("{missing}: skipping the browser tests; install Debian's chromium and chromium-driver");
        return None;
    }
    Some((chromedriver?, chromium))
}

/// A chromedriver child process on a free loopback port, in its own process group so that dropping it
/// can end the Chromium it started as well.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
    /// The WebDriver session to end on drop, while it is open.
    session: Option<String>,
}

impl Driver {
    async fn start(chromedriver: &Path, dir: &Path) -> Driver {
        let log = dir.join("chromedriver.log");
        let mut last_error = String::new();
        // The free port is found by binding port 0 and letting go of it; another process could take it in
        // between, so try a few times.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut command = Command::new(chromedriver);
            command
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
            let mut driver = Driver {
                child,
                port,
                log: log.clone(),
                session: None,
            };
            match driver.wait_ready().await {
                Ok(()) => return driver,
                Err(e) => last_error = e,
            }
        }
        panic!(
            "chromedriver ({}) did not start: {last_error}\n{}",
            chromedriver.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Polls `GET /status` until chromedriver says it is ready (10 s at most).
    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{}/status", self.port);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}"));
            }
            if let Ok(response) = client.get(&url).send().await
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no answer on port {} within {WAIT:?}", self.port));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// chromedriver's warnings and errors, and the last lines of its log (the folder goes with the test).
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let problems: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains("[SEVERE]") || l.contains("[WARNING]"))
            .take(20)
            .collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        let mut report = String::new();
        if !problems.is_empty() {
            report = format!("chromedriver's warnings and errors:\n{}\n", problems.join("\n"));
        }
        report + "chromedriver's last log lines:\n" + &tail
    }

    /// `DELETE /session/<id>`, blocking (Drop cannot await): chromedriver then quits Chromium cleanly.
    fn end_session(&self, session: &str) -> std::io::Result<()> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(WAIT))?;
        stream.set_write_timeout(Some(WAIT))?;
        write!(
            stream,
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        // chromedriver keeps the connection open: read the head and then Content-Length bytes.
        let mut response = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream.read(&mut buffer)?;
            if read == 0 {
                return Ok(());
            }
            response.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&response);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if response.len() >= end + 4 + length {
                    return Ok(());
                }
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && let Err(e) = self.end_session(&session)
        {
            eprintln!("notice: ending the WebDriver session: {e}");
        }
        // chromedriver and whatever is left in its process group (Chromium's processes, if the session
        // could not be ended). The group id is chromedriver's pid, set by `process_group(0)`.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

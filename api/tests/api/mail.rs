//! E-mail notifications (issue 12) against a real SMTP server on loopback (`smtp_sink.rs`): a new referral
//! mails the receiving partner's people, the partner's answer mails the sending caseworker, a daily digest
//! bundles the day's notices into one mail, the monthly reminder of stale listings, retries after an SMTP
//! failure, the `.eml` outbox folder without SMTP, and the preferences page. Mails name no family and carry no
//! message, note or free-text reason.

use chrono::{Duration, TimeZone, Utc};
use entities::directory::Role;
use entities::tables::mail_outbox;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use api::mail::{MailSettings, run_once};

use crate::admin_web::people_id;
use crate::helpers::{Backend, TestApp, id_of};
use crate::partner_web::{partner, refer};
use crate::smtp_sink::{Received, SmtpSink};
use crate::web::{logged_in, offer, person};

const PUBLIC_URL: &str = "https://brobygger.example";

fn settings(sink: &SmtpSink) -> MailSettings {
    MailSettings {
        smtp_url: Some(sink.url.clone()),
        from: "Brobygger <brobygger@aarhus.dk>".into(),
        public_url: PUBLIC_URL.into(),
        background: false,
    }
}

/// Runs each test against the SMTP sink on SQLite and, with `TEST_DATABASE_URL`, PostgreSQL; the tests turn
/// the mail loop themselves with `run_once`.
macro_rules! with_smtp_sink {
    ($($name:ident),+ $(,)?) => {
        $(mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let sink = SmtpSink::start().await;
                let app = TestApp::spawn_with_mail(Backend::Sqlite, settings(&sink)).await.unwrap();
                super::$name(app, sink).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let sink = SmtpSink::start().await;
                if let Some(app) = TestApp::spawn_with_mail(Backend::Postgres, settings(&sink)).await {
                    super::$name(app, sink).await;
                }
            }
        })+
    };
}

with_smtp_sink!(
    a_new_referral_mails_the_partner_people_and_names_no_family,
    the_partners_answer_mails_the_sending_caseworker,
    a_daily_digest_bundles_the_days_referrals_into_one_mail,
    the_preferences_page_saves_and_off_means_no_mail,
    partners_are_reminded_of_stale_listings_once_a_month,
    a_failed_delivery_is_kept_and_retried_later,
);

mod eml_files_without_smtp {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::eml_files_without_smtp(crate::helpers::Backend::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::eml_files_without_smtp(crate::helpers::Backend::Postgres).await;
    }
}

/// A moment today before the digest hour, so a turn sends what is immediate and bundles nothing.
fn before_digest_hour() -> chrono::DateTime<Utc> {
    let today = Utc::now().date_naive();
    Utc.from_utc_datetime(&today.and_hms_opt(5, 0, 0).unwrap())
}

/// Today at 07:00 UTC, after the hour digests and reminders go out.
fn morning() -> chrono::DateTime<Utc> {
    before_digest_hour() + Duration::hours(2)
}

fn to(mail: &Received) -> String {
    mail.to.join(",")
}

fn assert_names_no_family(mail: &Received) {
    let all = mail.everything();
    for secret in ["SAG-", "To børn", "9 og 12", "familien er flyttet"] {
        assert!(!all.contains(secret), "the mail must not hold {secret:?}: {all}");
    }
    // nothing like a CPR number (ddmmyy-xxxx or ten digits in a row)
    let digits: Vec<char> = all.chars().collect();
    for window in digits.windows(11) {
        let text: String = window.iter().collect();
        let cpr = text.chars().take(6).all(|c| c.is_ascii_digit())
            && text.chars().nth(6) == Some('-')
            && text.chars().skip(7).take(4).all(|c| c.is_ascii_digit());
        assert!(!cpr, "something like a CPR number in {all}");
    }
}

async fn turn(app: &TestApp) -> usize {
    run_once(&app.state, before_digest_hour())
        .await
        .expect("a turn of the mail loop")
}

async fn a_new_referral_mails_the_partner_people_and_names_no_family(app: TestApp, sink: SmtpSink) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp i Gellerup").await;
    let (other_org, _) = offer(&app, "Boligsocialt Hus", "Rådgivning").await;
    // Listings confirmed today: no stale reminder in this test.
    confirm_all(&app).await;
    partner(&app, "lise@lektiecafe.dk", org).await;
    person(&app, "john@lektiecafe.dk", Role::Partner, Some(org), None).await;
    let john = people_id(&app, "john@lektiecafe.dk").await;
    app.state.store.set_person_language(john, "en").await.unwrap();
    person(&app, "gone@lektiecafe.dk", Role::Partner, Some(org), None).await;
    app.state.store.disable_person("gone@lektiecafe.dk").await.unwrap();
    person(&app, "bo@boligsocialt.dk", Role::Partner, Some(other_org), None).await;

    let mut anna = logged_in(&app, "anna@aarhus.dk", None).await;
    let id = refer(&mut anna, service, "SAG-2026-0042").await;
    assert_eq!(
        turn(&app).await,
        2,
        "one mail to each enabled partner person of the organisation"
    );
    let mut mails = sink.wait_for(2).await;
    mails.sort_by_key(to);
    let link = format!("{PUBLIC_URL}/referrals/{id}");

    let (john_mail, lise_mail) = (&mails[0], &mails[1]);
    assert_eq!(to(lise_mail), "<lise@lektiecafe.dk>");
    assert_eq!(lise_mail.from, "<brobygger@aarhus.dk>");
    assert_eq!(lise_mail.subject(), "Ny henvisning til Lektiehjælp i Gellerup");
    let text = lise_mail.text();
    assert!(
        text.contains(&format!(
            "Du har en ny henvisning til Lektiehjælp i Gellerup — åbn den i Brobygger: {link}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{PUBLIC_URL}/notifications")),
        "where to choose: {text}"
    );
    assert_eq!(to(john_mail), "<john@lektiecafe.dk>");
    assert_eq!(john_mail.subject(), "New referral to Lektiehjælp i Gellerup");
    assert!(john_mail.text().contains(&format!("open it in Brobygger: {link}")));
    for mail in &mails {
        assert_names_no_family(mail);
    }

    // Once only: another turn sends nothing new; the rows are marked sent.
    assert_eq!(turn(&app).await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 2);
    let outbox = app.state.store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox
            .iter()
            .all(|row| row.sent_at.is_some() && row.attempts == 1 && row.last_error.is_none())
    );
}

async fn the_partners_answer_mails_the_sending_caseworker(app: TestApp, sink: SmtpSink) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    confirm_all(&app).await;
    let key = app.partner_key(org).await;
    let mut anna = logged_in(&app, "anna@aarhus.dk", None).await;
    let rejected = refer(&mut anna, service, "SAG-1").await;
    let done = refer(&mut anna, service, "SAG-2").await;
    let failed = refer(&mut anna, service, "SAG-3").await;
    // A referral an app sent with a caseworker key: nobody to mail.
    let by_key = referral_by_key(&app, service).await;

    for id in [rejected, done, failed, by_key] {
        assert_eq!(app.get(&format!("/v1/referrals/{id}"), Some(&key)).await.status(), 200);
    }
    move_to(
        &app,
        &key,
        rejected,
        json!({"to": "rejected", "reason": "not-eligible"}),
    )
    .await;
    move_to(&app, &key, by_key, json!({"to": "rejected", "reason": "duplicate"})).await;
    for step in ["accepted", "in-progress", "completed"] {
        move_to(&app, &key, done, json!({"to": step})).await;
    }
    move_to(&app, &key, failed, json!({"to": "accepted"})).await;
    move_to(&app, &key, failed, json!({"to": "in-progress"})).await;
    move_to(
        &app,
        &key,
        failed,
        json!({"to": "failed", "reason": "familien er flyttet til Odense"}),
    )
    .await;
    turn(&app).await;

    // rejected; accepted + completed; accepted + failed. In-progress and received tell nobody.
    let mails = sink.wait_for(5).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mails = if sink.messages().len() > mails.len() {
        sink.messages()
    } else {
        mails
    };
    assert_eq!(mails.len(), 5, "{mails:?}");
    assert!(mails.iter().all(|m| to(m) == "<anna@aarhus.dk>"));
    let texts: Vec<String> = mails.iter().map(Received::text).collect();
    let has = |line: String| {
        assert!(texts.iter().any(|t| t.contains(&line)), "{line} in {texts:#?}");
    };
    has(format!(
        "Henvisningen til Lektiehjælp er nu afvist (ikke i målgruppen): {PUBLIC_URL}/referrals/{rejected}"
    ));
    has(format!(
        "Henvisningen til Lektiehjælp er nu accepteret: {PUBLIC_URL}/referrals/{done}"
    ));
    has(format!(
        "Henvisningen til Lektiehjælp er nu afsluttet: {PUBLIC_URL}/referrals/{done}"
    ));
    has(format!(
        "Henvisningen til Lektiehjælp er nu ikke gennemført: {PUBLIC_URL}/referrals/{failed}"
    ));
    assert!(
        mails
            .iter()
            .any(|m| m.subject() == "Henvisningen til Lektiehjælp er afvist (ikke i målgruppen)")
    );
    for mail in &mails {
        assert_names_no_family(mail);
        assert!(
            !mail.everything().contains(&by_key.to_string()),
            "nothing for the key's referral"
        );
    }
}

async fn a_daily_digest_bundles_the_days_referrals_into_one_mail(app: TestApp, sink: SmtpSink) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let mut lise = partner(&app, "lise@lektiecafe.dk", org).await;
    // Lise chooses one mail a day for new referrals, and no reminders.
    let (status, page) = lise.get("/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"new-referral-immediate\" name=\"new-referral\" value=\"immediate\" checked"));
    let response = lise
        .post(
            "/notifications",
            &[("new-referral", "daily"), ("stale-listings", "off")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);

    let ids = [
        referral_by_key(&app, service).await,
        referral_by_key(&app, service).await,
        referral_by_key(&app, service).await,
    ];
    assert_eq!(turn(&app).await, 0, "before the digest hour nothing goes out");
    let waiting = app.state.store.outbox().await.unwrap();
    assert_eq!(waiting.len(), 3);
    assert!(waiting.iter().all(|row| row.digest && row.sent_at.is_none()));

    let tomorrow = before_digest_hour() + Duration::hours(26);
    assert_eq!(run_once(&app.state, tomorrow).await.unwrap(), 1, "one mail for the day");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(to(mail), "<lise@lektiecafe.dk>");
    assert_eq!(mail.subject(), "Brobygger: 3 nye beskeder");
    let text = mail.text();
    assert!(text.starts_with("Dagens 3 beskeder fra Brobygger:"), "{text}");
    for id in ids {
        assert!(
            text.contains(&format!("åbn den i Brobygger: {PUBLIC_URL}/referrals/{id}")),
            "{text}"
        );
    }
    assert_eq!(text.matches("Du har en ny henvisning til Lektiehjælp").count(), 3);
    assert_names_no_family(mail);

    // The day's digest went out: a later turn that day bundles nothing again, even with a new item.
    referral_by_key(&app, service).await;
    assert_eq!(run_once(&app.state, tomorrow + Duration::hours(1)).await.unwrap(), 0);
    let items = app.state.store.outbox().await.unwrap();
    assert_eq!(
        items.iter().filter(|row| row.digest && row.sent_at.is_none()).count(),
        1
    );
    assert_eq!(items.iter().filter(|row| row.kind == "digest").count(), 1);
}

async fn the_preferences_page_saves_and_off_means_no_mail(app: TestApp, sink: SmtpSink) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    confirm_all(&app).await;
    let key = app.partner_key(org).await;
    let mut anna = logged_in(&app, "anna@aarhus.dk", None).await;
    let (status, page) = anna.get("/notifications").await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"nav-notifications\""), "reachable from every page");
    assert!(page.contains("name=\"referral-status\""));
    assert!(
        !page.contains("name=\"new-referral\""),
        "a caseworker gets no inbox mails"
    );

    // Without the CSRF token: refused, nothing stored.
    let response = anna.post("/notifications", &[("referral-status", "off")], false).await;
    assert_eq!(response.status(), 403);
    let response = anna.post("/notifications", &[("referral-status", "off")], true).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/notifications?saved");
    let (_, page) = anna.get("/notifications?saved").await;
    assert!(page.contains("id=\"notifications-saved\""));
    assert!(page.contains("id=\"referral-status-off\" name=\"referral-status\" value=\"off\" checked"));

    let id = refer(&mut anna, service, "SAG-7").await;
    assert_eq!(app.get(&format!("/v1/referrals/{id}"), Some(&key)).await.status(), 200);
    move_to(&app, &key, id, json!({"to": "accepted"})).await;
    turn(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sink.messages().is_empty(), "off: no mail");
    assert!(app.state.store.outbox().await.unwrap().is_empty());

    // Back on: the next answer is mailed.
    anna.get("/notifications").await;
    anna.post("/notifications", &[("referral-status", "immediate")], true)
        .await;
    move_to(&app, &key, id, json!({"to": "in-progress"})).await;
    move_to(&app, &key, id, json!({"to": "completed"})).await;
    turn(&app).await;
    let mails = sink.wait_for(1).await;
    assert!(mails[0].text().contains("er nu afsluttet"));

    // An admin has nothing to choose; anonymous visitors log in first.
    let mut nobody = crate::web::WebClient::new(&app);
    assert_eq!(nobody.get("/notifications").await.0, 303);
}

async fn partners_are_reminded_of_stale_listings_once_a_month(app: TestApp, sink: SmtpSink) {
    let (org, _) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let (_, fresh) = offer(&app, "Lektiecafé Gellerup 2", "Frisk tilbud").await;
    confirm(&app, fresh).await;
    partner(&app, "lise@lektiecafe.dk", org).await;
    // Not at night.
    turn(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(sink.messages().is_empty());

    run_once(&app.state, morning()).await.unwrap();
    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(to(mail), "<lise@lektiecafe.dk>");
    assert_eq!(mail.subject(), "Er Lektiecafé Gellerups tilbud stadig korrekte?");
    let text = mail.text();
    assert!(
        text.contains("1 af Lektiecafé Gellerups tilbud er ikke bekræftet i 6 måneder"),
        "{text}"
    );
    assert!(text.contains("- Lektiehjælp"), "{text}");
    assert!(!text.contains("Frisk tilbud"));
    assert!(text.contains(&format!("{PUBLIC_URL}/listings")), "{text}");

    // Once a month.
    run_once(&app.state, morning() + Duration::hours(1)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(sink.messages().len(), 1);
    let next_month = morning().checked_add_months(chrono::Months::new(1)).unwrap();
    run_once(&app.state, next_month).await.unwrap();
    assert_eq!(sink.wait_for(2).await.len(), 2);
}

async fn a_failed_delivery_is_kept_and_retried_later(app: TestApp, sink: SmtpSink) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    confirm_all(&app).await;
    partner(&app, "lise@lektiecafe.dk", org).await;
    // The same app with a mail server nobody listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let state = api::AppState::new(
        entities::Store::connect(&app.database_url).await.unwrap(),
        entities::taxonomy::Taxonomy::builtin(),
        indexer::SearchIndex::open(
            &app.data_dir.join("index-broken"),
            api::indexing::need_terms(&entities::taxonomy::Taxonomy::builtin()),
            &api::state::search_vocabulary(),
        )
        .unwrap(),
    )
    .with_mail(
        &MailSettings {
            smtp_url: Some(dead_url),
            ..settings(&sink)
        },
        &app.data_dir,
    )
    .unwrap();
    referral_by_key(&app, service).await;
    assert_eq!(run_once(&state, before_digest_hour()).await.unwrap(), 0);
    let row = only_row(&app).await;
    assert_eq!(row.attempts, 1);
    assert!(row.sent_at.is_none());
    assert!(row.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{row:?}");
    assert!(row.next_attempt_at > Utc::now(), "backs off");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("brobygger_mail_outbox{state=\"unsent\"} 1\n"),
        "{metrics}"
    );
    // Not due yet: the working mailer leaves it alone until then ...
    turn(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(sink.messages().is_empty());
    // ... and sends it once it is due.
    make_due(&app).await;
    turn(&app).await;
    assert_eq!(sink.wait_for(1).await.len(), 1);
    let row = only_row(&app).await;
    assert_eq!(row.attempts, 2);
    assert!(row.sent_at.is_some() && row.last_error.is_none());
}

async fn eml_files_without_smtp(backend: Backend) {
    // The defaults: no SMTP server, the loop running in the background as `cargo run` has it.
    let Some(app) = TestApp::spawn_with_mail(backend, MailSettings::default()).await else {
        return;
    };
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    confirm_all(&app).await;
    partner(&app, "lise@lektiecafe.dk", org).await;
    let id = referral_by_key(&app, service).await;
    let outbox = app.data_dir.join("outbox");
    let mut found = None;
    for _ in 0..150 {
        if let Ok(entries) = std::fs::read_dir(&outbox) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                if entry.path().extension().is_some_and(|e| e == "eml") && text.contains("lise@lektiecafe.dk") {
                    found = Some(text);
                }
            }
        }
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let text = found.expect("an .eml file for the partner in <data dir>/outbox");
    let mail = Received {
        from: String::new(),
        to: Vec::new(),
        data: text,
    };
    assert_eq!(mail.header("To").as_deref(), Some("lise@lektiecafe.dk"));
    assert_eq!(mail.header("From").as_deref(), Some("Brobygger <brobygger@localhost>"));
    assert!(
        mail.header("Date").is_some() && mail.header("Message-ID").is_some(),
        "RFC 5322"
    );
    assert_eq!(mail.subject(), "Ny henvisning til Lektiehjælp");
    assert!(mail.text().contains(&format!("http://127.0.0.1:8080/referrals/{id}")));
}

// ---- helpers --------------------------------------------------------------------------------------------

/// Marks a service confirmed today, so it is not stale.
async fn confirm(app: &TestApp, service: Uuid) {
    let today = Utc::now().date_naive().to_string();
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/v1/services/{service}"),
            Some(&app.admin),
            &json!({"assured_date": today}),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
}

async fn confirm_all(app: &TestApp) {
    let list: Value = app
        .get("/v1/services?per_page=100", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap();
    for item in list["items"].as_array().unwrap() {
        confirm(app, id_of(item)).await;
    }
}

/// A referral sent by an app with the caseworker key; returns its id.
async fn referral_by_key(app: &TestApp, service: Uuid) -> Uuid {
    let response = app
        .send_json(
            Method::POST,
            "/v1/referrals",
            Some(&app.caseworker),
            &json!({"service_id": service, "family_ref": "SAG-2026-0099", "needs": ["education-homework"],
                    "message": "To børn på 9 og 12 år har brug for lektiehjælp.",
                    "consent": {"given_at": "2026-11-26T10:00:00Z", "scope": "henvisning og tilbagemelding"}}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    id_of(&response.json::<Value>().await.unwrap())
}

async fn move_to(app: &TestApp, key: &str, id: Uuid, body: Value) {
    let response = app
        .send_json(
            Method::POST,
            &format!("/v1/referrals/{id}/transitions"),
            Some(key),
            &body,
        )
        .await;
    assert!(
        response.status().is_success(),
        "{body}: {}",
        response.text().await.unwrap_or_default()
    );
}

async fn only_row(app: &TestApp) -> mail_outbox::Model {
    let rows = app.state.store.outbox().await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

async fn make_due(app: &TestApp) {
    use sea_orm::{EntityTrait, sea_query::Expr};
    mail_outbox::Entity::update_many()
        .col_expr(
            mail_outbox::Column::NextAttemptAt,
            Expr::value(Utc::now() - Duration::minutes(1)),
        )
        .exec(app.state.store.connection())
        .await
        .unwrap();
}

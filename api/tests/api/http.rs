//! The HTTP manners apps and operators rely on: CORS, compression, conditional GETs, paging headers, rate
//! limits, request ids, bounded metrics, strict input types and URL checks.

use std::num::NonZeroU32;

use api::app::HttpSettings;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, problem};

const APP_ORIGIN: &str = "https://app.example.org";

async fn app_with(http: HttpSettings) -> TestApp {
    TestApp::spawn_with_http(Backend::Sqlite, http).await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cors_opens_the_public_directory_to_anyone_and_the_rest_to_listed_origins() {
    let app = app_with(HttpSettings {
        cors_origins: vec![APP_ORIGIN.into()],
        ..Default::default()
    })
    .await;
    let preflight = |path: &str, origin: &str, method: &str| {
        app.request(Method::OPTIONS, path, None)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    // A public read from any site: `*`, without Authorization.
    let public = preflight("/v1/services", "https://elsewhere.example", "GET")
        .await
        .unwrap();
    assert_eq!(public.status(), 204);
    assert_eq!(header(&public, "access-control-allow-origin").as_deref(), Some("*"));
    assert!(
        !header(&public, "access-control-allow-headers")
            .unwrap()
            .contains("Authorization")
    );
    let read = app
        .request(Method::GET, "/hsds/services", None)
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(header(&read, "access-control-allow-origin").as_deref(), Some("*"));
    assert!(
        header(&read, "access-control-expose-headers")
            .unwrap()
            .contains("X-Total-Count")
    );

    // Referrals from an unlisted site: answered (not 405), but nothing allowed.
    let refused = preflight("/v1/referrals", "https://elsewhere.example", "POST")
        .await
        .unwrap();
    assert_eq!(refused.status(), 204);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    let private_read = app
        .request(Method::GET, "/v1/referrals", Some(&app.caseworker))
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&private_read, "access-control-allow-origin"), None);
    // Writes to the directory are not public either.
    let write = preflight("/v1/services", "https://elsewhere.example", "POST")
        .await
        .unwrap();
    assert_eq!(header(&write, "access-control-allow-origin"), None);

    // The listed origin: echoed, with Authorization, for every endpoint.
    let listed = preflight("/v1/referrals", APP_ORIGIN, "POST").await.unwrap();
    assert_eq!(listed.status(), 204);
    assert_eq!(
        header(&listed, "access-control-allow-origin").as_deref(),
        Some(APP_ORIGIN)
    );
    assert!(
        header(&listed, "access-control-allow-headers")
            .unwrap()
            .contains("Authorization")
    );
    assert!(
        header(&listed, "access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let answered = app
        .request(Method::GET, "/v1/referrals", Some(&app.caseworker))
        .header("Origin", APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    assert_eq!(
        header(&answered, "access-control-allow-origin").as_deref(),
        Some(APP_ORIGIN)
    );
    assert!(header(&answered, "vary").unwrap().contains("Origin"));
}

#[tokio::test]
async fn the_spec_is_sent_compressed_when_the_client_accepts_it() {
    let app = app_with(HttpSettings::default()).await;
    let plain = app.get("/openapi.json", None).await.bytes().await.unwrap();
    for (encoding, magic) in [("gzip", &[0x1f_u8, 0x8b][..]), ("br", &[][..])] {
        let response = app
            .request(Method::GET, "/openapi.json", None)
            .header("Accept-Encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(header(&response, "content-encoding").as_deref(), Some(encoding));
        let body = response.bytes().await.unwrap();
        assert!(body.starts_with(magic));
        assert!(
            body.len() * 4 < plain.len(),
            "{encoding}: {} of {} bytes",
            body.len(),
            plain.len()
        );
    }
}

#[tokio::test]
async fn a_repeated_get_with_if_none_match_is_304_until_the_answer_changes() {
    let app = app_with(HttpSettings::default()).await;
    let organization = app.organization("Lektiecafé Gellerup").await;
    for path in [
        "/v1/organizations".to_owned(),
        format!("/v1/organizations/{organization}"),
        "/hsds/organizations".to_owned(),
        "/v1/needs".to_owned(),
    ] {
        let first = app.get(&path, None).await;
        assert_eq!(first.status(), 200, "{path}");
        let etag = header(&first, "etag").unwrap_or_else(|| panic!("{path} has no ETag"));
        let again = app
            .request(Method::GET, &path, None)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
        assert!(again.bytes().await.unwrap().is_empty());
        let other = app
            .request(Method::GET, &path, None)
            .header("If-None-Match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "{path}");
    }
    // A change gives the list a new ETag, so the old one no longer answers 304.
    let before = header(&app.get("/v1/organizations", None).await, "etag").unwrap();
    app.organization("Natteravnene Brabrand").await;
    let after = app
        .request(Method::GET, "/v1/organizations", None)
        .header("If-None-Match", &before)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(header(&after, "etag").unwrap(), before);
}

#[tokio::test]
async fn pages_carry_the_total_and_links_to_first_prev_next_and_last() {
    let app = app_with(HttpSettings::default()).await;
    for n in 1..=5 {
        app.organization(&format!("Forening {n}")).await;
    }
    let links = |response: &reqwest::Response| {
        let link = header(response, "link").expect("a Link header");
        link.split(", ")
            .map(|part| {
                let (url, rel) = part.split_once("; ").unwrap();
                (
                    rel.trim_start_matches("rel=\"").trim_end_matches('"').to_owned(),
                    url.trim_matches(['<', '>']).to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let middle = app.get("/v1/organizations?per_page=2&page=2", None).await;
    assert_eq!(header(&middle, "x-total-count").as_deref(), Some("5"));
    assert_eq!(
        links(&middle),
        vec![
            ("first".into(), "/v1/organizations?per_page=2&page=1".into()),
            ("prev".into(), "/v1/organizations?per_page=2&page=1".into()),
            ("next".into(), "/v1/organizations?per_page=2&page=3".into()),
            ("last".into(), "/v1/organizations?per_page=2&page=3".into()),
        ]
    );
    // following `next` from the last page is not offered, and `last` really is the last page
    let last = app.get("/v1/organizations?per_page=2&page=3", None).await;
    let rels: Vec<String> = links(&last).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, vec!["first", "prev", "last"]);
    let body: Value = last.json().await.unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let hsds = app.get("/hsds/organizations?per_page=4", None).await;
    assert_eq!(header(&hsds, "x-total-count").as_deref(), Some("5"));
    let rels: Vec<String> = links(&hsds).into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(rels, vec!["first", "next", "last"]);
    assert!(
        header(&hsds, "link")
            .unwrap()
            .contains("</hsds/organizations?per_page=4&page=2>; rel=\"last\"")
    );
}

#[tokio::test]
async fn past_the_limit_a_client_gets_429_with_retry_after_and_others_go_on() {
    let app = app_with(HttpSettings {
        rate_limit_per_minute: NonZeroU32::new(5),
        ..Default::default()
    })
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/v1/needs", Some(&app.reader)).await.status(), 200);
    }
    let limited = app.get("/v1/needs", Some(&app.reader)).await;
    let retry_after: u64 = header(&limited, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = problem(limited, 429).await;
    assert_eq!(body["type"], "https://brobygger.example.org/problems/rate-limited");
    // another key, and the anonymous client, each have their own allowance
    assert_eq!(app.get("/v1/needs", Some(&app.caseworker)).await.status(), 200);
    assert_eq!(app.get("/v1/needs", None).await.status(), 200);
    // monitoring is never limited
    for _ in 0..10 {
        assert_eq!(app.get("/health", None).await.status(), 200);
    }
}

#[tokio::test]
async fn a_request_id_is_echoed_or_made() {
    let app = app_with(HttpSettings::default()).await;
    let sent = app
        .request(Method::GET, "/v1/needs", None)
        .header("X-Request-Id", "visit-2026-12-01.42")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&sent, "x-request-id").as_deref(), Some("visit-2026-12-01.42"));
    let made = header(&app.get("/v1/needs", None).await, "x-request-id").unwrap();
    assert_eq!(made.len(), 32);
    assert!(made.chars().all(|c| c.is_ascii_hexdigit()));
    let again = header(&app.get("/v1/needs", None).await, "x-request-id").unwrap();
    assert_ne!(made, again);
    // an id that could forge log lines is replaced
    let forged = app
        .request(Method::GET, "/nowhere", None)
        .header("X-Request-Id", "a\"b c")
        .send()
        .await
        .unwrap();
    assert_ne!(header(&forged, "x-request-id").as_deref(), Some("a\"b c"));
    assert_eq!(forged.status(), 404);
}

#[tokio::test]
async fn twenty_thousand_unknown_paths_leave_metrics_bounded() {
    let app = app_with(HttpSettings::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let client = app.client.clone();
        let base = app.base.clone();
        tasks.spawn(async move {
            for n in 0..1250 {
                let path = format!("{base}/nowhere-{worker}-{n}/x{}", n * 7919 % 1000);
                let status = client.get(path).send().await.unwrap().status();
                assert_eq!(status, 404);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    let series = metrics
        .lines()
        .filter(|line| line.starts_with("brobygger_http"))
        .count();
    assert!(series < 100, "{series} series:\n{metrics}");
    assert!(metrics.contains("unmatched"), "{metrics}");
    assert!(!metrics.contains("nowhere-"), "{metrics}");
}

#[tokio::test]
async fn a_number_where_a_string_belongs_is_refused_and_changes_nothing() {
    let app = app_with(HttpSettings::default()).await;
    let response = app
        .send_json(
            Method::POST,
            "/v1/organizations",
            Some(&app.admin),
            &json!({"name": 0.0}),
        )
        .await;
    let body = problem(response, 400).await;
    assert_eq!(body["detail"], "`name` must be a JSON string");
    let nested = app
        .send_json(
            Method::POST,
            "/v1/organizations",
            Some(&app.admin),
            &json!({"name": "Forening", "website": true}),
        )
        .await;
    let body = problem(nested, 400).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("`website` must be a JSON string"),
        "{body}"
    );
    let list: Value = app.get("/v1/organizations", None).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn bad_urls_and_bodies_answer_problems() {
    let app = app_with(HttpSettings::default()).await;
    problem(app.get("/v1/search?q=%FF%FE", None).await, 400).await;
    problem(app.get("/v1/services?q=%C3", None).await, 400).await;
    // a valid UTF-8 escape still searches
    assert_eq!(app.get("/v1/search?q=lektiecaf%C3%A9", None).await.status(), 200);
    let long = format!("/v1/search?q={}", "a".repeat(api::app::MAX_URL_BYTES));
    problem(app.get(&long, None).await, 414).await;
    let text = app
        .request(Method::POST, "/v1/needs/detect", None)
        .header("Content-Type", "text/plain")
        .body("min søn keder sig")
        .send()
        .await
        .unwrap();
    problem(text, 415).await;
    let too_long = format!("/v1/search?q={}", "ord ".repeat(200));
    problem(app.get(&too_long, None).await, 400).await;
}

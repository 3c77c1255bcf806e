//! The partner's pages over real HTTP: the inbox and the referral's steps, stale pages, other
//! organisations, the listing editor (searchable at once, capacity full → no-capacity), "still correct?".

use entities::directory::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::web::{WebClient, logged_in, offer, person};

on_both_backends!(
    partner_answers_a_referral_in_the_inbox,
    partner_edits_its_listing_and_search_follows,
    partner_admin_invites_and_removes_colleagues,
    first_saturday_of_the_month_from_the_form,
    partner_keeps_its_offers_at_a_shared_place,
    saving_the_form_keeps_what_it_does_not_show_of_a_schedule,
);

pub async fn partner(app: &TestApp, email: &str, organization: Uuid) -> WebClient {
    let password = person(app, email, Role::Partner, Some(organization), None).await;
    let mut web = WebClient::new(app);
    assert_eq!(web.login(email, &password).await.status(), 303);
    web
}

/// Refers a family to `service` through the caseworker's form; returns the referral's id.
pub async fn refer(caseworker: &mut WebClient, service: Uuid, family_ref: &str) -> Uuid {
    caseworker.get(&format!("/refer/{service}")).await;
    let response = caseworker
        .post(
            &format!("/refer/{service}"),
            &[
                ("family_ref", family_ref),
                ("message", "To børn på 9 og 12 år."),
                ("consent", "yes"),
            ],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    location
        .trim_start_matches("/referrals/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn partner_answers_a_referral_in_the_inbox(app: TestApp) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let (other_org, _) = offer(&app, "Boligsocialt Hus", "Rådgivning").await;
    let mut anna = logged_in(&app, "anna@aarhus.dk", None).await;
    let id = refer(&mut anna, service, "SAG-1").await;

    let mut lise = partner(&app, "lise@lektiecafe.dk", org).await;
    let (status, inbox) = lise.get("/referrals").await;
    assert_eq!(status, 200);
    assert!(inbox.contains(&format!("/referrals/{id}")));
    assert!(
        inbox.contains("id=\"new-count\""),
        "the count of new referrals on every page"
    );
    assert!(inbox.contains("1 nye"));

    // Opening it marks it received; only the partner's legal steps are offered.
    let (status, page) = lise.get(&format!("/referrals/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("data-status=\"received\""));
    assert!(page.contains("To børn på 9 og 12 år."));
    for step in ["accepted", "rejected", "on-hold"] {
        assert!(page.contains(&format!("id=\"action-{step}\"")), "{step}");
    }
    assert!(!page.contains("id=\"action-completed\""));
    assert!(!page.contains("id=\"action-cancelled\""));
    assert!(!lise.get("/").await.1.contains("id=\"new-count\""), "no new ones left");

    // Another tab still shows version 2; accepting there after this one moved it is a conflict.
    let response = lise
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "accepted"), ("version", "2"), ("note", "Vi ringer i morgen")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let stale = lise
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "rejected"), ("version", "2"), ("reason", "not-eligible")],
            true,
        )
        .await;
    assert_eq!(stale.status(), 412);
    let html = stale.text().await.unwrap();
    assert!(html.contains("id=\"changed-meanwhile\""));
    assert!(html.contains("data-status=\"accepted\""), "the current state is shown");

    // The caseworker sees the answer and the note.
    let (_, page) = anna.get(&format!("/referrals/{id}")).await;
    assert!(page.contains("data-status=\"accepted\""));
    assert!(page.contains("Vi ringer i morgen"));
    let (_, list) = anna.get("/referrals").await;
    assert!(
        list.contains("Accepteret — Vi ringer i morgen"),
        "the latest step in the list"
    );

    // A failure needs a reason; a completion does not.
    let page = lise.get(&format!("/referrals/{id}")).await.1;
    assert!(page.contains("id=\"action-in-progress\""));
    let response = lise
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "in-progress"), ("version", "3")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let response = lise
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "failed"), ("version", "4")],
            true,
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("id=\"reason-failed-error\""));
    let response = lise
        .post(
            &format!("/referrals/{id}/move"),
            &[("to", "completed"), ("version", "4")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        anna.get(&format!("/referrals/{id}"))
            .await
            .1
            .contains("data-status=\"completed\"")
    );

    // Another organisation's partner: 404 for the referral, nothing in its inbox, 403 for the service.
    let mut other = partner(&app, "bo@boligsocialt.dk", other_org).await;
    assert_eq!(other.get(&format!("/referrals/{id}")).await.0, 404);
    assert!(!other.get("/referrals").await.1.contains(&format!("/referrals/{id}")));
    assert_eq!(other.get(&format!("/listings/services/{service}")).await.0, 403);
    let response = other
        .post(
            &format!("/listings/services/{service}"),
            &[("name", "Overtaget"), ("version", "1")],
            true,
        )
        .await;
    assert_eq!(response.status(), 403);
    let stored = app.state.store.get_service(service).await.unwrap();
    assert_eq!(stored.data.name, "Lektiehjælp", "nothing changed");
}

async fn search_names(app: &TestApp, query: &str) -> Vec<String> {
    let response = app.get(&format!("/v1/search?{query}"), None).await;
    let body: Value = response.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn partner_edits_its_listing_and_search_follows(app: TestApp) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let mut lise = partner(&app, "lise@lektiecafe.dk", org).await;
    let (status, listings) = lise.get("/listings").await;
    assert_eq!(status, 200);
    assert!(listings.contains(&format!("data-service=\"{service}\"")));
    assert!(listings.contains("data-stale=\"true\""), "never confirmed: stale");

    // "Still correct?" sets assured_date to today.
    let response = lise
        .post(
            &format!("/listings/services/{service}/confirm"),
            &[("version", "1")],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let stored = app.state.store.get_service(service).await.unwrap();
    assert_eq!(stored.data.assured_date, Some(chrono::Utc::now().date_naive()));
    assert!(!lise.get("/listings").await.1.contains("data-stale=\"true\""));

    // Edit: new name, Saturday hours and capacity full. A bad time is a field error first.
    let (status, form) = lise.get(&format!("/listings/services/{service}")).await;
    assert_eq!(status, 200);
    assert!(form.contains("value=\"15:00\""), "the stored hours are in the form");
    let location = stored.data.location_ids[0].to_string();
    let version = stored.meta.version.to_string();
    let mut fields = vec![
        ("version", version.as_str()),
        ("name", "Lektiehjælp om lørdagen"),
        ("description", "Frivillige hjælper med lektier."),
        ("needs", "education-homework"),
        ("languages", "da"),
        ("languages", "ar"),
        ("free", "true"),
        ("location_ids", location.as_str()),
        ("minimum_age", "6"),
        ("maximum_age", "16"),
        ("schedule-0-days", "SA"),
        ("schedule-0-opens", "10:00"),
        ("schedule-0-closes", "25:00"),
        ("capacity", "full"),
        ("status", "active"),
    ];
    let response = lise.post(&format!("/listings/services/{service}"), &fields, true).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("id=\"schedule-0-closes-error\""),
        "the error beside the field"
    );
    assert!(
        html.contains("value=\"Lektiehjælp om lørdagen\""),
        "nothing typed is lost"
    );
    fields.retain(|(k, _)| *k != "schedule-0-closes");
    fields.push(("schedule-0-closes", "12:00"));
    let response = lise.post(&format!("/listings/services/{service}"), &fields, true).await;
    assert_eq!(response.status(), 303);

    // Searchable at once, with the new hours.
    let names = search_names(&app, "q=lektiehj%C3%A6lp&open_on=sa").await;
    assert_eq!(names, ["Lektiehjælp om lørdagen"]);
    // Full: a referral is rejected at once with no-capacity.
    let mut anna = logged_in(&app, "anna@aarhus.dk", None).await;
    let id = refer(&mut anna, service, "SAG-2").await;
    let (_, page) = anna.get(&format!("/referrals/{id}")).await;
    assert!(page.contains("data-status=\"rejected\""));
    assert!(page.contains("ingen plads"));

    // The form of a record someone else changed meanwhile shows both, and keeps what was typed.
    let response = lise.post(&format!("/listings/services/{service}"), &fields, true).await;
    assert_eq!(response.status(), 409, "version {version} is stale now");
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"changed-meanwhile\"") && html.contains("id=\"current-version\""));
    assert!(html.contains("value=\"Lektiehjælp om lørdagen\""));

    // A new place without coordinates is put at its postcode.
    let response = lise
        .post(
            "/listings/locations/new",
            &[
                ("name", "Beboerhuset"),
                ("address_1", "Dortesvej 39"),
                ("postal_code", "8220"),
                ("city", "Brabrand"),
            ],
            true,
        )
        .await;
    assert_eq!(response.status(), 303);
    let (_, listings) = lise.get("/listings").await;
    assert!(listings.contains("Beboerhuset"));
}

async fn partner_admin_invites_and_removes_colleagues(app: TestApp) {
    let (org, _) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let (other_org, _) = offer(&app, "Boligsocialt Hus", "Rådgivning").await;
    // The first person of an organisation is its admin.
    let mut lise = partner(&app, "lise@lektiecafe.dk", org).await;
    let (status, html) = lise.get("/people").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"invite-submit\""));
    let response = lise.post("/people/invite", &[("email", "not an address")], true).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("id=\"email-error\""));
    let response = lise
        .post("/people/invite", &[("email", "ole@lektiecafe.dk")], true)
        .await;
    assert_eq!(response.status(), 200);
    // minijinja writes `/` in values as `&#x2f;`.
    let html = response.text().await.unwrap().replace("&#x2f;", "/");
    let start = html.find("href=\"/invite/").expect("the one-time link") + 6;
    let link = &html[start..start + html[start..].find('"').unwrap()];
    assert!(link.starts_with("/invite/") && link.len() > 40, "{link}");
    let invited = app
        .state
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.email == "ole@lektiecafe.dk")
        .unwrap();
    assert_eq!(invited.organization_id, Some(org));
    assert!(!invited.organization_admin);

    // A colleague who is not the admin sees the people but may not invite or remove.
    let mut kim = partner(&app, "kim@lektiecafe.dk", org).await;
    let (_, html) = kim.get("/people").await;
    assert!(html.contains("ole@lektiecafe.dk") && !html.contains("id=\"invite-submit\""));
    assert_eq!(
        kim.post("/people/invite", &[("email", "x@lektiecafe.dk")], true)
            .await
            .status(),
        403
    );
    let lise_id = app
        .state
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.email == "lise@lektiecafe.dk")
        .unwrap()
        .id;
    assert_eq!(
        kim.post(&format!("/people/{lise_id}/remove"), &[], true).await.status(),
        403
    );

    // Another organisation's admin cannot reach them: not found.
    let mut bo = partner(&app, "bo@boligsocialt.dk", other_org).await;
    assert!(!bo.get("/people").await.1.contains("lise@lektiecafe.dk"));
    assert_eq!(
        bo.post(&format!("/people/{lise_id}/remove"), &[], true).await.status(),
        404
    );

    // The admin removes Kim: Kim's session ends and the password no longer works.
    let kim_id = app
        .state
        .store
        .list_people()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.email == "kim@lektiecafe.dk")
        .unwrap()
        .id;
    assert_eq!(
        lise.post(&format!("/people/{kim_id}/remove"), &[], true).await.status(),
        303
    );
    assert_eq!(kim.get("/listings").await.0, 303, "logged out");
    assert!(
        app.state
            .store
            .verify_login("kim@lektiecafe.dk", "correct horse battery")
            .await
            .unwrap()
            .is_err()
    );
}

async fn first_saturday_of_the_month_from_the_form(app: TestApp) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let stored = app.state.store.get_service(service).await.unwrap();
    let mut lise = partner(&app, "lise@lektiecafe.dk", org).await;
    let (_, form) = lise.get(&format!("/listings/services/{service}")).await;
    assert!(form.contains("id=\"schedule-0-week\""));
    let location = stored.data.location_ids[0].to_string();
    let version = stored.meta.version.to_string();
    let fields = [
        ("version", version.as_str()),
        ("name", "Familiecafé"),
        ("needs", "education-homework"),
        ("free", "true"),
        ("location_ids", location.as_str()),
        ("schedule-0-week", "1"),
        ("schedule-0-days", "SA"),
        ("schedule-0-opens", "10:00"),
        ("schedule-0-closes", "13:00"),
        ("schedule-1-week", ""),
        ("schedule-1-days", "TU"),
        ("schedule-1-opens", "15:00"),
        ("schedule-1-closes", "17:30"),
        ("status", "active"),
    ];
    let response = lise.post(&format!("/listings/services/{service}"), &fields, true).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap_or_default());
    let stored = app.state.store.get_service(service).await.unwrap();
    let days: Vec<&str> = stored
        .data
        .schedules
        .iter()
        .flat_map(|s| s.byday.iter().map(String::as_str))
        .collect();
    assert!(days.contains(&"1SA") && days.contains(&"TU"), "{days:?}");

    // In words on the offer, as HSDS MONTHLY for apps, and the form shows it again.
    let (_, page) = WebClient::new(&app).get(&format!("/offers/{service}")).await;
    assert!(page.contains("første lørdag i måneden 10–13"), "hours in words");
    assert!(page.contains("tirsdag 15–17.30"));
    let hsds: Value = app
        .get(&format!("/hsds/services/{service}"), None)
        .await
        .json()
        .await
        .unwrap();
    let monthly = hsds["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["byday"] == "1SA")
        .expect("the monthly schedule");
    assert_eq!(monthly["freq"], "MONTHLY");
    let (_, form) = lise.get(&format!("/listings/services/{service}")).await;
    assert!(
        form.contains("<option value=\"1\" selected>"),
        "the row keeps 'first of the month'"
    );
    // A weekday search finds it on Saturdays.
    let names = search_names(&app, "q=familiecaf%C3%A9&open_on=sa").await;
    assert_eq!(names, ["Familiecafé"]);
}

/// A place another organization owns: the partner sees it among the shared places (not editable), its offer's
/// form keeps it, and saving the offer there works.
async fn partner_keeps_its_offers_at_a_shared_place(app: TestApp) {
    let housing = app.organization("Boligforeningen").await;
    let mothers = app.organization("Bydelsmødrene").await;
    let place = app.location(housing, "Beboerhuset Toveshøj", 56.1497, 10.1432).await;
    let service = app
        .service(
            serde_json::json!({"name": "Bydelsmødrenes café", "organization_id": mothers,
                                    "location_ids": [place], "needs": ["education-homework"]}),
        )
        .await;
    let service = crate::helpers::id_of(&service);
    let mut mette = partner(&app, "mette@bydelsmoedre.dk", mothers).await;
    let (status, listings) = mette.get("/listings").await;
    assert_eq!(status, 200);
    let shared = &listings[listings.find("id=\"shared-places\"").expect("a list of shared places")..];
    assert!(shared.contains("Beboerhuset Toveshøj") && shared.contains("Gudrunsvej 10"));
    assert!(
        !listings.contains(&format!("/listings/locations/{place}")),
        "no edit link"
    );
    let (status, _) = mette.get(&format!("/listings/locations/{place}")).await;
    assert_eq!(status, 403);

    let (status, form) = mette.get(&format!("/listings/services/{service}")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains(&format!("value=\"{place}\" checked")),
        "the shared place stays chosen"
    );
    assert!(form.contains("Beboerhuset Toveshøj (delt sted)"));
    let place = place.to_string();
    let fields = [
        ("version", "1"),
        ("name", "Bydelsmødrenes café om tirsdagen"),
        ("needs", "education-homework"),
        ("languages", "da"),
        ("location_ids", place.as_str()),
        ("status", "active"),
    ];
    let response = mette
        .post(&format!("/listings/services/{service}"), &fields, true)
        .await;
    assert_eq!(response.status(), 303);
    let stored = app.state.store.get_service(service).await.unwrap();
    assert_eq!(stored.data.name, "Bydelsmødrenes café om tirsdagen");
    assert_eq!(stored.data.location_ids, vec![place.parse::<Uuid>().unwrap()]);
}

/// The form edits days and hours; an opening it leaves as it was keeps the rest (every other week, until,
/// notes), and one it changes is what the form says.
async fn saving_the_form_keeps_what_it_does_not_show_of_a_schedule(app: TestApp) {
    let (org, service) = offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    let until = chrono::NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
    let written = app.send_json(
        reqwest::Method::PATCH,
        &format!("/v1/services/{service}"),
        Some(&app.admin),
        &serde_json::json!({"schedules": [{"byday": ["SA"], "interval": 2, "dtstart": "2026-12-05", "until": "2027-06-30",
            "opens_at": "10:00", "closes_at": "13:00", "notes": "Tag madpakke med"}]}),
    )
    .await;
    assert_eq!(written.status(), 200);
    let stored = app.state.store.get_service(service).await.unwrap();
    let mut lise = partner(&app, "lise@lektiecafe.dk", org).await;
    lise.get(&format!("/listings/services/{service}")).await;
    let location = stored.data.location_ids[0].to_string();
    let version = stored.meta.version.to_string();
    let mut fields = vec![
        ("version", version.as_str()),
        ("name", "Lektiehjælp hver anden lørdag"),
        ("needs", "education-homework"),
        ("free", "true"),
        ("location_ids", location.as_str()),
        ("schedule-0-week", ""),
        ("schedule-0-days", "SA"),
        ("schedule-0-opens", "10:00"),
        ("schedule-0-closes", "13:00"),
        ("status", "active"),
    ];
    let response = lise.post(&format!("/listings/services/{service}"), &fields, true).await;
    assert_eq!(response.status(), 303);
    let kept = app.state.store.get_service(service).await.unwrap();
    assert_eq!(kept.data.name, "Lektiehjælp hver anden lørdag");
    assert_eq!(kept.data.schedules[0].interval, 2);
    assert_eq!(kept.data.schedules[0].until, Some(until));
    assert_eq!(kept.data.schedules[0].notes.as_deref(), Some("Tag madpakke med"));

    // New hours are a new opening: what the form says, every week.
    let version = kept.meta.version.to_string();
    fields[0] = ("version", version.as_str());
    fields.retain(|(k, _)| *k != "schedule-0-closes");
    fields.push(("schedule-0-closes", "14:00"));
    let response = lise.post(&format!("/listings/services/{service}"), &fields, true).await;
    assert_eq!(response.status(), 303);
    let changed = app.state.store.get_service(service).await.unwrap();
    assert_eq!(changed.data.schedules[0].closes_at, "14:00");
    assert_eq!(changed.data.schedules[0].interval, 1);
}

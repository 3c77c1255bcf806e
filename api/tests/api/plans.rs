//! `/v1/family-plans` over HTTP: a plan from the family's words with three goals, quarterly follow-ups, referrals
//! linked to the goal they serve, what is due, and who may see a plan.

use chrono::{Duration, Utc};
use entities::directory::Role;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, id_of, problem};
use crate::on_both_backends;
use crate::web::logged_in;

on_both_backends!(
    a_plan_with_goals_follow_ups_and_linked_referrals,
    bad_plans_are_refused_and_change_nothing,
    only_the_owner_sees_a_plan,
    a_caseworker_makes_a_plan_in_the_web_app,
    a_family_gets_its_data_and_old_plans_are_purged,
    the_partner_says_whether_a_referral_helped_the_goal,
    the_programme_report_counts_what_a_hand_count_does,
    a_partner_answers_in_the_web_inbox,
);

fn today() -> chrono::NaiveDate {
    Utc::now().date_naive()
}

fn consent() -> Value {
    json!({"given_at": Utc::now().to_rfc3339(), "scope": "familieplan og opfølgning"})
}

fn plan_body(family_ref: &str) -> Value {
    let in_a_year = (today() + Duration::days(365)).to_string();
    json!({
        "family_ref": family_ref,
        "challenges": "Far vil gerne i arbejde. Datteren er meget væk fra skolen og er ked af det.",
        "needs": ["employment", "education-homework"],
        "consent": consent(),
        "goals": [
            {"kind": "parent-employment", "for_whom": "parent", "baseline": 0, "target": 1, "target_date": in_a_year},
            {"kind": "school-attendance", "for_whom": "child", "baseline": 30, "target": 10, "target_date": in_a_year},
            {"kind": "wellbeing", "for_whom": "family", "baseline": 4, "target": 7, "target_date": in_a_year}
        ]
    })
}

async fn send(app: &TestApp, method: Method, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.send_json(method, path, Some(key), body).await
}

async fn create_plan(app: &TestApp, key: &str, family_ref: &str) -> Value {
    let response = send(app, Method::POST, "/v1/family-plans", key, &plan_body(family_ref)).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let plan: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/family-plans/{}", plan["id"].as_str().unwrap()));
    plan
}

/// A caseworker key of nobody's team but its own.
async fn another_caseworker(app: &TestApp) -> String {
    app.state
        .store
        .create_key(Role::Caseworker, None, None)
        .await
        .unwrap()
        .1
}

async fn get_json(app: &TestApp, path: &str, key: Option<&str>) -> Value {
    app.get(path, key).await.json().await.unwrap()
}

fn goal<'a>(plan: &'a Value, kind: &str) -> &'a Value {
    plan["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == kind)
        .unwrap()
}

/// A job offer in Gellerup: (organization, service).
async fn job_service(app: &TestApp) -> (Uuid, Uuid) {
    let org = app.organization("Jobcafé Vest").await;
    let place = app.location(org, "Gellerup", 56.1530, 10.1330).await;
    let service = id_of(
        &app.service(
            json!({"name": "Jobcafé", "description": "Hjælp til jobsøgning.", "organization_id": org,
                            "location_ids": [place], "needs": ["employment"], "languages": ["da"]}),
        )
        .await,
    );
    (org, service)
}

async fn referral_for(app: &TestApp, key: &str, family_ref: &str) -> Uuid {
    let (_, service) = job_service(app).await;
    let body = json!({"service_id": service, "family_ref": family_ref, "consent": consent()});
    let response = send(app, Method::POST, "/v1/referrals", key, &body).await;
    assert_eq!(response.status(), 201);
    id_of(&response.json().await.unwrap())
}

async fn a_plan_with_goals_follow_ups_and_linked_referrals(app: TestApp) {
    let key = app.caseworker.clone();
    let plan = create_plan(&app, &key, "sag-2026-117").await;
    let id = plan["id"].as_str().unwrap().to_owned();
    assert_eq!(plan["goals"].as_array().unwrap().len(), 3);
    let school = goal(&plan, "school-attendance");
    assert_eq!(school["current"], 30.0);
    assert_eq!(school["met"], false);
    assert_eq!(school["next_follow_up"], (today() + Duration::days(91)).to_string());
    assert!(
        plan.get("family_ref").is_none() && plan.get("family_hash").is_none(),
        "{plan}"
    );

    // quarterly follow-ups on school absence: 20 % a while ago, 8 % now → target (≤ 10 %) met
    let school_id = school["id"].as_str().unwrap();
    let path = format!("/v1/family-plans/{id}/goals/{school_id}/follow-ups");
    let first = json!({"on_date": (today() - Duration::days(80)).to_string(), "value": 20, "note": "bedre mødetid"});
    assert_eq!(send(&app, Method::POST, &path, &key, &first).await.status(), 201);
    let second = json!({"on_date": today().to_string(), "value": 8});
    let response = send(&app, Method::POST, &path, &key, &second).await;
    assert_eq!(response.status(), 201);
    let plan: Value = response.json().await.unwrap();
    let school = goal(&plan, "school-attendance");
    let values: Vec<f64> = school["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [20.0, 8.0]);
    assert_eq!(school["current"], 8.0);
    assert_eq!(school["met"], true);
    // well-being goes up on its 1–10 scale
    let wellbeing_id = goal(&plan, "wellbeing")["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/family-plans/{id}/goals/{wellbeing_id}/follow-ups");
    let response = send(
        &app,
        Method::POST,
        &path,
        &key,
        &json!({"on_date": today().to_string(), "value": 6}),
    )
    .await;
    let plan: Value = response.json().await.unwrap();
    assert_eq!(goal(&plan, "wellbeing")["met"], false);

    // the job referral serves the employment goal; a referral for another family does not fit
    let employment_id = goal(&plan, "parent-employment")["id"].as_str().unwrap().to_owned();
    let referral = referral_for(&app, &key, "sag-2026-117").await;
    let link = format!("/v1/family-plans/{id}/goals/{employment_id}/referrals");
    let response = send(&app, Method::POST, &link, &key, &json!({"referral_id": referral})).await;
    assert_eq!(response.status(), 200);
    let plan: Value = response.json().await.unwrap();
    assert_eq!(
        goal(&plan, "parent-employment")["referrals"],
        json!([{"referral_id": referral, "helped": null}])
    );
    let other_family = referral_for(&app, &key, "sag-2026-999").await;
    let refused = send(&app, Method::POST, &link, &key, &json!({"referral_id": other_family})).await;
    assert_eq!(problem(refused, 422).await["errors"][0]["path"], "referral_id");

    // due: the goals not met are due a quarter after their last follow-up (or creation)
    let due: Value = get_json(&app, "/v1/family-plans/due", Some(&key)).await;
    assert_eq!(due["items"], json!([]), "nothing due today");
    let due: Value = get_json(&app, "/v1/family-plans/due?days_ahead=100", Some(&key)).await;
    let kinds: Vec<&str> = due["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["parent-employment", "wellbeing"], "{due}");
    assert_eq!(due["items"][0]["due"], (today() + Duration::days(91)).to_string());

    // a fourth and fifth goal; a sixth is one too many
    let other = json!({"kind": "other", "other_text": "Cykle til arbejde", "for_whom": "parent", "baseline": 2,
                       "target": 8, "target_date": (today() + Duration::days(200)).to_string()});
    let path = format!("/v1/family-plans/{id}/goals");
    assert_eq!(send(&app, Method::POST, &path, &key, &other).await.status(), 201);
    assert_eq!(send(&app, Method::POST, &path, &key, &other).await.status(), 201);
    problem(send(&app, Method::POST, &path, &key, &other).await, 422).await;

    // every read and write is in the audit trail
    let audit: Value = get_json(
        &app,
        &format!("/v1/audit?referral_id={id}&per_page=100"),
        Some(&app.admin),
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    for action in ["create", "read", "add-follow-up", "link-referral", "add-goal"] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
}

async fn bad_plans_are_refused_and_change_nothing(app: TestApp) {
    let key = app.caseworker.clone();
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|b| b["challenges"] = json!("Mor har CPR 010203-1234 og mange regninger")),
            "challenges",
        ),
        (Box::new(|b| b["family_ref"] = json!("0102031234")), "family_ref"),
        (Box::new(|b| b["consent"] = Value::Null), "consent"),
        (Box::new(|b| b["goals"] = json!([])), "goals"),
        (Box::new(|b| b["goals"][0]["baseline"] = json!(2)), "goals/0/baseline"),
        (Box::new(|b| b["goals"][1]["target"] = json!(120)), "goals/1/target"),
        (
            Box::new(|b| b["goals"][1]["for_whom"] = json!("parent")),
            "goals/1/for_whom",
        ),
        (Box::new(|b| b["goals"][2]["kind"] = json!("happiness")), "goals/2/kind"),
        (
            Box::new(|b| b["goals"][2]["kind"] = json!("other")),
            "goals/2/other_text",
        ),
    ];
    for (change, path) in cases {
        let mut body = plan_body("sag-1");
        change(&mut body);
        let response = send(&app, Method::POST, "/v1/family-plans", &key, &body).await;
        let problem = problem(response, 422).await;
        let paths: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert!(paths.contains(&path), "{path}: {problem}");
    }
    let plans: Value = get_json(&app, "/v1/family-plans", Some(&key)).await;
    assert_eq!(plans["items"], json!([]));

    // a follow-up in the future, off the scale, or naming a CPR number
    let plan = create_plan(&app, &key, "sag-2").await;
    let id = plan["id"].as_str().unwrap();
    let goal_id = goal(&plan, "wellbeing")["id"].as_str().unwrap();
    let path = format!("/v1/family-plans/{id}/goals/{goal_id}/follow-ups");
    for (body, field) in [
        (
            json!({"on_date": (today() + Duration::days(3)).to_string(), "value": 5}),
            "on_date",
        ),
        (json!({"on_date": today().to_string(), "value": 11}), "value"),
        (
            json!({"on_date": today().to_string(), "value": 5, "note": "cpr 0102031234"}),
            "note",
        ),
    ] {
        let problem = problem(send(&app, Method::POST, &path, &key, &body).await, 422).await;
        assert_eq!(problem["errors"][0]["path"], field, "{problem}");
    }
    let unknown_goal = format!("/v1/family-plans/{id}/goals/{}/follow-ups", Uuid::new_v4());
    let body = json!({"on_date": today().to_string(), "value": 5});
    problem(send(&app, Method::POST, &unknown_goal, &key, &body).await, 404).await;
    let plan: Value = get_json(&app, &format!("/v1/family-plans/{id}"), Some(&key)).await;
    assert_eq!(goal(&plan, "wellbeing")["follow_ups"], json!([]));
}

async fn only_the_owner_sees_a_plan(app: TestApp) {
    let plan = create_plan(&app, &app.caseworker, "sag-3").await;
    let id = plan["id"].as_str().unwrap();
    let goal_id = goal(&plan, "wellbeing")["id"].as_str().unwrap();
    let path = format!("/v1/family-plans/{id}");
    // another caseworker (another team): as if the plan did not exist
    let other = another_caseworker(&app).await;
    problem(app.get(&path, Some(&other)).await, 404).await;
    let follow_up = json!({"on_date": today().to_string(), "value": 5});
    let add = format!("{path}/goals/{goal_id}/follow-ups");
    problem(send(&app, Method::POST, &add, &other, &follow_up).await, 404).await;
    let theirs: Value = get_json(&app, "/v1/family-plans", Some(&other)).await;
    assert_eq!(theirs["items"], json!([]));
    // nor may it link its own referral to the plan
    let referral = referral_for(&app, &other, "sag-3").await;
    let link = format!("{path}/goals/{goal_id}/referrals");
    problem(
        send(
            &app,
            Method::POST,
            &link,
            &app.caseworker,
            &json!({"referral_id": referral}),
        )
        .await,
        422,
    )
    .await;
    // admins see aggregates only; readers and partners nothing; anonymous callers must authenticate
    problem(app.get(&path, Some(&app.admin)).await, 403).await;
    problem(app.get("/v1/family-plans", Some(&app.admin)).await, 403).await;
    problem(app.get(&path, Some(&app.reader)).await, 403).await;
    problem(app.get(&path, None).await, 401).await;
    // the goal kinds are public
    let kinds: Value = get_json(&app, "/v1/goal-kinds", None).await;
    let school = kinds["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["code"] == "school-attendance")
        .unwrap();
    assert_eq!(school["scale"], "percent");
    assert_eq!(school["better"], "lower");
}

async fn a_caseworker_makes_a_plan_in_the_web_app(app: TestApp) {
    let mut web = logged_in(&app, "rådgiver@aarhus.dk", Some("Vest")).await;
    let (status, html) = web.get("/plans").await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"nothing-due\""), "{html}");
    let (status, html) = web.get("/plans/new").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("<label class=\"form-label\" for=\"challenges\">"),
        "{html}"
    );
    let in_a_year = (today() + Duration::days(365)).to_string();
    let mut fields = vec![
        ("family_ref", "SAG-2026-0042"),
        ("challenges", "Datteren er meget væk fra skolen og er ked af det"),
        ("kind", "school-attendance"),
        ("for_whom", "child"),
        ("baseline", "30"),
        ("target", "10"),
        ("target_date", in_a_year.as_str()),
        ("consent", "yes"),
    ];
    // a CPR number in the family's words: refused, said beside the field, nothing made
    fields[1].1 = "Mor (010203-1234) siger datteren er væk fra skolen";
    let response = web.post("/plans", &fields, true).await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("id=\"error-summary\"") && html.contains("CPR"), "{html}");
    fields[1].1 = "Datteren er meget væk fra skolen og er ked af det";
    let response = web.post("/plans", &fields, true).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/plans/"), "{location}");
    let (status, html) = web.get(&location).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Datteren er meget væk fra skolen") && html.contains("Mindre skolefravær"),
        "{html}"
    );
    // the needs the family's words name were suggested
    assert!(html.contains("Mental sundhed"), "{html}");
    // the quarterly follow-up, with the value on the goal's scale
    let plans: Value = app
        .get("/v1/family-plans", Some(&app.admin))
        .await
        .json()
        .await
        .unwrap_or(json!({}));
    assert!(plans.get("items").is_none(), "an admin sees no plans: {plans}");
    let plan_id = location.trim_start_matches("/plans/").to_owned();
    let goal_id = html
        .split("id=\"goal-")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let today = today().to_string();
    let path = format!("/plans/{plan_id}/goals/{goal_id}/follow-ups");
    let response = web
        .post(&path, &[("on_date", &today), ("value", "12"), ("note", "bedre")], true)
        .await;
    assert_eq!(response.status(), 303);
    let (_, html) = web.get(&location).await;
    assert!(html.contains("12 %") && html.contains("bedre"), "{html}");
    // off the scale: refused beside that goal's form
    let response = web.post(&path, &[("on_date", &today), ("value", "140")], true).await;
    assert_eq!(response.status(), 422);
    // a referral for the same family, sent from the web app, linked to the goal from the plan page
    let (_, service) = crate::web::offer(&app, "Lektiecafé Gellerup", "Lektiehjælp").await;
    web.get(&format!("/refer/{service}")).await;
    let form = [
        ("family_ref", "SAG-2026-0042"),
        ("consent", "yes"),
        ("preferred_language", "da"),
    ];
    assert_eq!(web.post(&format!("/refer/{service}"), &form, true).await.status(), 303);
    let (_, html) = web.get(&location).await;
    assert!(
        html.contains(&format!("id=\"referral-{goal_id}\"")) && html.contains("Lektiehjælp (Sendt"),
        "{html}"
    );
    let referral_id = html
        .split(&format!("id=\"referral-{goal_id}\" name=\"referral_id\">"))
        .nth(1)
        .and_then(|rest| rest.split("value=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let link = format!("/plans/{plan_id}/goals/{goal_id}/referrals");
    assert_eq!(
        web.post(&link, &[("referral_id", &referral_id)], true).await.status(),
        303
    );
    let (_, html) = web.get(&location).await;
    assert!(html.contains("1 henvisning(er) knyttet til målet"), "{html}");
    assert!(
        !html.contains(&format!("id=\"referral-{goal_id}\"")),
        "nothing left to link: {html}"
    );
    // a colleague of the same team sees the plan; a caseworker of another team does not
    let mut colleague = logged_in(&app, "kollega@aarhus.dk", Some("Vest")).await;
    assert_eq!(colleague.get(&location).await.0, 200);
    let mut other = logged_in(&app, "anden@aarhus.dk", Some("Øst")).await;
    assert_eq!(other.get(&location).await.0, 404);
    let (_, html) = other.get("/plans").await;
    assert!(!html.contains(&plan_id), "{html}");
}

async fn a_family_gets_its_data_and_old_plans_are_purged(app: TestApp) {
    let key = app.caseworker.clone();
    let plan = create_plan(&app, &key, "sag-4").await;
    let id = plan["id"].as_str().unwrap().to_owned();
    let goal_id = goal(&plan, "wellbeing")["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/family-plans/{id}/goals/{goal_id}/follow-ups");
    let body = json!({"on_date": today().to_string(), "value": 6, "note": "bedre søvn"});
    assert_eq!(send(&app, Method::POST, &path, &key, &body).await.status(), 201);
    let mine = referral_for(&app, &key, "sag-4").await;
    let other_family = referral_for(&app, &key, "sag-5").await;

    // the data-subject export: the plan, its follow-ups and this family's referrals, nothing of other families
    let export: Value = get_json(&app, &format!("/v1/family-plans/{id}/export"), Some(&key)).await;
    assert_eq!(export["plan"]["id"], id.as_str());
    assert_eq!(
        goal(&export["plan"], "wellbeing")["follow_ups"][0]["note"],
        "bedre søvn"
    );
    let referrals: Vec<&str> = export["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(referrals, [mine.to_string().as_str()], "{export}");
    assert!(!referrals.contains(&other_family.to_string().as_str()));
    let other = another_caseworker(&app).await;
    problem(
        app.get(&format!("/v1/family-plans/{id}/export"), Some(&other)).await,
        404,
    )
    .await;

    // retention: plans changed after the cutoff stay; unchanged since before it, they go with goals and follow-ups
    let newer = create_plan(&app, &key, "sag-6").await;
    let purged = app
        .state
        .store
        .purge_plans_before(Utc::now() - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(purged, 0);
    let purged = app
        .state
        .store
        .purge_plans_before(Utc::now() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(purged, 2);
    problem(app.get(&format!("/v1/family-plans/{id}"), Some(&key)).await, 404).await;
    let newer_id = newer["id"].as_str().unwrap();
    problem(app.get(&format!("/v1/family-plans/{newer_id}"), Some(&key)).await, 404).await;
    // the referrals stay, under their own retention rule
    assert_eq!(
        app.get(&format!("/v1/referrals/{mine}"), Some(&key)).await.status(),
        200
    );
}

async fn the_partner_says_whether_a_referral_helped_the_goal(app: TestApp) {
    let key = app.caseworker.clone();
    let (id, org, referral) = linked_referral(&app, "sag-7").await;

    // the partner sees the goal's kind, never the plan
    let partner = app.partner_key(org).await;
    let seen: Value = get_json(&app, &format!("/v1/referrals/{referral}"), Some(&partner)).await;
    assert_eq!(seen["goal_kinds"], json!(["parent-employment"]));
    assert!(!seen.to_string().contains("Far vil gerne"), "{seen}");
    problem(app.get(&format!("/v1/family-plans/{id}"), Some(&partner)).await, 403).await;

    let path = format!("/v1/referrals/{referral}/transitions");
    // only on completed or failed, and only the partner
    let early = json!({"to": "accepted", "goal_outcome": "yes"});
    problem(send(&app, Method::POST, &path, &partner, &early).await, 422).await;
    for to in ["accepted", "in-progress"] {
        assert_eq!(
            send(&app, Method::POST, &path, &partner, &json!({"to": to}))
                .await
                .status(),
            200
        );
    }
    let by_sender = json!({"to": "cancelled", "goal_outcome": "no"});
    problem(send(&app, Method::POST, &path, &key, &by_sender).await, 422).await;
    let done = json!({"to": "completed", "goal_outcome": "partly"});
    assert_eq!(send(&app, Method::POST, &path, &partner, &done).await.status(), 200);
    let plan: Value = get_json(&app, &format!("/v1/family-plans/{id}"), Some(&key)).await;
    assert_eq!(
        goal(&plan, "parent-employment")["referrals"],
        json!([{"referral_id": referral, "helped": "partly"}])
    );
}

/// A plan with these goals: (kind, for whom, baseline, target).
async fn plan_with(app: &TestApp, family_ref: &str, goals: &[(&str, &str, f64, f64)]) -> Value {
    let in_a_year = (today() + Duration::days(365)).to_string();
    let goals: Vec<Value> = goals
        .iter()
        .map(|(kind, whom, baseline, target)| {
            json!({"kind": kind, "for_whom": whom, "baseline": baseline, "target": target, "target_date": in_a_year})
        })
        .collect();
    let body =
        json!({"family_ref": family_ref, "challenges": "Familiens egne ord", "consent": consent(), "goals": goals});
    let response = send(app, Method::POST, "/v1/family-plans", &app.caseworker, &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn follow_up(app: &TestApp, plan: &Value, kind: &str, value: f64) {
    let path = format!(
        "/v1/family-plans/{}/goals/{}/follow-ups",
        plan["id"].as_str().unwrap(),
        goal(plan, kind)["id"].as_str().unwrap()
    );
    let body = json!({"on_date": today().to_string(), "value": value});
    assert_eq!(
        send(app, Method::POST, &path, &app.caseworker, &body).await.status(),
        201
    );
}

async fn the_programme_report_counts_what_a_hand_count_does(app: TestApp) {
    let programme = json!({"name": "Opgang til Opgang", "area": "Gellerupparken", "starts_on": today().to_string(),
        "ends_on": (today() + Duration::days(4 * 365)).to_string(),
        "targets": [{"kind": "parent-employment", "share": 0.75}, {"kind": "school-attendance", "share": 0.5},
                    {"kind": "wellbeing", "share": 0.8}]});
    let bad = json!({"name": "x", "area": "y", "starts_on": today().to_string(), "ends_on": today().to_string(),
                     "targets": [{"kind": "wellbeing", "share": 1.5}]});
    let refused = problem(send(&app, Method::POST, "/v1/programmes", &app.admin, &bad).await, 422).await;
    assert_eq!(refused["errors"].as_array().unwrap().len(), 2, "{refused}");
    problem(
        send(&app, Method::POST, "/v1/programmes", &app.caseworker, &programme).await,
        403,
    )
    .await;
    let response = send(&app, Method::POST, "/v1/programmes", &app.admin, &programme).await;
    assert_eq!(response.status(), 201);
    let programme_id = id_of(&response.json().await.unwrap());

    // 30 enrolled plans. Hand count:
    // - plans 0–19 have a parent-employment goal; 15 of them met it (target 75 %: 15/20 = 75 %, met)
    // - plans 0–11 also have a school-attendance goal; 6 of them met it (target 50 %: 6/12, met)
    // - plans 20–29 have a well-being goal; 7 of them met it (target 80 %: 7/10 = 70 %, not met)
    // - plans 20–22 also have a Danish goal: 3 families, suppressed
    let mut ids = Vec::new();
    for i in 0..30 {
        let goals: Vec<(&str, &str, f64, f64)> = match i {
            0..=11 => vec![
                ("parent-employment", "parent", 0.0, 1.0),
                ("school-attendance", "child", 30.0, 10.0),
            ],
            12..=19 => vec![("parent-employment", "parent", 0.0, 1.0)],
            20..=22 => vec![
                ("wellbeing", "family", 4.0, 7.0),
                ("danish-language", "parent", 3.0, 6.0),
            ],
            _ => vec![("wellbeing", "family", 4.0, 7.0)],
        };
        let plan = plan_with(&app, &format!("sag-p{i}"), &goals).await;
        if i < 15 {
            follow_up(&app, &plan, "parent-employment", 1.0).await;
        }
        if i < 6 {
            follow_up(&app, &plan, "school-attendance", 8.0).await;
        }
        if (20..27).contains(&i) {
            follow_up(&app, &plan, "wellbeing", 8.0).await;
        }
        let path = format!("/v1/family-plans/{}/programmes", plan["id"].as_str().unwrap());
        let response = send(
            &app,
            Method::POST,
            &path,
            &app.caseworker,
            &json!({"programme_id": programme_id}),
        )
        .await;
        assert_eq!(response.status(), 200);
        let enrolled: Value = response.json().await.unwrap();
        assert_eq!(enrolled["programme_ids"], json!([programme_id]));
        ids.push(plan["id"].as_str().unwrap().to_owned());
    }
    // a plan outside the programme does not count
    let outside = plan_with(&app, "sag-outside", &[("parent-employment", "parent", 0.0, 1.0)]).await;
    follow_up(&app, &outside, "parent-employment", 1.0).await;

    // referrals of the enrolled families: six employment reachers (plans 0–5) to the job service, two families
    // (plans 20, 21) to a language café — that partner's row counts 2 families, so it is suppressed
    let (job_org, job) = job_service(&app).await;
    let cafe_org = app.organization("Sprogcaféen").await;
    let place = app.location(cafe_org, "Gellerup", 56.1530, 10.1330).await;
    let cafe = id_of(
        &app.service(
            json!({"name": "Sprogcafé", "description": "Tal dansk.", "organization_id": cafe_org,
                            "location_ids": [place], "needs": ["language-danish"], "languages": ["da"]}),
        )
        .await,
    );
    for (i, service) in [
        (0, job),
        (1, job),
        (2, job),
        (3, job),
        (4, job),
        (5, job),
        (20, cafe),
        (21, cafe),
    ] {
        let body = json!({"service_id": service, "family_ref": format!("sag-p{i}"), "consent": consent()});
        assert_eq!(
            send(&app, Method::POST, "/v1/referrals", &app.caseworker, &body)
                .await
                .status(),
            201
        );
    }

    problem(
        app.get(&format!("/v1/reports/programmes/{programme_id}"), Some(&app.caseworker))
            .await,
        403,
    )
    .await;
    let report = get_json(
        &app,
        &format!("/v1/reports/programmes/{programme_id}"),
        Some(&app.admin),
    )
    .await;
    let quarter = &report["quarters"][0];
    assert_eq!(report["quarters"].as_array().unwrap().len(), 1, "{report}");
    let cell = |kind: &str| {
        quarter["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["goal_kind"] == kind)
            .unwrap()
            .clone()
    };
    let employment = cell("parent-employment");
    assert_eq!(
        (employment["families"].clone(), employment["met"].clone()),
        (json!(20), json!(15))
    );
    assert_eq!(employment["share"], 0.75);
    assert_eq!(employment["meets_target"], true);
    let school = cell("school-attendance");
    assert_eq!(
        (
            school["families"].clone(),
            school["met"].clone(),
            school["meets_target"].clone()
        ),
        (json!(12), json!(6), json!(true))
    );
    let wellbeing = cell("wellbeing");
    assert_eq!(
        (
            wellbeing["families"].clone(),
            wellbeing["met"].clone(),
            wellbeing["meets_target"].clone()
        ),
        (json!(10), json!(7), json!(false))
    );
    let danish = cell("danish-language");
    assert_eq!(danish["suppressed"], true);
    assert!(
        danish["families"].is_null() && danish["met"].is_null() && danish["share"].is_null(),
        "{danish}"
    );
    let partner = |key: &str| {
        report["referrals_by_partner"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == key)
            .unwrap()
            .clone()
    };
    let jobs = partner(&job_org.to_string());
    assert_eq!(
        (
            jobs["families"].clone(),
            jobs["referrals"].clone(),
            jobs["open"].clone()
        ),
        (json!(6), json!(6), json!(6))
    );
    let cafe_row = partner(&cafe_org.to_string());
    assert_eq!(cafe_row["suppressed"], true);
    assert!(cafe_row["referrals"].is_null(), "{cafe_row}");
    let employment_need = report["referrals_by_need"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "employment")
        .unwrap()
        .clone();
    assert_eq!(employment_need["families"], 6);
    assert_eq!(
        report["partners_of_goal_reachers"],
        // plans 0–5 reached both their employment and their school goal
        json!([
            {"goal_kind": "parent-employment", "organization_id": job_org, "organization": "Jobcafé Vest", "families": 6},
            {"goal_kind": "school-attendance", "organization_id": job_org, "organization": "Jobcafé Vest", "families": 6}
        ])
    );
    // aggregates only: no plan, no family in the report
    let text = report.to_string();
    assert!(ids.iter().all(|id| !text.contains(id.as_str())), "{report}");

    // the municipality's dashboard: the same numbers in a table beside a chart, and as CSV
    let password = crate::web::person(&app, "kommune@aarhus.dk", Role::Admin, None, None).await;
    let mut web = crate::web::WebClient::new(&app);
    assert_eq!(web.login("kommune@aarhus.dk", &password).await.status(), 303);
    let (status, html) = web.get(&format!("/admin/programmes/{programme_id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Opgang til Opgang") && html.contains("<svg"), "{html}");
    for row in [
        "<td>Forælder i arbejde</td><td>20</td><td>15</td><td>75 %</td><td>75 %</td><td>når målet</td>",
        "<td>Bedre trivsel</td><td>10</td><td>7</td><td>70 %</td><td>80 %</td><td>under målet</td>",
        "<td>Bedre dansk</td><td>færre end 5</td>",
    ] {
        assert!(html.contains(row), "{row} not in {html}");
    }
    let csv = web
        .client
        .get(format!("{}/admin/programme-report/{programme_id}", web.base))
        .header("cookie", web.cookie_header())
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("parent-employment,0.75,20,15,0.75,true,false"), "{csv}");
    assert!(csv.contains("danish-language,,,,,,true"), "{csv}");
    // a new programme from the form; a target of 150 % is refused beside its field
    let (_, _) = web.get("/admin/programmes").await;
    let start = today().to_string();
    let end = (today() + Duration::days(365)).to_string();
    let mut fields = vec![
        ("name", "Sommerprogram"),
        ("area", "Bispehaven"),
        ("starts_on", start.as_str()),
        ("ends_on", end.as_str()),
        ("target-wellbeing", "150"),
    ];
    assert_eq!(web.post("/admin/programmes", &fields, true).await.status(), 422);
    fields[4].1 = "80";
    let response = web.post("/admin/programmes", &fields, true).await;
    assert_eq!(response.status(), 303);
    let programmes = get_json(&app, "/v1/programmes", Some(&app.admin)).await;
    assert_eq!(programmes["items"].as_array().unwrap().len(), 2);
}

async fn a_partner_answers_in_the_web_inbox(app: TestApp) {
    let key = app.caseworker.clone();
    let (id, org, referral) = linked_referral(&app, "sag-8").await;

    let password = crate::web::person(&app, "job@jobcafe.dk", Role::Partner, Some(org), None).await;
    let mut web = crate::web::WebClient::new(&app);
    assert_eq!(web.login("job@jobcafe.dk", &password).await.status(), 303);
    let page = format!("/referrals/{referral}");
    let (status, html) = web.get(&page).await;
    assert_eq!(status, 200);
    // no question before the referral can close
    assert!(!html.contains("goal-outcome-"), "{html}");
    for to in ["accepted", "in-progress"] {
        let version = html_version(&web.get(&page).await.1);
        let response = web
            .post(&format!("{page}/move"), &[("to", to), ("version", &version)], true)
            .await;
        assert_eq!(response.status(), 303, "{to}");
    }
    let (_, html) = web.get(&page).await;
    assert!(
        html.contains("id=\"goal-outcome-completed\"") && html.contains("Forælder i arbejde"),
        "{html}"
    );
    assert!(
        !html.contains("Far vil gerne"),
        "the partner never sees the plan: {html}"
    );
    let version = html_version(&html);
    let fields = [
        ("to", "completed"),
        ("version", version.as_str()),
        ("goal_outcome", "yes"),
    ];
    assert_eq!(web.post(&format!("{page}/move"), &fields, true).await.status(), 303);
    let plan = get_json(&app, &format!("/v1/family-plans/{id}"), Some(&key)).await;
    assert_eq!(goal(&plan, "parent-employment")["referrals"][0]["helped"], "yes");
}

/// A plan for `family_ref` and a referral of the same family to the job service, linked to its employment goal:
/// (plan id, the service's organization, referral id).
async fn linked_referral(app: &TestApp, family_ref: &str) -> (String, Uuid, Uuid) {
    let key = app.caseworker.clone();
    let plan = create_plan(app, &key, family_ref).await;
    let id = plan["id"].as_str().unwrap().to_owned();
    let goal_id = goal(&plan, "parent-employment")["id"].as_str().unwrap().to_owned();
    let (org, service) = job_service(app).await;
    let body = json!({"service_id": service, "family_ref": family_ref, "consent": consent()});
    let response = send(app, Method::POST, "/v1/referrals", &key, &body).await;
    let referral = id_of(&response.json().await.unwrap());
    let link = format!("/v1/family-plans/{id}/goals/{goal_id}/referrals");
    assert_eq!(
        send(app, Method::POST, &link, &key, &json!({"referral_id": referral}))
            .await
            .status(),
        200
    );
    (id, org, referral)
}

/// The referral's version in its page's action forms.
fn html_version(html: &str) -> String {
    html.split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

//! The `brobygger users` commands, run as a user runs them: the real binary on a fresh data directory.

use std::io::Write;
use std::process::{Command, Stdio};

fn brobygger(data_dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_brobygger"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the brobygger binary runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn users_create_list_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = brobygger(
        dir.path(),
        &[
            "users",
            "create",
            "--email",
            "Anna@Aarhus.dk",
            "--role",
            "caseworker",
            "--name",
            "Anna",
            "--team",
            "Gellerup",
        ],
        None,
    );
    assert!(ok, "{err}");
    let password = out.lines().last().unwrap().to_owned();
    assert_eq!(
        password.len(),
        20,
        "a generated one-time password alone on the last line: {out}"
    );

    let (ok, _, err) = brobygger(
        dir.path(),
        &[
            "users",
            "create",
            "--email",
            "bo@aarhus.dk",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("a password of my own\n"),
    );
    assert!(ok, "{err}");
    // A second person with the same address, a partner without organization, a reader: refused.
    for args in [
        &["users", "create", "--email", "anna@aarhus.dk", "--role", "caseworker"][..],
        &["users", "create", "--email", "p@forening.dk", "--role", "partner"][..],
        &["users", "create", "--email", "r@app.dk", "--role", "reader"][..],
    ] {
        let (ok, _, _) = brobygger(dir.path(), args, None);
        assert!(!ok, "{args:?} must fail");
    }

    let (ok, out, _) = brobygger(dir.path(), &["users", "list"], None);
    assert!(ok);
    assert!(out.contains("anna@aarhus.dk\tcaseworker\t-\tGellerup\tactive"), "{out}");
    assert!(out.contains("bo@aarhus.dk\tadmin"), "{out}");

    // The passwords work until the person is disabled.
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("brobygger.db").display());
    let store = entities::Store::connect(&url).await.unwrap();
    assert!(store.verify_login("anna@aarhus.dk", &password).await.unwrap().is_ok());
    assert!(
        store
            .verify_login("bo@aarhus.dk", "a password of my own")
            .await
            .unwrap()
            .is_ok()
    );
    let (ok, out, _) = brobygger(dir.path(), &["users", "disable", "anna@aarhus.dk"], None);
    assert!(ok, "{out}");
    assert!(store.verify_login("anna@aarhus.dk", &password).await.unwrap().is_err());
    let (_, out, _) = brobygger(dir.path(), &["users", "list"], None);
    assert!(out.contains("Gellerup\tdisabled"), "{out}");
}

#[tokio::test]
async fn keys_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = brobygger(
        dir.path(),
        &["keys", "create", "--role", "reader", "--label", "Kortapp"],
        None,
    );
    assert!(ok, "{err}");
    let id = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("created reader key "))
        .unwrap()
        .to_owned();
    let secret = out.lines().last().unwrap().to_owned();
    assert!(secret.starts_with("bb_"));

    let (ok, out, err) = brobygger(dir.path(), &["keys", "list"], None);
    assert!(ok, "{err}");
    let line = out.lines().find(|l| l.starts_with(&id)).expect("the key is listed");
    let columns: Vec<&str> = line.split('\t').collect();
    assert_eq!(columns[1..4], ["reader", "-", "Kortapp"]);
    assert_eq!(columns[5], "active");
    assert!(!out.contains(&secret), "secrets are never listed");

    let (ok, out, err) = brobygger(dir.path(), &["keys", "revoke", &id], None);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("revoked reader key {id}"));
    let (_, out, _) = brobygger(dir.path(), &["keys", "list"], None);
    assert!(out.lines().find(|l| l.starts_with(&id)).unwrap().contains("\trevoked "));

    let (ok, _, err) = brobygger(
        dir.path(),
        &["keys", "revoke", "00000000-0000-0000-0000-000000000000"],
        None,
    );
    assert!(!ok && err.contains("not found"), "{err}");
    let store = entities::Store::connect(&api::default_database_url(dir.path()))
        .await
        .unwrap();
    assert!(
        store.authenticate(&secret).await.unwrap().is_none(),
        "a revoked key authenticates nothing"
    );
}

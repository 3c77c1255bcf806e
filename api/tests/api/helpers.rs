//! Test harness: the real application on a random port, on a fresh SQLite file or a fresh PostgreSQL
//! database (when `TEST_DATABASE_URL` is set).

use std::sync::Arc;

use api::app::HttpSettings;
use api::mail::MailSettings;
use api::webhook_worker::WebhookSettings;
use api::{AppState, Config};
use entities::directory::Role;
use reqwest::{Client, Method, RequestBuilder, Response};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub state: Arc<AppState>,
    /// The app's database (a SQLite file or a PostgreSQL database of its own).
    pub database_url: String,
    /// The data directory (SQLite file, index, mail outbox folder).
    pub data_dir: std::path::PathBuf,
    pub admin: String,
    pub caseworker: String,
    pub reader: String,
    _data_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// The PostgreSQL server of `TEST_DATABASE_URL`, for tests that run on PostgreSQL only (None: skip them).
pub fn postgres_server() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.is_empty())
}

/// A fresh, empty PostgreSQL database on the server named by `TEST_DATABASE_URL`.
pub async fn fresh_postgres_database(server_url: &str) -> String {
    let admin = Database::connect(server_url)
        .await
        .unwrap_or_else(|e| panic!("TEST_DATABASE_URL={server_url} is not reachable: {e}"));
    let name = format!("brobygger_test_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("creating a test database");
    let (prefix, _) = server_url
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL ends in /DATABASE");
    format!("{prefix}/{name}")
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(
            backend,
            false,
            HttpSettings::default(),
            test_webhooks(),
            MailSettings::default(),
        )
        .await
    }

    /// The app with the Aarhus demo directory loaded, as `cargo run` serves it.
    pub async fn spawn_with_demo_data(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(
            backend,
            true,
            HttpSettings::default(),
            test_webhooks(),
            MailSettings::default(),
        )
        .await
    }

    /// The app with CORS origins or a rate limit (the others have neither).
    pub async fn spawn_with_http(backend: Backend, http: HttpSettings) -> Option<TestApp> {
        Self::spawn_with(backend, false, http, test_webhooks(), MailSettings::default()).await
    }

    /// The app with other webhook settings than the tests' (which allow loopback and retry at once).
    pub async fn spawn_with_webhooks(backend: Backend, webhooks: WebhookSettings) -> Option<TestApp> {
        Self::spawn_with(
            backend,
            false,
            HttpSettings::default(),
            webhooks,
            MailSettings::default(),
        )
        .await
    }

    /// The app with these mail settings (an SMTP sink, no background loop, ...).
    pub async fn spawn_with_mail(backend: Backend, mail: MailSettings) -> Option<TestApp> {
        Self::spawn_with(backend, false, HttpSettings::default(), test_webhooks(), mail).await
    }

    async fn spawn_with(
        backend: Backend,
        seed: bool,
        http: HttpSettings,
        webhooks: WebhookSettings,
        mail: MailSettings,
    ) -> Option<TestApp> {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => api::default_database_url(data_dir.path()),
            Backend::Postgres => match std::env::var("TEST_DATABASE_URL") {
                Ok(url) if !url.is_empty() => fresh_postgres_database(&url).await,
                _ => {
                    eprintln!("TEST_DATABASE_URL not set: skipping the PostgreSQL run");
                    return None;
                }
            },
        };
        Some(Self::start(database_url, data_dir, seed, http, webhooks, mail).await)
    }

    /// The app on an existing database (another node of a deployment, or a database prepared by the test),
    /// with `data_dir` as its data directory (its search index, mail outbox and, unless it already holds one,
    /// a family secret of its own).
    pub async fn spawn_on(database_url: String, data_dir: tempfile::TempDir) -> TestApp {
        Self::start(
            database_url,
            data_dir,
            false,
            HttpSettings::default(),
            test_webhooks(),
            MailSettings::default(),
        )
        .await
    }

    async fn start(
        database_url: String,
        data_dir: tempfile::TempDir,
        seed: bool,
        http: HttpSettings,
        webhooks: WebhookSettings,
        mail: MailSettings,
    ) -> TestApp {
        let config = Config {
            database_url: database_url.clone(),
            data_dir: data_dir.path().to_owned(),
            seed,
            secret: None,
            http,
            webhooks,
            mail,
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
        let admin = state.store.create_key(Role::Admin, None, None).await.unwrap().1;
        let caseworker = state.store.create_key(Role::Caseworker, None, None).await.unwrap().1;
        let reader = state.store.create_key(Role::Reader, None, None).await.unwrap().1;
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            client: Client::new(),
            state,
            database_url,
            data_dir: data_dir.path().to_owned(),
            admin,
            caseworker,
            reader,
            _data_dir: data_dir,
            _shutdown: tx,
        }
    }

    pub fn request(&self, method: Method, path: &str, key: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, key: Option<&str>) -> Response {
        self.request(Method::GET, path, key).send().await.expect("request")
    }

    pub async fn send_json(&self, method: Method, path: &str, key: Option<&str>, body: &Value) -> Response {
        self.request(method, path, key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn partner_key(&self, organization_id: Uuid) -> String {
        self.state
            .store
            .create_key(Role::Partner, Some(organization_id), None)
            .await
            .expect("partner key")
            .1
    }

    /// Creates an organization as admin and returns its id.
    pub async fn organization(&self, name: &str) -> Uuid {
        let response = self
            .send_json(
                Method::POST,
                "/v1/organizations",
                Some(&self.admin),
                &json!({"name": name, "description": "Forening i Gellerup", "kind": "association"}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
        id_of(&response.json::<Value>().await.unwrap())
    }

    pub async fn location(&self, organization_id: Uuid, name: &str, latitude: f64, longitude: f64) -> Uuid {
        let response = self
            .send_json(
                Method::POST,
                "/v1/locations",
                Some(&self.admin),
                &json!({"organization_id": organization_id, "name": name, "latitude": latitude, "longitude": longitude,
                        "address": {"address_1": "Gudrunsvej 10", "postal_code": "8220", "city": "Brabrand"}}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
        id_of(&response.json::<Value>().await.unwrap())
    }

    pub async fn service(&self, body: Value) -> Value {
        let response = self
            .send_json(Method::POST, "/v1/services", Some(&self.admin), &body)
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
        response.json::<Value>().await.unwrap()
    }
}

/// Tests deliver webhooks to receivers on loopback, and retry almost at once.
pub fn test_webhooks() -> WebhookSettings {
    WebhookSettings {
        allow_private_targets: true,
        retry_waits: vec![std::time::Duration::from_millis(200); 4],
        timeout: std::time::Duration::from_secs(5),
    }
}

/// The body of a 2xx answer (the status and body in the message of any other).
pub async fn json_ok(response: Response) -> Value {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).expect("a JSON body")
}

/// `field` of each of a list's `items`, as strings.
pub fn field_of_items<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default())
        .collect()
}

pub fn id_of(value: &Value) -> Uuid {
    value["id"].as_str().and_then(|s| s.parse().ok()).expect("an id")
}

/// Asserts an RFC 9457 problem with this status and returns it.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type {content_type}"
    );
    let path = response.url().path().to_owned();
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["title"].is_string() && body["type"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    // the stable type of this kind of problem (docs/problems.md), and where it happened
    let kind = api::problem::problem_type(reqwest::StatusCode::from_u16(status).unwrap());
    assert!(
        kind.starts_with(api::problem::PROBLEM_TYPE_BASE),
        "{status} has no type of its own"
    );
    assert_eq!(body["type"], kind.as_str(), "{body}");
    assert_eq!(body["instance"], path.as_str(), "{body}");
    if status != 422 {
        assert!(body.get("errors").is_none(), "{body}");
    }
    body
}

/// Runs one async test against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(@with spawn; $($name),+);
    };
    (@with $spawn:ident; $($name:ident),+) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::$spawn($crate::helpers::Backend::Sqlite).await.unwrap();
                super::$name(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::$spawn($crate::helpers::Backend::Postgres).await {
                    super::$name(app).await;
                }
            }
        })+
    };
}

/// Like `on_both_backends!`, on an app serving the Aarhus demo directory.
#[macro_export]
macro_rules! on_both_backends_with_demo_data {
    ($($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(@with spawn_with_demo_data; $($name),+);
    };
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

/// The real `brobygger` binary as a child process, so that a test can SIGKILL it: on `data_dir`, with
/// `database_url` or else the SQLite file in `data_dir`.
pub struct ChildServer {
    pub base: String,
    port: u16,
    data_dir: std::path::PathBuf,
    database_url: Option<String>,
    child: std::process::Child,
}

impl ChildServer {
    fn command(data_dir: &std::path::Path, database_url: Option<&str>) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_brobygger"));
        command.arg("--data-dir").arg(data_dir).env_remove("DATABASE_URL");
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        command
    }

    /// Runs a command of the binary (`keys create ...`) and returns the last line it printed.
    pub fn cli(data_dir: &std::path::Path, database_url: Option<&str>, args: &[&str]) -> String {
        let out = Self::command(data_dir, database_url).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout.lines().last().unwrap_or_default().to_owned()
    }

    /// Starts `serve` without demo data on `port` and waits until it is ready.
    pub async fn start(data_dir: &std::path::Path, database_url: Option<&str>, port: u16) -> ChildServer {
        let child = Self::command(data_dir, database_url)
            .args(["serve", "--no-seed", "--addr", &format!("127.0.0.1:{port}")])
            .env("BROBYGGER_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the brobygger binary runs");
        let server = ChildServer {
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir: data_dir.to_owned(),
            database_url: database_url.map(str::to_owned),
            child,
        };
        for _ in 0..300 {
            if reqwest::get(format!("{}/ready", server.base))
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server at {} did not get ready", server.base);
    }

    /// Creates a record with a POST that must answer 201; its id.
    pub async fn create(&self, path: &str, key: &str, body: &Value) -> Uuid {
        let response = Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "POST {path}");
        id_of(&response.json().await.unwrap())
    }

    /// The JSON body of a GET.
    pub async fn get_json(&self, path: &str, key: &str) -> Value {
        let response = Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// SIGKILL: no shutdown, no flushing.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// A new process on the same data and port.
    pub async fn restart(&self) -> ChildServer {
        Self::start(&self.data_dir, self.database_url.as_deref(), self.port).await
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

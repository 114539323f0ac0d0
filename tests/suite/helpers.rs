//! Test support: an isolated database per test (a SQLite file by default, a fresh PostgreSQL
//! database when `TEST_DATABASE_URL` is set), the app built exactly as production builds it,
//! and a small browser-like client that keeps cookies and reads CSRF tokens out of pages.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use ragtime::app;
use ragtime::config::Config;
use ragtime::models::{role, session, user};
use ragtime::state::AppState;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection};
use tower::ServiceExt;

pub const SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123456789";

/// One database that belongs to one test, removed when the test ends.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin_url: Option<(String, String)>,
}

impl TestDb {
    pub fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let name = format!(
                    "ragtime_test_{}",
                    ragtime::crypto::random_token(9)
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                run_admin_sql(&admin, &format!("CREATE DATABASE {name}"));
                let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    _dir: None,
                    pg_admin_url: Some((admin, name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("test.sqlite").display()
                );
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg_admin_url: None,
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_admin_url.is_some()
    }

    /// The first line of a test marked `#[ignore = "needs PostgreSQL …"]`: run anywhere else
    /// (`--include-ignored` without `TEST_DATABASE_URL`), it fails instead of passing unchecked.
    pub fn require_postgres(&self) {
        assert!(
            self.is_postgres(),
            "this test needs PostgreSQL: TEST_DATABASE_URL=postgres://… cargo test -- --include-ignored"
        );
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg_admin_url.take() {
            run_admin_sql(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

/// Run one statement on the admin database, from a thread of its own so it works inside and
/// outside an async runtime (and from `Drop`).
fn run_admin_sql(admin_url: &str, sql: &str) {
    let (admin_url, sql) = (admin_url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use sea_orm::ConnectionTrait;
            let db = ragtime::db::connect_url(&admin_url, 1)
                .await
                .expect("admin connection");
            db.execute_unprepared(&sql).await.expect(&sql);
            db.close().await.ok();
        })
    })
    .join()
    .expect("admin statement");
}

pub struct TestApp {
    pub db: DatabaseConnection,
    pub router: Router,
    pub state: AppState,
    /// Where this test's audio is kept (`RAGTIME_MEDIA_URL=file://...`), removed with it.
    pub media_dir: tempfile::TempDir,
    /// Owned so the database lives as long as the app and is dropped with it.
    _test_db: TestDb,
}

impl TestApp {
    /// See [`TestDb::require_postgres`].
    pub fn require_postgres(&self) {
        self._test_db.require_postgres();
    }

    pub async fn new() -> TestApp {
        Self::with_env(&[]).await
    }

    /// The app in the testing configuration plus `vars`, on a freshly deployed database.
    pub async fn with_env(vars: &[(&str, &str)]) -> TestApp {
        let test_db = TestDb::new();
        let media_dir = tempfile::tempdir().expect("temp dir");
        let mut map: HashMap<String, String> = HashMap::from([
            ("RAGTIME_CONFIG".into(), "testing".into()),
            (
                "RAGTIME_MEDIA_URL".into(),
                format!("file://{}", media_dir.path().display()),
            ),
            // Objects of deleted tracks go at once (in production, after an hour).
            ("RAGTIME_MEDIA_ORPHAN_GRACE".into(), "0".into()),
            ("SECRET_KEY".into(), SECRET_KEY.into()),
            ("DATABASE_URL".into(), test_db.url.clone()),
            // What absolute URLs in mails and the API point to.
            ("RAGTIME_SERVER_NAME".into(), "localhost".into()),
        ]);
        for (k, v) in vars {
            map.insert((*k).into(), (*v).into());
        }
        let config = Config::from_source(&move |k: &str| map.get(k).cloned()).expect("config");
        ragtime::commands::deploy::deploy_url(&test_db.url)
            .await
            .expect("deploy");
        let db = ragtime::db::connect(&config).await.expect("connect");
        let state =
            AppState::new(config, db.clone(), ragtime::mail::Transport::memory()).expect("state");
        TestApp {
            router: app::router(state.clone()),
            db,
            state,
            media_dir,
            _test_db: test_db,
        }
    }

    /// Wait for the work handlers left for after answering (mail queued after the answer).
    pub async fn settle(&self) {
        let background = &self.state.background;
        background.close();
        background.wait().await;
        background.reopen();
    }

    /// Run the mail delivery loop once (after writing the notification mail due now); returns
    /// everything in the outbox so far.
    pub async fn deliver_mail(&self) -> Vec<ragtime::mail::Outgoing> {
        self.deliver_mail_at(chrono::Utc::now()).await
    }

    /// [`Self::deliver_mail`], with the notification mail due at `now` (a digest a day later).
    pub async fn deliver_mail_at(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<ragtime::mail::Outgoing> {
        self.settle().await;
        let state = &self.state;
        ragtime::notices::write_due(&self.db, &state.config, &state.signer, now)
            .await
            .expect("notification mail");
        ragtime::mail::deliver_due(&self.db, &self.state.config.mail, &self.state.mail)
            .await
            .expect("delivery");
        self.state.mail.outbox()
    }

    pub fn client(&self) -> Client {
        Client {
            router: self.router.clone(),
            cookies: HashMap::new(),
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    /// A confirmed user with the default role.
    pub async fn create_user(&self, username: &str) -> user::Model {
        let role = role::default_role(&self.db).await.unwrap().expect("roles");
        let mut account = user::new_account(
            &format!("{}@example.com", username.to_lowercase()),
            username,
            role.id,
            "not-a-real-hash",
        );
        account.confirmed = Set(true);
        account.insert(&self.db).await.expect("insert user")
    }

    /// A confirmed user with the role named `role` ("User", "Moderator", "Administrator").
    pub async fn create_user_with_role(&self, username: &str, role: &str) -> user::Model {
        let account = self.create_user(username).await;
        let role = role::find_by_name(&self.db, role)
            .await
            .unwrap()
            .expect("role");
        self.give_role(&account, role.id).await
    }

    /// A role of our own, beside the three of the spec (`permissions` as bits).
    pub async fn create_role(&self, name: &str, permissions: i32) -> role::Model {
        role::ActiveModel {
            name: Set(name.into()),
            default: Set(false),
            permissions: Set(permissions),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .expect("insert role")
    }

    /// `user` with the role `role_id` instead of theirs.
    pub async fn give_role(&self, user: &user::Model, role_id: i32) -> user::Model {
        let mut active: user::ActiveModel = user.clone().into();
        active.role_id = Set(role_id);
        active.update(&self.db).await.expect("set role")
    }

    /// Publish a composition directly (no HTTP), `title` as the title and description.
    pub async fn publish(
        &self,
        artist: &user::Model,
        title: &str,
    ) -> ragtime::models::composition::Model {
        let draft = ragtime::models::composition::Draft {
            release_type: 1,
            title,
            description: title,
            tags: Vec::new(),
        };
        ragtime::models::composition::create(&self.db, artist.id, &draft)
            .await
            .expect("publish")
    }

    /// A confirmed user whose password is [`PASSWORD`].
    pub async fn create_user_with_password(&self, username: &str) -> user::Model {
        let account = self.create_user(username).await;
        let hash = ragtime::access::password::hash(PASSWORD.to_owned())
            .await
            .unwrap();
        user::set_password_hash(&self.db, account.id, &hash)
            .await
            .unwrap();
        user::find_by_id(&self.db, account.id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The same app in a second process (another web dyno): its own connections and state,
    /// sharing only the database.
    pub async fn another_process(&self) -> Client {
        let config = (*self.state.config).clone();
        let db = ragtime::db::connect(&config).await.expect("connect");
        let state = AppState::new(config, db, ragtime::mail::Transport::memory()).expect("state");
        Client {
            router: app::router(state),
            cookies: HashMap::new(),
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    /// A client of this app on a database connection that counts every query it runs.
    pub async fn counting_client(
        &self,
    ) -> (Client, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let config = (*self.state.config).clone();
        let mut db = ragtime::db::connect(&config).await.expect("connect");
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let state = AppState::new(config, db, ragtime::mail::Transport::memory()).expect("state");
        let client = Client {
            router: app::router(state),
            cookies: HashMap::new(),
            peer: "127.0.0.1:40000".parse().unwrap(),
        };
        (client, queries)
    }

    /// A client already logged in as `user` (a session row and its cookie).
    pub async fn logged_in_client(&self, user: &user::Model) -> Client {
        let token = ragtime::crypto::random_token(32);
        session::create(&self.db, &token, user.id, false)
            .await
            .unwrap();
        let mut client = self.client();
        client
            .cookies
            .insert(ragtime::web::session::SESSION_COOKIE.into(), token);
        client
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The value of the first `csrf_token` hidden field in the page.
    pub fn csrf_token(&self) -> String {
        let marker = r#"name="csrf_token" value=""#;
        let start = self.body.find(marker).expect("a CSRF field in the page") + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// A browser stand-in: keeps cookies between requests.
pub struct Client {
    pub router: Router,
    pub cookies: HashMap<String, String>,
    pub peer: SocketAddr,
}

impl Client {
    pub fn request(&self, method: Method, path: &str) -> axum::http::request::Builder {
        let mut builder = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            builder = builder.header(header::COOKIE, cookie);
        }
        builder
    }

    pub async fn send(&mut self, req: Request<Body>) -> TestResponse {
        let mut req = req;
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        for value in parts.headers.get_all(header::SET_COOKIE) {
            let c = cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            let expired = c.max_age().is_some_and(|m| m.is_zero() || m.is_negative());
            if expired {
                self.cookies.remove(c.name());
            } else {
                self.cookies
                    .insert(c.name().to_owned(), c.value().to_owned());
            }
        }
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        let req = self.request(Method::GET, path).body(Body::empty()).unwrap();
        self.send(req).await
    }

    /// POST a urlencoded form, as a browser would from a page of this site.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> TestResponse {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = self
            .request(Method::POST, path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }
}

/// A password hash as Werkzeug's `generate_password_hash` made them for the Flask original:
/// PBKDF2-HMAC-SHA256, computed here.
/// Post a form to `action` with the CSRF token of `page`, as a browser on that page would.
pub async fn submit(
    client: &mut Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let token = client.get(page).await.csrf_token();
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    client.post_form(action, &all).await
}

pub fn werkzeug_hash(password: &str, salt: &str, iterations: u32) -> String {
    use hmac::Hmac;
    use sha2::Sha256;
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt.as_bytes(), iterations, &mut out)
        .expect("pbkdf2");
    let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
    format!("pbkdf2:sha256:{iterations}${salt}${hex}")
}

/// The password `register` and `create_user_with_password` use.
pub const PASSWORD: &str = "correct horse battery";

/// Fill in and send the registration form, CSRF token included.
pub async fn register(client: &mut Client, email: &str, username: &str) -> TestResponse {
    let token = client.get("/auth/register").await.csrf_token();
    client
        .post_form(
            "/auth/register",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("username", username),
                ("password", PASSWORD),
                ("password2", PASSWORD),
            ],
        )
        .await
}

/// Fill in and send the login form.
pub async fn login(client: &mut Client, email: &str, password: &str, next: &str) -> TestResponse {
    let token = client.get("/auth/login").await.csrf_token();
    client
        .post_form(
            "/auth/login",
            &[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
                ("next", next),
            ],
        )
        .await
}

/// The path of the link in the last mail to `to` (the mails' links are absolute).
pub fn link_path(mails: &[ragtime::mail::Outgoing], to: &str) -> String {
    let mail = mails.iter().rev().find(|m| m.to == to).expect("a mail");
    let start = mail.text.find("http://").expect("an absolute link");
    let link = url::Url::parse(mail.text[start..].split_whitespace().next().unwrap()).unwrap();
    match link.query() {
        Some(query) => format!("{}?{query}", link.path()),
        None => link.path().to_owned(),
    }
}

/// The binary with a clean environment, run from `dir` (an empty directory, so no `.env` of
/// the developer's leaks in).
pub fn ragtime(dir: &std::path::Path, vars: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ragtime"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .current_dir(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// The `href` of the link marked `rel="<rel>"`, if any.
pub fn rel_link(body: &str, rel: &str) -> Option<String> {
    let marker = format!(r#"" rel="{rel}""#);
    let end = body.find(&marker)?;
    let start = body[..end].rfind("href=\"")? + "href=\"".len();
    // As a browser reads the attribute: askama writes `&` as `&#38;`.
    Some(body[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

/// A track as the store would describe a 1 s mono WAV, object key and hash from `n`, for
/// tests that add tracks through the model.
pub fn new_track(n: u8) -> ragtime::models::track::NewTrack {
    let sha = format!("{n:02x}").repeat(32);
    ragtime::models::track::NewTrack {
        title: format!("Take {n}"),
        object_key: format!("{sha}.wav"),
        container: "wav".into(),
        codec: "pcm".into(),
        mime: "audio/wav".into(),
        duration_ms: 1_000,
        sample_rate: 8_000,
        channels: 1,
        bit_rate: 128_000,
        size_bytes: 16_044,
        sha256: sha,
        peaks: vec![128; 100],
    }
}

//! `ragtime import-flask` (issue 16): a Flask Ragtime database built by the test (a SQLite file,
//! or a PostgreSQL database of its own when `TEST_DATABASE_URL` is set) with nasty rows of every
//! kind the schema notes list, imported into a deployed Ragtime; then people log in with their
//! old passwords and old links answer.

use axum::http::StatusCode;
use ragtime::commands::import_flask::{self, Options, Report, Rule};
use ragtime::models::{composition, follow, user};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, Statement};
use secrecy::ExposeSecret;

use crate::helpers::{TestApp, TestDb, login, ragtime, werkzeug_hash};

/// The Flask Ragtime's tables at its last revision (the same SQL on both databases).
const FLASK_SCHEMA: &[&str] = &[
    "CREATE TABLE roles (id INTEGER PRIMARY KEY, name VARCHAR(64) UNIQUE, \
     \"default\" BOOLEAN, permissions INTEGER)",
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(64) UNIQUE, \
     username VARCHAR(64) UNIQUE, role_id INTEGER REFERENCES roles (id), \
     password_hash VARCHAR(128), confirmed BOOLEAN, name VARCHAR(64), location VARCHAR(64), \
     bio TEXT, age INTEGER, last_seen TIMESTAMP, avatar_hash VARCHAR(32))",
    "CREATE TABLE compositions (id INTEGER PRIMARY KEY, release_type INTEGER, \
     title VARCHAR(64), description TEXT, description_html TEXT, \"timestamp\" TIMESTAMP, \
     artist_id INTEGER REFERENCES users (id), slug VARCHAR(128) UNIQUE)",
    "CREATE TABLE follows (follower_id INTEGER NOT NULL REFERENCES users (id), \
     following_id INTEGER NOT NULL REFERENCES users (id), \"timestamp\" TIMESTAMP, \
     PRIMARY KEY (follower_id, following_id))",
    "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
    "INSERT INTO alembic_version VALUES ('515a4f38c862')",
];

const ANN_PASSWORD: &str = "cat on the keys";
const DESCRIPTION: &str =
    "<script>alert(1)</script> *not bold*\nsecond line\n\nsee https://example.com/a?x=1&y=2";

/// A throwaway old database: a SQLite file in rollback-journal mode (as Flask leaves
/// data-dev.sqlite), or a PostgreSQL database of its own, dropped with the test.
struct OldDb {
    db: TestDb,
}

impl OldDb {
    async fn with(rows: &[&str]) -> OldDb {
        let db = TestDb::new();
        let conn = ragtime::db::connect_url(&db.url, 1).await.unwrap();
        if !db.is_postgres() {
            conn.execute_unprepared("PRAGMA journal_mode=DELETE")
                .await
                .unwrap();
        }
        for sql in FLASK_SCHEMA.iter().chain(rows) {
            conn.execute_unprepared(sql).await.expect(sql);
        }
        conn.close().await.unwrap();
        OldDb { db }
    }

    /// Every kind of row the schema notes warn of.
    async fn nasty() -> OldDb {
        let ann = werkzeug_hash(ANN_PASSWORD, "s4lt", 1000);
        let other = werkzeug_hash("whatever-it-was", "pepper", 1000);
        let users = format!(
            "INSERT INTO users (id, email, username, role_id, password_hash, confirmed, name, \
             location, bio, age, last_seen, avatar_hash) VALUES \
             (1, 'Ann@Example.org', 'ann', 9, '{ann}', TRUE, 'Ann Lee', 'Paris', \
                 'Plays <i>piano</i>', 30, '2020-03-01 10:00:00', 'abc'), \
             (2, 'john@example.org', 'john', 7, '{other}', NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
             (3, ' JOHN@example.org ', 'John', NULL, '{other}', TRUE, NULL, NULL, NULL, NULL, \
                 '2020-04-01 00:00:00', NULL), \
             (4, ' cat@Example.org', '9lives cat', 11, '{other}', FALSE, NULL, NULL, NULL, NULL, \
                 '2020-05-01 00:00:00', NULL), \
             (5, 'not an email', 'bob', 3, '{other}', TRUE, NULL, NULL, NULL, NULL, \
                 '2020-05-01 00:00:00', NULL), \
             (6, 'ann@example.org', 'ann2', 7, '{other}', TRUE, NULL, NULL, NULL, NULL, \
                 '2020-06-01 00:00:00', NULL), \
             (7, 'loner@example.org', 'loner', 7, '{other}', TRUE, NULL, NULL, NULL, NULL, NULL, NULL)"
        );
        let compositions = format!(
            "INSERT INTO compositions (id, release_type, title, description, description_html, \
             \"timestamp\", artist_id, slug) VALUES \
             (1, 3, 'Hello, World!', '{DESCRIPTION}', '<p>ignored</p>', '2020-01-05 12:00:00', 1, \
                 '1-hello-world-'), \
             (11, NULL, '   ', NULL, NULL, '2020-01-06 12:00:00', 2, NULL), \
             (12, 2, 'Lost', 'no artist', NULL, '2020-01-07 12:00:00', NULL, '12-stale-title'), \
             (13, 1, ' Padded ', 'x', NULL, NULL, 3, '13-padded-')"
        );
        OldDb::with(&[
            "INSERT INTO roles VALUES (7, 'User', TRUE, 7), (3, 'Moderator', FALSE, 15), \
             (9, 'Administrator', FALSE, 31), (11, 'Reviewer', FALSE, 3)",
            &users,
            &compositions,
            "INSERT INTO follows VALUES (1, 1, '2019-12-01 00:00:00'), \
             (2, 2, '2021-01-01 00:00:00'), (3, 3, '2021-01-01 00:00:00'), \
             (4, 4, '2021-01-01 00:00:00'), (5, 5, '2021-01-01 00:00:00'), \
             (6, 6, '2021-01-01 00:00:00'), (2, 1, '2020-02-01 00:00:00'), \
             (3, 1, NULL), (1, 2, '2020-02-02 00:00:00')",
        ])
        .await
    }

    fn url(&self) -> String {
        self.db.url.clone()
    }
}

fn target_url(app: &TestApp) -> String {
    app.state.config.database_url.expose_secret().to_owned()
}

async fn import(app: &TestApp, old: &OldDb, dry_run: bool, merge: bool) -> anyhow::Result<Report> {
    let options = Options {
        from: old.url(),
        dry_run,
        merge,
        ..Default::default()
    };
    import_flask::import_url(&target_url(app), &options).await
}

/// What a report resolved, without the new values that depend on the time of the run.
fn resolutions(report: &Report) -> Vec<(Rule, String, String)> {
    report
        .resolutions
        .iter()
        .map(|r| (r.rule, r.subject.clone(), r.old.clone()))
        .collect()
}

/// The new value a rule gave `subject`.
fn resolved(report: &Report, rule: Rule, subject: &str) -> String {
    report
        .resolutions
        .iter()
        .find(|r| r.rule == rule && r.subject == subject)
        .unwrap_or_else(|| panic!("{rule:?} of {subject} in:\n{report}"))
        .new
        .clone()
}

/// Every foreign key of the database as the database defines it: the bulk load on PostgreSQL
/// drops some for the move and must add them all back; SQLite's are part of the tables.
async fn foreign_keys(app: &TestApp) -> Vec<String> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT conrelid::regclass::text || ' ' || conname || ' ' || \
             pg_get_constraintdef(oid) AS key FROM pg_constraint WHERE contype = 'f' ORDER BY 1"
        }
        _ => {
            "SELECT m.name || ' (' || f.\"from\" || ') REFERENCES ' || f.\"table\" || \
             '(' || f.\"to\" || ') ON DELETE ' || f.on_delete AS key \
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
             WHERE m.type = 'table' ORDER BY 1"
        }
    };
    app.db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get::<String>("", "key").unwrap())
        .collect()
}

async fn by_name(app: &TestApp, username: &str) -> user::Model {
    user::find_by_username(&app.db, username)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{username} imported"))
}

#[tokio::test]
async fn a_flask_site_moves_with_its_people_passwords_links_and_follows() {
    let old = OldDb::nasty().await;
    let app = TestApp::new().await;
    let keys = foreign_keys(&app).await;
    let report = import(&app, &old, false, false).await.unwrap();
    let text = report.to_string();
    assert_eq!(foreign_keys(&app).await, keys, "every foreign key is back");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("follows ") && k.contains("REFERENCES users")),
        "{keys:?}"
    );
    assert_eq!(
        (report.users, report.compositions, report.follows),
        (7, 4, 9),
        "{text}"
    );

    // Every resolution, with its old and new value.
    let expected = [
        (Rule::EmailNormalised, "user 1", "ann@example.org"),
        (Rule::EmailTaken, "user 3", "john+3@example.org"),
        (Rule::EmailNormalised, "user 4", "cat@example.org"),
        (Rule::EmailInvalid, "user 5", "user5@flask-import.invalid"),
        (Rule::EmailTaken, "user 6", "ann+6@example.org"),
        (Rule::UsernameTaken, "user 3", "John_3"),
        (Rule::UsernameInvalid, "user 4", "u9lives_cat"),
        (Rule::RoleMissing, "user 3", "User"),
        (Rule::RoleUnknown, "user 4", "User"),
        (Rule::ConfirmedMissing, "user 2", "false"),
        (Rule::TitleEmpty, "composition 11", "Untitled"),
        (Rule::ReleaseTypeMissing, "composition 11", "1 (Single)"),
        (Rule::Orphaned, "composition 12", "former_artists"),
        (Rule::TitleChanged, "composition 13", "Padded"),
        (Rule::SelfFollowAdded, "user 7", "following themself"),
    ];
    for (rule, subject, new) in expected {
        assert_eq!(resolved(&report, rule, subject), new, "{text}");
    }
    for (rule, subject) in [
        (Rule::LastSeenMissing, "user 2"),
        (Rule::LastSeenMissing, "user 7"),
        (Rule::JoinDateUnknown, "user 7"),
        (Rule::CompositionTimestampMissing, "composition 13"),
        (Rule::FollowTimestampMissing, "follow 3 → 1"),
    ] {
        resolved(&report, rule, subject);
    }
    assert!(
        text.contains(r#"user 3: " JOHN@example.org " → "john+3@example.org""#),
        "{text}"
    );
    assert!(text.contains(Rule::Orphaned.describe()), "{text}");

    // Ids, hashes and dates kept; the join date inferred from the earliest trace.
    let ann = by_name(&app, "ann").await;
    assert_eq!(ann.id, 1);
    assert_eq!(ann.email, "ann@example.org");
    assert_eq!(ann.about_me.as_deref(), Some("Plays <i>piano</i>"));
    assert!(ann.password_hash.starts_with("pbkdf2:sha256:1000$"));
    assert_eq!(ann.member_since.to_rfc3339(), "2020-01-05T12:00:00+00:00");
    assert_eq!(ann.last_seen.to_rfc3339(), "2020-03-01T10:00:00+00:00");
    let john = by_name(&app, "john").await;
    assert!(!john.confirmed);
    assert_eq!(john.member_since.to_rfc3339(), "2020-01-06T12:00:00+00:00");
    // Counts kept by the triggers: ann is followed by john and John, the self-follow aside.
    assert_eq!(
        (
            ann.followers_count,
            ann.following_count,
            ann.compositions_count
        ),
        (2, 1, 1)
    );
    let orphans = by_name(&app, "former_artists").await;
    assert_eq!(orphans.compositions_count, 1);
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 8);
    // The old nine, and the self-follows of loner and of former_artists.
    assert_eq!(follow::Entity::find().count(&app.db).await.unwrap(), 11);

    // Ann logs in with her old password (and is rehashed on the way).
    let mut client = app.client();
    let res = login(&mut client, "ann@example.org", ANN_PASSWORD, "/").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.header("location"), Some("/"));
    assert!(
        by_name(&app, "ann")
            .await
            .password_hash
            .starts_with("$argon2id$")
    );
    let mut other = app.client();
    let res = login(&mut other, "ann@example.org", "not her password", "/").await;
    assert_ne!(res.header("location"), Some("/"));

    // The old link answers 301 with the current slug; the page shows the old text as it was.
    let res = client.get("/composition/1-hello-world-").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.header("location"), Some("/composition/1-hello-world"));
    let page = client.get("/composition/1-hello-world").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; *not bold*<br>\nsecond line"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<a href="https://example.com/a?x=1&amp;y=2" rel="nofollow">"#)
    );
    assert_eq!(client.get("/user/John_3").await.status, StatusCode::OK);
    assert_eq!(client.get("/user/ann").await.status, StatusCode::OK);
    // A renamed account's old profile URL (compared exactly, as Flask did) leads to its new one;
    // the account that kept the name keeps its URL.
    for (old, new) in [
        ("John", "/user/John_3"),
        ("9lives%20cat", "/user/u9lives_cat"),
    ] {
        let res = client.get(&format!("/user/{old}")).await;
        assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY, "{old}");
        assert_eq!(res.header("location"), Some(new), "{old}");
    }
    let john_page = client.get("/user/john").await;
    assert_eq!(john_page.status, StatusCode::OK);
    assert!(john_page.body.contains("<h1"), "{}", john_page.body);
    assert_eq!(client.get("/user/JOHN").await.status, StatusCode::OK);
    assert_eq!(
        client.get("/user/9lives").await.status,
        StatusCode::NOT_FOUND
    );
    // Searchable like any composition.
    let found = client.get("/search?q=hello").await;
    assert!(
        found.body.contains("/composition/1-hello-world"),
        "{}",
        found.body
    );

    // New rows get ids past the imported ones.
    let newcomer = app.create_user("newcomer").await;
    assert!(newcomer.id > orphans.id);
    let published = app.publish(&newcomer, "Fresh").await;
    assert!(published.id > 13);

    // A second run changes nothing and says so.
    let again = import(&app, &old, false, false).await.unwrap();
    assert!(again.already_imported.is_some());
    assert!(again.to_string().contains("already imported"), "{again}");
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 9);
    assert_eq!(composition::Entity::find().count(&app.db).await.unwrap(), 5);
}

#[tokio::test]
async fn a_dry_run_reports_what_it_would_do_and_changes_nothing() {
    let old = OldDb::nasty().await;
    let app = TestApp::new().await;
    let dry = import(&app, &old, true, false).await.unwrap();
    assert!(
        dry.dry_run && dry.to_string().contains("would import 7 users"),
        "{dry}"
    );
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(composition::Entity::find().count(&app.db).await.unwrap(), 0);
    assert_eq!(follow::Entity::find().count(&app.db).await.unwrap(), 0);
    // Not even the bookkeeping: the real run afterwards reports the same.
    let real = import(&app, &old, false, false).await.unwrap();
    assert_eq!(resolutions(&real), resolutions(&dry));
    assert!(!resolutions(&real).is_empty());
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 8);
}

/// Paging through the old tables a few rows at a time (the keyset of follows is a pair, so
/// pages break inside one follower's follows) imports exactly what one page does, merged
/// ids included.
#[tokio::test]
async fn small_read_batches_import_the_same_rows_as_one_big_one() {
    let old = OldDb::nasty().await;
    let mut imported = Vec::new();
    for batch in [1, 2, 3, import_flask::READ_BATCH] {
        let app = TestApp::new().await;
        app.create_user("zed").await;
        let options = Options {
            from: old.url(),
            merge: true,
            batch,
            ..Default::default()
        };
        let report = import_flask::import_url(&target_url(&app), &options)
            .await
            .unwrap();
        assert_eq!(
            (report.users, report.compositions, report.follows),
            (7, 4, 9),
            "batch {batch}: {report}"
        );
        let mut follows: Vec<(i32, i32)> = follow::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.follower_id, f.followed_id))
            .collect();
        follows.sort();
        let mut users: Vec<(i32, String)> = user::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        users.sort();
        let mut compositions: Vec<(i32, String, i32)> = composition::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.id, c.title, c.artist_id))
            .collect();
        compositions.sort();
        imported.push((resolutions(&report), users, compositions, follows));
    }
    for other in &imported[1..] {
        assert_eq!(other, &imported[0]);
    }
    let (_, users, compositions, follows) = &imported[0];
    // zed, the seven and former_artists; the old nine follows and two added self-follows.
    assert_eq!((users.len(), compositions.len(), follows.len()), (9, 4, 11));
}

#[tokio::test]
async fn a_site_with_its_own_people_is_refused_unless_merged_and_then_taken_ids_move() {
    let old = OldDb::nasty().await;
    let app = TestApp::new().await;
    let zed = app.create_user("zed").await;
    let bob = app.create_user("bob").await;
    let own = app.publish(&zed, "Mine").await;
    assert_eq!((zed.id, own.id), (1, 1));

    let refused = import(&app, &old, false, false).await.unwrap_err();
    assert!(
        format!("{refused:#}").contains("already has 2 user(s) of its own"),
        "{refused:#}"
    );
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 2);

    let report = import(&app, &old, false, true).await.unwrap();
    // Ann's id 1 and her composition's id 1 were taken: both moved past every id.
    let ann_id: i32 = resolved(&report, Rule::UserIdTaken, "user 1")
        .parse()
        .unwrap();
    let composition_id: i32 = resolved(&report, Rule::CompositionIdTaken, "composition 1")
        .parse()
        .unwrap();
    assert!(ann_id > 7 && composition_id > 13, "{report}");
    assert_eq!(resolved(&report, Rule::UsernameTaken, "user 5"), "bob_5");
    let ann = by_name(&app, "ann").await;
    assert_eq!(ann.id, ann_id);
    assert_eq!(ann.followers_count, 2, "follows follow the new id");
    let moved = composition::find(&app.db, composition_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.title.as_str(), moved.artist_id),
        ("Hello, World!", ann_id)
    );
    assert_eq!(by_name(&app, "bob").await.id, bob.id);

    // The old link leads to the moved composition; ours still answer as before.
    let mut client = app.client();
    let res = client.get("/composition/1-hello-world-").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        res.header("location").map(str::to_owned),
        Some(format!("/composition/{composition_id}-hello-world"))
    );
    assert_eq!(
        client.get("/composition/1-mine").await.status,
        StatusCode::OK
    );
    let res = client.get("/composition/1-something-else").await;
    assert_eq!(res.header("location"), Some("/composition/1-mine"));
    // Untouched ids are kept even in a merge.
    assert_eq!(
        client
            .get("/composition/12-stale-title")
            .await
            .header("location"),
        Some("/composition/12-lost")
    );
}

#[tokio::test]
async fn bad_sources_and_unprepared_targets_are_refused_with_a_clear_message() {
    let app = TestApp::new().await;
    let refuse = |from: String| {
        let target = target_url(&app);
        async move {
            let options = Options {
                from,
                ..Default::default()
            };
            format!(
                "{:#}",
                import_flask::import_url(&target, &options)
                    .await
                    .unwrap_err()
            )
        }
    };
    assert!(
        refuse("mysql://u@h/db".into())
            .await
            .contains("must be a postgres://")
    );
    assert!(
        refuse("sqlite:///nowhere/data-dev.sqlite".into())
            .await
            .contains("no such file: /nowhere/data-dev.sqlite")
    );
    let dir = tempfile::tempdir().unwrap();
    let text_file = dir.path().join("notes.sqlite");
    std::fs::write(&text_file, "not a database at all, just text ".repeat(200)).unwrap();
    let said = refuse(format!("sqlite://{}", text_file.display())).await;
    assert!(said.contains("not the Flask Ragtime's database"), "{said}");
    // Ragtime's own database is no Flask database either.
    let ours = TestDb::new();
    ragtime::commands::deploy::deploy_url(&ours.url)
        .await
        .unwrap();
    let said = refuse(ours.url.clone()).await;
    assert!(said.contains("not the Flask Ragtime's database"), "{said}");
    let older = OldDb::with(&["UPDATE alembic_version SET version_num = '38c4e85512a9'"]).await;
    assert!(refuse(older.url()).await.contains("upgrade it first"));

    // A target `ragtime deploy` never prepared.
    let old = OldDb::nasty().await;
    let bare = TestDb::new();
    let options = Options {
        from: old.url(),
        ..Default::default()
    };
    let said = format!(
        "{:#}",
        import_flask::import_url(&bare.url, &options)
            .await
            .unwrap_err()
    );
    assert!(said.contains("run `ragtime deploy` first"), "{said}");

    // The command says so too, and exits non-zero without a panic.
    let work = tempfile::tempdir().unwrap();
    let target = target_url(&app);
    let out = ragtime(
        work.path(),
        &[
            ("RAGTIME_CONFIG", "development"),
            ("DATABASE_URL", target.as_str()),
        ],
    )
    .args([
        "import-flask",
        "--from",
        "sqlite:///nowhere/data-dev.sqlite",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("ragtime import-flask: --from: no such file"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn the_command_imports_from_the_old_database_and_a_second_run_says_nothing_changed() {
    let old = OldDb::nasty().await;
    let app = TestApp::new().await;
    let work = tempfile::tempdir().unwrap();
    let target = target_url(&app);
    let vars = [
        ("RAGTIME_CONFIG", "development"),
        ("DATABASE_URL", target.as_str()),
    ];
    let run = || {
        ragtime(work.path(), &vars)
            .args(["import-flask", "--from", &old.url()])
            .output()
            .unwrap()
    };
    let first = run();
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        said.contains("imported 7 users, 4 compositions, 9 follows"),
        "{said}"
    );
    assert!(
        said.contains(r#"user 5: "not an email" → "user5@flask-import.invalid""#),
        "{said}"
    );
    let second = run();
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("nothing changed"));
    assert_eq!(user::Entity::find().count(&app.db).await.unwrap(), 8);
}

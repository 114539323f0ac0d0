//! `ragtime deploy`: migrations, roles, self-follows; idempotent and safe to run twice at once.
//! And the pool every process connects with.

use crate::helpers::TestDb;
use ragtime::commands::deploy::{deploy, deploy_url};
use ragtime::models::{Permission, follow, role, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, Statement,
};

#[tokio::test]
async fn deploy_creates_the_schema_and_exactly_the_roles_of_the_spec() {
    let test_db = TestDb::new();
    let report = deploy_url(&test_db.url).await.unwrap();
    assert_eq!(
        report.migrations_applied,
        vec![
            "m20261125_000001_initial",
            "m20261201_000001_tracks",
            "m20261202_000001_counts",
            "m20261203_000001_discovery",
            "m20261204_000001_notifications",
            "m20261205_000001_descriptions",
            "m20261206_000001_flask_import",
            "m20261207_000001_flask_usernames",
            "m20261208_000001_mail_retention",
            "m20261209_000001_plays"
        ]
    );
    assert_eq!(
        report.roles.inserted,
        vec!["User", "Moderator", "Administrator"]
    );

    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let roles: Vec<(String, i32, bool)> = role::all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.permissions, r.default))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("User".to_owned(), 7, true),
            ("Moderator".to_owned(), 15, false),
            ("Administrator".to_owned(), 31, false),
        ]
    );
    assert_eq!(
        [
            Permission::FOLLOW,
            Permission::COMMENT,
            Permission::PUBLISH,
            Permission::MODERATE,
            Permission::ADMIN
        ]
        .map(|p| p.0),
        [1, 2, 4, 8, 16]
    );
    let admin = role::find_by_name(&db, "Administrator")
        .await
        .unwrap()
        .unwrap();
    assert!(admin.has_permission(Permission::ADMIN));
    let user_role = role::default_role(&db).await.unwrap().unwrap();
    assert_eq!(user_role.name, "User");
    assert!(!user_role.has_permission(Permission::MODERATE));
}

#[tokio::test]
async fn deploy_twice_gives_the_same_state() {
    let test_db = TestDb::new();
    deploy_url(&test_db.url).await.unwrap();
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let roles_before = role::all(&db).await.unwrap();

    let second = deploy_url(&test_db.url).await.unwrap();
    assert!(second.changed_nothing(), "{second}");
    assert_eq!(role::all(&db).await.unwrap(), roles_before);
}

#[tokio::test]
async fn deploy_repairs_tampered_roles_and_missing_self_follows() {
    let test_db = TestDb::new();
    deploy_url(&test_db.url).await.unwrap();
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();

    // Someone edited a role by hand, and two users lack their self-follow.
    db.execute_unprepared(
        "UPDATE roles SET permissions = 1, \"default\" = true WHERE name = 'Moderator'",
    )
    .await
    .unwrap();
    let role_id = role::default_role(&db).await.unwrap().unwrap().id;
    for name in ["ann", "bob"] {
        user::new_account(&format!("{name}@example.com"), name, role_id, "x")
            .insert(&db)
            .await
            .unwrap();
    }

    let report = deploy(&db).await.unwrap();
    assert_eq!(report.roles.updated, vec!["Moderator"]);
    assert_eq!(report.self_follows_added, 2);
    let moderator = role::find_by_name(&db, "Moderator").await.unwrap().unwrap();
    assert_eq!((moderator.permissions, moderator.default), (15, false));
    assert_eq!(follow::count(&db).await.unwrap(), 2);
    let follows = follow::Entity::find().all(&db).await.unwrap();
    assert!(follows.iter().all(|f| f.follower_id == f.followed_id));

    assert!(deploy(&db).await.unwrap().changed_nothing());
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn two_deploys_at_once_on_postgres_both_succeed_with_one_set_of_roles() {
    let test_db = TestDb::new();
    test_db.require_postgres();
    let (a, b) = tokio::join!(deploy_url(&test_db.url), deploy_url(&test_db.url));
    let (a, b) = (a.unwrap(), b.unwrap());
    // Each migration was applied once, by one of them.
    use sea_orm_migration::MigratorTrait;
    assert_eq!(
        a.migrations_applied.len() + b.migrations_applied.len(),
        ragtime::migration::Migrator::migrations().len(),
        "{a}\n{b}"
    );
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let roles = role::all(&db).await.unwrap();
    assert_eq!(roles.len(), 3);
    assert_eq!(roles.iter().filter(|r| r.default).count(), 1);
}

#[tokio::test]
async fn email_and_username_are_unique_whatever_their_case() {
    let test_db = TestDb::new();
    deploy_url(&test_db.url).await.unwrap();
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let role_id = role::default_role(&db).await.unwrap().unwrap().id;
    // Stored exactly as given, to prove the schema itself refuses case variants.
    let insert = |email: &str, username: &str| {
        let mut account = user::new_account(email, username, role_id, "x");
        account.email = Set(email.to_owned());
        account
    };
    insert("ann@example.com", "Ann").insert(&db).await.unwrap();
    assert!(
        insert("ANN@example.com", "other")
            .insert(&db)
            .await
            .is_err()
    );
    assert!(
        insert("other@example.com", "aNN")
            .insert(&db)
            .await
            .is_err()
    );
    insert("bob@example.com", "Bob").insert(&db).await.unwrap();
}

async fn backend_pid(db: &DatabaseConnection) -> Result<i32, sea_orm::DbErr> {
    let sql = Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid");
    let row = db.query_one_raw(sql).await?.expect("one row");
    row.try_get("", "pid")
}

/// The pool pings a connection only after it sat idle (src/db.rs), not before every query:
/// one the database ended during a quiet moment must still be replaced without an error.
#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn a_connection_the_database_ended_while_the_pool_was_quiet_is_replaced_without_an_error() {
    let test_db = TestDb::new();
    test_db.require_postgres();
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let first = backend_pid(&db).await.unwrap();
    // Another session ends it, as a database restart or failover would.
    let admin = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    admin
        .execute_unprepared(&format!("SELECT pg_terminate_backend({first})"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let second = backend_pid(&db)
        .await
        .expect("the dead connection was noticed and replaced");
    assert_ne!(first, second);
}

#[tokio::test]
async fn deploying_replaces_avatar_keys_that_are_the_md5_of_an_address() {
    let test_db = TestDb::new();
    deploy_url(&test_db.url).await.unwrap();
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let role_id = role::default_role(&db).await.unwrap().unwrap().id;
    // Keys as the release before this one made them (or an old dyno still does mid-deploy).
    let md5 = |email: &str| format!("{:x}", md5::compute(email));
    let mut ann = user::new_account("Ann@Example.com", "ann", role_id, "x");
    ann.avatar_hash = Set(md5("ann@example.com"));
    let ann = ann.insert(&db).await.unwrap();
    let mut bob = user::new_account("bob@example.com", "bob", role_id, "x");
    bob.avatar_hash = Set(md5("bob@example.com"));
    let bob = bob.insert(&db).await.unwrap();
    let cat = user::new_account("cat@example.com", "cat", role_id, "x")
        .insert(&db)
        .await
        .unwrap();

    let report = deploy(&db).await.unwrap();
    assert_eq!(report.avatar_keys_replaced, 2, "{report}");
    let key = |id| {
        let db = &db;
        async move { user::find_by_id(db, id).await.unwrap().unwrap().avatar_hash }
    };
    let (ann_key, bob_key) = (key(ann.id).await, key(bob.id).await);
    assert_ne!(ann_key, md5("ann@example.com"));
    assert_eq!(ann_key.len(), 32);
    assert_ne!(ann_key, bob_key);
    assert_eq!(key(cat.id).await, cat.avatar_hash, "a random key stays");
    assert!(deploy(&db).await.unwrap().changed_nothing());
}

/// A composition stored as the previous release rendered it: `description_html` of old.
async fn stored_the_old_way(
    app: &crate::helpers::TestApp,
    artist: &user::Model,
    description: &str,
    old_html: &str,
) -> i32 {
    use ragtime::models::composition;
    use sea_orm::{ColumnTrait, QueryFilter};
    let draft = composition::Draft {
        release_type: 1,
        title: "Old",
        description,
        tags: Vec::new(),
    };
    let created = composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap();
    composition::Entity::update_many()
        .col_expr(
            composition::Column::DescriptionHtml,
            sea_orm::sea_query::Expr::value(old_html),
        )
        .filter(composition::Column::Id.eq(created.id))
        .exec(&app.db)
        .await
        .unwrap();
    created.id
}

async fn description_html(app: &crate::helpers::TestApp, id: i32) -> String {
    ragtime::models::composition::find(&app.db, id)
        .await
        .unwrap()
        .unwrap()
        .description_html
}

#[tokio::test]
async fn the_descriptions_migration_renders_stored_descriptions_the_new_way() {
    use ragtime::migration::{Migrator, render_descriptions_again};
    use sea_orm_migration::MigratorTrait;
    let app = crate::helpers::TestApp::new().await;
    let artist = app.create_user("maria.keys").await;
    let heading = stored_the_old_way(&app, &artist, "# Side A", "<h1>Side A</h1>\n").await;
    let table = stored_the_old_way(
        &app,
        &artist,
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "<p>| a | b |\n|---|---|\n| 1 | 2 |</p>\n",
    )
    .await;
    let image =
        stored_the_old_way(&app, &artist, "![cover](https://e.com/c.png)", "<p></p>\n").await;
    let plain = stored_the_old_way(&app, &artist, "just *words*", "<p>kept as stored</p>\n").await;

    // The migration as `deploy` applies it: undone (it undoes nothing), with those after it,
    // and applied again.
    let steps = Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261205_000001_descriptions")
        .unwrap()
        + 1;
    Migrator::down(&app.db, Some(steps as u32)).await.unwrap();
    assert_eq!(
        Migrator::get_pending_migrations(&app.db)
            .await
            .unwrap()
            .len(),
        steps
    );
    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(description_html(&app, heading).await, "<h3>Side A</h3>\n");
    assert!(
        description_html(&app, table).await.contains("<td>1</td>"),
        "{}",
        description_html(&app, table).await
    );
    assert_eq!(
        description_html(&app, image).await,
        "<p><a href=\"https://e.com/c.png\" rel=\"nofollow\">cover</a></p>\n"
    );
    // Every row is rendered again, not only those with a heading, a table or an image.
    assert_eq!(
        description_html(&app, plain).await,
        "<p>just <em>words</em></p>\n"
    );

    // In batches smaller than the rows, every row is still reached, once; a second run has
    // nothing left to change.
    let mut stale = Vec::new();
    for n in 0..5 {
        stale
            .push(stored_the_old_way(&app, &artist, &format!("## Part {n}"), "<h2>old</h2>").await);
    }
    assert_eq!(render_descriptions_again(&app.db, 2).await.unwrap(), 5);
    for (n, id) in stale.into_iter().enumerate() {
        assert_eq!(
            description_html(&app, id).await,
            format!("<h4>Part {n}</h4>\n")
        );
    }
    assert_eq!(render_descriptions_again(&app.db, 2).await.unwrap(), 0);
}

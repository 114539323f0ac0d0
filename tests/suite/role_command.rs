//! `ragtime role <email> <role>`: an existing account gets a role from the command line, and a
//! wrong email or role is refused with a message naming what exists.

use ragtime::models::{role, user};
use sea_orm::EntityTrait;

use crate::helpers::{TestDb, ragtime};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_role_command_gives_an_account_a_role_and_refuses_what_does_not_exist() {
    let test_db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let vars = [
        ("RAGTIME_CONFIG", "development"),
        ("DATABASE_URL", test_db.url.as_str()),
    ];
    let run = |args: &[&str]| ragtime(dir.path(), &vars).args(args).output().unwrap();
    let seeded = run(&["seed", "--users", "2", "--compositions", "0", "--seed", "4"]);
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    let db = ragtime::db::connect_url(&test_db.url, 1).await.unwrap();
    let ann = user::Entity::find().all(&db).await.unwrap().remove(0);
    let role_of = |account: user::Model| {
        let db = db.clone();
        async move {
            let fresh = user::find_by_id(&db, account.id).await.unwrap().unwrap();
            role::Entity::find_by_id(fresh.role_id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .name
        }
    };
    assert_eq!(role_of(ann.clone()).await, "User");

    let shouted = ann.email.to_uppercase();
    let out = run(&["role", &shouted, "moderator"]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}{}", text(&out.stderr));
    assert!(
        said.contains(&format!(
            "{} ({}) is now Moderator (was User)",
            ann.email, ann.username
        )),
        "{said}"
    );
    assert_eq!(role_of(ann.clone()).await, "Moderator");
    let again = run(&["role", &ann.email, "Moderator"]);
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("is already Moderator"));

    let out = run(&["role", &ann.email, "Overlord"]);
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains(r#"no role is named "Overlord"; the roles are"#)
            && said.contains("Administrator"),
        "{said}"
    );
    let out = run(&["role", "nobody@example.com", "User"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(r#"no account has the email address "nobody@example.com""#));
    let out = run(&["role", &ann.email]);
    assert!(!out.status.success(), "both arguments are required");
    assert_eq!(role_of(ann).await, "Moderator");
}

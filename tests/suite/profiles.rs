//! Profiles, following and the followers / following lists through HTTP with CSRF on: what a
//! profile shows and to whom, follow and unfollow and their edge cases, editing one's profile
//! and an administrator editing anyone's.

use crate::helpers::{TestApp, submit};
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use ragtime::models::composition::{self, Draft};
use ragtime::models::{follow, registration, role, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

/// A confirmed artist with the self-follow registration gives everyone.
async fn artist(app: &TestApp, username: &str) -> user::Model {
    let user = app.create_user(username).await;
    follow::add(&app.db, user.id, user.id).await.unwrap();
    user
}

async fn administrator(app: &TestApp, username: &str) -> user::Model {
    let admin = artist(app, username).await;
    let role = role::find_by_name(&app.db, "Administrator")
        .await
        .unwrap()
        .unwrap();
    app.give_role(&admin, role.id).await;
    admin
}

async fn publish(app: &TestApp, artist: &user::Model, title: &str) {
    let draft = Draft {
        release_type: 1,
        title,
        description: "A *new* tune.",
        tags: Vec::new(),
    };
    composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap();
}

async fn fetch(app: &TestApp, id: i32) -> user::Model {
    user::find_by_id(&app.db, id).await.unwrap().unwrap()
}

fn count_badge(label: &str, n: u64) -> String {
    format!(r#"{label} <span class="badge">{n}</span>"#)
}

fn position(body: &str, needle: &str) -> usize {
    body.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the page"))
}

#[tokio::test]
async fn a_profile_shows_the_counts_without_the_self_follow_and_the_compositions_newest_first() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let cat = artist(&app, "cat").await;
    follow::follow(&app.db, bob.id, ann.id).await.unwrap();
    follow::follow(&app.db, ann.id, cat.id).await.unwrap();
    follow::follow(&app.db, ann.id, bob.id).await.unwrap();
    publish(&app, &ann, "Maple Leaf Rag").await;
    publish(&app, &ann, "The Entertainer").await;
    publish(&app, &bob, "Not By Ann").await;

    let res = app.client().get("/user/ann").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains(&count_badge("Compositions", 2)));
    assert!(res.body.contains(&count_badge("Followers", 1)));
    assert!(res.body.contains(&count_badge("Following", 2)));
    assert!(
        position(&res.body, "The Entertainer") < position(&res.body, "Maple Leaf Rag"),
        "newest first"
    );
    assert!(!res.body.contains("Not By Ann"));
    assert!(
        res.body
            .contains(&format!("/avatar/{}.svg", ann.avatar_hash))
    );
    let md5 = format!("{:x}", md5::compute(&ann.email));
    assert!(
        !res.body.contains(&md5),
        "the page gives away the address's MD5"
    );

    let res = app.client().get("/user/cat").await;
    assert!(res.body.contains(&count_badge("Compositions", 0)));
    assert!(res.body.contains(&count_badge("Followers", 1)));
    assert!(res.body.contains(&count_badge("Following", 0)));

    let res = app.client().get("/user/ANN").await;
    assert_eq!(res.status, StatusCode::OK, "usernames are case-insensitive");
    assert!(res.body.contains("Maple Leaf Rag"));
}

#[tokio::test]
async fn a_profile_is_paginated_twenty_compositions_a_page() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    for n in 1..=21 {
        publish(&app, &ann, &format!("Rag number {n:02}")).await;
    }
    let first = app.client().get("/user/ann").await;
    assert!(first.body.contains("Rag number 21"));
    assert!(first.body.contains("Rag number 02"));
    assert!(!first.body.contains("Rag number 01"));
    assert!(first.body.contains(r#"href="/user/ann?after="#));
    let second = app.client().get("/user/ann?page=2").await;
    assert!(second.body.contains("Rag number 01"));
    assert!(!second.body.contains("Rag number 02"));
}

#[tokio::test]
async fn unknown_users_get_the_404_page() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut client = app.logged_in_client(&ann).await;
    for path in ["/user/nobody", "/followers/nobody", "/following/nobody"] {
        let res = client.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(res.body.contains("<html"), "{path}: the site's error page");
    }
    for action in ["/follow/nobody", "/unfollow/nobody"] {
        let res = submit(&mut client, "/", action, &[]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{action}");
    }
}

#[tokio::test]
async fn the_email_and_the_admin_edit_button_are_shown_to_administrators_only() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let root = administrator(&app, "root").await;
    let edit_admin = format!("/edit-profile/{}", ann.id);

    let anonymous = app.client().get("/user/ann").await;
    let other = app.logged_in_client(&bob).await.get("/user/ann").await;
    let own = app.logged_in_client(&ann).await.get("/user/ann").await;
    for res in [&anonymous, &other, &own] {
        assert!(!res.body.contains("mailto:"));
        assert!(!res.body.contains(&edit_admin));
    }
    // The profile's own button (the navbar's Account menu links there for everyone).
    let button = r#"class="button button-small" href="/edit-profile""#;
    assert!(own.body.contains(button));
    assert!(!other.body.contains(button));
    assert!(!anonymous.body.contains("/follow/ann"));
    assert!(!own.body.contains("/follow/ann"), "no following oneself");
    assert!(other.body.contains(r#"action="/follow/ann""#));

    let admin = app.logged_in_client(&root).await.get("/user/ann").await;
    assert!(admin.body.contains("mailto:ann@example.com"));
    assert!(admin.body.contains(&edit_admin));
}

#[tokio::test]
async fn following_an_artist_brings_their_compositions_into_the_followed_feed() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    publish(&app, &bob, "Maple Leaf Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    client.get("/followed").await;
    assert!(!client.get("/").await.body.contains("Maple Leaf Rag"));

    let res = submit(&mut client, "/user/bob", "/follow/bob", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/user/bob"));
    let profile = client.get("/user/bob").await;
    assert!(profile.body.contains("You are now following bob."));
    assert!(profile.body.contains(r#"action="/unfollow/bob""#));
    assert!(profile.body.contains(&count_badge("Followers", 1)));
    assert!(client.get("/").await.body.contains("Maple Leaf Rag"));

    let theirs = app.logged_in_client(&bob).await.get("/user/ann").await;
    assert!(theirs.body.contains("Follows you"));
    let mine = client.get("/user/ann").await;
    assert!(!mine.body.contains("Follows you"), "not for oneself");
}

#[tokio::test]
async fn following_twice_keeps_one_row_and_says_so() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let mut client = app.logged_in_client(&ann).await;
    submit(&mut client, "/user/bob", "/follow/bob", &[]).await;
    let res = submit(&mut client, "/user/bob", "/follow/BOB", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        client
            .get("/user/bob")
            .await
            .body
            .contains("You are already following this user.")
    );
    assert!(follow::is_following(&app.db, ann.id, bob.id).await.unwrap());
    assert_eq!(
        follow::count(&app.db).await.unwrap(),
        3,
        "two self-follows and one"
    );
    assert_eq!(
        follow::follow(&app.db, ann.id, bob.id).await.unwrap(),
        follow::Outcome::Already
    );
}

#[tokio::test]
async fn unfollowing_removes_the_follow() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    follow::follow(&app.db, ann.id, bob.id).await.unwrap();
    let mut client = app.logged_in_client(&ann).await;
    let res = submit(&mut client, "/user/bob", "/unfollow/bob", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/user/bob"));
    let profile = client.get("/user/bob").await;
    assert!(profile.body.contains("You are not following bob anymore."));
    assert!(profile.body.contains(r#"action="/follow/bob""#));
    assert!(!follow::is_following(&app.db, ann.id, bob.id).await.unwrap());
    assert!(follow::is_following(&app.db, bob.id, bob.id).await.unwrap());
}

#[tokio::test]
async fn nobody_can_unfollow_themself() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let res = submit(&mut client, "/user/ann", "/unfollow/ann", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let profile = client.get("/user/ann").await;
    assert!(profile.body.contains("You cannot unfollow yourself."));
    assert!(follow::is_following(&app.db, ann.id, ann.id).await.unwrap());
    assert_eq!(
        follow::unfollow(&app.db, ann.id, ann.id).await.unwrap(),
        follow::Outcome::Yourself
    );
    assert!(follow::is_following(&app.db, ann.id, ann.id).await.unwrap());

    submit(&mut client, "/user/ann", "/follow/ann", &[]).await;
    assert!(
        client
            .get("/")
            .await
            .body
            .contains("You cannot follow yourself.")
    );
    assert_eq!(follow::count(&app.db).await.unwrap(), 1);
}

#[tokio::test]
async fn following_needs_the_follow_permission() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    follow::follow(&app.db, ann.id, bob.id).await.unwrap();
    let muted = app.create_role("Muted", 0).await;
    app.give_role(&ann, muted.id).await;
    let mut client = app.logged_in_client(&ann).await;
    let profile = client.get("/user/bob").await;
    assert!(!profile.body.contains("/follow/bob") && !profile.body.contains("/unfollow/bob"));
    let res = submit(&mut client, "/", "/unfollow/bob", &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(follow::is_following(&app.db, ann.id, bob.id).await.unwrap());
    let cat = artist(&app, "cat").await;
    let res = submit(&mut client, "/", "/follow/cat", &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!follow::is_following(&app.db, ann.id, cat.id).await.unwrap());

    let res = app.client().get("/follow/bob").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    let res = client.get("/unfollow/bob").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn follower_lists_hide_the_self_follow_and_are_newest_first() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let now = Utc::now();
    // Ids and timestamps in different orders, so only the timestamp can explain the order.
    let mut others = Vec::new();
    for (name, minutes_ago) in [("bob", 30), ("cat", 10), ("dan", 20)] {
        let other = artist(&app, name).await;
        for (follower, followed) in [(other.id, ann.id), (ann.id, other.id)] {
            follow::ActiveModel {
                follower_id: Set(follower),
                followed_id: Set(followed),
                timestamp: Set(now - Duration::minutes(minutes_ago)),
            }
            .insert(&app.db)
            .await
            .unwrap();
        }
        others.push(other);
    }
    for path in ["/followers/ann", "/following/ann"] {
        let res = app.client().get(path).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(
            res.body.matches(r#"class="follow-row"#).count(),
            3,
            "{path}"
        );
        assert!(
            !res.body.contains(r#"class="author" href="/user/ann""#),
            "{path}"
        );
        let cat = position(&res.body, r#"class="author" href="/user/cat""#);
        let dan = position(&res.body, r#"class="author" href="/user/dan""#);
        let bob = position(&res.body, r#"class="author" href="/user/bob""#);
        assert!(cat < dan && dan < bob, "{path}: newest first");
    }
    let res = app.client().get("/followers/bob").await;
    assert_eq!(res.body.matches(r#"class="follow-row"#).count(), 1);
    assert!(res.body.contains(r#"class="author" href="/user/ann""#));
}

#[tokio::test]
async fn bad_page_numbers_on_profiles_and_lists_are_harmless() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    publish(&app, &ann, "Maple Leaf Rag").await;
    for path in ["/user/ann", "/followers/ann", "/following/ann"] {
        for query in ["?page=abc", "?page=-1", "?page=99999", "?page=", "?page=0"] {
            let res = app.client().get(&format!("{path}{query}")).await;
            assert_eq!(res.status, StatusCode::OK, "{path}{query}");
        }
    }
    let beyond = app.client().get("/user/ann?page=99999").await;
    assert!(!beyond.body.contains("Maple Leaf Rag"));
    assert!(beyond.body.contains(&count_badge("Compositions", 1)));
}

#[tokio::test]
async fn editing_ones_profile_validates_and_saves() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut anonymous = app.client();
    let res = anonymous.get("/edit-profile").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "login required");

    let mut client = app.logged_in_client(&ann).await;
    let long_name = "n".repeat(65);
    let res = submit(
        &mut client,
        "/edit-profile",
        "/edit-profile",
        &[
            ("name", &long_name),
            ("location", "New Orleans"),
            ("about_me", "Pianist."),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains("Field cannot be longer than 64 characters.")
    );
    assert!(res.body.contains(&long_name), "the input is kept");
    assert!(res.body.contains("New Orleans"));
    let stored = fetch(&app, ann.id).await;
    assert_eq!(
        (stored.name, stored.location, stored.about_me),
        (None, None, None)
    );

    let res = submit(
        &mut client,
        "/edit-profile",
        "/edit-profile",
        &[("name", "Ann"), ("about_me", "bell\u{7}")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains("The text cannot contain control characters.")
    );
    assert_eq!(fetch(&app, ann.id).await.name, None);

    let res = submit(
        &mut client,
        "/edit-profile",
        "/edit-profile",
        &[
            ("name", " Ann Arbor "),
            ("location", "New Orleans"),
            ("about_me", "Pianist.\r\nComposer."),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/user/ann"));
    let stored = fetch(&app, ann.id).await;
    assert_eq!(stored.name.as_deref(), Some("Ann Arbor"));
    assert_eq!(stored.location.as_deref(), Some("New Orleans"));
    assert_eq!(stored.about_me.as_deref(), Some("Pianist.\nComposer."));
    let profile = client.get("/user/ann").await;
    assert!(profile.body.contains("Your profile has been updated."));
    assert!(profile.body.contains("Ann Arbor"));
    assert!(profile.body.contains("Pianist.<br>Composer."));
    assert!(
        profile
            .body
            .contains("https://www.openstreetmap.org/search?query=New+Orleans")
    );
    let form = client.get("/edit-profile").await;
    assert!(
        form.body.contains(r#"value="Ann Arbor""#),
        "the form shows what is stored"
    );

    submit(&mut client, "/edit-profile", "/edit-profile", &[]).await;
    let stored = fetch(&app, ann.id).await;
    assert_eq!(
        (stored.name, stored.location, stored.about_me),
        (None, None, None)
    );
}

#[tokio::test]
async fn hostile_profile_text_is_escaped() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let root = administrator(&app, "root").await;
    let mut client = app.logged_in_client(&ann).await;
    let res = submit(
        &mut client,
        "/edit-profile",
        "/edit-profile",
        &[
            ("name", "<script>alert(1)</script>"),
            ("location", "\"><img src=x onerror=alert(2)>"),
            ("about_me", "<script>alert(3)</script>\n<b>bold</b>"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    for viewer in [app.client(), app.logged_in_client(&root).await] {
        let mut viewer = viewer;
        let body = viewer.get("/user/ann").await.body;
        assert!(!body.contains("<script>alert"), "{body}");
        assert!(!body.contains("<img src=x"));
        assert!(!body.contains("<b>bold"));
        assert!(
            body.contains("alert(1)") && body.contains("alert(3)"),
            "shown as text"
        );
    }
    let form = client.get("/edit-profile").await.body;
    assert!(!form.contains("<script>alert"));
}

/// The two unique indexes are told apart by their names, whichever case the clash is in.
#[tokio::test]
async fn a_taken_address_and_a_taken_username_are_told_apart_by_the_index_that_refused_them() {
    let app = TestApp::new().await;
    registration::register(&app.db, "ann@example.com", "ann", "x", None)
        .await
        .unwrap();
    let taken = registration::register(&app.db, "ANN@example.com", "another", "x", None).await;
    assert!(
        matches!(taken, Err(user::AccountError::EmailTaken)),
        "{taken:?}"
    );
    let taken = registration::register(&app.db, "new@example.com", "ANN", "x", None).await;
    assert!(
        matches!(taken, Err(user::AccountError::UsernameTaken)),
        "{taken:?}"
    );
    // Another unique index is neither: a database error, not a taken address.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("CREATE UNIQUE INDEX test_one_account_per_role ON users (role_id)")
        .await
        .unwrap();
    let refused = registration::register(&app.db, "cat@example.com", "cat", "x", None).await;
    assert!(
        matches!(refused, Err(user::AccountError::Db(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn only_administrators_edit_other_accounts() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let path = format!("/edit-profile/{}", ann.id);
    let mut client = app.logged_in_client(&bob).await;
    assert_eq!(client.get(&path).await.status, StatusCode::FORBIDDEN);
    let res = submit(
        &mut client,
        "/",
        &path,
        &[("email", "bob2@example.com"), ("username", "ann")],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(fetch(&app, ann.id).await.email, "ann@example.com");

    let root = administrator(&app, "root").await;
    let mut admin = app.logged_in_client(&root).await;
    let form = admin.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(r#"value="ann@example.com""#));
    for missing in ["/edit-profile/99999", "/edit-profile/abc"] {
        assert_eq!(
            admin.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}

#[tokio::test]
async fn administrators_edit_accounts_with_the_registration_rules() {
    let app = TestApp::new().await;
    let _ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let root = administrator(&app, "root").await;
    let roles = role::all(&app.db).await.unwrap();
    let user_role = roles.iter().find(|r| r.name == "User").unwrap();
    let moderator = roles.iter().find(|r| r.name == "Moderator").unwrap();
    let path = format!("/edit-profile/{}", bob.id);
    let mut admin = app.logged_in_client(&root).await;

    let form = admin.get(&path).await;
    for r in &roles {
        assert!(
            form.body.contains(&format!(r#"<option value="{}""#, r.id)),
            "{}",
            r.name
        );
    }
    let user_role_id = user_role.id.to_string();
    let moderator_id = moderator.id.to_string();
    let edit = |email: &'static str, username: &'static str, role: String| {
        vec![
            ("email", email.to_owned()),
            ("username", username.to_owned()),
            ("role", role),
            ("name", "Robert".to_owned()),
        ]
    };
    let cases = [
        (
            edit("ANN@Example.com", "bob", user_role_id.clone()),
            "Email already registered.",
        ),
        (
            edit("bob@example.com", "ANN", user_role_id.clone()),
            "Username already in use.",
        ),
        (
            edit("bob@example.com", "bob", "99999".to_owned()),
            "Choose one of the roles.",
        ),
        (
            edit("not-an-address", "bob", user_role_id.clone()),
            "Invalid email address.",
        ),
        (
            edit("bob@example.com", "2bob", user_role_id.clone()),
            "Usernames must start with a letter",
        ),
    ];
    for (fields, message) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = submit(&mut admin, &path, &path, &fields).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(res.body.contains(message), "{message}");
        assert_eq!(fetch(&app, bob.id).await, bob, "nothing saved: {message}");
    }

    // Keeping one's own email and username, in another case, is fine.
    let res = submit(
        &mut admin,
        &path,
        &path,
        &[
            ("email", "BOB@example.com"),
            ("username", "Bob"),
            ("role", &user_role_id),
            ("confirmed", "y"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let stored = fetch(&app, bob.id).await;
    assert_eq!(
        (stored.email.as_str(), stored.username.as_str()),
        ("bob@example.com", "Bob")
    );
    assert!(stored.confirmed);
    assert_eq!(
        stored.avatar_hash, bob.avatar_hash,
        "the same address keeps its avatar"
    );

    let res = submit(
        &mut admin,
        &path,
        &path,
        &[
            ("email", "Robert@Example.com"),
            ("username", "robert"),
            ("role", &moderator_id),
            ("name", "Robert"),
            ("location", "Sedalia"),
            ("about_me", "Ragtime pianist."),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/user/robert"));
    let stored = fetch(&app, bob.id).await;
    assert_eq!(stored.email, "robert@example.com");
    assert_ne!(
        stored.avatar_hash, bob.avatar_hash,
        "a new address, a new avatar"
    );
    assert_eq!(stored.username, "robert");
    assert_eq!(stored.role_id, moderator.id);
    assert!(!stored.confirmed, "an unticked box unconfirms");
    assert_eq!(stored.name.as_deref(), Some("Robert"));
    assert_eq!(stored.location.as_deref(), Some("Sedalia"));
    assert_eq!(stored.about_me.as_deref(), Some("Ragtime pianist."));
    assert!(
        admin
            .get("/user/robert")
            .await
            .body
            .contains("The profile has been updated.")
    );
}

#[tokio::test]
async fn a_profile_and_a_follower_list_cost_the_same_queries_with_3_or_12_items() {
    use std::sync::atomic::Ordering;
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let viewer = artist(&app, "viewer").await;
    follow::follow(&app.db, ann.id, viewer.id).await.unwrap();
    let mut counts = Vec::new();
    let mut made = 0;
    for size in [3, 12] {
        while made < size {
            made += 1;
            publish(&app, &ann, &format!("Rag {made}")).await;
            let fan = artist(&app, &format!("fan{made}")).await;
            follow::follow(&app.db, fan.id, ann.id).await.unwrap();
        }
        for path in ["/user/ann", "/followers/ann"] {
            let (mut client, queries) = app.counting_client().await;
            client.cookies = app.logged_in_client(&viewer).await.cookies;
            client.get("/").await;
            let before = queries.load(Ordering::SeqCst);
            let page = client.get(path).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains(&format!("fan{size}")) || path == "/user/ann");
            counts.push(queries.load(Ordering::SeqCst) - before);
        }
    }
    assert_eq!(counts[0], counts[2], "profile: {counts:?}");
    assert_eq!(counts[1], counts[3], "followers: {counts:?}");
    assert!(
        // The profile: with the viewer's likes (one) and who to follow (two); each page also
        // counts the viewer's unread notifications (one).
        counts[0] <= 10 && counts[1] <= 5,
        "a handful of queries: {counts:?}"
    );
}

#[tokio::test]
async fn avatars_are_drawn_by_the_site_and_cached_for_good_unless_a_service_is_configured() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    let profile = client.get("/user/ann").await.body;
    let src = format!("/avatar/{}.svg", ann.avatar_hash);
    assert!(profile.contains(&format!(r#"src="{src}""#)), "{profile}");
    let res = client.get(&src).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("image/svg+xml"));
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(res.body.starts_with("<svg ") && res.body.contains("<rect"));
    assert_eq!(
        client.get(&src).await.body,
        res.body,
        "the same key, the same picture"
    );
    // The same picture as PNG, for share previews.
    let png = client
        .get(&format!("/avatar/{}.png", ann.avatar_hash))
        .await;
    assert_eq!(png.status, StatusCode::OK);
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(
        png.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(png.body.contains("PNG") && png.body.contains("IHDR"));
    for bad in [
        "/avatar/zz.svg",
        "/avatar/0123456789abcdef.gif",
        "/avatar/0123456789abcdef",
        "/avatar/zz.png",
        "/avatar/..%2F..%2Fetc.svg",
        "/avatar/%3Cscript%3E.svg",
        "/avatar/.svg",
    ] {
        assert_eq!(client.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }

    // A third-party service is an option: its URL, with the key and a size.
    let app =
        TestApp::with_env(&[("RAGTIME_AVATAR_URL", "https://unicornify.pictures/avatar/")]).await;
    let bob = app.create_user("bob").await;
    let page = app.client().get("/user/bob").await;
    assert!(page.body.contains(&format!(
        "https://unicornify.pictures/avatar/{}?s=",
        bob.avatar_hash
    )));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://unicornify.pictures;"),
        "{csp}"
    );
}

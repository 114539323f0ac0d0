//! Compositions through HTTP with CSRF on: publishing, the feeds, permalinks and their slugs,
//! who may edit and delete, sanitised Markdown, comments, moderation, pagination, and the
//! number of queries a feed page costs.

use crate::helpers::{Client, TestApp, TestResponse, rel_link};
use axum::body::Body;
use axum::http::StatusCode;
use axum::http::{Method, header};
use ragtime::models::{comment, composition, follow};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

/// POST a form from `page` (taking its CSRF token) to `action`.
async fn submit_from(
    client: &mut Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> crate::helpers::TestResponse {
    let token = client.get(page).await.csrf_token();
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    client.post_form(action, &all).await
}

async fn publish_over_http(
    client: &mut Client,
    title: &str,
    description: &str,
) -> crate::helpers::TestResponse {
    submit_from(
        client,
        "/",
        "/",
        &[
            ("release_type", "2"),
            ("title", title),
            ("description", description),
        ],
    )
    .await
}

/// Give the User role these permission bits (to take one away).
async fn set_user_permissions(app: &TestApp, bits: i32) {
    use ragtime::models::role;
    role::Entity::update_many()
        .col_expr(
            role::Column::Permissions,
            sea_orm::sea_query::Expr::value(bits),
        )
        .filter(role::Column::Name.eq("User"))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn follow(app: &TestApp, follower: i32, followed: i32) {
    follow::ActiveModel {
        follower_id: Set(follower),
        followed_id: Set(followed),
        timestamp: Set(chrono::Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_published_composition_appears_in_the_feed_with_its_permalink() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let res = publish_over_http(&mut client, "Maple Leaf Rag", "A *classic*.").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let stored = composition::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.release_type, stored.artist_id), (2, ann.id));
    assert_eq!(stored.description_html, "<p>A <em>classic</em>.</p>\n");

    let home = app.client().get("/").await;
    assert!(home.body.contains("Maple Leaf Rag"));
    let permalink = format!("/composition/{}-maple-leaf-rag", stored.id);
    assert!(home.body.contains(&permalink), "{}", home.body);
    assert!(home.body.contains("<em>classic</em>"));
    let page = app.client().get(&permalink).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Maple Leaf Rag"));
    assert!(
        page.body.contains(r#"<time datetime=""#),
        "a machine-readable time"
    );
    // And on the artist's profile.
    let profile = app.client().get("/user/ann").await;
    assert!(profile.body.contains("Maple Leaf Rag"), "{}", profile.body);
    assert!(profile.body.contains(&permalink));
}

#[tokio::test]
async fn the_all_feed_is_served_from_memory_for_a_moment_then_read_again() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    app.publish(&ann, "Old Tune").await;
    let (mut client, queries) = app.counting_client().await;
    assert!(client.get("/").await.body.contains("Old Tune"));
    let before = queries.load(std::sync::atomic::Ordering::SeqCst);
    // A composition published by another process: this one has not been told.
    let fresh = app.publish(&ann, "Fresh Tune").await;
    let cached = client.get("/").await;
    assert_eq!(
        queries.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "a repeat of the anonymous home page asks the database nothing"
    );
    assert!(!cached.body.contains("Fresh Tune"));
    tokio::time::sleep(ragtime::models::feed_cache::TTL + std::time::Duration::from_millis(100))
        .await;
    let later = client.get("/").await;
    assert!(
        later.body.contains("Fresh Tune"),
        "seen once the copy expired"
    );
    // The API's list shares the cache and reads the same.
    let api = client
        .send(
            client
                .request(axum::http::Method::GET, "/api/v1/compositions/")
                .header(
                    "authorization",
                    format!(
                        "Bearer {}",
                        ragtime::api::auth::issue(&app.state.signer, &ann)
                    ),
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(api.json()["compositions"][0]["id"], fresh.id);
}

#[tokio::test]
async fn an_artist_sees_their_new_work_on_every_process_at_once_and_on_reload() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    app.publish(&ann, "Old Tune").await;
    let mut here = app.logged_in_client(&ann).await;
    assert!(here.get("/").await.body.contains("Old Tune"), "cached here");
    // Publish through another web process...
    let mut there = app.another_process().await;
    there.cookies = here.cookies.clone();
    let res = publish_over_http(&mut there, "Brand New Rag", "new").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // ...and land back here, whose copy of the feed is older than the write.
    here.cookies = there.cookies.clone();
    let landed = here.get("/").await;
    assert!(landed.body.contains("Brand New Rag"), "{}", landed.body);
    assert!(landed.body.contains("Your composition has been published."));
    let reloaded = here.get("/").await;
    assert!(
        reloaded.body.contains("Brand New Rag"),
        "the fresh read replaced the old copy"
    );
}

#[tokio::test]
async fn the_composition_form_validates_each_field_and_saves_nothing_when_wrong() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let long = "x".repeat(65);
    for (release_type, title, message) in [
        ("2", "", "Title is required."),
        ("2", "   ", "Title is required."),
        (
            "2",
            long.as_str(),
            "The title can be at most 64 characters long.",
        ),
        ("9", "Fine", "Choose a single, an EP or an album."),
        ("abc", "Fine", "Choose a single, an EP or an album."),
        (
            "2",
            "bell\u{7}",
            "The title cannot contain control characters.",
        ),
    ] {
        let res = submit_from(
            &mut client,
            "/",
            "/",
            &[
                ("release_type", release_type),
                ("title", title),
                ("description", "kept <3"),
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{title:?}");
        assert!(res.body.contains(message), "{message}");
        assert!(res.body.contains("kept &#60;3"), "input kept, escaped");
    }
    assert_eq!(composition::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn publishing_needs_the_publish_permission() {
    let app = TestApp::new().await;
    let mut anonymous = app.client();
    let fields = [("release_type", "1"), ("title", "x")];
    let res = submit_from(&mut anonymous, "/auth/login", "/", &fields).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "to the login page");
    assert!(res.header("location").unwrap().starts_with("/auth/login"));

    let ann = app.create_user("ann").await;
    set_user_permissions(&app, 1).await;
    let mut client = app.logged_in_client(&ann).await;
    assert!(
        !client.get("/").await.body.contains(r#"name="title""#),
        "no form"
    );
    let token = client.get("/").await.csrf_token();
    let res = client
        .post_form(
            "/",
            &[
                ("csrf_token", &token),
                ("release_type", "1"),
                ("title", "x"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_hostile_description_is_stored_and_shown_sanitised() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>\n\n\
        [click](javascript:alert(2)) <a href=\"JaVaScRiPt:alert(3)\">raw</a>\n\n\
        <style>body{display:none}</style>\n\n<b>unclosed <i>tags";
    publish_over_http(&mut client, "Hostile", hostile).await;
    let stored = composition::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.description, hostile, "the Markdown is kept as typed");
    let page = app
        .client()
        .get(&format!("/composition/{}", stored.slug()))
        .await;
    for bad in [
        "<script>alert",
        "onerror",
        "javascript:",
        "<style>",
        "display:none",
        "src=x",
    ] {
        assert!(!stored.description_html.contains(bad), "{bad} stored");
        assert!(!page.body.contains(bad), "{bad} shown");
    }
    assert!(
        stored
            .description_html
            .contains("<b>unclosed <i>tags</i></b>"),
        "{}",
        stored.description_html
    );
    assert!(
        stored
            .description_html
            .contains(r#"<a rel="nofollow">click</a>"#)
    );
}

#[tokio::test]
async fn an_outdated_slug_redirects_permanently_to_the_current_one() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "First Title").await;
    let mut client = app.logged_in_client(&ann).await;
    let old = format!("/composition/{}-first-title", c.id);
    let res = submit_from(
        &mut client,
        &format!("/edit/{}-first-title", c.id),
        &format!("/edit/{}-first-title", c.id),
        &[
            ("release_type", "3"),
            ("title", "Second Title"),
            ("description", "new words"),
        ],
    )
    .await;
    let new = format!("/composition/{}-second-title", c.id);
    assert_eq!(res.header("location"), Some(new.as_str()));
    let res = app.client().get(&old).await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.header("location"), Some(new.as_str()));
    let res = app.client().get(&format!("/composition/{}", c.id)).await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(app.client().get(&new).await.status, StatusCode::OK);
    // An old link to a page of the comments lands on that page.
    let res = app.client().get(&format!("{old}?page=2")).await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        res.header("location"),
        Some(format!("{new}?page=2").as_str())
    );
    for missing in [
        "/composition/9999-nothing",
        "/composition/abc",
        "/composition/-1",
    ] {
        assert_eq!(
            app.client().get(missing).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn only_the_artist_or_an_administrator_may_edit_or_delete() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Anns Song").await;
    let slug = c.slug();
    let bob = app.create_user("bob").await;
    let mut bobs = app.logged_in_client(&bob).await;
    assert_eq!(
        bobs.get(&format!("/edit/{slug}")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        bobs.get(&format!("/delete/{slug}")).await.status,
        StatusCode::FORBIDDEN
    );
    let fields = [
        ("release_type", "1"),
        ("title", "Stolen"),
        ("description", ""),
    ];
    let res = submit_from(&mut bobs, "/", &format!("/edit/{slug}"), &fields).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = submit_from(&mut bobs, "/", &format!("/delete/{slug}"), &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let unchanged = composition::find(&app.db, c.id).await.unwrap().unwrap();
    assert_eq!(unchanged.title, "Anns Song");
    assert!(
        !bobs
            .get(&format!("/composition/{slug}"))
            .await
            .body
            .contains("/edit/")
    );

    let admin = app.create_user_with_role("boss", "Administrator").await;
    let mut boss = app.logged_in_client(&admin).await;
    assert!(
        boss.get(&format!("/composition/{slug}"))
            .await
            .body
            .contains(&format!("/edit/{slug}"))
    );
    let res = submit_from(
        &mut boss,
        &format!("/edit/{slug}"),
        &format!("/edit/{slug}"),
        &[
            ("release_type", "1"),
            ("title", "Moderated Title"),
            ("description", ""),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let slug = composition::find(&app.db, c.id)
        .await
        .unwrap()
        .unwrap()
        .slug();
    let confirm = boss.get(&format!("/delete/{slug}")).await;
    assert!(confirm.body.contains("cannot be undone"));
    let res = submit_from(
        &mut boss,
        &format!("/delete/{slug}"),
        &format!("/delete/{slug}"),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(composition::find(&app.db, c.id).await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_takes_the_comments_with_it() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Short Lived").await;
    comment::create(&app.db, ann.id, c.id, "first!")
        .await
        .unwrap();
    let mut client = app.logged_in_client(&ann).await;
    let slug = c.slug();
    let res = submit_from(
        &mut client,
        &format!("/delete/{slug}"),
        &format!("/delete/{slug}"),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(comment::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn the_followed_feed_shows_followed_artists_and_ones_own_work() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let cat = app.create_user("cat").await;
    for u in [&ann, &bob, &cat] {
        follow(&app, u.id, u.id).await;
    }
    follow(&app, ann.id, bob.id).await;
    app.publish(&ann, "Anns Own").await;
    app.publish(&bob, "Bobs Tune").await;
    app.publish(&cat, "Cats Song").await;

    let mut client = app.logged_in_client(&ann).await;
    let res = client.get("/followed").await;
    assert_eq!(res.status, StatusCode::OK);
    let cookie = res.header("set-cookie").unwrap();
    assert!(
        cookie.contains("show_followed=1") && cookie.contains("Max-Age=2592000"),
        "{cookie}"
    );
    let feed = client.get("/").await.body;
    assert!(feed.contains("Bobs Tune") && feed.contains("Anns Own"));
    assert!(!feed.contains("Cats Song"));
    client.get("/all").await;
    assert!(client.get("/").await.body.contains("Cats Song"));
    // Anonymous visitors always see everything, whatever their cookie says.
    let mut visitor = app.client();
    visitor.cookies.insert("show_followed".into(), "1".into());
    assert!(visitor.get("/").await.body.contains("Cats Song"));
    assert_eq!(visitor.get("/followed").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn bad_or_out_of_range_pages_never_fail() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_role("mod", "Moderator").await;
    let c = app.publish(&ann, "Only One").await;
    let mut client = app.logged_in_client(&ann).await;
    for path in ["/", &format!("/composition/{}", c.slug()), "/moderate"] {
        for page in ["-1", "abc", "99999", "0", "1e3", "%00"] {
            let res = client.get(&format!("{path}?page={page}")).await;
            assert_eq!(res.status, StatusCode::OK, "{path}?page={page}");
        }
    }
    assert!(
        client
            .get("/?page=99999")
            .await
            .body
            .contains("No more compositions on this page.")
    );
    // A repeated page is no error either: the first one counts.
    let user = format!("/user/{}", ann.username);
    for path in ["/", "/moderate", user.as_str(), "/followers/mod"] {
        let res = client.get(&format!("{path}?page=1&page=2&page=x")).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn the_feed_pages_twenty_at_a_time_newest_first() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    for i in 0..25 {
        app.publish(&ann, &format!("Song {i:02}")).await;
    }
    let first = app.client().get("/").await.body;
    assert!(first.contains("Song 24") && first.contains("Song 05"));
    assert!(!first.contains("Song 04"));
    let next = rel_link(&first, "next").expect("a link to the next page");
    assert!(next.starts_with("/?after="), "{next}");
    let second = app.client().get(&next).await.body;
    // An old numbered link still finds the second page.
    let numbered = app.client().get("/?page=2").await.body;
    assert!(numbered.contains("Song 04") && numbered.contains("Song 00"));
    assert!(!numbered.contains("Song 05"));
    assert!(second.contains("Song 04") && second.contains("Song 00"));
    assert!(!second.contains("Song 05"));
    let newest = first.find("Song 24").unwrap();
    assert!(newest < first.find("Song 23").unwrap());
}

#[tokio::test]
async fn a_feed_page_costs_the_same_queries_with_5_or_20_compositions() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    follow(&app, ann.id, ann.id).await;
    let mut counts = Vec::new();
    for total in [5, 20] {
        while composition::Entity::find().count(&app.db).await.unwrap() < total {
            let c = app.publish(&ann, "Song").await;
            comment::create(&app.db, ann.id, c.id, "nice")
                .await
                .unwrap();
        }
        for path in ["/all", "/followed"] {
            let (mut client, queries) = app.counting_client().await;
            client.cookies = app.logged_in_client(&ann).await.cookies;
            client.get(path).await;
            let before = queries.load(std::sync::atomic::Ordering::SeqCst);
            let page = client.get("/").await;
            assert_eq!(
                page.body.matches("class=\"composition card\"").count() as u64,
                total
            );
            counts.push(queries.load(std::sync::atomic::Ordering::SeqCst) - before);
        }
    }
    assert_eq!(counts[0], counts[2], "all feed: {counts:?}");
    // The followed feed of 5, shorter than a page, also suggests who to follow: two queries.
    assert_eq!(counts[1], counts[3] + 2, "followed feed: {counts:?}");
    // One of them counts the reader's unread notifications for the navbar.
    assert!(counts[0] <= 7, "a handful of queries: {counts:?}");
}

#[tokio::test]
async fn comments_need_the_permission_and_land_on_the_last_page() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Talk About It").await;
    let slug = c.slug();
    for i in 0..30 {
        comment::create(&app.db, ann.id, c.id, &format!("old comment {i}"))
            .await
            .unwrap();
    }
    let mut client = app.logged_in_client(&ann).await;
    let permalink = format!("/composition/{slug}");
    let res = submit_from(
        &mut client,
        &permalink,
        &permalink,
        &[("body", "**thirty-one**")],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/composition/{slug}?page=last#comments"));
    let last = client
        .get(location.trim_end_matches("#comments"))
        .await
        .body;
    assert!(last.contains("<strong>thirty-one</strong>"));
    let first = client.get(&permalink).await.body;
    assert!(
        first.contains("old comment 0") && !first.contains("thirty-one"),
        "oldest first"
    );

    let res = submit_from(&mut client, &permalink, &permalink, &[("body", "   ")]).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("This field is required."));

    set_user_permissions(&app, 5).await;
    let res = submit_from(&mut client, &permalink, &permalink, &[("body", "sneaky")]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let without = client.get(&permalink).await.body;
    assert!(!without.contains(r#"name="body""#), "no form");
    assert!(!without.contains("to comment."), "logged in already");
    // An anonymous reader is told how to join in, and comes back to the thread.
    let anonymous = app.client().get(&permalink).await.body;
    assert!(
        anonymous.contains(&format!(
            r#"<a href="/auth/login?next=/composition/{slug}%23comments">Log in</a> to comment."#
        )),
        "{anonymous}"
    );
    assert_eq!(comment::Entity::find().count(&app.db).await.unwrap(), 31);
}

#[tokio::test]
async fn a_disabled_comment_is_hidden_everywhere_but_the_moderation_page() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Heated").await;
    let rude = comment::create(&app.db, ann.id, c.id, "something rude")
        .await
        .unwrap()
        .expect("the composition");
    let moderator = app.create_user_with_role("mo", "Moderator").await;
    let mut mo = app.logged_in_client(&moderator).await;
    assert!(
        mo.get("/").await.body.contains(r#"href="/moderate""#),
        "navbar link"
    );
    let res = submit_from(
        &mut mo,
        "/moderate",
        &format!("/moderate/disable/{}", rude.id),
        &[("back", "page=2&evil=1")],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // Back to the page the button was on, and nothing else it might carry.
    assert_eq!(res.header("location"), Some("/moderate?page=2"));

    let permalink = format!("/composition/{}", c.slug());
    for mut client in [app.client(), app.logged_in_client(&ann).await] {
        let page = client.get(&permalink).await.body;
        assert!(!page.contains("something rude"));
        assert!(page.contains("This comment has been disabled by a moderator."));
    }
    let moderation = mo.get("/moderate").await.body;
    assert!(moderation.contains("something rude") && moderation.contains("Enable"));
    // The action confirms itself, once.
    assert!(
        moderation.contains(
            r#"<div class="flash flash-success" role="status">Comment by ann disabled.</div>"#
        ),
        "{moderation}"
    );
    assert!(
        !mo.get("/moderate")
            .await
            .body
            .contains("Comment by ann disabled.")
    );
    // Each comment leads to its place on its composition.
    assert!(
        moderation.contains(&format!(
            r#"<a class="comment-context" href="/comment/{}">"#,
            rude.id
        )),
        "{moderation}"
    );
    let there = mo.get(&format!("/comment/{}", rude.id)).await;
    assert!(
        there
            .header("location")
            .is_some_and(|l| l.starts_with(&format!("/composition/{}", c.slug()))),
        "{:?}",
        there.header("location")
    );

    submit_from(
        &mut mo,
        "/moderate",
        &format!("/moderate/enable/{}", rude.id),
        &[],
    )
    .await;
    assert!(
        mo.get("/moderate")
            .await
            .body
            .contains("Comment by ann enabled.")
    );
    assert!(
        app.client()
            .get(&permalink)
            .await
            .body
            .contains("something rude")
    );
    let res = submit_from(&mut mo, "/moderate", "/moderate/disable/99999", &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn moderation_needs_the_moderate_permission() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Calm").await;
    let note = comment::create(&app.db, ann.id, c.id, "fine words")
        .await
        .unwrap()
        .expect("the composition");
    let mut client = app.logged_in_client(&ann).await;
    assert_eq!(client.get("/moderate").await.status, StatusCode::FORBIDDEN);
    assert!(!client.get("/").await.body.contains(r#"href="/moderate""#));
    let res = submit_from(
        &mut client,
        "/",
        &format!("/moderate/disable/{}", note.id),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(
        !comment::find(&app.db, note.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
}

#[tokio::test]
async fn the_page_count_follows_a_publish_at_once() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    for i in 0..20 {
        app.publish(&ann, &format!("Song {i}")).await;
    }
    let mut client = app.logged_in_client(&ann).await;
    assert!(rel_link(&client.get("/").await.body, "next").is_none());
    publish_over_http(&mut client, "The Twenty-First", "").await;
    let home = client.get("/").await.body;
    assert!(home.contains("The Twenty-First"));
    assert!(
        rel_link(&home, "next").is_some(),
        "the cached page was forgotten"
    );
}

#[tokio::test]
async fn a_title_with_accents_redirects_to_a_percent_encoded_location() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Été à Paris").await;
    let res = app.client().get(&format!("/composition/{}", c.id)).await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    let location = res.header("location").unwrap().to_owned();
    assert_eq!(
        location,
        format!("/composition/{}-%C3%A9t%C3%A9-%C3%A0-paris", c.id)
    );
    assert!(location.is_ascii());
    let res = app.client().get(&location).await;
    assert_eq!(res.status, StatusCode::OK, "{location}");
    assert!(res.body.contains("Été à Paris"));
}

#[tokio::test]
async fn only_a_write_the_handler_noted_makes_the_next_page_read_fresh() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    app.publish(&ann, "Old Tune").await;
    let (mut client, _) = app.counting_client().await;
    assert!(client.get("/").await.body.contains("Old Tune"));
    // Published by another process: this one's copy is older.
    app.publish(&ann, "Fresh Tune").await;

    // A flash message that no write set ("Please log in...") is no reason to read afresh.
    let res = client.get("/edit-profile").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let page = client.get("/").await;
    assert!(page.body.contains("Please log in to access this page."));
    assert!(!page.body.contains("Fresh Tune"), "served from memory");

    // Nor is a write marker the app did not sign.
    client
        .cookies
        .insert(ragtime::web::session::WROTE_COOKIE.into(), "made-up".into());
    assert!(!client.get("/").await.body.contains("Fresh Tune"));
}

/// A form body as raw bytes, the way a client that is not a browser may send it.
async fn post_raw(client: &mut Client, page: &str, action: &str, fields: &str) -> TestResponse {
    let token = client.get(page).await.csrf_token();
    let req = client
        .request(Method::POST, action)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf_token={token}&{fields}")))
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn bytes_that_are_not_utf8_in_a_form_are_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let res = post_raw(
        &mut client,
        "/",
        "/",
        "release_type=1&title=%FF%FEab&description=x",
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains(ragtime::models::forms::NOT_UTF8),
        "{}",
        res.body
    );
    assert_eq!(
        composition::count(&app.db, composition::Feed::All)
            .await
            .unwrap(),
        0
    );

    let c = app.publish(&ann, "Fine Title").await;
    let page = format!("/composition/{}", c.url_slug());
    let res = post_raw(&mut client, &page, &page, "body=%C3%28").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains(ragtime::models::forms::NOT_UTF8),
        "{}",
        res.body
    );
    assert_eq!(
        comment::Entity::find()
            .filter(comment::Column::CompositionId.eq(c.id))
            .count(&app.db)
            .await
            .unwrap(),
        0
    );

    let res = post_raw(
        &mut client,
        "/edit-profile",
        "/edit-profile",
        "name=%E2%82&location=&about_me=",
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains(ragtime::models::forms::NOT_UTF8),
        "{}",
        res.body
    );
}

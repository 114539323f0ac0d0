//! Notifications through HTTP with CSRF on: each kind (follow, comment, mention, like, a
//! comment hidden or restored by a moderator) reaches its recipient, never the actor, never
//! twice for an undone and redone event; the page groups and pages them, the navbar counts the
//! unread ones, and they are marked read by POST. Mail: one each, a daily digest, none, as
//! each user chooses; every mail carries a one-click unsubscribe (RFC 8058).

use axum::http::{Method, StatusCode, header};
use chrono::{Duration, Utc};
use ragtime::models::keyset::Cursor;
use ragtime::models::notification::{self, Delivery, Filter, Settings, Topic};
use ragtime::models::{comment, composition, user};

use crate::helpers::{Client, TestApp, TestResponse, submit};

async fn follow(client: &mut Client, username: &str) {
    let res = submit(client, "/", &format!("/follow/{username}"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

async fn unfollow(client: &mut Client, username: &str) {
    let res = submit(client, "/", &format!("/unfollow/{username}"), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

async fn like(client: &mut Client, c: &composition::Model) {
    let res = submit(client, "/", &format!("/composition/{}/like", c.slug()), &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

async fn unlike(client: &mut Client, c: &composition::Model) {
    let res = submit(
        client,
        "/",
        &format!("/composition/{}/unlike", c.slug()),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

async fn post_comment(client: &mut Client, c: &composition::Model, body: &str) {
    let page = format!("/composition/{}", c.slug());
    let res = submit(client, &page, &page, &[("body", body)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

/// What a user's notifications page says, tags and spaces folded.
async fn page_text(client: &mut Client) -> String {
    let res = client.get("/notifications").await;
    assert_eq!(res.status, StatusCode::OK);
    let list = res
        .body
        .split_once("<h1>Notifications</h1>")
        .map(|(_, rest)| rest)
        .unwrap_or(&res.body);
    let mut text = String::new();
    let mut in_tag = false;
    for c in list.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn stored(app: &TestApp, user: &user::Model) -> Vec<notification::Item> {
    notification::page(&app.db, user.id, Filter::All, Cursor::First, 100)
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn each_kind_of_event_notifies_its_recipient_and_never_the_actor() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let mo = app.create_user_with_role("mo", "Moderator").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let mut bob_client = app.logged_in_client(&bob).await;
    let mut ann_client = app.logged_in_client(&ann).await;

    follow(&mut bob_client, "ann").await;
    like(&mut bob_client, &rag).await;
    post_comment(&mut bob_client, &rag, "Lovely, @ann. Ask @mo too!").await;
    let text = page_text(&mut ann_client).await;
    assert!(text.contains("bob followed you."), "{text}");
    assert!(text.contains("bob liked Maple Leaf Rag."), "{text}");
    assert!(text.contains("bob commented on Maple Leaf Rag."), "{text}");
    // The artist mentioned in a comment on their own composition hears of it once.
    assert!(!text.contains("mentioned you"), "{text}");
    let mo_client = &mut app.logged_in_client(&mo).await;
    let text = page_text(mo_client).await;
    assert!(
        text.contains("bob mentioned you in a comment on Maple Leaf Rag."),
        "{text}"
    );
    // The mention is a link to the profile, in the comment as shown.
    let permalink = ann_client
        .get(&format!("/composition/{}", rag.slug()))
        .await;
    assert!(
        permalink
            .body
            .contains(r#"<a href="/user/mo" rel="nofollow">@mo</a>"#),
        "{}",
        permalink.body
    );

    let posted = comment::page(&app.db, comment::Thread::On(rag.id), Cursor::First, 10)
        .await
        .unwrap()
        .items[0]
        .0
        .clone();
    let res = submit(
        mo_client,
        "/moderate",
        &format!("/moderate/disable/{}", posted.id),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // Disabling what is disabled already tells nobody again.
    submit(
        mo_client,
        "/moderate",
        &format!("/moderate/disable/{}", posted.id),
        &[],
    )
    .await;
    submit(
        mo_client,
        "/moderate",
        &format!("/moderate/enable/{}", posted.id),
        &[],
    )
    .await;
    let text = page_text(&mut bob_client).await;
    assert!(
        text.contains("A moderator hid your comment on Maple Leaf Rag."),
        "{text}"
    );
    assert!(
        text.contains("A moderator restored your comment on Maple Leaf Rag."),
        "{text}"
    );
    assert_eq!(stored(&app, &bob).await.len(), 2);
    assert!(
        !text.contains("mo hid"),
        "the moderator stays anonymous: {text}"
    );

    // Nothing to oneself: liking and commenting on one's own, mentioning oneself, a
    // moderator hiding their own comment.
    like(&mut ann_client, &rag).await;
    post_comment(&mut ann_client, &rag, "Thanks all, says @ann").await;
    let mine = app.publish(&mo, "Mo's Blues").await;
    post_comment(mo_client, &mine, "my own").await;
    let own = comment::page(&app.db, comment::Thread::On(mine.id), Cursor::First, 10)
        .await
        .unwrap()
        .items[0]
        .0
        .id;
    submit(
        mo_client,
        "/moderate",
        &format!("/moderate/disable/{own}"),
        &[],
    )
    .await;
    let kinds = |items: Vec<notification::Item>| -> Vec<&'static str> {
        items.iter().map(|i| i.kind.name()).collect()
    };
    assert_eq!(
        kinds(stored(&app, &ann).await),
        ["comment", "like", "follow"],
        "ann's own like and comment are not news to her"
    );
    assert_eq!(kinds(stored(&app, &mo).await), ["mention"]);
}

#[tokio::test]
async fn an_unfollow_and_refollow_or_unlike_and_like_within_a_day_is_one_notification() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut bob_client = app.logged_in_client(&bob).await;
    for _ in 0..3 {
        follow(&mut bob_client, "ann").await;
        unfollow(&mut bob_client, "ann").await;
        like(&mut bob_client, &rag).await;
        unlike(&mut bob_client, &rag).await;
    }
    let items = stored(&app, &ann).await;
    assert_eq!(items.len(), 2, "{items:?}");
    // A day later, following again is news again.
    let a_day_ago = Utc::now() - Duration::hours(25);
    sea_orm::ConnectionTrait::execute_raw(
        &app.db,
        sea_orm::Statement::from_sql_and_values(
            app.db.get_database_backend(),
            if app.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
                "UPDATE notifications SET timestamp = $1"
            } else {
                "UPDATE notifications SET timestamp = ?"
            },
            [a_day_ago.into()],
        ),
    )
    .await
    .unwrap();
    follow(&mut bob_client, "ann").await;
    assert_eq!(stored(&app, &ann).await.len(), 3);
}

#[tokio::test]
async fn likes_and_follows_are_grouped_and_the_navbar_counts_the_unread() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut ann_client = app.logged_in_client(&ann).await;
    let home = ann_client.get("/").await;
    assert!(
        home.body.contains("Notifications</a>"),
        "no count when none are unread: {}",
        home.body
    );
    for name in ["bob", "carl", "dora"] {
        let fan = app.create_user(name).await;
        let mut client = app.logged_in_client(&fan).await;
        like(&mut client, &rag).await;
        follow(&mut client, "ann").await;
    }
    let text = page_text(&mut ann_client).await;
    assert!(text.contains("dora and 2 others liked Rag."), "{text}");
    assert!(text.contains("dora and 2 others followed you."), "{text}");
    let home = ann_client.get("/").await;
    assert!(
        home.body.contains(
            r#"Notifications <span class="badge">6<span class="visually-hidden"> unread</span>"#
        ),
        "{}",
        home.body
    );

    // Marking the likes' group read marks its three notifications, and nobody else's.
    let page = ann_client.get("/notifications").await;
    let likes: Vec<String> = stored(&app, &ann)
        .await
        .iter()
        .filter(|i| i.kind == notification::Kind::Like)
        .map(|i| i.notification.id.to_string())
        .collect();
    let ids = likes.join(",");
    assert!(
        page.body.contains(&format!(r#"name="ids" value="{ids}""#)),
        "{}",
        page.body
    );
    let token = page.csrf_token();
    let res = ann_client
        .post_form(
            "/notifications/read",
            &[("csrf_token", &token), ("ids", &ids), ("back", "unread=1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/notifications?unread=1"));
    assert_eq!(
        notification::unread_count(&app.db, ann.id).await.unwrap(),
        3
    );
    let unread = ann_client.get("/notifications?unread=1").await;
    assert!(!unread.body.contains("liked Rag"), "{}", unread.body);
    assert!(unread.body.contains("followed you"), "{}", unread.body);

    // Someone else's ids change nothing; "mark all" marks the rest.
    let mut dora = app.logged_in_client(&app.create_user("eve").await).await;
    submit(&mut dora, "/", "/notifications/read", &[("ids", &ids)]).await;
    let res = submit(
        &mut ann_client,
        "/notifications",
        "/notifications/read-all",
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        notification::unread_count(&app.db, ann.id).await.unwrap(),
        0
    );
    // Without the token, nothing happens.
    let res = ann_client.post_form("/notifications/read-all", &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_navbar_count_stops_at_99_plus_and_the_page_pages_by_cursor() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    for n in 0..105 {
        comment::create(&app.db, bob.id, rag.id, &format!("comment {n}"))
            .await
            .unwrap();
    }
    let mut client = app.logged_in_client(&ann).await;
    let home = client.get("/").await;
    assert!(
        home.body.contains(r#"<span class="badge">99+"#),
        "{}",
        home.body
    );
    let first = client.get("/notifications").await;
    assert_eq!(first.body.matches("commented on").count(), 30);
    let next = crate::helpers::rel_link(&first.body, "next").expect("a next page");
    let second = client.get(&next).await;
    assert_eq!(second.body.matches("commented on").count(), 30);
    // Anonymous readers are sent to log in.
    let res = app.client().get("/notifications").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_comment_link_leads_to_the_page_of_the_thread_that_holds_it() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut ids = Vec::new();
    for n in 0..70 {
        ids.push(
            comment::create(&app.db, ann.id, rag.id, &format!("number {n}"))
                .await
                .unwrap()
                .expect("the composition")
                .id,
        );
    }
    let mut client = app.client();
    let res = client.get(&format!("/comment/{}", ids[45])).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let location = res.header("location").unwrap().to_owned();
    assert!(
        location.ends_with(&format!("#comment-{}", ids[45])),
        "{location}"
    );
    let page = client.get(&location).await;
    assert!(page.body.contains(&format!(r#"id="comment-{}""#, ids[45])));
    for bad in ["/comment/0", "/comment/abc", "/comment/99999999999"] {
        assert_eq!(client.get(bad).await.status, StatusCode::NOT_FOUND, "{bad}");
    }
}

#[tokio::test]
async fn a_comment_mentions_at_most_ten_people_and_only_real_ones() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut names = Vec::new();
    for n in 0..12 {
        names.push(app.create_user(&format!("fan{n:02}")).await);
    }
    let body: Vec<String> = names.iter().map(|u| format!("@{}", u.username)).collect();
    let body = format!("{} @nobody `@fan11` ann@example.com", body.join(" "));
    comment::create(&app.db, bob.id, rag.id, &body)
        .await
        .unwrap();
    let mut notified = 0;
    for fan in &names {
        notified += stored(&app, fan).await.len();
    }
    assert_eq!(notified, 10);
    assert!(stored(&app, &names[10]).await.is_empty());
    assert!(
        stored(&app, &names[11]).await.is_empty(),
        "mentions in code do not count"
    );
}

#[tokio::test]
async fn comments_are_mailed_each_time_and_likes_in_a_daily_digest_with_one_click_unsubscribe() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag <Time>").await;
    for name in ["bob", "carl"] {
        let fan = app.create_user(name).await;
        let mut client = app.logged_in_client(&fan).await;
        like(&mut client, &rag).await;
    }
    let bob = user::find_by_username(&app.db, "bob")
        .await
        .unwrap()
        .unwrap();
    comment::create(&app.db, bob.id, rag.id, "Great!")
        .await
        .unwrap();

    let mails = app.deliver_mail().await;
    let to_ann: Vec<_> = mails.iter().filter(|m| m.to == "ann@example.com").collect();
    assert_eq!(
        to_ann.len(),
        1,
        "the comment now, the likes wait: {to_ann:?}"
    );
    let mail = to_ann[0];
    assert_eq!(mail.subject, "[Ragtime] bob commented on Rag <Time>");
    assert!(
        mail.text.contains("http://localhost/comment/"),
        "{}",
        mail.text
    );
    assert!(
        mail.html.contains("Rag &#60;Time&#62;") && !mail.html.contains("<Time>"),
        "{}",
        mail.html
    );
    let unsubscribe = mail
        .unsubscribe
        .clone()
        .expect("a List-Unsubscribe address");
    assert!(unsubscribe.starts_with("http://localhost/unsubscribe/"));
    assert!(mail.text.contains(&unsubscribe));

    // Not a day yet: no digest. A day later: one digest of both likes.
    assert_eq!(app.deliver_mail().await.len(), mails.len());
    let later = app.deliver_mail_at(Utc::now() + Duration::hours(25)).await;
    let digest = &later[mails.len()..];
    assert_eq!(digest.len(), 1, "{digest:?}");
    assert_eq!(
        digest[0].subject,
        "[Ragtime] Your day on Ragtime: 2 notifications"
    );
    assert!(
        digest[0].text.contains("carl and 1 other liked Rag <Time>"),
        "{}",
        digest[0].text
    );
    assert!(digest[0].unsubscribe.is_some());
    // Sent once.
    let again = app.deliver_mail_at(Utc::now() + Duration::hours(50)).await;
    assert_eq!(again.len(), later.len());

    // One click, as a mail provider sends it (RFC 8058): no session, no CSRF token.
    let path = unsubscribe
        .strip_prefix("http://localhost")
        .unwrap()
        .to_owned();
    let mut stranger = app.client();
    let opened = stranger.get(&path).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert_eq!(
        notification::settings_of(&app.db, ann.id).await.unwrap(),
        Settings::default(),
        "opening the link changes nothing"
    );
    let req = stranger
        .request(Method::POST, &path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click".into())
        .unwrap();
    let res = stranger.send(req).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let settings = notification::settings_of(&app.db, ann.id).await.unwrap();
    assert_eq!(settings.get(Topic::Comments), Delivery::Off);
    assert_eq!(
        settings.get(Topic::Likes),
        Delivery::Digest,
        "only what the mail was about"
    );
    comment::create(&app.db, bob.id, rag.id, "Again!")
        .await
        .unwrap();
    assert_eq!(app.deliver_mail().await.len(), again.len());
    // Still on the page, though.
    assert_eq!(stored(&app, &ann).await.len(), 4);

    // A forged or damaged token is a 404 and changes nothing.
    let forged = format!("{}x", path);
    assert_eq!(stranger.get(&forged).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        stranger.get("/unsubscribe/%00").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_settings_page_saves_each_choice_and_refuses_what_it_does_not_offer() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    let page = client.get("/notifications/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"<option value="each" selected>"#));
    let fields = [
        ("follows", "none"),
        ("comments", "digest"),
        ("mentions", "each"),
        ("likes", "each"),
        ("moderation", "none"),
    ];
    let res = submit(
        &mut client,
        "/notifications/settings",
        "/notifications/settings",
        &fields,
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let saved = notification::settings_of(&app.db, ann.id).await.unwrap();
    assert_eq!(saved.get(Topic::Follows), Delivery::Off);
    assert_eq!(saved.get(Topic::Comments), Delivery::Digest);
    assert_eq!(saved.get(Topic::Likes), Delivery::Each);
    // Now a like is mailed at once, and a follow not at all.
    like(&mut app.logged_in_client(&bob).await, &rag).await;
    follow(&mut app.logged_in_client(&bob).await, "ann").await;
    let mails = app.deliver_mail_at(Utc::now() + Duration::hours(25)).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["[Ragtime] bob liked Rag"]);

    for bad in [
        vec![("follows", "sometimes")],
        vec![("follows", "none")],
        vec![],
    ] {
        let res = submit(
            &mut client,
            "/notifications/settings",
            "/notifications/settings",
            &bad,
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad:?}");
    }
    assert_eq!(
        notification::settings_of(&app.db, ann.id).await.unwrap(),
        saved
    );
}

#[tokio::test]
async fn an_unconfirmed_address_gets_no_notification_mail() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    user::Entity::update_many()
        .col_expr(
            user::Column::Confirmed,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(user::Column::Id.eq(ann.id))
        .exec(&app.db)
        .await
        .unwrap();
    comment::create(&app.db, bob.id, rag.id, "Hi")
        .await
        .unwrap();
    assert!(app.deliver_mail().await.is_empty());
    assert_eq!(stored(&app, &ann).await.len(), 1);
}

#[tokio::test]
async fn the_api_lists_filters_and_marks_the_callers_notifications_only() {
    use crate::api::{call, token_of};
    use serde_json::json;

    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    ragtime::models::like::like(&app.db, bob.id, rag.id)
        .await
        .unwrap();
    ragtime::models::follow::follow(&app.db, bob.id, ann.id)
        .await
        .unwrap();
    comment::create(&app.db, bob.id, rag.id, "Hi @ann")
        .await
        .unwrap();
    let (ann_token, bob_token) = (token_of(&app, &ann), token_of(&app, &bob));
    let mut client = app.client();

    let res = call(
        &mut client,
        Method::GET,
        "/api/v1/notifications",
        Some(&ann_token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let list = res.json();
    assert_eq!(list["count"], 3);
    assert_eq!(list["unread"], 3);
    let kinds: Vec<&str> = list["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["comment", "follow", "like"]);
    let first = &list["notifications"][0];
    assert_eq!(first["actor_username"], "bob");
    assert_eq!(first["read"], false);
    assert!(
        first["link"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost/comment/")
    );
    assert_eq!(
        first["composition"],
        format!("http://localhost/api/v1/compositions/{}", rag.id)
    );
    let url = first["url"].as_str().unwrap();
    let path = url.strip_prefix("http://localhost").unwrap();
    let one = call(&mut client, Method::GET, path, Some(&ann_token), None).await;
    assert_eq!(one.json()["id"], first["id"]);
    // Another user's notification is not found for them.
    let other = call(&mut client, Method::GET, path, Some(&bob_token), None).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    let id = first["id"].as_i64().unwrap();
    let mark = |body| call_owned(&app, "/api/v1/notifications/read", ann_token.clone(), body);
    let res = mark(json!({"ids": [id]})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json(), json!({"marked": 1, "unread": 2}));
    let unread = call(
        &mut client,
        Method::GET,
        "/api/v1/notifications?unread=true",
        Some(&ann_token),
        None,
    )
    .await
    .json();
    assert_eq!(unread["count"], 2);
    assert_eq!(unread["notifications"].as_array().unwrap().len(), 2);
    // Bob marking Ann's changes nothing.
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/notifications/read",
        Some(&bob_token),
        Some(&json!({"ids": [id + 1, id + 2]})),
    )
    .await;
    assert_eq!(res.json()["marked"], 0);
    for bad in [
        json!({}),
        json!({"ids": [1], "all": true}),
        json!({"all": "yes"}),
        json!({"ids": ["1"]}),
        json!({"ids": [2147483648i64]}),
        json!({"ids": (0..101).collect::<Vec<i32>>()}),
        json!({"read": true}),
    ] {
        let res = mark(bad.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.body);
    }
    for nothing in [
        json!({"ids": []}),
        json!({"ids": [0.0]}),
        json!({"all": false}),
    ] {
        let res = mark(nothing.clone()).await;
        assert_eq!(res.json(), json!({"marked": 0, "unread": 2}), "{nothing}");
    }
    let res = mark(json!({"all": true})).await;
    assert_eq!(res.json(), json!({"marked": 2, "unread": 0}));
    let res = call(
        &mut client,
        Method::GET,
        "/api/v1/notifications?unread=maybe",
        Some(&ann_token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = call(
        &mut client,
        Method::GET,
        "/api/v1/notifications",
        None,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

async fn call_owned(
    app: &TestApp,
    path: &str,
    auth: String,
    body: serde_json::Value,
) -> TestResponse {
    crate::api::call(
        &mut app.client(),
        Method::POST,
        path,
        Some(&auth),
        Some(&body),
    )
    .await
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_the_notifications_page_and_the_unread_count_read_a_page_not_the_table() {
    use ragtime::models::keyset::{Key, Order, Reading};
    use sea_orm::{ConnectionTrait, Statement};

    use crate::lists::{assert_bounded, plan};

    let app = TestApp::new().await;
    app.require_postgres();
    let options = ragtime::commands::seed::SeedOptions {
        users: 2000,
        compositions: 200,
        follows: 2,
        comments: 0,
        likes: 0,
        ..Default::default()
    };
    ragtime::commands::seed::seed(&app.db, &options)
        .await
        .unwrap();
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    // 200,000 likes by everyone: 60,000 of them notified to Ann (all unread), the rest to Bob.
    let sql = format!(
        "INSERT INTO notifications (user_id, kind, actor_id, composition_id, timestamp, mail) \
         SELECT CASE WHEN n % 10 < 3 THEN {ann} ELSE {bob} END, 4, \
                (SELECT min(id) FROM users) + n % 2000, {rag}, \
                now() - n * interval '1 second', 0 \
         FROM generate_series(1, 200000) AS n",
        ann = ann.id,
        bob = bob.id,
        rag = rag.id
    );
    let db = &app.db;
    db.execute_unprepared(&sql).await.unwrap();
    ragtime::db::refresh_statistics(db).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT timestamp, id FROM notifications WHERE user_id = {} \
                 ORDER BY timestamp DESC, id DESC OFFSET 30000 LIMIT 1",
                ann.id
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let deep = Key::new(
        row.try_get_by_index(0).unwrap(),
        row.try_get_by_index(1).unwrap(),
    );
    let backend = db.get_database_backend();
    for filter in [Filter::All, Filter::Unread] {
        for cursor in [
            Cursor::First,
            Cursor::After(deep),
            Cursor::Before(deep),
            Cursor::Last,
        ] {
            let reading = Reading::new(cursor, Order::NewestFirst, 30);
            let statement = notification::page_statement(backend, ann.id, filter, &reading);
            let what = format!("{filter:?} from {cursor:?}");
            assert_bounded(&what, &plan(db, statement).await, 2 * 31);
        }
    }
    let count = notification::unread_count_sql(backend, ann.id);
    assert_bounded("the unread count", &plan(db, count).await, 100);
    // The worker's look for digests due, every few seconds: the lines that have waited a day,
    // not every line waiting (here 2,000 of them, all today's).
    db.execute_unprepared(&format!(
        "UPDATE notifications SET mail = 2 WHERE id IN \
         (SELECT id FROM notifications WHERE user_id = {} ORDER BY timestamp DESC LIMIT 2000)",
        bob.id
    ))
    .await
    .unwrap();
    ragtime::db::refresh_statistics(db).await.unwrap();
    let due = notification::digests_due_sql(backend, Utc::now(), 20);
    assert_bounded("the digests due", &plan(db, due).await, 20);
    assert!(
        notification::digests_due(db, Utc::now(), 20)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(notification::unread_count(db, ann.id).await.unwrap(), 100);
}

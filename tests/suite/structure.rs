//! How pages are built for people and their tools: one `<h1>` on every page, titles that say
//! where you are, avatar links out of the way of keyboards and screen readers, empty lists
//! that say what to do next, and the home page's feed before its publish form.

use crate::helpers::{TestApp, submit};
use axum::http::StatusCode;
use ragtime::models::{comment, composition, follow, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

fn h1_count(body: &str) -> usize {
    body.matches("<h1").count()
}

/// The text of the page's `<title>`.
fn title(body: &str) -> &str {
    let start = body.find("<title>").expect("a title") + "<title>".len();
    let end = body[start..].find("</title>").unwrap() + start;
    &body[start..end]
}

async fn publish_described(
    app: &TestApp,
    artist: &user::Model,
    title: &str,
    description: &str,
) -> composition::Model {
    let draft = composition::Draft {
        release_type: 2,
        title,
        description,
        tags: vec!["stride".to_owned()],
    };
    composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_page_type_has_exactly_one_h1() {
    let app = TestApp::new().await;
    let admin = app
        .create_user_with_role("maria.keys", "Administrator")
        .await;
    let bob = app.create_user("bob").await;
    follow::follow(&app.db, bob.id, admin.id).await.unwrap();
    let c = publish_described(
        &app,
        &admin,
        "Maple Leaf",
        "# A heading in the description\n\n## And another",
    )
    .await;
    comment::create(&app.db, bob.id, c.id, "Lovely")
        .await
        .unwrap();
    let slug = c.slug();
    let mut client = app.logged_in_client(&admin).await;
    let pages = [
        "/".to_owned(),
        "/?page=2".to_owned(),
        "/users".to_owned(),
        "/user/maria.keys".to_owned(),
        "/user/bob".to_owned(),
        "/followers/maria.keys".to_owned(),
        "/following/bob".to_owned(),
        "/tag/stride".to_owned(),
        "/search".to_owned(),
        "/search?q=maple".to_owned(),
        "/search?q=bob&type=people".to_owned(),
        format!("/composition/{slug}"),
        format!("/composition/{slug}/likes"),
        format!("/edit/{slug}"),
        format!("/delete/{slug}"),
        "/notifications".to_owned(),
        "/notifications/settings".to_owned(),
        "/edit-profile".to_owned(),
        format!("/edit-profile/{}", bob.id),
        "/auth/change-password".to_owned(),
        "/auth/change_email".to_owned(),
        "/moderate".to_owned(),
        "/admin/users".to_owned(),
    ];
    for path in &pages {
        let res = client.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(h1_count(&res.body), 1, "{path}: {}", res.body);
    }
    let res = client.get("/no-such-page").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(h1_count(&res.body), 1, "{}", res.body);
    let mut anonymous = app.client();
    for path in [
        "/",
        "/auth/login",
        "/auth/register",
        "/auth/reset",
        "/user/maria.keys",
    ] {
        let res = anonymous.get(path).await;
        assert_eq!(h1_count(&res.body), 1, "{path}: {}", res.body);
    }
    // Someone who has not confirmed yet.
    let newcomer = app.create_user("newcomer").await;
    let mut active: user::ActiveModel = newcomer.clone().into();
    active.confirmed = Set(false);
    active.update(&app.db).await.unwrap();
    let res = app
        .logged_in_client(&newcomer)
        .await
        .get("/auth/unconfirmed")
        .await;
    assert_eq!(h1_count(&res.body), 1, "{}", res.body);
}

#[tokio::test]
async fn a_permalink_page_has_the_composition_title_as_its_h1_and_demoted_description_headings() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = publish_described(&app, &ann, "Maple Leaf", "# Side A\n\n## Track notes").await;
    let page = app
        .client()
        .get(&format!("/composition/{}", c.slug()))
        .await
        .body;
    assert!(
        page.contains(r#"<h1 class="composition-title">Maple Leaf</h1>"#),
        "{page}"
    );
    assert!(
        page.contains("<h3>Side A</h3>") && page.contains("<h4>Track notes</h4>"),
        "{page}"
    );
    assert!(!page.contains("<h2>Side A") && !page.contains("<h1>Side A"));
    // In a list the same card's title is an h2 that links to the permalink.
    let home = app.client().get("/").await.body;
    assert!(
        home.contains(&format!(
            r#"<h2 class="composition-title"><a href="/composition/{}">Maple Leaf</a></h2>"#,
            c.slug()
        )),
        "{home}"
    );
}

#[tokio::test]
async fn page_titles_say_which_page_when_it_is_known() {
    let app = TestApp::with_env(&[("RAGTIME_COMPOSITIONS_PER_PAGE", "2")]).await;
    let maria = app.create_user("maria.keys").await;
    for n in 0..5 {
        app.publish(&maria, &format!("Rag {n}")).await;
    }
    let mut client = app.client();
    assert_eq!(title(&client.get("/").await.body), "Ragtime");
    assert_eq!(
        title(&client.get("/?page=3").await.body),
        "Page 3 · Ragtime"
    );
    assert_eq!(
        title(&client.get("/user/maria.keys").await.body),
        "maria.keys · Ragtime"
    );
    assert_eq!(
        title(&client.get("/user/maria.keys?page=2").await.body),
        "Page 2 · maria.keys · Ragtime"
    );
    assert_eq!(
        title(&client.get("/users?page=2").await.body),
        "Page 2 · People · Ragtime"
    );
    // Reached by "Next", a page knows its number from the link; so does one reached back by
    // "Previous". The end of the list reached directly knows only that it is the last.
    let first = client.get("/").await.body;
    let middle_url = crate::helpers::rel_link(&first, "next").expect("a next link");
    let middle = client.get(&middle_url).await.body;
    assert_eq!(title(&middle), "Page 2 · Ragtime");
    let last_url = crate::helpers::rel_link(&middle, "next").expect("a next link");
    let last = client.get(&last_url).await.body;
    assert_eq!(title(&last), "Page 3 · Ragtime");
    assert!(crate::helpers::rel_link(&last, "next").is_none());
    let back_url = crate::helpers::rel_link(&last, "prev").expect("a prev link");
    assert_eq!(title(&client.get(&back_url).await.body), "Page 2 · Ragtime");
    assert_eq!(
        title(&client.get("/?page=last").await.body),
        "Last page · Ragtime"
    );
    // Without the number, a page in the middle says none rather than guess.
    let unnumbered = middle_url.replace("&n=2", "");
    assert_ne!(unnumbered, middle_url);
    assert_eq!(title(&client.get(&unnumbered).await.body), "Ragtime");
}

#[tokio::test]
async fn avatar_links_are_out_of_the_tab_order_and_hidden_from_screen_readers() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    follow::follow(&app.db, bob.id, ann.id).await.unwrap();
    let c = app.publish(&ann, "Rag").await;
    comment::create(&app.db, bob.id, c.id, "Nice")
        .await
        .unwrap();
    let mut client = app.logged_in_client(&bob).await;
    for path in [
        "/".to_owned(),
        format!("/composition/{}", c.slug()),
        "/followers/ann".to_owned(),
        "/users".to_owned(),
        "/search?q=ann&type=people".to_owned(),
    ] {
        let body = client.get(&path).await.body;
        let links: Vec<&str> = body.split(r#"<a class="avatar-link""#).skip(1).collect();
        assert!(!links.is_empty(), "{path}: no avatar link");
        for link in links {
            let tag = &link[..link.find('>').unwrap()];
            assert!(
                tag.contains(r#"tabindex="-1""#) && tag.contains(r#"aria-hidden="true""#),
                "{path}: {tag}"
            );
        }
    }
}

#[tokio::test]
async fn empty_lists_say_what_to_do_next() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let mut client = app.logged_in_client(&ann).await;
    // One's own followed feed, empty: where to find people.
    let res = client.get("/followed").await;
    let home = client.get("/").await.body;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body
            .contains("Follow artists to see their compositions here")
    );
    assert!(
        home.contains(r#"Follow artists to see their compositions here — find some on <a href="/users">People</a>."#),
        "{home}"
    );
    // One's own profile, empty: where to publish; someone else's says only that it is empty.
    let own = client.get("/user/ann").await.body;
    assert!(
        own.contains("Publish your first composition from the"),
        "{own}"
    );
    let other = client.get("/user/bob").await.body;
    assert!(other.contains("Nothing published yet.") && !other.contains("Publish your first"));
    // Follow lists.
    assert!(
        client
            .get("/following/ann")
            .await
            .body
            .contains("You follow nobody yet.")
    );
    assert!(
        client
            .get("/followers/bob")
            .await
            .body
            .contains("Nobody follows bob yet.")
    );
    // Comments: an invitation to those who may comment.
    let c = app.publish(&bob, "Quiet").await;
    let page = client.get(&format!("/composition/{}", c.slug())).await.body;
    assert!(page.contains("No comments yet. Be the first"), "{page}");
    // Search with no match suggests what to try.
    let none = client.get("/search?q=zzzz").await.body;
    assert!(
        none.contains("Try fewer words or another spelling"),
        "{none}"
    );
}

#[tokio::test]
async fn the_home_page_shows_the_feed_before_a_folded_publish_form() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    app.publish(&ann, "Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    let home = client.get("/").await.body;
    let tabs = home
        .find(r#"<nav class="tabs" aria-label="Feed">"#)
        .expect("feed tabs");
    let form = home
        .find(r#"<details class="card wide publish">"#)
        .expect("a folded form");
    let fields = home
        .find(r#"<form method="post" action="/""#)
        .expect("the form");
    let summary = home
        .find("<summary>Publish a composition</summary>")
        .expect("a summary");
    assert!(tabs < form && form < summary && summary < fields, "{home}");
    // A form that comes back with errors is open, with what was typed.
    let res = submit(
        &mut client,
        "/",
        "/",
        &[
            ("release_type", "1"),
            ("title", ""),
            ("description", "kept"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains(r#"<details class="card wide publish" open>"#),
        "{}",
        res.body
    );
    assert!(res.body.contains(">kept</textarea>"));
}

//! Issue 26, items 6 and 7, on the server's side: feed cards that can be scanned (a long
//! description folded behind "Show more", a release's first tracks and a link to all of them,
//! "Liked" on a pressed like button), the Followed feed at its own URL, a search that keeps its
//! query in the navbar, the music before "Who to follow" on a profile, and the colour scheme
//! cookie the server paints the first frame with.

use axum::http::StatusCode;
use ragtime::models::composition;
use ragtime::models::follow;

use crate::feeds::add_track;
use crate::helpers::{TestApp, rel_link, submit};

async fn release(
    app: &TestApp,
    artist: &ragtime::models::user::Model,
    title: &str,
    description: &str,
    tracks: u8,
) -> composition::Model {
    let draft = composition::Draft {
        release_type: 3,
        title,
        description,
        tags: Vec::new(),
    };
    let c = composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap();
    for n in 1..=tracks {
        add_track(app, &c, n, "audio/wav", 16_044).await;
    }
    c
}

#[tokio::test]
async fn a_release_on_a_feed_lists_its_first_three_tracks_and_links_to_all_of_them() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let long = release(&app, &ann, "Five Takes", "Five.", 5).await;
    release(&app, &ann, "Three Takes", "Three.", 3).await;
    let all = format!(
        r#"<a href="/composition/{}">All 5 tracks<span class="visually-hidden"> of “Five Takes”</span></a>"#,
        long.slug()
    );
    for path in ["/", "/user/ann"] {
        let body = app.client().get(path).await.body;
        let start = body.find("Five Takes").unwrap();
        let card = &body[start..start + body[start..].find(r#"class="actions""#).unwrap()];
        for n in 1..=3 {
            assert!(
                card.contains(&format!("Take {n}</span>")),
                "{path}: take {n}"
            );
        }
        assert!(!card.contains("Take 4</span>"), "{path}: only three tracks");
        assert!(card.contains(&all), "{path}: {card}");
        // Three tracks are all there is: no link to "all 3".
        assert!(!body.contains("All 3 tracks"), "{path}");
    }
    let permalink = app
        .client()
        .get(&format!("/composition/{}", long.slug()))
        .await
        .body;
    assert!(permalink.contains("Take 5</span>"));
    assert!(!permalink.contains("All 5 tracks"));
}

#[tokio::test]
async fn a_long_description_is_folded_behind_show_more_on_feeds_and_whole_on_its_page() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let text = "Four paragraphs.\n\nThe second.\n\nThe third.\n\nThe fourth, below the fold.";
    let long = release(&app, &ann, "Long Story", text, 0).await;
    let short = release(&app, &ann, "Short Story", "One line.", 0).await;
    let folded = format!(r#"<div class="prose folded" id="description-{}">"#, long.id);
    let more = format!(
        r#"<a class="show-more" href="/composition/{}#description" data-fold="description-{}">Show more<span class="visually-hidden"> of “Long Story”</span></a>"#,
        long.slug(),
        long.id
    );
    for path in ["/", "/user/ann"] {
        let body = app.client().get(path).await.body;
        assert!(body.contains(&folded), "{path}: {body}");
        assert!(body.contains(&more), "{path}");
        // The whole text is in the page (the fold is the stylesheet's): readers hear it all.
        assert!(body.contains("The fourth, below the fold."), "{path}");
        assert!(
            !body.contains(&format!(r#"id="description-{}""#, short.id)),
            "{path}: a short one is not folded"
        );
        assert_eq!(body.matches("Show more").count(), 1, "{path}");
    }
    let permalink = app
        .client()
        .get(&format!("/composition/{}", long.slug()))
        .await
        .body;
    assert!(permalink.contains(r#"<div class="prose" id="description">"#));
    assert!(!permalink.contains("Show more"));
    assert!(!permalink.contains("prose folded"));
}

#[tokio::test]
async fn a_pressed_like_button_reads_liked_and_stays_a_toggle_named_like() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    let home = client.get("/").await.body;
    assert!(
        home.contains(
            r#"aria-pressed="false"><span aria-hidden="true">&#9825;</span> Like</button>"#
        ),
        "{home}"
    );
    let action = format!("/composition/{}/like", rag.slug());
    submit(&mut client, "/", &action, &[("back", "/")]).await;
    let home = client.get("/").await.body;
    // Its accessible name stays "Like" (aria-pressed says it is on); the eye reads "Liked".
    assert!(
        home.contains(r#"aria-pressed="true"><span aria-hidden="true">&#9829;</span> Like<span aria-hidden="true">d</span></button>"#),
        "{home}"
    );
    let action = format!("/composition/{}/unlike", rag.slug());
    submit(&mut client, "/", &action, &[("back", "/")]).await;
    assert!(!client.get("/").await.body.contains("Liked"));
}

#[tokio::test]
async fn the_followed_feed_has_its_own_url_its_own_pages_and_the_old_way_still_works() {
    let app = TestApp::with_env(&[("RAGTIME_COMPOSITIONS_PER_PAGE", "2")]).await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let cat = app.create_user("cat").await;
    for u in [&ann, &bob, &cat] {
        follow::add(&app.db, u.id, u.id).await.unwrap();
    }
    follow::add(&app.db, ann.id, bob.id).await.unwrap();
    for n in 1..=3 {
        app.publish(&bob, &format!("Bobs Tune {n}")).await;
    }
    app.publish(&cat, "Cats Song").await;

    let mut client = app.logged_in_client(&ann).await;
    let res = client.get("/followed").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body.contains("<title>Followed · Ragtime</title>"),
        "{}",
        res.body
    );
    assert!(
        res.body
            .contains(r#"<a href="/followed" class="active" aria-current="page">Followed</a>"#)
    );
    assert!(res.body.contains("Bobs Tune 3") && !res.body.contains("Cats Song"));
    // Its pages are its own.
    let next = rel_link(&res.body, "next").expect("a second page");
    assert!(next.starts_with("/followed?after="), "{next}");
    let second = client.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("Bobs Tune 1") && !second.body.contains("Bobs Tune 3"));
    assert!(!second.body.contains("Cats Song"));
    // The tab is remembered for `/`, as before.
    let cookie = res.header("set-cookie").unwrap();
    assert!(cookie.contains("show_followed=1"), "{cookie}");
    let home = client.get("/").await.body;
    assert!(home.contains("Bobs Tune 3") && !home.contains("Cats Song"));
    // All goes back to everyone's.
    assert_eq!(client.get("/all").await.header("location"), Some("/"));
    assert!(client.get("/").await.body.contains("Cats Song"));
    // Nobody's followed feed without an account: to the login page.
    let res = app.client().get("/followed").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.header("location").unwrap().starts_with("/auth/login"));
}

#[tokio::test]
async fn a_search_keeps_its_query_in_the_navbar_box_too() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    app.publish(&ann, "Maple Leaf Rag").await;
    let page = app.client().get("/search?q=maple+leaf").await.body;
    assert!(
        page.contains(r#"<input id="nav-search-q" name="q" type="search" value="maple leaf""#),
        "{page}"
    );
    assert!(page.contains(r#"<input id="search-q" name="q" type="search" value="maple leaf""#));
    // Escaped like any text, and empty elsewhere.
    let page = app.client().get("/search?q=%22%3E%3Cb%3E").await.body;
    assert!(!page.contains(r#"value="">"#) && !page.contains("<b>"));
    let home = app.client().get("/").await.body;
    assert!(home.contains(r#"<input id="nav-search-q" name="q" type="search" value="""#));
}

#[tokio::test]
async fn a_profile_shows_the_music_before_who_to_follow() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    app.create_user("cat").await;
    app.publish(&bob, "Maple Leaf Rag").await;
    let body = app.logged_in_client(&ann).await.get("/user/bob").await.body;
    let music = body.find("Compositions by bob").unwrap();
    let card = body.find("Maple Leaf Rag").unwrap();
    let suggestions = body.find("Who to follow").expect("suggestions");
    assert!(music < card && card < suggestions, "{body}");
}

#[tokio::test]
async fn the_scheme_toggle_keeps_a_cookie_that_paints_the_first_frame() {
    let app = TestApp::new().await;
    let mut client = app.client();
    // Nothing chosen: the system's scheme (the stylesheet's media query); the toggle offers dark.
    let home = client.get("/").await.body;
    assert!(home.contains(r#"<html lang="en">"#));
    assert!(
        home.contains(r#"name="to" value="dark" aria-pressed="false""#),
        "{home}"
    );
    assert!(home.contains(r#"<input type="hidden" name="back" value="/">"#));
    let page = client.get("/users?x=1").await.body;
    assert!(page.contains(r#"<input type="hidden" name="back" value="/users?x=1">"#));

    let res = client.get("/scheme?back=%2Fusers%3Fx%3D1&to=dark").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/users?x=1"));
    let cookie = res.header("set-cookie").unwrap();
    for part in [
        "scheme=dark",
        "Max-Age=31536000",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let home = client.get("/").await.body;
    assert!(
        home.contains(r#"<html lang="en" data-scheme="dark">"#),
        "{home}"
    );
    assert!(home.contains(r#"name="to" value="light" aria-pressed="true""#));
    // Error pages too.
    let missing = client.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing
            .body
            .contains(r#"<html lang="en" data-scheme="dark">"#)
    );

    client.get("/scheme?to=light&back=/").await;
    let home = client.get("/").await.body;
    assert!(home.contains(r#"<html lang="en" data-scheme="light">"#));
    // The system's again: the cookie goes.
    let res = client.get("/scheme?to=system&back=/").await;
    assert!(res.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert!(client.get("/").await.body.contains(r#"<html lang="en">"#));

    // Only a scheme we know, and only back to this site.
    assert_eq!(
        client.get("/scheme?to=purple").await.status,
        StatusCode::BAD_REQUEST
    );
    for back in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let url = format!("/scheme?to=dark&back={}", urlencode(back));
        assert_eq!(
            client.get(&url).await.header("location"),
            Some("/"),
            "{back}"
        );
    }
    // A cookie that names no scheme is the system's.
    client.cookies.insert("scheme".into(), "purple".into());
    assert!(client.get("/").await.body.contains(r#"<html lang="en">"#));
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

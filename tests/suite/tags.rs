//! Tags: typed on the composition form and in the API, normalised, at most five; shown as
//! links on cards; a tag's page pages its compositions by cursor; the most used on the home
//! page, with counts kept exact by the database.

use crate::helpers::{Client, TestApp, TestResponse, rel_link, submit};
use axum::http::{Method, StatusCode, header};
use ragtime::models::composition::{self, Draft};
use ragtime::models::{follow, tag, user};
use serde_json::json;

async fn artist(app: &TestApp, username: &str) -> user::Model {
    let user = app.create_user(username).await;
    follow::add(&app.db, user.id, user.id).await.unwrap();
    user
}

async fn publish_tagged(
    app: &TestApp,
    artist: &user::Model,
    title: &str,
    tags: &[&str],
) -> composition::Model {
    let draft = Draft {
        release_type: 1,
        title,
        description: "",
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap()
}

async fn count_of(app: &TestApp, name: &str) -> i32 {
    tag::find_by_name(&app.db, name)
        .await
        .unwrap()
        .map_or(0, |t| t.compositions_count)
}

#[tokio::test]
async fn tags_typed_on_the_form_are_normalised_shown_on_cards_and_edited() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let res = submit(
        &mut client,
        "/",
        "/",
        &[
            ("release_type", "1"),
            ("title", "Maple Leaf Rag"),
            ("description", ""),
            ("tags", "Ragtime, Delta Blues!, ragtime, ???, "),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let home = client.get("/").await;
    let ragtime_at = home
        .body
        .find(r#"href="/tag/ragtime">#ragtime</a>"#)
        .unwrap();
    let blues_at = home
        .body
        .find(r#"href="/tag/delta-blues">#delta-blues</a>"#)
        .unwrap();
    assert!(ragtime_at < blues_at, "in the order typed");
    assert_eq!(count_of(&app, "ragtime").await, 1);

    // The edit form shows them; changing them moves the counts.
    let c = composition::find(&app.db, 1).await.unwrap().unwrap();
    let edit = client.get(&format!("/edit/{}", c.slug())).await;
    assert!(edit.body.contains(r#"value="ragtime, delta-blues""#));
    let res = submit(
        &mut client,
        &format!("/edit/{}", c.slug()),
        &format!("/edit/{}", c.slug()),
        &[
            ("release_type", "1"),
            ("title", "Maple Leaf Rag"),
            ("description", ""),
            ("tags", "stride"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(tag::of(&app.db, c.id).await.unwrap(), vec!["stride"]);
    assert_eq!(count_of(&app, "ragtime").await, 0);
    assert_eq!(count_of(&app, "stride").await, 1);
    // Deleting the composition takes its tags' counts with it.
    composition::delete(&app.db, c.id).await.unwrap();
    assert_eq!(count_of(&app, "stride").await, 0);
}

#[tokio::test]
async fn too_many_or_unusable_tags_are_refused_and_nothing_is_saved() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut client = app.logged_in_client(&ann).await;
    for (tags, message) in [
        ("a, b, c, d, e, f", "At most 5 tags."),
        (&*"x".repeat(40), "a tag has at most 32 characters"),
    ] {
        let res = submit(
            &mut client,
            "/",
            "/",
            &[
                ("release_type", "1"),
                ("title", "Refused"),
                ("description", ""),
                ("tags", tags),
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{tags}");
        assert!(res.body.contains(message), "{tags}: {message}");
        // What was typed comes back.
        assert!(res.body.contains(r#"id="tags""#));
    }
    assert_eq!(
        composition::count(&app.db, composition::Feed::All)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_tag_page_lists_its_compositions_newest_first_in_cursor_pages() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut ids = Vec::new();
    for n in 0..45 {
        let tags: &[&str] = if n % 3 == 0 {
            &["other"]
        } else {
            &["swing", "other"]
        };
        let c = publish_tagged(&app, &ann, &format!("Piece {n}"), tags).await;
        if n % 3 != 0 {
            ids.push(c.id);
        }
    }
    ids.reverse(); // newest first
    let mut client = app.client();
    let first = client.get("/tag/swing").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("<h1>#swing</h1>"));
    assert!(first.body.contains("30 compositions tagged swing"));
    let mut seen = card_ids(&first.body);
    let mut next = rel_link(&first.body, "next");
    while let Some(url) = next {
        assert!(seen.len() <= ids.len(), "the pages never end");
        let res = client.get(&url).await;
        seen.extend(card_ids(&res.body));
        next = rel_link(&res.body, "next");
    }
    assert_eq!(seen, ids);

    // Canonical names redirect; unknown tags are 404; junk cursors are the first page.
    let res = client.get("/tag/Swing").await;
    assert_eq!(res.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.header("location"), Some("/tag/swing"));
    for missing in ["/tag/nothing", "/tag/%3F%3F%3F"] {
        assert_eq!(
            client.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    assert_eq!(client.get("/tag/%FF").await.status, StatusCode::BAD_REQUEST);
    let junk = client.get("/tag/swing?after=junk&page=-4").await;
    assert_eq!(card_ids(&junk.body), card_ids(&first.body));

    // The most used tags are on the home page, most used first.
    let home = client.get("/").await;
    let other = home.body.find(r#"href="/tag/other""#).unwrap();
    let swing = home.body.find(r#"href="/tag/swing""#).unwrap();
    assert!(home.body.contains("Popular tags"));
    assert!(other < swing);
}

/// Compositions on a page, by their permalink ids, in order.
fn card_ids(body: &str) -> Vec<i32> {
    body.match_indices(r#"<h2 class="composition-title"><a href="/composition/"#)
        .map(|(at, m)| {
            body[at + m.len()..]
                .split(['-', '"'])
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

async fn api(
    client: &mut Client,
    method: Method,
    path: &str,
    auth: &str,
    body: Option<serde_json::Value>,
) -> TestResponse {
    let mut req = client
        .request(method, path)
        .header(header::AUTHORIZATION, auth);
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            axum::body::Body::from(v.to_string())
        }
        None => axum::body::Body::empty(),
    };
    client.send(req.body(body).unwrap()).await
}

#[tokio::test]
async fn the_api_takes_and_shows_tags() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let auth = format!(
        "Bearer {}",
        ragtime::api::auth::issue(&app.state.signer, &ann)
    );
    let mut client = app.client();
    let created = api(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        &auth,
        Some(json!({"release_type": 1, "title": "Rag", "tags": ["Ragtime", "stride"]})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.json()["tags"], json!(["ragtime", "stride"]));
    let url = created.header("location").unwrap().to_owned();
    let path = &url[url.find("/api/").unwrap()..];

    // Left out, they stay; given, they replace; [] removes them.
    let kept = api(
        &mut client,
        Method::PUT,
        path,
        &auth,
        Some(json!({"title": "Rag 2"})),
    )
    .await;
    assert_eq!(kept.json()["tags"], json!(["ragtime", "stride"]));
    let replaced = api(
        &mut client,
        Method::PUT,
        path,
        &auth,
        Some(json!({"tags": ["swing"]})),
    )
    .await;
    assert_eq!(replaced.json()["tags"], json!(["swing"]));
    let listed = api(
        &mut client,
        Method::GET,
        "/api/v1/compositions/",
        &auth,
        None,
    )
    .await;
    assert_eq!(listed.json()["compositions"][0]["tags"], json!(["swing"]));
    let removed = api(
        &mut client,
        Method::PUT,
        path,
        &auth,
        Some(json!({"tags": []})),
    )
    .await;
    assert_eq!(removed.json()["tags"], json!([]));

    for (tags, needle) in [
        (json!("ragtime"), "tags"),
        (json!([1, 2]), "tags"),
        (json!(["a", "b", "c", "d", "e", "f"]), "At most 5 tags"),
        (json!(["", "", "", "", "", ""]), "At most 5 tags"),
        (json!(["x".repeat(33)]), "at most 32 characters"),
        (json!(null), "tags"),
    ] {
        let res = api(
            &mut client,
            Method::PUT,
            path,
            &auth,
            Some(json!({"tags": tags})),
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{tags}: {}", res.body);
        assert!(res.body.contains(needle), "{tags}: {}", res.body);
    }
    let after = api(&mut client, Method::GET, path, &auth, None).await;
    assert_eq!(after.json()["tags"], json!([]), "nothing half-saved");
    // A tag with no letter or digit is left out, like a repeat.
    let res = api(
        &mut client,
        Method::PUT,
        path,
        &auth,
        Some(json!({"tags": ["!!!", "Jazz", "jazz", ""]})),
    )
    .await;
    assert_eq!(res.json()["tags"], json!(["jazz"]));
}

//! Search: compositions by title, tags, track titles and description; people by username,
//! name, location and bio; accents and case folded, best match first, cursor pages, matched
//! words marked without letting user text become markup, and any query text safe — on SQLite
//! (FTS5) and PostgreSQL (tsvector) alike.

use crate::helpers::{Client, TestApp, rel_link};
use axum::http::{Method, StatusCode, header};
use ragtime::models::composition::{self, Draft};
use ragtime::models::keyset::Cursor;
use ragtime::models::search::{self, Query};
use ragtime::models::{follow, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

async fn artist(app: &TestApp, username: &str) -> user::Model {
    let user = app.create_user(username).await;
    follow::add(&app.db, user.id, user.id).await.unwrap();
    user
}

async fn publish(
    app: &TestApp,
    artist: &user::Model,
    title: &str,
    description: &str,
    tags: &[&str],
) -> composition::Model {
    let draft = Draft {
        release_type: 1,
        title,
        description,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap()
}

/// The titles found for `q`, best first (first page).
async fn titles(app: &TestApp, q: &str) -> Vec<String> {
    let found = search::compositions(&app.db, &Query::parse(q), Cursor::First, 20)
        .await
        .unwrap();
    found
        .page
        .items
        .into_iter()
        .map(|f| f.card.composition.title)
        .collect()
}

async fn usernames(app: &TestApp, q: &str) -> Vec<String> {
    let found = search::people(&app.db, &Query::parse(q), Cursor::First, 20)
        .await
        .unwrap();
    found
        .page
        .items
        .into_iter()
        .map(|f| f.user.username)
        .collect()
}

#[tokio::test]
async fn compositions_are_found_by_title_tags_description_and_track_titles_ignoring_case_and_accents()
 {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    publish(&app, &ann, "Café Nocturne", "Slow and low.", &[]).await;
    publish(
        &app,
        &ann,
        "Harbour Lights",
        "Written in a café at dawn.",
        &[],
    )
    .await;
    publish(
        &app,
        &ann,
        "Quiet One",
        "Nothing to see.",
        &["stride", "delta-blues"],
    )
    .await;
    let album = publish(&app, &ann, "Long Player", "Ten tracks.", &[]).await;
    ragtime::models::track::ActiveModel {
        composition_id: Set(album.id),
        position: Set(1),
        title: Set("Zanzibar Shuffle".into()),
        object_key: Set("k".into()),
        container: Set("wav".into()),
        codec: Set("pcm".into()),
        mime: Set("audio/wav".into()),
        duration_ms: Set(1000),
        sample_rate: Set(8000),
        channels: Set(1),
        bit_rate: Set(64000),
        size_bytes: Set(10),
        sha256: Set("0".repeat(64)),
        waveform: Set(String::new()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();

    // A title match ranks above a description match; accents and case do not matter.
    assert_eq!(
        titles(&app, "CAFE").await,
        vec!["Café Nocturne", "Harbour Lights"]
    );
    assert_eq!(titles(&app, "café").await.len(), 2);
    assert_eq!(titles(&app, "stride").await, vec!["Quiet One"]);
    assert_eq!(titles(&app, "delta blues").await, vec!["Quiet One"]);
    assert_eq!(titles(&app, "zanzibar").await, vec!["Long Player"]);
    // Stems: "lights" finds "light".
    assert_eq!(titles(&app, "light").await, vec!["Harbour Lights"]);
    // Every word must match; a phrase keeps its order; `-` leaves out; `or` gives either.
    assert_eq!(titles(&app, "cafe dawn").await, vec!["Harbour Lights"]);
    assert!(titles(&app, "\"dawn café\"").await.is_empty());
    assert_eq!(titles(&app, "cafe -dawn").await, vec!["Café Nocturne"]);
    assert_eq!(
        titles(&app, "zanzibar or stride").await.len(),
        2,
        "either word"
    );

    // Kept in step with edits and deletions.
    let quiet = composition::find(&app.db, album.id - 1)
        .await
        .unwrap()
        .unwrap();
    let draft = Draft {
        release_type: 1,
        title: "Loud One",
        description: "Nothing to see.",
        tags: vec!["swing".into()],
    };
    composition::update(&app.db, quiet.id, &draft)
        .await
        .unwrap();
    assert!(titles(&app, "quiet").await.is_empty());
    assert!(titles(&app, "stride").await.is_empty());
    assert_eq!(titles(&app, "swing").await, vec!["Loud One"]);
    composition::delete(&app.db, album.id).await.unwrap();
    assert!(titles(&app, "zanzibar").await.is_empty());
}

#[tokio::test]
async fn people_are_found_by_parts_of_their_username_name_location_and_bio() {
    let app = TestApp::new().await;
    let maria = artist(&app, "maria.keys").await;
    let mut active: user::ActiveModel = maria.into();
    active.name = Set(Some("María Fernández".into()));
    active.location = Set(Some("São Paulo".into()));
    active.about_me = Set(Some("Plays the **bandoneón** at night.".into()));
    active.update(&app.db).await.unwrap();
    artist(&app, "bob_stride").await;

    for q in ["maria", "Keys", "fernandez", "sao paulo", "bandoneon"] {
        assert_eq!(usernames(&app, q).await, vec!["maria.keys"], "{q}");
    }
    assert_eq!(usernames(&app, "stride").await, vec!["bob_stride"]);
    assert!(usernames(&app, "nobody").await.is_empty());
}

#[tokio::test]
async fn the_search_page_marks_matched_words_and_escapes_what_users_wrote() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    publish(
        &app,
        &ann,
        "<b>Café</b> & Co",
        "A <script>alert(1)</script> café tune.",
        &["lo-fi"],
    )
    .await;

    let res = app.client().get("/search?q=cafe").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body
            .contains("&#60;b&#62;<mark>Café</mark>&#60;/b&#62; &#38; Co")
    );
    // (PostgreSQL's snippets leave out what looks like an HTML tag; SQLite's show it, escaped.)
    assert!(res.body.contains("<mark>café</mark> tune"));
    assert!(!res.body.contains("<script>alert"));
    assert!(res.body.contains(r#"href="/tag/lo-fi""#));
    // The box shows what was typed; the tabs keep it.
    assert!(res.body.contains(r#"value="cafe""#));
    assert!(
        res.body
            .contains(r#"href="/search?q=cafe&#38;type=people""#)
    );
    // Every page has the search box in its navbar.
    let home = app.client().get("/").await;
    assert!(home.body.contains(r#"action="/search""#));

    let res = app.client().get("/search?q=ann&type=people").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains(r#"href="/user/ann""#));
    let none = app.client().get("/search?q=zzzz").await;
    assert!(none.body.contains("Nothing matches “zzzz”."));
}

#[tokio::test]
async fn results_page_by_cursor_both_ways_without_gaps_or_repeats() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let mut ids = Vec::new();
    for n in 0..45 {
        // Ranks differ (more mentions, higher rank) and some tie.
        let description = "rag ".repeat(1 + n % 4);
        ids.push(
            publish(&app, &ann, &format!("Piece {n}"), &description, &[])
                .await
                .id,
        );
    }
    publish(&app, &ann, "Unrelated", "nothing", &[]).await;

    let mut client = app.client();
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut url = Some("/search?q=rag".to_owned());
    while let Some(next) = url {
        assert!(pages.len() < 5, "the pages never end: {pages:?}");
        let res = client.get(&next).await;
        assert_eq!(res.status, StatusCode::OK);
        let page = result_ids(&res.body);
        seen.extend(page.iter().copied());
        pages.push((next, page));
        url = rel_link(&res.body, "next");
    }
    assert_eq!(pages.len(), 3);
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 45, "every match once: {seen:?}");
    // Back from the last page gives the pages seen on the way.
    let mut back = rel_link(&client.get(&pages[2].0).await.body, "prev");
    for (_, expected) in pages.iter().rev().skip(1) {
        let res = client.get(back.as_deref().unwrap()).await;
        assert_eq!(&result_ids(&res.body), expected);
        back = rel_link(&res.body, "prev");
    }
    assert!(back.is_none());
}

/// The compositions of a search page, by their permalinks' ids, in order.
fn result_ids(body: &str) -> Vec<i32> {
    body.match_indices(r#"<h2 class="result-title"><a href="/composition/"#)
        .map(|(at, m)| {
            let rest = &body[at + m.len()..];
            rest.split('-')
                .next()
                .unwrap()
                .trim_end_matches('"')
                .parse()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn any_query_text_gives_results_or_nothing_never_an_error() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    publish(&app, &ann, "Near Me", "a b c NEAR the AND of OR", &["x"]).await;
    let token = api_token(&app, &ann).await;
    let mut client = app.client();
    let long = "a".repeat(10_000);
    let hostile = [
        "\"",
        "\"unbalanced",
        "((a",
        "a))",
        "NEAR(a b)",
        "NEAR",
        "a AND",
        "OR",
        "NOT a",
        "*",
        "a*",
        "^a",
        "title:near",
        "-",
        "--",
        "-a -b",
        "'; DROP TABLE compositions; --",
        "\0",
        "a\u{1}b\u{7f}",
        "🎹🎷",
        "café",
        "a+b",
        "%",
        "<script>alert(1)</script>",
        long.as_str(),
        "near",
    ];
    let encoded = hostile
        .iter()
        .map(|q| form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>())
        // Not UTF-8, and a NUL, as raw bytes of the query string.
        .chain(["%FF%FE".to_owned(), "%00".to_owned(), "%C3".to_owned()]);
    for q in encoded {
        for path in [
            format!("/search?q={q}"),
            format!("/search?q={q}&type=people"),
        ] {
            let res = client.get(&path).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
        }
        for kind in ["compositions", "users"] {
            let path = format!("/api/v1/search?q={q}&type={kind}");
            let res = api_get(&mut client, &path, &token).await;
            assert_eq!(res.status, StatusCode::OK, "{q} {kind}: {}", res.body);
            assert!(res.json()["count"].is_u64());
        }
    }
    // Junk cursors are the first page.
    let res = client.get("/search?q=near&after=junk&before=1_").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(result_ids(&res.body).len(), 1);
    assert_eq!(titles(&app, "near").await, vec!["Near Me"]);
}

async fn api_token(app: &TestApp, user: &user::Model) -> String {
    format!(
        "Bearer {}",
        ragtime::api::auth::issue(&app.state.signer, user)
    )
}

async fn api_get(client: &mut Client, path: &str, auth: &str) -> crate::helpers::TestResponse {
    let req = client
        .request(Method::GET, path)
        .header(header::AUTHORIZATION, auth)
        .body(axum::body::Body::empty())
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn the_api_searches_compositions_and_users_in_cursor_pages() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob.rag").await;
    follow::follow(&app.db, ann.id, bob.id).await.unwrap();
    for n in 0..25 {
        publish(&app, &bob, &format!("Rag {n}"), "", &["ragtime"]).await;
    }
    let token = api_token(&app, &ann).await;
    let mut client = app.client();

    let res = api_get(&mut client, "/api/v1/search?q=rag", &token).await;
    assert_eq!(res.status, StatusCode::OK);
    let first = res.json();
    assert_eq!(first["count"], 25);
    assert_eq!(first["compositions"].as_array().unwrap().len(), 20);
    assert_eq!(first["compositions"][0]["tags"][0], "ragtime");
    assert!(first["prev"].is_null());
    let next = first["next"].as_str().unwrap();
    assert!(next.contains("q=rag") && next.contains("after="), "{next}");
    let path = &next[next.find("/api/").unwrap()..];
    let second = api_get(&mut client, path, &token).await.json();
    assert_eq!(second["compositions"].as_array().unwrap().len(), 5);
    assert!(second["next"].is_null());
    let mut ids: Vec<i64> = first["compositions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["compositions"].as_array().unwrap())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 25);

    let users = api_get(&mut client, "/api/v1/search?q=bob&type=users", &token)
        .await
        .json();
    assert_eq!(users["count"], 1);
    assert_eq!(users["users"][0]["username"], "bob.rag");
    assert_eq!(users["users"][0]["followed_by_you"], true);

    for kind in ["songs", ""] {
        let path = format!("/api/v1/search?q=bob&type={kind}");
        let bad = api_get(&mut client, &path, &token).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{kind}");
        assert!(bad.body.contains("type"));
    }
    let missing = api_get(&mut client, "/api/v1/search?type=users", &token).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body.contains("`q` is required"));
    let empty = api_get(&mut client, "/api/v1/search?q=", &token).await;
    assert_eq!(
        (empty.status, empty.json()["count"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    // Public data: read without credentials too, as the site's search is.
    let anonymous = app.client().get("/api/v1/search?q=bob&type=users").await;
    assert_eq!(anonymous.status, StatusCode::OK, "{}", anonymous.body);
    let found = anonymous.json();
    assert_eq!(found["users"][0]["username"], "bob.rag");
    assert_eq!(found["users"][0]["followed_by_you"], false);
}

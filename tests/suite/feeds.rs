//! Atom feeds: the site's, an artist's and a tag's, read back with an independent parser
//! (feed-rs) and checked against RFC 4287's requirements; stable entry ids, enclosures, escaped
//! content, conditional requests, and clear 404s.

use std::sync::atomic::Ordering;

use crate::helpers::{Client, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::models::composition::{self, Draft};
use ragtime::models::{track, user};

const ORIGIN: &str = "http://localhost";

pub(crate) async fn publish(
    app: &TestApp,
    artist: &user::Model,
    release_type: i16,
    title: &str,
    description: &str,
    tags: &[&str],
) -> composition::Model {
    let draft = Draft {
        release_type,
        title,
        description,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap()
}

/// A track row (its object is never read by a feed or a preview).
pub(crate) async fn add_track(
    app: &TestApp,
    c: &composition::Model,
    n: u8,
    mime: &str,
    size: i64,
) -> track::Model {
    let sha = format!("{n:02x}").repeat(32);
    let new = track::NewTrack {
        title: format!("Take {n}"),
        object_key: format!("{sha}.bin"),
        container: "x".into(),
        codec: "x".into(),
        mime: mime.into(),
        duration_ms: 1_000,
        sample_rate: 8_000,
        channels: 1,
        bit_rate: 128_000,
        size_bytes: size,
        sha256: sha,
        peaks: vec![128; 10],
    };
    track::add(&app.db, c, vec![new], &app.state.media.limits())
        .await
        .unwrap()
        .remove(0)
}

async fn get_with(client: &mut Client, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    let mut req = client.request(Method::GET, path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    client.send(req.body(Body::empty()).unwrap()).await
}

/// The feed at `path`, checked to be served as Atom and parsed by feed-rs.
async fn feed(client: &mut Client, path: &str) -> (feed_rs::model::Feed, TestResponse) {
    let res = client.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    assert_eq!(
        res.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    // The site's security headers reach feeds too.
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert!(res.header("content-security-policy").is_some());
    let parsed = feed_rs::parser::parse(res.body.as_bytes())
        .unwrap_or_else(|e| panic!("{path} is not a feed ({e}):\n{}", res.body));
    assert_eq!(parsed.feed_type, feed_rs::model::FeedType::Atom);
    (parsed, res)
}

fn entry_id(c: &composition::Model) -> String {
    format!("tag:localhost,2026:composition/{}", c.id)
}

fn link<'a>(links: &'a [feed_rs::model::Link], rel: &str) -> Vec<&'a feed_rs::model::Link> {
    links
        .iter()
        .filter(|l| l.rel.as_deref() == Some(rel))
        .collect()
}

/// What RFC 4287 §4.1.1 and §4.1.2 require of a feed and of each of its entries.
fn assert_valid(path: &str, feed: &feed_rs::model::Feed, page: &str) {
    assert!(feed.id.starts_with("tag:localhost,2026:"), "{}", feed.id);
    assert!(!feed.title.as_ref().unwrap().content.is_empty());
    let updated = feed.updated.expect("feed updated");
    let selfs = link(&feed.links, "self");
    assert_eq!(selfs.len(), 1);
    assert_eq!(selfs[0].href, format!("{ORIGIN}{path}"));
    assert_eq!(selfs[0].media_type.as_deref(), Some("application/atom+xml"));
    let alternates = link(&feed.links, "alternate");
    assert_eq!(alternates[0].href, format!("{ORIGIN}{page}"));
    assert!(!feed.authors.is_empty(), "the feed has an author");
    for entry in &feed.entries {
        assert!(entry.id.starts_with("tag:localhost,2026:composition/"));
        assert!(!entry.title.as_ref().unwrap().content.is_empty());
        let entry_updated = entry.updated.expect("entry updated");
        assert!(
            entry_updated <= updated,
            "the feed is as new as its newest entry"
        );
        assert_eq!(entry.published, Some(entry_updated));
        let author = &entry.authors[0];
        let name = author.name.as_deref().expect("an author's name");
        assert_eq!(
            author.uri.as_deref(),
            Some(format!("{ORIGIN}/user/{name}").as_str())
        );
        let alternate = link(&entry.links, "alternate");
        assert_eq!(alternate.len(), 1);
        assert!(
            alternate[0]
                .href
                .starts_with(&format!("{ORIGIN}/composition/"))
        );
        let content = entry.content.as_ref().expect("content");
        assert_eq!(content.content_type.to_string(), "text/html");
    }
    if let Some(newest) = feed.entries.iter().filter_map(|e| e.updated).max() {
        assert_eq!(updated, newest, "{path}: updated is the newest entry's");
    }
}

#[tokio::test]
async fn every_feed_is_atom_with_ids_authors_links_content_and_enclosures() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let single = publish(&app, &ann, 1, "Maple Leaf", "A *rag*.", &["stride"]).await;
    add_track(&app, &single, 1, "audio/mpeg", 123_456).await;
    let ep = publish(&app, &ann, 2, "Two Takes", "", &["stride", "blues"]).await;
    add_track(&app, &ep, 2, "audio/flac", 2_000_000).await;
    add_track(&app, &ep, 3, "audio/ogg", 99).await;
    let bobs = publish(&app, &bob, 1, "Bob's", "", &["blues"]).await;
    let mut client = app.client();

    for (path, page, expected) in [
        ("/feed.atom", "/", vec![&bobs, &ep, &single]),
        ("/user/ann/feed.atom", "/user/ann", vec![&ep, &single]),
        ("/tag/stride/feed.atom", "/tag/stride", vec![&ep, &single]),
        ("/tag/blues/feed.atom", "/tag/blues", vec![&bobs, &ep]),
    ] {
        let (parsed, _) = feed(&mut client, path).await;
        assert_valid(path, &parsed, page);
        let ids: Vec<&str> = parsed.entries.iter().map(|e| e.id.as_str()).collect();
        let wanted: Vec<String> = expected.iter().map(|c| entry_id(c)).collect();
        assert_eq!(ids, wanted, "{path}: newest first");
    }

    let (parsed, _) = feed(&mut client, "/user/ann/feed.atom").await;
    assert_eq!(parsed.id, format!("tag:localhost,2026:user/{}", ann.id));
    assert_eq!(parsed.authors[0].name.as_deref(), Some("ann"));
    let entry = &parsed.entries[0];
    assert_eq!(entry.title.as_ref().unwrap().content, "Two Takes");
    assert_eq!(
        link(&entry.links, "alternate")[0].href,
        format!("{ORIGIN}/composition/{}", ep.url_slug())
    );
    assert_eq!(entry.updated.unwrap().timestamp(), ep.timestamp.timestamp());
    let enclosures = link(&entry.links, "enclosure");
    let got: Vec<(&str, Option<&str>, Option<u64>)> = enclosures
        .iter()
        .map(|l| (l.href.as_str(), l.media_type.as_deref(), l.length))
        .collect();
    let key = |n: u8| format!("{ORIGIN}/audio/{}.bin", format!("{n:02x}").repeat(32));
    let (k2, k3) = (key(2), key(3));
    assert_eq!(
        got,
        vec![
            (k2.as_str(), Some("audio/flac"), Some(2_000_000)),
            (k3.as_str(), Some("audio/ogg"), Some(99)),
        ]
    );
    let terms: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(terms, ["stride", "blues"]);
    let single_entry = &parsed.entries[1];
    assert_eq!(link(&single_entry.links, "enclosure").len(), 1);
    assert_eq!(
        single_entry.content.as_ref().unwrap().body.as_deref(),
        Some(single.description_html.trim())
    );
}

#[tokio::test]
async fn the_feed_holds_the_newest_page_and_reads_it_in_a_fixed_number_of_queries() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let per_page = app.state.config.compositions_per_page as usize;
    let (mut client, queries) = app.counting_client().await;
    let mut counts = Vec::new();
    for round in 0..2 {
        let n = if round == 0 { 1 } else { per_page + 3 };
        while composition::count(&app.db, composition::Feed::By(ann.id))
            .await
            .unwrap()
            < n as u64
        {
            let c = publish(&app, &ann, 3, "An album", "", &["stride"]).await;
            add_track(&app, &c, (c.id % 250) as u8, "audio/mpeg", 10).await;
        }
        for path in ["/user/ann/feed.atom", "/tag/stride/feed.atom"] {
            queries.store(0, Ordering::SeqCst);
            let (parsed, _) = feed(&mut client, path).await;
            assert_eq!(parsed.entries.len(), n.min(per_page));
            counts.push((path, queries.load(Ordering::SeqCst)));
        }
    }
    // As many queries for a page of 20 entries with their tracks as for one.
    assert_eq!(counts[0].1, counts[2].1, "{counts:?}");
    assert_eq!(counts[1].1, counts[3].1, "{counts:?}");
    assert!(counts[0].1 <= 5, "{counts:?}");
}

#[tokio::test]
async fn an_entry_keeps_its_id_when_its_title_is_edited() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = publish(&app, &ann, 1, "Old Title", "", &[]).await;
    let mut client = app.client();
    let (before, res) = feed(&mut client, "/feed.atom").await;
    let draft = Draft {
        release_type: 1,
        title: "New Title",
        description: "",
        tags: Vec::new(),
    };
    composition::update(&app.db, c.id, &draft).await.unwrap();
    app.state.feeds.clear();
    let (after, res2) = feed(&mut client, "/feed.atom").await;
    assert_eq!(before.entries[0].id, entry_id(&c));
    assert_eq!(after.entries[0].id, before.entries[0].id);
    assert_eq!(
        after.entries[0].title.as_ref().unwrap().content,
        "New Title"
    );
    assert!(
        link(&after.entries[0].links, "alternate")[0]
            .href
            .ends_with("-new-title")
    );
    // The edit shows in the ETag, so a reader who had the old feed gets the new one.
    assert_ne!(res.header("etag"), res2.header("etag"));
}

#[tokio::test]
async fn hostile_titles_and_descriptions_are_escaped_in_feeds() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let title = r#""><script>alert(1)</script>"#;
    publish(
        &app,
        &ann,
        1,
        title,
        "<script>alert(2)</script>\n\nSome **bold** <img src=x onerror=alert(3)>",
        &[],
    )
    .await;
    let mut client = app.client();
    let (parsed, res) = feed(&mut client, "/feed.atom").await;
    assert!(!res.body.to_lowercase().contains("<script"), "{}", res.body);
    assert!(!res.body.contains("<strong>"), "content is escaped HTML");
    let entry = &parsed.entries[0];
    assert_eq!(entry.title.as_ref().unwrap().content, title);
    let html = entry.content.as_ref().unwrap().body.clone().unwrap();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    assert!(
        !html.contains("script") && !html.contains("onerror"),
        "{html}"
    );
}

#[tokio::test]
async fn feeds_answer_304_to_their_etag_and_last_modified() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    publish(&app, &ann, 1, "First", "", &["stride"]).await;
    let mut client = app.client();
    for path in ["/feed.atom", "/user/ann/feed.atom", "/tag/stride/feed.atom"] {
        let (_, res) = feed(&mut client, path).await;
        let etag = res.header("etag").expect("an ETag").to_owned();
        let modified = res
            .header("last-modified")
            .expect("Last-Modified")
            .to_owned();
        assert!(modified.ends_with(" GMT"), "{modified}");

        let again = get_with(&mut client, path, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        // Weak (a gzipped body is the same feed), and found in a list or in its strong form.
        let opaque = etag.strip_prefix("W/").expect("a weak ETag");
        for sent in [format!("\"other\", {etag}"), opaque.to_owned()] {
            let again = get_with(&mut client, path, &[("if-none-match", &sent)]).await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{sent}");
        }

        let again = get_with(&mut client, path, &[("if-modified-since", &modified)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        let earlier = "Thu, 01 Jan 2015 00:00:00 GMT";
        let again = get_with(&mut client, path, &[("if-modified-since", earlier)]).await;
        assert_eq!(again.status, StatusCode::OK);
        let again = get_with(&mut client, path, &[("if-modified-since", "yesterday")]).await;
        assert_eq!(again.status, StatusCode::OK);
        // A tag the reader does not have wins over a date it has (RFC 9110 §13.2.2).
        let again = get_with(
            &mut client,
            path,
            &[
                ("if-none-match", "\"stale\""),
                ("if-modified-since", &modified),
            ],
        )
        .await;
        assert_eq!(again.status, StatusCode::OK);
    }
    let (_, before) = feed(&mut client, "/user/ann/feed.atom").await;
    let etag = before.header("etag").unwrap().to_owned();
    publish(&app, &ann, 1, "Second", "", &[]).await;
    let res = get_with(
        &mut client,
        "/user/ann/feed.atom",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::OK,
        "a new composition changes the feed"
    );
}

#[tokio::test]
async fn an_empty_feed_is_still_valid_atom() {
    let app = TestApp::new().await;
    app.create_user("ann").await;
    let mut client = app.client();
    for (path, page) in [("/feed.atom", "/"), ("/user/ann/feed.atom", "/user/ann")] {
        let (parsed, res) = feed(&mut client, path).await;
        assert_valid(path, &parsed, page);
        assert!(parsed.entries.is_empty());
        assert_eq!(parsed.updated.unwrap().timestamp(), 0);
        assert!(res.header("etag").is_some());
    }
}

#[tokio::test]
async fn unknown_artists_and_tags_have_no_feed_and_tags_go_to_their_name() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    publish(&app, &ann, 1, "First", "", &["delta-blues"]).await;
    let mut client = app.client();
    let long = format!("/user/{}/feed.atom", "a".repeat(5000));
    for path in [
        "/user/nobody/feed.atom",
        "/tag/nothing/feed.atom",
        "/tag/%00/feed.atom",
        "/tag/%21%21/feed.atom",
        "/user/%00/feed.atom",
        long.as_str(),
        "/feed.atom/x",
    ] {
        let res = client.get(path).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(res.header("content-type").unwrap().starts_with("text/html"));
    }
    let res = client.get("/tag/Delta%20Blues/feed.atom").await;
    assert_eq!(res.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers.get(header::LOCATION).unwrap(),
        "/tag/delta-blues/feed.atom"
    );
    // A username is matched as the profile matches it, whatever its case.
    let (parsed, _) = feed(&mut client, "/user/ANN/feed.atom").await;
    assert_eq!(parsed.entries.len(), 1);
}

#[tokio::test]
async fn the_home_page_profiles_and_tag_pages_announce_their_feeds() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    publish(&app, &ann, 1, "First", "", &["stride"]).await;
    let mut client = app.client();
    for (page, feed_url) in [
        ("/", "/feed.atom"),
        ("/user/ann", "/user/ann/feed.atom"),
        ("/tag/stride", "/tag/stride/feed.atom"),
    ] {
        let body = client.get(page).await.body;
        let head = &body[..body.find("</head>").unwrap()];
        let marker = r#"<link rel="alternate" type="application/atom+xml" title=""#;
        let at = head
            .find(marker)
            .unwrap_or_else(|| panic!("{page}: {head}"));
        let tag = &head[at..at + head[at..].find('>').unwrap()];
        assert!(
            tag.contains(&format!(r#"href="{ORIGIN}{feed_url}""#)),
            "{page}: {tag}"
        );
        // And the feed is there.
        feed(&mut client, feed_url).await;
    }
}

//! What pages tell machines: share previews (Open Graph, Twitter cards) and canonical URLs,
//! `/robots.txt`, and the sitemap index with its sitemaps, whose reads are one primary-key range.

use crate::helpers::{Client, TestApp};
use crate::lists::{assert_bounded, plan};
use axum::http::StatusCode;
use chrono::Utc;
use ragtime::models::composition;
use ragtime::models::sitemap::{self, Kind, PER_SITEMAP};
use ragtime::models::user;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};

const ORIGIN: &str = "http://localhost";

async fn publish(
    app: &TestApp,
    artist: &user::Model,
    release_type: i16,
    title: &str,
    description: &str,
) -> composition::Model {
    crate::feeds::publish(app, artist, release_type, title, description, &["stride"]).await
}

/// The `<head>` of a page, with its status checked.
async fn head(client: &mut Client, path: &str) -> String {
    let res = client.get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}");
    res.body[..res.body.find("</head>").unwrap()].to_owned()
}

/// An attribute's value as a browser reads it (askama escapes `&<>"'`).
fn unescape(value: &str) -> String {
    value
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The `content` of `<meta property|name="key">`, every one of them.
fn meta(head: &str, key: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["property", "name"] {
        let marker = format!(r#"<meta {attribute}="{key}" content=""#);
        let mut rest = head;
        while let Some(at) = rest.find(&marker) {
            rest = &rest[at + marker.len()..];
            found.push(unescape(&rest[..rest.find('"').unwrap()]));
        }
    }
    found
}

fn canonical(head: &str) -> Vec<String> {
    let marker = r#"<link rel="canonical" href=""#;
    head.match_indices(marker)
        .map(|(at, _)| {
            let rest = &head[at + marker.len()..];
            unescape(&rest[..rest.find('"').unwrap()])
        })
        .collect()
}

#[tokio::test]
async fn a_permalink_shows_a_song_or_album_preview_with_its_canonical_url() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let single = publish(
        &app,
        &ann,
        1,
        "Maple Leaf",
        "# Notes\n\nA **rag** in [A flat](http://x.example).\n\n"
            .repeat(20)
            .as_str(),
    )
    .await;
    let t = crate::feeds::add_track(&app, &single, 0xab, "audio/mpeg", 1_000).await;
    let album = publish(&app, &ann, 3, "Collected", "").await;
    let mut client = app.client();

    let url = format!("{ORIGIN}/composition/{}", single.url_slug());
    let h = head(&mut client, &format!("/composition/{}", single.url_slug())).await;
    assert_eq!(canonical(&h), std::slice::from_ref(&url));
    assert_eq!(meta(&h, "og:type"), ["music.song"]);
    assert_eq!(meta(&h, "og:title"), ["Maple Leaf"]);
    assert_eq!(meta(&h, "og:url"), [url]);
    assert_eq!(meta(&h, "og:site_name"), ["Ragtime"]);
    let description = &meta(&h, "og:description")[0];
    assert!(
        description.starts_with("Notes A rag in A flat. Notes"),
        "{description}"
    );
    assert!(
        description.chars().count() <= 200 && description.ends_with('…'),
        "{description}"
    );
    assert_eq!(
        meta(&h, "og:audio"),
        [format!("{ORIGIN}/audio/{}", t.object_key)]
    );
    assert_eq!(meta(&h, "og:audio:type"), ["audio/mpeg"]);
    let image = &meta(&h, "og:image")[0];
    assert_eq!(image, &format!("{ORIGIN}/avatar/{}.png", ann.avatar_hash));
    assert_eq!(meta(&h, "twitter:card"), ["summary"]);

    // An album, without tracks: no audio, a description all the same. An old slug is sent to
    // the page whose canonical URL is the current one.
    let h = head(&mut client, &format!("/composition/{}", album.url_slug())).await;
    assert_eq!(meta(&h, "og:type"), ["music.album"]);
    assert!(meta(&h, "og:audio").is_empty());
    assert_eq!(meta(&h, "og:description"), ["Album by ann on Ragtime."]);
    let moved = client
        .get(&format!("/composition/{}-old-name", album.id))
        .await;
    assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY);
}

#[tokio::test]
async fn hostile_text_is_escaped_in_preview_tags() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let title = r#""><script>alert(1)</script>"#;
    let c = publish(&app, &ann, 1, title, r#"x" onmouseover="alert(2)"#).await;
    let mut client = app.client();
    let h = head(&mut client, &format!("/composition/{}", c.url_slug())).await;
    assert!(!h.contains("<script>"), "{h}");
    assert!(!h.contains(r#"" onmouseover"#), "{h}");
    assert_eq!(meta(&h, "og:title"), [title]);
    assert_eq!(meta(&h, "og:description"), [r#"x" onmouseover="alert(2)"#]);
}

#[tokio::test]
async fn a_profile_shows_a_profile_preview_and_its_canonical_url() {
    let app = TestApp::new().await;
    let ann = app.create_user("Ann").await;
    let mut active: user::ActiveModel = ann.clone().into();
    active.about_me = Set(Some("I play *stride* piano.".into()));
    active.update(&app.db).await.unwrap();
    let mut client = app.client();
    // Whatever case the visitor typed, the canonical URL is the username's.
    let h = head(&mut client, "/user/ann").await;
    let url = format!("{ORIGIN}/user/Ann");
    assert_eq!(canonical(&h), std::slice::from_ref(&url));
    assert_eq!(meta(&h, "og:type"), ["profile"]);
    assert_eq!(meta(&h, "profile:username"), ["Ann"]);
    assert_eq!(meta(&h, "og:url"), [url]);
    assert_eq!(meta(&h, "og:description"), ["I play stride piano."]);
    assert_eq!(meta(&h, "og:image").len(), 1);
    assert_eq!(meta(&h, "twitter:card"), ["summary"]);

    publish(&app, &ann, 1, "Rag", "").await;
    let h = head(&mut client, "/tag/stride").await;
    assert_eq!(canonical(&h), [format!("{ORIGIN}/tag/stride")]);
    // Pages without a preview of their own say nothing.
    let h = head(&mut client, "/users").await;
    assert!(canonical(&h).is_empty() && meta(&h, "og:type").is_empty());
}

#[tokio::test]
async fn robots_txt_keeps_crawlers_out_of_private_pages_and_names_the_sitemap() {
    let app = TestApp::new().await;
    let res = app.client().get("/robots.txt").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(res.header("x-content-type-options").is_some());
    let lines: Vec<&str> = res.body.lines().collect();
    assert_eq!(lines[0], "User-agent: *");
    for path in [
        "/auth/",
        "/api/",
        "/moderate",
        "/edit",
        "/search",
        "/notifications",
        "/unsubscribe/",
    ] {
        assert!(
            lines.contains(&format!("Disallow: {path}").as_str()),
            "{path}"
        );
    }
    // Nothing public is kept out by a prefix: `/follow/` is not `/followers/`.
    for public in [
        "/",
        "/user/ann",
        "/followers/ann",
        "/following/ann",
        "/composition/1-x",
    ] {
        assert!(
            !lines
                .iter()
                .filter_map(|l| l.strip_prefix("Disallow: "))
                .any(|p| public.starts_with(p)),
            "{public}"
        );
    }
    assert!(lines.contains(&format!("Sitemap: {ORIGIN}/sitemap.xml").as_str()));
}

/// Every `<loc>` of an XML document.
fn locs(body: &str) -> Vec<String> {
    body.split("<loc>")
        .skip(1)
        .map(|s| s[..s.find("</loc>").unwrap()].replace("&amp;", "&"))
        .collect()
}

#[tokio::test]
async fn the_sitemap_index_lists_every_sitemap_and_every_url_in_them_answers() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let first = publish(&app, &ann, 1, "Été à Paris", "").await;
    let mut unconfirmed: user::ActiveModel = app.create_user("ghost").await.into();
    unconfirmed.confirmed = Set(false);
    unconfirmed.update(&app.db).await.unwrap();
    // One composition far along the ids: its sitemap is the third, the second is empty.
    let far = composition::ActiveModel {
        id: Set(2 * PER_SITEMAP as i32 + 7),
        release_type: Set(2),
        title: Set("Far Out".into()),
        description: Set(String::new()),
        description_html: Set(String::new()),
        timestamp: Set(Utc::now()),
        artist_id: Set(ann.id),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let mut client = app.client();

    let index = client.get("/sitemap.xml").await;
    assert_eq!(index.status, StatusCode::OK);
    assert_eq!(
        index.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    assert!(
        index
            .body
            .contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">")
    );
    let sitemaps = locs(&index.body);
    let expected: Vec<String> = [
        "pages",
        "compositions-0",
        "compositions-1",
        "compositions-2",
        "users-0",
        "tags-0",
    ]
    .iter()
    .map(|n| format!("{ORIGIN}/sitemaps/{n}.xml"))
    .collect();
    assert_eq!(sitemaps, expected);

    let mut urls = Vec::new();
    for sitemap in &sitemaps {
        let path = sitemap.strip_prefix(ORIGIN).unwrap();
        let res = client.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(
            res.header("content-type"),
            Some("application/xml; charset=utf-8")
        );
        assert!(
            res.body
                .contains("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">")
        );
        let found = locs(&res.body);
        assert!(found.len() as i64 <= PER_SITEMAP);
        if path == "/sitemaps/compositions-1.xml" {
            assert!(found.is_empty());
        }
        urls.extend(found);
    }
    let far_url = format!("{ORIGIN}/composition/{}", far.url_slug());
    for wanted in [
        format!("{ORIGIN}/"),
        format!("{ORIGIN}/users"),
        format!("{ORIGIN}/composition/{}", first.url_slug()),
        far_url.clone(),
        format!("{ORIGIN}/user/ann"),
        format!("{ORIGIN}/tag/stride"),
    ] {
        assert!(urls.contains(&wanted), "{wanted} in {urls:?}");
    }
    assert!(
        !urls.iter().any(|u| u.contains("ghost")),
        "unconfirmed accounts are left out"
    );
    for url in &urls {
        assert!(url.starts_with(&format!("{ORIGIN}/")), "{url}");
        let res = client.get(url.strip_prefix(ORIGIN).unwrap()).await;
        assert_eq!(res.status, StatusCode::OK, "{url}");
    }
    let third = client.get("/sitemaps/compositions-2.xml").await.body;
    assert!(
        third.contains(&format!(
            "<url><loc>{far_url}</loc><lastmod>{}</lastmod></url>",
            far.timestamp
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        "{third}"
    );

    for missing in [
        "/sitemaps/compositions-3.xml",
        "/sitemaps/compositions-999999999999.xml",
        "/sitemaps/compositions-99999999999999999999999.xml",
        "/sitemaps/compositions--1.xml",
        "/sitemaps/compositions-01.xml",
        "/sitemaps/compositions-+1.xml",
        "/sitemaps/compositions-abc.xml",
        "/sitemaps/compositions-0",
        "/sitemaps/comments-0.xml",
        "/sitemaps/users-1.xml",
        "/sitemaps/%00.xml",
        "/sitemaps/pages",
    ] {
        let res = client.get(missing).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn a_sitemap_asked_again_within_minutes_is_served_as_built_without_reading_the_table() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let first = publish(&app, &ann, 1, "First Light", "").await;
    let mut client = app.client();
    let built = client.get("/sitemaps/compositions-0.xml").await;
    assert_eq!(built.status, StatusCode::OK);
    assert!(built.body.contains(&first.url_slug()), "{}", built.body);
    let index = client.get("/sitemap.xml").await.body;

    // Written behind the server's back, one in the first sitemap's ids and one far along
    // them: a read of the table would list the first, and the index would name a further
    // sitemap for the second.
    let row = |id: Option<i32>, title: &str| composition::ActiveModel {
        id: id.map_or(sea_orm::ActiveValue::NotSet, Set),
        release_type: Set(1),
        title: Set(title.into()),
        description: Set(String::new()),
        description_html: Set(String::new()),
        timestamp: Set(Utc::now()),
        artist_id: Set(ann.id),
        ..Default::default()
    };
    let near = row(None, "Near").insert(&app.db).await.unwrap();
    let far = row(Some(PER_SITEMAP as i32 + 1), "Far")
        .insert(&app.db)
        .await
        .unwrap();
    assert!(i64::from(near.id) < PER_SITEMAP);
    let again = client.get("/sitemaps/compositions-0.xml").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, built.body);
    assert_eq!(client.get("/sitemap.xml").await.body, index);
    // A sitemap not built before is read now.
    let second = client.get("/sitemaps/compositions-1.xml").await.body;
    assert!(second.contains(&far.url_slug()), "{second}");
}

#[tokio::test]
async fn an_empty_site_has_a_sitemap_of_its_pages() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let index = client.get("/sitemap.xml").await;
    assert_eq!(locs(&index.body), [format!("{ORIGIN}/sitemaps/pages.xml")]);
    let res = client.get("/sitemaps/compositions-0.xml").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_a_sitemap_reads_one_primary_key_range() {
    let app = TestApp::new().await;
    let db = &app.db;
    app.require_postgres();
    let options = ragtime::commands::seed::SeedOptions {
        users: 500,
        compositions: 6000,
        follows: 5,
        comments: 0,
        ..Default::default()
    };
    ragtime::commands::seed::seed(db, &options).await.unwrap();
    // Statistics of the two tables only: a VACUUM of the whole database can outlast the
    // testing configuration's statement timeout on a busy machine.
    db.execute_unprepared("ANALYZE compositions, users")
        .await
        .unwrap();
    let backend = db.get_database_backend();
    // A sitemap of a tenth of the table, as one of the 1 M-composition site's is a twentieth:
    // read along the primary key, never the whole table.
    for (kind, index, ids) in [
        (
            Kind::Compositions,
            "compositions_pkey",
            sitemap::ids(2, 600),
        ),
        (Kind::Users, "users_pkey", sitemap::ids(1, 50)),
    ] {
        let ids = ids.unwrap();
        let rows = ids.len() as u64;
        let lines = plan(db, sitemap::range_statement(backend, kind, ids.clone())).await;
        let text = lines.join("\n");
        // Read along the key's range (an index scan, or a bitmap of it), never more rows than
        // the range holds.
        assert_bounded(&format!("{kind:?}"), &lines, rows);
        let condition = format!("Index Cond: ((id >= {}) AND (id < {}))", ids.start, ids.end);
        assert!(
            text.contains(index) && text.contains(&condition),
            "{kind:?}:\n{text}"
        );
    }
    // The index's first and last ids: one entry at each end of each primary key.
    let lines = plan(db, sitemap::spans_statement(backend)).await;
    let text = lines.join("\n");
    for table in ["compositions", "users"] {
        assert!(!text.contains(&format!("Seq Scan on {table}")), "{text}");
        for scan in ["Index Only Scan using", "Index Only Scan Backward using"] {
            assert!(text.contains(&format!("{scan} {table}_pkey")), "{text}");
        }
    }
}

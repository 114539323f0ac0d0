//! Tracks through the site's forms (issue 11): audio files on the publishing form and on the
//! edit page (multipart, the CSRF token as the first field), the tracks editor's rename, move
//! and remove, and what a refusal leaves behind: a page saying why, and nothing stored.

use std::collections::BTreeSet;

use crate::helpers::{Client, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::models::{composition, track, user};

const BOUNDARY: &str = "----ragtime-test-boundary";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/audio/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A part of a multipart body: a text field, or a file with its name.
enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, Vec<u8>),
}

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(filename, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"audio\"; filename=\"{filename}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_multipart(client: &mut Client, path: &str, parts: &[Part<'_>]) -> TestResponse {
    let req = client
        .request(Method::POST, path)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(multipart(parts)))
        .unwrap();
    client.send(req).await
}

/// Every file under the test's media directory.
fn stored(app: &TestApp) -> BTreeSet<String> {
    fn walk(dir: &std::path::Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.insert(path.display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(app.media_dir.path(), &mut out);
    out
}

async fn compositions_of(app: &TestApp, artist: &user::Model) -> Vec<composition::Model> {
    let cursor = ragtime::models::keyset::Cursor::First;
    let page = composition::page(&app.db, composition::Feed::By(artist.id), cursor, 100)
        .await
        .unwrap();
    page.items.into_iter().map(|c| c.composition).collect()
}

/// A logged-in client and the CSRF token of a page it was shown.
async fn ready(app: &TestApp, u: &user::Model, page: &str) -> (Client, String) {
    let mut client = app.logged_in_client(u).await;
    let res = client.get(page).await;
    assert_eq!(res.status, StatusCode::OK, "{page}");
    (client, res.csrf_token())
}

#[tokio::test]
async fn publishing_with_two_files_makes_an_ep_with_both_tracks_in_order() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (mut client, token) = ready(&app, &ann, "/").await;
    let res = post_multipart(
        &mut client,
        "/",
        &[
            Part::Text("csrf_token", &token),
            Part::Text("release_type", "2"),
            Part::Text("title", "Two Tones"),
            Part::Text("description", "An *EP*."),
            Part::File("01_First.flac", fixture("tone.flac")),
            Part::File("second.wav", fixture("tone.wav")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let published = compositions_of(&app, &ann).await;
    assert_eq!(published.len(), 1);
    let tracks = track::of(&app.db, published[0].id).await.unwrap();
    let summary: Vec<(i32, &str, &str)> = tracks
        .iter()
        .map(|t| (t.position, t.codec.as_str(), t.mime.as_str()))
        .collect();
    assert_eq!(
        summary,
        [(1, "flac", "audio/flac"), (2, "pcm", "audio/wav")]
    );
    assert_eq!(stored(&app).len(), 2);

    // Every feed card plays its tracks, downloading nothing until asked.
    let home = client.get("/").await;
    for t in &tracks {
        let player = format!(
            r#"<audio controls preload="none" src="/audio/{}""#,
            t.object_key
        );
        assert!(home.body.contains(&player), "{player}");
    }
    assert!(home.body.contains(r#"<svg class="waveform""#));
}

#[tokio::test]
async fn a_renamed_text_file_on_the_publishing_form_comes_back_saying_why_with_nothing_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (mut client, token) = ready(&app, &ann, "/").await;
    let res = post_multipart(
        &mut client,
        "/",
        &[
            Part::Text("csrf_token", &token),
            Part::Text("release_type", "1"),
            Part::Text("title", "Not Music"),
            Part::Text("description", ""),
            Part::File("notes.mp3", b"Dear diary, today I wrote a song.".repeat(50)),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body
            .contains("notes.mp3: This file is not an audio recording we recognise")
    );
    // What was typed is kept.
    assert!(res.body.contains(r#"value="Not Music""#));
    assert!(compositions_of(&app, &ann).await.is_empty());
    assert!(stored(&app).is_empty());
}

#[tokio::test]
async fn a_single_with_two_files_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (mut client, token) = ready(&app, &ann, "/").await;
    let res = post_multipart(
        &mut client,
        "/",
        &[
            Part::Text("csrf_token", &token),
            Part::Text("release_type", "1"),
            Part::Text("title", "Greedy Single"),
            Part::File("a.wav", fixture("tone.wav")),
            Part::File("b.ogg", fixture("tone.ogg")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("A single holds at most 1 track."),
        "{}",
        res.body
    );
    assert!(compositions_of(&app, &ann).await.is_empty());
    assert!(stored(&app).is_empty());
}

#[tokio::test]
async fn an_upload_form_needs_its_csrf_token_as_the_first_field() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (mut client, token) = ready(&app, &ann, "/").await;
    for parts in [
        // The token after the file: refused before the file is read.
        vec![
            Part::Text("title", "Late Token"),
            Part::File("a.wav", fixture("tone.wav")),
            Part::Text("csrf_token", &token),
        ],
        vec![
            Part::Text("csrf_token", "forged"),
            Part::Text("title", "Forged"),
        ],
        vec![Part::Text("title", "No Token")],
    ] {
        let res = post_multipart(&mut client, "/", &parts).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
        assert!(res.body.contains("CSRF token"), "{}", res.body);
    }
    assert!(compositions_of(&app, &ann).await.is_empty());
    assert!(stored(&app).is_empty());
}

#[tokio::test]
async fn a_text_field_over_the_form_limit_is_a_413() {
    let app = TestApp::with_env(&[("RAGTIME_MAX_BODY_BYTES", "4096")]).await;
    let ann = app.create_user("ann").await;
    let (mut client, token) = ready(&app, &ann, "/").await;
    let huge = "x".repeat(10_000);
    let res = post_multipart(
        &mut client,
        "/",
        &[
            Part::Text("csrf_token", &token),
            Part::Text("release_type", "1"),
            Part::Text("description", &huge),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(compositions_of(&app, &ann).await.is_empty());
}

#[tokio::test]
async fn the_tracks_editor_adds_renames_moves_and_removes_tracks() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = {
        let draft = composition::Draft {
            release_type: 3,
            title: "Album",
            description: "",
            tags: Vec::new(),
        };
        composition::create(&app.db, ann.id, &draft).await.unwrap()
    };
    let edit = format!("/edit/{}", c.slug());
    let (mut client, token) = ready(&app, &ann, &edit).await;

    let res = post_multipart(
        &mut client,
        &format!("{edit}/tracks"),
        &[
            Part::Text("csrf_token", &token),
            Part::File("one.mp3", fixture("tone.mp3")),
            Part::File("two.flac", fixture("tone.flac")),
            Part::File("three.m4a", fixture("tone.m4a")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let tracks = track::of(&app.db, c.id).await.unwrap();
    assert_eq!(tracks.len(), 3);
    // The MP3 and the M4A carry a title tag; the FLAC's tag wins over its file name too.
    assert_eq!(tracks[0].title, "Maple Leaf Rag");
    let page = client.get(&edit).await;
    assert!(
        page.body
            .contains("Tracks <span class=\"muted\">(3 of at most 20)</span>")
    );

    let token = page.csrf_token();
    let res = client
        .post_form(
            &format!("/tracks/{}/rename", tracks[1].id),
            &[("csrf_token", &token), ("title", "  The Entertainer ")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let res = client
        .post_form(
            &format!("/tracks/{}/move", tracks[2].id),
            &[("csrf_token", &token), ("position", "1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let order: Vec<(i32, i32)> = track::of(&app.db, c.id)
        .await
        .unwrap()
        .iter()
        .map(|t| (t.id, t.position))
        .collect();
    assert_eq!(
        order,
        [(tracks[2].id, 1), (tracks[0].id, 2), (tracks[1].id, 3)]
    );
    assert_eq!(
        track::find(&app.db, tracks[1].id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "The Entertainer"
    );

    // A bad title comes back on the edit page, changing nothing.
    let res = client
        .post_form(
            &format!("/tracks/{}/rename", tracks[1].id),
            &[("csrf_token", &token), ("title", "   ")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("This field is required."));

    let before = stored(&app).len();
    let res = client
        .post_form(
            &format!("/tracks/{}/delete", tracks[0].id),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let left: Vec<i32> = track::of(&app.db, c.id)
        .await
        .unwrap()
        .iter()
        .map(|t| t.position)
        .collect();
    assert_eq!(left, [1, 2]);
    assert_eq!(stored(&app).len(), before - 1, "its object went with it");
}

#[tokio::test]
async fn only_the_artist_or_an_administrator_may_change_a_compositions_tracks() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let c = app.publish(&ann, "Ann's").await;
    let (mut client, token) = ready(&app, &bob, "/").await;
    let res = post_multipart(
        &mut client,
        &format!("/edit/{}/tracks", c.slug()),
        &[
            Part::Text("csrf_token", &token),
            Part::File("a.wav", fixture("tone.wav")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(stored(&app).is_empty());

    // Ann's own track: Bob may neither rename, move nor remove it.
    let (mut ann_client, ann_token) = ready(&app, &ann, &format!("/edit/{}", c.slug())).await;
    let res = post_multipart(
        &mut ann_client,
        &format!("/edit/{}/tracks", c.slug()),
        &[
            Part::Text("csrf_token", &ann_token),
            Part::File("a.wav", fixture("tone.wav")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let t = &track::of(&app.db, c.id).await.unwrap()[0];
    for (action, fields) in [
        (
            "rename",
            vec![("csrf_token", token.as_str()), ("title", "Mine")],
        ),
        (
            "move",
            vec![("csrf_token", token.as_str()), ("position", "1")],
        ),
        ("delete", vec![("csrf_token", token.as_str())]),
    ] {
        let res = client
            .post_form(&format!("/tracks/{}/{action}", t.id), &fields)
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(track::of(&app.db, c.id).await.unwrap(), vec![t.clone()]);

    let admin = app.create_user_with_role("root", "Administrator").await;
    let (mut admin_client, admin_token) = ready(&app, &admin, "/").await;
    let res = admin_client
        .post_form(
            &format!("/tracks/{}/delete", t.id),
            &[("csrf_token", &admin_token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(track::of(&app.db, c.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_upload_route_takes_files_larger_than_the_form_limit() {
    // Each file is several times the limit that holds forms and JSON.
    let app = TestApp::with_env(&[("RAGTIME_MAX_BODY_BYTES", "1024")]).await;
    let ann = app.create_user("ann").await;
    let (mut client, token) = ready(&app, &ann, "/").await;
    let res = post_multipart(
        &mut client,
        "/",
        &[
            Part::Text("csrf_token", &token),
            Part::Text("release_type", "3"),
            Part::Text("title", "Over the Limit"),
            Part::Text("description", ""),
            Part::File("one.mp3", fixture("tone.mp3")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let album = compositions_of(&app, &ann).await.remove(0);

    let edit = format!("/edit/{}", album.slug());
    let token = client.get(&edit).await.csrf_token();
    let res = post_multipart(
        &mut client,
        &format!("{edit}/tracks"),
        &[
            Part::Text("csrf_token", &token),
            Part::File("two.ogg", fixture("tone.ogg")),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    let bearer = format!(
        "Bearer {}",
        ragtime::api::auth::issue(&app.state.signer, &ann)
    );
    let mut script = app.client();
    let req = script
        .request(
            Method::POST,
            &format!("/api/v1/compositions/{}/tracks", album.id),
        )
        .header(header::AUTHORIZATION, bearer)
        .header(header::CONTENT_TYPE, "audio/wav")
        .body(Body::from(fixture("tone.wav")))
        .unwrap();
    let res = script.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(track::of(&app.db, album.id).await.unwrap().len(), 3);
}

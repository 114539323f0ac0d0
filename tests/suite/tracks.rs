//! Tracks through HTTP (issue 11): uploading raw audio to a composition through the API, what
//! is refused and that a refusal stores nothing (no object under the media directory, no row),
//! the track list's order, deleting tracks and compositions with their objects, serving
//! `/audio/<sha256>.<ext>` with ranges and caching, the orphan sweep, and the CSP's
//! `media-src`.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use crate::helpers::{Client, TestApp, TestResponse};
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use ragtime::models::{composition, track, user};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

const ORIGIN: &str = "http://localhost";

// ---------------------------------------------------------------------------------------------
// Helpers

/// The bytes of one of `tests/fixtures/audio/`.
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The same pseudo-random bytes on every run (xorshift).
fn random_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A canonical 16-bit PCM WAV of one second of a steady level at 8 kHz, mono.
fn wav_second() -> Vec<u8> {
    let samples = [1_000i16; 8_000];
    let data_len = (samples.len() * 2) as u32;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // channels
    w.extend_from_slice(&8_000u32.to_le_bytes()); // sample rate
    w.extend_from_slice(&16_000u32.to_le_bytes()); // byte rate
    w.extend_from_slice(&2u16.to_le_bytes()); // block align
    w.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    samples
        .iter()
        .for_each(|s| w.extend_from_slice(&s.to_le_bytes()));
    w
}

/// Every file under `dir`, recursively, as paths relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                out.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// The files this test's media store holds.
fn stored(app: &TestApp) -> BTreeSet<String> {
    files_under(app.media_dir.path())
}

/// Where the local store keeps an object.
fn object_file(key: &str) -> String {
    format!("tracks/{key}")
}

/// A bearer token for `u`, minted as the token endpoint mints them.
fn token_of(app: &TestApp, u: &user::Model) -> String {
    format!("Bearer {}", ragtime::api::auth::issue(&app.state.signer, u))
}

/// A composition of this release type (1 single, 2 EP, 3 album), created directly.
async fn release(
    app: &TestApp,
    artist: &user::Model,
    release_type: i16,
    title: &str,
) -> composition::Model {
    let draft = composition::Draft {
        release_type,
        title,
        description: title,
        tags: Vec::new(),
    };
    composition::create(&app.db, artist.id, &draft)
        .await
        .expect("create composition")
}

async fn album(app: &TestApp, artist: &user::Model, title: &str) -> composition::Model {
    release(app, artist, 3, title).await
}

/// `POST /api/v1/compositions/{id}/tracks[?title=...]` with `bytes` as the body.
async fn upload_as(
    client: &mut Client,
    composition_id: i32,
    auth: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
    title: Option<&str>,
) -> TestResponse {
    let mut path = format!("/api/v1/compositions/{composition_id}/tracks");
    if let Some(title) = title {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("title", title)
            .finish();
        path = format!("{path}?{query}");
    }
    let mut req = client
        .request(Method::POST, &path)
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_LENGTH, bytes.len());
    if let Some(content_type) = content_type {
        req = req.header(header::CONTENT_TYPE, content_type);
    }
    let res = client.send(req.body(Body::from(bytes)).unwrap()).await;
    assert!(
        res.headers.get(header::SET_COOKIE).is_none(),
        "an upload set a cookie"
    );
    res
}

/// Upload `bytes` as `artist`, declared `audio/mpeg` (the content decides what it is).
async fn upload(
    app: &TestApp,
    artist: &user::Model,
    composition_id: i32,
    bytes: Vec<u8>,
) -> TestResponse {
    let token = token_of(app, artist);
    upload_as(
        &mut app.client(),
        composition_id,
        &token,
        Some("audio/mpeg"),
        bytes,
        None,
    )
    .await
}

/// Upload a fixture that must be accepted; its JSON.
async fn added(app: &TestApp, artist: &user::Model, composition_id: i32, name: &str) -> Value {
    let res = upload(app, artist, composition_id, fixture(name)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{name}: {}", res.body);
    res.json()
}

/// One API call with a bearer token and an optional JSON body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &user::Model,
    body: Option<Value>,
) -> TestResponse {
    let mut client = app.client();
    let mut req = client
        .request(method, path)
        .header(header::AUTHORIZATION, token_of(app, who));
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    client.send(req.body(body).unwrap()).await
}

/// An error answer: this status, JSON, a message containing `needle`.
#[track_caller]
fn assert_error(res: &TestResponse, status: StatusCode, needle: &str) {
    assert_eq!(res.status, status, "{}", res.body);
    let body = res.json();
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{status}: {message:?} does not contain {needle:?}"
    );
}

/// The path of one of our absolute URLs.
fn path_of(url: &str) -> String {
    url.strip_prefix(ORIGIN)
        .unwrap_or_else(|| panic!("{url} is not an absolute URL of this site"))
        .to_owned()
}

fn id_of(json: &Value) -> i32 {
    json["id"].as_i64().expect("an id") as i32
}

async fn rows_of(app: &TestApp, composition_id: i32) -> Vec<track::Model> {
    track::of(&app.db, composition_id).await.unwrap()
}

/// The ids of a composition's tracks in order, with their positions.
async fn order_of(app: &TestApp, composition_id: i32) -> Vec<(i32, i32)> {
    rows_of(app, composition_id)
        .await
        .iter()
        .map(|t| (t.id, t.position))
        .collect()
}

/// An answer with its body as bytes (audio is not text).
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send_raw(app: &TestApp, mut req: Request<Body>) -> Raw {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(peer));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    Raw {
        status: parts.status,
        headers: parts.headers,
        body: axum::body::to_bytes(body, usize::MAX).await.unwrap(),
    }
}

/// `GET path` (or another method) with these headers, anonymously, as an `<audio>` element
/// asks.
async fn fetch_audio(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send_raw(app, req.body(Body::empty()).unwrap()).await
}

/// An artist with an album holding `name`: (app, artist, album, track JSON, the file's bytes).
async fn one_track(name: &str) -> (TestApp, user::Model, composition::Model, Value, Vec<u8>) {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Rags").await;
    let t = added(&app, &ann, c.id, name).await;
    (app, ann, c, t, fixture(name))
}

/// Sent and refused: the status, then nothing kept.
#[track_caller]
fn assert_refused(res: &TestResponse, status: StatusCode) {
    assert_eq!(res.status, status, "{}", res.body);
    assert!(
        res.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        res.header("content-type")
    );
    assert!(res.header("location").is_none());
    assert!(
        !res.json()["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
}

/// Nothing was kept: no track on `composition_id`, no file in the store.
async fn assert_nothing_stored(app: &TestApp, composition_id: i32) {
    assert_eq!(rows_of(app, composition_id).await, vec![]);
    assert_eq!(stored(app), BTreeSet::new());
}

// ---------------------------------------------------------------------------------------------
// Uploading

#[tokio::test]
async fn an_mp3_upload_is_stored_with_what_its_content_says() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Maple Leaf").await;
    let bytes = fixture("tone.mp3");
    let sha = sha256_hex(&bytes);
    let res = upload(&app, &ann, c.id, bytes.clone()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let t = res.json();
    let id = id_of(&t);
    let url = format!("{ORIGIN}/api/v1/tracks/{id}");
    assert_eq!(res.header("location"), Some(url.as_str()));
    assert_eq!(t["url"], url.as_str());
    assert_eq!(t["audio_url"], format!("{ORIGIN}/audio/{sha}.mp3"));
    assert_eq!(t["composition_id"], c.id);
    // No title given: the file's ID3 tag.
    assert_eq!(t["title"], "Maple Leaf Rag");
    assert_eq!(t["position"], 1);
    assert_eq!(t["container"], "mp3");
    assert_eq!(t["codec"], "mp3");
    assert_eq!(t["mime"], "audio/mpeg");
    assert_eq!(t["sample_rate"], 22_050);
    assert_eq!(t["channels"], 1);
    assert_eq!(t["size_bytes"], bytes.len());
    assert_eq!(t["sha256"], sha.as_str());
    let duration = t["duration_ms"].as_i64().unwrap();
    assert!((1_400..=1_600).contains(&duration), "{duration} ms");
    let bit_rate = t["bit_rate"].as_i64().unwrap();
    assert_eq!(bit_rate, bytes.len() as i64 * 8 * 1000 / duration);
    let waveform = t["waveform"].as_array().unwrap();
    assert_eq!(waveform.len(), 100);
    // A steady tone at half of full scale: every point near 128.
    assert!(
        waveform[10..90]
            .iter()
            .all(|p| (100..=160).contains(&p.as_i64().unwrap())),
        "{waveform:?}"
    );

    // The row says the same, and the object holds exactly the bytes sent.
    let row = track::find(&app.db, id).await.unwrap().expect("a row");
    assert_eq!(row.composition_id, c.id);
    assert_eq!(row.object_key, format!("{sha}.mp3"));
    assert_eq!(row.sha256, sha);
    assert_eq!(row.size_bytes, bytes.len() as i64);
    assert_eq!(row.mime, "audio/mpeg");
    assert_eq!(row.peaks().len(), 100);
    assert_eq!(stored(&app), BTreeSet::from([object_file(&row.object_key)]));
    let kept = std::fs::read(app.media_dir.path().join(object_file(&row.object_key))).unwrap();
    assert_eq!(kept, bytes);
    assert!(app.state.media.store.exists(&row.object_key).await.unwrap());

    // GET gives the same JSON.
    let res = call(&app, Method::GET, &path_of(&url), &ann, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json(), t);
}

#[tokio::test]
async fn every_accepted_format_is_recognised_by_its_content_not_its_declared_type() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Seven Tones").await;
    // (fixture, container, codec, mime, extension, sample rate)
    let formats = [
        ("tone.mp3", "mp3", "mp3", "audio/mpeg", "mp3", 22_050),
        ("tone.m4a", "mp4", "aac", "audio/mp4", "m4a", 44_100),
        ("tone.aac", "aac", "aac", "audio/aac", "aac", 44_100),
        ("tone.ogg", "ogg", "vorbis", "audio/ogg", "ogg", 22_050),
        ("tone.opus", "ogg", "opus", "audio/ogg", "opus", 48_000),
        ("tone.flac", "flac", "flac", "audio/flac", "flac", 8_000),
        ("tone.wav", "wav", "pcm", "audio/wav", "wav", 8_000),
    ];
    let mut expected_files = BTreeSet::new();
    for (i, (name, container, codec, mime, ext, rate)) in formats.into_iter().enumerate() {
        // Every one declared as something it is not.
        let token = token_of(&app, &ann);
        let bytes = fixture(name);
        let res = upload_as(
            &mut app.client(),
            c.id,
            &token,
            Some("audio/x-wrong; charset=binary"),
            bytes.clone(),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{name}: {}", res.body);
        let t = res.json();
        assert_eq!(t["container"], container, "{name}");
        assert_eq!(t["codec"], codec, "{name}");
        assert_eq!(t["mime"], mime, "{name}");
        assert_eq!(t["sample_rate"], rate, "{name}");
        assert_eq!(t["channels"], 1, "{name}");
        assert_eq!(t["position"], i + 1, "{name}");
        let duration = t["duration_ms"].as_i64().unwrap();
        assert!((1_400..=1_600).contains(&duration), "{name}: {duration} ms");
        let key = format!("{}.{ext}", sha256_hex(&bytes));
        assert_eq!(t["audio_url"], format!("{ORIGIN}/audio/{key}"), "{name}");
        // Opus is measured, not decoded: no waveform.
        let points = t["waveform"].as_array().unwrap().len();
        assert_eq!(points, if codec == "opus" { 0 } else { 100 }, "{name}");
        expected_files.insert(object_file(&key));
    }
    assert_eq!(stored(&app), expected_files);
    assert_eq!(rows_of(&app, c.id).await.len(), 7);
}

#[tokio::test]
async fn the_title_is_the_one_given_else_the_tag_else_untitled() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Titles").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    let res = upload_as(
        &mut client,
        c.id,
        &token,
        Some("audio/flac"),
        fixture("tone.flac"),
        Some("  The Entertainer  "),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["title"], "The Entertainer");
    // A blank title is no title: the tag.
    let res = upload_as(
        &mut client,
        c.id,
        &token,
        Some("audio/wav"),
        fixture("tone.wav"),
        Some("   "),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["title"], "Maple Leaf Rag");
    // Opus carries no title tag, and a raw body no file name.
    let res = upload_as(
        &mut client,
        c.id,
        &token,
        Some("audio/ogg"),
        fixture("tone.opus"),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["title"], "Untitled");
    // A title over 200 characters is refused, naming the field, as PATCH refuses it; so is
    // one with control characters. Nothing is stored.
    let long = "é".repeat(201);
    let res = upload_as(
        &mut client,
        c.id,
        &token,
        Some("audio/mpeg"),
        fixture("tone.mp3"),
        Some(&long),
    )
    .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "title");
    let res = upload_as(
        &mut client,
        c.id,
        &token,
        Some("audio/mpeg"),
        fixture("tone.mp3"),
        Some("bell\u{7}"),
    )
    .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "control characters");
    let titles: Vec<String> = rows_of(&app, c.id)
        .await
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles, ["The Entertainer", "Maple Leaf Rag", "Untitled",]);
}

#[tokio::test]
async fn lists_carry_tracks_without_waveforms_and_one_composition_or_track_keeps_them() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    // Her own compositions are in her timeline through the self-follow.
    ragtime::models::follow::add(&app.db, ann.id, ann.id)
        .await
        .unwrap();
    let c = album(&app, &ann, "Waves").await;
    let track = added(&app, &ann, c.id, "tone.mp3").await;
    let waveform = track["waveform"].as_array().expect("a waveform").clone();
    assert_eq!(waveform.len(), 100);
    for list in [
        "/api/v1/compositions/".to_owned(),
        format!("/api/v1/users/{}/compositions/", ann.id),
        format!("/api/v1/users/{}/timeline/", ann.id),
        "/api/v1/search?q=waves".to_owned(),
    ] {
        let body = call(&app, Method::GET, &list, &ann, None).await.json();
        let listed = &body["compositions"][0]["tracks"][0];
        assert_eq!(listed["id"], track["id"], "{list}: {body}");
        assert_eq!(listed["duration_ms"], track["duration_ms"], "{list}");
        assert!(listed.get("waveform").is_none(), "{list}: {listed}");
    }
    let one = call(
        &app,
        Method::GET,
        &format!("/api/v1/compositions/{}", c.id),
        &ann,
        None,
    )
    .await
    .json();
    assert_eq!(one["tracks"][0]["waveform"].as_array(), Some(&waveform));
    let alone = call(
        &app,
        Method::GET,
        &path_of(track["url"].as_str().unwrap()),
        &ann,
        None,
    )
    .await
    .json();
    assert_eq!(alone["waveform"].as_array(), Some(&waveform));
}

#[tokio::test]
async fn an_administrator_may_add_a_track_to_anyones_composition() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let admin = app.create_user_with_role("root", "Administrator").await;
    let c = app.publish(&ann, "Ann's Rag").await;
    let t = added(&app, &admin, c.id, "tone.ogg").await;
    assert_eq!(t["composition_id"], c.id);
    assert_eq!(rows_of(&app, c.id).await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Refused uploads: the status, and nothing stored

#[tokio::test]
async fn a_body_not_declared_as_audio_is_a_415_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    for content_type in [
        Some("video/mp4"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let res = upload_as(
            &mut client,
            c.id,
            &token,
            content_type,
            fixture("tone.mp3"),
            None,
        )
        .await;
        assert_refused(&res, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            res.body.contains("audio/"),
            "{content_type:?}: {}",
            res.body
        );
    }
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn a_body_sent_as_plain_bytes_is_taken_for_what_its_content_is() {
    // `application/octet-stream` says "raw bytes": the content decides, as for audio/*.
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    let res = upload_as(
        &mut client,
        c.id,
        &token,
        Some("application/octet-stream"),
        fixture("tone.flac"),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["mime"], "audio/flac");
}

#[tokio::test]
async fn a_renamed_text_file_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let text = "Maple Leaf Rag, by Scott Joplin (1899).\n".repeat(200);
    let res = upload(&app, &ann, c.id, text.into_bytes()).await;
    assert_refused(&res, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(res.body.contains("not an audio recording"), "{}", res.body);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn an_image_sent_as_audio_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let mut png =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\x90\x91h6".to_vec();
    png.extend(std::iter::repeat_n(0x42, 4_000));
    let res = upload(&app, &ann, c.id, png).await;
    assert_refused(&res, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn a_video_is_refused_as_a_video_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let res = upload(&app, &ann, c.id, fixture("video.mp4")).await;
    assert_refused(&res, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(res.body.contains("a video"), "{}", res.body);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn random_bytes_are_refused_as_not_audio_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let res = upload(&app, &ann, c.id, random_bytes(64 * 1024)).await;
    assert_refused(&res, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn an_empty_body_is_a_422_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let res = upload(&app, &ann, c.id, Vec::new()).await;
    assert_refused(&res, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("empty"), "{}", res.body);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn truncated_files_are_a_422_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Cut").await;
    for name in ["tone.wav", "tone.flac", "tone.m4a"] {
        let good = fixture(name);
        let res = upload(&app, &ann, c.id, good[..good.len() / 2].to_vec()).await;
        assert_refused(&res, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains("incomplete"), "{name}: {}", res.body);
    }
    // Cut inside its header.
    let res = upload(&app, &ann, c.id, fixture("tone.wav")[..30].to_vec()).await;
    assert_refused(&res, StatusCode::UNPROCESSABLE_ENTITY);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn a_damaged_file_is_a_422_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    // Five bytes flipped through the middle of the FLAC: audio missing from the middle.
    let mut flac = fixture("tone.flac");
    let len = flac.len() as f64;
    for f in [0.3, 0.4, 0.5, 0.6, 0.7] {
        flac[(len * f) as usize] ^= 0xff;
    }
    let res = upload(&app, &ann, c.id, flac).await;
    assert_refused(&res, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("damaged"), "{}", res.body);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn absurd_headers_are_a_422_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let patched = |offset: usize, value: &[u8]| {
        let mut w = wav_second();
        w[offset..offset + value.len()].copy_from_slice(value);
        w
    };
    // The canonical WAV itself is fine (checked on another app so this one stays empty).
    let cases = [
        // Sample rate 0 Hz and 10 MHz.
        (patched(24, &0u32.to_le_bytes()), "sample rate"),
        (patched(24, &10_000_000u32.to_le_bytes()), "sample rate"),
        // 0 and 12 channels.
        (patched(22, &0u16.to_le_bytes()), "channel count"),
        (patched(22, &12u16.to_le_bytes()), "channel count"),
        // RIFF and data sizes claiming ~4 GiB (74 hours) in 16 KB.
        (
            {
                let mut w = patched(40, &0xffff_ff00u32.to_le_bytes());
                w[4..8].copy_from_slice(&(0xffff_ff00u32 + 36).to_le_bytes());
                w
            },
            "length",
        ),
    ];
    for (bytes, what) in cases {
        let res = upload(&app, &ann, c.id, bytes).await;
        assert_refused(&res, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            res.body.contains(&format!("impossible {what}")),
            "{what}: {}",
            res.body
        );
    }
    assert_nothing_stored(&app, c.id).await;

    let other = TestApp::new().await;
    let bob = other.create_user("bob").await;
    let c = other.publish(&bob, "Control").await;
    let res = upload(&other, &bob, c.id, wav_second()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json()["duration_ms"], 1000);
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_a_413_and_nothing_is_stored() {
    let app = TestApp::with_env(&[("RAGTIME_MAX_TRACK_BYTES", "8192")]).await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Big").await;
    // 24 KB of WAV, over the 8 KiB limit.
    let res = upload(&app, &ann, c.id, fixture("tone.wav")).await;
    assert_refused(&res, StatusCode::PAYLOAD_TOO_LARGE);
    assert_nothing_stored(&app, c.id).await;
    // The limit is per file: 6.5 KB of MP3 is taken.
    let t = added(&app, &ann, c.id, "tone.mp3").await;
    assert_eq!(t["position"], 1);
}

#[tokio::test]
async fn a_body_declaring_more_than_any_upload_may_hold_is_a_413_before_it_is_read() {
    let app = TestApp::with_env(&[
        ("RAGTIME_MAX_TRACK_BYTES", "8192"),
        ("RAGTIME_MAX_TRACKS", "2"),
    ])
    .await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Big").await;
    let req = app
        .client()
        .request(
            Method::POST,
            &format!("/api/v1/compositions/{}/tracks", c.id),
        )
        .header(header::AUTHORIZATION, token_of(&app, &ann))
        .header(header::CONTENT_TYPE, "audio/mpeg")
        .header(header::CONTENT_LENGTH, "1073741824")
        .body(Body::from(fixture("tone.mp3")))
        .unwrap();
    let res = app.client().send(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn an_upload_cut_off_midway_is_refused_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let wav = fixture("tone.wav");
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::copy_from_slice(&wav[..8_000])),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let req = app
        .client()
        .request(
            Method::POST,
            &format!("/api/v1/compositions/{}/tracks", c.id),
        )
        .header(header::AUTHORIZATION, token_of(&app, &ann))
        .header(header::CONTENT_TYPE, "audio/wav")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let res = app.client().send(req).await;
    assert_refused(&res, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("interrupted"), "{}", res.body);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn a_single_holds_one_track_and_a_second_is_a_409_with_nothing_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Only One").await;
    assert_eq!(c.release_type, 1);
    let first = added(&app, &ann, c.id, "tone.mp3").await;
    let before = stored(&app);
    let res = upload(&app, &ann, c.id, fixture("tone.ogg")).await;
    assert_refused(&res, StatusCode::CONFLICT);
    assert!(res.body.contains("at most 1 track."), "{}", res.body);
    assert_eq!(order_of(&app, c.id).await, vec![(id_of(&first), 1)]);
    assert_eq!(stored(&app), before);
    assert_eq!(before.len(), 1);
}

#[tokio::test]
async fn an_album_holds_at_most_the_configured_number_of_tracks() {
    let app = TestApp::with_env(&[("RAGTIME_MAX_TRACKS", "2")]).await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Short Album").await;
    let a = added(&app, &ann, c.id, "tone.mp3").await;
    let b = added(&app, &ann, c.id, "tone.ogg").await;
    let before = stored(&app);
    let res = upload(&app, &ann, c.id, fixture("tone.flac")).await;
    assert_refused(&res, StatusCode::CONFLICT);
    assert!(res.body.contains("at most 2 tracks"), "{}", res.body);
    assert_eq!(
        order_of(&app, c.id).await,
        vec![(id_of(&a), 1), (id_of(&b), 2)]
    );
    assert_eq!(stored(&app), before);
    assert_eq!(before.len(), 2);
    // An EP has the same limit.
    let ep = release(&app, &ann, 2, "Short EP").await;
    added(&app, &ann, ep.id, "tone.wav").await;
    added(&app, &ann, ep.id, "tone.m4a").await;
    let res = upload(&app, &ann, ep.id, fixture("tone.aac")).await;
    assert_refused(&res, StatusCode::CONFLICT);
    assert_eq!(rows_of(&app, ep.id).await.len(), 2);
    assert_eq!(stored(&app).len(), 4);
}

#[tokio::test]
async fn the_too_many_tracks_message_uses_the_right_article() {
    // "A Album holds at most 2 tracks." reads wrong; so does "A EP".
    let app = TestApp::with_env(&[("RAGTIME_MAX_TRACKS", "1")]).await;
    let ann = app.create_user("ann").await;
    for (release_type, expected) in [
        (1, "A single holds at most 1 track."),
        (2, "An EP holds at most 1 track."),
        (3, "An album holds at most 1 track."),
    ] {
        let c = release(&app, &ann, release_type, "Full").await;
        added(&app, &ann, c.id, "tone.mp3").await;
        let res = upload(&app, &ann, c.id, fixture("tone.ogg")).await;
        assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
        assert_eq!(res.json()["message"], expected);
    }
}

#[tokio::test]
async fn an_upload_over_the_artists_quota_is_a_409_and_nothing_is_stored() {
    // 10 000 bytes: the 6.5 KB MP3 fits, the 5.4 KB Ogg after it does not.
    let app = TestApp::with_env(&[("RAGTIME_MEDIA_QUOTA_BYTES", "10000")]).await;
    let ann = app.create_user("ann").await;
    let first = app.publish(&ann, "First").await;
    let mp3 = added(&app, &ann, first.id, "tone.mp3").await;
    let before = stored(&app);
    // The quota is the artist's, over all their compositions.
    let second = album(&app, &ann, "Second").await;
    let res = upload(&app, &ann, second.id, fixture("tone.ogg")).await;
    assert_refused(&res, StatusCode::CONFLICT);
    assert!(res.body.contains("quota"), "{}", res.body);
    assert_nothing_stored_beyond(&app, second.id, &before).await;
    // Another artist has a quota of their own.
    let bob = app.create_user("bob").await;
    let bobs = app.publish(&bob, "Bob's").await;
    added(&app, &bob, bobs.id, "tone.ogg").await;
    assert_eq!(
        track::used_bytes(&app.db, ann.id).await.unwrap(),
        mp3["size_bytes"].as_u64().unwrap()
    );
}

async fn assert_nothing_stored_beyond(
    app: &TestApp,
    composition_id: i32,
    before: &BTreeSet<String>,
) {
    assert_eq!(rows_of(app, composition_id).await, vec![]);
    assert_eq!(&stored(app), before);
}

#[tokio::test]
async fn a_refused_copy_of_a_kept_file_leaves_the_original_in_place() {
    // The same bytes again pass the quota: the refused upload names the object the first
    // track names, which must stay.
    let app = TestApp::with_env(&[("RAGTIME_MEDIA_QUOTA_BYTES", "10000")]).await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Twice").await;
    let first = added(&app, &ann, c.id, "tone.mp3").await;
    let before = stored(&app);
    let res = upload(&app, &ann, c.id, fixture("tone.mp3")).await;
    assert_refused(&res, StatusCode::CONFLICT);
    assert_eq!(stored(&app), before);
    assert_eq!(order_of(&app, c.id).await, vec![(id_of(&first), 1)]);
    let audio = fetch_audio(
        &app,
        Method::GET,
        &path_of(first["audio_url"].as_str().unwrap()),
        &[],
    )
    .await;
    assert_eq!(audio.status, StatusCode::OK);
    assert_eq!(audio.body, fixture("tone.mp3"));
}

#[tokio::test]
async fn someone_elses_composition_is_a_403_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let moderator = app.create_user_with_role("mod", "Moderator").await;
    let c = app.publish(&ann, "Ann's").await;
    for someone in [&bob, &moderator] {
        let res = upload(&app, someone, c.id, fixture("tone.mp3")).await;
        assert_refused(&res, StatusCode::FORBIDDEN);
        assert!(res.body.contains("Only the artist or an administrator"));
    }
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test]
async fn an_unknown_composition_is_a_404_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let res = upload(&app, &ann, 9999, fixture("tone.mp3")).await;
    assert_refused(&res, StatusCode::NOT_FOUND);
    assert!(
        res.body.contains("No composition with id 9999."),
        "{}",
        res.body
    );
    assert_eq!(stored(&app), BTreeSet::new());
}

#[tokio::test]
async fn an_upload_without_credentials_is_a_401_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Rag").await;
    let mut client = app.client();
    let req = client
        .request(
            Method::POST,
            &format!("/api/v1/compositions/{}/tracks", c.id),
        )
        .header(header::CONTENT_TYPE, "audio/mpeg")
        .body(Body::from(fixture("tone.mp3")))
        .unwrap();
    let res = client.send(req).await;
    assert_refused(&res, StatusCode::UNAUTHORIZED);
    assert_nothing_stored(&app, c.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_to_a_single_keep_exactly_one_track() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Race").await;
    let token = token_of(&app, &ann);
    let files = [
        "tone.mp3",
        "tone.ogg",
        "tone.flac",
        "tone.wav",
        "tone.m4a",
        "tone.aac",
    ];
    let uploads = files.iter().map(|name| {
        let mut client = app.client();
        let token = token.clone();
        let bytes = fixture(name);
        async move {
            let res = upload_as(&mut client, c.id, &token, Some("audio/mpeg"), bytes, None).await;
            (res.status, res.body)
        }
    });
    let answers = futures_util::future::join_all(uploads).await;
    // Whatever the interleaving, a single never ends up with two tracks...
    let rows = rows_of(&app, c.id).await;
    assert_eq!(
        rows.iter().map(|t| t.position).collect::<Vec<_>>(),
        vec![1],
        "{answers:?}"
    );
    // ...and the others are told why, not given a 500.
    let statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{answers:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{answers:?}"
    );
    assert_eq!(
        stored(&app),
        BTreeSet::from([object_file(&rows[0].object_key)])
    );
}

// ---------------------------------------------------------------------------------------------
// Reading, renaming, moving, deleting

#[tokio::test]
async fn a_track_is_readable_by_any_user_but_changed_only_by_its_artist_or_an_administrator() {
    let (app, ann, c, t, _) = one_track("tone.mp3").await;
    let path = path_of(t["url"].as_str().unwrap());
    let bob = app.create_user("bob").await;
    let admin = app.create_user_with_role("root", "Administrator").await;
    let res = call(&app, Method::GET, &path, &bob, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), t);
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &bob,
        Some(json!({"title": "Mine"})),
    )
    .await;
    assert_error(
        &res,
        StatusCode::FORBIDDEN,
        "Only the artist or an administrator",
    );
    let res = call(&app, Method::DELETE, &path, &bob, None).await;
    assert_error(
        &res,
        StatusCode::FORBIDDEN,
        "Only the artist or an administrator",
    );
    assert_eq!(rows_of(&app, c.id).await[0].title, "Maple Leaf Rag");
    assert_eq!(stored(&app).len(), 1);
    let res = call(
        &app,
        Method::PATCH,
        &path,
        &admin,
        Some(json!({"title": "Renamed"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["title"], "Renamed");
    let res = call(&app, Method::GET, "/api/v1/tracks/9999", &ann, None).await;
    assert_error(&res, StatusCode::NOT_FOUND, "No track with id 9999.");
    let res = call(
        &app,
        Method::PATCH,
        "/api/v1/tracks/9999",
        &ann,
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = call(&app, Method::DELETE, "/api/v1/tracks/9999", &ann, None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
}

/// An album with four tracks; their ids in upload order.
async fn four_tracks(app: &TestApp, artist: &user::Model) -> (composition::Model, Vec<i32>) {
    let c = album(app, artist, "Four").await;
    let mut ids = Vec::new();
    for name in ["tone.mp3", "tone.ogg", "tone.flac", "tone.wav"] {
        ids.push(id_of(&added(app, artist, c.id, name).await));
    }
    (c, ids)
}

#[tokio::test]
async fn patch_renames_and_moves_a_track_keeping_positions_one_to_n() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (c, ids) = four_tracks(&app, &ann).await;
    let [a, b, d, e] = ids[..] else {
        unreachable!()
    };
    let path = |id: i32| format!("/api/v1/tracks/{id}");

    // The last to the front.
    let res = call(
        &app,
        Method::PATCH,
        &path(e),
        &ann,
        Some(json!({"position": 1})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["position"], 1);
    assert_eq!(
        order_of(&app, c.id).await,
        vec![(e, 1), (a, 2), (b, 3), (d, 4)]
    );
    // The first to the third place.
    let res = call(
        &app,
        Method::PATCH,
        &path(e),
        &ann,
        Some(json!({"position": 3})),
    )
    .await;
    assert_eq!(res.json()["position"], 3);
    assert_eq!(
        order_of(&app, c.id).await,
        vec![(a, 1), (b, 2), (e, 3), (d, 4)]
    );
    // Past the end means last.
    let res = call(
        &app,
        Method::PATCH,
        &path(a),
        &ann,
        Some(json!({"position": 99})),
    )
    .await;
    assert_eq!(res.json()["position"], 4);
    assert_eq!(
        order_of(&app, c.id).await,
        vec![(b, 1), (e, 2), (d, 3), (a, 4)]
    );
    // Both at once.
    let res = call(
        &app,
        Method::PATCH,
        &path(d),
        &ann,
        Some(json!({"title": "  Solace  ", "position": 1})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["title"], "Solace");
    assert_eq!(res.json()["position"], 1);
    assert_eq!(
        order_of(&app, c.id).await,
        vec![(d, 1), (b, 2), (e, 3), (a, 4)]
    );
    assert_eq!(
        track::find(&app.db, d).await.unwrap().unwrap().title,
        "Solace"
    );

    // The composition's JSON lists them in that order.
    let res = call(
        &app,
        Method::GET,
        &format!("/api/v1/compositions/{}", c.id),
        &ann,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let listed: Vec<(i64, i64)> = res.json()["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_i64().unwrap(), t["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        listed,
        vec![(d as i64, 1), (b as i64, 2), (e as i64, 3), (a as i64, 4)]
    );
    assert_eq!(res.json()["tracks"][0]["title"], "Solace");
}

#[tokio::test]
async fn patch_refuses_invalid_fields_and_changes_nothing() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (c, ids) = four_tracks(&app, &ann).await;
    let before = rows_of(&app, c.id).await;
    let path = format!("/api/v1/tracks/{}", ids[1]);
    for (body, field) in [
        (json!({"position": 0}), "position"),
        (json!({"position": -3}), "position"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "bad\u{7}bell"}), "title"),
        // A valid title with an invalid position: neither is applied.
        (json!({"title": "Fine", "position": 0}), "position"),
    ] {
        let res = call(&app, Method::PATCH, &path, &ann, Some(body.clone())).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.body);
        assert!(res.body.contains(field), "{body}: {}", res.body);
    }
    assert_eq!(rows_of(&app, c.id).await, before);
}

#[tokio::test]
async fn deleting_a_track_closes_the_gap_and_removes_its_object() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (c, ids) = four_tracks(&app, &ann).await;
    let doomed = track::find(&app.db, ids[1]).await.unwrap().unwrap();
    let file = object_file(&doomed.object_key);
    assert!(stored(&app).contains(&file));
    let res = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tracks/{}", ids[1]),
        &ann,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert!(res.body.is_empty());
    assert_eq!(track::find(&app.db, ids[1]).await.unwrap(), None);
    assert_eq!(
        order_of(&app, c.id).await,
        vec![(ids[0], 1), (ids[2], 2), (ids[3], 3)]
    );
    assert!(!stored(&app).contains(&file), "{:?}", stored(&app));
    assert_eq!(stored(&app).len(), 3);
    let res = call(
        &app,
        Method::GET,
        &format!("/api/v1/tracks/{}", ids[1]),
        &ann,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Its audio is gone too.
    let audio = fetch_audio(
        &app,
        Method::GET,
        &format!("/audio/{}", doomed.object_key),
        &[],
    )
    .await;
    assert_eq!(audio.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn identical_files_share_one_object_kept_until_the_last_track_goes() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let c = album(&app, &ann, "Ann's").await;
    let first = added(&app, &ann, c.id, "tone.flac").await;
    let second = added(&app, &ann, c.id, "tone.flac").await;
    // Another artist's copy of the same bytes.
    let bobs = app.publish(&bob, "Bob's").await;
    let third = added(&app, &bob, bobs.id, "tone.flac").await;
    assert_eq!(first["audio_url"], second["audio_url"]);
    assert_eq!(first["audio_url"], third["audio_url"]);
    let key = format!("{}.flac", sha256_hex(&fixture("tone.flac")));
    assert_eq!(stored(&app), BTreeSet::from([object_file(&key)]));

    for (t, who, remaining) in [
        (&first, &ann, true),
        (&third, &bob, true),
        (&second, &ann, false),
    ] {
        let res = call(
            &app,
            Method::DELETE,
            &path_of(t["url"].as_str().unwrap()),
            who,
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
        assert_eq!(
            stored(&app).contains(&object_file(&key)),
            remaining,
            "after deleting track {}",
            t["id"]
        );
    }
    assert_eq!(stored(&app), BTreeSet::new());
}

#[tokio::test]
async fn deleting_a_composition_removes_its_tracks_and_their_objects() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let (c, ids) = four_tracks(&app, &ann).await;
    // A second composition sharing one file: that object stays.
    let keep = app.publish(&ann, "Kept").await;
    let kept = added(&app, &ann, keep.id, "tone.ogg").await;
    assert_eq!(stored(&app).len(), 4);
    let res = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/compositions/{}", c.id),
        &ann,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(composition::find(&app.db, c.id).await.unwrap(), None);
    assert_eq!(rows_of(&app, c.id).await, vec![]);
    for id in ids {
        assert_eq!(track::find(&app.db, id).await.unwrap(), None);
    }
    let key = format!("{}.ogg", sha256_hex(&fixture("tone.ogg")));
    assert_eq!(stored(&app), BTreeSet::from([object_file(&key)]));
    assert_eq!(order_of(&app, keep.id).await, vec![(id_of(&kept), 1)]);
}

#[tokio::test]
async fn a_composition_lists_its_tracks_and_cannot_become_a_single_with_two() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = release(&app, &ann, 2, "EP").await;
    let path = format!("/api/v1/compositions/{}", c.id);
    let res = call(&app, Method::GET, &path, &ann, None).await;
    assert_eq!(res.json()["tracks"], json!([]));
    let a = added(&app, &ann, c.id, "tone.mp3").await;
    let b = added(&app, &ann, c.id, "tone.wav").await;
    let res = call(&app, Method::GET, &path, &ann, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["tracks"], json!([a, b]));

    let res = call(
        &app,
        Method::PUT,
        &path,
        &ann,
        Some(json!({"release_type": 1})),
    )
    .await;
    assert_error(&res, StatusCode::CONFLICT, "at most 1 track");
    assert_eq!(
        composition::find(&app.db, c.id)
            .await
            .unwrap()
            .unwrap()
            .release_type,
        2
    );
    // An album is fine; with one track left, so is a single.
    let res = call(
        &app,
        Method::PUT,
        &path,
        &ann,
        Some(json!({"release_type": 3})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = call(
        &app,
        Method::DELETE,
        &path_of(b["url"].as_str().unwrap()),
        &ann,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = call(
        &app,
        Method::PUT,
        &path,
        &ann,
        Some(json!({"release_type": 1})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["release_type_name"], "Single");
    assert_eq!(res.json()["tracks"], json!([a]));
}

// ---------------------------------------------------------------------------------------------
// Serving /audio/<sha256>.<ext>

#[tokio::test]
async fn audio_is_served_whole_with_immutable_caching_headers() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let sha = sha256_hex(&bytes);
    let path = path_of(t["audio_url"].as_str().unwrap());
    assert_eq!(path, format!("/audio/{sha}.wav"));
    let res = fetch_audio(&app, Method::GET, &path, &[]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, bytes);
    assert_eq!(res.header("content-type"), Some("audio/wav"));
    assert_eq!(
        res.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert_eq!(res.header("etag"), Some(format!("\"{sha}\"").as_str()));
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(res.header("content-range").is_none());
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    // Publicly cacheable, so it must not set a cookie.
    assert!(res.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn audio_is_served_inline_under_its_titles_name_made_safe() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Names").await;
    let token = token_of(&app, &ann);
    let res = upload_as(
        &mut app.client(),
        c.id,
        &token,
        Some("audio/wav"),
        fixture("tone.wav"),
        Some("Élise \"rag\" / take 2"),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let path = path_of(res.json()["audio_url"].as_str().unwrap());
    for range in [None, Some("bytes=0-99")] {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let res = fetch_audio(&app, Method::GET, &path, &headers).await;
        assert!(res.status.is_success(), "{}", res.status);
        assert_eq!(
            res.header("content-disposition"),
            Some(
                "inline; filename=\"_lise _rag_ _ take 2.wav\"; \
                 filename*=UTF-8''%C3%89lise%20_rag_%20_%20take%202.wav"
            )
        );
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    }
}

#[tokio::test]
async fn audio_is_served_with_the_type_its_content_has() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = album(&app, &ann, "Types").await;
    for (name, mime) in [
        ("tone.mp3", "audio/mpeg"),
        ("tone.m4a", "audio/mp4"),
        ("tone.ogg", "audio/ogg"),
        ("tone.opus", "audio/ogg"),
        ("tone.flac", "audio/flac"),
    ] {
        // Declared as WAV, all of them.
        let token = token_of(&app, &ann);
        let res = upload_as(
            &mut app.client(),
            c.id,
            &token,
            Some("audio/wav"),
            fixture(name),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{name}: {}", res.body);
        let path = path_of(res.json()["audio_url"].as_str().unwrap());
        let audio = fetch_audio(&app, Method::GET, &path, &[]).await;
        assert_eq!(audio.status, StatusCode::OK, "{name}");
        assert_eq!(audio.header("content-type"), Some(mime), "{name}");
        assert_eq!(audio.body, fixture(name), "{name}");
    }
}

#[tokio::test]
async fn a_range_gives_a_206_with_exactly_those_bytes() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let size = bytes.len();
    let path = path_of(t["audio_url"].as_str().unwrap());
    let res = fetch_audio(&app, Method::GET, &path, &[("range", "bytes=0-99")]).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.header("content-range"),
        Some(format!("bytes 0-99/{size}").as_str())
    );
    assert_eq!(res.header("content-length"), Some("100"));
    assert_eq!(res.header("content-type"), Some("audio/wav"));
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert_eq!(res.body, bytes[..100]);
}

#[tokio::test]
async fn successive_seeks_each_get_their_own_bytes() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let size = bytes.len();
    let path = path_of(t["audio_url"].as_str().unwrap());
    for (start, end) in [
        (12_000, 12_999),
        (100, 100),
        (size - 1, size - 1),
        (5_000, 20_000),
        (0, size - 1),
        (23_000, 23_999),
    ] {
        let range = format!("bytes={start}-{end}");
        let res = fetch_audio(&app, Method::GET, &path, &[("range", &range)]).await;
        assert_eq!(res.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            res.header("content-range"),
            Some(format!("bytes {start}-{end}/{size}").as_str()),
            "{range}"
        );
        assert_eq!(res.body, bytes[start..=end], "{range}");
    }
    // An end past the file is clipped to it.
    let res = fetch_audio(&app, Method::GET, &path, &[("range", "bytes=24000-99999")]).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.header("content-range"),
        Some(format!("bytes 24000-{}/{size}", size - 1).as_str())
    );
    assert_eq!(res.body, bytes[24_000..]);
}

#[tokio::test]
async fn suffix_and_open_ended_ranges_are_served() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let size = bytes.len();
    let path = path_of(t["audio_url"].as_str().unwrap());
    let res = fetch_audio(&app, Method::GET, &path, &[("range", "bytes=-100")]).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.header("content-range"),
        Some(format!("bytes {}-{}/{size}", size - 100, size - 1).as_str())
    );
    assert_eq!(res.body, bytes[size - 100..]);
    let res = fetch_audio(&app, Method::GET, &path, &[("range", "bytes=20000-")]).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.header("content-range"),
        Some(format!("bytes 20000-{}/{size}", size - 1).as_str())
    );
    assert_eq!(
        res.header("content-length"),
        Some((size - 20_000).to_string().as_str())
    );
    assert_eq!(res.body, bytes[20_000..]);
    // "bytes=0-" is the whole file, as a 206 (what browsers send first).
    let res = fetch_audio(&app, Method::GET, &path, &[("range", "bytes=0-")]).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.body, bytes);
}

#[tokio::test]
async fn a_range_starting_at_the_end_is_a_416_naming_the_size() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let size = bytes.len();
    let path = path_of(t["audio_url"].as_str().unwrap());
    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 10, size + 20),
    ] {
        let res = fetch_audio(&app, Method::GET, &path, &[("range", &range)]).await;
        assert_eq!(res.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            res.header("content-range"),
            Some(format!("bytes */{size}").as_str()),
            "{range}"
        );
        assert!(res.body.is_empty(), "{range}: {} bytes", res.body.len());
    }
    // A Range header that is not one we understand is ignored: the whole file.
    let res = fetch_audio(&app, Method::GET, &path, &[("range", "pages=1-2")]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, bytes);
}

#[tokio::test]
async fn if_none_match_with_the_etag_is_a_304() {
    let (app, _, _, t, bytes) = one_track("tone.mp3").await;
    let etag = format!("\"{}\"", sha256_hex(&bytes));
    let path = path_of(t["audio_url"].as_str().unwrap());
    for sent in [
        etag.clone(),
        format!("\"other\", {etag}"),
        format!("W/{etag}"),
    ] {
        let res = fetch_audio(&app, Method::GET, &path, &[("if-none-match", &sent)]).await;
        assert_eq!(res.status, StatusCode::NOT_MODIFIED, "{sent}");
        assert!(res.body.is_empty());
        assert_eq!(res.header("etag"), Some(etag.as_str()));
        assert_eq!(
            res.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    let res = fetch_audio(&app, Method::GET, &path, &[("if-none-match", "\"stale\"")]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, bytes);
}

#[tokio::test]
async fn if_range_with_another_etag_gets_the_whole_file() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let etag = format!("\"{}\"", sha256_hex(&bytes));
    let path = path_of(t["audio_url"].as_str().unwrap());
    let res = fetch_audio(
        &app,
        Method::GET,
        &path,
        &[
            ("range", "bytes=100-199"),
            ("if-range", "\"something-else\""),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.header("content-range").is_none());
    assert_eq!(res.body, bytes);
    // With our ETag, the range.
    let res = fetch_audio(
        &app,
        Method::GET,
        &path,
        &[("range", "bytes=100-199"), ("if-range", &etag)],
    )
    .await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.body, bytes[100..200]);
}

#[tokio::test]
async fn head_gives_the_headers_without_the_bytes() {
    let (app, _, _, t, bytes) = one_track("tone.flac").await;
    let path = path_of(t["audio_url"].as_str().unwrap());
    let res = fetch_audio(&app, Method::HEAD, &path, &[]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.is_empty());
    assert_eq!(res.header("content-type"), Some("audio/flac"));
    assert_eq!(
        res.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert_eq!(
        res.header("etag"),
        Some(format!("\"{}\"", sha256_hex(&bytes)).as_str())
    );
    let res = fetch_audio(&app, Method::HEAD, &path, &[("range", "bytes=0-9")]).await;
    assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
    assert!(res.body.is_empty());
    assert_eq!(
        res.header("content-range"),
        Some(format!("bytes 0-9/{}", bytes.len()).as_str())
    );
}

#[tokio::test]
async fn audio_is_never_gzipped() {
    let (app, _, _, t, bytes) = one_track("tone.wav").await;
    let path = path_of(t["audio_url"].as_str().unwrap());
    for headers in [
        vec![("accept-encoding", "gzip, deflate, br, zstd")],
        vec![("accept-encoding", "gzip"), ("range", "bytes=1000-4999")],
    ] {
        let res = fetch_audio(&app, Method::GET, &path, &headers).await;
        assert!(res.header("content-encoding").is_none(), "{headers:?}");
        let expected: &[u8] = if headers.len() == 2 {
            assert_eq!(res.status, StatusCode::PARTIAL_CONTENT);
            &bytes[1_000..5_000]
        } else {
            assert_eq!(res.status, StatusCode::OK);
            &bytes
        };
        assert_eq!(res.body, expected, "{headers:?}");
        assert_eq!(
            res.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
    }
    // The same client is given gzip where it helps: a page.
    let page = fetch_audio(&app, Method::GET, "/", &[("accept-encoding", "gzip")]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn unknown_or_malformed_audio_names_are_a_404() {
    let (app, _, _, t, bytes) = one_track("tone.mp3").await;
    let sha = sha256_hex(&bytes);
    for path in [
        format!("/audio/{}.mp3", "0".repeat(64)),
        // The right hash, another extension: another object.
        format!("/audio/{sha}.wav"),
        format!("/audio/{}.mp3", sha.to_uppercase()),
        format!("/audio/{sha}"),
        "/audio/..%2F..%2Fetc%2Fpasswd".to_owned(),
        format!("/audio/{sha}.mp3%2F..%2Fx"),
    ] {
        let res = fetch_audio(&app, Method::GET, &path, &[]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(res.header("etag").is_none(), "{path}");
    }
    assert_eq!(
        fetch_audio(
            &app,
            Method::GET,
            &path_of(t["audio_url"].as_str().unwrap()),
            &[]
        )
        .await
        .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_object_no_track_names_is_not_served() {
    let app = TestApp::new().await;
    let bytes = fixture("tone.ogg");
    let key = format!("{}.ogg", sha256_hex(&bytes));
    let source = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(source.path(), &bytes).unwrap();
    app.state
        .media
        .store
        .put_file(&key, source.path(), "audio/ogg")
        .await
        .unwrap();
    assert_eq!(stored(&app), BTreeSet::from([object_file(&key)]));
    let res = fetch_audio(&app, Method::GET, &format!("/audio/{key}"), &[]).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_ne!(res.body, bytes);
}

// ---------------------------------------------------------------------------------------------
// The orphan sweep

#[tokio::test]
async fn the_sweep_removes_objects_no_track_names_and_keeps_the_others() {
    let app = TestApp::new().await;
    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 0);
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Kept").await;
    let kept = added(&app, &ann, c.id, "tone.mp3").await;
    let kept_key = format!("{}.mp3", sha256_hex(&fixture("tone.mp3")));
    // Two objects left behind (an interrupted upload, a failed release).
    let mut orphans = Vec::new();
    for name in ["tone.ogg", "tone.flac"] {
        let bytes = fixture(name);
        let ext = name.rsplit('.').next().unwrap();
        let key = format!("{}.{ext}", sha256_hex(&bytes));
        let source = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(source.path(), &bytes).unwrap();
        app.state
            .media
            .store
            .put_file(&key, source.path(), "audio/ogg")
            .await
            .unwrap();
        orphans.push(key);
    }
    assert_eq!(stored(&app).len(), 3);
    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 2);
    assert_eq!(stored(&app), BTreeSet::from([object_file(&kept_key)]));
    for key in &orphans {
        assert!(!app.state.media.store.exists(key).await.unwrap());
    }
    // The referenced one is still served, and a second sweep finds nothing.
    let res = fetch_audio(
        &app,
        Method::GET,
        &path_of(kept["audio_url"].as_str().unwrap()),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body, fixture("tone.mp3"));
    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn the_sweep_spares_recent_orphans_within_the_grace_period() {
    let app = TestApp::with_env(&[("RAGTIME_MEDIA_ORPHAN_GRACE", "3600")]).await;
    let key = format!("{}.wav", "ab".repeat(32));
    let source = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(source.path(), fixture("tone.wav")).unwrap();
    app.state
        .media
        .store
        .put_file(&key, source.path(), "audio/wav")
        .await
        .unwrap();
    assert_eq!(app.state.media.sweep(&app.db).await.unwrap(), 0);
    assert_eq!(stored(&app), BTreeSet::from([object_file(&key)]));
}

// ---------------------------------------------------------------------------------------------
// The Content Security Policy

/// The directives of a CSP, by name.
fn csp_directive(csp: &str, name: &str) -> Option<String> {
    csp.split(';')
        .map(str::trim)
        .find(|d| d.split_whitespace().next() == Some(name))
        .map(str::to_owned)
}

#[tokio::test]
async fn pages_allow_media_from_this_site_only_with_a_local_store() {
    let app = TestApp::new().await;
    let mut client = app.client();
    for path in ["/", "/auth/login"] {
        let res = client.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        let csp = res
            .header("content-security-policy")
            .expect("a CSP")
            .to_owned();
        assert_eq!(
            csp_directive(&csp, "media-src").as_deref(),
            Some("media-src 'self'"),
            "{csp}"
        );
        assert_eq!(
            csp_directive(&csp, "default-src").as_deref(),
            Some("default-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains('*') && !csp.contains("blob:"), "{csp}");
    }
}

// ---------------------------------------------------------------------------------------------
// The model

#[tokio::test]
async fn used_bytes_sums_an_artists_tracks_over_all_their_compositions() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    assert_eq!(track::used_bytes(&app.db, ann.id).await.unwrap(), 0);
    let single = app.publish(&ann, "One").await;
    added(&app, &ann, single.id, "tone.mp3").await;
    assert_eq!(
        track::used_bytes(&app.db, ann.id).await.unwrap(),
        fixture("tone.mp3").len() as u64
    );
    let single = app.publish(&ann, "Two").await;
    added(&app, &ann, single.id, "tone.ogg").await;
    assert_eq!(
        track::used_bytes(&app.db, ann.id).await.unwrap(),
        (fixture("tone.mp3").len() + fixture("tone.ogg").len()) as u64
    );
    assert_eq!(track::used_bytes(&app.db, bob.id).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_tracks_at_the_same_moment_cannot_overfill_a_single() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Race").await;
    let limits = app.state.media.limits();
    // Open the pool's five connections first, so that the attempts really overlap.
    let warm = (0..5).map(|_| track::of(&app.db, c.id));
    futures_util::future::join_all(warm).await;
    let attempts = (1..=5u8).map(|n| {
        let (db, c, limits) = (&app.db, &c, &limits);
        async move { track::add(db, c, vec![crate::helpers::new_track(n)], limits).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let rows = rows_of(&app, c.id).await;
    assert_eq!(
        rows.iter().map(|t| t.position).collect::<Vec<_>>(),
        vec![1],
        "{results:?}"
    );
    // The losers are refused for the reason, not with a database error (a 500 over HTTP).
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(track::Refused::TooManyTracks { .. }))),
        "{results:?}"
    );
}

//! Writes that race each other on one composition (issue 25): concurrent moves of an album's
//! tracks through the API and the site, with an upload and deletions among them, queue behind
//! the composition's row instead of deadlocking; and a write that loses a race with the
//! composition's deletion answers 404, as if it had come after it, with nothing saved.

use std::time::Duration;

use crate::helpers::{Client, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use futures_util::future::join_all;
use ragtime::models::{comment, composition, tag, track, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, QueryFilter,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

const BOUNDARY: &str = "raceboundary";

fn token_of(app: &TestApp, u: &user::Model) -> String {
    format!("Bearer {}", ragtime::api::auth::issue(&app.state.signer, u))
}

/// A second browser tab: the same session.
fn tab(client: &Client) -> Client {
    Client {
        router: client.router.clone(),
        cookies: client.cookies.clone(),
        peer: client.peer,
    }
}

/// A canonical 16-bit PCM WAV of one second at 8 kHz, mono, at a level of its own (so each
/// upload is a new object).
fn wav_second(level: i16) -> Vec<u8> {
    let data_len = 16_000u32;
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
    for _ in 0..8_000 {
        w.extend_from_slice(&level.to_le_bytes());
    }
    w
}

/// An album by `artist` with `n` tracks, tagged `blues`; its track ids in order.
async fn album(app: &TestApp, artist: &user::Model, n: u8) -> (composition::Model, Vec<i32>) {
    let draft = composition::Draft {
        release_type: 3,
        title: "Album",
        description: "Album",
        tags: vec!["blues".into()],
    };
    let c = composition::create(&app.db, artist.id, &draft)
        .await
        .unwrap();
    let limits = app.state.media.limits();
    let added = track::add(
        &app.db,
        &c,
        (1..=n).map(crate::helpers::new_track).collect(),
        &limits,
    )
    .await
    .unwrap();
    (c, added.iter().map(|t| t.id).collect())
}

/// The positions of a composition's tracks, sorted: 1..=n if the list has no gap or repeat.
async fn positions(app: &TestApp, composition_id: i32) -> Vec<i32> {
    let mut p: Vec<i32> = track::of(&app.db, composition_id)
        .await
        .unwrap()
        .iter()
        .map(|t| t.position)
        .collect();
    p.sort();
    p
}

async fn api(
    mut client: Client,
    method: Method,
    path: String,
    auth: String,
    content_type: &str,
    body: Vec<u8>,
) -> TestResponse {
    let req = client
        .request(method, &path)
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    client.send(req).await
}

async fn form(
    mut client: Client,
    path: String,
    fields: Vec<(&'static str, String)>,
) -> TestResponse {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    client.post_form(&path, &fields).await
}

/// The site's upload form: the CSRF token first, then the files.
async fn upload_form(
    mut client: Client,
    path: String,
    token: String,
    file: Vec<u8>,
) -> TestResponse {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"take.wav\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let req = client
        .request(Method::POST, &path)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap();
    client.send(req).await
}

// ---------------------------------------------------------------------------------------------
// Concurrent edits of one album (PostgreSQL: SQLite lets one writer in at a time anyway)

/// Twelve moves at once, half through `PATCH /api/v1/tracks/{id}`, half through the site's
/// move form, plus whatever `extra` adds; every answer, in order.
async fn twelve_moves(
    app: &TestApp,
    site: &Client,
    csrf: &str,
    auth: &str,
    ids: &[i32],
    round: usize,
) -> Vec<futures_util::future::BoxFuture<'static, (String, TestResponse)>> {
    use futures_util::FutureExt;
    (0..12)
        .map(|i| {
            let id = ids[i % ids.len()];
            let to = ((i * 3 + round) % 5 + 1).to_string();
            if i % 2 == 0 {
                let body = format!(r#"{{"position": {to}}}"#).into_bytes();
                let call = api(
                    app.client(),
                    Method::PATCH,
                    format!("/api/v1/tracks/{id}"),
                    auth.to_owned(),
                    "application/json",
                    body,
                );
                async move { (format!("PATCH track {id} to {to}"), call.await) }.boxed()
            } else {
                let fields = vec![("csrf_token", csrf.to_owned()), ("position", to.clone())];
                let call = form(tab(site), format!("/tracks/{id}/move"), fields);
                async move { (format!("move form: track {id} to {to}"), call.await) }.boxed()
            }
        })
        .collect()
}

#[track_caller]
fn assert_all(answers: &[(String, TestResponse)], expected: impl Fn(&str) -> StatusCode) {
    for (what, res) in answers {
        assert_eq!(res.status, expected(what), "{what}: {}", res.body);
    }
}

fn expected_move(what: &str) -> StatusCode {
    if what.starts_with("PATCH") {
        StatusCode::OK
    } else {
        StatusCode::SEE_OTHER
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_concurrent_moves_of_one_albums_tracks_all_succeed_without_a_gap() {
    let app = TestApp::new().await;
    app.require_postgres();
    let ann = app.create_user("ann").await;
    let (c, ids) = album(&app, &ann, 5).await;
    let mut site = app.logged_in_client(&ann).await;
    let csrf = site.get(&format!("/edit/{}", c.slug())).await.csrf_token();
    let auth = token_of(&app, &ann);
    for round in 0..5 {
        let answers = join_all(twelve_moves(&app, &site, &csrf, &auth, &ids, round).await).await;
        assert_all(&answers, expected_move);
        assert_eq!(
            positions(&app, c.id).await,
            vec![1, 2, 3, 4, 5],
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_moves_racing_an_upload_and_deletions_all_succeed_without_a_gap() {
    use futures_util::FutureExt;
    let app = TestApp::new().await;
    app.require_postgres();
    let ann = app.create_user("ann").await;
    let (c, ids) = album(&app, &ann, 8).await;
    let mut site = app.logged_in_client(&ann).await;
    let edit = format!("/edit/{}", c.slug());
    let csrf = site.get(&edit).await.csrf_token();
    let auth = token_of(&app, &ann);
    for round in 0..3 {
        // The moves take the first five tracks; each round deletes one of the others (once
        // through the site, once through the API) and uploads one, through each in turn.
        let kept: Vec<i32> = ids[..5].to_vec();
        let mut calls = twelve_moves(&app, &site, &csrf, &auth, &kept, round).await;
        let doomed = ids[5 + round];
        calls.push(if round % 2 == 0 {
            let fields = vec![("csrf_token", csrf.clone())];
            let call = form(tab(&site), format!("/tracks/{doomed}/delete"), fields);
            async move { ("delete form".to_owned(), call.await) }.boxed()
        } else {
            let call = api(
                app.client(),
                Method::DELETE,
                format!("/api/v1/tracks/{doomed}"),
                auth.clone(),
                "application/json",
                Vec::new(),
            );
            async move { ("DELETE".to_owned(), call.await) }.boxed()
        });
        let wav = wav_second(1_000 + round as i16);
        calls.push(if round % 2 == 0 {
            let call = api(
                app.client(),
                Method::POST,
                format!("/api/v1/compositions/{}/tracks", c.id),
                auth.clone(),
                "audio/wav",
                wav,
            );
            async move { ("POST upload".to_owned(), call.await) }.boxed()
        } else {
            let call = upload_form(tab(&site), format!("{edit}/tracks"), csrf.clone(), wav);
            async move { ("upload form".to_owned(), call.await) }.boxed()
        });
        let answers = join_all(calls).await;
        assert_all(&answers, |what| match what {
            "DELETE" => StatusCode::NO_CONTENT,
            "POST upload" => StatusCode::CREATED,
            "delete form" | "upload form" => StatusCode::SEE_OTHER,
            _ => expected_move(what),
        });
        // One gone, one come: as many as before, numbered 1..=n.
        assert_eq!(
            positions(&app, c.id).await,
            (1..=ids.len() as i32).collect::<Vec<_>>(),
            "round {round}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Writes that lose a race with the composition's deletion

/// A deletion of the composition `id` under way: its rows deleted in a transaction left
/// open, which holds the composition's row on PostgreSQL (and the database's write lock on
/// SQLite) until it is committed.
async fn deletion_under_way(app: &TestApp, id: i32) -> DatabaseTransaction {
    let txn = app
        .db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
        .unwrap();
    let pieces = [
        "DELETE FROM comments WHERE composition_id = $1",
        "DELETE FROM likes WHERE composition_id = $1",
        "DELETE FROM composition_tags WHERE composition_id = $1",
        "DELETE FROM tracks WHERE composition_id = $1",
        "DELETE FROM compositions WHERE id = $1",
    ];
    let backend = app.db.get_database_backend();
    for sql in pieces {
        let sql = match backend {
            DatabaseBackend::Postgres => sql.to_owned(),
            _ => sql.replace("$1", "?"),
        };
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await
            .unwrap();
    }
    txn
}

/// Wait until a request is held up behind the deletion: on PostgreSQL, until a session of
/// this database waits for a lock (at most 10 s). SQLite shows no sign of a writer waiting in
/// its busy handler, so there a moment is given instead; the request has read the composition
/// long before (its first query), while the deletion was not yet committed.
async fn until_waiting(app: &TestApp, request: &tokio::task::JoinHandle<TestResponse>) {
    if app.db.get_database_backend() != DatabaseBackend::Postgres {
        tokio::time::sleep(Duration::from_millis(500)).await;
        return;
    }
    let sql = "SELECT count(*) AS n FROM pg_stat_activity \
               WHERE datname = current_database() AND wait_event_type = 'Lock'";
    for _ in 0..200 {
        let row = app
            .db
            .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            return;
        }
        assert!(
            !request.is_finished(),
            "the request did not wait for the deletion"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no request came to wait behind the deletion");
}

/// What a write racing a deletion sends.
enum Write {
    Form(String, Vec<(&'static str, String)>),
    Upload(String),
    Api(Method, String, &'static str, Vec<u8>),
}

/// Sends `write`, as the artist: through `site` (logged in, whose pages gave `csrf`) or
/// through `api` with `auth`.
async fn send(
    api_client: Client,
    site: Client,
    write: Write,
    csrf: String,
    auth: String,
) -> TestResponse {
    match write {
        Write::Form(path, fields) => form(site, path, fields).await,
        Write::Upload(path) => upload_form(site, path, csrf, wav_second(2_000)).await,
        Write::Api(method, path, content_type, body) => {
            api(api_client, method, path, auth, content_type, body).await
        }
    }
}

/// Sends `write` while the composition's deletion is under way, commits the deletion, and
/// returns the answer; nothing of the composition is left.
async fn racing_a_deletion(
    app: &TestApp,
    c: &composition::Model,
    write: impl FnOnce(&str) -> Write,
    site: &Client,
    csrf: &str,
) -> TestResponse {
    let artist = user::find_by_id(&app.db, c.artist_id)
        .await
        .unwrap()
        .unwrap();
    let auth = token_of(app, &artist);
    // The deletion first, so that the request reads the composition as still there.
    let deletion = deletion_under_way(app, c.id).await;
    let request = tokio::spawn(send(
        app.client(),
        tab(site),
        write(csrf),
        csrf.to_owned(),
        auth,
    ));
    until_waiting(app, &request).await;
    deletion.commit().await.unwrap();
    let res = request.await.unwrap();
    assert!(composition::find(&app.db, c.id).await.unwrap().is_none());
    let comments = comment::Entity::find()
        .filter(comment::Column::CompositionId.eq(c.id))
        .all(&app.db)
        .await
        .unwrap();
    assert!(
        comments.is_empty(),
        "a comment was half-saved: {comments:?}"
    );
    assert!(track::of(&app.db, c.id).await.unwrap().is_empty());
    assert!(tag::of(&app.db, c.id).await.unwrap().is_empty());
    res
}

/// Every write about a composition, site and API, sent while the composition is being
/// deleted: each answers 404, as it would a moment later, and saves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_racing_the_compositions_deletion_is_a_404_with_nothing_saved() {
    type Case = (
        &'static str,
        Box<dyn Fn(&composition::Model, i32, &str) -> Write>,
    );
    let cases: Vec<Case> = vec![
        (
            "comment form",
            Box::new(|c, _, csrf| {
                let fields = vec![("csrf_token", csrf.to_owned()), ("body", "Late!".into())];
                Write::Form(format!("/composition/{}", c.slug()), fields)
            }),
        ),
        (
            "POST comment",
            Box::new(|c, _, _| {
                let body = br#"{"body": "Late!"}"#.to_vec();
                let path = format!("/api/v1/compositions/{}/comments/", c.id);
                Write::Api(Method::POST, path, "application/json", body)
            }),
        ),
        (
            "upload form",
            Box::new(|c, _, _| Write::Upload(format!("/edit/{}/tracks", c.slug()))),
        ),
        (
            "POST upload",
            Box::new(|c, _, _| {
                let path = format!("/api/v1/compositions/{}/tracks", c.id);
                Write::Api(Method::POST, path, "audio/wav", wav_second(3_000))
            }),
        ),
        (
            "edit form with tags",
            Box::new(|c, _, csrf| {
                let fields = vec![
                    ("csrf_token", csrf.to_owned()),
                    ("release_type", "3".into()),
                    ("title", "Renamed".into()),
                    ("description", "New words".into()),
                    ("tags", "jazz, swing".into()),
                ];
                Write::Form(format!("/edit/{}", c.slug()), fields)
            }),
        ),
        (
            "PUT composition tags",
            Box::new(|c, _, _| {
                let body = br#"{"title": "Renamed", "tags": ["jazz", "swing"]}"#.to_vec();
                let path = format!("/api/v1/compositions/{}", c.id);
                Write::Api(Method::PUT, path, "application/json", body)
            }),
        ),
        (
            "move form",
            Box::new(|_, track, csrf| {
                let fields = vec![("csrf_token", csrf.to_owned()), ("position", "2".into())];
                Write::Form(format!("/tracks/{track}/move"), fields)
            }),
        ),
        (
            "PATCH track position",
            Box::new(|_, track, _| {
                let body = br#"{"position": 2}"#.to_vec();
                let path = format!("/api/v1/tracks/{track}");
                Write::Api(Method::PATCH, path, "application/json", body)
            }),
        ),
        (
            "track delete form",
            Box::new(|_, track, csrf| {
                let fields = vec![("csrf_token", csrf.to_owned())];
                Write::Form(format!("/tracks/{track}/delete"), fields)
            }),
        ),
        (
            "DELETE track",
            Box::new(|_, track, _| {
                let path = format!("/api/v1/tracks/{track}");
                Write::Api(Method::DELETE, path, "application/json", Vec::new())
            }),
        ),
        (
            "delete form",
            Box::new(|c, _, csrf| {
                let fields = vec![("csrf_token", csrf.to_owned())];
                Write::Form(format!("/delete/{}", c.slug()), fields)
            }),
        ),
        (
            "DELETE composition",
            Box::new(|c, _, _| {
                let path = format!("/api/v1/compositions/{}", c.id);
                Write::Api(Method::DELETE, path, "application/json", Vec::new())
            }),
        ),
    ];
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut site = app.logged_in_client(&ann).await;
    let mut wrong = Vec::new();
    for (what, write) in &cases {
        // The same write, with no deletion in its way, does what it says.
        let (live, live_ids) = album(&app, &ann, 2).await;
        let csrf = site
            .get(&format!("/edit/{}", live.slug()))
            .await
            .csrf_token();
        let auth = token_of(&app, &ann);
        let write_live = write(&live, live_ids[0], &csrf);
        let res = send(app.client(), tab(&site), write_live, csrf, auth).await;
        let done = res.status.is_success() || res.status.is_redirection();
        assert!(done, "{what}: {} {}", res.status, res.body);

        let (c, ids) = album(&app, &ann, 2).await;
        // The page the form is on, loaded before the deletion began.
        let csrf = site.get(&format!("/edit/{}", c.slug())).await.csrf_token();
        let res = racing_a_deletion(&app, &c, |csrf| write(&c, ids[0], csrf), &site, &csrf).await;
        if res.status != StatusCode::NOT_FOUND {
            wrong.push(format!("{what}: {}", res.status));
        }
    }
    assert!(wrong.is_empty(), "not a 404: {wrong:?}");
}

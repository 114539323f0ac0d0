//! Plays counted honestly (issue 26, item 4) and what is built on them (item 5): the trending
//! list and "More from this artist". A play counts once 30 s of a track (or all of a shorter
//! one) are heard, by the player's report and the server's clock; once an hour per listener
//! and track; never for robots.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use ragtime::models::play::{self, Listener, Outcome};
use ragtime::models::{composition, like, track, trending, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::helpers::{Client, TestApp, TestResponse};

/// A track of `c`, `duration_ms` long, without audio behind it (the rules read only its row).
async fn a_track(app: &TestApp, c: &composition::Model, duration_ms: i64) -> track::Model {
    track::ActiveModel {
        composition_id: Set(c.id),
        position: Set(1),
        title: Set(format!("{} theme", c.title)),
        object_key: Set(format!("key-{}-{duration_ms}", c.id)),
        container: Set("wav".into()),
        codec: Set("pcm_s16le".into()),
        mime: Set("audio/wav".into()),
        duration_ms: Set(duration_ms),
        sample_rate: Set(44100),
        channels: Set(1),
        bit_rate: Set(705_600),
        size_bytes: Set(1000),
        sha256: Set("0".repeat(64)),
        waveform: Set(String::new()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
}

async fn plays_of(app: &TestApp, t: &track::Model) -> (i64, i64) {
    let t = track::find(&app.db, t.id).await.unwrap().unwrap();
    let c = composition::find(&app.db, t.composition_id)
        .await
        .unwrap()
        .unwrap();
    (t.plays_count, c.plays_count)
}

/// A page of the site with a token for its forms (and the session cookie it needs).
async fn csrf(client: &mut Client, c: &composition::Model) -> String {
    let page = client.get(&format!("/composition/{}", c.slug())).await;
    assert_eq!(page.status, StatusCode::OK);
    let marker = r#"data-csrf-token=""#;
    let start = page.body.find(marker).expect("a token for plays.js") + marker.len();
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].to_owned()
}

/// A POST as plays.js sends it.
async fn post(
    client: &mut Client,
    token: &str,
    path: &str,
    fields: &[(&str, &str)],
    agent: Option<&str>,
) -> TestResponse {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut req = client
        .request(Method::POST, path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header("x-csrftoken", token);
    if let Some(agent) = agent {
        req = req.header(header::USER_AGENT, agent);
    }
    client.send(req.body(Body::from(body)).unwrap()).await
}

/// A start token for `listener` as the server would have made it `ago` before now.
fn started(app: &TestApp, t: &track::Model, listener: &Listener, ago: Duration) -> String {
    play::start_token(&app.state.signer, t.id, listener, Utc::now() - ago)
}

/// The listener the site knows this client by: its anonymous cookie.
fn anonymous(client: &Client) -> Listener {
    Listener::Anonymous(
        client
            .cookies
            .get("listener")
            .expect("a listener cookie")
            .clone(),
    )
}

async fn heard(
    client: &mut Client,
    csrf: &str,
    t: &track::Model,
    token: &str,
    heard_ms: i64,
) -> TestResponse {
    let ms = heard_ms.to_string();
    post(
        client,
        csrf,
        &format!("/tracks/{}/heard", t.id),
        &[("token", token), ("heard_ms", &ms)],
        None,
    )
    .await
}

#[tokio::test]
async fn a_play_counts_after_thirty_seconds_heard_and_not_before() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let mut client = app.client();
    let token = csrf(&mut client, &rag).await;

    // The start: a signed token, and an anonymous listener's cookie.
    let start = post(
        &mut client,
        &token,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    assert_eq!(start.status, StatusCode::CREATED, "{}", start.body);
    let json = start.json();
    assert_eq!(json["needed_ms"], 30_000);
    let set = start.header("set-cookie").unwrap();
    assert!(
        set.contains("listener=") && set.contains("HttpOnly"),
        "{set}"
    );
    let fresh = json["token"].as_str().unwrap().to_owned();

    // Reported at once, whatever the player says it heard: too early by the server's clock.
    let early = heard(&mut client, &token, &t, &fresh, 30_000).await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );
    // 29 s after the start: still too early.
    let me = anonymous(&client);
    let at_29 = started(
        &app,
        &t,
        &me,
        Duration::seconds(29) - Duration::milliseconds(1600),
    );
    let res = heard(&mut client, &token, &t, &at_29, 29_000).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // 30 s after the start, but the player heard only 20 s of it (paused, or seeked ahead).
    let at_30 = started(&app, &t, &me, Duration::seconds(30));
    let res = heard(&mut client, &token, &t, &at_30, 20_000).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(plays_of(&app, &t).await, (0, 0));

    // 30 s after the start, 30 s heard: counted.
    let res = heard(&mut client, &token, &t, &at_30, 30_000).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json(), json!({"counted": true, "reason": "counted"}));
    assert_eq!(plays_of(&app, &t).await, (1, 1));
}

#[tokio::test]
async fn a_forged_length_does_not_shorten_what_must_be_heard() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Long Rag").await;
    let long = a_track(&app, &rag, 240_000).await;
    let short_piece = app.publish(&ann, "Short Rag").await;
    let short = a_track(&app, &short_piece, 12_000).await;
    let mut client = app.client();
    let token = csrf(&mut client, &rag).await;
    post(
        &mut client,
        &token,
        &format!("/tracks/{}/play", long.id),
        &[],
        None,
    )
    .await;
    let me = anonymous(&client);

    // The player says it heard all of a 12 s track, but this one is 4 minutes long.
    let twelve = started(&app, &long, &me, Duration::seconds(13));
    let res = heard(&mut client, &token, &long, &twelve, 12_000).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A field the report does not take is not read as a length either.
    let res = post(
        &mut client,
        &token,
        &format!("/tracks/{}/heard", long.id),
        &[
            ("token", &twelve),
            ("heard_ms", "12000"),
            ("duration_ms", "12000"),
        ],
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(plays_of(&app, &long).await, (0, 0));

    // A track shorter than 30 s counts once all of it is heard, by its real length.
    let start = post(
        &mut client,
        &token,
        &format!("/tracks/{}/play", short.id),
        &[],
        None,
    )
    .await;
    assert_eq!(start.json()["needed_ms"], 12_000);
    let eleven = started(&app, &short, &me, Duration::seconds(9));
    assert_eq!(
        heard(&mut client, &token, &short, &eleven, 9_000)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // The slack is a tenth of a short track, not the 1.5 s a long one gets.
    let almost = started(&app, &short, &me, Duration::milliseconds(10_700));
    assert_eq!(
        heard(&mut client, &token, &short, &almost, 10_700)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let whole = started(&app, &short, &me, Duration::seconds(12));
    let res = heard(&mut client, &token, &short, &whole, 12_000).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(plays_of(&app, &short).await, (1, 1));
}

#[tokio::test]
async fn a_listener_counts_once_an_hour_per_track() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let other = a_track(&app, &rag, 200_000).await;
    let mut client = app.client();
    let token = csrf(&mut client, &rag).await;
    post(
        &mut client,
        &token,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    let me = anonymous(&client);
    let first = started(&app, &t, &me, Duration::seconds(31));
    assert_eq!(
        heard(&mut client, &token, &t, &first, 31_000).await.status,
        StatusCode::CREATED
    );
    // The same report again, and a new listen within the hour: not counted.
    let again = heard(&mut client, &token, &t, &first, 31_000).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.json(),
        json!({"counted": false, "reason": "already_counted"})
    );
    let second = started(&app, &t, &me, Duration::seconds(40));
    assert_eq!(
        heard(&mut client, &token, &t, &second, 40_000).await.json()["counted"],
        false
    );
    assert_eq!(plays_of(&app, &t).await, (1, 1));
    // Another track of the same listener counts.
    let on_other = started(&app, &other, &me, Duration::seconds(31));
    assert_eq!(
        heard(&mut client, &token, &other, &on_other, 31_000)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(plays_of(&app, &t).await, (1, 2));
    // An hour later, the same listener's play of the first track counts again.
    let later = Utc::now() + Duration::minutes(61);
    let token_later =
        play::start_token(&app.state.signer, t.id, &me, later - Duration::seconds(31));
    let outcome = play::report(
        &app.db,
        &app.state.signer,
        t.id,
        &me,
        &token_later,
        31_000,
        false,
        later,
    )
    .await
    .unwrap();
    assert_eq!(outcome, Outcome::Counted);
    assert_eq!(plays_of(&app, &t).await, (2, 3));
}

#[tokio::test]
async fn a_token_counts_only_for_its_own_listener_and_track() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let other = a_track(&app, &rag, 200_000).await;
    let mut alice = app.client();
    let alice_csrf = csrf(&mut alice, &rag).await;
    post(
        &mut alice,
        &alice_csrf,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    let alices = started(&app, &t, &anonymous(&alice), Duration::seconds(31));

    // Another browser, with its own anonymous id, replays Alice's token.
    let mut bob = app.client();
    let bob_csrf = csrf(&mut bob, &rag).await;
    post(
        &mut bob,
        &bob_csrf,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    assert_ne!(anonymous(&alice), anonymous(&bob));
    let res = heard(&mut bob, &bob_csrf, &t, &alices, 31_000).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    // Alice's token for one track, reported for another.
    let res = heard(&mut alice, &alice_csrf, &other, &alices, 31_000).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // A token not signed by us, one too old, and a browser that never started anything.
    for forged in ["", "junk", "eyJ0.eHh4", &format!("{alices}x")] {
        let res = heard(&mut alice, &alice_csrf, &t, forged, 31_000).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{forged}");
    }
    let stale = started(&app, &t, &anonymous(&alice), Duration::hours(7));
    assert_eq!(
        heard(&mut alice, &alice_csrf, &t, &stale, 31_000)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let mut stranger = app.client();
    let stranger_csrf = csrf(&mut stranger, &rag).await;
    assert_eq!(
        heard(&mut stranger, &stranger_csrf, &t, &alices, 31_000)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // A forged cookie is no listener: the start gives a new one.
    stranger.cookies.insert("listener".into(), "a b".into());
    post(
        &mut stranger,
        &stranger_csrf,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    assert_ne!(stranger.cookies["listener"], "a b");
    assert_eq!(plays_of(&app, &t).await, (0, 0));
    // Alice's own report counts.
    assert_eq!(
        heard(&mut alice, &alice_csrf, &t, &alices, 31_000)
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn missing_tracks_and_bad_input_are_clear_refusals_never_a_500() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let mut client = app.client();
    let token = csrf(&mut client, &rag).await;
    for path in [
        "/tracks/999999/play",
        "/tracks/abc/play",
        "/tracks/-1/play",
        "/tracks/99999999999/play",
    ] {
        let res = post(&mut client, &token, path, &[], None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            res.header("content-type").unwrap().contains("json"),
            "{path}"
        );
    }
    post(
        &mut client,
        &token,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    let me = anonymous(&client);
    // A track deleted after its start.
    let gone = a_track(&app, &rag, 200_000).await;
    let for_gone = started(&app, &gone, &me, Duration::seconds(31));
    track::Entity::delete_by_id(gone.id)
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        heard(&mut client, &token, &gone, &for_gone, 31_000)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let ok = started(&app, &t, &me, Duration::seconds(31));
    for (heard_ms, status) in [
        ("abc", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
        ("1e9", StatusCode::BAD_REQUEST),
        ("99999999999999999999999", StatusCode::BAD_REQUEST),
        ("-5", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let res = post(
            &mut client,
            &token,
            &format!("/tracks/{}/heard", t.id),
            &[("token", &ok), ("heard_ms", heard_ms)],
            None,
        )
        .await;
        assert_eq!(res.status, status, "{heard_ms}: {}", res.body);
    }
    let hostile = "<script>'; DROP TABLE plays; --\u{0}".repeat(100);
    let res = post(
        &mut client,
        &token,
        &format!("/tracks/{}/heard", t.id),
        &[("token", &hostile), ("heard_ms", "31000")],
        None,
    )
    .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    // Without the CSRF token, a start is refused like every other POST of the site.
    let res = post(
        &mut client,
        "wrong",
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(plays_of(&app, &t).await, (0, 0));
}

#[tokio::test]
async fn robots_are_not_counted() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let mut client = app.client();
    let token = csrf(&mut client, &rag).await;
    post(
        &mut client,
        &token,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    let at_31 = started(&app, &t, &anonymous(&client), Duration::seconds(31));
    let path = format!("/tracks/{}/heard", t.id);
    let fields = [("token", at_31.as_str()), ("heard_ms", "31000")];
    for bot in [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 HeadlessChrome/120",
    ] {
        let res = post(&mut client, &token, &path, &fields, Some(bot)).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(res.json(), json!({"counted": false, "reason": "bot"}));
    }
    assert_eq!(plays_of(&app, &t).await, (0, 0));
    let browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";
    let res = post(&mut client, &token, &path, &fields, Some(browser)).await;
    assert_eq!(res.status, StatusCode::CREATED);
    assert_eq!(plays_of(&app, &t).await, (1, 1));
}

#[tokio::test]
async fn a_logged_in_listener_is_their_account_on_every_browser() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let mut phone = app.logged_in_client(&bob).await;
    let phone_csrf = csrf(&mut phone, &rag).await;
    let start = post(
        &mut phone,
        &phone_csrf,
        &format!("/tracks/{}/play", t.id),
        &[],
        None,
    )
    .await;
    assert_eq!(start.status, StatusCode::CREATED);
    assert!(
        !phone.cookies.contains_key("listener"),
        "an account needs no anonymous id"
    );
    let bobs = started(&app, &t, &Listener::Account(bob.id), Duration::seconds(31));
    assert_eq!(
        heard(&mut phone, &phone_csrf, &t, &bobs, 31_000)
            .await
            .status,
        StatusCode::CREATED
    );
    // Bob on his laptop, within the hour: the same listener.
    let mut laptop = app.logged_in_client(&bob).await;
    let laptop_csrf = csrf(&mut laptop, &rag).await;
    let again = started(&app, &t, &Listener::Account(bob.id), Duration::seconds(35));
    assert_eq!(
        heard(&mut laptop, &laptop_csrf, &t, &again, 35_000)
            .await
            .json()["reason"],
        "already_counted"
    );
    assert_eq!(plays_of(&app, &t).await, (1, 1));
}

#[tokio::test]
async fn the_artist_sees_each_tracks_plays_and_everyone_the_release_total() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let first = a_track(&app, &rag, 200_000).await;
    let second = a_track(&app, &rag, 200_000).await;
    for (t, listeners) in [(&first, 2), (&second, 1)] {
        for n in 0..listeners {
            let who = Listener::Anonymous(format!("listener-number-{n:04}"));
            let token = started(&app, t, &who, Duration::seconds(31));
            let outcome = play::report(
                &app.db,
                &app.state.signer,
                t.id,
                &who,
                &token,
                31_000,
                false,
                Utc::now(),
            )
            .await
            .unwrap();
            assert_eq!(outcome, Outcome::Counted);
        }
    }
    let permalink = format!("/composition/{}", rag.slug());
    let own = app.logged_in_client(&ann).await.get(&permalink).await.body;
    assert!(
        own.contains(r#"<span class="play-count muted">3 plays</span>"#),
        "{own}"
    );
    assert!(
        own.contains(r#"<span class="track-plays muted">2 plays</span>"#),
        "{own}"
    );
    assert!(
        own.contains(r#"<span class="track-plays muted">1 play</span>"#),
        "{own}"
    );
    for page in [
        app.logged_in_client(&bob).await.get(&permalink).await.body,
        app.client().get(&permalink).await.body,
    ] {
        assert!(page.contains(r#"<span class="play-count muted">3 plays</span>"#));
        assert!(
            !page.contains("track-plays"),
            "only the artist sees each track's plays"
        );
    }
    // The release's total in the API, for everyone.
    let api = app
        .client()
        .get(&format!("/api/v1/compositions/{}", rag.id))
        .await;
    assert_eq!(api.json()["play_count"], 3);
    // The audio elements name their tracks, for plays.js.
    assert!(own.contains(&format!(r#"data-track-id="{}""#, first.id)));
    // A deleted track takes its plays from the release's total.
    track::Entity::delete_by_id(first.id)
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(plays_of(&app, &second).await, (1, 1));
}

#[tokio::test]
async fn pruning_the_hours_plays_keeps_the_counts() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let who = Listener::Anonymous("someone-listening-1".into());
    let two_hours_ago = Utc::now() - Duration::hours(2);
    let token = play::start_token(
        &app.state.signer,
        t.id,
        &who,
        two_hours_ago - Duration::seconds(31),
    );
    play::report(
        &app.db,
        &app.state.signer,
        t.id,
        &who,
        &token,
        31_000,
        false,
        two_hours_ago,
    )
    .await
    .unwrap();
    let recent = started(
        &app,
        &t,
        &Listener::Anonymous("someone-listening-2".into()),
        Duration::seconds(31),
    );
    play::report(
        &app.db,
        &app.state.signer,
        t.id,
        &Listener::Anonymous("someone-listening-2".into()),
        &recent,
        31_000,
        false,
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(play::prune(&app.db, Utc::now()).await.unwrap(), 1);
    assert_eq!(play::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(plays_of(&app, &t).await, (2, 2));
}

// The API's plays.

async fn api(
    app: &TestApp,
    method: Method,
    path: &str,
    who: Option<&user::Model>,
    body: Option<Value>,
    agent: Option<&str>,
) -> TestResponse {
    let mut client = app.client();
    let mut req = client.request(method, path);
    if let Some(who) = who {
        let token = ragtime::api::auth::issue(&app.state.signer, who);
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(agent) = agent {
        req = req.header(header::USER_AGENT, agent);
    }
    let body = match body {
        Some(json) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    client.send(req.body(body).unwrap()).await
}

#[tokio::test]
async fn the_api_counts_plays_by_the_same_rules() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    let t = a_track(&app, &rag, 200_000).await;
    let listens = format!("/api/v1/tracks/{}/listens", t.id);
    let plays = format!("/api/v1/tracks/{}/plays", t.id);
    // Credentials are needed: the account is the listener.
    assert_eq!(
        api(&app, Method::POST, &listens, None, None, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api(
            &app,
            Method::POST,
            &plays,
            None,
            Some(json!({"token": "x", "heard_ms": 1})),
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let start = api(&app, Method::POST, &listens, Some(&bob), None, None).await;
    assert_eq!(start.status, StatusCode::CREATED, "{}", start.body);
    assert_eq!(start.json()["needed_ms"], 30_000);
    assert!(
        start.header("set-cookie").is_none(),
        "the API sets no cookie"
    );
    let token = start.json()["token"].as_str().unwrap().to_owned();
    let early = api(
        &app,
        Method::POST,
        &plays,
        Some(&bob),
        Some(json!({"token": token, "heard_ms": 30000})),
        None,
    )
    .await;
    assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        early.json()["error"],
        "unprocessable entity",
        "{}",
        early.body
    );

    let bobs = started(&app, &t, &Listener::Account(bob.id), Duration::seconds(31));
    // Ann cannot count Bob's start.
    let res = api(
        &app,
        Method::POST,
        &plays,
        Some(&ann),
        Some(json!({"token": bobs, "heard_ms": 31000})),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = api(
        &app,
        Method::POST,
        &plays,
        Some(&bob),
        Some(json!({"token": bobs, "heard_ms": 31000})),
        Some("curl-bot/1.0"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), json!({"counted": false, "reason": "bot"}));
    let res = api(
        &app,
        Method::POST,
        &plays,
        Some(&bob),
        Some(json!({"token": bobs, "heard_ms": 31000})),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.json(), json!({"counted": true, "reason": "counted"}));
    let res = api(
        &app,
        Method::POST,
        &plays,
        Some(&bob),
        Some(json!({"token": bobs, "heard_ms": 31000})),
        None,
    )
    .await;
    assert_eq!(
        res.json(),
        json!({"counted": false, "reason": "already_counted"})
    );
    assert_eq!(plays_of(&app, &t).await, (1, 1));

    // Bad input: named, never a 500.
    for (body, status) in [
        (json!({"token": bobs}), StatusCode::BAD_REQUEST),
        (
            json!({"token": 5, "heard_ms": 31000}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"token": bobs, "heard_ms": "long"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"token": bobs, "heard_ms": 31000, "duration_ms": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"token": bobs, "heard_ms": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let res = api(
            &app,
            Method::POST,
            &plays,
            Some(&bob),
            Some(body.clone()),
            None,
        )
        .await;
        assert_eq!(res.status, status, "{body}: {}", res.body);
    }
    for missing in [
        "/api/v1/tracks/999999/listens",
        "/api/v1/tracks/999999/plays",
    ] {
        let res = api(
            &app,
            Method::POST,
            missing,
            Some(&bob),
            Some(json!({"token": bobs, "heard_ms": 31000})),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

// Trending.

/// `n` plays of `t` by different listeners, at `at`.
async fn played(app: &TestApp, t: &track::Model, n: usize, at: DateTime<Utc>) {
    static LISTENERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    for _ in 0..n {
        let i = LISTENERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let who = Listener::Anonymous(format!("listener-number-{i:08}"));
        let token = play::start_token(&app.state.signer, t.id, &who, at - Duration::seconds(31));
        let outcome = play::report(
            &app.db,
            &app.state.signer,
            t.id,
            &who,
            &token,
            31_000,
            false,
            at,
        )
        .await
        .unwrap();
        assert_eq!(outcome, Outcome::Counted);
    }
}

fn order(body: &str, titles: &[&str]) -> Vec<usize> {
    titles
        .iter()
        .map(|t| {
            body.find(&format!(">{t}</a></h2>"))
                .unwrap_or_else(|| panic!("{t} in {body}"))
        })
        .collect()
}

#[tokio::test]
async fn trending_ranks_the_weeks_plays_and_likes_newest_weighing_most() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let now = Utc::now();
    let old_hit = app.publish(&ann, "Old Hit").await;
    let fresh = app.publish(&ann, "Fresh Tune").await;
    let liked = app.publish(&bob, "Liked Piece").await;
    let quiet = app.publish(&bob, "Quiet Piece").await;
    let (t_old, t_fresh) = (
        a_track(&app, &old_hit, 200_000).await,
        a_track(&app, &fresh, 200_000).await,
    );
    // Six plays three days ago weigh 6/8 of a play today; two plays today weigh 2.
    played(&app, &t_old, 6, now - Duration::days(3)).await;
    played(&app, &t_fresh, 2, now).await;
    // Two likes now: 2 each.
    like::like(&app.db, ann.id, liked.id).await.unwrap();
    like::like(&app.db, bob.id, liked.id).await.unwrap();
    let page = app.client().get("/trending").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(r#"href="/trending" class="active" aria-current="page">Trending"#)
    );
    let at = order(&page.body, &["Liked Piece", "Fresh Tune", "Old Hit"]);
    assert!(at[0] < at[1] && at[1] < at[2], "{at:?}");
    assert!(
        !page.body.contains("Quiet Piece"),
        "nothing played or liked is not trending"
    );
    let _ = quiet;
    // The same in the API, with the count kept with the data.
    let api = app.client().get("/api/v1/compositions/trending").await;
    assert_eq!(api.status, StatusCode::OK);
    let json = api.json();
    let ids: Vec<i64> = json["compositions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [liked.id, fresh.id, old_hit.id].map(i64::from));
    assert_eq!(json["count"], 3);
    // The scores are the decayed sums.
    let row = trending::Entity::find_by_id(old_hit.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        (trending::decayed_sum(row.score, now) - 0.75).abs() < 1e-3,
        "{}",
        trending::decayed_sum(row.score, now)
    );
    // An unlike takes its like back: one like left (2) ties with two plays (2), then loses
    // to them once the fresh tune is played once more.
    like::unlike(&app.db, bob.id, liked.id).await.unwrap();
    played(&app, &t_fresh, 1, now).await;
    let body = app.client().get("/trending").await.body;
    let at = order(&body, &["Fresh Tune", "Liked Piece", "Old Hit"]);
    assert!(at[0] < at[1] && at[1] < at[2], "{at:?}");
    like::unlike(&app.db, ann.id, liked.id).await.unwrap();
    let api = app
        .client()
        .get("/api/v1/compositions/trending")
        .await
        .json();
    assert_eq!(api["count"], 2);
    assert!(
        !app.client()
            .get("/trending")
            .await
            .body
            .contains("Liked Piece")
    );
}

#[tokio::test]
async fn a_week_old_play_leaves_trending_but_stays_counted() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Last Week").await;
    let new = app.publish(&ann, "This Week").await;
    let (t, t_new) = (
        a_track(&app, &rag, 200_000).await,
        a_track(&app, &new, 200_000).await,
    );
    let now = Utc::now();
    played(&app, &t, 50, now - Duration::days(7) - Duration::minutes(5)).await;
    played(&app, &t, 1, now - Duration::days(6)).await;
    played(&app, &t_new, 1, now).await;
    assert_eq!(trending::count(&app.db).await.unwrap(), 2);
    assert_eq!(trending::sweep(&app.db, now).await.unwrap(), 50);
    // Only the play of six days ago is left of the old one: 1/64 against 1.
    let row = trending::Entity::find_by_id(rag.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.events, 1);
    assert!((trending::decayed_sum(row.score, now) - 1.0 / 64.0).abs() < 1e-4);
    let body = app.client().get("/trending").await.body;
    let at = order(&body, &["This Week", "Last Week"]);
    assert!(at[0] < at[1]);
    // A day later, the last of it goes: the list forgets it, the counts do not.
    trending::sweep(&app.db, now + Duration::days(1) + Duration::minutes(1))
        .await
        .unwrap();
    assert!(
        trending::Entity::find_by_id(rag.id)
            .one(&app.db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(trending::count(&app.db).await.unwrap(), 1);
    assert_eq!(plays_of(&app, &t).await, (51, 51));
    // Nothing trending: the page says so.
    trending::sweep(&app.db, now + Duration::days(8))
        .await
        .unwrap();
    let empty = app.client().get("/trending").await.body;
    assert!(
        empty.contains("Nothing has been played or liked this week yet."),
        "{empty}"
    );
}

#[tokio::test]
async fn the_trending_list_pages_by_cursor() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let now = Utc::now();
    for n in 0..25 {
        let c = app.publish(&ann, &format!("Piece {n:02}")).await;
        let t = a_track(&app, &c, 200_000).await;
        played(&app, &t, n % 3 + 1, now - Duration::hours(n as i64)).await;
    }
    let first = app
        .client()
        .get("/api/v1/compositions/trending")
        .await
        .json();
    assert_eq!(first["compositions"].as_array().unwrap().len(), 20);
    let next = first["next"]
        .as_str()
        .unwrap()
        .replace("http://localhost", "");
    let second = app.client().get(&next).await.json();
    assert_eq!(second["compositions"].as_array().unwrap().len(), 5);
    let mut seen: Vec<i64> = first["compositions"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["compositions"].as_array().unwrap())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25, "every one once");
    // Bad cursors mean the first page.
    let junk = app.client().get("/trending?after=junk&page=abc").await;
    assert_eq!(junk.status, StatusCode::OK);
}

#[tokio::test]
async fn a_permalink_shows_more_from_its_artist_but_not_itself() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let mut mine = Vec::new();
    for n in 0..6 {
        mine.push(app.publish(&ann, &format!("Ann Piece {n}")).await);
    }
    app.publish(&bob, "Bob Piece").await;
    let current = &mine[5];
    let body = app
        .client()
        .get(&format!("/composition/{}", current.slug()))
        .await
        .body;
    assert!(body.contains(">More from ann</h2>"), "{body}");
    let more = &body[body.find("More from ann").unwrap()..body.find(r#"id="comments""#).unwrap()];
    assert!(
        !more.contains(&format!(r#"href="/composition/{}""#, current.slug())),
        "not itself"
    );
    // The newest four others.
    for c in &mine[1..5] {
        assert!(
            more.contains(&format!(r#"href="/composition/{}""#, c.slug())),
            "{}",
            c.title
        );
    }
    assert!(!more.contains(&mine[0].slug()), "a few, not all");
    assert!(!more.contains("Bob Piece"));
    // An artist with one composition: no section.
    let bobs = composition::more_by(&app.db, bob.id, mine[0].id + 100, 4)
        .await
        .unwrap();
    assert_eq!(bobs.len(), 1);
    let only = app.client().get("/user/bob").await;
    assert_eq!(only.status, StatusCode::OK);
    let bob_piece = composition::more_by(&app.db, bob.id, 0, 4)
        .await
        .unwrap()
        .remove(0);
    let page = app
        .client()
        .get(&format!("/composition/{}", bob_piece.slug()))
        .await
        .body;
    assert!(!page.contains("More from"));
}

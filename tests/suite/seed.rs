//! `ragtime seed`: fake data that is the same for the same seed, only ever added, and made of
//! accounts that really work.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Output};

use crate::helpers::{SECRET_KEY, TestApp, TestDb};
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use ragtime::commands::seed::{self, PASSWORD, SeedOptions, UNTIL};
use ragtime::config::{MediaConfig, MediaStoreConfig};
use ragtime::models::{comment, composition, follow, track, user};
use sea_orm::{DatabaseConnection, EntityTrait};

fn small(seed: u64) -> SeedOptions {
    SeedOptions {
        users: 40,
        compositions: 300,
        follows: 6,
        comments: 500,
        seed,
        ..SeedOptions::default()
    }
}

/// A freshly deployed database of its own.
async fn deployed() -> (TestDb, DatabaseConnection) {
    let test_db = TestDb::new();
    ragtime::commands::deploy::deploy_url(&test_db.url)
        .await
        .expect("deploy");
    let db = ragtime::db::connect_url(&test_db.url, 2)
        .await
        .expect("connect");
    (test_db, db)
}

/// Everything seed writes, with ids replaced by what they point at, so two databases compare.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<UserRow>,
    member_since: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
    follows: Vec<(String, String, DateTime<Utc>)>,
    compositions: Vec<CompositionRow>,
    comments: Vec<CommentRow>,
}

/// username, email, name, location, about me, confirmed
type UserRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);
/// artist, title, release type, description, its HTML, timestamp
type CompositionRow = (String, String, i16, String, String, DateTime<Utc>);
/// author, composition, body, its HTML, timestamp, disabled
type CommentRow = (String, String, String, String, DateTime<Utc>, bool);

struct Rows {
    users: Vec<user::Model>,
    follows: Vec<follow::Model>,
    compositions: Vec<composition::Model>,
    comments: Vec<comment::Model>,
}

async fn rows(db: &DatabaseConnection) -> Rows {
    Rows {
        users: user::Entity::find().all(db).await.unwrap(),
        follows: follow::Entity::find().all(db).await.unwrap(),
        compositions: composition::Entity::find().all(db).await.unwrap(),
        comments: comment::Entity::find().all(db).await.unwrap(),
    }
}

fn snapshot(rows: &Rows) -> Snapshot {
    let name: HashMap<i32, String> = rows
        .users
        .iter()
        .map(|u| (u.id, u.username.clone()))
        .collect();
    let title: HashMap<i32, String> = rows
        .compositions
        .iter()
        .map(|c| {
            (
                c.id,
                format!("{} by {} at {}", c.title, name[&c.artist_id], c.timestamp),
            )
        })
        .collect();
    let mut snap = Snapshot {
        users: rows
            .users
            .iter()
            .map(|u| {
                (
                    u.username.clone(),
                    u.email.clone(),
                    u.name.clone(),
                    u.location.clone(),
                    u.about_me.clone(),
                    u.confirmed,
                )
            })
            .collect(),
        member_since: rows
            .users
            .iter()
            .map(|u| (u.username.clone(), u.member_since, u.last_seen))
            .collect(),
        follows: rows
            .follows
            .iter()
            .map(|f| {
                (
                    name[&f.follower_id].clone(),
                    name[&f.followed_id].clone(),
                    f.timestamp,
                )
            })
            .collect(),
        compositions: rows
            .compositions
            .iter()
            .map(|c| {
                (
                    name[&c.artist_id].clone(),
                    c.title.clone(),
                    c.release_type,
                    c.description.clone(),
                    c.description_html.clone(),
                    c.timestamp,
                )
            })
            .collect(),
        comments: rows
            .comments
            .iter()
            .map(|c| {
                (
                    name[&c.author_id].clone(),
                    title[&c.composition_id].clone(),
                    c.body.clone(),
                    c.body_html.clone(),
                    c.timestamp,
                    c.disabled,
                )
            })
            .collect(),
    };
    snap.users.sort();
    snap.member_since.sort();
    snap.follows.sort();
    snap.compositions.sort();
    snap.comments.sort();
    snap
}

#[tokio::test]
async fn the_same_seed_gives_the_same_rows_in_two_fresh_databases() {
    let (_a, db_a) = deployed().await;
    let (_b, db_b) = deployed().await;
    let report_a = seed::seed(&db_a, &small(7)).await.unwrap();
    let report_b = seed::seed(&db_b, &small(7)).await.unwrap();

    let a = snapshot(&rows(&db_a).await);
    let b = snapshot(&rows(&db_b).await);
    assert_eq!(a.users.len(), 40);
    assert_eq!(a.compositions.len(), 300);
    assert_eq!(a.comments.len(), 500);
    assert_eq!(a.users, b.users);
    assert_eq!(a.member_since, b.member_since);
    assert_eq!(a.follows, b.follows);
    assert_eq!(a.compositions, b.compositions);
    assert_eq!(a.comments, b.comments);
    assert_eq!(
        (report_a.users, report_a.follows, report_a.compositions),
        (report_b.users, report_b.follows, report_b.compositions)
    );

    // ...and the seed matters.
    let (_c, db_c) = deployed().await;
    seed::seed(&db_c, &small(8)).await.unwrap();
    let c = snapshot(&rows(&db_c).await);
    assert_ne!(a.users, c.users);
    assert_ne!(a.compositions, c.compositions);
}

#[tokio::test]
async fn seeding_twice_into_one_database_adds_a_second_crowd_and_deletes_nothing() {
    let (_t, db) = deployed().await;
    let first = seed::seed(&db, &small(7)).await.unwrap();
    let before = rows(&db).await;

    let second = seed::seed(&db, &small(7)).await.unwrap();
    let after = rows(&db).await;
    assert_eq!(second.users, first.users);
    assert_eq!(second.compositions, first.compositions);
    assert_eq!(second.comments, first.comments);
    assert_eq!(after.users.len(), 2 * before.users.len());
    assert_eq!(after.follows.len(), 2 * before.follows.len());
    assert_eq!(after.compositions.len(), 2 * before.compositions.len());
    assert_eq!(after.comments.len(), 2 * before.comments.len());
    // Every earlier row is still there, unchanged.
    assert!(before.users.iter().all(|u| after.users.contains(u)));
    assert!(before.follows.iter().all(|f| after.follows.contains(f)));
    assert!(
        before
            .compositions
            .iter()
            .all(|c| after.compositions.contains(c))
    );
    assert!(before.comments.iter().all(|c| after.comments.contains(c)));
    // The same names came up again and got a suffix instead of an error.
    let names: HashSet<String> = after
        .users
        .iter()
        .map(|u| u.username.to_lowercase())
        .collect();
    assert_eq!(names.len(), after.users.len());
    let suffixed = |name: &str| {
        before.users.iter().any(|b| {
            name.strip_prefix(b.username.as_str())
                .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit()))
        })
    };
    let renamed = after
        .users
        .iter()
        .filter(|u| !before.users.iter().any(|b| b.id == u.id))
        .filter(|u| suffixed(&u.username))
        .count();
    assert_eq!(renamed, before.users.len());
}

#[tokio::test]
async fn seeded_rows_are_plausible() {
    let (_t, db) = deployed().await;
    let options = small(3);
    let report = seed::seed(&db, &options).await.unwrap();
    let rows = rows(&db).await;
    let users: HashMap<i32, &user::Model> = rows.users.iter().map(|u| (u.id, u)).collect();
    let year_before = UNTIL - TimeDelta::days(365);

    for u in &rows.users {
        assert!(u.confirmed);
        assert!(
            ragtime::models::forms::username(&u.username).is_ok(),
            "{}",
            u.username
        );
        assert_eq!(
            u.email,
            format!("{}@example.com", u.username.to_lowercase())
        );
        assert_eq!(u.avatar_hash.len(), 32);
        assert_ne!(u.avatar_hash, format!("{:x}", md5::compute(&u.email)));
        assert!(year_before <= u.member_since && u.member_since <= u.last_seen);
        assert!(u.last_seen <= UNTIL);
        assert!(
            rows.follows
                .iter()
                .any(|f| f.follower_id == u.id && f.followed_id == u.id),
            "{} follows themself",
            u.username
        );
    }
    // Everyone follows a few others, about as many as asked.
    let others = rows
        .follows
        .iter()
        .filter(|f| f.follower_id != f.followed_id)
        .count();
    assert_eq!(others as u64, report.follows);
    let average = others as f64 / rows.users.len() as f64;
    assert!((4.0..=8.0).contains(&average), "{average}");
    for f in &rows.follows {
        assert!(f.timestamp >= users[&f.follower_id].member_since);
        assert!(f.timestamp >= users[&f.followed_id].member_since);
        assert!(f.timestamp <= UNTIL);
    }

    let published: HashMap<i32, DateTime<Utc>> = rows
        .compositions
        .iter()
        .map(|c| (c.id, c.timestamp))
        .collect();
    for c in &rows.compositions {
        assert!((1..=3).contains(&c.release_type));
        assert!(!c.title.is_empty() && c.title.chars().count() <= 64);
        assert!(c.timestamp >= users[&c.artist_id].member_since && c.timestamp <= UNTIL);
        assert!(
            c.description_html.starts_with("<p>"),
            "{}",
            c.description_html
        );
    }
    for c in &rows.comments {
        assert!(c.timestamp >= published[&c.composition_id]);
        assert!(c.timestamp >= users[&c.author_id].member_since && c.timestamp <= UNTIL);
        assert!(!c.body_html.contains("<p>"), "comments are inline only");
    }
    // Some artists are prolific and some compositions draw a crowd.
    let mut per_artist: HashMap<i32, usize> = HashMap::new();
    for c in &rows.compositions {
        *per_artist.entry(c.artist_id).or_default() += 1;
    }
    assert!(per_artist.values().max().copied().unwrap_or(0) > 300 / 40 * 3);
}

#[tokio::test]
async fn nothing_to_write_about_without_users_is_refused_clearly() {
    let (_t, db) = deployed().await;
    let err = seed::seed(
        &db,
        &SeedOptions {
            users: 0,
            ..SeedOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("at least one user"), "{err}");
}

#[tokio::test]
async fn a_seeded_user_logs_in_with_the_documented_password() {
    let app = TestApp::new().await;
    seed::seed(
        &app.db,
        &SeedOptions {
            users: 3,
            compositions: 5,
            follows: 1,
            comments: 5,
            seed: 1,
            ..SeedOptions::default()
        },
    )
    .await
    .unwrap();
    let someone = user::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("a seeded user");

    let mut client = app.client();
    let res = crate::helpers::login(&mut client, &someone.email, PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/"));
    // Confirmed: the home page, not the "confirm your account" page.
    let home = client.get("/").await;
    assert_eq!(home.status, StatusCode::OK, "{:?}", home.header("location"));

    let mut stranger = app.client();
    let res = crate::helpers::login(&mut stranger, &someone.email, "wrong password", "").await;
    assert_ne!(res.status, StatusCode::SEE_OTHER);
}

// ----- Tracks ------------------------------------------------------------------------------

fn media_in(dir: &std::path::Path, max_tracks: u64) -> MediaConfig {
    MediaConfig {
        store: MediaStoreConfig::Local {
            dir: dir.to_path_buf(),
        },
        max_track_bytes: 100 << 20,
        quota_bytes: 1 << 30,
        max_tracks,
        orphan_grace: std::time::Duration::from_secs(3600),
    }
}

fn with_tracks(seed: u64) -> SeedOptions {
    SeedOptions {
        tracks: true,
        comments: 50,
        ..small(seed)
    }
}

/// Every track as (artist, composition title, its timestamp, position, track title, object key).
async fn tracks_of(db: &DatabaseConnection) -> Vec<(String, String, String, i32, String, String)> {
    let rows = rows(db).await;
    let name: HashMap<i32, &str> = rows
        .users
        .iter()
        .map(|u| (u.id, u.username.as_str()))
        .collect();
    let compositions: HashMap<i32, &composition::Model> =
        rows.compositions.iter().map(|c| (c.id, c)).collect();
    let mut all: Vec<_> = track::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            let c = compositions[&t.composition_id];
            (
                name[&c.artist_id].to_owned(),
                c.title.clone(),
                c.timestamp.to_rfc3339(),
                t.position,
                t.title,
                t.object_key,
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn seeded_tracks_are_real_wavs_in_the_media_store_and_singles_have_one() {
    let (_t, db) = deployed().await;
    let media_dir = tempfile::tempdir().unwrap();
    let media = media_in(media_dir.path(), 20);
    let report = seed::seed_with_media(&db, &with_tracks(7), Some(&media))
        .await
        .unwrap();
    let compositions = composition::Entity::find().all(&db).await.unwrap();
    let tracks = track::Entity::find().all(&db).await.unwrap();
    assert_eq!(report.tracks, tracks.len() as u64);
    assert!(
        report
            .to_string()
            .contains(&format!("{} tracks", tracks.len()))
    );

    let mut keys = HashSet::new();
    for c in &compositions {
        let mut mine: Vec<&track::Model> =
            tracks.iter().filter(|t| t.composition_id == c.id).collect();
        mine.sort_by_key(|t| t.position);
        if c.release_type == 1 {
            assert_eq!(mine.len(), 1, "a single has one track");
        } else {
            assert!((2..=3).contains(&mine.len()), "{}", mine.len());
        }
        let positions: Vec<i32> = mine.iter().map(|t| t.position).collect();
        assert_eq!(positions, (1..=mine.len() as i32).collect::<Vec<_>>());
        for t in mine {
            assert_eq!((t.container.as_str(), t.codec.as_str()), ("wav", "pcm"));
            assert_eq!(t.mime, "audio/wav");
            assert_eq!((t.sample_rate, t.channels), (22_050, 1));
            assert!(
                (2_000..=seed::MAX_TONE_MS).contains(&t.duration_ms),
                "{}",
                t.duration_ms
            );
            assert!(!t.peaks().is_empty() && t.peaks().iter().any(|p| *p > 0));
            assert!(!t.title.is_empty());
            assert_eq!(t.created_at, c.timestamp);
            assert_eq!(t.object_key, format!("{}.wav", t.sha256));
            let object = media_dir.path().join("tracks").join(&t.object_key);
            let bytes = std::fs::read(&object).expect("the object is in the media store");
            assert_eq!(bytes.len() as i64, t.size_bytes);
            assert_eq!(&bytes[..4], b"RIFF");
            keys.insert(t.object_key.clone());
        }
    }
    // A few distinct tunes, each stored once.
    assert!((2..=seed::TONES).contains(&keys.len()), "{}", keys.len());
    let stored = std::fs::read_dir(media_dir.path().join("tracks"))
        .unwrap()
        .count();
    assert_eq!(stored, keys.len());
}

#[tokio::test]
async fn the_same_seed_gives_the_same_tracks_and_objects() {
    let (_a, db_a) = deployed().await;
    let (_b, db_b) = deployed().await;
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    seed::seed_with_media(&db_a, &with_tracks(7), Some(&media_in(dir_a.path(), 20)))
        .await
        .unwrap();
    seed::seed_with_media(&db_b, &with_tracks(7), Some(&media_in(dir_b.path(), 20)))
        .await
        .unwrap();
    let a = tracks_of(&db_a).await;
    assert!(!a.is_empty());
    assert_eq!(a, tracks_of(&db_b).await);
    for (.., key) in &a {
        assert_eq!(
            std::fs::read(dir_a.path().join("tracks").join(key)).unwrap(),
            std::fs::read(dir_b.path().join("tracks").join(key)).unwrap()
        );
    }
    // ...and the seed matters.
    let (_c, db_c) = deployed().await;
    let dir_c = tempfile::tempdir().unwrap();
    seed::seed_with_media(&db_c, &with_tracks(8), Some(&media_in(dir_c.path(), 20)))
        .await
        .unwrap();
    let keys = |t: &[(String, String, String, i32, String, String)]| {
        t.iter().map(|t| t.5.clone()).collect::<HashSet<_>>()
    };
    assert_ne!(keys(&a), keys(&tracks_of(&db_c).await));
}

#[tokio::test]
async fn tracks_per_composition_stays_within_the_track_limit_and_only_new_compositions_get_tracks()
{
    let (_t, db) = deployed().await;
    let media_dir = tempfile::tempdir().unwrap();
    let media = media_in(media_dir.path(), 4);
    // A first crowd without tracks.
    seed::seed_with_media(&db, &small(3), Some(&media))
        .await
        .unwrap();
    let before: HashSet<i32> = composition::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(track::Entity::find().all(&db).await.unwrap().is_empty());

    let options = SeedOptions {
        tracks_per_composition: Some(9),
        ..with_tracks(4)
    };
    let report = seed::seed_with_media(&db, &options, Some(&media))
        .await
        .unwrap();
    let tracks = track::Entity::find().all(&db).await.unwrap();
    assert_eq!(report.tracks, tracks.len() as u64);
    assert!(tracks.iter().all(|t| !before.contains(&t.composition_id)));
    for c in composition::Entity::find().all(&db).await.unwrap() {
        if before.contains(&c.id) {
            continue;
        }
        let n = tracks.iter().filter(|t| t.composition_id == c.id).count();
        assert_eq!(n, if c.release_type == 1 { 1 } else { 4 });
    }
}

#[tokio::test]
async fn tracks_without_a_media_store_are_refused() {
    let (_t, db) = deployed().await;
    let err = seed::seed(&db, &with_tracks(1)).await.unwrap_err();
    assert!(err.to_string().contains("media store"), "{err}");
}

// ----- The command ------------------------------------------------------------------------

fn ragtime(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ragtime"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .current_dir(dir.path());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn seed_help_names_the_password_and_the_addresses() {
    let out = ragtime(&[], &["seed", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains(PASSWORD), "{help}");
    assert!(help.contains("<username>@example.com"), "{help}");
    for flag in [
        "--users",
        "--compositions",
        "--follows",
        "--comments",
        "--seed",
        "--tracks",
        "--tracks-per-composition",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    let top = text(&ragtime(&[], &["--help"]).stdout);
    assert!(top.contains("seed"), "{top}");
}

#[test]
fn seed_in_development_migrates_an_empty_database_and_reports_what_it_added() {
    let test_db = TestDb::new();
    let out = ragtime(
        &[
            ("RAGTIME_CONFIG", "development"),
            ("DATABASE_URL", &test_db.url),
        ],
        &[
            "seed",
            "--users",
            "5",
            "--compositions",
            "20",
            "--follows",
            "2",
            "--seed",
            "9",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let report = stdout
        .lines()
        .find(|l| l.starts_with("seed: "))
        .expect("a report line");
    assert!(report.contains("5 users"), "{report}");
    assert!(report.contains("20 compositions"), "{report}");
    // Comments default to twice the compositions.
    assert!(report.contains("40 comments"), "{report}");
    assert!(report.contains(PASSWORD), "{report}");
}

#[test]
fn seed_with_tracks_fills_the_media_directory_and_reports_the_tracks() {
    let test_db = TestDb::new();
    let media_dir = tempfile::tempdir().unwrap();
    let media_url = format!("file://{}", media_dir.path().display());
    let out = ragtime(
        &[
            ("RAGTIME_CONFIG", "development"),
            ("DATABASE_URL", &test_db.url),
            ("RAGTIME_MEDIA_URL", &media_url),
        ],
        &[
            "seed",
            "--users",
            "3",
            "--compositions",
            "10",
            "--tracks",
            "--tracks-per-composition",
            "2",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let report = stdout
        .lines()
        .find(|l| l.starts_with("seed: "))
        .expect("a report line");
    let tracks: u64 = report
        .split(" tracks in ")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a track count in {report}"));
    // Ten compositions, one or two tracks each.
    assert!((10..=20).contains(&tracks), "{report}");
    let stored = std::fs::read_dir(media_dir.path().join("tracks"))
        .unwrap()
        .count();
    assert!((1..=seed::TONES).contains(&stored), "{stored}");

    let out = ragtime(
        &[
            ("RAGTIME_CONFIG", "development"),
            ("DATABASE_URL", &test_db.url),
        ],
        &["seed", "--tracks-per-composition", "2"],
    );
    assert!(
        !out.status.success(),
        "--tracks-per-composition needs --tracks"
    );
}

#[test]
fn seed_in_production_wants_ragtime_deploy_first() {
    let test_db = TestDb::new();
    let vars = [
        ("RAGTIME_CONFIG", "production"),
        ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ("SECRET_KEY", SECRET_KEY),
        ("DATABASE_URL", test_db.url.as_str()),
    ];
    let out = ragtime(&vars, &["seed", "--users", "2", "--compositions", "2"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("ragtime deploy"), "{err}");

    let deployed = ragtime(&vars, &["deploy"]);
    assert!(deployed.status.success(), "{}", text(&deployed.stderr));
    let out = ragtime(&vars, &["seed", "--users", "2", "--compositions", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 users"));
}

/// (composition id, its tags in order) and (user id, composition id) of every like, sorted.
async fn tags_and_likes(db: &DatabaseConnection) -> (Vec<(i32, Vec<String>)>, Vec<(i32, i32)>) {
    let ids: Vec<i32> = composition::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    let mut tags: Vec<(i32, Vec<String>)> = ragtime::models::tag::of_many(db, &ids)
        .await
        .unwrap()
        .into_iter()
        .collect();
    tags.sort();
    let mut likes: Vec<(i32, i32)> = ragtime::models::like::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.user_id, l.composition_id))
        .collect();
    likes.sort_unstable();
    (tags, likes)
}

#[tokio::test]
async fn seeded_tags_and_likes_are_deterministic_and_their_counts_exact() {
    let (_a, db_a) = deployed().await;
    let (_b, db_b) = deployed().await;
    let report = seed::seed(&db_a, &small(7)).await.unwrap();
    seed::seed(&db_b, &small(7)).await.unwrap();
    let (tags, likes) = tags_and_likes(&db_a).await;
    assert_eq!((tags.clone(), likes.clone()), tags_and_likes(&db_b).await);
    assert_eq!(report.likes, u64::from(small(7).likes));
    assert_eq!(likes.len(), small(7).likes as usize);
    let links: usize = tags.iter().map(|(_, t)| t.len()).sum();
    assert_eq!(report.tags, links as u64);
    assert!(tags.len() > 100 && tags.iter().all(|(_, t)| (1..=3).contains(&t.len())));

    // The kept counts agree with the rows.
    let compositions = composition::Entity::find().all(&db_a).await.unwrap();
    for c in &compositions {
        let liked = likes.iter().filter(|(_, id)| *id == c.id).count();
        assert_eq!(c.likes_count as usize, liked, "{}", c.title);
        // Tags are keywords for search.
        let own = tags.iter().find(|(id, _)| *id == c.id);
        if let Some((_, names)) = own {
            assert!(
                c.keywords.contains(&names[0]),
                "{}: {}",
                c.title,
                c.keywords
            );
        }
    }
    for t in ragtime::models::tag::top(&db_a, 100).await.unwrap() {
        let uses = tags
            .iter()
            .filter(|(_, names)| names.contains(&t.name))
            .count();
        assert_eq!(t.compositions_count as usize, uses, "{}", t.name);
    }
}

#[tokio::test]
async fn seeded_follows_likes_and_comments_are_notified_to_their_recipients_only() {
    use ragtime::models::notification;
    use sea_orm::{ConnectionTrait, Statement};

    let (_a, db) = deployed().await;
    let report = seed::seed(&db, &small(3)).await.unwrap();
    let one = |sql: &str| {
        let db = &db;
        let sql = sql.to_owned();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    let expected = one(
        "SELECT (SELECT count(*) FROM follows WHERE follower_id <> followed_id) \
         + (SELECT count(*) FROM likes l JOIN compositions c ON c.id = l.composition_id \
            WHERE c.artist_id <> l.user_id) \
         + (SELECT count(*) FROM comments m JOIN compositions c ON c.id = m.composition_id \
            WHERE c.artist_id <> m.author_id)",
    )
    .await;
    assert!(expected > 0);
    assert_eq!(report.notifications, expected as u64);
    assert_eq!(
        one(
            "SELECT count(*) FROM notifications n JOIN comments m ON m.id = n.comment_id \
             JOIN compositions c ON c.id = m.composition_id \
             WHERE n.user_id = c.artist_id AND n.actor_id = m.author_id AND n.kind = 2"
        )
        .await,
        one("SELECT count(*) FROM notifications WHERE kind = 2").await,
        "each comment's notification goes to its composition's artist"
    );
    assert_eq!(
        one("SELECT count(*) FROM notifications WHERE user_id = actor_id OR mail <> 0").await,
        0,
        "none to oneself, none to mail"
    );
    // The last week's are unread, the rest read.
    let unread = one("SELECT count(*) FROM notifications WHERE read_at IS NULL").await;
    assert!(unread > 0 && unread < expected, "{unread} of {expected}");
    let busiest =
        one("SELECT CAST(user_id AS BIGINT) FROM notifications GROUP BY user_id ORDER BY count(*) DESC LIMIT 1")
            .await;
    let page = notification::page(
        &db,
        busiest as i32,
        notification::Filter::All,
        ragtime::models::keyset::Cursor::First,
        30,
    )
    .await
    .unwrap();
    assert!(!page.items.is_empty() && page.items.iter().all(|i| i.actor.is_some()));
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_each_counted_table_is_filled_by_one_statement_whatever_the_batches() {
    let (test_db, db) = deployed().await;
    test_db.require_postgres();
    // Counts the INSERT statements on each table, as the counting triggers see them.
    use sea_orm::ConnectionTrait;
    let tables = [
        "follows",
        "compositions",
        "comments",
        "composition_tags",
        "likes",
    ];
    let mut sql = String::from(
        "CREATE TABLE inserts (tbl text PRIMARY KEY, statements integer NOT NULL);
         CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO inserts VALUES (TG_TABLE_NAME, 1)
                 ON CONFLICT (tbl) DO UPDATE SET statements = inserts.statements + 1;
             RETURN NULL;
         END $$;",
    );
    for table in tables {
        sql.push_str(&format!(
            "CREATE TRIGGER test_count_insert AFTER INSERT ON {table}
                 FOR EACH STATEMENT EXECUTE FUNCTION count_insert();"
        ));
    }
    db.execute_unprepared(&sql).await.unwrap();

    // Several batches of each: 5,000 compositions or comments, 10,000 follows or likes and
    // the tags of 2,500 compositions go in one multi-row INSERT.
    let options = SeedOptions {
        users: 1000,
        compositions: 6000,
        follows: 14,
        comments: 12_000,
        likes: 12_000,
        ..SeedOptions::default()
    };
    let report = seed::seed(&db, &options).await.unwrap();
    assert!(report.follows > 10_000 && report.tags > 0, "{report}");

    let raw = |sql: &str| sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, sql);
    let counted: Vec<(String, i32)> = db
        .query_all_raw(raw("SELECT tbl, statements FROM inserts ORDER BY tbl"))
        .await
        .unwrap()
        .iter()
        .map(|row| {
            (
                row.try_get_by_index(0).unwrap(),
                row.try_get_by_index(1).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counted,
        [
            ("comments".to_owned(), 1),
            ("composition_tags".to_owned(), 1),
            ("compositions".to_owned(), 1),
            // The self-follows (never counted), then the others.
            ("follows".to_owned(), 2),
            ("likes".to_owned(), 1),
        ]
    );
    // And the counts the triggers kept are those of the rows.
    let wrong: i64 = db
        .query_one_raw(raw(
            "SELECT count(*) FROM compositions c WHERE c.comments_count <> \
             (SELECT count(*) FROM comments WHERE composition_id = c.id) OR c.likes_count <> \
             (SELECT count(*) FROM likes WHERE composition_id = c.id)",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(wrong, 0);
}

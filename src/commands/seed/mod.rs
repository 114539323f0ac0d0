//! `ragtime seed`: fake users, follows, compositions and comments for development and benchmarks
//! (SPEC §7).
//!
//! Deterministic: the same `--seed` and counts give the same usernames, names, titles, bodies
//! and timestamps (spread over the year before the fixed date [`UNTIL`], never "now"), so two
//! fresh databases seeded alike hold the same rows (ids aside, and the salted password hash).
//! That holds for a given `Cargo.lock`: a major `rand` upgrade may change `StdRng`'s stream.
//! Every phase draws from its own generator, so changing `--comments` leaves the users and
//! compositions as they were.
//!
//! Safe on a database in use: it only inserts, in one transaction. A username (or its
//! `<username>@example.com` address) already taken gets the next free numeric suffix
//! (`rosa.mendez` → `rosa.mendez2`), so seeding twice adds a second crowd instead of failing.
//!
//! With `--tracks`, the new compositions also get short synthesized tunes (WAV) once the rest
//! is committed, so a development site has something to play: a few distinct tunes per seed,
//! each stored once (objects are content-named) and shared by many tracks.
//!
//! Fast: the shared password is hashed once, rows go in as multi-row INSERTs sized under
//! SQLite's and PostgreSQL's bind-parameter limits, and the Markdown is rendered on a blocking
//! thread while the previous batch is being written. On PostgreSQL the follows, compositions,
//! comments, tags and likes are staged and moved into their tables by one statement each, so
//! their triggers run once per table, not once per batch (see `models::bulk`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;
use tokio::sync::mpsc;

use crate::config::{Config, MediaConfig};
use crate::migration::Migrator;
use crate::models::bulk::Staged;
use crate::models::markdown::{Allow, to_safe_html};
use crate::models::{comment, composition, follow, like, notification, role, tag, user};
use crate::{access, db};

mod tones;
mod words;
pub use tones::{MAX_TONE_MS, TONES};
use words::{
    ADJECTIVES, CITIES, COMPANY, FIRST_NAMES, GENRES, INSTRUMENTS, JOBS, LAST_NAMES, MOMENTS,
    MOODS, PIECES, PLACES, TIMES,
};

/// The password of every fake account.
pub const PASSWORD: &str = "ragtime-seed";

/// Fake accounts get `<username>@` this domain (reserved for examples by RFC 2606: no mail to
/// a real person).
pub const EMAIL_DOMAIN: &str = "example.com";

/// The fixed "now" of seeded data, 2026-11-01T00:00:00Z: everything happens in the 365 days
/// before it, so two runs give identical timestamps.
pub const UNTIL: DateTime<Utc> = DateTime::from_timestamp_nanos(1_793_491_200_000_000_000);

const SPAN_SECONDS: i64 = 365 * 24 * 3600;

/// Bind parameters per statement: under SQLite's 32766 and PostgreSQL's 65535.
const MAX_BIND_PARAMS: usize = 30_000;

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    pub users: u32,
    pub compositions: u32,
    /// How many others each user follows, on average (between half and one and a half times
    /// this, at most everyone else in the batch).
    pub follows: u32,
    /// Comments in all, spread over the compositions (popular ones get more).
    pub comments: u32,
    /// Likes in all, spread over the compositions like comments (each user likes a
    /// composition at most once).
    pub likes: u32,
    pub seed: u64,
    /// Give the new compositions generated tracks (needs the media store).
    pub tracks: bool,
    /// Tracks on each new EP or album [default: two or three]; a single gets one.
    pub tracks_per_composition: Option<u32>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            users: 100,
            compositions: 1000,
            follows: 10,
            comments: 2000,
            likes: 1000,
            seed: 42,
            tracks: false,
            tracks_per_composition: None,
        }
    }
}

/// The command line of `ragtime seed` (its help text is on `cli::Command::Seed`).
#[derive(clap::Args, Debug, Clone)]
pub struct SeedArgs {
    /// Fake users to create
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub users: u32,
    /// Compositions to create, spread over the new users (some are prolific)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub compositions: u32,
    /// How many other new users each new user follows, on average
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub follows: u32,
    /// Comments to create in all [default: twice --compositions]
    #[arg(long, value_name = "N")]
    pub comments: Option<u32>,
    /// Likes to create in all [default: as many as --compositions]
    #[arg(long, value_name = "N")]
    pub likes: Option<u32>,
    /// The random seed: the same seed and counts give the same data
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
    /// Give the new compositions short generated tracks (synthesized tunes, stored as WAV in
    /// the media store), so there is something to play
    #[arg(long)]
    pub tracks: bool,
    /// With --tracks: tracks on each EP or album [default: 2 or 3]; a single always gets one
    #[arg(long, value_name = "N", requires = "tracks", value_parser = clap::value_parser!(u32).range(1..))]
    pub tracks_per_composition: Option<u32>,
}

impl From<&SeedArgs> for SeedOptions {
    fn from(args: &SeedArgs) -> Self {
        SeedOptions {
            users: args.users,
            compositions: args.compositions,
            follows: args.follows,
            comments: args
                .comments
                .unwrap_or_else(|| args.compositions.saturating_mul(2)),
            likes: args.likes.unwrap_or(args.compositions),
            seed: args.seed,
            tracks: args.tracks,
            tracks_per_composition: args.tracks_per_composition,
        }
    }
}

/// What [`seed`] inserted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub users: u64,
    /// Follows between the new users, not counting their self-follows.
    pub follows: u64,
    pub self_follows: u64,
    pub compositions: u64,
    pub comments: u64,
    /// Links of compositions to tags (each composition gets up to three).
    pub tags: u64,
    pub likes: u64,
    /// Of the follows, likes and comments, to their recipients.
    pub notifications: u64,
    pub tracks: u64,
    pub elapsed: Duration,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed: inserted {} users, {} follows (+{} self-follows), {} compositions, {} comments, \
             {} tags on compositions, {} likes, {} notifications, {} tracks in {:.1} s; every \
             fake user's password is {PASSWORD:?}",
            self.users,
            self.follows,
            self.self_follows,
            self.compositions,
            self.comments,
            self.tags,
            self.likes,
            self.notifications,
            self.tracks,
            self.elapsed.as_secs_f64()
        )
    }
}

/// `ragtime seed`: connect, make sure the schema is there, seed. Development and testing
/// migrate and upsert the roles first (as `serve` does there); production and heroku never
/// migrate implicitly, so there the schema must come from `ragtime deploy`.
pub async fn run(config: &Config, options: &SeedOptions) -> anyhow::Result<SeedReport> {
    // A bulk load: no statement limit, and patience for a connection.
    let url = config.database_url.expose_secret();
    let db = db::connect_url(url, config.database_pool_size)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")?;
    let result = prepare_and_seed(&db, config, options).await;
    db.close().await.ok();
    result
}

async fn prepare_and_seed(
    db: &DatabaseConnection,
    config: &Config,
    options: &SeedOptions,
) -> anyhow::Result<SeedReport> {
    if config.auto_migrate {
        db::migrate(db)
            .await
            .context("cannot migrate the database")?;
        role::insert_roles(db)
            .await
            .context("cannot insert the roles")?;
    } else {
        let pending = Migrator::get_pending_migrations_read_only(db)
            .await
            .context("cannot read the migration status")?;
        if !pending.is_empty() {
            bail!(
                "the database schema is missing or out of date ({} pending migration(s)); \
                 the {} configuration never migrates implicitly: run `ragtime deploy` first",
                pending.len(),
                config.name
            );
        }
        tracing::warn!(
            config = %config.name,
            "seeding fake accounts whose password is {PASSWORD:?}: never on a public site"
        );
    }
    seed_with_media(db, options, Some(&config.media)).await
}

/// Insert fake users (confirmed, default role, each with their self-follow), follows,
/// compositions and comments, all in one transaction: on error nothing is left half-made.
/// Needs the schema and the roles (`ragtime deploy`).
pub async fn seed(db: &DatabaseConnection, options: &SeedOptions) -> anyhow::Result<SeedReport> {
    seed_with_media(db, options, None).await
}

/// [`seed`], then, with `options.tracks`, the new compositions' tracks: their objects go into
/// `media`'s store first, then the rows in a transaction of their own (an object left without
/// its row by a failure is removed by the worker's sweep).
pub async fn seed_with_media(
    db: &DatabaseConnection,
    options: &SeedOptions,
    media: Option<&MediaConfig>,
) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    if options.tracks && media.is_none() {
        bail!("tracks need a media store");
    }
    if options.users == 0 && (options.compositions > 0 || options.comments > 0) {
        bail!("compositions and comments need artists: ask for at least one user");
    }
    if options.compositions == 0 && options.comments > 0 {
        bail!("comments need compositions: ask for at least one composition");
    }
    // Slow on purpose (Argon2): once for everybody.
    let password_hash = access::password::hash(PASSWORD.to_owned())
        .await
        .context("cannot hash the fake users' password")?;

    let txn = db.begin().await.context("cannot start a transaction")?;
    let role = role::default_role(&txn)
        .await
        .context("cannot read the roles")?
        .context("the roles are missing: run `ragtime deploy` first")?;

    let mut report = SeedReport::default();
    let users = insert_users(&txn, options, role.id, &password_hash)
        .await
        .context("cannot insert the users")?;
    report.users = users.len() as u64;
    report.self_follows = users.len() as u64;
    report.follows = insert_follows(&txn, options, &users)
        .await
        .context("cannot insert the follows")?;
    let compositions = insert_compositions(&txn, options, &users)
        .await
        .context("cannot insert the compositions")?;
    report.compositions = compositions.len() as u64;
    report.comments = insert_comments(&txn, options, &users, &compositions)
        .await
        .context("cannot insert the comments")?;
    report.tags = insert_tags(&txn, options, &compositions)
        .await
        .context("cannot insert the tags")?;
    report.likes = insert_likes(&txn, options, &users, &compositions)
        .await
        .context("cannot insert the likes")?;
    if let Some(first) = users.first() {
        // What happened in the last week is still unread.
        let read_before = UNTIL - chrono::Duration::days(7);
        report.notifications = notification::insert_seeded(&txn, first.id, read_before)
            .await
            .context("cannot insert the notifications")?;
    }
    txn.commit()
        .await
        .context("cannot commit the seeded data")?;
    if let (true, Some(media)) = (options.tracks, media) {
        report.tracks = tones::add_tracks(db, media, options, &compositions)
            .await
            .context("cannot add the tracks")?;
    }
    crate::db::refresh_statistics(db)
        .await
        .context("cannot refresh the database statistics")?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A seeded user as the later phases need them.
struct Seeded {
    id: i32,
    username: String,
    member_since: DateTime<Utc>,
}

/// A seeded composition as the comments and the tracks need it.
struct SeededComposition {
    id: i32,
    timestamp: DateTime<Utc>,
    release_type: i16,
    artist_id: i32,
}

/// One generator per phase, all derived from the one seed.
fn rng_for(seed: u64, phase: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ phase.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn rows_per_statement(columns: usize) -> usize {
    (MAX_BIND_PARAMS / columns).max(1)
}

async fn insert_users(
    txn: &DatabaseTransaction,
    options: &SeedOptions,
    role_id: i32,
    password_hash: &str,
) -> anyhow::Result<Vec<Seeded>> {
    let existing = user::names_and_emails(txn).await?;
    let mut names = UniqueNames::new(existing);
    let mut rng = rng_for(options.seed, 1);
    let mut people = Vec::with_capacity(options.users as usize);
    for _ in 0..options.users {
        people.push(fake_user(&mut rng, &mut names));
    }

    // Avatar keys are random for real accounts; here they come from a generator of their own,
    // so two databases seeded alike hold the same rows.
    let mut keys = rng_for(options.seed, 5);
    let mut seeded = Vec::with_capacity(people.len());
    // email, username, role_id, password_hash, confirmed, name, location, about_me,
    // member_since, last_seen, avatar_hash
    for chunk in people.chunks(rows_per_statement(11)) {
        let rows = chunk.iter().map(|p| {
            let mut row = user::new_account(&p.email, &p.username, role_id, password_hash);
            row.confirmed = Set(true);
            row.name = Set(Some(p.name.clone()));
            row.location = Set(p.location.clone());
            row.about_me = Set(p.about_me.clone());
            row.member_since = Set(p.member_since);
            row.last_seen = Set(p.last_seen);
            row.avatar_hash = Set(hex::encode(keys.random::<[u8; 16]>()));
            row
        });
        let ids = user::insert_many(txn, rows.collect())
            .await
            .map_err(|e| match e.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => anyhow::anyhow!(
                    "a username or email was registered while seeding; nothing was saved, \
                     run it again ({e})"
                ),
                _ => e.into(),
            })?;
        for (p, id) in chunk.iter().zip(ascending(ids, chunk.len())?) {
            seeded.push(Seeded {
                id,
                username: p.username.clone(),
                member_since: p.member_since,
            });
        }
    }

    // Every user follows themself (SPEC §3), since they joined.
    for chunk in seeded.chunks(rows_per_statement(3)) {
        let rows = chunk.iter().map(|u| follow::ActiveModel {
            follower_id: Set(u.id),
            followed_id: Set(u.id),
            timestamp: Set(u.member_since),
        });
        follow::insert_many(txn, rows.collect()).await?;
    }
    Ok(seeded)
}

/// The ids a multi-row INSERT returned, in the order of its VALUES. Neither backend promises
/// the order of RETURNING rows, but ids are drawn in VALUES order, so sorting restores it.
fn ascending(mut ids: Vec<i32>, expected: usize) -> anyhow::Result<Vec<i32>> {
    if ids.len() != expected {
        bail!(
            "the database returned {} ids for {expected} inserted rows",
            ids.len()
        );
    }
    ids.sort_unstable();
    Ok(ids)
}

async fn insert_follows(
    txn: &DatabaseTransaction,
    options: &SeedOptions,
    users: &[Seeded],
) -> anyhow::Result<u64> {
    let mut rng = rng_for(options.seed, 2);
    let n = users.len();
    let mut rows = Vec::new();
    let mut chosen = HashSet::new();
    for (i, follower) in users.iter().enumerate() {
        let others = n.saturating_sub(1);
        if others == 0 || options.follows == 0 {
            continue;
        }
        let average = options.follows as usize;
        let want = rng
            .random_range(average / 2..=average + average / 2)
            .min(others);
        chosen.clear();
        if want * 2 >= others {
            // Most of the others: an even draw without replacement.
            for k in rand::seq::index::sample(&mut rng, others, want) {
                chosen.insert(if k >= i { k + 1 } else { k });
            }
        } else {
            // A few of them: some users are much more popular than others.
            while chosen.len() < want {
                let j = skewed(&mut rng, n);
                if j != i {
                    chosen.insert(j);
                }
            }
        }
        let mut targets: Vec<usize> = chosen.iter().copied().collect();
        targets.sort_unstable(); // HashSet order is random per process.
        for j in targets {
            let followed = &users[j];
            let since = follower.member_since.max(followed.member_since);
            rows.push(follow::ActiveModel {
                follower_id: Set(follower.id),
                followed_id: Set(followed.id),
                timestamp: Set(between(&mut rng, since, UNTIL)),
            });
        }
    }
    let total = rows.len() as u64;
    let per_statement = rows_per_statement(3);
    let staged = Staged::begin(txn, follow::Entity).await?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        staged
            .insert(txn, rows.by_ref().take(per_statement).collect())
            .await?;
    }
    staged.finish(txn).await?;
    Ok(total)
}

/// Batches produced on a blocking thread (rendering Markdown is the CPU-heavy part) while
/// the previous batch is written. The generator stops when the receiver is dropped.
fn produce<T, F>(batches: usize, mut make: F) -> mpsc::Receiver<T>
where
    T: Send + 'static,
    F: FnMut() -> T + Send + 'static,
{
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        for _ in 0..batches {
            if tx.blocking_send(make()).is_err() {
                break;
            }
        }
    });
    rx
}

async fn insert_compositions(
    txn: &DatabaseTransaction,
    options: &SeedOptions,
    users: &[Seeded],
) -> anyhow::Result<Vec<SeededComposition>> {
    let total = options.compositions as usize;
    if total == 0 || users.is_empty() {
        return Ok(Vec::new());
    }
    // release_type, title, description, description_html, timestamp, artist_id
    let per_statement = rows_per_statement(6);
    let artists: Vec<(i32, String, DateTime<Utc>)> = users
        .iter()
        .map(|u| (u.id, u.username.clone(), u.member_since))
        .collect();
    let mut rng = rng_for(options.seed, 3);
    let mut left = total;
    let mut batches = produce(total.div_ceil(per_statement), move || {
        let size = left.min(per_statement);
        left -= size;
        (0..size)
            .map(|_| fake_composition(&mut rng, &artists))
            .collect::<Vec<_>>()
    });

    let mut seeded = Vec::with_capacity(total);
    let staged = Staged::begin(txn, composition::Entity).await?;
    while let Some(batch) = batches.recv().await {
        let (rows, made): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let ids = staged
            .insert_returning(txn, rows, composition::Column::Id)
            .await?;
        for (id, mut composition) in ascending(ids, made.len())?.into_iter().zip(made) {
            composition.id = id;
            seeded.push(composition);
        }
    }
    if seeded.len() != total {
        bail!("the composition generator stopped early");
    }
    staged.finish(txn).await?;
    Ok(seeded)
}

async fn insert_comments(
    txn: &DatabaseTransaction,
    options: &SeedOptions,
    users: &[Seeded],
    compositions: &[SeededComposition],
) -> anyhow::Result<u64> {
    let total = options.comments as usize;
    if total == 0 || users.is_empty() || compositions.is_empty() {
        return Ok(0);
    }
    // body, body_html, timestamp, disabled, author_id, composition_id
    let per_statement = rows_per_statement(6);
    let authors: Vec<(i32, DateTime<Utc>)> = users.iter().map(|u| (u.id, u.member_since)).collect();
    let targets: Vec<(i32, DateTime<Utc>)> =
        compositions.iter().map(|c| (c.id, c.timestamp)).collect();
    let mut rng = rng_for(options.seed, 4);
    let mut left = total;
    let mut batches = produce(total.div_ceil(per_statement), move || {
        let size = left.min(per_statement);
        left -= size;
        (0..size)
            .map(|_| fake_comment(&mut rng, &authors, &targets))
            .collect::<Vec<_>>()
    });
    let mut inserted = 0;
    let staged = Staged::begin(txn, comment::Entity).await?;
    while let Some(batch) = batches.recv().await {
        inserted += batch.len() as u64;
        staged.insert(txn, batch).await?;
    }
    staged.finish(txn).await?;
    Ok(inserted)
}

/// Up to three tags on each composition, from the genres and a few moods (some much more
/// used than others), in batches.
async fn insert_tags(
    txn: &DatabaseTransaction,
    options: &SeedOptions,
    compositions: &[SeededComposition],
) -> anyhow::Result<u64> {
    if compositions.is_empty() {
        return Ok(0);
    }
    let names: Vec<String> = GENRES
        .iter()
        .chain(MOODS)
        .filter_map(|name| tag::normalise(name))
        .collect();
    let ids = tag::ensure(txn, &names).await?;
    let ids: Vec<i32> = names.iter().filter_map(|n| ids.get(n).copied()).collect();
    let mut rng = rng_for(options.seed, 6);
    let mut inserted = 0;
    let staged = Staged::begin(txn, tag::link::Entity).await?;
    // composition_id, tag_id, position, timestamp
    for chunk in compositions.chunks(rows_per_statement(4) / 3) {
        let mut rows = Vec::with_capacity(chunk.len() * 2);
        for c in chunk {
            let mut chosen: Vec<i32> = Vec::with_capacity(3);
            for _ in 0..rng.random_range(0..=3) {
                let id = ids[skewed(&mut rng, ids.len())];
                if !chosen.contains(&id) {
                    chosen.push(id);
                }
            }
            for (position, tag_id) in chosen.into_iter().enumerate() {
                rows.push(tag::link::ActiveModel {
                    composition_id: Set(c.id),
                    tag_id: Set(tag_id),
                    position: Set(position as i16),
                    timestamp: Set(c.timestamp),
                });
            }
        }
        inserted += rows.len() as u64;
        if !rows.is_empty() {
            staged.insert(txn, rows).await?;
        }
    }
    staged.finish(txn).await?;
    Ok(inserted)
}

/// Likes by the new users, popular compositions getting more, each after its composition.
async fn insert_likes(
    txn: &DatabaseTransaction,
    options: &SeedOptions,
    users: &[Seeded],
    compositions: &[SeededComposition],
) -> anyhow::Result<u64> {
    if users.is_empty() || compositions.is_empty() {
        return Ok(0);
    }
    let mut rng = rng_for(options.seed, 7);
    // Never more than there are pairs, nor a draw that could not end.
    let wanted = (options.likes as usize).min(users.len() * compositions.len() / 2);
    let mut chosen: HashSet<(i32, i32)> = HashSet::with_capacity(wanted);
    let mut rows = Vec::with_capacity(wanted);
    while rows.len() < wanted {
        let user = &users[rng.random_range(0..users.len())];
        let c = &compositions[skewed(&mut rng, compositions.len())];
        if chosen.insert((user.id, c.id)) {
            rows.push(like::ActiveModel {
                user_id: Set(user.id),
                composition_id: Set(c.id),
                timestamp: Set(between(&mut rng, c.timestamp, UNTIL)),
            });
        }
    }
    let total = rows.len() as u64;
    let staged = Staged::begin(txn, like::Entity).await?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<_> = rows.by_ref().take(rows_per_statement(3)).collect();
        staged.insert(txn, batch).await?;
    }
    staged.finish(txn).await?;
    Ok(total)
}

// ----- Fake data -------------------------------------------------------------------------

/// Usernames (and their addresses) already taken, lower-cased as the unique indexes compare
/// them, and the next suffix to try for each base name.
struct UniqueNames {
    usernames: HashSet<String>,
    emails: HashSet<String>,
    next_suffix: HashMap<String, u32>,
}

impl UniqueNames {
    fn new(existing: Vec<(String, String)>) -> Self {
        let mut names = UniqueNames {
            usernames: HashSet::with_capacity(existing.len()),
            emails: HashSet::with_capacity(existing.len()),
            next_suffix: HashMap::new(),
        };
        for (username, email) in existing {
            names.usernames.insert(username.to_lowercase());
            names.emails.insert(email.to_lowercase());
        }
        names
    }

    /// `base`, or `base2`, `base3`... whichever is free first.
    fn claim(&mut self, base: &str) -> String {
        let mut suffix = self.next_suffix.get(base).copied().unwrap_or(1);
        loop {
            let candidate = if suffix == 1 {
                base.to_owned()
            } else {
                format!("{base}{suffix}")
            };
            suffix += 1;
            let email = email_for(&candidate);
            if !self.usernames.contains(&candidate) && !self.emails.contains(&email) {
                self.next_suffix.insert(base.to_owned(), suffix);
                self.usernames.insert(candidate.clone());
                self.emails.insert(email);
                return candidate;
            }
        }
    }
}

fn email_for(username: &str) -> String {
    format!("{}@{EMAIL_DOMAIN}", username.to_lowercase())
}

struct FakeUser {
    username: String,
    email: String,
    name: String,
    location: Option<String>,
    about_me: Option<String>,
    member_since: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

fn fake_user(rng: &mut StdRng, names: &mut UniqueNames) -> FakeUser {
    let first = pick(rng, FIRST_NAMES);
    let last = pick(rng, LAST_NAMES);
    let (f, l) = (first.to_lowercase(), last.to_lowercase());
    let base = match rng.random_range(0..6) {
        0 => format!("{f}.{l}"),
        1 => format!("{f}_{l}"),
        2 => format!("{f}{l}"),
        3 => format!("{f}{}", rng.random_range(1..100)),
        4 => format!(
            "{}_{}",
            pick(rng, ADJECTIVES).to_lowercase(),
            pick(rng, INSTRUMENTS)
        ),
        _ => format!("{f}.{}", pick(rng, INSTRUMENTS)),
    };
    let username = names.claim(&base);
    let location = rng.random_bool(0.85).then(|| pick(rng, CITIES).to_owned());
    let about_me = rng.random_bool(0.7).then(|| fake_bio(rng));
    let member_since = between(rng, UNTIL - TimeDelta::seconds(SPAN_SECONDS), UNTIL);
    let last_seen = between(rng, member_since, UNTIL);
    FakeUser {
        email: email_for(&username),
        username,
        name: format!("{first} {last}"),
        location,
        about_me,
        member_since,
        last_seen,
    }
}

fn fake_bio(rng: &mut StdRng) -> String {
    let instrument = pick(rng, INSTRUMENTS);
    let city = pick(rng, CITIES);
    let genre = pick(rng, GENRES);
    match rng.random_range(0..5) {
        0 => format!("{} player from {city}.", capitalized(instrument)),
        1 => format!("I write {genre} on a borrowed {instrument}."),
        2 => format!(
            "{} by day, {genre} by night. Based in {city}.",
            pick(rng, JOBS)
        ),
        3 => format!(
            "Self-taught {instrument} and {}. Mostly {genre}.",
            pick(rng, INSTRUMENTS)
        ),
        _ => format!(
            "Recovering {} player. Now: {genre}.",
            pick(rng, INSTRUMENTS)
        ),
    }
}

fn fake_title(rng: &mut StdRng) -> String {
    let title = match rng.random_range(0..7) {
        0 => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, PIECES)),
        1 => format!("The {} {}", pick(rng, PLACES), pick(rng, PIECES)),
        2 => format!("{} for {}", pick(rng, PIECES), pick(rng, FIRST_NAMES)),
        3 => format!(
            "{} {} No. {}",
            pick(rng, ADJECTIVES),
            pick(rng, PIECES),
            rng.random_range(1..10)
        ),
        4 => format!("{} in {}", pick(rng, TIMES), city_name(pick(rng, CITIES))),
        5 => format!("{} {}", city_name(pick(rng, CITIES)), pick(rng, PIECES)),
        _ => format!(
            "{} {} {}",
            pick(rng, ADJECTIVES),
            pick(rng, PLACES),
            pick(rng, PIECES)
        ),
    };
    title.chars().take(64).collect()
}

/// A composition, and what its comments and tracks need (its id still unknown).
fn fake_composition(
    rng: &mut StdRng,
    artists: &[(i32, String, DateTime<Utc>)],
) -> (composition::ActiveModel, SeededComposition) {
    let (artist_id, username, member_since) = &artists[skewed(rng, artists.len())];
    let release_type: i16 = match rng.random_range(0..100) {
        0..60 => 1,
        60..85 => 2,
        _ => 3,
    };
    let title = fake_title(rng);
    let description = fake_description(rng, release_type, username);
    let timestamp = between(rng, *member_since, UNTIL);
    let row = composition::ActiveModel {
        release_type: Set(release_type),
        title: Set(title),
        description_html: Set(to_safe_html(&description, Allow::Description)),
        description: Set(description),
        timestamp: Set(timestamp),
        artist_id: Set(*artist_id),
        ..Default::default()
    };
    let made = SeededComposition {
        id: 0,
        timestamp,
        release_type,
        artist_id: *artist_id,
    };
    (row, made)
}

fn fake_description(rng: &mut StdRng, release_type: i16, username: &str) -> String {
    let mut text = String::new();
    let sentences = rng.random_range(1..4);
    for k in 0..sentences {
        if k > 0 {
            text.push(' ');
        }
        let adjective = pick(rng, ADJECTIVES).to_lowercase();
        let instrument = pick(rng, INSTRUMENTS);
        let sentence = match rng.random_range(0..7) {
            0 => format!(
                "Recorded live in {} with {}.",
                city_name(pick(rng, CITIES)),
                pick(rng, COMPANY)
            ),
            1 => format!("A *{adjective}* piece for **{instrument}** and whatever was at hand."),
            2 => format!(
                "Written on a {} {}, finished at {}.",
                pick(rng, TIMES).to_lowercase(),
                pick(rng, PLACES).to_lowercase(),
                pick(rng, MOMENTS)
            ),
            3 => format!("The {instrument} part took three takes; the rest took one."),
            4 => format!(
                "Somewhere between {} and {}.",
                pick(rng, GENRES),
                pick(rng, GENRES)
            ),
            5 => format!(
                "Dedicated to {}, who taught me the `{adjective}` chord.",
                pick(rng, FIRST_NAMES)
            ),
            _ => format!("Turn it up: the {instrument} is **{adjective}** in the best way."),
        };
        text.push_str(&sentence);
    }
    if release_type > 1 {
        let tracks = if release_type == 2 {
            rng.random_range(3..6)
        } else {
            rng.random_range(7..12)
        };
        text.push_str("\n\nTracks:\n");
        for n in 1..=tracks {
            text.push_str(&format!("\n{n}. {}", fake_title(rng)));
        }
    }
    if rng.random_bool(0.2) {
        text.push_str(&format!(
            "\n\nSheet music: https://{EMAIL_DOMAIN}/{username}/scores"
        ));
    }
    text
}

fn fake_comment(
    rng: &mut StdRng,
    authors: &[(i32, DateTime<Utc>)],
    compositions: &[(i32, DateTime<Utc>)],
) -> comment::ActiveModel {
    let (composition_id, published) = compositions[skewed(rng, compositions.len())];
    let (author_id, member_since) = authors[rng.random_range(0..authors.len())];
    let instrument = pick(rng, INSTRUMENTS);
    let adjective = pick(rng, ADJECTIVES).to_lowercase();
    let body = match rng.random_range(0..10) {
        0 => format!("Love the {instrument} on this one!"),
        1 => "That bridge is *so* good.".to_owned(),
        2 => format!(
            "Reminds me of {} in the summer.",
            city_name(pick(rng, CITIES))
        ),
        3 => "**Wow.** On repeat all week.".to_owned(),
        4 => format!("Is that a {instrument} or a {}?", pick(rng, INSTRUMENTS)),
        5 => format!("So *{adjective}*. More of this please."),
        6 => format!(
            "The ending caught me off guard, in a good way. Thanks, {}!",
            pick(rng, FIRST_NAMES)
        ),
        7 => format!(
            "Played this at {}. Everyone asked what it was.",
            pick(rng, MOMENTS)
        ),
        8 => format!("`{adjective}` is the right word for it."),
        _ => format!("Would love a {} version of this.", pick(rng, GENRES)),
    };
    let since = published.max(member_since);
    comment::ActiveModel {
        body_html: Set(to_safe_html(&body, Allow::Comment)),
        body: Set(body),
        timestamp: Set(between(rng, since, UNTIL)),
        disabled: Set(rng.random_bool(0.02)),
        author_id: Set(author_id),
        composition_id: Set(composition_id),
        ..Default::default()
    }
}

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

/// An index in `0..n` where low indices are much likelier (density ∝ 1/√i): a few prolific
/// artists, popular users and busy comment threads. Squaring is exact in IEEE arithmetic,
/// so the draw is the same on every platform.
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.random();
    (((u * u) * n as f64) as usize).min(n.saturating_sub(1))
}

/// A whole second uniformly in `[from, to]` (or `from` if the range is empty).
fn between(rng: &mut StdRng, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
    let span = (to - from).num_seconds();
    if span <= 0 {
        return from;
    }
    from + TimeDelta::seconds(rng.random_range(0..=span))
}

/// "New Orleans" of "New Orleans, LA".
fn city_name(city: &str) -> &str {
    city.split(',').next().unwrap_or(city)
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_usernames_are_valid_and_unique_and_avoid_taken_ones() {
        let mut names = UniqueNames::new(vec![(
            "Rosa.Mendez".to_owned(),
            "someone@elsewhere.org".to_owned(),
        )]);
        assert_eq!(names.claim("rosa.mendez"), "rosa.mendez2");
        assert_eq!(names.claim("rosa.mendez"), "rosa.mendez3");
        let mut names = UniqueNames::new(vec![(
            "somebody".to_owned(),
            "miles.davis@example.com".to_owned(),
        )]);
        assert_eq!(names.claim("miles.davis"), "miles.davis2");

        let mut rng = rng_for(1, 1);
        let mut names = UniqueNames::new(Vec::new());
        let mut seen = HashSet::new();
        for _ in 0..5000 {
            let user = fake_user(&mut rng, &mut names);
            assert!(
                crate::models::forms::username(&user.username).is_ok(),
                "{}",
                user.username
            );
            assert!(user.username.len() <= 64);
            assert!(seen.insert(user.username.clone()), "{}", user.username);
            assert_eq!(user.email, format!("{}@example.com", user.username));
            assert!(user.member_since <= user.last_seen && user.last_seen <= UNTIL);
        }
    }

    #[test]
    fn titles_fit_the_column() {
        let mut rng = rng_for(7, 3);
        for _ in 0..10_000 {
            let title = fake_title(&mut rng);
            assert!(!title.is_empty() && title.chars().count() <= 64, "{title}");
        }
    }

    #[test]
    fn skewed_draws_stay_in_range() {
        let mut rng = rng_for(3, 9);
        for n in [1, 2, 10, 1000] {
            for _ in 0..1000 {
                assert!(skewed(&mut rng, n) < n);
            }
        }
    }

    #[test]
    fn until_is_the_documented_date() {
        assert_eq!(UNTIL.to_rfc3339(), "2026-11-01T00:00:00+00:00");
    }
}

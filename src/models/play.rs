//! Plays, counted honestly: a play counts once its listener has heard 30 s of a track, or all
//! of a shorter one. The player asks for a start token when playback starts ([`start`]): it
//! names the track, the listener and the server's clock at that moment, signed so it cannot
//! be forged. The report ([`report`]) carries the token back with how much the player says it
//! heard; the server checks both against the track's real length and the time since the start,
//! and counts at most one play per listener, track and hour. Each counted play adds one to
//! `tracks.plays_count` and `compositions.plays_count` (the plays' trigger) and its weight
//! to the composition's trending score, in one transaction.

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, LockType, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, DbBackend, QuerySelect};

use super::{track, trending};
use crate::crypto::Signer;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "plays")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub track_id: i32,
    pub composition_id: i32,
    /// [`Listener::key`].
    pub listener: String,
    pub timestamp: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What must be heard for a play to count, at most.
pub const HEARD_MS: i64 = 30_000;
/// Slack for the clocks and the network between the player's start and its report (at most
/// a tenth of what must be heard).
pub const TOLERANCE_MS: i64 = 1_500;
/// One play per listener and track in this long.
pub const ONCE_PER: Duration = Duration::hours(1);
/// A start token is good for this long (a report after it starts a new listen).
pub const TOKEN_LIFETIME: Duration = Duration::hours(6);
/// The longest anonymous listener id taken from a cookie.
pub const MAX_ANONYMOUS_ID: usize = 43;
const PURPOSE: &str = "play";
/// Plays the pruning deletes per statement.
const PRUNE_BATCH: u64 = 5000;

/// Who is listening: an account, or a browser known by the random id in its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    Account(i32),
    Anonymous(String),
}

impl Listener {
    /// As stored: `u<id>` or `a<random id>`.
    pub fn key(&self) -> String {
        match self {
            Listener::Account(id) => format!("u{id}"),
            Listener::Anonymous(id) => format!("a{id}"),
        }
    }
}

/// Whether an anonymous id from a cookie is one we could have made (URL-safe base64).
pub fn is_anonymous_id(id: &str) -> bool {
    (16..=MAX_ANONYMOUS_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a `User-Agent` says it is a robot (crawlers, link previews, monitors, headless
/// browsers): their plays are not counted.
pub fn is_bot(user_agent: Option<&str>) -> bool {
    const MARKS: [&str; 16] = [
        "bot",
        "crawl",
        "spider",
        "slurp",
        "headless",
        "phantomjs",
        "lighthouse",
        "facebookexternalhit",
        "embedly",
        "preview",
        "monitor",
        "pingdom",
        "uptime",
        "wget",
        "scrapy",
        "python-requests",
    ];
    let Some(agent) = user_agent else {
        return false;
    };
    let agent = agent.to_ascii_lowercase();
    MARKS.iter().any(|m| agent.contains(m))
}

/// How much of a track of `duration_ms` must be heard: 30 s, or all of a shorter one.
pub fn needed_ms(duration_ms: i64) -> i64 {
    duration_ms.clamp(0, HEARD_MS)
}

/// A start, as its token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub track_id: i32,
    pub listener: String,
    pub at: DateTime<Utc>,
}

/// The signed token of a listener's start of a track, now.
pub fn start_token(
    signer: &Signer,
    track_id: i32,
    listener: &Listener,
    now: DateTime<Utc>,
) -> String {
    let payload = format!("{track_id}:{}:{}", now.timestamp_millis(), listener.key());
    signer.seal(PURPOSE, &payload)
}

/// The start a token names, if it was made by [`start_token`] with this key.
pub fn read_token(signer: &Signer, token: &str) -> Option<Start> {
    let payload = signer.unseal(PURPOSE, token)?;
    let mut parts = payload.splitn(3, ':');
    let track_id = parts.next()?.parse().ok()?;
    let at = DateTime::from_timestamp_millis(parts.next()?.parse().ok()?)?;
    let listener = parts.next()?.to_owned();
    Some(Start {
        track_id,
        listener,
        at,
    })
}

/// The track a listener may start, or `None` if there is no such track.
pub async fn playable<C: ConnectionTrait>(
    db: &C,
    track_id: i32,
) -> Result<Option<track::Model>, DbErr> {
    track::find(db, track_id).await
}

/// What a report came to: the site and the API each say it their way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counted now.
    Counted,
    /// This listener's play of this track was counted less than an hour ago.
    AlreadyCounted,
    /// Sent by a robot: never counted.
    Bot,
    /// Less than 30 s (or the whole track) heard, or reported sooner than that after the start.
    TooEarly,
    /// The token is not ours, is for another track or listener, or is too old.
    BadToken,
    /// No track has this id (it may have been deleted meanwhile).
    NoSuchTrack,
}

/// A report that `listener` heard `heard_ms` of track `track_id`, with the `token` its start
/// got: checked against the track's real length and the time since the start (the server's
/// clock, from the token), and counted at most once per listener, track and hour.
#[expect(
    clippy::too_many_arguments,
    reason = "the rules read each of these; the callers name them at the call"
)]
pub async fn report(
    db: &DatabaseConnection,
    signer: &Signer,
    track_id: i32,
    listener: &Listener,
    token: &str,
    heard_ms: i64,
    bot: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, DbErr> {
    let start = read_token(signer, token);
    let txn = super::begin_write(db).await?;
    let outcome = decide(&txn, start, track_id, listener, heard_ms, bot, now).await?;
    // Whatever was decided, the write lock goes at once: a transaction left to be rolled back
    // when its connection is next used would hold the track's row (or SQLite's write lock)
    // until then.
    if outcome == Outcome::Counted {
        txn.commit().await?;
    } else {
        txn.rollback().await?;
    }
    Ok(outcome)
}

/// The rules, inside the report's transaction; a counted play is written.
async fn decide(
    txn: &DatabaseTransaction,
    start: Option<Start>,
    track_id: i32,
    listener: &Listener,
    heard_ms: i64,
    bot: bool,
    now: DateTime<Utc>,
) -> Result<Outcome, DbErr> {
    // The track's row first, the lock its count update takes: two reports of one listener at
    // once queue here, and the second sees the first's play.
    let find = track::Entity::find_by_id(track_id);
    let found = if txn.get_database_backend() == DbBackend::Postgres {
        find.lock(LockType::NoKeyUpdate).one(txn).await?
    } else {
        find.one(txn).await?
    };
    let Some(t) = found else {
        return Ok(Outcome::NoSuchTrack);
    };
    let Some(start) = start.filter(|start| {
        start.track_id == track_id
            && start.listener == listener.key()
            && start.at <= now + Duration::milliseconds(TOLERANCE_MS)
            && now - start.at <= TOKEN_LIFETIME
    }) else {
        return Ok(Outcome::BadToken);
    };
    if bot {
        return Ok(Outcome::Bot);
    }
    let needed = needed_ms(t.duration_ms);
    // The slack, at most a tenth of what must be heard: a 2 s track is not heard in 0.5 s.
    let needed = needed - std::cmp::min(TOLERANCE_MS, needed / 10);
    let elapsed = (now - start.at).num_milliseconds();
    if heard_ms < needed || elapsed < needed {
        return Ok(Outcome::TooEarly);
    }
    let key = listener.key();
    let recent: Option<i32> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::TrackId.eq(track_id))
        .filter(Column::Listener.eq(key.clone()))
        .filter(Column::Timestamp.gt(now - ONCE_PER))
        .into_tuple()
        .one(txn)
        .await?;
    if recent.is_some() {
        return Ok(Outcome::AlreadyCounted);
    }
    ActiveModel {
        track_id: Set(track_id),
        composition_id: Set(t.composition_id),
        listener: Set(key),
        timestamp: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    trending::record(txn, t.composition_id, trending::PLAY, None, now).await?;
    Ok(Outcome::Counted)
}

/// Deletes the plays older than the hour they guard (the counts keep them): bounded batches.
pub async fn prune(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let mut pruned = 0;
    loop {
        let oldest = Query::select()
            .column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::Timestamp).lt(now - ONCE_PER))
            .limit(PRUNE_BATCH)
            .to_owned();
        let deleted = Entity::delete_many()
            .filter(Column::Id.in_subquery(oldest))
            .exec(db)
            .await?
            .rows_affected;
        pruned += deleted;
        if deleted < PRUNE_BATCH {
            return Ok(pruned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_seconds_or_the_whole_of_a_shorter_track() {
        assert_eq!(needed_ms(200_000), 30_000);
        assert_eq!(needed_ms(12_000), 12_000);
        assert_eq!(needed_ms(-5), 0);
    }

    #[test]
    fn tokens_name_their_start_and_cannot_be_forged() {
        let signer = Signer::new(b"a key that is long enough for the test");
        let now = DateTime::from_timestamp_millis(1_790_000_000_123).unwrap();
        let listener = Listener::Anonymous("abcdefghijklmnop".into());
        let token = start_token(&signer, 7, &listener, now);
        let start = read_token(&signer, &token).unwrap();
        assert_eq!(
            start,
            Start {
                track_id: 7,
                listener: "aabcdefghijklmnop".into(),
                at: now
            }
        );
        let other = Signer::new(b"another key that is long enough too");
        assert_eq!(read_token(&other, &token), None);
        let mut tampered = token.clone();
        tampered.insert(0, 'x');
        assert_eq!(read_token(&signer, &tampered), None);
        assert_eq!(read_token(&signer, "junk"), None);
    }

    #[test]
    fn robots_say_who_they_are() {
        for agent in [
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0)",
            "Mozilla/5.0 HeadlessChrome/120.0",
            "facebookexternalhit/1.1",
            "python-requests/2.31",
        ] {
            assert!(is_bot(Some(agent)), "{agent}");
        }
        for agent in [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
        ] {
            assert!(!is_bot(Some(agent)), "{agent}");
        }
        assert!(!is_bot(None));
    }

    #[test]
    fn anonymous_ids_are_what_we_make() {
        assert!(is_anonymous_id("abcdefghijklmnop_-12"));
        assert!(!is_anonymous_id("short"));
        assert!(!is_anonymous_id("has space in it here"));
        assert!(!is_anonymous_id(&"x".repeat(44)));
    }
}

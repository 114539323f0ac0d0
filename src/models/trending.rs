//! Trending: the compositions played and liked most in the last seven days, each play and like
//! counting less the older it is (half as much for every day of its age).
//!
//! A decaying sum is kept without ever being recomputed as time passes: every event's weight
//! is scaled to a fixed moment ([`EPOCH`]) instead of to now, `w × 2^((t − EPOCH) / day)`, so
//! all the scores decay at the same rate and their order is the order of the true decayed
//! sums at any instant. Those numbers grow without bound, so each row keeps the base-2
//! logarithm of its sum (in millionths, a whole number, the key of the list's keyset order).
//! A play or a like adds its event to one row, in the transaction that records it; the sweep
//! ([`sweep`]) takes out the events older than a week, a bounded batch at a time. The list is
//! one range of the index `(score, composition_id)`, a page whatever the size of the tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, DatabaseBackend, DatabaseTransaction, DbBackend, QuerySelect, QueryTrait,
    Statement,
};

use super::composition::{self, Card};
use super::keyset::{Cursor, Key, Order, Page, Reading};

/// One composition's score this week.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "trending")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub composition_id: i32,
    /// log2 of the scaled sum, in millionths.
    pub score: i64,
    /// Events of the week in the sum.
    pub events: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The plays and likes of the week, until the sweep takes them out.
pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "trending_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub composition_id: i32,
        /// The liker, for a like (so an unlike takes it back); none for a play.
        pub user_id: Option<i32>,
        pub weight: i16,
        pub timestamp: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A play's weight.
pub const PLAY: i16 = 1;
/// A like's: a listener who likes a piece says more than one who plays it.
pub const LIKE: i16 = 2;
/// How long an event counts.
pub const WINDOW: Duration = Duration::days(7);
/// An event counts half as much a day later.
pub const HALF_LIFE_SECONDS: f64 = 86_400.0;
/// Events the sweep takes out per transaction.
const SWEEP_BATCH: u64 = 1000;
const MILLIONTHS: f64 = 1e6;

/// The moment every score is scaled to.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// log2 of an event's weight scaled to the epoch.
pub fn log_weight(weight: i16, at: DateTime<Utc>) -> f64 {
    let age = (at - epoch()).num_milliseconds() as f64 / 1000.0;
    f64::from(std::cmp::max(weight, 1)).log2() + age / HALF_LIFE_SECONDS
}

/// log2(2^a + 2^b), without leaving the range of a float.
pub fn add_logs(a: f64, b: f64) -> f64 {
    let top = a.max(b);
    top + ((a - top).exp2() + (b - top).exp2()).log2()
}

/// log2(2^a − 2^b); `None` if nothing is left (b ≥ a, up to rounding).
pub fn sub_logs(a: f64, b: f64) -> Option<f64> {
    let rest = 1.0 - (b - a).exp2();
    (rest > 1e-12).then(|| a + rest.log2())
}

/// What a score in millionths says, as a decayed sum now: for tests and people.
pub fn decayed_sum(score: i64, now: DateTime<Utc>) -> f64 {
    (score as f64 / MILLIONTHS - log_weight(1, now)).exp2()
}

/// Adds an event (a play, or a like with its liker) to a composition's score, in the
/// transaction that records the play or the like.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    composition_id: i32,
    weight: i16,
    user_id: Option<i32>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    event::ActiveModel {
        composition_id: Set(composition_id),
        user_id: Set(user_id),
        weight: Set(weight),
        timestamp: Set(at),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    adjust(txn, composition_id, &[(weight, at)], true).await
}

/// Takes back a user's like of a composition from its score, if it is still of this week.
pub(crate) async fn forget_like(
    txn: &DatabaseTransaction,
    composition_id: i32,
    user_id: i32,
) -> Result<(), DbErr> {
    let mut delete = Query::delete();
    delete
        .from_table(event::Entity)
        .and_where(Expr::col(event::Column::CompositionId).eq(composition_id))
        .and_where(Expr::col(event::Column::UserId).eq(user_id))
        .returning(Query::returning().columns([event::Column::Weight, event::Column::Timestamp]));
    let rows = txn
        .query_all_raw(txn.get_database_backend().build(&delete))
        .await?;
    let mut gone = Vec::with_capacity(rows.len());
    for row in rows {
        gone.push((
            row.try_get::<i16>("", "weight")?,
            row.try_get::<DateTimeUtc>("", "timestamp")?,
        ));
    }
    if gone.is_empty() {
        return Ok(());
    }
    adjust(txn, composition_id, &gone, false).await
}

/// Adds (or takes out) `events` to (from) one composition's score, under its row's lock.
async fn adjust(
    txn: &DatabaseTransaction,
    composition_id: i32,
    events: &[(i16, DateTime<Utc>)],
    add: bool,
) -> Result<(), DbErr> {
    if add {
        // The row, if it is not there yet; racing inserts make one.
        Entity::insert(ActiveModel {
            composition_id: Set(composition_id),
            score: Set(0),
            events: Set(0),
        })
        .on_conflict(
            OnConflict::column(Column::CompositionId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    let find = Entity::find_by_id(composition_id);
    let row = if txn.get_database_backend() == DbBackend::Postgres {
        find.lock_exclusive().one(txn).await?
    } else {
        find.one(txn).await?
    };
    let Some(row) = row else {
        return Ok(());
    };
    let mut score = (row.events > 0).then(|| row.score as f64 / MILLIONTHS);
    let mut count = row.events;
    for &(weight, at) in events {
        let l = log_weight(weight, at);
        if add {
            score = Some(score.map_or(l, |s| add_logs(s, l)));
            count += 1;
        } else {
            score = score.and_then(|s| sub_logs(s, l));
            count -= 1;
        }
    }
    match score {
        Some(s) if count > 0 => {
            Entity::update_many()
                .col_expr(Column::Score, Expr::value((s * MILLIONTHS).round() as i64))
                .col_expr(Column::Events, Expr::value(count))
                .filter(Column::CompositionId.eq(composition_id))
                .exec(txn)
                .await?;
        }
        _ => {
            Entity::delete_by_id(composition_id).exec(txn).await?;
        }
    }
    Ok(())
}

/// Takes the events older than a week out of the scores, a batch per transaction; how many.
/// Safe beside another sweep and beside unlikes: an event is taken out by whoever deletes it.
pub async fn sweep(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let mut swept = 0;
    loop {
        let txn = super::begin_write(db).await?;
        let oldest = Query::select()
            .column(event::Column::Id)
            .from(event::Entity)
            .and_where(Expr::col(event::Column::Timestamp).lt(now - WINDOW))
            .order_by(event::Column::Timestamp, sea_orm::Order::Asc)
            .order_by(event::Column::Id, sea_orm::Order::Asc)
            .limit(SWEEP_BATCH)
            .to_owned();
        let mut delete = Query::delete();
        delete
            .from_table(event::Entity)
            .and_where(Expr::col(event::Column::Id).in_subquery(oldest))
            .returning(Query::returning().columns([
                event::Column::CompositionId,
                event::Column::Weight,
                event::Column::Timestamp,
            ]));
        let rows = txn
            .query_all_raw(txn.get_database_backend().build(&delete))
            .await?;
        let n = rows.len() as u64;
        // In id order, the order every writer locks these rows in.
        let mut by_composition: BTreeMap<i32, Vec<(i16, DateTime<Utc>)>> = BTreeMap::new();
        for row in rows {
            by_composition
                .entry(row.try_get("", "composition_id")?)
                .or_default()
                .push((row.try_get("", "weight")?, row.try_get("", "timestamp")?));
        }
        for (composition_id, events) in by_composition {
            adjust(&txn, composition_id, &events, false).await?;
        }
        txn.commit().await?;
        swept += n;
        if n < SWEEP_BATCH {
            return Ok(swept);
        }
    }
}

fn reading(cursor: Cursor, per_page: u64) -> Reading {
    Reading::new(cursor, Order::NewestFirst, per_page).by_number()
}

fn select(reading: &Reading) -> Select<Entity> {
    reading.apply(Entity::find(), Column::Score, Column::CompositionId)
}

/// The statement that reads a page of trending keys (public for the query-plan tests).
pub fn page_statement(backend: DatabaseBackend, cursor: Cursor, per_page: u64) -> Statement {
    select(&reading(cursor, per_page)).build(backend)
}

/// A page of the trending list, highest score first: a page of keys from the index, then
/// those compositions as cards (three queries, by primary key).
pub async fn page<C: ConnectionTrait>(
    db: &C,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<Card>, DbErr> {
    let reading = reading(cursor, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = select(&reading).all(db).await?;
    let page = reading.finish(rows, |r| Key::ranked(r.score, r.composition_id));
    let ids: Vec<i32> = page.items.iter().map(|r| r.composition_id).collect();
    let mut cards: BTreeMap<i32, Card> = composition::cards_of(db, &ids)
        .await?
        .into_iter()
        .map(|c| (c.composition.id, c))
        .collect();
    let items = ids.iter().filter_map(|id| cards.remove(id)).collect();
    Ok(Page {
        items,
        prev: page.prev,
        next: page.next,
    })
}

/// How many compositions are trending, as kept with the data.
pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    super::counter::get(db, super::counter::TRENDING).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_add_and_take_back_as_sums_do() {
        let now = epoch() + Duration::days(400);
        let a = log_weight(PLAY, now);
        let b = log_weight(LIKE, now - Duration::days(1));
        // A like of yesterday weighs what a play of today does.
        assert!((a - b).abs() < 1e-9);
        let both = add_logs(a, b);
        assert!((both - (a + 1.0)).abs() < 1e-9, "two equal weights double");
        let back = sub_logs(both, b).unwrap();
        assert!((back - a).abs() < 1e-9);
        assert_eq!(sub_logs(a, a), None);
        // Far from the epoch, still finite.
        let later = log_weight(PLAY, epoch() + Duration::days(365 * 500));
        assert!(add_logs(later, later).is_finite());
    }

    #[test]
    fn a_sum_reads_back_as_its_decayed_value() {
        let now = epoch() + Duration::days(10);
        let two_days_old = log_weight(PLAY, now - Duration::days(2));
        let score = (two_days_old * MILLIONTHS).round() as i64;
        assert!((decayed_sum(score, now) - 0.25).abs() < 1e-6);
    }
}

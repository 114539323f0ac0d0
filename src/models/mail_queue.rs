//! The durable mail queue: a message is a row written in the same transaction as the change
//! that causes it, and stays until a worker has delivered it or given it up, then for the
//! retention period (its body holds signed links and its recipient an address), after which
//! [`purge`] deletes it. Workers claim a row with a conditional update, so two of them never
//! send the same message at once, and renew the claim while they send, so a worker that dies
//! leaves its message to another within [`CLAIM`] seconds.

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Condition, QueryOrder, QuerySelect};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_queue")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: DateTimeUtc,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// When delivery was given up (`last_error` says why): never retried.
    pub failed_at: Option<DateTimeUtc>,
    /// A notification mail's one-click unsubscribe address (`List-Unsubscribe`, RFC 8058).
    pub unsubscribe: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// How long a claim lasts unless the worker renews it: a live worker renews it every
/// [`RENEW_EVERY`] seconds while it sends, so no second worker takes a message whose delivery
/// is under way, and one killed mid-send frees its message this long after its last renewal.
pub const CLAIM: i64 = 30;
/// How often a sending worker renews its claim: a third of it, so two renewals may be late.
pub const RENEW_EVERY: u64 = CLAIM as u64 / 3;

pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    recipient: &str,
    subject: &str,
    text_body: &str,
    html_body: &str,
    unsubscribe: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    ActiveModel {
        recipient: Set(recipient.to_owned()),
        subject: Set(subject.to_owned()),
        text_body: Set(text_body.to_owned()),
        html_body: Set(html_body.to_owned()),
        unsubscribe: Set(unsubscribe.map(str::to_owned)),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The `limit` newest messages, sent or not, newest first (the development mail page): sent
/// messages keep their row and body for the retention period.
pub async fn newest<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Unsent messages, not given up, that are due and not reserved by a live worker, oldest first.
pub async fn due<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<Model>, DbErr> {
    let now = Utc::now();
    Entity::find()
        .filter(Column::SentAt.is_null())
        .filter(Column::FailedAt.is_null())
        .filter(Column::NextAttemptAt.lte(now))
        .filter(free(now))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Unclaimed, or claimed by a worker whose claim ran out.
fn free(now: DateTimeUtc) -> Condition {
    Condition::any()
        .add(Column::LockedUntil.is_null())
        .add(Column::LockedUntil.lt(now))
}

/// Reserve a message for this worker; false if another worker got it first.
pub async fn claim<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let now = Utc::now();
    hold(db, id, now, free(now)).await
}

/// Extend this worker's claim while its delivery goes on; false if the message is no longer
/// reserved (sent, or the claim lapsed and another worker may have it).
pub async fn renew<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let now = Utc::now();
    hold(
        db,
        id,
        now,
        Condition::all().add(Column::LockedUntil.gte(now)),
    )
    .await
}

/// Reserve unsent message `id` for [`CLAIM`] seconds from `now`, if `held` allows.
async fn hold<C: ConnectionTrait>(
    db: &C,
    id: i64,
    now: DateTimeUtc,
    held: Condition,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(
            Column::LockedUntil,
            Expr::value(now + Duration::seconds(CLAIM)),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::SentAt.is_null())
        .filter(held)
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn mark_sent<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(Utc::now()))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTimeUtc>::None),
        )
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Record a failed attempt and schedule the next one with exponential backoff: 30 s after the
/// first failure, then 1 min, 2 min ... capped at 6 hours.
pub async fn mark_failed<C: ConnectionTrait>(
    db: &C,
    message: &Model,
    error: &str,
) -> Result<(), DbErr> {
    let attempts = message.attempts + 1;
    let delay = retry_delay(attempts);
    Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(attempts))
        .col_expr(
            Column::NextAttemptAt,
            Expr::value(Utc::now() + Duration::seconds(delay)),
        )
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTimeUtc>::None),
        )
        .col_expr(Column::LastError, Expr::value(clipped(error)))
        .filter(Column::Id.eq(message.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Record a last attempt and give the message up: it is never retried, and goes with the sent
/// ones once the retention period has passed.
pub async fn give_up<C: ConnectionTrait>(db: &C, message: &Model, why: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Attempts, Expr::value(message.attempts + 1))
        .col_expr(Column::FailedAt, Expr::value(Utc::now()))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTimeUtc>::None),
        )
        .col_expr(Column::LastError, Expr::value(clipped(why)))
        .filter(Column::Id.eq(message.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Record that the relay could not be reached: not the message's fault, so it is neither
/// counted as an attempt nor put off; it stays due for when the relay answers again.
pub async fn mark_unreachable<C: ConnectionTrait>(
    db: &C,
    message: &Model,
    error: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTimeUtc>::None),
        )
        .col_expr(Column::LastError, Expr::value(clipped(error)))
        .filter(Column::Id.eq(message.id))
        .exec(db)
        .await?;
    Ok(())
}

/// Delete the messages sent or given up before `before`; how many.
pub async fn purge<C: ConnectionTrait>(db: &C, before: DateTimeUtc) -> Result<u64, DbErr> {
    let done = Condition::any()
        .add(Column::SentAt.lt(before))
        .add(Column::FailedAt.lt(before));
    let deleted = Entity::delete_many().filter(done).exec(db).await?;
    Ok(deleted.rows_affected)
}

/// An error as kept: its first 500 characters.
fn clipped(error: &str) -> String {
    error.chars().take(500).collect()
}

/// Seconds to wait after the `attempts`-th failure.
pub fn retry_delay(attempts: i32) -> i64 {
    30i64
        .saturating_mul(1 << (attempts - 1).clamp(0, 20))
        .min(6 * 3600)
}

#[cfg(test)]
mod tests {
    use super::retry_delay;

    #[test]
    fn retries_back_off_from_30_seconds_to_6_hours() {
        assert_eq!(retry_delay(1), 30);
        assert_eq!(retry_delay(2), 60);
        assert_eq!(retry_delay(3), 120);
        assert_eq!(retry_delay(100), 6 * 3600);
    }
}

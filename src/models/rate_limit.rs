//! Fixed-window counters shared by every web process (kept in the database, not in memory):
//! each key counts events since its window opened; a window older than its length restarts.

use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement};

/// Count one event for `key` and return the count in the current window, in one atomic
/// statement (the same SQL on SQLite and PostgreSQL).
pub async fn hit<C: ConnectionTrait>(db: &C, key: &str, window: Duration) -> Result<i64, DbErr> {
    let now = Utc::now();
    let cutoff = now - window;
    let sql = r#"INSERT INTO rate_limits ("key", window_start, "count") VALUES ($1, $2, 1)
        ON CONFLICT ("key") DO UPDATE SET
          "count" = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits."count" + 1 END,
          window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END
        RETURNING "count""#;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [key.into(), now.into(), cutoff.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("rate limit row".into()))?;
    let count: i32 = row.try_get("", "count")?;
    Ok(i64::from(count))
}

/// The count in the current window, without counting anything.
pub async fn current<C: ConnectionTrait>(db: &C, key: &str, window: Duration) -> Result<i64, DbErr> {
    let cutoff = Utc::now() - window;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r#"SELECT "count" FROM rate_limits WHERE "key" = $1 AND window_start > $2"#,
            [key.into(), cutoff.into()],
        ))
        .await?;
    match row {
        Some(row) => Ok(i64::from(row.try_get::<i32>("", "count")?)),
        None => Ok(0),
    }
}

/// Forget the counter (a successful login clears its account's failures).
pub async fn clear<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        r#"DELETE FROM rate_limits WHERE "key" = $1"#,
        [key.into()],
    ))
    .await?;
    Ok(())
}

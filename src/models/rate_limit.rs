//! Fixed-window counters shared by every web process (kept in the database, not in memory):
//! each key counts events since its window opened; a window older than its length restarts.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement};

/// A counter's state: how many events since `started`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: i64,
    pub started: DateTime<Utc>,
}

fn window(row: &QueryResult) -> Result<Window, DbErr> {
    Ok(Window {
        count: i64::from(row.try_get::<i32>("", "count")?),
        started: row.try_get("", "window_start")?,
    })
}

/// Count one event for `key` and return its window, in one atomic statement (the same SQL on
/// SQLite and PostgreSQL), so concurrent processes never lose a count.
pub async fn hit<C: ConnectionTrait>(db: &C, key: &str, length: Duration) -> Result<Window, DbErr> {
    let now = Utc::now();
    let sql = r#"INSERT INTO rate_limits ("key", window_start, "count") VALUES ($1, $2, 1)
        ON CONFLICT ("key") DO UPDATE SET
          "count" = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits."count" + 1 END,
          window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END
        RETURNING "count", window_start"#;
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [key.into(), now.into(), (now - length).into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("rate limit row".into()))?;
    window(&row)
}

/// Uncount one event of `key`'s current window.
pub async fn take_back<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        r#"UPDATE rate_limits SET "count" = "count" - 1 WHERE "key" = $1 AND "count" > 0"#,
        [key.into()],
    ))
    .await?;
    Ok(())
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

/// Drop windows that ended long ago, so the table stays small.
pub async fn purge_older_than<C: ConnectionTrait>(db: &C, age: Duration) -> Result<u64, DbErr> {
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r#"DELETE FROM rate_limits WHERE window_start < $1"#,
            [(Utc::now() - age).into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

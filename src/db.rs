//! Database connections: PostgreSQL for `postgres://`/`postgresql://` URLs, SQLite otherwise.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::migration::Migrator;

/// Open a pool of at most `pool_size` connections. The URL never reaches the logs.
pub async fn connect_url(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(pool_size)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(300))
        // Ping a connection before use only when it has sat idle for a second: sqlx's default
        // pings on every checkout, a round trip added to every query. Under load connections
        // are reused within milliseconds and never pinged; a connection the database dropped
        // (restart, failover) while it was that busy fails the one query that next uses it,
        // as queries in flight at that moment fail anyway, and is then replaced.
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        .sqlx_logging(false)
        // WAL lets readers run while one writer writes; the busy timeout makes concurrent
        // writers wait instead of failing at once.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// The application's pool, sized by `DATABASE_POOL_SIZE`.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    connect_url(
        config.database_url.expose_secret(),
        config.database_pool_size,
    )
    .await
}

/// Apply pending migrations; returns the names of those applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if !pending.is_empty() {
        Migrator::up(db, None).await?;
    }
    Ok(pending)
}

/// After a bulk load: refresh the planner's statistics (and, on PostgreSQL, the visibility
/// map, so counts can use index-only scans) instead of waiting for autovacuum.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(sql).await?;
    Ok(())
}

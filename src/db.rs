//! Database connections: PostgreSQL for `postgres://`/`postgresql://` URLs, SQLite otherwise.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::migration::Migrator;

/// How a pool behaves.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections at most.
    pub size: u32,
    /// How long a query waits for a free connection (or a new one) before giving up.
    pub acquire_timeout: Duration,
    /// Longest a statement may run (PostgreSQL only; SQLite has no such limit).
    pub statement_timeout: Option<Duration>,
}

impl PoolSettings {
    /// For commands that may wait (deploy, seed, tests' own connections): no statement limit.
    pub fn patient(size: u32) -> Self {
        PoolSettings {
            size,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: None,
        }
    }

    /// For the web and worker processes, from `DATABASE_POOL_SIZE`,
    /// `DATABASE_ACQUIRE_TIMEOUT_MS` and `DATABASE_STATEMENT_TIMEOUT_MS`.
    pub fn of(config: &Config) -> Self {
        PoolSettings {
            size: config.database_pool_size,
            acquire_timeout: config.database_acquire_timeout,
            statement_timeout: config.database_statement_timeout,
        }
    }
}

/// The options of a pool to `url`. The URL never reaches the logs.
pub fn options(url: &str, settings: &PoolSettings) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(settings.size)
        .min_connections(0)
        // A new connection gets the whole wait: an unreachable database fails as fast as a
        // busy pool.
        .connect_timeout(settings.acquire_timeout)
        .acquire_timeout(settings.acquire_timeout)
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
    if let Some(limit) = settings.statement_timeout {
        // One slow statement must not hold a connection the other requests need.
        let millis = limit.as_millis().to_string();
        options
            .map_sqlx_postgres_opts(move |o| o.options([("statement_timeout", millis.as_str())]));
    }
    options
}

/// Open a pool of at most `pool_size` connections that waits patiently (commands, tests).
pub async fn connect_url(url: &str, pool_size: u32) -> Result<DatabaseConnection, DbErr> {
    Database::connect(options(url, &PoolSettings::patient(pool_size))).await
}

/// The application's pool (see [`PoolSettings::of`]). It connects on first use: a web or
/// worker process that starts while the database is briefly away (a restart, maintenance)
/// runs and answers 503 until it is back, instead of exiting.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let mut options = options(
        config.database_url.expose_secret(),
        &PoolSettings::of(config),
    );
    options.connect_lazy(true);
    Database::connect(options).await
}

/// Open one connection to a PostgreSQL `url`, outside any pool, to say why the database cannot
/// be reached — refused, unknown host, TLS, authentication — where a pool only says it timed
/// out. SQLite files need no such check.
pub async fn probe(url: &str) -> Result<(), DbErr> {
    use sea_orm::sqlx::ConnectOptions as _;
    use sea_orm::sqlx::postgres::PgConnectOptions;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(());
    }
    let cannot = |cause: String| DbErr::Custom(format!("cannot connect to the database: {cause}"));
    let options: PgConnectOptions = url.parse().map_err(|e| cannot(format!("{e}")))?;
    match tokio::time::timeout(Duration::from_secs(10), options.connect()).await {
        Ok(Ok(connection)) => {
            drop(connection);
            Ok(())
        }
        Ok(Err(e)) => Err(cannot(e.to_string())),
        Err(_) => Err(cannot("no answer within 10 s".into())),
    }
}

/// Whether `err` means the database cannot be reached right now (no connection could be had
/// in time, the one in use broke, or the server is shutting down or restarting), rather than a
/// fault in what was asked.
pub fn is_unreachable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => sqlx_unreachable(e),
        _ => false,
    }
}

fn sqlx_unreachable(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        // PostgreSQL's SQLSTATE classes for an outage: 08, the connection failed; 57P, the
        // server ended the session (57P01 admin_shutdown, what a fast shutdown or
        // `pg_terminate_backend` sends to statements in flight; 57P02 crash_shutdown; 57P03
        // cannot_connect_now, while it starts). SQLite's codes are plain numbers.
        Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
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
/// map, so counts can use index-only scans) instead of waiting for autovacuum. On PostgreSQL
/// one table at a time: each is a statement of its own under the statement timeout, where the
/// whole database at once ran past it on a busy machine.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if backend != sea_orm::DatabaseBackend::Postgres {
        db.execute_unprepared("ANALYZE").await?;
        return Ok(());
    }
    let tables = db
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
        ))
        .await?;
    for row in tables {
        let table: String = row.try_get_by_index(0)?;
        let quoted = table.replace('"', "\"\"");
        db.execute_unprepared(&format!("VACUUM ANALYZE \"{quoted}\""))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
    use sea_orm::{DbErr, RuntimeErr, sqlx};

    use super::is_unreachable;

    /// A database error with only a SQLSTATE, as the driver hands them over.
    #[derive(Debug)]
    struct Refused(&'static str);

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl std::error::Error for Refused {}

    impl DatabaseError for Refused {
        fn message(&self) -> &str {
            "refused"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn exec(err: sqlx::Error) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(err.into()))
    }

    fn sqlstate(code: &'static str) -> DbErr {
        exec(sqlx::Error::Database(Box::new(Refused(code))))
    }

    #[test]
    fn a_shutdown_a_broken_connection_or_a_busy_pool_is_an_outage() {
        // "terminating connection due to administrator command"
        assert!(is_unreachable(&sqlstate("57P01")));
        assert!(is_unreachable(&sqlstate("57P02")));
        assert!(is_unreachable(&sqlstate("57P03")));
        assert!(is_unreachable(&sqlstate("08006")));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_unreachable(&exec(sqlx::Error::Io(reset))));
        assert!(is_unreachable(&DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::PoolTimedOut.into()
        ))));
    }

    #[test]
    fn a_fault_in_what_was_asked_is_not_an_outage() {
        // unique_violation, a statement timeout (57014: query_canceled), SQLite's
        // SQLITE_CONSTRAINT_UNIQUE, a row that is not there.
        assert!(!is_unreachable(&sqlstate("23505")));
        assert!(!is_unreachable(&sqlstate("57014")));
        assert!(!is_unreachable(&sqlstate("2067")));
        assert!(!is_unreachable(&exec(sqlx::Error::RowNotFound)));
        assert!(!is_unreachable(&DbErr::Custom("08006".into())));
    }
}

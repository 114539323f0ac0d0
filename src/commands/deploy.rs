//! `ragtime deploy`, the release-phase command (`flask deploy` of the original): apply pending
//! migrations, upsert the roles, add missing self-follows, replace avatar keys that are the MD5
//! of an address. Idempotent, and safe when two run at once on PostgreSQL: they take turns
//! under an advisory lock.

use std::fmt;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

use crate::db;
use crate::models::{role, user};

/// An arbitrary, fixed key for `pg_advisory_lock`, shared by every `ragtime deploy`.
const DEPLOY_LOCK_KEY: i64 = 0x0052_4147_5449_4d45; // "RAGTIME" in ASCII

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeployReport {
    pub migrations_applied: Vec<String>,
    pub roles: role::RolesReport,
    pub self_follows_added: u64,
    pub avatar_keys_replaced: u64,
}

impl DeployReport {
    pub fn changed_nothing(&self) -> bool {
        self.migrations_applied.is_empty()
            && self.roles.inserted.is_empty()
            && self.roles.updated.is_empty()
            && self.self_follows_added == 0
            && self.avatar_keys_replaced == 0
    }
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.migrations_applied.is_empty() {
            writeln!(f, "migrations: none pending")?;
        } else {
            writeln!(
                f,
                "migrations: applied {}",
                self.migrations_applied.join(", ")
            )?;
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        writeln!(
            f,
            "roles: inserted {}; updated {}",
            list(&self.roles.inserted),
            list(&self.roles.updated)
        )?;
        writeln!(f, "self-follows: added {}", self.self_follows_added)?;
        write!(
            f,
            "avatar keys: replaced {} that revealed an address",
            self.avatar_keys_replaced
        )
    }
}

/// Run every deployment task on `db`. On PostgreSQL the caller must pass a pool of exactly one
/// connection (see [`deploy_url`]) so the advisory lock and the work share a session.
pub async fn deploy(db: &DatabaseConnection) -> Result<DeployReport, DbErr> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_lock($1)",
            [DEPLOY_LOCK_KEY.into()],
        ))
        .await?;
    }
    let result = run_tasks(db).await;
    if postgres {
        // Released on disconnect anyway; unlocking early lets a waiting deploy go on.
        let _ = db
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_unlock($1)",
                [DEPLOY_LOCK_KEY.into()],
            ))
            .await;
    }
    result
}

async fn run_tasks(db: &DatabaseConnection) -> Result<DeployReport, DbErr> {
    let migrations_applied = db::migrate(db).await?;
    let roles = role::insert_roles(db).await?;
    let self_follows_added = user::add_self_follows(db).await?;
    let avatar_keys_replaced = user::replace_revealing_avatar_keys(db).await?;
    Ok(DeployReport {
        migrations_applied,
        roles,
        self_follows_added,
        avatar_keys_replaced,
    })
}

/// Connect with a single-connection pool and deploy.
pub async fn deploy_url(url: &str) -> Result<DeployReport, DbErr> {
    // The release log must say why the database cannot be reached, not that a pool timed out.
    db::probe(url).await?;
    let db = db::connect_url(url, 1).await?;
    let report = deploy(&db).await;
    db.close().await.ok();
    report
}

//! The data layer: SeaORM entities and every query the application runs. Handlers call the
//! functions here; nothing outside this module builds a query.

pub mod bulk;
pub mod comment;
pub mod composition;
pub mod counter;
pub mod feed_cache;
pub mod flask_import;
pub mod follow;
pub mod forms;
pub mod keyset;
pub mod like;
pub mod mail_queue;
pub mod markdown;
pub mod notification;
pub mod play;
pub mod rate_limit;
pub mod registration;
pub mod release;
pub mod role;
pub mod search;
pub mod session;
pub mod sitemap;
pub mod slug;
pub mod suggestion;
pub mod tag;
pub mod track;
pub mod trending;
pub mod user;
pub mod violation;

pub use role::Permission;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// A transaction that writes: on SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
/// so that one that reads first cannot fail to upgrade its lock ("database is locked") while
/// another writes; the busy timeout makes it wait its turn instead.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

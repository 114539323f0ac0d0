//! The data layer: SeaORM entities and every query the application runs. Handlers call the
//! functions here; nothing outside this module builds a query.

pub mod comment;
pub mod composition;
pub mod counter;
pub mod feed_cache;
pub mod follow;
pub mod keyset;
pub mod mail_queue;
pub mod markdown;
pub mod rate_limit;
pub mod role;
pub mod session;
pub mod track;
pub mod user;

pub use role::Permission;

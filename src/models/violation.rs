//! Which constraint of the schema a failed write broke, told by its name, so the caller can map
//! it to the field it concerns (never by the wording of the message around it).

use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// The database's own error under SeaORM's, if the database refused the statement.
fn database_error(err: &DbErr) -> Option<&dyn DatabaseError> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Database(db) => Some(db.as_ref()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The name of the unique index or constraint `err` violated. PostgreSQL reports it as the
/// error's constraint field; SQLite has no such field and names a unique *index* (as ours on
/// `lower(...)` are) in its fixed form `UNIQUE constraint failed: index '<name>'`.
pub fn unique_violated(err: &DbErr) -> Option<String> {
    let db = database_error(err)?;
    if db.kind() != ErrorKind::UniqueViolation {
        return None;
    }
    if let Some(name) = db.constraint() {
        return Some(name.to_owned());
    }
    let name = db
        .message()
        .strip_prefix("UNIQUE constraint failed: index '")?
        .strip_suffix('\'')?;
    Some(name.to_owned())
}

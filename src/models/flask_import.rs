//! The queries of `ragtime import-flask` (the command is in `commands::import_flask`): reading
//! the Flask Ragtime's database in keyset batches, writing its rows into ours with their ids,
//! and the import's own bookkeeping.
//!
//! Bookkeeping lives in four tables, made by migrations (m20261206_000001_flask_import and
//! m20261207_000001_flask_usernames):
//!
//! - `flask_imports`: one row per import, by the fingerprint of the old database's state, so
//!   that a second run on the same data changes nothing and says so;
//! - `flask_users`: which of our users came from the old site (and their old id), so that a
//!   target holding only imported users is not "a site with other users";
//! - `flask_redirects`: the old slugs of compositions whose id had to change (`--merge` into a
//!   site where that id was taken), so that `/composition/<old slug>` still finds them;
//! - `flask_usernames`: the old usernames of accounts that had to be renamed, so that
//!   `/user/<old username>` still finds them.
//!
//! Counts, search documents and keywords are not written here: the database's triggers keep
//! them for every insert, bulk ones included (see `migration::m20261202_000001_counts`).

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, Statement, Value,
};

use super::{composition, user};

/// The old database's revision this import reads (`alembic_version`).
pub const FLASK_REVISION: &str = "515a4f38c862";

// ----- The old database --------------------------------------------------------------------

#[derive(Debug, Clone, FromQueryResult)]
pub struct OldRole {
    pub id: i32,
    pub name: Option<String>,
}

/// What the first pass over the users needs: names and addresses are resolved for everybody
/// before any row is written.
#[derive(Debug, Clone, FromQueryResult)]
pub struct OldIdentity {
    pub id: i32,
    pub username: Option<String>,
    pub email: Option<String>,
    pub last_seen: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, FromQueryResult)]
pub struct OldUser {
    pub id: i32,
    pub role_id: Option<i32>,
    pub password_hash: Option<String>,
    pub confirmed: Option<bool>,
    pub name: Option<String>,
    pub location: Option<String>,
    pub about_me: Option<String>,
}

#[derive(Debug, Clone, FromQueryResult)]
pub struct OldComposition {
    pub id: i32,
    pub release_type: Option<i32>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub timestamp: Option<NaiveDateTime>,
    pub artist_id: Option<i32>,
    pub slug: Option<String>,
}

#[derive(Debug, Clone, FromQueryResult)]
pub struct OldFollow {
    pub follower_id: i32,
    pub following_id: i32,
    pub timestamp: Option<NaiveDateTime>,
}

/// A user's earliest trace in the old data.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Earliest {
    pub id: i32,
    pub at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Version {
    version_num: String,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Stat {
    n: i64,
    max_id: Option<i32>,
    latest: Option<NaiveDateTime>,
}

fn stmt(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    // Written with `$n`; SQLite understands `$n` placeholders as well.
    Statement::from_sql_and_values(backend, sql, values)
}

/// The old database's Alembic revision, or why it has none.
pub async fn revision<C: ConnectionTrait>(old: &C) -> Result<Option<String>, DbErr> {
    let backend = old.get_database_backend();
    let found = Version::find_by_statement(stmt(
        backend,
        "SELECT version_num FROM alembic_version",
        vec![],
    ))
    .one(old)
    .await?;
    Ok(found.map(|v| v.version_num))
}

/// What identifies the old database's state: row counts, highest ids and newest timestamps of
/// its three tables. Two runs on the same data see the same fingerprint.
pub async fn fingerprint<C: ConnectionTrait>(old: &C) -> Result<String, DbErr> {
    let backend = old.get_database_backend();
    let mut parts = Vec::new();
    for (table, id, ts) in [
        ("users", "id", "last_seen"),
        ("compositions", "id", "timestamp"),
        ("follows", "follower_id", "timestamp"),
    ] {
        let sql = format!(
            "SELECT count(*) AS n, max({id}) AS max_id, max(\"{ts}\") AS latest FROM {table}"
        );
        let s = Stat::find_by_statement(stmt(backend, &sql, vec![]))
            .one(old)
            .await?
            .ok_or_else(|| DbErr::Custom(format!("no answer counting {table}")))?;
        parts.push(format!(
            "{table}:{}:{}:{}",
            s.n,
            s.max_id.unwrap_or(0),
            s.latest.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    Ok(parts.join(","))
}

pub async fn old_roles<C: ConnectionTrait>(old: &C) -> Result<Vec<OldRole>, DbErr> {
    OldRole::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT id, name FROM roles ORDER BY id",
        vec![],
    ))
    .all(old)
    .await
}

/// Up to `limit` users' identities after id `after`, by id.
pub async fn old_identities<C: ConnectionTrait>(
    old: &C,
    after: i32,
    limit: u64,
) -> Result<Vec<OldIdentity>, DbErr> {
    OldIdentity::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT id, username, email, last_seen FROM users WHERE id > $1 ORDER BY id LIMIT $2",
        vec![after.into(), (limit as i64).into()],
    ))
    .all(old)
    .await
}

pub async fn old_users<C: ConnectionTrait>(
    old: &C,
    after: i32,
    limit: u64,
) -> Result<Vec<OldUser>, DbErr> {
    OldUser::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT id, role_id, password_hash, confirmed, name, location, bio AS about_me \
         FROM users WHERE id > $1 ORDER BY id LIMIT $2",
        vec![after.into(), (limit as i64).into()],
    ))
    .all(old)
    .await
}

pub async fn old_compositions<C: ConnectionTrait>(
    old: &C,
    after: i32,
    limit: u64,
) -> Result<Vec<OldComposition>, DbErr> {
    OldComposition::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT id, release_type, title, description, \"timestamp\", artist_id, slug \
         FROM compositions WHERE id > $1 ORDER BY id LIMIT $2",
        vec![after.into(), (limit as i64).into()],
    ))
    .all(old)
    .await
}

/// Up to `limit` follows after the pair `after`, in primary-key order. A row-value comparison:
/// PostgreSQL reads it as a range of the primary key, where `a > x OR (a = x AND b > y)` made
/// every batch scan the index from its start.
pub async fn old_follows<C: ConnectionTrait>(
    old: &C,
    after: (i32, i32),
    limit: u64,
) -> Result<Vec<OldFollow>, DbErr> {
    OldFollow::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT follower_id, following_id, \"timestamp\" FROM follows \
         WHERE (follower_id, following_id) > ($1, $2) \
         ORDER BY follower_id, following_id LIMIT $3",
        vec![after.0.into(), after.1.into(), (limit as i64).into()],
    ))
    .all(old)
    .await
}

/// How many compositions have no artist.
pub async fn old_orphans<C: ConnectionTrait>(old: &C) -> Result<i64, DbErr> {
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    Ok(N::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT count(*) AS n FROM compositions WHERE artist_id IS NULL",
        vec![],
    ))
    .one(old)
    .await?
    .map_or(0, |r| r.n))
}

/// Each user's first composition and first follow (given or received, self-follows aside:
/// the old `deploy` command added those long after people joined), one row per user.
pub async fn old_earliest_traces<C: ConnectionTrait>(old: &C) -> Result<Vec<Earliest>, DbErr> {
    Earliest::find_by_statement(stmt(
        old.get_database_backend(),
        "SELECT id, min(at) AS at FROM ( \
             SELECT artist_id AS id, min(\"timestamp\") AS at FROM compositions \
                 WHERE artist_id IS NOT NULL GROUP BY artist_id \
             UNION ALL SELECT follower_id, min(\"timestamp\") FROM follows \
                 WHERE follower_id <> following_id GROUP BY follower_id \
             UNION ALL SELECT following_id, min(\"timestamp\") FROM follows \
                 WHERE follower_id <> following_id GROUP BY following_id \
         ) traces GROUP BY id",
        vec![],
    ))
    .all(old)
    .await
}

// ----- Bookkeeping in our database ---------------------------------------------------------

// The tables are made by the migrations m20261206_000001_flask_import and
// m20261207_000001_flask_usernames.

/// A previous import: when, and what it said.
#[derive(Debug, Clone, FromQueryResult)]
pub struct PreviousImport {
    pub fingerprint: String,
    pub imported_at: String,
    pub summary: String,
}

pub async fn previous_imports<C: ConnectionTrait>(db: &C) -> Result<Vec<PreviousImport>, DbErr> {
    PreviousImport::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT fingerprint, imported_at, summary FROM flask_imports ORDER BY imported_at",
        vec![],
    ))
    .all(db)
    .await
}

pub async fn record_import<C: ConnectionTrait>(
    db: &C,
    fingerprint: &str,
    imported_at: &str,
    summary: &str,
) -> Result<(), DbErr> {
    db.execute_raw(stmt(
        db.get_database_backend(),
        "INSERT INTO flask_imports (fingerprint, imported_at, summary) VALUES ($1, $2, $3)",
        vec![fingerprint.into(), imported_at.into(), summary.into()],
    ))
    .await?;
    Ok(())
}

/// Users that did not come from an import (all of them if nothing was ever imported).
pub async fn users_not_imported<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    #[derive(FromQueryResult)]
    struct N {
        n: i64,
    }
    let sql = "SELECT count(*) AS n FROM users WHERE id NOT IN (SELECT user_id FROM flask_users)";
    Ok(
        N::find_by_statement(stmt(db.get_database_backend(), sql, vec![]))
            .one(db)
            .await?
            .map_or(0, |r| r.n),
    )
}

/// Every user id of ours (for `--merge`: the ids an imported user cannot keep).
pub async fn user_ids<C: ConnectionTrait>(db: &C) -> Result<Vec<i32>, DbErr> {
    use sea_orm::QuerySelect;
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// Our composition ids between `from` and `to` (both included).
pub async fn composition_ids_between<C: ConnectionTrait>(
    db: &C,
    from: i32,
    to: i32,
) -> Result<Vec<i32>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    composition::Entity::find()
        .select_only()
        .column(composition::Column::Id)
        .filter(composition::Column::Id.between(from, to))
        .into_tuple()
        .all(db)
        .await
}

/// The highest user and composition ids of ours (0 when there are none).
pub async fn max_ids<C: ConnectionTrait>(db: &C) -> Result<(i32, i32), DbErr> {
    #[derive(FromQueryResult)]
    struct M {
        users: Option<i32>,
        compositions: Option<i32>,
    }
    let m = M::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT (SELECT max(id) FROM users) AS users, \
         (SELECT max(id) FROM compositions) AS compositions",
        vec![],
    ))
    .one(db)
    .await?;
    Ok(m.map_or((0, 0), |m| {
        (m.users.unwrap_or(0), m.compositions.unwrap_or(0))
    }))
}

/// Every username and address of ours, as the unique indexes compare them (lower-cased).
pub async fn taken_names<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, String)>, DbErr> {
    Ok(user::names_and_emails(db)
        .await?
        .into_iter()
        .map(|(u, e)| (u.to_lowercase(), e.to_lowercase()))
        .collect())
}

/// Insert users with their ids and mark them as imported (`old_id`: their id on the old site,
/// none for an account the import made up).
pub async fn insert_users<C: ConnectionTrait>(
    db: &C,
    rows: Vec<user::ActiveModel>,
    old_ids: Vec<(i32, Option<i32>)>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    user::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    let backend = db.get_database_backend();
    for chunk in old_ids.chunks(10_000) {
        let mut sql = String::from("INSERT INTO flask_users (user_id, old_id) VALUES ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
        for (i, (id, old)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
            values.push((*id).into());
            values.push((*old).into());
        }
        db.execute_raw(stmt(backend, &sql, values)).await?;
    }
    Ok(())
}

/// Remember the old usernames of renamed accounts: `(old username, user id)`.
pub async fn insert_renamed_users<C: ConnectionTrait>(
    db: &C,
    rows: &[(String, i32)],
) -> Result<(), DbErr> {
    for chunk in rows.chunks(10_000) {
        insert_rows(
            db,
            "flask_usernames",
            &["old_username", "user_id"],
            chunk,
            |(old, id)| vec![old.clone().into(), (*id).into()],
        )
        .await?;
    }
    Ok(())
}

/// The current username of the account an old username named, when the import renamed it.
pub async fn renamed_user<C: ConnectionTrait>(
    db: &C,
    old_username: &str,
) -> Result<Option<String>, DbErr> {
    if old_username.contains('\0') {
        return Ok(None);
    }
    #[derive(FromQueryResult)]
    struct Name {
        username: String,
    }
    let found = Name::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT u.username FROM flask_usernames f JOIN users u ON u.id = f.user_id \
         WHERE f.old_username = $1",
        vec![old_username.into()],
    ))
    .one(db)
    .await?;
    Ok(found.map(|n| n.username))
}

/// A composition as the import writes it (its counts and keywords are the database's).
#[derive(Debug, Clone)]
pub struct NewComposition {
    pub id: i32,
    pub release_type: i16,
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub timestamp: DateTime<Utc>,
    pub artist_id: i32,
}

#[derive(Debug, Clone)]
pub struct NewFollow {
    pub follower_id: i32,
    pub followed_id: i32,
    pub timestamp: DateTime<Utc>,
}

/// Where compositions and follows go first. On PostgreSQL: temporary tables without triggers
/// or indexes (dropped at the end of the transaction), moved into the real tables by one
/// INSERT … SELECT each at the end. The counting triggers then run once, and each counted user
/// row is updated once, where batch by batch every batch updated thousands of users (the
/// artists and followers of its rows are spread over everybody), each update a new version of
/// the row and of its index entries. On SQLite the triggers run per row anyway: straight in.
///
/// In bulk mode (a database with nobody of its own, so no visitor to lock out), the foreign
/// keys of the tables filled are dropped for the move and added again after it, as
/// PostgreSQL's "Populating a Database" advises: one check of all rows at the end instead of
/// one lookup per row for each key (1M compositions and 2M follows make 6M lookups; measured
/// apart in psql, the per-row checks took 6 s of the compositions' move and 18 s of the
/// follows').
#[derive(Debug, Clone, Copy)]
pub struct Staging {
    postgres: bool,
    bulk: bool,
}

const STAGED_COMPOSITIONS: &str = "flask_staging_compositions";
const STAGED_FOLLOWS: &str = "flask_staging_follows";
const COMPOSITION_COLUMNS: [&str; 7] = [
    "id",
    "release_type",
    "title",
    "description",
    "description_html",
    "timestamp",
    "artist_id",
];
const FOLLOW_COLUMNS: [&str; 3] = ["follower_id", "followed_id", "timestamp"];

impl Staging {
    /// `bulk`: the database has no users of its own (see [`Staging`]).
    pub async fn begin<C: ConnectionTrait>(db: &C, bulk: bool) -> Result<Staging, DbErr> {
        let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
        if postgres {
            for (staged, table) in [
                (STAGED_COMPOSITIONS, "compositions"),
                (STAGED_FOLLOWS, "follows"),
            ] {
                db.execute_unprepared(&format!(
                    "CREATE TEMPORARY TABLE {staged} (LIKE {table} INCLUDING DEFAULTS) \
                     ON COMMIT DROP"
                ))
                .await?;
            }
        }
        Ok(Staging { postgres, bulk })
    }

    fn table(self, staged: &'static str, table: &'static str) -> &'static str {
        if self.postgres { staged } else { table }
    }

    pub async fn compositions<C: ConnectionTrait>(
        self,
        db: &C,
        rows: &[NewComposition],
    ) -> Result<(), DbErr> {
        let table = self.table(STAGED_COMPOSITIONS, "compositions");
        insert_rows(db, table, &COMPOSITION_COLUMNS, rows, |c| {
            vec![
                c.id.into(),
                c.release_type.into(),
                c.title.clone().into(),
                c.description.clone().into(),
                c.description_html.clone().into(),
                c.timestamp.into(),
                c.artist_id.into(),
            ]
        })
        .await
    }

    pub async fn follows<C: ConnectionTrait>(
        self,
        db: &C,
        rows: &[NewFollow],
    ) -> Result<(), DbErr> {
        let table = self.table(STAGED_FOLLOWS, "follows");
        insert_rows(db, table, &FOLLOW_COLUMNS, rows, |f| {
            vec![
                f.follower_id.into(),
                f.followed_id.into(),
                f.timestamp.into(),
            ]
        })
        .await
    }

    /// Move the staged compositions into `compositions` (PostgreSQL; nothing on SQLite).
    pub async fn flush_compositions<C: ConnectionTrait>(self, db: &C) -> Result<(), DbErr> {
        // The search documents are written by a trigger, with a foreign key of their own.
        self.flush(
            db,
            STAGED_COMPOSITIONS,
            "compositions",
            &COMPOSITION_COLUMNS,
            &["compositions", "composition_documents"],
        )
        .await
    }

    /// Move the staged follows into `follows` (PostgreSQL; nothing on SQLite).
    pub async fn flush_follows<C: ConnectionTrait>(self, db: &C) -> Result<(), DbErr> {
        self.flush(db, STAGED_FOLLOWS, "follows", &FOLLOW_COLUMNS, &["follows"])
            .await
    }

    async fn flush<C: ConnectionTrait>(
        self,
        db: &C,
        staged: &str,
        table: &str,
        columns: &[&str],
        checked: &[&str],
    ) -> Result<(), DbErr> {
        if !self.postgres {
            return Ok(());
        }
        let dropped = if self.bulk {
            drop_foreign_keys(db, checked).await?
        } else {
            Vec::new()
        };
        let columns = columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        // Staged in key order (read so), and a scan of a fresh table returns that order: the
        // indexes are filled page after page without a sort.
        db.execute_unprepared(&format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staged}; TRUNCATE {staged}"
        ))
        .await?;
        for key in dropped {
            db.execute_unprepared(&format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {}",
                key.table,
                quoted(&key.name),
                key.definition
            ))
            .await?;
        }
        Ok(())
    }
}

/// A foreign key dropped for a bulk move, as PostgreSQL defines it.
#[derive(Debug, FromQueryResult)]
struct ForeignKey {
    table: String,
    name: String,
    definition: String,
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Drop the foreign keys of `tables` (PostgreSQL), returning them to be added again.
async fn drop_foreign_keys<C: ConnectionTrait>(
    db: &C,
    tables: &[&str],
) -> Result<Vec<ForeignKey>, DbErr> {
    let mut keys = Vec::new();
    for table in tables {
        let of_table = ForeignKey::find_by_statement(stmt(
            DatabaseBackend::Postgres,
            "SELECT $1 AS \"table\", conname::text AS name, \
             pg_get_constraintdef(oid) AS definition FROM pg_constraint \
             WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname",
            vec![(*table).into()],
        ))
        .all(db)
        .await?;
        for key in &of_table {
            db.execute_unprepared(&format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                key.table,
                quoted(&key.name)
            ))
            .await?;
        }
        keys.extend(of_table);
    }
    Ok(keys)
}

/// One multi-row INSERT of `rows` into `table`.
async fn insert_rows<C: ConnectionTrait, T>(
    db: &C,
    table: &str,
    columns: &[&str],
    rows: &[T],
    values: impl Fn(&T) -> Vec<Value>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(table))
        .columns(columns.iter().map(|c| Alias::new(*c)));
    for row in rows {
        insert.values_panic(values(row).into_iter().map(Expr::from));
    }
    db.execute_raw(db.get_database_backend().build(&insert))
        .await?;
    Ok(())
}

/// Old slugs of compositions that got a new id (which may still be staged: the foreign key is
/// checked at commit).
pub async fn insert_redirects<C: ConnectionTrait>(
    db: &C,
    rows: &[(String, i32)],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    for chunk in rows.chunks(10_000) {
        let mut sql =
            String::from("INSERT INTO flask_redirects (old_slug, composition_id) VALUES ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
        for (i, (slug, id)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
            values.push(slug.clone().into());
            values.push((*id).into());
        }
        // The stored slug and the one computed from the title are often the same.
        sql.push_str(" ON CONFLICT (old_slug) DO NOTHING");
        db.execute_raw(stmt(backend, &sql, values)).await?;
    }
    Ok(())
}

/// Every imported user follows themself (the feed shows their own work); adds the missing
/// ones, since they joined. Returns the old ids of the users concerned.
pub async fn add_missing_self_follows<C: ConnectionTrait>(db: &C) -> Result<Vec<i32>, DbErr> {
    #[derive(FromQueryResult)]
    struct Id {
        old_id: i32,
    }
    const MISSING: &str = "FROM users u JOIN flask_users fu ON fu.user_id = u.id \
         WHERE fu.old_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM follows f \
             WHERE f.follower_id = u.id AND f.followed_id = u.id)";
    let backend = db.get_database_backend();
    let missing: Vec<i32> = Id::find_by_statement(stmt(
        backend,
        &format!("SELECT fu.old_id {MISSING} ORDER BY fu.old_id"),
        vec![],
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|r| r.old_id)
    .collect();
    if !missing.is_empty() {
        db.execute_raw(stmt(
            backend,
            &format!(
                "INSERT INTO follows (follower_id, followed_id, \"timestamp\") \
                 SELECT u.id, u.id, u.member_since {MISSING}"
            ),
            vec![],
        ))
        .await?;
    }
    Ok(missing)
}

/// On PostgreSQL, move the id sequences of users and compositions past the highest id, so the
/// next registration does not collide with an imported row. (SQLite's AUTOINCREMENT already
/// remembers the largest id ever inserted.) Not transactional on PostgreSQL: call it last.
pub async fn advance_sequences<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for table in ["users", "compositions"] {
        db.execute_unprepared(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             (SELECT COALESCE(max(id), 0) + 1 FROM {table}), false)"
        ))
        .await?;
    }
    Ok(())
}

/// An advisory lock held until the transaction ends: two imports never run at once.
pub async fn lock<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        // "FLASKIMP" in ASCII, apart from deploy's key.
        db.execute_unprepared("SELECT pg_advisory_xact_lock(5064670058563980624)")
            .await?;
    }
    Ok(())
}

/// The composition an old slug now names, when the import had to give it a new id; `None`
/// on a site that never imported.
pub async fn moved_composition<C: ConnectionTrait>(
    db: &C,
    old_slug: &str,
) -> Result<Option<composition::Model>, DbErr> {
    if old_slug.contains('\0') {
        return Ok(None);
    }
    #[derive(FromQueryResult)]
    struct Id {
        composition_id: i32,
    }
    let found = Id::find_by_statement(stmt(
        db.get_database_backend(),
        "SELECT composition_id FROM flask_redirects WHERE old_slug = $1",
        vec![old_slug.into()],
    ))
    .one(db)
    .await?;
    match found {
        Some(r) => composition::find(db, r.composition_id).await,
        None => Ok(None),
    }
}

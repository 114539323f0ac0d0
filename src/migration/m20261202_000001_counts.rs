//! Counts kept with the data they count, so that no page counts rows: each user's followers,
//! followed users (the self-follow never counted) and compositions, each composition's
//! comments, and the totals of every composition and every comment (`counters`).
//!
//! Triggers keep them, on both databases, in the transaction of the change itself: every
//! write path (the site, the API, `seed`, an import, a cascade) is counted, and two racing
//! transactions each add their own +1 under the row lock of the counted row. On PostgreSQL the
//! triggers run once per statement over its transition table, so a bulk insert of thousands of
//! rows makes one update per counted row, not one per inserted row; the rows to be counted are
//! locked in id order first, so two transactions that touch the same users (A follows B while B
//! follows A) cannot deadlock. The lock is FOR NO KEY UPDATE, the one an UPDATE of a count
//! takes: it leaves alone the KEY SHARE locks that the foreign-key checks of concurrent inserts
//! hold on the same rows, which a FOR UPDATE would wait for while they wait for it. SQLite has
//! only row triggers, and one writer at a time.
//!
//! The migration fills the counts of the data already there, then the follows lists get
//! indexes that end with the other user's id, the tie-breaker of their keyset order.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    FollowersCount,
    FollowingCount,
    CompositionsCount,
}

#[derive(DeriveIden)]
enum Compositions {
    Table,
    CommentsCount,
}

#[derive(DeriveIden)]
enum Counters {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FollowedId,
    Timestamp,
}

/// What each counted table adds to which counts: (table, [(counted table, its count column,
/// the changed row's column naming the counted row)], the `counters` row it adds to).
/// A count: (the counted table, its count column, the changed row's column naming its row).
type Count = (&'static str, &'static str, &'static str);
/// A counted table: (its name, the counts it adds to, its `counters` row).
type Counted = (&'static str, &'static [Count], Option<&'static str>);

const COUNTED: [Counted; 3] = [
    (
        "follows",
        &[
            ("users", "followers_count", "followed_id"),
            ("users", "following_count", "follower_id"),
        ],
        None,
    ),
    (
        "compositions",
        &[("users", "compositions_count", "artist_id")],
        Some("compositions"),
    ),
    (
        "comments",
        &[("compositions", "comments_count", "composition_id")],
        Some("comments"),
    ),
];

/// Only follows between two users count: the self-follow is everyone's, and hidden.
fn counted_rows(table: &str) -> &'static str {
    if table == "follows" {
        "follower_id <> followed_id"
    } else {
        "TRUE"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Users::FollowersCount,
            Users::FollowingCount,
            Users::CompositionsCount,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(integer(column).default(0))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Compositions::Table)
                    .add_column(integer(Compositions::CommentsCount).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Counters::Table)
                    .col(string_len(Counters::Name, 32).primary_key())
                    .col(big_integer(Counters::Value).default(0))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        for (table, counts, counter) in COUNTED {
            let sql = if postgres {
                postgres_triggers(table, counts, counter)
            } else {
                sqlite_triggers(table, counts, counter)
            };
            db.execute_unprepared(&sql).await?;
        }

        // The counts of what is already there.
        db.execute_unprepared(
            "UPDATE users SET \
             followers_count = (SELECT count(*) FROM follows f \
                 WHERE f.followed_id = users.id AND f.follower_id <> users.id), \
             following_count = (SELECT count(*) FROM follows f \
                 WHERE f.follower_id = users.id AND f.followed_id <> users.id), \
             compositions_count = (SELECT count(*) FROM compositions c \
                 WHERE c.artist_id = users.id)",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE compositions SET comments_count = (SELECT count(*) FROM comments c \
             WHERE c.composition_id = compositions.id)",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO counters (name, value) \
             SELECT 'compositions', count(*) FROM compositions \
             UNION ALL SELECT 'comments', count(*) FROM comments",
        )
        .await?;

        // The follows lists' order: newest first, then by the other user's id.
        for (name, own, other) in [
            (
                "ix_follows_followed_id_timestamp_follower_id",
                Follows::FollowedId,
                Follows::FollowerId,
            ),
            (
                "ix_follows_follower_id_timestamp_followed_id",
                Follows::FollowerId,
                Follows::FollowedId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Follows::Table)
                        .col(own)
                        .col(Follows::Timestamp)
                        .col(other)
                        .to_owned(),
                )
                .await?;
        }
        for old in [
            "ix_follows_follower_id_timestamp",
            "ix_follows_followed_id_timestamp",
        ] {
            manager
                .drop_index(Index::drop().name(old).table(Follows::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// One function per counted table, run after each INSERT and each DELETE statement with the
/// rows it changed (`changed`).
fn postgres_triggers(table: &str, counts: &[Count], counter: Option<&str>) -> String {
    let only = counted_rows(table);
    // Lock every row about to change, in one order, before changing any.
    let owners = counts
        .iter()
        .map(|(_, _, by)| format!("SELECT {by} FROM changed WHERE {only}"))
        .collect::<Vec<_>>()
        .join(" UNION ");
    let owner_table = counts[0].0;
    let mut body = format!(
        "PERFORM 1 FROM {owner_table} WHERE id IN ({owners}) ORDER BY id FOR NO KEY UPDATE;\n"
    );
    for (owner, column, by) in counts {
        body.push_str(&format!(
            "UPDATE {owner} o SET {column} = o.{column} + sign * d.n \
             FROM (SELECT {by} AS id, count(*) AS n FROM changed WHERE {only} GROUP BY {by}) d \
             WHERE o.id = d.id;\n"
        ));
    }
    if let Some(name) = counter {
        body.push_str(&format!(
            "UPDATE counters SET value = value + sign * (SELECT count(*) FROM changed) \
             WHERE name = '{name}';\n"
        ));
    }
    format!(
        "CREATE FUNCTION count_{table}() RETURNS trigger LANGUAGE plpgsql AS $$\n\
         DECLARE sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;\n\
         BEGIN\n{body}RETURN NULL;\nEND $$;\n\
         CREATE TRIGGER count_{table}_insert AFTER INSERT ON {table} \
         REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_{table}();\n\
         CREATE TRIGGER count_{table}_delete AFTER DELETE ON {table} \
         REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_{table}();"
    )
}

/// A row trigger for each of INSERT and DELETE.
fn sqlite_triggers(table: &str, counts: &[Count], counter: Option<&str>) -> String {
    let mut sql = String::new();
    for (event, row, sign) in [("INSERT", "NEW", "+"), ("DELETE", "OLD", "-")] {
        let only = counted_rows(table)
            .replace("follower_id", &format!("{row}.follower_id"))
            .replace("followed_id", &format!("{row}.followed_id"));
        let mut body = String::new();
        for (owner, column, by) in counts {
            body.push_str(&format!(
                "UPDATE {owner} SET {column} = {column} {sign} 1 WHERE id = {row}.{by};\n"
            ));
        }
        if let Some(name) = counter {
            body.push_str(&format!(
                "UPDATE counters SET value = value {sign} 1 WHERE name = '{name}';\n"
            ));
        }
        let lower = event.to_lowercase();
        sql.push_str(&format!(
            "CREATE TRIGGER count_{table}_{lower} AFTER {event} ON {table} \
             WHEN {only} BEGIN\n{body}END;\n"
        ));
    }
    sql
}

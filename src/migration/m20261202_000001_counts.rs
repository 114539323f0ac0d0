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

use super::counting::{Counted, postgres_triggers, sqlite_triggers};

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

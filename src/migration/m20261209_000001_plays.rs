//! Plays and trending (issue 26, items 4 and 5).
//!
//! - `plays`: one row per counted play (a listener heard 30 s of a track, or all of a shorter
//!   one), kept an hour for the rule "one play per listener, track and hour", then pruned. Each
//!   new row adds one to `tracks.plays_count` and `compositions.plays_count` (a trigger on
//!   INSERT only: pruning leaves the counts alone). A deleted track takes its plays from its
//!   composition's count.
//! - `trending_events`: the plays and likes of the last seven days, each with its weight; a
//!   sweep removes those older than a week and takes them back out of the scores.
//! - `trending`: one row per composition played or liked this week, with its score: the sum of
//!   its events' weights, each halved for every day of its age, kept as the base-2 logarithm
//!   of that sum scaled to the same moment for all rows (see `models::trending`), so the
//!   order never needs recomputing as time passes. The list is one range of the index
//!   `(score, composition_id)`; `counters.trending` says how many rows there are.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use super::counting::{Count, postgres_insert_trigger, sqlite_insert_trigger};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tracks {
    Table,
    Id,
    PlaysCount,
}

#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
    PlaysCount,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Plays {
    Table,
    Id,
    TrackId,
    CompositionId,
    Listener,
    Timestamp,
}

#[derive(DeriveIden)]
enum TrendingEvents {
    Table,
    Id,
    CompositionId,
    UserId,
    Weight,
    Timestamp,
}

#[derive(DeriveIden)]
enum Trending {
    Table,
    CompositionId,
    Score,
    Events,
}

const PLAY_COUNTS: [Count; 2] = [
    ("tracks", "plays_count", "track_id"),
    ("compositions", "plays_count", "composition_id"),
];

const POSTGRES_TRACK_DELETE: &str = r#"
CREATE FUNCTION uncount_track_plays() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE compositions c SET plays_count = c.plays_count - d.n
        FROM (SELECT composition_id, sum(plays_count) AS n FROM changed
              WHERE plays_count > 0 GROUP BY composition_id) d
        WHERE c.id = d.composition_id;
    RETURN NULL;
END $$;
CREATE TRIGGER uncount_track_plays AFTER DELETE ON tracks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION uncount_track_plays();
CREATE FUNCTION count_trending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    UPDATE counters SET value = value + sign * (SELECT count(*) FROM changed)
        WHERE name = 'trending';
    RETURN NULL;
END $$;
CREATE TRIGGER count_trending_insert AFTER INSERT ON trending
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_trending();
CREATE TRIGGER count_trending_delete AFTER DELETE ON trending
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION count_trending();
"#;

const SQLITE_TRACK_DELETE: &str = r#"
CREATE TRIGGER uncount_track_plays AFTER DELETE ON tracks WHEN OLD.plays_count > 0 BEGIN
    UPDATE compositions SET plays_count = plays_count - OLD.plays_count
        WHERE id = OLD.composition_id;
END;
CREATE TRIGGER count_trending_insert AFTER INSERT ON trending BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'trending';
END;
CREATE TRIGGER count_trending_delete AFTER DELETE ON trending BEGIN
    UPDATE counters SET value = value - 1 WHERE name = 'trending';
END;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tracks::Table)
                    .add_column(big_integer(Tracks::PlaysCount).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Compositions::Table)
                    .add_column(big_integer(Compositions::PlaysCount).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Plays::Table)
                    .col(pk_auto(Plays::Id))
                    .col(integer(Plays::TrackId))
                    .col(integer(Plays::CompositionId))
                    // `u<user id>` or `a<anonymous id>`.
                    .col(string_len(Plays::Listener, 48))
                    .col(timestamp_with_time_zone(Plays::Timestamp))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plays_track_id")
                            .from(Plays::Table, Plays::TrackId)
                            .to(Tracks::Table, Tracks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plays_composition_id")
                            .from(Plays::Table, Plays::CompositionId)
                            .to(Compositions::Table, Compositions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Whether this listener's play of this track was counted within the hour.
        manager
            .create_index(
                Index::create()
                    .name("ix_plays_track_id_listener_timestamp")
                    .table(Plays::Table)
                    .col(Plays::TrackId)
                    .col(Plays::Listener)
                    .col(Plays::Timestamp)
                    .to_owned(),
            )
            .await?;
        // The foreign key's, and the pruning's.
        for (name, column) in [
            ("ix_plays_composition_id", Plays::CompositionId),
            ("ix_plays_timestamp", Plays::Timestamp),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Plays::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TrendingEvents::Table)
                    .col(pk_auto(TrendingEvents::Id))
                    .col(integer(TrendingEvents::CompositionId))
                    // The liker, so an unlike takes its like back; none for a play.
                    .col(integer_null(TrendingEvents::UserId))
                    .col(small_integer(TrendingEvents::Weight))
                    .col(timestamp_with_time_zone(TrendingEvents::Timestamp))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_trending_events_composition_id")
                            .from(TrendingEvents::Table, TrendingEvents::CompositionId)
                            .to(Compositions::Table, Compositions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_trending_events_user_id")
                            .from(TrendingEvents::Table, TrendingEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            // The sweep: the oldest first.
            (
                "ix_trending_events_timestamp_id",
                vec![TrendingEvents::Timestamp, TrendingEvents::Id],
            ),
            // An unlike finds its like.
            (
                "ix_trending_events_composition_id_user_id",
                vec![TrendingEvents::CompositionId, TrendingEvents::UserId],
            ),
            ("ix_trending_events_user_id", vec![TrendingEvents::UserId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(TrendingEvents::Table);
            for c in columns {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Trending::Table)
                    .col(integer(Trending::CompositionId).primary_key())
                    .col(big_integer(Trending::Score))
                    .col(integer(Trending::Events).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_trending_composition_id")
                            .from(Trending::Table, Trending::CompositionId)
                            .to(Compositions::Table, Compositions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_trending_score_composition_id")
                    .table(Trending::Table)
                    .col(Trending::Score)
                    .col(Trending::CompositionId)
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(&postgres_insert_trigger("plays", &PLAY_COUNTS))
                .await?;
            db.execute_unprepared(POSTGRES_TRACK_DELETE).await?;
        } else {
            db.execute_unprepared(&sqlite_insert_trigger("plays", &PLAY_COUNTS))
                .await?;
            db.execute_unprepared(SQLITE_TRACK_DELETE).await?;
        }
        db.execute_unprepared("INSERT INTO counters (name, value) VALUES ('trending', 0)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS uncount_track_plays ON tracks;
                 DROP FUNCTION IF EXISTS uncount_track_plays();",
            )
            .await?;
        } else {
            db.execute_unprepared("DROP TRIGGER IF EXISTS uncount_track_plays;")
                .await?;
        }
        for table in ["trending", "trending_events", "plays"] {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_unprepared(
                "DROP FUNCTION IF EXISTS count_plays(); DROP FUNCTION IF EXISTS count_trending();",
            )
            .await?;
        }
        db.execute_unprepared("DELETE FROM counters WHERE name = 'trending'")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tracks::Table)
                    .drop_column(Tracks::PlaysCount)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Compositions::Table)
                    .drop_column(Compositions::PlaysCount)
                    .to_owned(),
            )
            .await
    }
}

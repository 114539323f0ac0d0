//! Discovery: tags, likes, full-text search and the people directory.
//!
//! - `tags` and `composition_tags` (up to five per composition, in the order typed); each
//!   link repeats its composition's timestamp so that a tag page is one index range,
//!   `(tag_id, timestamp, composition_id)`, read from a cursor like every other list.
//! - `likes`, one per user and composition, counted in `compositions.likes_count`; tags are
//!   counted in `tags.compositions_count` (both by the triggers of `counting`).
//! - `compositions.keywords`: the tags and track titles of a composition, kept by triggers
//!   from those tables, so that search finds a composition by them without a join.
//! - Search: on PostgreSQL a `tsvector` per composition and per user (text search
//!   configuration `ragtime`: English stemming after `unaccent`, so `cafe` finds `Café`) with
//!   GIN indexes; on SQLite, FTS5 tables over the same columns (external content, kept in step
//!   by triggers; `porter unicode61 remove_diacritics 2` folds case and accents and stems).
//! - Indexes for the people directory: newest members, most followed.
//!
//! PostgreSQL's documents live in tables of their own (`composition_documents`,
//! `user_documents`), computed by triggers when the text they are made of changes. A generated
//! column on `compositions` and `users` was tried first: PostgreSQL recomputes a stored
//! generated column on every UPDATE of its row, and these rows are updated all the time for
//! other reasons (comment, like and follower counts, `last_seen`); each such update then also
//! re-parsed the text and, being no HOT update, inserted every word into the GIN index again.
//! Seeding 2 M comments went from about 2 minutes to over 40; the documents also doubled the
//! size of `compositions`, which every feed reads.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use super::counting::{Counted, postgres_triggers, sqlite_triggers};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    MemberSince,
    FollowersCount,
}

#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
    LikesCount,
    Keywords,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Name,
    CompositionsCount,
}

#[derive(DeriveIden)]
enum CompositionTags {
    Table,
    CompositionId,
    TagId,
    Position,
    Timestamp,
}

#[derive(DeriveIden)]
enum Likes {
    Table,
    UserId,
    CompositionId,
    Timestamp,
}

const COUNTED: [Counted; 2] = [
    (
        "composition_tags",
        &[("tags", "compositions_count", "tag_id")],
        None,
    ),
    (
        "likes",
        &[("compositions", "likes_count", "composition_id")],
        None,
    ),
];

/// PostgreSQL: the text search configuration, the documents and the triggers that compute
/// them from the rows' text (only when that text changes), then the documents of the rows
/// already there.
const POSTGRES_SEARCH: &str = r#"
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION ragtime (COPY = english);
ALTER TEXT SEARCH CONFIGURATION ragtime
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH unaccent, english_stem;

CREATE FUNCTION composition_document(title text, keywords text, description text)
RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector('ragtime'::regconfig, title), 'A')
        || setweight(to_tsvector('ragtime'::regconfig, keywords), 'B')
        || setweight(to_tsvector('ragtime'::regconfig, description), 'C')
$$;
CREATE FUNCTION user_document(username text, name text, location text, about_me text)
RETURNS tsvector LANGUAGE sql IMMUTABLE AS $$
    SELECT setweight(to_tsvector('ragtime'::regconfig,
            username || ' ' || translate(username, '._', '  ') || ' ' || coalesce(name, '')), 'A')
        || setweight(to_tsvector('ragtime'::regconfig, coalesce(location, '')), 'B')
        || setweight(to_tsvector('ragtime'::regconfig, coalesce(about_me, '')), 'C')
$$;

CREATE TABLE composition_documents (
    composition_id integer PRIMARY KEY REFERENCES compositions (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
CREATE INDEX ix_composition_documents_document ON composition_documents USING GIN (document);
CREATE TABLE user_documents (
    user_id integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
CREATE INDEX ix_user_documents_document ON user_documents USING GIN (document);

CREATE FUNCTION write_composition_documents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO composition_documents (composition_id, document)
        SELECT id, composition_document(title, keywords, description) FROM changed
        ON CONFLICT (composition_id) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END $$;
CREATE FUNCTION write_composition_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE composition_documents
        SET document = composition_document(NEW.title, NEW.keywords, NEW.description)
        WHERE composition_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER composition_documents_insert AFTER INSERT ON compositions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION write_composition_documents();
CREATE TRIGGER composition_documents_update AFTER UPDATE OF title, keywords, description
    ON compositions FOR EACH ROW
    WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.keywords IS DISTINCT FROM NEW.keywords
        OR OLD.description IS DISTINCT FROM NEW.description)
    EXECUTE FUNCTION write_composition_document();

CREATE FUNCTION write_user_documents() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_documents (user_id, document)
        SELECT id, user_document(username, name, location, about_me) FROM changed
        ON CONFLICT (user_id) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END $$;
CREATE FUNCTION write_user_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_documents
        SET document = user_document(NEW.username, NEW.name, NEW.location, NEW.about_me)
        WHERE user_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER user_documents_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT
    EXECUTE FUNCTION write_user_documents();
CREATE TRIGGER user_documents_update AFTER UPDATE OF username, name, location, about_me
    ON users FOR EACH ROW
    WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.name IS DISTINCT FROM NEW.name
        OR OLD.location IS DISTINCT FROM NEW.location
        OR OLD.about_me IS DISTINCT FROM NEW.about_me)
    EXECUTE FUNCTION write_user_document();

INSERT INTO composition_documents (composition_id, document)
    SELECT id, composition_document(title, keywords, description) FROM compositions;
INSERT INTO user_documents (user_id, document)
    SELECT id, user_document(username, name, location, about_me) FROM users;
"#;

/// PostgreSQL: a composition's keywords, rebuilt for the compositions a statement on
/// `composition_tags` or `tracks` touched (`changed`).
const POSTGRES_KEYWORDS: &str = r#"
CREATE FUNCTION composition_keywords(composition integer) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT concat_ws(' ',
        (SELECT string_agg(t.name, ' ' ORDER BY ct.position)
            FROM composition_tags ct JOIN tags t ON t.id = ct.tag_id
            WHERE ct.composition_id = composition),
        (SELECT string_agg(tr.title, ' ' ORDER BY tr.position)
            FROM tracks tr WHERE tr.composition_id = composition))
$$;
CREATE FUNCTION refresh_keywords() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE compositions c SET keywords = composition_keywords(c.id)
        WHERE c.id IN (SELECT DISTINCT composition_id FROM changed);
    RETURN NULL;
END $$;
CREATE FUNCTION refresh_keywords_of_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE compositions c SET keywords = composition_keywords(c.id) WHERE c.id = NEW.composition_id;
    RETURN NULL;
END $$;
CREATE TRIGGER keywords_composition_tags_insert AFTER INSERT ON composition_tags
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION refresh_keywords();
CREATE TRIGGER keywords_composition_tags_delete AFTER DELETE ON composition_tags
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION refresh_keywords();
CREATE TRIGGER keywords_tracks_insert AFTER INSERT ON tracks
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION refresh_keywords();
CREATE TRIGGER keywords_tracks_delete AFTER DELETE ON tracks
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION refresh_keywords();
CREATE TRIGGER keywords_tracks_update AFTER UPDATE OF title, position ON tracks
    FOR EACH ROW EXECUTE FUNCTION refresh_keywords_of_row();
"#;

/// SQLite: the same keywords, row by row.
const SQLITE_KEYWORDS: &str = r#"
CREATE TRIGGER keywords_composition_tags_insert AFTER INSERT ON composition_tags BEGIN
    UPDATE compositions SET keywords = (SELECT KEYWORDS_OF_NEW) WHERE id = NEW.composition_id;
END;
CREATE TRIGGER keywords_composition_tags_delete AFTER DELETE ON composition_tags BEGIN
    UPDATE compositions SET keywords = (SELECT KEYWORDS_OF_OLD) WHERE id = OLD.composition_id;
END;
CREATE TRIGGER keywords_tracks_insert AFTER INSERT ON tracks BEGIN
    UPDATE compositions SET keywords = (SELECT KEYWORDS_OF_NEW) WHERE id = NEW.composition_id;
END;
CREATE TRIGGER keywords_tracks_delete AFTER DELETE ON tracks BEGIN
    UPDATE compositions SET keywords = (SELECT KEYWORDS_OF_OLD) WHERE id = OLD.composition_id;
END;
CREATE TRIGGER keywords_tracks_update AFTER UPDATE OF title, position ON tracks BEGIN
    UPDATE compositions SET keywords = (SELECT KEYWORDS_OF_NEW) WHERE id = NEW.composition_id;
END;
"#;

/// SQLite: a composition's keywords, `row` being `NEW` or `OLD`.
fn sqlite_keywords_of(row: &str) -> String {
    format!(
        "trim(coalesce((SELECT group_concat(name, ' ') FROM (SELECT t.name FROM composition_tags \
         ct JOIN tags t ON t.id = ct.tag_id WHERE ct.composition_id = {row}.composition_id \
         ORDER BY ct.position)), '') || ' ' || coalesce((SELECT group_concat(title, ' ') FROM \
         (SELECT title FROM tracks WHERE composition_id = {row}.composition_id ORDER BY \
         position)), ''))"
    )
}

/// SQLite: the FTS5 tables, and the triggers that keep them in step with their content.
fn sqlite_search() -> String {
    let mut sql = String::new();
    for (table, columns) in [
        ("compositions", "title, keywords, description"),
        ("users", "username, name, location, about_me"),
    ] {
        let values = |row: &str| {
            columns
                .split(", ")
                .map(|c| format!("{row}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (new, old) = (values("NEW"), values("OLD"));
        sql.push_str(&format!(
            "CREATE VIRTUAL TABLE {table}_search USING fts5({columns}, content='{table}', \
             content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');\n\
             CREATE TRIGGER {table}_search_insert AFTER INSERT ON {table} BEGIN \
             INSERT INTO {table}_search(rowid, {columns}) VALUES (NEW.id, {new}); END;\n\
             CREATE TRIGGER {table}_search_delete AFTER DELETE ON {table} BEGIN \
             INSERT INTO {table}_search({table}_search, rowid, {columns}) \
             VALUES ('delete', OLD.id, {old}); END;\n\
             CREATE TRIGGER {table}_search_update AFTER UPDATE OF {columns} ON {table} BEGIN \
             INSERT INTO {table}_search({table}_search, rowid, {columns}) \
             VALUES ('delete', OLD.id, {old}); \
             INSERT INTO {table}_search(rowid, {columns}) VALUES (NEW.id, {new}); END;\n\
             INSERT INTO {table}_search({table}_search) VALUES ('rebuild');\n"
        ));
    }
    sql
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Compositions::Table)
                    .add_column(integer(Compositions::LikesCount).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Compositions::Table)
                    .add_column(text(Compositions::Keywords).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(pk_auto(Tags::Id))
                    .col(string_len(Tags::Name, 32).unique_key())
                    .col(integer(Tags::CompositionsCount).default(0))
                    .to_owned(),
            )
            .await?;
        // The most used tags.
        manager
            .create_index(
                Index::create()
                    .name("ix_tags_compositions_count")
                    .table(Tags::Table)
                    .col(Tags::CompositionsCount)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CompositionTags::Table)
                    .col(integer(CompositionTags::CompositionId))
                    .col(integer(CompositionTags::TagId))
                    .col(small_integer(CompositionTags::Position))
                    .col(timestamp_with_time_zone(CompositionTags::Timestamp))
                    .primary_key(
                        Index::create()
                            .col(CompositionTags::CompositionId)
                            .col(CompositionTags::TagId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_composition_tags_composition_id")
                            .from(CompositionTags::Table, CompositionTags::CompositionId)
                            .to(Compositions::Table, Compositions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_composition_tags_tag_id")
                            .from(CompositionTags::Table, CompositionTags::TagId)
                            .to(Tags::Table, Tags::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A tag's page, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_composition_tags_tag_id_timestamp_composition_id")
                    .table(CompositionTags::Table)
                    .col(CompositionTags::TagId)
                    .col(CompositionTags::Timestamp)
                    .col(CompositionTags::CompositionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Likes::Table)
                    .col(integer(Likes::UserId))
                    .col(integer(Likes::CompositionId))
                    .col(timestamp_with_time_zone(Likes::Timestamp))
                    // Also whether a reader liked the compositions of a page.
                    .primary_key(Index::create().col(Likes::UserId).col(Likes::CompositionId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_likes_user_id")
                            .from(Likes::Table, Likes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_likes_composition_id")
                            .from(Likes::Table, Likes::CompositionId)
                            .to(Compositions::Table, Compositions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Who liked a composition, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_likes_composition_id_timestamp_user_id")
                    .table(Likes::Table)
                    .col(Likes::CompositionId)
                    .col(Likes::Timestamp)
                    .col(Likes::UserId)
                    .to_owned(),
            )
            .await?;
        // The people directory: newest members, most followed.
        for (name, column) in [
            ("ix_users_member_since_id", Users::MemberSince),
            ("ix_users_followers_count_id", Users::FollowersCount),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Users::Table)
                        .col(column)
                        .col(Users::Id)
                        .to_owned(),
                )
                .await?;
        }

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
        if postgres {
            db.execute_unprepared(POSTGRES_KEYWORDS).await?;
            // Tracks already there become keywords before the documents are generated.
            db.execute_unprepared(
                "UPDATE compositions c SET keywords = composition_keywords(c.id) \
                 WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.composition_id = c.id)",
            )
            .await?;
            db.execute_unprepared(POSTGRES_SEARCH).await?;
        } else {
            let sql = SQLITE_KEYWORDS
                .replace("KEYWORDS_OF_NEW", &sqlite_keywords_of("NEW"))
                .replace("KEYWORDS_OF_OLD", &sqlite_keywords_of("OLD"));
            db.execute_unprepared(&sql).await?;
            db.execute_unprepared(
                "UPDATE compositions SET keywords = trim(coalesce((SELECT group_concat(title, ' ') \
                 FROM (SELECT title FROM tracks t WHERE t.composition_id = compositions.id \
                 ORDER BY position)), '')) \
                 WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.composition_id = compositions.id)",
            )
            .await?;
            db.execute_unprepared(&sqlite_search()).await?;
        }
        Ok(())
    }
}

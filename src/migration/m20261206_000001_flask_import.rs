//! The bookkeeping of `ragtime import-flask` (issue 16), so that an import can be run again
//! safely and a moved link still answers:
//!
//! - `flask_imports`: each import done, by a fingerprint of the old data (a second run on the
//!   same data changes nothing), with when and what its report said;
//! - `flask_users`: which of our users came from the old site (without `--merge`, a database
//!   with users of its own is refused), and their old id;
//! - `flask_redirects`: the old slug of a composition that `--merge` gave a new id. Its foreign
//!   key is checked at commit, as the import writes the redirect and the composition in one
//!   transaction in either order.
//!
//! Plain SQL that both databases read alike: `DEFERRABLE INITIALLY DEFERRED` has no
//! counterpart in the schema builder.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 3] = ["flask_redirects", "flask_users", "flask_imports"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE flask_imports (\
                 fingerprint varchar(255) PRIMARY KEY, \
                 imported_at varchar(64) NOT NULL, \
                 summary text NOT NULL)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TABLE flask_users (\
                 user_id integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, \
                 old_id integer UNIQUE)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TABLE flask_redirects (\
                 old_slug varchar(255) PRIMARY KEY, \
                 composition_id integer NOT NULL REFERENCES compositions (id) \
                     ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

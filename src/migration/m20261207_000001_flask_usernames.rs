//! `flask_usernames`: the old username of each account `ragtime import-flask` had to rename
//! (invalid in Ragtime, or taken once compared case-insensitively), so that the old site's
//! `/user/<old username>` still leads to the profile. Compared exactly, as Flask did.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE flask_usernames (\
                     old_username varchar(255) PRIMARY KEY, \
                     user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("flask_usernames"))
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

//! Avatar keys that reveal nothing: until now `users.avatar_hash` was the MD5 of the email
//! address, which anyone could compare with a guessed address and which told the avatar
//! service who was being shown. Every existing key becomes a random one; new accounts and
//! changed addresses get random keys from the application (`user::new_avatar_key`).
//!
//! Safe while the previous release serves: the column keeps its name and type, and a key
//! written by the old code meanwhile is an MD5 again only until the next deploy.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let random_key = match manager.get_database_backend() {
            // 32 hex digits from 122 random bits, unique per row.
            sea_orm::DatabaseBackend::Postgres => "replace(gen_random_uuid()::text, '-', '')",
            _ => "lower(hex(randomblob(16)))",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!("UPDATE users SET avatar_hash = {random_key}"))
            .await?;
        Ok(())
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        // The MD5 keys are not wanted back; the random ones work with the old code too.
        Ok(())
    }
}

//! `mail_queue.failed_at`: when delivery of a message was given up (the relay refused it for
//! good, or it failed too many times; `last_error` says why), so that it is no longer retried
//! and is deleted, as sent messages are, once the retention period has passed. Expand only: a
//! nullable column, which the previous release does not read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MailQueue {
    Table,
    FailedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MailQueue::Table)
                    .add_column(timestamp_with_time_zone_null(MailQueue::FailedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MailQueue::Table)
                    .drop_column(MailQueue::FailedAt)
                    .to_owned(),
            )
            .await
    }
}

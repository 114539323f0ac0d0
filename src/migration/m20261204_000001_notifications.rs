//! Notifications: one row per recipient and event, and each user's choice of mail.
//!
//! - `notifications`: who is told (`user_id`), what happened (`kind`), who did it
//!   (`actor_id`, none for a moderator's decision), about which composition and comment; read
//!   or not (`read_at`); and whether mail about it is still to be written (`mail`: 1 a mail of
//!   its own, 2 a line of the next daily digest), which the mail worker turns into messages of
//!   the durable mail queue, so that notifying costs a request one insert.
//! - Indexes: a user's list newest first; the unread ones (partial: they are few, and the
//!   navbar's count reads only them); an actor's earlier notices to the same user (the foreign
//!   key, and what keeps an unfollow and re-follow from notifying twice); the mail still owed,
//!   oldest first, and each user's digest lines (partial: only rows waiting for mail, which
//!   the worker soon clears); the composition's and comment's foreign keys (partial: most rows
//!   have none).
//! - `notification_settings`: per user and topic, none / each / daily digest (no row: the
//!   defaults).
//! - `mail_queue.unsubscribe`: the one-click unsubscribe address of a notification mail, for
//!   its `List-Unsubscribe` header.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    ActorId,
    CompositionId,
    CommentId,
    Timestamp,
    ReadAt,
    Mail,
}

#[derive(DeriveIden)]
enum NotificationSettings {
    Table,
    UserId,
    Follows,
    Comments,
    Mentions,
    Likes,
    Moderation,
}

#[derive(DeriveIden)]
enum MailQueue {
    Table,
    Unsubscribe,
}

/// The same on both databases: partial indexes are plain SQL in each.
const INDEXES: &str = r#"
CREATE INDEX ix_notifications_user_id_timestamp_id ON notifications (user_id, timestamp, id);
CREATE INDEX ix_notifications_unread ON notifications (user_id, timestamp, id)
    WHERE read_at IS NULL;
CREATE INDEX ix_notifications_actor_id_user_id_kind ON notifications (actor_id, user_id, kind);
CREATE INDEX ix_notifications_mail ON notifications (mail, timestamp) WHERE mail <> 0;
CREATE INDEX ix_notifications_digest ON notifications (user_id) WHERE mail = 2;
CREATE INDEX ix_notifications_composition_id ON notifications (composition_id)
    WHERE composition_id IS NOT NULL;
CREATE INDEX ix_notifications_comment_id ON notifications (comment_id)
    WHERE comment_id IS NOT NULL;
"#;

fn cascade(
    from: Notifications,
    to_table: impl IntoIden,
    to: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(Notifications::Table, from)
        .to(to_table, to)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_auto(Notifications::Id))
                    .col(integer(Notifications::UserId))
                    .col(small_integer(Notifications::Kind))
                    .col(integer_null(Notifications::ActorId))
                    .col(integer_null(Notifications::CompositionId))
                    .col(integer_null(Notifications::CommentId))
                    .col(timestamp_with_time_zone(Notifications::Timestamp))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(small_integer(Notifications::Mail).default(0))
                    .foreign_key(
                        &mut cascade(Notifications::UserId, Users::Table, Users::Id)
                            .name("fk_notifications_user_id")
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut cascade(Notifications::ActorId, Users::Table, Users::Id)
                            .name("fk_notifications_actor_id")
                            .to_owned(),
                    )
                    .foreign_key(
                        &mut cascade(
                            Notifications::CompositionId,
                            Compositions::Table,
                            Compositions::Id,
                        )
                        .name("fk_notifications_composition_id")
                        .to_owned(),
                    )
                    .foreign_key(
                        &mut cascade(Notifications::CommentId, Comments::Table, Comments::Id)
                            .name("fk_notifications_comment_id")
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager.get_connection().execute_unprepared(INDEXES).await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationSettings::Table)
                    .col(integer(NotificationSettings::UserId).primary_key())
                    .col(small_integer(NotificationSettings::Follows))
                    .col(small_integer(NotificationSettings::Comments))
                    .col(small_integer(NotificationSettings::Mentions))
                    .col(small_integer(NotificationSettings::Likes))
                    .col(small_integer(NotificationSettings::Moderation))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notification_settings_user_id")
                            .from(NotificationSettings::Table, NotificationSettings::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(MailQueue::Table)
                    .add_column(text_null(MailQueue::Unsubscribe))
                    .to_owned(),
            )
            .await
    }
}

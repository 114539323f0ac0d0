//! The whole data model of SPEC §8: roles, users, follows, compositions, comments, plus the
//! server-side sessions, the durable mail queue and the shared rate-limit counters.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Name,
    Default,
    Permissions,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Username,
    RoleId,
    PasswordHash,
    Confirmed,
    Name,
    Location,
    AboutMe,
    MemberSince,
    LastSeen,
    AvatarHash,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FollowedId,
    Timestamp,
}

#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
    ReleaseType,
    Title,
    Description,
    DescriptionHtml,
    Timestamp,
    ArtistId,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    Body,
    BodyHtml,
    Timestamp,
    Disabled,
    AuthorId,
    CompositionId,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    Remember,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum MailQueue {
    Table,
    Id,
    Recipient,
    Subject,
    TextBody,
    HtmlBody,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    SentAt,
    LastError,
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Key,
    WindowStart,
    Count,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // DDL is transactional on both backends: a failed migration leaves nothing half-made.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(pk_auto(Roles::Id))
                    .col(string_len_uniq(Roles::Name, 64))
                    .col(boolean(Roles::Default).default(false))
                    .col(integer(Roles::Permissions))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_roles_default", Roles::Table, &["default"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_auto(Users::Id))
                    .col(string_len(Users::Email, 64))
                    .col(string_len(Users::Username, 64))
                    .col(integer(Users::RoleId))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(boolean(Users::Confirmed).default(false))
                    .col(string_len_null(Users::Name, 64))
                    .col(string_len_null(Users::Location, 64))
                    .col(text_null(Users::AboutMe))
                    .col(timestamp_with_time_zone(Users::MemberSince))
                    .col(timestamp_with_time_zone(Users::LastSeen))
                    .col(string_len(Users::AvatarHash, 32))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_role_id")
                            .from(Users::Table, Users::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Case-insensitive uniqueness lives in the schema, so two racing registrations cannot
        // both win. The same expression indexes work on SQLite and PostgreSQL.
        db.execute_unprepared("CREATE UNIQUE INDEX ux_users_email_lower ON users (lower(email))")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_users_username_lower ON users (lower(username))",
        )
        .await?;
        manager
            .create_index(index("ix_users_role_id", Users::Table, &["role_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .col(integer(Follows::FollowerId))
                    .col(integer(Follows::FollowedId))
                    .col(timestamp_with_time_zone(Follows::Timestamp))
                    .primary_key(
                        Index::create()
                            .col(Follows::FollowerId)
                            .col(Follows::FollowedId),
                    )
                    .foreign_key(&mut fk(
                        "fk_follows_follower_id",
                        (Follows::Table, Follows::FollowerId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_follows_followed_id",
                        (Follows::Table, Follows::FollowedId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // "Following" and "followers" lists, newest first; the primary key serves the rest.
        manager
            .create_index(index(
                "ix_follows_follower_id_timestamp",
                Follows::Table,
                &["follower_id", "timestamp"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_follows_followed_id_timestamp",
                Follows::Table,
                &["followed_id", "timestamp"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Compositions::Table)
                    .col(pk_auto(Compositions::Id))
                    .col(small_integer(Compositions::ReleaseType))
                    .col(string_len(Compositions::Title, 64))
                    .col(text(Compositions::Description))
                    .col(text(Compositions::DescriptionHtml))
                    .col(timestamp_with_time_zone(Compositions::Timestamp))
                    .col(integer(Compositions::ArtistId))
                    .foreign_key(&mut fk(
                        "fk_compositions_artist_id",
                        (Compositions::Table, Compositions::ArtistId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // The "all" feed (newest first) and the per-artist feeds (profile, followed feed).
        manager
            .create_index(index(
                "ix_compositions_timestamp_id",
                Compositions::Table,
                &["timestamp", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_compositions_artist_id_timestamp_id",
                Compositions::Table,
                &["artist_id", "timestamp", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .col(pk_auto(Comments::Id))
                    .col(text(Comments::Body))
                    .col(text(Comments::BodyHtml))
                    .col(timestamp_with_time_zone(Comments::Timestamp))
                    .col(boolean(Comments::Disabled).default(false))
                    .col(integer(Comments::AuthorId))
                    .col(integer(Comments::CompositionId))
                    .foreign_key(&mut fk(
                        "fk_comments_author_id",
                        (Comments::Table, Comments::AuthorId),
                        (Users::Table, Users::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_comments_composition_id",
                        (Comments::Table, Comments::CompositionId),
                        (Compositions::Table, Compositions::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_comments_composition_id_timestamp_id",
                Comments::Table,
                &["composition_id", "timestamp", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_comments_author_id",
                Comments::Table,
                &["author_id"],
            ))
            .await?;
        // The moderation page lists every comment, newest first.
        manager
            .create_index(index(
                "ix_comments_timestamp_id",
                Comments::Table,
                &["timestamp", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // SHA-256 of the cookie value: the cookie itself is never stored.
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(integer(Sessions::UserId))
                    .col(boolean(Sessions::Remember).default(false))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_sessions_user_id",
                        (Sessions::Table, Sessions::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_sessions_user_id", Sessions::Table, &["user_id"]))
            .await?;
        manager
            .create_index(index(
                "ix_sessions_expires_at",
                Sessions::Table,
                &["expires_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MailQueue::Table)
                    .col(big_pk_auto(MailQueue::Id))
                    .col(string_len(MailQueue::Recipient, 255))
                    .col(string_len(MailQueue::Subject, 255))
                    .col(text(MailQueue::TextBody))
                    .col(text(MailQueue::HtmlBody))
                    .col(timestamp_with_time_zone(MailQueue::CreatedAt))
                    .col(integer(MailQueue::Attempts).default(0))
                    .col(timestamp_with_time_zone(MailQueue::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(MailQueue::LockedUntil))
                    .col(timestamp_with_time_zone_null(MailQueue::SentAt))
                    .col(text_null(MailQueue::LastError))
                    .to_owned(),
            )
            .await?;
        // Workers look for unsent mail that is due.
        manager
            .create_index(index(
                "ix_mail_queue_sent_at_next_attempt_at",
                MailQueue::Table,
                &["sent_at", "next_attempt_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(string_len(RateLimits::Key, 255).primary_key())
                    .col(timestamp_with_time_zone(RateLimits::WindowStart))
                    .col(integer(RateLimits::Count))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_rate_limits_window_start",
                RateLimits::Table,
                &["window_start"],
            ))
            .await?;
        Ok(())
    }
}

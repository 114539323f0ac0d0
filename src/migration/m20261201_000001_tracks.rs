//! Tracks: the audio of a composition, in order. The bytes live in the media store under
//! `object_key` (named by their SHA-256); the row says what the file really is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tracks {
    Table,
    Id,
    CompositionId,
    Position,
    Title,
    ObjectKey,
    Container,
    Codec,
    Mime,
    DurationMs,
    SampleRate,
    Channels,
    BitRate,
    SizeBytes,
    Sha256,
    Waveform,
    CreatedAt,
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
                    .table(Tracks::Table)
                    .col(pk_auto(Tracks::Id))
                    .col(integer(Tracks::CompositionId))
                    .col(integer(Tracks::Position))
                    .col(string_len(Tracks::Title, 200))
                    .col(string_len(Tracks::ObjectKey, 80))
                    .col(string_len(Tracks::Container, 16))
                    .col(string_len(Tracks::Codec, 16))
                    .col(string_len(Tracks::Mime, 32))
                    .col(big_integer(Tracks::DurationMs))
                    .col(integer(Tracks::SampleRate))
                    .col(integer(Tracks::Channels))
                    .col(integer(Tracks::BitRate))
                    .col(big_integer(Tracks::SizeBytes))
                    .col(string_len(Tracks::Sha256, 64))
                    .col(string_len(Tracks::Waveform, 512))
                    .col(timestamp_with_time_zone(Tracks::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tracks_composition_id")
                            .from(Tracks::Table, Tracks::CompositionId)
                            .to(Compositions::Table, Compositions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A composition's track list, in order (also every feed card's tracks, batched).
        manager
            .create_index(
                Index::create()
                    .name("ix_tracks_composition_id_position")
                    .table(Tracks::Table)
                    .col(Tracks::CompositionId)
                    .col(Tracks::Position)
                    .to_owned(),
            )
            .await?;
        // Serving `/audio/<key>` and asking whether an object is still named by a track.
        manager
            .create_index(
                Index::create()
                    .name("ix_tracks_object_key")
                    .table(Tracks::Table)
                    .col(Tracks::ObjectKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tracks::Table).to_owned())
            .await
    }
}

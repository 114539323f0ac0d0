//! Tracks: a composition's audio, in order. Each row names an immutable object in the media
//! store (`object_key`, from the content's SHA-256) and says what the file really is.
//! Positions are 1..=n without gaps; every change renumbers in one transaction.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{LockType, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, DbBackend, QueryOrder, QuerySelect};

use super::{composition, release};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tracks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub composition_id: i32,
    pub position: i32,
    pub title: String,
    pub object_key: String,
    pub container: String,
    pub codec: String,
    pub mime: String,
    pub duration_ms: i64,
    pub sample_rate: i32,
    pub channels: i32,
    pub bit_rate: i32,
    pub size_bytes: i64,
    pub sha256: String,
    /// The waveform's peaks, two hex digits each (see `media::probe`).
    pub waveform: String,
    pub created_at: DateTimeUtc,
    /// Counted plays, kept by the plays' trigger.
    pub plays_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::composition::Entity",
        from = "Column::CompositionId",
        to = "super::composition::Column::Id"
    )]
    Composition,
}

impl Related<super::composition::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Composition.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

pub const MAX_TITLE_CHARS: usize = 200;

impl Model {
    /// The waveform's peaks, 0..=255 each.
    pub fn peaks(&self) -> Vec<u8> {
        hex::decode(&self.waveform).unwrap_or_default()
    }

    /// The waveform as one SVG path: a bar per peak, centred on a 32-high box.
    pub fn waveform_path(&self) -> String {
        use std::fmt::Write;
        let mut d = String::new();
        for (x, peak) in self.peaks().iter().enumerate() {
            let h = (f32::from(*peak) / 255.0 * 30.0).max(1.0);
            let _ = write!(d, "M{x} {:.1}h0.8v{h:.1}h-0.8z", (32.0 - h) / 2.0);
        }
        d
    }

    /// `m:ss` (or `h:mm:ss`), as players show it.
    pub fn duration_label(&self) -> String {
        let s = self.duration_ms / 1000;
        if s >= 3600 {
            format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        } else {
            format!("{}:{:02}", s / 60, s % 60)
        }
    }
}

/// A checked upload about to become a track.
pub struct NewTrack {
    pub title: String,
    pub object_key: String,
    pub container: String,
    pub codec: String,
    pub mime: String,
    pub duration_ms: i64,
    pub sample_rate: i32,
    pub channels: i32,
    pub bit_rate: i32,
    pub size_bytes: i64,
    pub sha256: String,
    pub peaks: Vec<u8>,
}

/// Why a track cannot be added.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{} holds at most {max} track{s}.", release::a_release(kind), s = if *.max == 1 { "" } else { "s" })]
    TooManyTracks { kind: &'static str, max: u64 },
    #[error("This upload would pass your storage quota of {quota} MiB ({used} MiB used).")]
    OverQuota { used: u64, quota: u64 },
    /// The composition was deleted before the tracks went in.
    #[error("The composition is gone.")]
    Gone,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The limits `add` enforces.
pub struct Limits {
    pub max_tracks: u64,
    pub quota_bytes: u64,
}

/// How many tracks a release of this type may hold.
pub fn max_tracks(release_type: i16, limits: &Limits) -> u64 {
    if release_type == 1 {
        1
    } else {
        limits.max_tracks
    }
}

/// What a release may still take: how many tracks it holds and may hold, and the artist's
/// quota. Checked before an upload is read, while it arrives, and again when rows go in.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    /// "Single", "EP", "Album", or "release" for one not yet created.
    pub kind: &'static str,
    pub have: u64,
    pub max: u64,
    pub used_bytes: u64,
    pub quota_bytes: u64,
}

impl Room {
    /// Whether `count` more tracks of `bytes` in all fit.
    pub fn admits(&self, count: u64, bytes: u64) -> Result<(), Refused> {
        if self.have + count > self.max {
            return Err(Refused::TooManyTracks {
                kind: self.kind,
                max: self.max,
            });
        }
        if self.used_bytes + bytes > self.quota_bytes {
            const MIB: u64 = 1024 * 1024;
            return Err(Refused::OverQuota {
                used: self.used_bytes.div_ceil(MIB),
                quota: self.quota_bytes / MIB,
            });
        }
        Ok(())
    }
}

/// The room left on a composition.
pub async fn room<C: ConnectionTrait>(
    db: &C,
    composition: &composition::Model,
    limits: &Limits,
) -> Result<Room, DbErr> {
    Ok(Room {
        kind: release::type_name(composition.release_type),
        have: count_of(db, composition.id).await?,
        max: max_tracks(composition.release_type, limits),
        used_bytes: used_bytes(db, composition.artist_id).await?,
        quota_bytes: limits.quota_bytes,
    })
}

/// The room on a release this artist is about to publish (of any type).
pub async fn room_for_new<C: ConnectionTrait>(
    db: &C,
    artist_id: i32,
    limits: &Limits,
) -> Result<Room, DbErr> {
    Ok(Room {
        kind: "release",
        have: 0,
        max: limits.max_tracks,
        used_bytes: used_bytes(db, artist_id).await?,
        quota_bytes: limits.quota_bytes,
    })
}

async fn count_of<C: ConnectionTrait>(db: &C, composition_id: i32) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::CompositionId.eq(composition_id))
        .count(db)
        .await
}

/// Why `composition` cannot become a release of `release_type` with the tracks it has (a
/// single holds one), or `None` if it can.
pub async fn fits<C: ConnectionTrait>(
    db: &C,
    composition: &composition::Model,
    release_type: i16,
    limits: &Limits,
) -> Result<Option<String>, DbErr> {
    let have = count_of(db, composition.id).await?;
    let max = max_tracks(release_type, limits);
    Ok((have > max).then(|| {
        format!(
            "{} holds at most {max} track{}; remove tracks first (this one has {have}).",
            release::a_release(release::type_name(release_type)),
            if max == 1 { "" } else { "s" }
        )
    }))
}

/// How a write holds a composition's row: [`Hold::Keep`] for one that changes it or what hangs
/// on it (its text, tags, tracks, comments), [`Hold::Delete`] for its deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    Keep,
    Delete,
}

/// Lock a composition's row, the first lock of every write that changes the composition or its
/// tracks, tags or comments: one order for all of them, so concurrent edits of one composition
/// queue behind each other instead of deadlocking over its track rows. Here, beside
/// [`begin_writing`], because the tracks' writes are the ones that need the order most. On
/// PostgreSQL `Keep` takes NO KEY UPDATE, the lock the count triggers take, which lets a like's
/// or comment's foreign-key check (KEY SHARE) through rather than trap it between that check
/// and its count update; `Delete` takes FOR UPDATE, as the deletion will. On SQLite the write
/// transaction ([`super::begin_write`]) already holds the database's write lock, so a read
/// suffices. `None` if the composition is gone, deleted perhaps by the transaction this one
/// waited for: the caller answers as if it had never been there.
pub(crate) async fn hold_composition(
    txn: &DatabaseTransaction,
    id: i32,
    hold: Hold,
) -> Result<Option<composition::Model>, DbErr> {
    let find = composition::Entity::find_by_id(id);
    if txn.get_database_backend() != DbBackend::Postgres {
        return find.one(txn).await;
    }
    match hold {
        Hold::Keep => find.lock(LockType::NoKeyUpdate).one(txn).await,
        Hold::Delete => find.lock_exclusive().one(txn).await,
    }
}

/// A transaction that changes one composition's tracks, alone: the composition's row is
/// locked first ([`hold_composition`]), then, on PostgreSQL, its artist's, so two uploads at
/// once cannot both count the same free room, and moves, uploads and deletions of one
/// composition's tracks queue instead of deadlocking over the track rows. SQLite takes its
/// write lock at the start (`IMMEDIATE`), so none fails on a lock upgrade halfway. The
/// composition as it is now, or `None` if it is gone.
pub(crate) async fn begin_writing(
    db: &DatabaseConnection,
    composition_id: i32,
    hold: Hold,
) -> Result<(DatabaseTransaction, Option<composition::Model>), DbErr> {
    let txn = super::begin_write(db).await?;
    let c = hold_composition(&txn, composition_id, hold).await?;
    if let Some(c) = &c
        && db.get_database_backend() == DbBackend::Postgres
    {
        // The artist too: the quota is theirs, over all their compositions.
        // NO KEY UPDATE, the lock the count triggers take: a FOR UPDATE queued here would
        // stop a concurrent follow or publish of this artist between its foreign-key check
        // (KEY SHARE) and its count update, which then waits for us: a deadlock.
        super::user::Entity::find_by_id(c.artist_id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .one(&txn)
            .await?;
    }
    Ok((txn, c))
}

/// Appends tracks to a composition, all or none, after checking the track count and the
/// artist's quota inside the same transaction; [`Refused::Gone`] if the composition is gone.
pub async fn add(
    db: &DatabaseConnection,
    composition: &composition::Model,
    new: Vec<NewTrack>,
    limits: &Limits,
) -> Result<Vec<Model>, Refused> {
    let (txn, found) = begin_writing(db, composition.id, Hold::Keep).await?;
    // As it is now: its type may have changed since the caller read it.
    let composition = found.ok_or(Refused::Gone)?;
    let bytes = new.iter().map(|t| t.size_bytes as u64).sum();
    let room = room(&txn, &composition, limits).await?;
    room.admits(new.len() as u64, bytes)?;
    let have = room.have;
    let now = Utc::now();
    let mut added = Vec::with_capacity(new.len());
    for (i, t) in new.into_iter().enumerate() {
        let row = ActiveModel {
            composition_id: Set(composition.id),
            position: Set((have as usize + i + 1) as i32),
            title: Set(t.title),
            object_key: Set(t.object_key),
            container: Set(t.container),
            codec: Set(t.codec),
            mime: Set(t.mime),
            duration_ms: Set(t.duration_ms),
            sample_rate: Set(t.sample_rate),
            channels: Set(t.channels),
            bit_rate: Set(t.bit_rate),
            size_bytes: Set(t.size_bytes),
            sha256: Set(t.sha256),
            waveform: Set(hex::encode(&t.peaks)),
            created_at: Set(now),
            ..Default::default()
        };
        added.push(row.insert(&txn).await?);
    }
    txn.commit().await?;
    Ok(added)
}

/// Bytes of audio an artist keeps, over all their compositions.
pub async fn used_bytes<C: ConnectionTrait>(db: &C, artist_id: i32) -> Result<u64, DbErr> {
    use sea_orm::sea_query::ExprTrait;
    let total: Option<i64> = Entity::find()
        .select_only()
        .column_as(
            // PostgreSQL sums BIGINTs as NUMERIC: back to BIGINT, as SQLite gives.
            Expr::col((Entity, Column::SizeBytes))
                .sum()
                .cast_as(sea_orm::sea_query::Alias::new("BIGINT")),
            "total",
        )
        .filter(
            Column::CompositionId.in_subquery(
                Query::select()
                    .column(composition::Column::Id)
                    .from(composition::Entity)
                    .and_where(composition::Column::ArtistId.eq(artist_id))
                    .to_owned(),
            ),
        )
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// One composition's tracks, in order.
pub async fn of<C: ConnectionTrait>(db: &C, composition_id: i32) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::CompositionId.eq(composition_id))
        .order_by_asc(Column::Position)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// The tracks of many compositions (a feed page) in one query, each list in order.
pub async fn of_many<C: ConnectionTrait>(
    db: &C,
    composition_ids: &[i32],
) -> Result<HashMap<i32, Vec<Model>>, DbErr> {
    let mut by_composition: HashMap<i32, Vec<Model>> = HashMap::new();
    if composition_ids.is_empty() {
        return Ok(by_composition);
    }
    let rows = Entity::find()
        .filter(Column::CompositionId.is_in(composition_ids.iter().copied()))
        .order_by_asc(Column::CompositionId)
        .order_by_asc(Column::Position)
        .order_by_asc(Column::Id)
        .all(db)
        .await?;
    for row in rows {
        by_composition
            .entry(row.composition_id)
            .or_default()
            .push(row);
    }
    Ok(by_composition)
}

/// A track whose audio is this object, if any still names it.
pub async fn find_by_key<C: ConnectionTrait>(db: &C, key: &str) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::ObjectKey.eq(key))
        .one(db)
        .await
}

/// Which of these objects no track names any more.
pub async fn unreferenced<C: ConnectionTrait>(
    db: &C,
    keys: &[String],
) -> Result<Vec<String>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let named: Vec<String> = Entity::find()
        .select_only()
        .column(Column::ObjectKey)
        .filter(Column::ObjectKey.is_in(keys.iter().cloned()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(keys
        .iter()
        .filter(|k| !named.contains(k))
        .cloned()
        .collect())
}

pub async fn rename<C: ConnectionTrait>(db: &C, id: i32, title: &str) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Title, Expr::value(title))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves a track to `position` (clamped to 1..=n), shifting the others; `false` if the track
/// or its composition is gone.
pub async fn move_to(db: &DatabaseConnection, track: &Model, position: i32) -> Result<bool, DbErr> {
    let (txn, found) = begin_writing(db, track.composition_id, Hold::Keep).await?;
    if found.is_none() {
        return Ok(false);
    }
    // The list as it is now that it is ours, not as the caller read it.
    let mut ids: Vec<i32> = of(&txn, track.composition_id)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let Some(from) = ids.iter().position(|id| *id == track.id) else {
        return Ok(false); // deleted meanwhile
    };
    ids.remove(from);
    let at = (position.max(1) as usize - 1).min(ids.len());
    ids.insert(at, track.id);
    renumber(&txn, &ids).await?;
    txn.commit().await?;
    Ok(true)
}

/// Deletes a track and closes the gap; its object key, for the caller to release, or `None` if
/// the track (or its composition) is already gone.
pub async fn delete(db: &DatabaseConnection, track: &Model) -> Result<Option<String>, DbErr> {
    let (txn, found) = begin_writing(db, track.composition_id, Hold::Keep).await?;
    if found.is_none() {
        return Ok(None);
    }
    let deleted = Entity::delete_by_id(track.id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        return Ok(None);
    }
    let rest: Vec<i32> = of(&txn, track.composition_id)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    renumber(&txn, &rest).await?;
    txn.commit().await?;
    Ok(Some(track.object_key.clone()))
}

/// Deletes every track of a composition (inside the caller's transaction); their object keys.
pub async fn delete_of<C: ConnectionTrait>(
    db: &C,
    composition_id: i32,
) -> Result<Vec<String>, DbErr> {
    let keys: Vec<String> = Entity::find()
        .select_only()
        .column(Column::ObjectKey)
        .filter(Column::CompositionId.eq(composition_id))
        .into_tuple()
        .all(db)
        .await?;
    Entity::delete_many()
        .filter(Column::CompositionId.eq(composition_id))
        .exec(db)
        .await?;
    Ok(keys)
}

async fn renumber<C: ConnectionTrait>(db: &C, ids_in_order: &[i32]) -> Result<(), DbErr> {
    for (i, id) in ids_in_order.iter().enumerate() {
        Entity::update_many()
            .col_expr(Column::Position, Expr::value(i as i32 + 1))
            .filter(Column::Id.eq(*id))
            .exec(db)
            .await?;
    }
    Ok(())
}

//! Likes: a user likes a composition, once. Primary key on the pair; each composition's count
//! is kept in `compositions.likes_count` by the database's triggers.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, DatabaseBackend, JoinType, QuerySelect, QueryTrait, SelectTwo, SqlErr,
    Statement,
};

use super::keyset::{Cursor, Key, Order, Page, Reading};
use super::{notification, trending, user};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "likes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub composition_id: i32,
    pub timestamp: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What asking to like or unlike a composition came to: the site and the API each say it
/// their own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Now liked, or no longer liked.
    Done,
    /// Nothing to do: already liked, or not liked.
    Already,
    /// No composition has this id (it may have been deleted a moment ago).
    NoSuchComposition,
}

/// One user likes a composition. The primary key decides a double click or two racing
/// requests (one row, no error), and the foreign key a composition that is not there (or was
/// deleted meanwhile): no check-then-insert race either way.
///
/// A new like notifies the artist in the same transaction (once a day at most for one liker
/// and composition: unliking and liking again is not news).
pub async fn like(
    db: &DatabaseConnection,
    user_id: i32,
    composition_id: i32,
) -> Result<Outcome, DbErr> {
    let row = ActiveModel {
        user_id: Set(user_id),
        composition_id: Set(composition_id),
        timestamp: Set(Utc::now()),
    };
    let txn = super::begin_write(db).await?;
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::UserId, Column::CompositionId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await;
    let outcome = match inserted {
        Ok(0) => Outcome::Already,
        Ok(_) => Outcome::Done,
        Err(e) if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) => {
            return Ok(Outcome::NoSuchComposition);
        }
        Err(e) => return Err(e),
    };
    if outcome == Outcome::Done {
        let event = notification::Event {
            kind: notification::Kind::Like,
            actor: Some(user_id),
            composition: Some(composition_id),
            comment: None,
        };
        let artist = notification::Recipients::ArtistOf(composition_id);
        notification::notify(&txn, event, artist).await?;
        trending::record(
            &txn,
            composition_id,
            trending::LIKE,
            Some(user_id),
            Utc::now(),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// One user takes their like back, and out of the composition's trending score if it was of
/// this week. (`Already` also when the composition does not exist: the caller that must tell
/// the two apart looks the composition up.)
pub async fn unlike(
    db: &DatabaseConnection,
    user_id: i32,
    composition_id: i32,
) -> Result<Outcome, DbErr> {
    let txn = super::begin_write(db).await?;
    let deleted = Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::CompositionId.eq(composition_id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(Outcome::Already);
    }
    trending::forget_like(&txn, composition_id, user_id).await?;
    txn.commit().await?;
    Ok(Outcome::Done)
}

/// Which of `composition_ids` (a page of cards) the user likes: one query on the primary key,
/// whatever the page size. Kept apart from the cards, which are shared by every viewer.
pub async fn liked_among<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    composition_ids: &[i32],
) -> Result<HashSet<i32>, DbErr> {
    if composition_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let liked: Vec<i32> = Entity::find()
        .select_only()
        .column(Column::CompositionId)
        .filter(Column::UserId.eq(user_id))
        .filter(Column::CompositionId.is_in(composition_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(liked.into_iter().collect())
}

/// One row of a composition's "liked by" list: the user, and since when.
#[derive(Clone, Debug)]
pub struct Entry {
    pub user: user::Model,
    pub since: DateTimeUtc,
}

/// A page of the people who like a composition, newest like first: one query, from the
/// cursor along the index `(composition_id, timestamp, user_id)`, joined with the users.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    composition_id: i32,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<Entry>, DbErr> {
    let reading = Reading::new(cursor, Order::NewestFirst, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = select(composition_id, &reading).all(db).await?;
    let entries = rows
        .into_iter()
        .filter_map(|(like, u)| {
            u.map(|user| Entry {
                user,
                since: like.timestamp,
            })
        })
        .collect();
    Ok(reading.finish(entries, |e| Key::new(e.since, e.user.id)))
}

fn select(composition_id: i32, reading: &Reading) -> SelectTwo<Entity, user::Entity> {
    let liker: RelationDef = Entity::belongs_to(user::Entity)
        .from(Column::UserId)
        .to(user::Column::Id)
        .into();
    reading
        .apply(
            Entity::find().filter(Column::CompositionId.eq(composition_id)),
            Column::Timestamp,
            Column::UserId,
        )
        .join(JoinType::InnerJoin, liker)
        .select_also(user::Entity)
}

/// The statement that reads a page of a composition's likes (public for the query-plan tests).
pub fn page_statement(
    backend: DatabaseBackend,
    composition_id: i32,
    reading: &Reading,
) -> Statement {
    select(composition_id, reading).build(backend)
}

//! Follows: who follows whom, and since when. Primary key on the pair.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, Condition, DatabaseBackend, JoinType, QuerySelect, QueryTrait, SelectTwo,
    Statement,
};

use super::keyset::{Cursor, Key, Order, Page, Reading};
use super::notification;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "follows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub follower_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub followed_id: i32,
    pub timestamp: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Entity::find().count(db).await
}

/// What asking to follow or unfollow someone came to: the rule lives here, and the site and
/// the API each say it their own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Now following, or no longer following.
    Done,
    /// Nothing to do: already following, or not following.
    Already,
    /// Everyone follows themself, for good: the followed feed needs it.
    Yourself,
}

impl Outcome {
    /// `Done` when the request changed the follows, `Already` when there was nothing to do.
    fn of(changed: bool) -> Self {
        if changed {
            Outcome::Done
        } else {
            Outcome::Already
        }
    }
}

/// Add the pair, if missing; `false` when it was there. The primary key decides, so a double
/// click or two racing requests leave one row and no error.
pub async fn add<C: ConnectionTrait>(
    db: &C,
    follower_id: i32,
    followed_id: i32,
) -> Result<bool, DbErr> {
    let row = ActiveModel {
        follower_id: Set(follower_id),
        followed_id: Set(followed_id),
        timestamp: Set(Utc::now()),
    };
    let inserted = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::FollowerId, Column::FollowedId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// One user asks to follow another.
/// A new follow notifies the followed user, in the same transaction (once a day at most: an
/// unfollow and re-follow is not news).
pub async fn follow(
    db: &DatabaseConnection,
    follower_id: i32,
    followed_id: i32,
) -> Result<Outcome, DbErr> {
    if follower_id == followed_id {
        return Ok(Outcome::Yourself);
    }
    let txn = super::begin_write(db).await?;
    let added = add(&txn, follower_id, followed_id).await?;
    if added {
        let event = notification::Event {
            kind: notification::Kind::Follow,
            actor: Some(follower_id),
            composition: None,
            comment: None,
        };
        notification::notify(&txn, event, notification::Recipients::User(followed_id)).await?;
    }
    txn.commit().await?;
    Ok(Outcome::of(added))
}

/// One user asks to stop following another. The self-follow is never removed.
pub async fn unfollow<C: ConnectionTrait>(
    db: &C,
    follower_id: i32,
    followed_id: i32,
) -> Result<Outcome, DbErr> {
    if follower_id == followed_id {
        return Ok(Outcome::Yourself);
    }
    let deleted = Entity::delete_many()
        .filter(Column::FollowerId.eq(follower_id))
        .filter(Column::FollowedId.eq(followed_id))
        .exec(db)
        .await?;
    Ok(Outcome::of(deleted.rows_affected > 0))
}

pub async fn is_following<C: ConnectionTrait>(
    db: &C,
    follower_id: i32,
    followed_id: i32,
) -> Result<bool, DbErr> {
    let found = Entity::find_by_id((follower_id, followed_id))
        .count(db)
        .await?;
    Ok(found > 0)
}

/// How a viewer and another user stand towards each other.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relationship {
    /// The viewer follows the other user.
    pub following: bool,
    /// The other user follows the viewer ("Follows you").
    pub followed_by: bool,
}

/// Both directions between two users in one query (two primary-key lookups).
pub async fn relationship<C: ConnectionTrait>(
    db: &C,
    viewer_id: i32,
    other_id: i32,
) -> Result<Relationship, DbErr> {
    Ok(relationships(db, viewer_id, &[other_id])
        .await?
        .remove(&other_id)
        .unwrap_or_default())
}

/// How the viewer stands towards each of `others`, in one query (primary-key lookups both
/// ways), by the other's id.
pub async fn relationships<C: ConnectionTrait>(
    db: &C,
    viewer_id: i32,
    others: &[i32],
) -> Result<std::collections::HashMap<i32, Relationship>, DbErr> {
    let mut found: std::collections::HashMap<i32, Relationship> = others
        .iter()
        .map(|id| (*id, Relationship::default()))
        .collect();
    if others.is_empty() {
        return Ok(found);
    }
    let rows = Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::FollowerId.eq(viewer_id))
                        .add(Column::FollowedId.is_in(others.iter().copied())),
                )
                .add(
                    Condition::all()
                        .add(Column::FollowerId.is_in(others.iter().copied()))
                        .add(Column::FollowedId.eq(viewer_id)),
                ),
        )
        .all(db)
        .await?;
    for row in rows {
        if row.follower_id == viewer_id
            && let Some(r) = found.get_mut(&row.followed_id)
        {
            r.following = true;
        }
        if row.followed_id == viewer_id
            && let Some(r) = found.get_mut(&row.follower_id)
        {
            r.followed_by = true;
        }
    }
    Ok(found)
}

/// A user's followers, followed users (the self-follow not counted) and compositions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub followers: u64,
    pub following: u64,
    pub compositions: u64,
}

fn followers_of(user_id: i32) -> Select<Entity> {
    Entity::find()
        .filter(Column::FollowedId.eq(user_id))
        .filter(Column::FollowerId.ne(user_id))
}

fn followed_by(user_id: i32) -> Select<Entity> {
    Entity::find()
        .filter(Column::FollowerId.eq(user_id))
        .filter(Column::FollowedId.ne(user_id))
}

impl Counts {
    /// As kept on the user's row (by the database's triggers): nothing to count.
    pub fn of(user: &super::user::Model) -> Self {
        let n = |count: i32| u64::try_from(count).unwrap_or(0);
        Counts {
            followers: n(user.followers_count),
            following: n(user.following_count),
            compositions: n(user.compositions_count),
        }
    }
}

/// One row of a followers or following list: the other user, and since when.
#[derive(Clone, Debug)]
pub struct Entry {
    pub user: super::user::Model,
    pub since: DateTimeUtc,
}

/// Which list of follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The people who follow the user.
    Followers,
    /// The people the user follows.
    Following,
}

/// A page of the people who follow `user_id` (or whom `user_id` follows), newest first,
/// without the self-follow: one query, from the cursor along the index
/// `(followed_id, timestamp, follower_id)` (or its mirror), joined with the users.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    side: Side,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<Entry>, DbErr> {
    let reading = Reading::new(cursor, Order::NewestFirst, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = select(user_id, side, &reading).all(db).await?;
    let entries = rows
        .into_iter()
        .filter_map(|(f, u)| {
            u.map(|user| Entry {
                user,
                since: f.timestamp,
            })
        })
        .collect();
    Ok(reading.finish(entries, |e| Key::new(e.since, e.user.id)))
}

fn select(user_id: i32, side: Side, reading: &Reading) -> SelectTwo<Entity, super::user::Entity> {
    use super::user;
    let (query, other) = match side {
        Side::Followers => (followers_of(user_id), Column::FollowerId),
        Side::Following => (followed_by(user_id), Column::FollowedId),
    };
    let other_user: RelationDef = Entity::belongs_to(user::Entity)
        .from(other)
        .to(user::Column::Id)
        .into();
    reading
        .apply(query, Column::Timestamp, other)
        .join(JoinType::InnerJoin, other_user)
        .select_also(user::Entity)
}

/// The statement that reads a page of follows (public for the query-plan tests).
pub fn page_statement(
    backend: DatabaseBackend,
    user_id: i32,
    side: Side,
    reading: &Reading,
) -> Statement {
    select(user_id, side, reading).build(backend)
}

/// Insert many follows in one statement (`seed`).
pub async fn insert_many<C: ConnectionTrait>(db: &C, rows: Vec<ActiveModel>) -> Result<(), DbErr> {
    Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

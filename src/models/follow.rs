//! Follows: who follows whom, and since when. Primary key on the pair.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Func, OnConflict, Query, SubQueryStatement};
use sea_orm::{ActiveValue::Set, Condition, JoinType, QueryOrder, QuerySelect, QueryTrait};

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
/// click or two racing requests leave one row and no error. (Registration adds the
/// self-follow with this.)
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
pub async fn follow<C: ConnectionTrait>(
    db: &C,
    follower_id: i32,
    followed_id: i32,
) -> Result<Outcome, DbErr> {
    if follower_id == followed_id {
        return Ok(Outcome::Yourself);
    }
    Ok(Outcome::of(add(db, follower_id, followed_id).await?))
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
    let rows = Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(Column::FollowerId.eq(viewer_id))
                        .add(Column::FollowedId.eq(other_id)),
                )
                .add(
                    Condition::all()
                        .add(Column::FollowerId.eq(other_id))
                        .add(Column::FollowedId.eq(viewer_id)),
                ),
        )
        .all(db)
        .await?;
    let has = |from: i32, to: i32| {
        rows.iter()
            .any(|r| r.follower_id == from && r.followed_id == to)
    };
    Ok(Relationship {
        following: has(viewer_id, other_id),
        followed_by: has(other_id, viewer_id),
    })
}

/// A user's followers and followed users, the self-follow not counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub followers: u64,
    pub following: u64,
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

/// Both counts in one query: two scalar subqueries, each served by an index on `follows`.
pub async fn counts<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<Counts, DbErr> {
    let count = |select: Select<Entity>| {
        let mut sub = select.select_only().into_query();
        sub.expr(Func::count(Expr::col((Entity, Column::FollowerId))));
        Expr::from(SubQueryStatement::SelectStatement(sub))
    };
    let stmt = Query::select()
        .expr_as(count(followers_of(user_id)), "followers")
        .expr_as(count(followed_by(user_id)), "following")
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("follow counts".into()))?;
    let get = |col: &str| -> Result<u64, DbErr> {
        let n: i64 = row.try_get("", col)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok(Counts {
        followers: get("followers")?,
        following: get("following")?,
    })
}

/// One row of a followers or following list: the other user, and since when.
#[derive(Clone, Debug)]
pub struct Entry {
    pub user: super::user::Model,
    pub since: DateTimeUtc,
}

/// The people who follow `user_id`, newest first, without the self-follow; and their number.
pub async fn followers<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Entry>, u64), DbErr> {
    list(db, followers_of(user_id), Column::FollowerId, offset, limit).await
}

/// The people `user_id` follows, newest first, without the self-follow; and their number.
pub async fn following<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Entry>, u64), DbErr> {
    list(db, followed_by(user_id), Column::FollowedId, offset, limit).await
}

/// A page of `query` with the user at the other end (`other`) joined in: two queries whatever
/// the page size.
async fn list<C: ConnectionTrait>(
    db: &C,
    query: Select<Entity>,
    other: Column,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Entry>, u64), DbErr> {
    use super::user;
    let total = query.clone().count(db).await?;
    if offset >= total {
        return Ok((Vec::new(), total));
    }
    let other_user: RelationDef = Entity::belongs_to(user::Entity)
        .from(other)
        .to(user::Column::Id)
        .into();
    let rows = query
        .join(JoinType::InnerJoin, other_user)
        .select_also(user::Entity)
        .order_by_desc(Column::Timestamp)
        .order_by_desc(other)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    let entries = rows
        .into_iter()
        .filter_map(|(f, u)| {
            u.map(|user| Entry {
                user,
                since: f.timestamp,
            })
        })
        .collect();
    Ok((entries, total))
}

/// Insert many follows in one statement (`seed`).
pub async fn insert_many<C: ConnectionTrait>(db: &C, rows: Vec<ActiveModel>) -> Result<(), DbErr> {
    Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

//! Who to follow: artists followed by the people a user follows, ranked by how many of them
//! follow each, then the most followed; never the user nor anyone they already follow. Two
//! queries, each bounded whatever the size of the tables.

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::{follow, user};

/// Followees looked at: the most recent ones, who say most about present tastes.
const RECENT_FOLLOWEES: u32 = 100;
/// Follows of those followees read at most, so a followee who follows thousands cannot make
/// the suggestions cost more than this.
const FOLLOWS_READ: u32 = 5000;

/// Friends of friends, most shared first (ties: the most followed), with their user rows.
const FRIENDS_OF_FRIENDS: &str = r#"
SELECT u.* FROM users u JOIN (
    SELECT candidate.followed_id AS id, COUNT(*) AS friends FROM (
        SELECT f.followed_id FROM follows f
        WHERE f.follower_id IN (
            SELECT r.followed_id FROM follows r
            WHERE r.follower_id = ? AND r.followed_id <> ?
            ORDER BY r."timestamp" DESC LIMIT ?)
        LIMIT ?
    ) candidate
    WHERE candidate.followed_id <> ?
      AND NOT EXISTS (SELECT 1 FROM follows mine
                      WHERE mine.follower_id = ? AND mine.followed_id = candidate.followed_id)
    GROUP BY candidate.followed_id
) g ON g.id = u.id
ORDER BY g.friends DESC, u.followers_count DESC, u.id DESC
LIMIT ?"#;

/// `?` placeholders as the backend writes them (`$1`, `$2`... on PostgreSQL).
fn placeholders(backend: DatabaseBackend, sql: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return sql.to_owned();
    }
    let mut n = 0;
    sql.chars()
        .map(|c| {
            if c == '?' {
                n += 1;
                format!("${n}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Up to `n` people for `user_id` to follow.
pub async fn who_to_follow<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    n: u32,
) -> Result<Vec<user::Model>, DbErr> {
    let backend = db.get_database_backend();
    let statement = Statement::from_sql_and_values(
        backend,
        placeholders(backend, FRIENDS_OF_FRIENDS),
        [
            user_id.into(),
            user_id.into(),
            RECENT_FOLLOWEES.into(),
            FOLLOWS_READ.into(),
            user_id.into(),
            user_id.into(),
            n.into(),
        ],
    );
    let mut chosen = user::Model::find_by_statement(statement).all(db).await?;
    // The most followed, along the index (followers_count, id); each candidate is one
    // primary-key probe of the follows. Asked even when nothing is missing (LIMIT 0), so a
    // page costs the same two queries whatever the data.
    let missing = u64::from(n).saturating_sub(chosen.len() as u64);
    let followed = Query::select()
        .column(follow::Column::FollowedId)
        .from(follow::Entity)
        .and_where(follow::Column::FollowerId.eq(user_id))
        .to_owned();
    let popular = user::Entity::find()
        .filter(user::Column::Id.ne(user_id))
        .filter(user::Column::Id.not_in_subquery(followed))
        .filter(user::Column::Id.is_not_in(chosen.iter().map(|u| u.id)))
        .order_by_desc(user::Column::FollowersCount)
        .order_by_desc(user::Column::Id)
        .limit(missing)
        .all(db)
        .await?;
    chosen.extend(popular);
    Ok(chosen)
}

//! Notifications for `ragtime seed`: those of the follows, likes and comments it inserted.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, ExprTrait, Query};

use super::{Column, Delivery, Entity, Kind};

/// Notifications of what `seed` inserted, as if each event had notified its recipient: every
/// follow (not the self-follows), like and comment by the users from `first_user` on. Those
/// before `read_before` are read; none is mailed. Three `INSERT … SELECT`s, whatever the size.
pub async fn insert_seeded<C: ConnectionTrait>(
    db: &C,
    first_user: i32,
    read_before: DateTimeUtc,
) -> Result<u64, DbErr> {
    let (f, l, m, c) = (
        Alias::new("f"),
        Alias::new("l"),
        Alias::new("m"),
        Alias::new("c"),
    );
    let col = |table: &Alias, column: &str| Expr::col((table.clone(), Alias::new(column)));
    let read_at = |at: Expr| {
        Expr::case(at.clone().lt(read_before), at).finally(Expr::val(Option::<DateTimeUtc>::None))
    };
    let mut sources = Vec::new();
    // Follows: the followed user hears of the follower.
    let mut follows = Query::select();
    follows
        .expr(col(&f, "followed_id"))
        .expr(Expr::val(Kind::Follow as i16))
        .expr(col(&f, "follower_id"))
        .expr(Expr::val(Option::<i32>::None))
        .expr(Expr::val(Option::<i32>::None))
        .expr(col(&f, "timestamp"))
        .expr(read_at(col(&f, "timestamp")))
        .from_as(Alias::new("follows"), f.clone())
        .and_where(col(&f, "follower_id").gte(first_user))
        .and_where(col(&f, "follower_id").ne(col(&f, "followed_id")));
    sources.push(follows);
    // Likes and comments: the composition's artist hears of them.
    for (table, alias, actor, comment, kind) in [
        ("likes", &l, "user_id", None, Kind::Like),
        ("comments", &m, "author_id", Some("id"), Kind::Comment),
    ] {
        let mut select = Query::select();
        select
            .expr(col(&c, "artist_id"))
            .expr(Expr::val(kind as i16))
            .expr(col(alias, actor))
            .expr(col(alias, "composition_id"))
            .expr(match comment {
                Some(id) => col(alias, id),
                None => Expr::val(Option::<i32>::None),
            })
            .expr(col(alias, "timestamp"))
            .expr(read_at(col(alias, "timestamp")))
            .from_as(Alias::new(table), alias.clone())
            .join_as(
                sea_orm::JoinType::InnerJoin,
                Alias::new("compositions"),
                c.clone(),
                col(&c, "id").equals((alias.clone(), Alias::new("composition_id"))),
            )
            .and_where(col(alias, actor).gte(first_user))
            .and_where(col(&c, "artist_id").ne(col(alias, actor)));
        sources.push(select);
    }
    let mut inserted = 0;
    for mut select in sources {
        let select = select.expr(Expr::val(Delivery::Off as i16)).to_owned();
        let statement = Query::insert()
            .into_table(Entity)
            .columns([
                Column::UserId,
                Column::Kind,
                Column::ActorId,
                Column::CompositionId,
                Column::CommentId,
                Column::Timestamp,
                Column::ReadAt,
                Column::Mail,
            ])
            .select_from(select)
            .expect("the select has a value for every column")
            .to_owned();
        inserted += db.execute(&statement).await?.rows_affected();
    }
    Ok(inserted)
}

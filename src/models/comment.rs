//! Comments on compositions; moderators can disable them. Lists join the authors in the page
//! query, so a page costs the same number of queries at any size.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::user;
use crate::models::markdown::{Allow, to_safe_html};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub body: String,
    pub body_html: String,
    pub timestamp: DateTimeUtc,
    pub disabled: bool,
    pub author_id: i32,
    pub composition_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AuthorId",
        to = "super::user::Column::Id"
    )]
    Author,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    author_id: i32,
    composition_id: i32,
    body: &str,
) -> Result<Model, DbErr> {
    ActiveModel {
        body: Set(body.to_owned()),
        body_html: Set(to_safe_html(body, Allow::Comment)),
        timestamp: Set(Utc::now()),
        disabled: Set(false),
        author_id: Set(author_id),
        composition_id: Set(composition_id),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// How many comments a composition has.
pub async fn count_on<C: ConnectionTrait>(db: &C, composition_id: i32) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::CompositionId.eq(composition_id))
        .count(db)
        .await
}

/// Which comments a list shows, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// One composition's comments, oldest first.
    On(i32),
    /// Every comment, newest first (moderation).
    All,
}

/// A comment with its author.
pub type WithAuthor = (Model, user::Model);

/// One page of comments with their authors, and the total: two queries.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    thread: Thread,
    offset: u64,
    limit: u64,
) -> Result<(Vec<WithAuthor>, u64), DbErr> {
    let query = match thread {
        Thread::On(id) => Entity::find()
            .filter(Column::CompositionId.eq(id))
            .order_by_asc(Column::Timestamp)
            .order_by_asc(Column::Id),
        Thread::All => Entity::find()
            .order_by_desc(Column::Timestamp)
            .order_by_desc(Column::Id),
    };
    let total = query.clone().count(db).await?;
    if offset >= total {
        return Ok((Vec::new(), total));
    }
    let rows = query
        .find_also_related(user::Entity)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .filter_map(|(c, author)| author.map(|a| (c, a)))
            .collect(),
        total,
    ))
}

/// Enable or disable a comment (moderation); false if there is no such comment.
pub async fn set_disabled<C: ConnectionTrait>(
    db: &C,
    id: i32,
    disabled: bool,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::Disabled, Expr::value(disabled))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// Insert many comments in one statement (`seed`).
pub async fn insert_many<C: ConnectionTrait>(db: &C, rows: Vec<ActiveModel>) -> Result<(), DbErr> {
    Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

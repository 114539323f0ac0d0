//! Comments on compositions; moderators can disable them. Lists join the authors in the page
//! query, so a page costs one query at any size and any depth.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseBackend, QueryTrait, SelectTwo, Statement};

use super::keyset::{Cursor, Key, Order, Page, Reading};
use super::{counter, notification, user};
use crate::models::markdown::{Allow, mentions, to_safe_html_with_mentions};

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

/// Post a comment. It notifies the composition's artist, and the users it `@mentions` (at most
/// `markdown::MENTIONS_MAX`, each linked to their profile), never its author, all in its
/// transaction. `None` if the composition is gone (deleted, perhaps, a moment ago).
pub async fn create(
    db: &DatabaseConnection,
    author_id: i32,
    composition_id: i32,
    body: &str,
) -> Result<Option<Model>, DbErr> {
    let mentioned = user::named(db, &mentions(body)).await?;
    let names: HashMap<String, String> = mentioned
        .iter()
        .map(|(_, name)| (name.to_ascii_lowercase(), name.clone()))
        .collect();
    let txn = super::begin_write(db).await?;
    // The composition's row first, with the lock its comment count's update takes: else the
    // insert's foreign-key check (KEY SHARE) and then that update could let a deletion of the
    // composition queue between them, each waiting for the other. Once it is ours, a deletion
    // that came first has taken it away, and the comment has nothing to go on.
    let held = super::track::Hold::Keep;
    if super::track::hold_composition(&txn, composition_id, held)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let comment = ActiveModel {
        body: Set(body.to_owned()),
        body_html: Set(to_safe_html_with_mentions(body, Allow::Comment, &names)),
        timestamp: Set(Utc::now()),
        disabled: Set(false),
        author_id: Set(author_id),
        composition_id: Set(composition_id),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let about = |kind| notification::Event {
        kind,
        actor: Some(author_id),
        composition: Some(composition_id),
        comment: Some(comment.id),
    };
    let artist = notification::Recipients::ArtistOf(composition_id);
    notification::notify(&txn, about(notification::Kind::Comment), artist).await?;
    if !mentioned.is_empty() {
        let ids = mentioned.iter().map(|(id, _)| *id).collect();
        let others = notification::Recipients::MentionedOn(ids, composition_id);
        notification::notify(&txn, about(notification::Kind::Mention), others).await?;
    }
    txn.commit().await?;
    Ok(Some(comment))
}

/// Which comments a list shows, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// One composition's comments, oldest first.
    On(i32),
    /// Every comment, newest first (moderation).
    All,
}

impl Thread {
    /// How a page of this thread from `cursor` is read.
    pub fn reading(self, cursor: Cursor, per_page: u64) -> Reading {
        let order = match self {
            Thread::On(_) => Order::OldestFirst,
            Thread::All => Order::NewestFirst,
        };
        Reading::new(cursor, order, per_page)
    }
}

/// How many comments there are in all, as kept with the data. (One composition's number is
/// its `comments_count`.)
pub async fn total<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    counter::get(db, counter::COMMENTS).await
}

/// A comment with its author.
pub type WithAuthor = (Model, user::Model);

/// One page of comments with their authors: one query, from the cursor along the index
/// `(composition_id, timestamp, id)` or `(timestamp, id)`.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    thread: Thread,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<WithAuthor>, DbErr> {
    let reading = thread.reading(cursor, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = select(thread, &reading).all(db).await?;
    let rows = rows
        .into_iter()
        .filter_map(|(c, author)| author.map(|a| (c, a)))
        .collect();
    Ok(reading.finish(rows, |(c, _)| Key::new(c.timestamp, c.id)))
}

fn select(thread: Thread, reading: &Reading) -> SelectTwo<Entity, user::Entity> {
    let query = match thread {
        Thread::On(id) => Entity::find().filter(Column::CompositionId.eq(id)),
        Thread::All => Entity::find(),
    };
    reading
        .apply(query, Column::Timestamp, Column::Id)
        .find_also_related(user::Entity)
}

/// The statement that reads a page of `thread` (public for the query-plan tests).
pub fn page_statement(backend: DatabaseBackend, thread: Thread, reading: &Reading) -> Statement {
    select(thread, reading).build(backend)
}

/// Enable or disable a comment (moderation); returns its author, or `None` if there is no
/// such comment. A change tells the comment's author (unless the moderator is the author),
/// without naming the moderator; setting what is already set tells nobody.
pub async fn set_disabled(
    db: &DatabaseConnection,
    moderator_id: i32,
    id: i32,
    disabled: bool,
) -> Result<Option<user::Model>, DbErr> {
    let txn = super::begin_write(db).await?;
    let Some((comment, author)) = Entity::find_by_id(id)
        .find_also_related(user::Entity)
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    if comment.disabled != disabled {
        Entity::update_many()
            .col_expr(Column::Disabled, Expr::value(disabled))
            .filter(Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if comment.author_id != moderator_id {
            let kind = if disabled {
                notification::Kind::CommentDisabled
            } else {
                notification::Kind::CommentEnabled
            };
            let event = notification::Event {
                kind,
                actor: None,
                composition: Some(comment.composition_id),
                comment: Some(id),
            };
            let author = notification::Recipients::User(comment.author_id);
            notification::notify(&txn, event, author).await?;
        }
    }
    txn.commit().await?;
    Ok(author)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

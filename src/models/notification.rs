//! Notifications: what happened that concerns a user (a follower, a comment, a mention, a like,
//! a moderator's decision on their comment), one row per recipient, and how each user wants to
//! hear of them by mail.
//!
//! Notifying is one `INSERT … SELECT` per event whatever the number of recipients: it leaves
//! out the actor, and an event already notified in the last day (an unfollow and re-follow, an
//! unlike and like again), and it reads the recipient's mail choice into the row. The mail
//! worker (`notices`) later turns the rows marked for mail into messages, so a request never
//! renders or queues mail for a notification. Each user's mail choices are in [`settings`].

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{DatabaseBackend, QueryOrder, QuerySelect, QueryTrait, SelectTwo, Statement};

use super::keyset::{Cursor, Key, Order, Page, Reading};
use super::{slug, user};

pub mod seeded;
pub mod settings;

pub use seeded::insert_seeded;
pub use settings::{Delivery, Settings, Topic, save_settings, settings_of, unsubscribe};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub kind: i16,
    pub actor_id: Option<i32>,
    pub composition_id: Option<i32>,
    pub comment_id: Option<i32>,
    pub timestamp: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    /// [`Delivery`] still owed: 0 nothing, 1 a mail of its own, 2 a line of a digest.
    pub mail: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActorId",
        to = "super::user::Column::Id"
    )]
    Actor,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Actor.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The compositions notifications are about, named here rather than through their module:
/// that module reads the likes and comments, which notify, and would close a circle.
#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
    ArtistId,
    Title,
}

/// What happened. The numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Follow = 1,
    Comment = 2,
    Mention = 3,
    Like = 4,
    CommentDisabled = 5,
    CommentEnabled = 6,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Follow,
        Kind::Comment,
        Kind::Mention,
        Kind::Like,
        Kind::CommentDisabled,
        Kind::CommentEnabled,
    ];

    pub fn from_i16(value: i16) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as i16 == value)
    }

    /// The name the API uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Follow => "follow",
            Kind::Comment => "comment",
            Kind::Mention => "mention",
            Kind::Like => "like",
            Kind::CommentDisabled => "comment_disabled",
            Kind::CommentEnabled => "comment_enabled",
        }
    }

    /// The mail setting that decides how this kind is mailed.
    pub fn topic(self) -> Topic {
        match self {
            Kind::Follow => Topic::Follows,
            Kind::Comment => Topic::Comments,
            Kind::Mention => Topic::Mentions,
            Kind::Like => Topic::Likes,
            Kind::CommentDisabled | Kind::CommentEnabled => Topic::Moderation,
        }
    }

    /// Events that can be undone and done again (unfollow, follow): notified once a day.
    fn repeatable(self) -> bool {
        matches!(self, Kind::Follow | Kind::Like)
    }
}

/// Who is told of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// One user.
    User(i32),
    /// The artist of a composition.
    ArtistOf(i32),
    /// These users (mentions), leaving out the composition's artist, whom the comment itself
    /// notifies.
    MentionedOn(Vec<i32>, i32),
}

/// An event to notify: what, by whom (none for a moderator, who stays anonymous), on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub actor: Option<i32>,
    pub composition: Option<i32>,
    pub comment: Option<i32>,
}

/// How far back an event counts as already notified (see [`Kind::repeatable`]).
const REPEAT_WINDOW_HOURS: i64 = 24;

/// Notify `recipients` of `event`: one statement, one row per recipient, nothing to the actor
/// and nothing twice in a day for an event that can be undone and redone. Returns how many
/// were notified. Call it in the transaction of the change.
pub async fn notify<C: ConnectionTrait>(
    db: &C,
    event: Event,
    recipients: Recipients,
) -> Result<u64, DbErr> {
    let statement = notify_statement(event, &recipients, Utc::now());
    Ok(db.execute(&statement).await?.rows_affected())
}

/// `a = b` (`Expr` is `PartialEq` too, so `.eq` alone is ambiguous).
fn is(a: Expr, b: impl Into<Expr>) -> Expr {
    ExprTrait::eq(a, b)
}

fn notify_statement(
    event: Event,
    recipients: &Recipients,
    now: DateTimeUtc,
) -> sea_orm::sea_query::InsertStatement {
    let recipient = Expr::col((user::Entity, user::Column::Id));
    let topic = event.kind.topic();
    let mail = Query::select()
        .column(topic.column())
        .from(settings::Entity)
        .and_where(is(
            Expr::col((settings::Entity, settings::Column::UserId)),
            recipient.clone(),
        ))
        .to_owned();
    let mut select = Query::select();
    select
        .expr(recipient.clone())
        .expr(Expr::val(event.kind as i16))
        .expr(Expr::val(event.actor))
        .expr(Expr::val(event.composition))
        .expr(Expr::val(event.comment))
        .expr(Expr::val(now))
        .expr(Func::coalesce([
            Expr::SubQuery(None, Box::new(mail.into())),
            Expr::val(topic.default_delivery() as i16),
        ]))
        .from(user::Entity);
    let artist_of = |composition: i32| {
        Query::select()
            .column(Compositions::ArtistId)
            .from(Compositions::Table)
            .and_where(is(
                Expr::col((Compositions::Table, Compositions::Id)),
                composition,
            ))
            .to_owned()
    };
    match recipients {
        Recipients::User(id) => {
            select.and_where(is(recipient.clone(), *id));
        }
        Recipients::ArtistOf(composition) => {
            select.and_where(recipient.clone().in_subquery(artist_of(*composition)));
        }
        Recipients::MentionedOn(ids, composition) => {
            select
                .and_where(recipient.clone().is_in(ids.iter().copied()))
                .and_where(recipient.clone().not_in_subquery(artist_of(*composition)));
        }
    }
    if let Some(actor) = event.actor {
        select.and_where(recipient.clone().ne(actor));
    }
    if event.kind.repeatable() {
        let earlier = Alias::new("earlier");
        let same = |column: Column| Expr::col((earlier.clone(), column));
        let mut again = Query::select();
        again
            .expr(Expr::val(1))
            .from_as(Entity, earlier.clone())
            .and_where(is(same(Column::ActorId), event.actor))
            .and_where(is(same(Column::UserId), recipient.clone()))
            .and_where(is(same(Column::Kind), event.kind as i16))
            .and_where(same(Column::Timestamp).gt(now - Duration::hours(REPEAT_WINDOW_HOURS)));
        match event.composition {
            Some(id) => again.and_where(is(same(Column::CompositionId), id)),
            None => again.and_where(same(Column::CompositionId).is_null()),
        };
        select.and_where(Expr::not_exists(again.to_owned()));
    }
    Query::insert()
        .into_table(Entity)
        .columns([
            Column::UserId,
            Column::Kind,
            Column::ActorId,
            Column::CompositionId,
            Column::CommentId,
            Column::Timestamp,
            Column::Mail,
        ])
        .select_from(select.to_owned())
        .expect("the select has a value for every column")
        .to_owned()
}

/// How many unread notifications the navbar shows at most ("99+" beyond).
pub const UNREAD_SHOWN: u64 = 99;

/// A user's unread notifications, counted up to [`UNREAD_SHOWN`] + 1: one range of the partial
/// index of unread rows, however many there are.
pub async fn unread_count<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<u64, DbErr> {
    count(db, user_id, Filter::Unread, UNREAD_SHOWN + 1).await
}

/// A user's notifications (or unread ones), counted up to `cap`: the cost is bounded by the cap.
pub async fn count<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    filter: Filter,
    cap: u64,
) -> Result<u64, DbErr> {
    let row = db.query_one(&count_statement(user_id, filter, cap)).await?;
    Ok(match row {
        Some(row) => u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0),
        None => 0,
    })
}

fn count_statement(user_id: i32, filter: Filter, cap: u64) -> SelectStatement {
    let mut rows = Query::select();
    rows.expr(Expr::val(1))
        .from(Entity)
        .and_where(is(Expr::col(Column::UserId), user_id))
        .limit(cap);
    if filter == Filter::Unread {
        rows.and_where(Expr::col(Column::ReadAt).is_null());
    }
    Query::select()
        .expr(Func::count(Expr::val(1)))
        .from_subquery(rows.to_owned(), Alias::new("counted"))
        .to_owned()
}

/// The statement that counts a user's unread notifications (public for the query-plan tests).
pub fn unread_count_sql(backend: DatabaseBackend, user_id: i32) -> Statement {
    backend.build(&count_statement(user_id, Filter::Unread, UNREAD_SHOWN + 1))
}

/// One of a user's notifications (never another user's), with its actor and composition.
pub async fn find_for<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    id: i32,
) -> Result<Option<Item>, DbErr> {
    Ok(item(db, id)
        .await?
        .filter(|i| i.notification.user_id == user_id))
}

/// Which of a user's notifications a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Unread,
}

/// A notification with who did it and the composition it is about.
#[derive(Debug, Clone)]
pub struct Item {
    pub notification: Model,
    pub kind: Kind,
    pub actor: Option<user::Model>,
    /// The composition's id and title.
    pub composition: Option<(i32, String)>,
}

impl Item {
    pub fn unread(&self) -> bool {
        self.notification.read_at.is_none()
    }
}

/// A page of a user's notifications, newest first: one query along `(user_id, timestamp,
/// id)` (or the unread rows' partial index) with the actors joined, and one for the page's
/// compositions by primary key.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    filter: Filter,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<Item>, DbErr> {
    let reading = Reading::new(cursor, Order::NewestFirst, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = select(user_id, filter, &reading).all(db).await?;
    let items = with_compositions(db, rows).await?;
    Ok(reading.finish(items, |i| {
        Key::new(i.notification.timestamp, i.notification.id)
    }))
}

fn select(user_id: i32, filter: Filter, reading: &Reading) -> SelectTwo<Entity, user::Entity> {
    let mut query = Entity::find().filter(Column::UserId.eq(user_id));
    if filter == Filter::Unread {
        query = query.filter(Column::ReadAt.is_null());
    }
    reading
        .apply(query, Column::Timestamp, Column::Id)
        .find_also_related(user::Entity)
}

/// The statement that reads a page of notifications (public for the query-plan tests).
pub fn page_statement(
    backend: DatabaseBackend,
    user_id: i32,
    filter: Filter,
    reading: &Reading,
) -> Statement {
    select(user_id, filter, reading).build(backend)
}

/// Rows with their compositions' titles: one query by primary key for all of them. Rows of a
/// kind this release does not know are left out.
async fn with_compositions<C: ConnectionTrait>(
    db: &C,
    rows: Vec<(Model, Option<user::Model>)>,
) -> Result<Vec<Item>, DbErr> {
    let mut ids: Vec<i32> = rows.iter().filter_map(|(n, _)| n.composition_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let titles: HashMap<i32, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        let select = Query::select()
            .columns([Compositions::Id, Compositions::Title])
            .from(Compositions::Table)
            .and_where(Expr::col(Compositions::Id).is_in(ids))
            .to_owned();
        let mut titles = HashMap::new();
        for row in db.query_all(&select).await? {
            titles.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        }
        titles
    };
    Ok(rows
        .into_iter()
        .filter_map(|(notification, actor)| {
            let kind = Kind::from_i16(notification.kind)?;
            let composition = notification
                .composition_id
                .and_then(|id| titles.get(&id).map(|t| (id, t.clone())));
            Some(Item {
                notification,
                kind,
                actor,
                composition,
            })
        })
        .collect())
}

/// Mark some of a user's notifications read (never another user's); returns how many changed.
pub async fn mark_read<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    ids: &[i32],
) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let result = Entity::update_many()
        .col_expr(Column::ReadAt, Expr::value(Utc::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null())
        .filter(Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Mark all of a user's notifications read: the unread rows only, found by their index.
pub async fn mark_all_read<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<u64, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::ReadAt, Expr::value(Utc::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// One entry of the notifications page: a notification, or several of the same kind about the
/// same thing ("ann and 3 others liked …"; "bob and 2 others followed you").
#[derive(Debug, Clone)]
pub struct Group {
    /// The newest of them: its kind, composition and time.
    pub newest: Item,
    /// Everyone who did it, newest first, each once.
    pub actors: Vec<user::Model>,
    /// The ids of the notifications it stands for (to mark them read together).
    pub ids: Vec<i32>,
    pub unread: bool,
}

impl Group {
    /// How many others beside the first actor.
    pub fn others(&self) -> usize {
        self.actors.len().saturating_sub(1)
    }

    /// What they did, after the actors' names (or "A moderator"): "liked", "followed you"...
    pub fn verb(&self) -> &'static str {
        match self.newest.kind {
            Kind::Follow => "followed you",
            Kind::Comment => "commented on",
            Kind::Mention => "mentioned you in a comment on",
            Kind::Like => "liked",
            Kind::CommentDisabled => "hid your comment on",
            Kind::CommentEnabled => "restored your comment on",
        }
    }

    /// Where the notification leads, and the words of the link: the comment, the composition,
    /// or (for a follow, with nothing after the verb) the follower's profile.
    pub fn target(&self) -> Option<(String, String)> {
        let (id, title) = self.newest.composition.as_ref()?;
        let href = match self.newest.notification.comment_id {
            Some(comment) => format!("/comment/{comment}"),
            None => format!("/composition/{}", slug::url_slug(*id, title)),
        };
        Some((href, title.clone()))
    }

    /// The ids, comma-separated, for the mark-read form.
    pub fn id_list(&self) -> String {
        self.ids
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Gather a page's likes of one composition, and its follows, into one entry each, where the
/// newest of them is; every other notification stands alone. Order is kept.
pub fn group(items: Vec<Item>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut at: HashMap<(Kind, Option<i32>), usize> = HashMap::new();
    for item in items {
        let key = (item.kind, item.notification.composition_id);
        let groupable = matches!(item.kind, Kind::Like | Kind::Follow);
        if groupable && let Some(&index) = at.get(&key) {
            let group = &mut groups[index];
            group.ids.push(item.notification.id);
            group.unread |= item.unread();
            if let Some(actor) = item.actor
                && !group.actors.iter().any(|a| a.id == actor.id)
            {
                group.actors.push(actor);
            }
            continue;
        }
        if groupable {
            at.insert(key, groups.len());
        }
        groups.push(Group {
            actors: item.actor.clone().into_iter().collect(),
            ids: vec![item.notification.id],
            unread: item.unread(),
            newest: item,
        });
    }
    groups
}

/// Notifications whose own mail is still to be written, oldest first (from the partial index
/// of rows waiting for mail).
pub async fn owed_mail<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Mail.eq(Delivery::Each as i16))
        .order_by_asc(Column::Timestamp)
        .limit(limit)
        .all(db)
        .await
}

/// Take a notification's mail for this worker: false if another worker took it first.
pub async fn take_mail<C: ConnectionTrait>(db: &C, id: i32) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::Mail, Expr::value(Delivery::Off as i16))
        .filter(Column::Id.eq(id))
        .filter(Column::Mail.eq(Delivery::Each as i16))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Users whose digest is due at `now`: a line of theirs has waited a day. Only those lines are
/// read (a range of the partial index of rows waiting for mail), never the day's others.
/// At most `limit` users, fewer when one has several such lines among the oldest.
pub async fn digests_due<C: ConnectionTrait>(
    db: &C,
    now: DateTimeUtc,
    limit: u64,
) -> Result<Vec<i32>, DbErr> {
    let mut users: Vec<i32> = due(now, limit).into_tuple().all(db).await?;
    let mut seen = std::collections::HashSet::new();
    users.retain(|u| seen.insert(*u));
    Ok(users)
}

/// The oldest lines waiting, in the index's order: no sort, no look at the others.
fn due(now: DateTimeUtc, limit: u64) -> Select<Entity> {
    Entity::find()
        .select_only()
        .column(Column::UserId)
        .filter(Column::Mail.eq(Delivery::Digest as i16))
        .filter(Column::Timestamp.lte(now - Duration::days(1)))
        .order_by_asc(Column::Timestamp)
        .limit(limit)
}

/// The statement that finds the digests due (public for the query-plan tests).
pub fn digests_due_sql(backend: DatabaseBackend, now: DateTimeUtc, limit: u64) -> Statement {
    due(now, limit).build(backend)
}

/// Take the lines of a user's digest for this worker, with their actors and compositions; an
/// empty list if another worker took them first. The update's lock decides between workers.
pub async fn take_digest<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<Vec<Item>, DbErr> {
    let taken = Entity::update_many()
        .col_expr(Column::Mail, Expr::value(Delivery::Off as i16))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Mail.eq(Delivery::Digest as i16))
        .exec_with_returning(db)
        .await?;
    with_actors(db, taken).await
}

/// One notification with its actor and composition (for its mail).
pub async fn item<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Item>, DbErr> {
    let rows = Entity::find_by_id(id)
        .find_also_related(user::Entity)
        .all(db)
        .await?;
    Ok(with_compositions(db, rows).await?.pop())
}

/// Rows read without their actors: the actors in one query, then the compositions.
async fn with_actors<C: ConnectionTrait>(db: &C, mut rows: Vec<Model>) -> Result<Vec<Item>, DbErr> {
    rows.sort_by_key(|n| std::cmp::Reverse((n.timestamp, n.id)));
    let mut ids: Vec<i32> = rows.iter().filter_map(|n| n.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let actors: HashMap<i32, user::Model> = user::find_many(db, &ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let rows = rows
        .into_iter()
        .map(|n| {
            let actor = n.actor_id.and_then(|id| actors.get(&id).cloned());
            (n, actor)
        })
        .collect();
    with_compositions(db, rows).await
}

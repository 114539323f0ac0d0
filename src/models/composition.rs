//! Compositions: a single, an EP or an album, with a Markdown description. Every list of them
//! (the feeds, a profile) is one page query joined with the artists plus one batched query for
//! comment counts, whatever the page size.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Alias, ExprTrait, JoinType, Query};
use sea_orm::{
    ActiveValue::Set, DatabaseBackend, FromQueryResult, QueryOrder, QuerySelect, QueryTrait,
    SelectA, SelectB, Statement,
};

use super::keyset::{Cursor, Key, Order, Page, Reading};
use super::{comment, counter, follow, like, tag, track, user};
use crate::models::markdown::{Allow, to_safe_html};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "compositions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub release_type: i16,
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub timestamp: DateTimeUtc,
    pub artist_id: i32,
    /// Kept by the database's triggers: never written by the application.
    pub comments_count: i32,
    /// Kept by the database's triggers, like `comments_count`.
    pub likes_count: i32,
    /// Plays of all its tracks, kept by the plays' trigger.
    pub plays_count: i64,
    /// Its tags and track titles, for search: kept by the database's triggers.
    pub keywords: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ArtistId",
        to = "super::user::Column::Id"
    )]
    Artist,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Artist.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

pub use super::slug::{id_from_slug, slug, url_slug};

impl Model {
    pub fn slug(&self) -> String {
        slug(self.id, &self.title)
    }

    /// The slug as a URL path segment: a title's accented letters percent-encoded, so that
    /// `Location` headers and API links are valid URIs.
    pub fn url_slug(&self) -> String {
        url_slug(self.id, &self.title)
    }

    pub fn release_type_name(&self) -> &'static str {
        super::release::type_name(self.release_type)
    }
}

/// What a user writes: validated by the caller.
pub struct Draft<'a> {
    pub release_type: i16,
    pub title: &'a str,
    pub description: &'a str,
    /// Normalised (`tag::normalise_all`), at most `tag::MAX_PER_COMPOSITION`.
    pub tags: Vec<String>,
}

pub async fn create(
    db: &DatabaseConnection,
    artist_id: i32,
    draft: &Draft<'_>,
) -> Result<Model, DbErr> {
    let txn = super::begin_write(db).await?;
    let created = ActiveModel {
        release_type: Set(draft.release_type),
        title: Set(draft.title.to_owned()),
        description: Set(draft.description.to_owned()),
        description_html: Set(to_safe_html(draft.description, Allow::Description)),
        timestamp: Set(Utc::now()),
        artist_id: Set(artist_id),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    tag::set_for(&txn, created.id, created.timestamp, &draft.tags).await?;
    txn.commit().await?;
    Ok(created)
}

/// Rewrite a composition and its tags; `false` if it is gone.
pub async fn update(db: &DatabaseConnection, id: i32, draft: &Draft<'_>) -> Result<bool, DbErr> {
    let txn = super::begin_write(db).await?;
    let Some(current) = track::hold_composition(&txn, id, track::Hold::Keep).await? else {
        return Ok(false);
    };
    Entity::update_many()
        .col_expr(Column::ReleaseType, Expr::value(draft.release_type))
        .col_expr(Column::Title, Expr::value(draft.title))
        .col_expr(Column::Description, Expr::value(draft.description))
        .col_expr(
            Column::DescriptionHtml,
            Expr::value(to_safe_html(draft.description, Allow::Description)),
        )
        .filter(Column::Id.eq(id))
        .exec(&txn)
        .await?;
    tag::set_for(&txn, id, current.timestamp, &draft.tags).await?;
    txn.commit().await?;
    Ok(true)
}

/// Delete a composition with its comments and tracks together; the object keys its tracks
/// named, for the caller to release from the media store, or `None` if it was already gone.
pub async fn delete(db: &DatabaseConnection, id: i32) -> Result<Option<Vec<String>>, DbErr> {
    // Alone with any upload to it, so no track is added behind our back.
    let (txn, found) = track::begin_writing(db, id, track::Hold::Delete).await?;
    if found.is_none() {
        return Ok(None);
    }
    comment::Entity::delete_many()
        .filter(comment::Column::CompositionId.eq(id))
        .exec(&txn)
        .await?;
    like::Entity::delete_many()
        .filter(like::Column::CompositionId.eq(id))
        .exec(&txn)
        .await?;
    tag::link::Entity::delete_many()
        .filter(tag::link::Column::CompositionId.eq(id))
        .exec(&txn)
        .await?;
    let keys = track::delete_of(&txn, id).await?;
    Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(Some(keys))
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// A composition as lists show it: with its artist and its number of comments.
#[derive(Clone, Debug)]
pub struct Card {
    pub composition: Model,
    pub artist: user::Model,
    pub comments: u64,
    pub likes: u64,
    /// Its tracks, in order.
    pub tracks: Vec<track::Model>,
    /// Its tags, in order.
    pub tags: Vec<String>,
}

impl Card {
    fn of(composition: Model, artist: user::Model) -> Self {
        Card {
            comments: u64::try_from(composition.comments_count).unwrap_or(0),
            likes: u64::try_from(composition.likes_count).unwrap_or(0),
            composition,
            artist,
            tracks: Vec::new(),
            tags: Vec::new(),
        }
    }
}

/// One composition as lists show it, for its own page and the API; `None` if its artist is gone.
pub async fn card<C: ConnectionTrait>(db: &C, c: Model) -> Result<Option<Card>, DbErr> {
    let Some(artist) = user::find_by_id(db, c.artist_id).await? else {
        return Ok(None);
    };
    let mut card = Card::of(c, artist);
    card.tracks = track::of(db, card.composition.id).await?;
    card.tags = tag::of(db, card.composition.id).await?;
    Ok(Some(card))
}

/// Which compositions a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    All,
    /// Everything by the artists this user follows (themself included: the self-follow).
    FollowedBy(i32),
    By(i32),
    /// Those that carry this tag (by its id).
    Tagged(i32),
}

/// How many compositions a feed holds, from the counts kept with the data: the total, the
/// artist's count, or the sum of the followed artists' counts (one row per followed artist).
/// (A caller that holds the artist's row reads `compositions_count` from it instead.)
pub async fn count<C: ConnectionTrait>(db: &C, feed: Feed) -> Result<u64, DbErr> {
    match feed {
        Feed::All => counter::get(db, counter::COMPOSITIONS).await,
        Feed::By(artist) => Ok(user::find_by_id(db, artist)
            .await?
            .map_or(0, |u| u64::try_from(u.compositions_count).unwrap_or(0))),
        Feed::Tagged(tag) => Ok(tag::Entity::find_by_id(tag)
            .one(db)
            .await?
            .map_or(0, |t| u64::try_from(t.compositions_count).unwrap_or(0))),
        Feed::FollowedBy(reader) => {
            let total: Option<i64> = user::Entity::find()
                .select_only()
                .column_as(
                    // PostgreSQL sums integers as BIGINT or NUMERIC: BIGINT, as SQLite gives.
                    Expr::col((user::Entity, user::Column::CompositionsCount))
                        .sum()
                        .cast_as(Alias::new("BIGINT")),
                    "total",
                )
                .filter(
                    user::Column::Id.in_subquery(
                        Query::select()
                            .column(follow::Column::FollowedId)
                            .from(follow::Entity)
                            .and_where(follow::Column::FollowerId.eq(reader))
                            .to_owned(),
                    ),
                )
                .into_tuple::<Option<i64>>()
                .one(db)
                .await?
                .flatten();
            Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
        }
    }
}

/// "More from this artist": a few of the artist's other compositions, newest first.
pub async fn more_by<C: ConnectionTrait>(
    db: &C,
    artist_id: i32,
    except: i32,
    how_many: u64,
) -> Result<Vec<Model>, DbErr> {
    more_by_select(artist_id, except, how_many).all(db).await
}

/// The statement of [`more_by`] (public for the query-plan tests): a few rows from the start
/// of the artist's range of the index `(artist_id, timestamp, id)`.
pub fn more_by_statement(
    backend: DatabaseBackend,
    artist_id: i32,
    except: i32,
    how_many: u64,
) -> Statement {
    more_by_select(artist_id, except, how_many).build(backend)
}

fn more_by_select(artist_id: i32, except: i32, how_many: u64) -> Select<Entity> {
    Entity::find()
        .filter(Column::ArtistId.eq(artist_id))
        .filter(Column::Id.ne(except))
        .order_by_desc(Column::Timestamp)
        .order_by_desc(Column::Id)
        .limit(how_many)
}

/// The order of every list of compositions: newest first.
const ORDER: Order = Order::NewestFirst;

/// One page of a feed, newest first, with the artists, and the tracks of the whole page in a
/// second query: two queries whatever the page size or the position in the feed.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    feed: Feed,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<Card>, DbErr> {
    let reading = Reading::new(cursor, ORDER, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = db
        .query_all_raw(page_statement(db.get_database_backend(), feed, &reading))
        .await?
        .iter()
        .map(|row| {
            Ok(Card::of(
                Model::from_query_result(row, SelectA.as_str())?,
                user::Model::from_query_result(row, SelectB.as_str())?,
            ))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let mut page = reading.finish(rows, |c| {
        Key::new(c.composition.timestamp, c.composition.id)
    });
    fill(db, &mut page.items).await?;
    Ok(page)
}

/// The compositions of these ids as cards (in no particular order; those whose artist is gone
/// are left out): three queries, whatever the number.
pub async fn cards_of<C: ConnectionTrait>(db: &C, ids: &[i32]) -> Result<Vec<Card>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut cards: Vec<Card> = Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .find_also_related(user::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(c, artist)| Some(Card::of(c, artist?)))
        .collect();
    fill(db, &mut cards).await?;
    Ok(cards)
}

/// The tracks and tags of a page of cards: one query each, whatever the page size.
pub async fn fill<C: ConnectionTrait>(db: &C, cards: &mut [Card]) -> Result<(), DbErr> {
    let ids: Vec<i32> = cards.iter().map(|c| c.composition.id).collect();
    let mut tracks = track::of_many(db, &ids).await?;
    let mut tags = tag::of_many(db, &ids).await?;
    for card in cards {
        card.tracks = tracks.remove(&card.composition.id).unwrap_or_default();
        card.tags = tags.remove(&card.composition.id).unwrap_or_default();
    }
    Ok(())
}

/// The statement that reads a page of `feed` (public for the query-plan tests).
///
/// Everyone's feed and an artist's are one range of an index, `(timestamp, id)` or
/// `(artist_id, timestamp, id)`, read from the cursor for one page.
///
/// The followed feed, on PostgreSQL, is a merge of per-artist reads: for each followed artist
/// (the `follows` primary key), at most one page from the cursor along that artist's index
/// range (`LATERAL ... LIMIT`), then the newest page of those. It reads at most a page per
/// followed artist whatever the size of the tables, nothing is written for it, and a follow or
/// an unfollow shows at once. Fan-out on write (a timeline row per follower for every new
/// composition) would read one range instead, but costs a write per follower on every publish
/// (20,000 for a much-followed artist), a backfill on every follow and a table as large as the
/// compositions times the average followers; reading 21 small ranges costs well under a
/// millisecond, so the merge wins here (see the closing note of issue 12 for the figures).
/// SQLite has no LATERAL: there the feed is the artists' index ranges joined, fine for the
/// small databases SQLite serves.
pub fn page_statement(backend: DatabaseBackend, feed: Feed, reading: &Reading) -> Statement {
    if let (Feed::FollowedBy(reader), DatabaseBackend::Postgres) = (feed, backend) {
        return followed_statement(backend, reader, reading);
    }
    if let Feed::Tagged(tag) = feed {
        return tagged_statement(backend, tag, reading);
    }
    let query = match feed {
        Feed::All => Entity::find(),
        Feed::By(artist) => Entity::find().filter(Column::ArtistId.eq(artist)),
        Feed::Tagged(_) => unreachable!("read by tagged_statement"),
        Feed::FollowedBy(reader) => Entity::find().filter(
            Column::ArtistId.in_subquery(
                Query::select()
                    .column(follow::Column::FollowedId)
                    .from(follow::Entity)
                    .and_where(follow::Column::FollowerId.eq(reader))
                    .to_owned(),
            ),
        ),
    };
    reading
        .apply(query, Column::Timestamp, Column::Id)
        .find_also_related(user::Entity)
        .build(backend)
}

/// The followed feed on PostgreSQL (see [`page_statement`]).
fn followed_statement(backend: DatabaseBackend, reader: i32, reading: &Reading) -> Statement {
    let f = Alias::new("f");
    let k = Alias::new("k");
    // Keys only, from the index `(artist_id, timestamp, id)` alone: the rows of the page are
    // read once it is known which they are, not the page of every followed artist.
    let mut per_artist = Query::select();
    per_artist
        .columns([Column::Id, Column::Timestamp])
        .from(Entity)
        .and_where(
            Expr::col((Entity, Column::ArtistId)).equals((f.clone(), follow::Column::FollowedId)),
        );
    if let Some(condition) = reading.condition(
        Expr::col((Entity, Column::Timestamp)),
        Expr::col((Entity, Column::Id)),
    ) {
        per_artist.and_where(condition);
    }
    per_artist
        .order_by((Entity, Column::Timestamp), reading.sort())
        .order_by((Entity, Column::Id), reading.sort())
        // A numbered page may need the rows before it too.
        .limit(reading.offset() + reading.limit());
    let mut page_ids = Query::select();
    page_ids
        .expr(Expr::col((k.clone(), Column::Id)))
        .from_as(follow::Entity, f.clone())
        .join_lateral(JoinType::InnerJoin, per_artist, k.clone(), Expr::val(true))
        .and_where(Expr::col((f, follow::Column::FollowerId)).eq(reader))
        .order_by_expr(Expr::col((k.clone(), Column::Timestamp)), reading.sort())
        .order_by_expr(Expr::col((k, Column::Id)), reading.sort())
        .offset(reading.offset())
        .limit(reading.limit());
    Entity::find()
        .filter(Column::Id.in_subquery(page_ids))
        .find_also_related(user::Entity)
        .order_by(Column::Timestamp, reading.sort())
        .order_by(Column::Id, reading.sort())
        .build(backend)
}

/// A tag's compositions: a page of keys from the index `(tag_id, timestamp, composition_id)`
/// of `composition_tags`, then those compositions.
fn tagged_statement(backend: DatabaseBackend, tag: i32, reading: &Reading) -> Statement {
    let mut page_ids = Query::select();
    page_ids
        .column(tag::link::Column::CompositionId)
        .from(tag::link::Entity)
        .and_where(tag::link::Column::TagId.eq(tag));
    if let Some(condition) = reading.condition(
        Expr::col((tag::link::Entity, tag::link::Column::Timestamp)),
        Expr::col((tag::link::Entity, tag::link::Column::CompositionId)),
    ) {
        page_ids.and_where(condition);
    }
    page_ids
        .order_by(tag::link::Column::Timestamp, reading.sort())
        .order_by(tag::link::Column::CompositionId, reading.sort())
        .offset(reading.offset())
        .limit(reading.limit());
    Entity::find()
        .filter(Column::Id.in_subquery(page_ids))
        .find_also_related(user::Entity)
        .order_by(Column::Timestamp, reading.sort())
        .order_by(Column::Id, reading.sort())
        .build(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_the_id_and_the_lower_cased_words() {
        assert_eq!(slug(42, "My First Song!"), "42-my-first-song");
        assert_eq!(slug(7, "  Rock & Roll -- Live  "), "7-rock-roll-live");
        assert_eq!(slug(3, "Été à Paris"), "3-été-à-paris");
        assert_eq!(slug(9, "!!!"), "9");
        assert_eq!(id_from_slug("42-my-first-song"), Some(42));
        assert_eq!(id_from_slug("9"), Some(9));
        assert_eq!(id_from_slug("abc"), None);
        assert_eq!(id_from_slug("-1-x"), None);
        assert_eq!(id_from_slug("99999999999-x"), None);
    }
}

//! Compositions: a single, an EP or an album, with a Markdown description. Every list of them
//! (the feeds, a profile) is one page query joined with the artists plus one batched query for
//! comment counts, whatever the page size.

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, FromQueryResult, QueryOrder, QuerySelect, QueryTrait, SelectA, SelectB,
};

use super::{comment, follow, track, user};
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

/// The release types of SPEC §3, by their stored value.
pub const RELEASE_TYPES: [(i16, &str); 3] = [(1, "Single"), (2, "EP"), (3, "Album")];

pub fn release_type_name(value: i16) -> &'static str {
    RELEASE_TYPES
        .iter()
        .find(|(v, _)| *v == value)
        .map_or("Release", |(_, name)| name)
}

/// "A single", "An EP", "An album": the name with its article, to start a sentence.
pub fn a_release(name: &str) -> String {
    let article = if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "An"
    } else {
        "A"
    };
    format!("{article} {}", name.to_lowercase().replace("ep", "EP"))
}

/// `<id>-<title lower-cased, runs of non-word characters replaced by '-'>`.
/// [`slug`] as a URL path segment (percent-encoded).
pub fn url_slug(id: i32, title: &str) -> String {
    form_urlencoded::byte_serialize(slug(id, title).as_bytes()).collect()
}

pub fn slug(id: i32, title: &str) -> String {
    let mut words = String::with_capacity(title.len());
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '_' {
            words.push(c);
        } else if !words.ends_with('-') {
            words.push('-');
        }
    }
    let words = words.trim_matches('-');
    if words.is_empty() {
        id.to_string()
    } else {
        format!("{id}-{words}")
    }
}

/// The id at the front of a slug (`42-my-song` → 42).
pub fn id_from_slug(slug: &str) -> Option<i32> {
    let digits = slug.split('-').next()?;
    digits.parse().ok().filter(|id| *id > 0)
}

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
        release_type_name(self.release_type)
    }
}

/// What a user writes: validated by the caller.
pub struct Draft<'a> {
    pub release_type: i16,
    pub title: &'a str,
    pub description: &'a str,
}

pub async fn create<C: ConnectionTrait>(
    db: &C,
    artist_id: i32,
    draft: &Draft<'_>,
) -> Result<Model, DbErr> {
    ActiveModel {
        release_type: Set(draft.release_type),
        title: Set(draft.title.to_owned()),
        description: Set(draft.description.to_owned()),
        description_html: Set(to_safe_html(draft.description, Allow::Description)),
        timestamp: Set(Utc::now()),
        artist_id: Set(artist_id),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn update<C: ConnectionTrait>(db: &C, id: i32, draft: &Draft<'_>) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::ReleaseType, Expr::value(draft.release_type))
        .col_expr(Column::Title, Expr::value(draft.title))
        .col_expr(Column::Description, Expr::value(draft.description))
        .col_expr(
            Column::DescriptionHtml,
            Expr::value(to_safe_html(draft.description, Allow::Description)),
        )
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Delete a composition with its comments and tracks together; the object keys its tracks
/// named, for the caller to release from the media store.
pub async fn delete(db: &DatabaseConnection, id: i32) -> Result<Vec<String>, DbErr> {
    // Alone with any upload to it, so no track is added behind our back.
    let txn = track::begin_writing(db, id).await?;
    comment::Entity::delete_many()
        .filter(comment::Column::CompositionId.eq(id))
        .exec(&txn)
        .await?;
    let keys = track::delete_of(&txn, id).await?;
    Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(keys)
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
    /// Its tracks, in order.
    pub tracks: Vec<track::Model>,
}

/// One composition as lists show it, for its own page and the API; `None` if its artist is gone.
pub async fn card<C: ConnectionTrait>(db: &C, c: Model) -> Result<Option<Card>, DbErr> {
    let Some(artist) = user::find_by_id(db, c.artist_id).await? else {
        return Ok(None);
    };
    Ok(Some(Card {
        comments: comment::count_on(db, c.id).await?,
        tracks: track::of(db, c.id).await?,
        composition: c,
        artist,
    }))
}

/// Which compositions a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    All,
    /// Everything by the artists this user follows (themself included: the self-follow).
    FollowedBy(i32),
    By(i32),
}

impl Feed {
    fn query(self) -> Select<Entity> {
        let all = Entity::find();
        match self {
            Feed::All => all,
            Feed::By(artist) => all.filter(Column::ArtistId.eq(artist)),
            Feed::FollowedBy(user) => all.filter(
                Column::ArtistId.in_subquery(
                    Query::select()
                        .column(follow::Column::FollowedId)
                        .from(follow::Entity)
                        .and_where(follow::Column::FollowerId.eq(user))
                        .to_owned(),
                ),
            ),
        }
    }
}

/// How many compositions a feed holds.
pub async fn count<C: ConnectionTrait>(db: &C, feed: Feed) -> Result<u64, DbErr> {
    feed.query().count(db).await
}

/// One page of a feed, newest first, and the feed's total: three queries whatever the size.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    feed: Feed,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Card>, u64), DbErr> {
    let total = count(db, feed).await?;
    if offset >= total {
        return Ok((Vec::new(), total));
    }
    Ok((cards(db, feed, offset, limit).await?, total))
}

/// One page of a feed, newest first, with artists and comment counts in one query (the counts
/// are a correlated subquery, served by the comments' `(composition_id, ...)` index), and the
/// tracks of the whole page in a second.
pub async fn cards<C: ConnectionTrait>(
    db: &C,
    feed: Feed,
    offset: u64,
    limit: u64,
) -> Result<Vec<Card>, DbErr> {
    let comment_count = Query::select()
        .expr(Expr::col((comment::Entity, comment::Column::Id)).count())
        .from(comment::Entity)
        .and_where(
            Expr::col((comment::Entity, comment::Column::CompositionId))
                .equals((Entity, Column::Id)),
        )
        .to_owned();
    let statement = feed
        .query()
        .find_also_related(user::Entity)
        .expr_as(
            Expr::SubQuery(None, Box::new(comment_count.into())),
            "comment_count",
        )
        .order_by_desc(Column::Timestamp)
        .order_by_desc(Column::Id)
        .offset(offset)
        .limit(limit)
        .build(db.get_database_backend());
    let mut cards = db
        .query_all_raw(statement)
        .await?
        .iter()
        .map(|row| {
            let comments: i64 = row.try_get("", "comment_count")?;
            Ok(Card {
                composition: Model::from_query_result(row, SelectA.as_str())?,
                artist: user::Model::from_query_result(row, SelectB.as_str())?,
                comments: u64::try_from(comments).unwrap_or(0),
                tracks: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    // The page's tracks: one more query, whatever the page size.
    let ids: Vec<i32> = cards.iter().map(|c| c.composition.id).collect();
    let mut tracks = track::of_many(db, &ids).await?;
    for card in &mut cards {
        card.tracks = tracks.remove(&card.composition.id).unwrap_or_default();
    }
    Ok(cards)
}

/// How many compositions each of these artists has published.
pub async fn count_by<C: ConnectionTrait>(db: &C, artist_id: i32) -> Result<u64, DbErr> {
    Feed::By(artist_id).query().count(db).await
}

/// Insert many compositions in one statement (`seed`); their ids, in insertion order.
pub async fn insert_many<C: ConnectionTrait>(
    db: &C,
    rows: Vec<ActiveModel>,
) -> Result<Vec<i32>, DbErr> {
    Entity::insert_many(rows).exec_with_returning_keys(db).await
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

//! Tags: genres and moods, up to [`MAX_PER_COMPOSITION`] per composition, in the order typed.
//! A tag is stored once (`tags`, with the number of compositions that carry it, kept by the
//! database's triggers) and linked to compositions by `composition_tags`, whose rows repeat
//! the composition's timestamp so that a tag's page is one index range.

use std::collections::HashMap;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub name: String,
    /// Kept by the database's triggers.
    pub compositions_count: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The link of a composition to one of its tags.
pub mod link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "composition_tags")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub composition_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub tag_id: i32,
        pub position: i16,
        /// The composition's, repeated for the tag's page.
        pub timestamp: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub const MAX_PER_COMPOSITION: usize = 5;
/// Characters in a tag, at most.
pub const MAX_LEN: usize = 32;

/// A tag as stored: lower case, letters and digits, words joined by `-` (`Delta Blues!` →
/// `delta-blues`); `None` when nothing is left, or when it is longer than [`MAX_LEN`].
pub fn normalise(raw: &str) -> Option<String> {
    let mut name = String::with_capacity(raw.len());
    for c in raw.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            name.push(c);
        } else if (c == '-' || c == '_' || c.is_whitespace()) && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-');
    let length = name.chars().count();
    (length > 0 && length <= MAX_LEN).then(|| name.to_owned())
}

/// Why a list of tags was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagError {
    TooMany,
    /// This one, as typed (its start), is longer than [`MAX_LEN`].
    TooLong(String),
}

impl std::fmt::Display for TagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TagError::TooMany => write!(f, "At most {MAX_PER_COMPOSITION} tags."),
            TagError::TooLong(tag) => write!(
                f,
                "\u{201c}{tag}\u{2026}\u{201d} is too long: a tag has at most {MAX_LEN} characters."
            ),
        }
    }
}

/// Tags as typed, each normalised, in order: at most [`MAX_PER_COMPOSITION`] of them, each at
/// most [`MAX_LEN`] characters as typed (normalising never lengthens one). One with no letter
/// or digit (`???`) and repeats are left out.
pub fn normalise_all<S: AsRef<str>>(typed: &[S]) -> Result<Vec<String>, TagError> {
    if typed.len() > MAX_PER_COMPOSITION {
        return Err(TagError::TooMany);
    }
    let mut names: Vec<String> = Vec::new();
    for raw in typed {
        // The spaces around a tag ("ragtime, stride") are not part of it.
        let raw = raw.as_ref().trim();
        if raw.chars().count() > MAX_LEN {
            return Err(TagError::TooLong(raw.chars().take(16).collect()));
        }
        if let Some(name) = normalise(raw)
            && !names.contains(&name)
        {
            names.push(name);
        }
    }
    Ok(names)
}

/// A tag by its name as stored.
pub async fn find_by_name<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<Model>, DbErr> {
    Entity::find().filter(Column::Name.eq(name)).one(db).await
}

/// Give a composition exactly these tags (normalised), in this order. Call it inside the
/// transaction that writes the composition.
pub async fn set_for<C: ConnectionTrait>(
    db: &C,
    composition_id: i32,
    timestamp: DateTimeUtc,
    names: &[String],
) -> Result<(), DbErr> {
    let current = of(db, composition_id).await?;
    if current == names {
        return Ok(());
    }
    link::Entity::delete_many()
        .filter(link::Column::CompositionId.eq(composition_id))
        .exec(db)
        .await?;
    if names.is_empty() {
        return Ok(());
    }
    let ids = ensure(db, names).await?;
    let links = names.iter().enumerate().filter_map(|(position, name)| {
        Some(link::ActiveModel {
            composition_id: Set(composition_id),
            tag_id: Set(*ids.get(name)?),
            position: Set(position as i16),
            timestamp: Set(timestamp),
        })
    });
    link::Entity::insert_many(links)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The ids of these tags (normalised), created if missing; a racing creation of the same name
/// is no error.
pub async fn ensure<C: ConnectionTrait>(
    db: &C,
    names: &[String],
) -> Result<HashMap<String, i32>, DbErr> {
    Entity::insert_many(names.iter().map(|name| ActiveModel {
        name: Set(name.clone()),
        compositions_count: Set(0),
        ..Default::default()
    }))
    .on_conflict(OnConflict::column(Column::Name).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(Entity::find()
        .filter(Column::Name.is_in(names.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.name, t.id))
        .collect())
}

/// A composition's tags, in order.
pub async fn of<C: ConnectionTrait>(db: &C, composition_id: i32) -> Result<Vec<String>, DbErr> {
    Ok(of_many(db, &[composition_id])
        .await?
        .remove(&composition_id)
        .unwrap_or_default())
}

/// The tags of many compositions in one query, by composition id.
pub async fn of_many<C: ConnectionTrait>(
    db: &C,
    composition_ids: &[i32],
) -> Result<HashMap<i32, Vec<String>>, DbErr> {
    let mut tags: HashMap<i32, Vec<String>> = HashMap::new();
    if composition_ids.is_empty() {
        return Ok(tags);
    }
    let rows: Vec<(i32, String)> = link::Entity::find()
        .select_only()
        .column(link::Column::CompositionId)
        .column_as(Expr::col((Entity, Column::Name)), "name")
        .join(
            sea_orm::JoinType::InnerJoin,
            link::Entity::belongs_to(Entity)
                .from(link::Column::TagId)
                .to(Column::Id)
                .into(),
        )
        .filter(link::Column::CompositionId.is_in(composition_ids.iter().copied()))
        .order_by_asc(link::Column::CompositionId)
        .order_by_asc(link::Column::Position)
        .into_tuple()
        .all(db)
        .await?;
    for (composition_id, name) in rows {
        tags.entry(composition_id).or_default().push(name);
    }
    Ok(tags)
}

/// The most used tags, most used first, with their number of compositions.
pub async fn top<C: ConnectionTrait>(db: &C, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::CompositionsCount.gt(0))
        .order_by_desc(Column::CompositionsCount)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lower_case_words_joined_by_dashes() {
        assert_eq!(normalise("Ragtime").as_deref(), Some("ragtime"));
        assert_eq!(normalise("  Delta Blues! ").as_deref(), Some("delta-blues"));
        assert_eq!(normalise("lo_fi").as_deref(), Some("lo-fi"));
        assert_eq!(normalise("--Synth--Pop--").as_deref(), Some("synth-pop"));
        assert_eq!(normalise("Música").as_deref(), Some("música"));
        assert_eq!(normalise("<script>").as_deref(), Some("script"));
        assert_eq!(normalise("!!!"), None);
        assert_eq!(normalise(&"a".repeat(MAX_LEN + 1)), None);
        assert_eq!(
            normalise(&"a".repeat(MAX_LEN)).map(|t| t.len()),
            Some(MAX_LEN)
        );
    }

    #[test]
    fn a_field_gives_at_most_five_distinct_tags() {
        let all = |typed: &[&str]| normalise_all(typed);
        assert_eq!(
            all(&["Stride", "stride", "delta blues", "", "???"]).unwrap(),
            vec!["stride", "delta-blues"]
        );
        assert_eq!(all(&["a", "b", "c", "d", "e", "f"]), Err(TagError::TooMany));
        assert_eq!(all(&["", "", "", "", "", ""]), Err(TagError::TooMany));
        assert_eq!(all(&["a", "b", "c", "d", "a"]).unwrap().len(), 4);
        let long = "x".repeat(MAX_LEN + 1);
        assert!(matches!(all(&["ok", &long]), Err(TagError::TooLong(_))));
        // As typed after a comma: the spaces around a tag do not count against it.
        let longest = format!(" {} ", "x".repeat(MAX_LEN));
        assert_eq!(all(&["ok", &longest]).unwrap()[1].len(), MAX_LEN);
        assert_eq!(
            all(&[&"İ".repeat(MAX_LEN)]).unwrap()[0].chars().count(),
            MAX_LEN
        );
        assert_eq!(all(&[]).unwrap(), Vec::<String>::new());
    }
}

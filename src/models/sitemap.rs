//! What search engines are invited to crawl (the sitemaps.org protocol): one sitemap per range
//! of [`PER_SITEMAP`] ids of a table, so that each costs one read of a primary-key range
//! however large the table grows, and their index one lookup of each table's first and last id.
//! A deleted row leaves a gap, never a moved boundary: sitemap `n` always covers the same ids.

use std::ops::{Range, RangeInclusive};

use sea_orm::entity::prelude::*;
use sea_orm::{DatabaseBackend, QuerySelect, QueryTrait, Statement};

use super::{composition, tag, user};

/// The protocol's limit of URLs in one sitemap.
pub const PER_SITEMAP: i64 = 50_000;

/// The tables whose rows have a page of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Compositions,
    Users,
    Tags,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Compositions, Kind::Users, Kind::Tags];

    /// The name in the sitemaps' file names (`compositions-3.xml`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Compositions => "compositions",
            Kind::Users => "users",
            Kind::Tags => "tags",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The numbers of the sitemaps that cover the ids from `first` to `last`: sitemap `n` holds the
/// ids in `[n * size, (n + 1) * size)`.
pub fn numbers(first: i32, last: i32, size: i64) -> RangeInclusive<i64> {
    i64::from(first.max(0)) / size..=i64::from(last.max(0)) / size
}

/// The ids sitemap `number` covers, or `None` when no id can be there (negative, or past the
/// largest id a table can hold).
pub fn ids(number: i64, size: i64) -> Option<Range<i32>> {
    let start = number.checked_mul(size)?;
    if start < 0 || start > i64::from(i32::MAX) {
        return None;
    }
    let end = (start + size).min(i64::from(i32::MAX));
    Some(i32::try_from(start).ok()?..i32::try_from(end).ok()?)
}

/// The first and last id of each table (`None` for an empty one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spans {
    pub compositions: Option<(i32, i32)>,
    pub users: Option<(i32, i32)>,
    pub tags: Option<(i32, i32)>,
}

impl Spans {
    pub fn of(&self, kind: Kind) -> Option<(i32, i32)> {
        match kind {
            Kind::Compositions => self.compositions,
            Kind::Users => self.users,
            Kind::Tags => self.tags,
        }
    }
}

/// One statement of six scalar subqueries, each the first or last entry of a primary key.
pub fn spans_statement(backend: DatabaseBackend) -> Statement {
    let tables = [
        composition::Entity.table_name(),
        user::Entity.table_name(),
        tag::Entity.table_name(),
    ];
    let columns: Vec<String> = tables
        .iter()
        .flat_map(|t| {
            [
                format!("(SELECT MIN(id) FROM {t})"),
                format!("(SELECT MAX(id) FROM {t})"),
            ]
        })
        .collect();
    Statement::from_string(backend, format!("SELECT {}", columns.join(", ")))
}

pub async fn spans<C: ConnectionTrait>(db: &C) -> Result<Spans, DbErr> {
    let Some(row) = db
        .query_one_raw(spans_statement(db.get_database_backend()))
        .await?
    else {
        return Ok(Spans::default());
    };
    let pair = |i: usize| -> Result<Option<(i32, i32)>, DbErr> {
        let first: Option<i32> = row.try_get_by_index(2 * i)?;
        let last: Option<i32> = row.try_get_by_index(2 * i + 1)?;
        Ok(first.zip(last))
    };
    Ok(Spans {
        compositions: pair(0)?,
        users: pair(1)?,
        tags: pair(2)?,
    })
}

/// One URL of a sitemap: what names the page (a composition's slug, a username, a tag) and
/// when it last changed, if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub lastmod: Option<DateTimeUtc>,
}

/// The statement that reads the rows of `ids` (public for the query-plan tests): only the
/// columns a URL needs, never more than `ids.len()` rows. Accounts not yet confirmed and tags
/// no composition carries are left out. In no particular order: crawlers need none, and on
/// PostgreSQL sorting the 50,000 rows of a bitmap scan spilled to disk and took 56 ms where
/// the scan alone takes 14 to 23 ms (1 M compositions).
pub fn range_statement(backend: DatabaseBackend, kind: Kind, ids: Range<i32>) -> Statement {
    match kind {
        Kind::Compositions => composition::Entity::find()
            .select_only()
            .columns([
                composition::Column::Id,
                composition::Column::Title,
                composition::Column::Timestamp,
            ])
            .filter(composition::Column::Id.gte(ids.start))
            .filter(composition::Column::Id.lt(ids.end))
            .build(backend),
        Kind::Users => user::Entity::find()
            .select_only()
            .column(user::Column::Username)
            .filter(user::Column::Id.gte(ids.start))
            .filter(user::Column::Id.lt(ids.end))
            .filter(user::Column::Confirmed.eq(true))
            .build(backend),
        Kind::Tags => tag::Entity::find()
            .select_only()
            .column(tag::Column::Name)
            .filter(tag::Column::Id.gte(ids.start))
            .filter(tag::Column::Id.lt(ids.end))
            .filter(tag::Column::CompositionsCount.gt(0))
            .build(backend),
    }
}

/// The URLs of one sitemap, in one bounded read.
pub async fn entries<C: ConnectionTrait>(
    db: &C,
    kind: Kind,
    ids: Range<i32>,
) -> Result<Vec<Entry>, DbErr> {
    let rows = db
        .query_all_raw(range_statement(db.get_database_backend(), kind, ids))
        .await?;
    rows.iter()
        .map(|row| match kind {
            Kind::Compositions => {
                let id: i32 = row.try_get("", "id")?;
                let title: String = row.try_get("", "title")?;
                Ok(Entry {
                    key: composition::url_slug(id, &title),
                    lastmod: Some(row.try_get("", "timestamp")?),
                })
            }
            Kind::Users => Ok(Entry {
                key: row.try_get("", "username")?,
                lastmod: None,
            }),
            Kind::Tags => Ok(Entry {
                key: row.try_get("", "name")?,
                lastmod: None,
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sitemap_covers_a_fixed_range_of_ids_never_more_than_its_size() {
        assert_eq!(numbers(1, 1, PER_SITEMAP), 0..=0);
        assert_eq!(numbers(1, 49_999, PER_SITEMAP), 0..=0);
        assert_eq!(numbers(1, 50_000, PER_SITEMAP), 0..=1);
        assert_eq!(numbers(1, 1_000_000, PER_SITEMAP), 0..=20);
        assert_eq!(numbers(120_000, 260_000, PER_SITEMAP), 2..=5);
        assert_eq!(ids(0, PER_SITEMAP), Some(0..50_000));
        assert_eq!(ids(3, PER_SITEMAP), Some(150_000..200_000));
        assert_eq!(ids(3, 10), Some(30..40));
        for n in [0, 1, 7, 42_949] {
            let range = ids(n, PER_SITEMAP).unwrap();
            assert!(range.len() as i64 <= PER_SITEMAP);
            // The ranges of neighbours meet: every id is in exactly one sitemap.
            assert_eq!(
                range.end,
                ids(n + 1, PER_SITEMAP).map_or(i32::MAX, |r| r.start)
            );
        }
        assert_eq!(
            ids(i64::from(i32::MAX) / PER_SITEMAP, PER_SITEMAP).map(|r| r.end),
            Some(i32::MAX)
        );
        assert_eq!(ids(-1, PER_SITEMAP), None);
        assert_eq!(
            ids(i64::from(i32::MAX) / PER_SITEMAP + 1, PER_SITEMAP),
            None
        );
        assert_eq!(ids(i64::MAX, PER_SITEMAP), None);
    }
}

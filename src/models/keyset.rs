//! Keyset pagination: every list is read from a position in its order — the last item seen,
//! by its timestamp (or count, or score) and id — never by skipping rows, so page 50,000 costs what page 1 costs.
//! An index on `(…, timestamp, id)` serves each list: the read starts where the key falls and
//! stops after one page.
//!
//! Old numbered links (`?page=N`) keep working for the first [`NUMBERED_PAGES`] pages, read
//! with a small OFFSET; deeper numbers get an empty page, never a walk through the table.

use std::fmt;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};

/// Numbered pages served at most (by OFFSET, so never more than this many pages of rows read).
pub const NUMBERED_PAGES: u64 = 10;

/// A position in a list: an item's sort value and id (the tie-breaker). The value is a
/// timestamp in Unix nanoseconds for most lists ([`Key::new`]), or a whole number for those
/// ordered by a count or a score ([`Key::ranked`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub value: i64,
    pub id: i32,
}

impl Key {
    /// The key of an item of a list in time order. (Times outside 1677–2262 are clamped.)
    pub fn new(at: DateTime<Utc>, id: i32) -> Self {
        let value = at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
            i64::MIN
        } else {
            i64::MAX
        });
        Key { value, id }
    }

    /// The key of an item of a list ordered by a number.
    pub fn ranked(value: i64, id: i32) -> Self {
        Key { value, id }
    }

    /// The value as a time.
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.value)
    }

    /// `<value>_<id>`, as written by [`Key`]'s `Display`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Key> {
        let (value, id) = text.split_once('_')?;
        Some(Key {
            value: value.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.value, self.id)
    }
}

/// Which page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cursor {
    #[default]
    First,
    /// The items that come after this one in the list's order (the next page).
    After(Key),
    /// The items that come before it (the previous page).
    Before(Key),
    /// The end of the list (where a new comment lands).
    Last,
    /// An old numbered link, from 2 (page 1 is [`Cursor::First`]).
    Numbered(u64),
}

impl Cursor {
    /// The query string that asks for this page (empty for the first).
    pub fn query(&self) -> String {
        match self {
            Cursor::First => String::new(),
            Cursor::After(key) => format!("after={key}"),
            Cursor::Before(key) => format!("before={key}"),
            Cursor::Last => "page=last".to_owned(),
            Cursor::Numbered(n) => format!("page={n}"),
        }
    }

    /// The page the query parameters `after`, `before` and `page` ask for. Anything that does
    /// not parse is the first page: a bad link is no reason for an error.
    pub fn from_params(after: Option<&str>, before: Option<&str>, page: Option<&str>) -> Cursor {
        if let Some(key) = after.and_then(Key::parse) {
            return Cursor::After(key);
        }
        if let Some(key) = before.and_then(Key::parse) {
            return Cursor::Before(key);
        }
        match page.map(str::trim) {
            Some("last") => Cursor::Last,
            Some(n) => match n.parse::<u64>() {
                Ok(n) if n > 1 => Cursor::Numbered(n),
                _ => Cursor::First,
            },
            None => Cursor::First,
        }
    }
}

/// A list's natural order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// One page of a list, with where the pages beside it start.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub prev: Option<Cursor>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Page {
            items: Vec::new(),
            prev: None,
            next: None,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            prev: self.prev,
            next: self.next,
        }
    }
}

/// How a page is read: from where, in which direction, how many rows.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    cursor: Cursor,
    order: Order,
    per_page: u64,
    /// The list is ordered by a number, not a time (see [`Key`]).
    by_number: bool,
}

impl Reading {
    pub fn new(cursor: Cursor, order: Order, per_page: u64) -> Self {
        Reading {
            cursor,
            order,
            per_page: std::cmp::max(per_page, 1),
            by_number: false,
        }
    }

    /// The same reading of a list ordered by a number (a count, a score) instead of a time.
    pub fn by_number(self) -> Self {
        Reading {
            by_number: true,
            ..self
        }
    }

    /// A numbered page past those still served: nothing to read.
    pub fn is_past_numbered(&self) -> bool {
        matches!(self.cursor, Cursor::Numbered(n) if n > NUMBERED_PAGES)
    }

    /// The empty page of a numbered link past those served, with the way back to the start.
    pub fn past_numbered<T>(&self) -> Page<T> {
        Page {
            items: Vec::new(),
            prev: Some(Cursor::First),
            next: None,
        }
    }

    /// Read against the list's order (towards its start), then turned round.
    fn backwards(&self) -> bool {
        matches!(self.cursor, Cursor::Before(_) | Cursor::Last)
    }

    /// Whether the rows are read newest first.
    pub fn descending(&self) -> bool {
        (self.order == Order::NewestFirst) != self.backwards()
    }

    /// Rows to ask for: one more than a page, to know whether another follows.
    pub fn limit(&self) -> u64 {
        self.per_page + 1
    }

    pub fn offset(&self) -> u64 {
        match self.cursor {
            Cursor::Numbered(n) => (std::cmp::min(n, NUMBERED_PAGES) - 1) * self.per_page,
            _ => 0,
        }
    }

    /// The key the page is read from, if it is read from one.
    pub fn key(&self) -> Option<Key> {
        match self.cursor {
            Cursor::After(key) | Cursor::Before(key) => Some(key),
            _ => None,
        }
    }

    /// Where the rows start, over the list's `(at, id)`: `(at, id) < key` when read newest
    /// first, `>` otherwise (a row comparison, which both databases serve from the index).
    pub fn condition(&self, at: Expr, id: Expr) -> Option<Expr> {
        let key = self.key()?;
        let row = Expr::tuple([at, id]);
        // The key's time as a scalar subquery, whose value PostgreSQL does not look at when it
        // plans: it then expects some share of the rows past the key instead of estimating
        // from where the time falls in the histogram of the whole table. For a thread whose
        // comments are all much older (or newer) than most, that estimate is a handful of
        // rows, and the planner reads the thread whole in a bitmap scan and sorts it; with
        // the subquery it takes the index scan that stops after a page. SQLite reads the same
        // index range either way.
        let value = if self.by_number {
            Expr::val(key.value)
        } else {
            Expr::val(key.at())
        };
        let at_value = Query::select().expr(value).to_owned();
        let bound = Expr::tuple([
            Expr::SubQuery(None, Box::new(at_value.into())),
            Expr::val(key.id),
        ]);
        Some(if self.descending() {
            row.lt(bound)
        } else {
            row.gt(bound)
        })
    }

    /// The sort of both columns.
    pub fn sort(&self) -> sea_orm::Order {
        if self.descending() {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        }
    }

    /// `query` restricted, ordered and limited for this page, over the columns `at` and `id`.
    pub fn apply<Q, C>(&self, query: Q, at: C, id: C) -> Q
    where
        Q: QueryFilter + QueryOrder + QuerySelect,
        C: ColumnTrait,
    {
        // Named with their table: the page query joins others with the same column names.
        let qualified = |c: C| Expr::col((c.entity_name(), c));
        let query = match self.condition(qualified(at), qualified(id)) {
            Some(condition) => query.filter(condition),
            None => query,
        };
        query
            .order_by(at, self.sort())
            .order_by(id, self.sort())
            .offset(self.offset())
            .limit(self.limit())
    }

    /// The page made of the rows read, with the cursors of its neighbours.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> Key) -> Page<T> {
        let more = rows.len() as u64 > self.per_page;
        rows.truncate(self.per_page as usize);
        if self.backwards() {
            rows.reverse();
        }
        let first = rows.first().map(&key);
        let last = rows.last().map(&key);
        let (prev, next) = match self.cursor {
            Cursor::First => (None, last.filter(|_| more).map(Cursor::After)),
            Cursor::After(_) | Cursor::Numbered(_) => (
                // A page past the end leads back to the start.
                Some(first.map_or(Cursor::First, Cursor::Before)),
                last.filter(|_| more).map(Cursor::After),
            ),
            Cursor::Before(_) => (
                first.filter(|_| more).map(Cursor::Before),
                Some(last.map_or(Cursor::First, Cursor::After)),
            ),
            Cursor::Last => (first.filter(|_| more).map(Cursor::Before), None),
        };
        Page {
            items: rows,
            prev,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(nanos: i64, id: i32) -> Key {
        Key::new(DateTime::from_timestamp_nanos(nanos), id)
    }

    #[test]
    fn keys_read_back_what_they_write() {
        let k = key(1_764_583_200_123_456_789, 42);
        assert_eq!(k.to_string(), "1764583200123456789_42");
        assert_eq!(Key::parse(&k.to_string()), Some(k));
        let old = key(-1_500_000_000, 7);
        assert_eq!(Key::parse(&old.to_string()), Some(old));
        assert_eq!(old.at(), DateTime::from_timestamp_nanos(-1_500_000_000));
        let ranked = Key::ranked(-12, 3);
        assert_eq!(Key::parse(&ranked.to_string()), Some(ranked));
        for bad in [
            "",
            "_",
            "12",
            "abc_1",
            "1_x",
            "1_99999999999",
            "9".repeat(60).as_str(),
        ] {
            assert_eq!(Key::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_parameters_mean_the_first_page() {
        let k = key(5, 9);
        fn at(after: Option<&str>, before: Option<&str>, page: Option<&str>) -> Cursor {
            Cursor::from_params(after, before, page)
        }
        assert_eq!(at(Some("5_9"), None, None), Cursor::After(k));
        assert_eq!(at(None, Some("5_9"), Some("3")), Cursor::Before(k));
        assert_eq!(at(Some("junk"), None, None), Cursor::First);
        assert_eq!(at(None, None, Some("last")), Cursor::Last);
        assert_eq!(at(None, None, Some("3")), Cursor::Numbered(3));
        for page in ["1", "0", "-1", "abc", "", "99999999999999999999999"] {
            assert_eq!(at(None, None, Some(page)), Cursor::First, "{page}");
        }
        for c in [
            Cursor::After(k),
            Cursor::Before(k),
            Cursor::Last,
            Cursor::Numbered(4),
        ] {
            let query = c.query();
            let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let get = |name: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            let (after, before, page) = (get("after"), get("before"), get("page"));
            assert_eq!(at(after.as_deref(), before.as_deref(), page.as_deref()), c);
        }
    }

    /// Pages of `items` (ids 1..=n, newest first by id) as `finish` cuts them.
    fn read(items: &[i32], cursor: Cursor, per_page: u64) -> Page<i32> {
        let reading = Reading::new(cursor, Order::NewestFirst, per_page);
        let mut rows: Vec<i32> = items.to_vec();
        rows.sort_by(|a, b| {
            if reading.descending() {
                b.cmp(a)
            } else {
                a.cmp(b)
            }
        });
        let rows: Vec<i32> = rows
            .into_iter()
            .filter(|id| match cursor {
                Cursor::After(k) => *id < k.id,
                Cursor::Before(k) => *id > k.id,
                _ => true,
            })
            .skip(reading.offset() as usize)
            .take(reading.limit() as usize)
            .collect();
        reading.finish(rows, |id| key(i64::from(*id), *id))
    }

    #[test]
    fn walking_forward_and_back_gives_the_same_pages() {
        let items: Vec<i32> = (1..=7).collect();
        let first = read(&items, Cursor::First, 3);
        assert_eq!((first.items.clone(), first.prev), (vec![7, 6, 5], None));
        let second = read(&items, first.next.unwrap(), 3);
        assert_eq!(second.items, vec![4, 3, 2]);
        let third = read(&items, second.next.unwrap(), 3);
        assert_eq!((third.items.clone(), third.next), (vec![1], None));
        let back = read(&items, third.prev.unwrap(), 3);
        assert_eq!(back.items, vec![4, 3, 2]);
        let top = read(&items, back.prev.unwrap(), 3);
        assert_eq!((top.items, top.prev), (vec![7, 6, 5], None));
        let last = read(&items, Cursor::Last, 3);
        assert_eq!((last.items, last.next), (vec![3, 2, 1], None));
        let numbered = read(&items, Cursor::Numbered(2), 3);
        assert_eq!(numbered.items, vec![4, 3, 2]);
        let beyond = Reading::new(Cursor::Numbered(11), Order::NewestFirst, 3);
        assert!(beyond.is_past_numbered());
        let past_the_end = read(&items, Cursor::After(key(1, 1)), 3);
        assert_eq!(
            (past_the_end.items, past_the_end.prev),
            (vec![], Some(Cursor::First))
        );
    }
}

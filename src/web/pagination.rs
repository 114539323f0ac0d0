//! Pages of a list on the site: which page a request asks for — `?after=` or `?before=` an
//! item (keyset cursors, see `models::keyset`), `?page=last`, or an old numbered `?page=N` —
//! and the links to the pages beside it. A bad or unknown value never errors: it is the first
//! page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

use crate::models::keyset::{Cursor, Page};

/// The page parameters of a query string (or of a form that leads back to a page), taken as
/// text so that nothing in them can be rejected. As an extractor it reads the query string
/// itself: the first of each name wins, and a repeated or garbled one is no reason to refuse a
/// page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub after: Option<String>,
    pub before: Option<String>,
    pub page: Option<String>,
    /// The number of a page reached by a cursor, as the link to it counted (`n=3`): only for
    /// the page's title, so a forged one misleads no one but its sender.
    pub n: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageQuery::from_query(parts.uri.query()))
    }
}

impl PageQuery {
    /// The page parameters of a raw query string.
    pub fn from_query(query: Option<&str>) -> Self {
        let mut found = PageQuery::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match name.as_ref() {
                "after" => &mut found.after,
                "before" => &mut found.before,
                "page" => &mut found.page,
                "n" => &mut found.n,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        found
    }

    pub fn cursor(&self) -> Cursor {
        Cursor::from_params(
            self.after.as_deref(),
            self.before.as_deref(),
            self.page.as_deref(),
        )
    }

    /// The number of the page a cursor asks for, when the link to it said (2 or more).
    pub fn number(&self) -> Option<u64> {
        let counted = matches!(self.cursor(), Cursor::After(_) | Cursor::Before(_));
        let n = self.n.as_deref()?.trim().parse::<u64>().ok()?;
        (counted && (2..=MAX_NUMBER).contains(&n)).then_some(n)
    }
}

/// Beyond this a page number is not believed (a list of a billion pages would be news).
const MAX_NUMBER: u64 = 1_000_000_000;

/// The links of a page: to the pages before and after it, and back to the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pagination {
    /// The page shown.
    pub here: Cursor,
    /// Its number, when known: numbered pages and the first know theirs; a page reached by a
    /// cursor knows it from the link that led there ([`Pagination::numbered`]).
    number: Option<u64>,
    prev: Option<Cursor>,
    next: Option<Cursor>,
    /// The list's path; links add `query`, the cursor's query and `fragment`.
    path: String,
    /// Parameters every link keeps (`sort=followers`), without the `?`.
    query: String,
    fragment: &'static str,
}

impl Pagination {
    pub fn new<T>(path: impl Into<String>, here: Cursor, page: &Page<T>) -> Self {
        let number = match here {
            Cursor::First => Some(1),
            Cursor::Numbered(n) => Some(n),
            _ => None,
        };
        Pagination {
            here,
            number,
            prev: page.prev,
            next: page.next,
            path: path.into(),
            query: String::new(),
            fragment: "",
        }
    }

    /// The number of a page reached by a cursor ([`PageQuery::number`]): the links beside it
    /// then carry theirs, and its title says which page it is.
    pub fn numbered(mut self, number: Option<u64>) -> Self {
        if matches!(self.here, Cursor::After(_) | Cursor::Before(_)) {
            self.number = number;
        }
        self
    }

    /// Links jump to this anchor (`#comments`).
    pub fn with_fragment(mut self, fragment: &'static str) -> Self {
        self.fragment = fragment;
        self
    }

    /// Links keep these parameters (already encoded, without the `?`): a list's order.
    pub fn with_query(mut self, query: impl Into<String>) -> Self {
        self.query = query.into();
        self
    }

    pub fn url(&self, cursor: &Cursor) -> String {
        // The page number travels with a cursor (a numbered page's is in its own parameter).
        let number = match cursor {
            Cursor::After(_) | Cursor::Before(_) => self.number_of(cursor),
            _ => None,
        };
        let number = number
            .filter(|n| *n >= 2)
            .map(|n| format!("n={n}"))
            .unwrap_or_default();
        let query = [self.query.clone(), cursor.query(), number]
            .into_iter()
            .filter(|q| !q.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        let separator = if query.is_empty() { "" } else { "?" };
        format!("{}{separator}{query}{}", self.path, self.fragment)
    }

    /// The number of `cursor`'s page, if it is this page or one beside it and this one's is
    /// known.
    fn number_of(&self, cursor: &Cursor) -> Option<u64> {
        let here = self.number?;
        if *cursor == self.here {
            Some(here)
        } else if Some(cursor) == self.next.as_ref() {
            here.checked_add(1)
        } else if Some(cursor) == self.prev.as_ref() {
            here.checked_sub(1)
        } else {
            None
        }
    }

    pub fn prev_url(&self) -> Option<String> {
        self.prev.as_ref().map(|c| self.url(c))
    }

    pub fn next_url(&self) -> Option<String> {
        self.next.as_ref().map(|c| self.url(c))
    }

    /// Back to the start of the list, from anywhere else.
    pub fn first_url(&self) -> Option<String> {
        (self.here != Cursor::First && self.prev.is_some()).then(|| self.url(&Cursor::First))
    }

    /// The query string of this page (for a form that comes back to it).
    pub fn here_query(&self) -> String {
        self.here.query()
    }

    /// Where this page is in its list, for the start of the page's `<title>`: "Page 3 · " when
    /// its number is known, "Last page · " for the end of a list of several pages otherwise,
    /// nothing for the first page — nor for a page whose number nobody counted (a title must
    /// not guess).
    pub fn title_prefix(&self) -> String {
        match (self.number, &self.here) {
            (Some(n), _) if n >= 2 => format!("Page {n} · "),
            (Some(_), _) | (_, Cursor::First) => String::new(),
            _ if self.prev.is_some() && self.next.is_none() => "Last page · ".to_owned(),
            _ => String::new(),
        }
    }

    /// Whether the links are worth showing.
    pub fn is_multi_page(&self) -> bool {
        self.prev.is_some() || self.next.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::keyset::Key;

    #[test]
    fn the_first_of_each_parameter_wins_and_junk_is_the_first_page() {
        let q = PageQuery::from_query(Some("page=3&page=x&after=junk"));
        assert_eq!(q.cursor(), Cursor::Numbered(3));
        let q = PageQuery::from_query(Some("after=10_4&after=20_5"));
        assert_eq!(
            q.cursor(),
            Cursor::After(Key::new(chrono::DateTime::from_timestamp_nanos(10), 4))
        );
        for junk in [
            "page=-1",
            "page=abc",
            "page=0",
            "page=",
            "after=",
            "before=1_",
        ] {
            assert_eq!(
                PageQuery::from_query(Some(junk)).cursor(),
                Cursor::First,
                "{junk}"
            );
        }
        assert_eq!(PageQuery::from_query(None).cursor(), Cursor::First);
    }

    #[test]
    fn links_carry_the_cursors_of_the_pages_beside() {
        let key = Key::new(chrono::DateTime::from_timestamp_nanos(7), 3);
        let page: Page<()> = Page {
            items: vec![],
            prev: Some(Cursor::Before(key)),
            next: Some(Cursor::After(key)),
        };
        let p = Pagination::new("/x", Cursor::After(key), &page).with_fragment("#c");
        assert_eq!(p.prev_url().as_deref(), Some("/x?before=7_3#c"));
        assert_eq!(p.next_url().as_deref(), Some("/x?after=7_3#c"));
        assert_eq!(p.first_url().as_deref(), Some("/x#c"));
        assert_eq!(p.here_query(), "after=7_3");
        assert!(p.is_multi_page());
        let sorted = Pagination::new("/users", Cursor::After(key), &page).with_query("sort=x");
        assert_eq!(
            sorted.next_url().as_deref(),
            Some("/users?sort=x&after=7_3")
        );
        assert_eq!(sorted.first_url().as_deref(), Some("/users?sort=x"));
        let alone = Pagination::new("/", Cursor::First, &Page::<()>::empty());
        assert!(!alone.is_multi_page());
        assert_eq!(alone.first_url(), None);
    }

    #[test]
    fn a_title_says_which_page_only_when_the_pagination_knows() {
        let key = Key::new(chrono::DateTime::from_timestamp_nanos(7), 3);
        let page = |prev: bool, next: bool| Page::<()> {
            items: vec![],
            prev: prev.then_some(Cursor::Before(key)),
            next: next.then_some(Cursor::After(key)),
        };
        let title = |here, prev, next| Pagination::new("/", here, &page(prev, next)).title_prefix();
        assert_eq!(title(Cursor::First, false, true), "");
        assert_eq!(title(Cursor::Numbered(3), true, true), "Page 3 · ");
        assert_eq!(title(Cursor::After(key), true, false), "Last page · ");
        assert_eq!(title(Cursor::Last, true, false), "Last page · ");
        // A cursor back at the start is the first page; one in the middle has no known number.
        assert_eq!(title(Cursor::Before(key), false, true), "");
        assert_eq!(title(Cursor::After(key), true, true), "");
        // The only page there is, reached as the last: no position worth saying.
        assert_eq!(title(Cursor::Last, false, false), "");
    }

    #[test]
    fn a_page_reached_by_a_cursor_knows_its_number_from_the_link() {
        let key = |id| Key::new(chrono::DateTime::from_timestamp_nanos(7), id);
        let page = Page::<()> {
            items: vec![],
            prev: Some(Cursor::Before(key(1))),
            next: Some(Cursor::After(key(2))),
        };
        // From the first page, the next link says it leads to page 2.
        let first = Pagination::new(
            "/",
            Cursor::First,
            &Page::<()> {
                prev: None,
                ..page.clone()
            },
        );
        assert_eq!(first.next_url().as_deref(), Some("/?after=7_2&n=2"));
        // That page is "Page 2"; its neighbours are 1 (no number needed) and 3.
        let query = PageQuery::from_query(Some("after=7_0&n=2"));
        let two = Pagination::new("/", query.cursor(), &page).numbered(query.number());
        assert_eq!(two.title_prefix(), "Page 2 · ");
        assert_eq!(two.prev_url().as_deref(), Some("/?before=7_1"));
        assert_eq!(two.next_url().as_deref(), Some("/?after=7_2&n=3"));
        assert_eq!(two.url(&query.cursor()), "/?after=7_0&n=2");
        // A numbered page's neighbours are counted from it.
        let five = Pagination::new("/", Cursor::Numbered(5), &page);
        assert_eq!(five.next_url().as_deref(), Some("/?after=7_2&n=6"));
        assert_eq!(five.prev_url().as_deref(), Some("/?before=7_1&n=4"));
        // Junk, 0, 1, a number with no cursor, or beyond belief: not a number.
        for junk in [
            "after=7_0&n=x",
            "after=7_0&n=1",
            "n=4",
            "after=7_0&n=-3",
            "after=7_0&n=99999999999",
        ] {
            let q = PageQuery::from_query(Some(junk));
            assert_eq!(q.number(), None, "{junk}");
        }
    }
}

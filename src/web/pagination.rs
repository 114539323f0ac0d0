//! Pages of a list: which items a `?page=` asks for, and the widget's links (previous,
//! numbered pages with gaps, next). A bad or out-of-range `?page=` never errors: anything that
//! is not a positive number is page 1, and a page past the end is simply empty.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;

/// Pages beyond this are treated as this one (and are empty): keeps offsets sane.
const MAX_PAGE: u64 = 1_000_000;

/// The `?page=` query (or a form's `page` field), taken as text so that `abc` or `-1` cannot
/// be rejected with a 400. As an extractor it reads the query string itself: the first `page`
/// wins, and a repeated or garbled one is no reason to refuse a page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(PageQuery::from_query(parts.uri.query()))
    }
}

impl PageQuery {
    /// The `page` of a raw query string.
    pub fn from_query(query: Option<&str>) -> Self {
        let page = query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v.into_owned())
        });
        PageQuery { page }
    }

    pub fn number(&self) -> u64 {
        page_number(self.page.as_deref())
    }

    /// The raw `page` value, if any.
    pub fn raw(self) -> Option<String> {
        self.page
    }
}

/// The page a `page` value asks for: a positive whole number, else 1.
pub fn page_number(page: Option<&str>) -> u64 {
    page.and_then(|p| p.trim().parse::<u64>().ok())
        .filter(|&p| p >= 1)
        .map_or(1, |p| p.min(MAX_PAGE))
}

/// One entry of the widget: a link to a page, the current page, or a gap (no URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLink {
    pub label: String,
    pub url: Option<String>,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    /// The page's path; page links add `?page=N` and `fragment`.
    path: String,
    fragment: &'static str,
}

impl Pagination {
    pub fn new(page: u64, per_page: u64, total: u64, path: impl Into<String>) -> Self {
        Pagination {
            page: page.clamp(1, MAX_PAGE),
            per_page: per_page.max(1),
            total,
            path: path.into(),
            fragment: "",
        }
    }

    /// Links jump to this anchor (`#comments`).
    pub fn with_fragment(mut self, fragment: &'static str) -> Self {
        self.fragment = fragment;
        self
    }

    /// How many items to skip for this page.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }

    pub fn pages(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }

    pub fn prev(&self) -> Option<u64> {
        (self.page > 1).then(|| (self.page - 1).min(self.pages()))
    }

    pub fn next(&self) -> Option<u64> {
        (self.page < self.pages()).then_some(self.page + 1)
    }

    pub fn url(&self, page: u64) -> String {
        format!("{}?page={page}{}", self.path, self.fragment)
    }

    /// Page numbers for the widget, `None` for a gap: the first two, two before and four after
    /// the current one, and the last two (Flask-SQLAlchemy's `iter_pages`).
    pub fn numbers(&self) -> Vec<Option<u64>> {
        let last = self.pages();
        let mut out = Vec::new();
        let mut previous = 0;
        for n in 1..=last {
            let shown = n <= 2 || (n + 2 >= self.page && n <= self.page + 4) || n + 2 > last;
            if shown {
                if n > previous + 1 {
                    out.push(None);
                }
                out.push(Some(n));
                previous = n;
            }
        }
        out
    }

    pub fn prev_url(&self) -> Option<String> {
        self.prev().map(|n| self.url(n))
    }

    pub fn next_url(&self) -> Option<String> {
        self.next().map(|n| self.url(n))
    }

    /// The widget's numbered entries, ready to render.
    pub fn links(&self) -> Vec<PageLink> {
        self.numbers()
            .into_iter()
            .map(|n| PageLink {
                label: n.map_or_else(|| "…".to_owned(), |n| n.to_string()),
                url: n.filter(|&n| n != self.page).map(|n| self.url(n)),
                current: n == Some(self.page),
            })
            .collect()
    }

    /// Whether the widget is worth showing.
    pub fn is_multi_page(&self) -> bool {
        self.pages() > 1 || self.page > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(page: &str) -> u64 {
        PageQuery {
            page: Some(page.to_owned()),
        }
        .number()
    }

    #[test]
    fn bad_page_numbers_mean_page_one() {
        assert_eq!(query("-1"), 1);
        assert_eq!(query("abc"), 1);
        assert_eq!(query("0"), 1);
        assert_eq!(query(""), 1);
        assert_eq!(query("99999999999999999999999"), 1);
        assert_eq!(query("3"), 3);
        assert_eq!(query("99999999999"), MAX_PAGE);
        assert_eq!(PageQuery::default().number(), 1);
    }

    #[test]
    fn the_widget_shows_edges_and_neighbours_with_gaps() {
        let p = Pagination::new(10, 20, 20 * 30, "/");
        let shown: Vec<String> = p
            .numbers()
            .iter()
            .map(|n| n.map_or("…".to_owned(), |n| n.to_string()))
            .collect();
        assert_eq!(shown.join(" "), "1 2 … 8 9 10 11 12 13 14 … 29 30");
        assert_eq!((p.prev(), p.next()), (Some(9), Some(11)));
        assert_eq!(p.url(11), "/?page=11");
        assert_eq!(p.offset(), 180);
        let one = Pagination::new(1, 20, 5, "/");
        assert_eq!(one.numbers(), vec![Some(1)]);
        assert_eq!(
            (one.prev(), one.next(), one.is_multi_page()),
            (None, None, false)
        );
        let empty = Pagination::new(1, 20, 0, "/");
        assert_eq!(empty.pages(), 1);
        let beyond = Pagination::new(500, 20, 45, "/x").with_fragment("#c");
        assert_eq!(beyond.prev(), Some(3));
        assert_eq!(beyond.next(), None);
        assert_eq!(beyond.url(3), "/x?page=3#c");
    }
}

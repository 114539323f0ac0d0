//! Full-text search of compositions (title, tags and track titles, description) and people
//! (username, name, location, bio), with no server beside the database: PostgreSQL's text
//! search (a `tsvector` per row, kept by triggers, with a GIN index; `websearch_to_tsquery`,
//! `ts_rank`, `ts_headline`) or SQLite's FTS5 (`MATCH`, `bm25`, `highlight`, `snippet`).
//!
//! What people type is first reduced to a [`Query`] of plain words, so that nothing typed can
//! be read as either database's operators: words are runs of letters and digits, `"…"` makes a
//! phrase, `-word` excludes, and `or` between words offers alternatives (binding more loosely
//! than the implicit *and*, as in `websearch_to_tsquery`). The same query is then written for
//! each database, so both find the same things. Case and accents are folded by the databases'
//! own configuration (`unaccent`, `remove_diacritics`), stems by their English stemmers.
//!
//! Ranking reads the newest [`WINDOW`] matches (by id, which both databases read newest first
//! from an index or a doclist) and orders those by relevance: a title counts most, then tags
//! and track titles, then the description. A word found in a few rows is ranked over all of
//! them; a word found in half a million ranks the newest thousand, read from a few thousand rows.
//! Words in a few per cent of the rows cost most: the window fills only after tens of thousands
//! of rows (about 50 ms at a million compositions). Pages follow each other by `(score, id)`
//! cursors.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement, Value};

use super::composition::{self, Card};
use super::keyset::{Cursor, Key, Order, Page, Reading};
use super::user;

/// Matches ranked per search, at most: the newest ones.
pub const WINDOW: u64 = 1000;
/// Characters of a query read, at most; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;
/// Words in a query, at most.
const MAX_WORDS: usize = 16;

/// Marks around a matched word in the text the databases return (control characters, which
/// no stored title, name or description may hold).
const START: char = '\u{2}';
const STOP: char = '\u{3}';

/// A word or a phrase, perhaps excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    words: Vec<String>,
    excluded: bool,
}

/// A search as both databases will read it: any of these alternatives, each a set of
/// literals that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    alternatives: Vec<Vec<Literal>>,
}

impl Query {
    /// What was typed, read leniently: anything but letters, digits, quotes, a leading `-`
    /// and the word `or` separates words.
    pub fn parse(typed: &str) -> Query {
        let text: String = typed
            .chars()
            .take(MAX_QUERY_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut alternatives: Vec<Vec<Literal>> = vec![Vec::new()];
        let mut words_left = MAX_WORDS;
        // Quoted and unquoted stretches alternate.
        for (n, stretch) in text.split('"').enumerate() {
            if n % 2 == 1 {
                let words = words_of(stretch, &mut words_left);
                if !words.is_empty() {
                    alternatives.last_mut().unwrap().push(Literal {
                        words,
                        excluded: false,
                    });
                }
                continue;
            }
            for token in stretch.split_whitespace() {
                if token.eq_ignore_ascii_case("or") {
                    if !alternatives.last().unwrap().is_empty() {
                        alternatives.push(Vec::new());
                    }
                    continue;
                }
                let excluded = token.starts_with('-');
                let words = words_of(token, &mut words_left);
                if !words.is_empty() {
                    alternatives
                        .last_mut()
                        .unwrap()
                        .push(Literal { words, excluded });
                }
            }
        }
        // An alternative that only excludes would match nearly everything: it is dropped.
        alternatives.retain(|literals| literals.iter().any(|l| !l.excluded));
        Query { alternatives }
    }

    /// Nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// For `websearch_to_tsquery`: words, `"phrases"`, `-excluded`, ` or `.
    fn websearch(&self) -> String {
        self.alternatives
            .iter()
            .map(|literals| {
                literals
                    .iter()
                    .map(|l| {
                        let sign = if l.excluded { "-" } else { "" };
                        match l.words.as_slice() {
                            [word] => format!("{sign}{word}"),
                            words => format!("{sign}\"{}\"", words.join(" ")),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// For FTS5's `MATCH`: every word quoted (so none is an operator), phrases as one string,
    /// each alternative in parentheses.
    fn fts5(&self) -> String {
        self.alternatives
            .iter()
            .map(|literals| {
                let quoted = |l: &Literal| format!("\"{}\"", l.words.join(" "));
                let wanted: Vec<String> = literals
                    .iter()
                    .filter(|l| !l.excluded)
                    .map(quoted)
                    .collect();
                let mut expression = format!("({})", wanted.join(" AND "));
                for l in literals.iter().filter(|l| l.excluded) {
                    expression = format!("({expression} NOT {})", quoted(l));
                }
                expression
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }
}

/// The words of `text`: runs of letters and digits, lower-cased, while any of the query's
/// allowance is left.
fn words_of(text: &str, left: &mut usize) -> Vec<String> {
    let mut words = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if *left == 0 {
            break;
        }
        *left -= 1;
        words.push(word.to_lowercase());
    }
    words
}

/// A stretch of text from a result, and whether it is a matched word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub text: String,
    pub hit: bool,
}

/// Text with its matched words marked, as fragments a template escapes one by one: nothing a
/// user wrote can become markup.
pub type Marked = Vec<Fragment>;

/// Cut what a database returned (matches between [`START`] and [`STOP`]) into fragments;
/// Markdown's emphasis and code marks are dropped, as a snippet shows plain words.
fn marked(text: &str) -> Marked {
    let mut fragments: Marked = Vec::new();
    let mut hit = false;
    let mut current = String::new();
    let mut push = |current: &mut String, hit: bool| {
        if !current.is_empty() {
            fragments.push(Fragment {
                text: std::mem::take(current),
                hit,
            });
        }
    };
    for c in text.chars() {
        match c {
            START => {
                push(&mut current, hit);
                hit = true;
            }
            STOP => {
                push(&mut current, hit);
                hit = false;
            }
            '*' | '`' => {}
            c => current.push(c),
        }
    }
    push(&mut current, hit);
    fragments
}

/// What is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Compositions,
    People,
}

/// A composition found, with its title and a snippet of its description marked.
#[derive(Debug, Clone)]
pub struct FoundComposition {
    pub card: Card,
    pub title: Marked,
    pub snippet: Marked,
}

/// A person found, with their name and a snippet of their bio marked.
#[derive(Debug, Clone)]
pub struct FoundPerson {
    pub user: user::Model,
    pub name: Marked,
    pub snippet: Marked,
}

/// A page of results, and how many matches were ranked (at most [`WINDOW`]).
#[derive(Debug, Clone)]
pub struct Results<T> {
    pub page: Page<T>,
    pub count: u64,
}

impl<T> Results<T> {
    fn none() -> Self {
        Results {
            page: Page::empty(),
            count: 0,
        }
    }
}

/// The order of results: best first (by score, then newest).
const ORDER: Order = Order::NewestFirst;

/// One page of the compositions matching `query`, best first.
pub async fn compositions<C: ConnectionTrait>(
    db: &C,
    query: &Query,
    cursor: Cursor,
    per_page: u64,
) -> Result<Results<FoundComposition>, DbErr> {
    let reading = Reading::new(cursor, ORDER, per_page).by_number();
    if query.is_empty() || reading.is_past_numbered() {
        return Ok(Results::none());
    }
    let (ranked, count, mut marks) =
        ranked_and_marked(db, Scope::Compositions, query, &reading).await?;
    let ids: Vec<i32> = ranked.iter().map(|k| k.id).collect();
    let mut cards: HashMap<i32, Card> = composition::cards_of(db, &ids)
        .await?
        .into_iter()
        .map(|c| (c.composition.id, c))
        .collect();
    let found = ranked
        .into_iter()
        .filter_map(|key| {
            let card = cards.remove(&key.id)?;
            let (title, snippet) = marks.remove(&key.id).unwrap_or_default();
            Some((
                key,
                FoundComposition {
                    title: or_plain(title, &card.composition.title),
                    snippet: marked(&snippet),
                    card,
                },
            ))
        })
        .collect();
    Ok(Results {
        page: reading.finish(found, |(key, _)| *key).map(|(_, f)| f),
        count,
    })
}

/// One page of the people matching `query`, best first.
pub async fn people<C: ConnectionTrait>(
    db: &C,
    query: &Query,
    cursor: Cursor,
    per_page: u64,
) -> Result<Results<FoundPerson>, DbErr> {
    let reading = Reading::new(cursor, ORDER, per_page).by_number();
    if query.is_empty() || reading.is_past_numbered() {
        return Ok(Results::none());
    }
    let (ranked, count, mut marks) = ranked_and_marked(db, Scope::People, query, &reading).await?;
    let ids: Vec<i32> = ranked.iter().map(|k| k.id).collect();
    let mut users: HashMap<i32, user::Model> = user::find_many(db, &ids)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let found = ranked
        .into_iter()
        .filter_map(|key| {
            let user = users.remove(&key.id)?;
            let (name, snippet) = marks.remove(&key.id).unwrap_or_default();
            Some((
                key,
                FoundPerson {
                    name: or_plain(name, user.name.as_deref().unwrap_or_default()),
                    snippet: marked(&snippet),
                    user,
                },
            ))
        })
        .collect();
    Ok(Results {
        page: reading.finish(found, |(key, _)| *key).map(|(_, f)| f),
        count,
    })
}

/// The keys of a page of `scope`'s results in the reading's order, the number of matches
/// ranked, and the marked heading and snippet of each result by id: what both scopes share.
async fn ranked_and_marked<C: ConnectionTrait>(
    db: &C,
    scope: Scope,
    query: &Query,
    reading: &Reading,
) -> Result<(Vec<Key>, u64, HashMap<i32, (String, String)>), DbErr> {
    let backend = db.get_database_backend();
    let (ranked, count) =
        ranked_page(db, page_statement(backend, scope, query, reading, WINDOW)).await?;
    let ids: Vec<i32> = ranked.iter().map(|k| k.id).collect();
    let marks = marks_of(db, marks_statement(backend, scope, query, &ids)).await?;
    Ok((ranked, count, marks))
}

/// The marked text, or the plain one if the database gave none.
fn or_plain(marked_text: String, plain: &str) -> Marked {
    if marked_text.is_empty() {
        marked(plain)
    } else {
        marked(&marked_text)
    }
}

#[derive(FromQueryResult)]
struct RankedRow {
    id: i32,
    score: i64,
    total: i64,
}

/// The keys of a page of results, in the reading's order, and the number of matches ranked.
async fn ranked_page<C: ConnectionTrait>(
    db: &C,
    statement: Statement,
) -> Result<(Vec<Key>, u64), DbErr> {
    let rows = RankedRow::find_by_statement(statement).all(db).await?;
    let count = rows
        .first()
        .map_or(0, |r| u64::try_from(r.total).unwrap_or(0));
    Ok((
        rows.into_iter()
            .map(|r| Key::ranked(r.score, r.id))
            .collect(),
        count,
    ))
}

#[derive(FromQueryResult)]
struct MarksRow {
    id: i32,
    heading: Option<String>,
    snippet: Option<String>,
}

async fn marks_of<C: ConnectionTrait>(
    db: &C,
    statement: Option<Statement>,
) -> Result<HashMap<i32, (String, String)>, DbErr> {
    let Some(statement) = statement else {
        return Ok(HashMap::new());
    };
    Ok(MarksRow::find_by_statement(statement)
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.id,
                (r.heading.unwrap_or_default(), r.snippet.unwrap_or_default()),
            )
        })
        .collect())
}

/// Where each scope's text lives on each database.
struct Source {
    table: &'static str,
    /// PostgreSQL's documents, and the column naming their row.
    documents: &'static str,
    owner: &'static str,
    /// SQLite's FTS5 table, and its bm25 weights per column.
    fts: &'static str,
    weights: &'static str,
    /// The column shown as the result's heading, and the one a snippet is cut from, by
    /// their FTS5 column numbers on SQLite.
    heading: (&'static str, u8),
    snippet: (&'static str, u8),
}

fn source(scope: Scope) -> Source {
    match scope {
        Scope::Compositions => Source {
            table: "compositions",
            documents: "composition_documents",
            owner: "composition_id",
            fts: "compositions_search",
            weights: "10.0, 4.0, 1.0",
            heading: ("title", 0),
            snippet: ("description", 2),
        },
        Scope::People => Source {
            table: "users",
            documents: "user_documents",
            owner: "user_id",
            fts: "users_search",
            weights: "10.0, 10.0, 4.0, 1.0",
            heading: ("name", 1),
            snippet: ("about_me", 3),
        },
    }
}

/// The `n`th bound value in a statement (both databases accept numbered ones, each its way).
fn placeholder(backend: DatabaseBackend, n: u8) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// The statement that ranks the newest `window` matches ([`WINDOW`] but in tests) and reads
/// one page of their keys, each row with the number of matches ranked (public for the
/// query-plan tests).
pub fn page_statement(
    backend: DatabaseBackend,
    scope: Scope,
    query: &Query,
    reading: &Reading,
    window: u64,
) -> Statement {
    let s = source(scope);
    let p = |n: u8| placeholder(backend, n);
    let (matches, text) = match backend {
        DatabaseBackend::Postgres => (
            format!(
                "SELECT id, (ts_rank(document, websearch_to_tsquery('ragtime', {q})) \
                 * 1000000)::bigint AS score FROM (SELECT {owner} AS id, document \
                 FROM {documents} WHERE document @@ websearch_to_tsquery('ragtime', {q}) \
                 ORDER BY {owner} DESC LIMIT {window}) m",
                documents = s.documents,
                owner = s.owner,
                q = p(1),
            ),
            query.websearch(),
        ),
        _ => (
            format!(
                "SELECT id, score FROM (SELECT rowid AS id, \
                 CAST(-bm25({fts}, {weights}) * 1000000 AS INTEGER) AS score FROM {fts} \
                 WHERE {fts} MATCH {q} ORDER BY rowid DESC LIMIT {window})",
                fts = s.fts,
                weights = s.weights,
                q = p(1),
            ),
            query.fts5(),
        ),
    };
    let mut values: Vec<Value> = vec![text.into()];
    let direction = if reading.descending() { "DESC" } else { "ASC" };
    let mut condition = String::from("TRUE");
    if let Some(key) = reading.key() {
        let operator = if reading.descending() { "<" } else { ">" };
        condition = format!("(score, id) {operator} ({}, {})", p(2), p(3));
        values.push(key.value.into());
        values.push(key.id.into());
    }
    let sql = format!(
        "WITH ranked AS ({matches}) \
         SELECT id, score, (SELECT count(*) FROM ranked) AS total FROM ranked \
         WHERE {condition} ORDER BY score {direction}, id {direction} \
         LIMIT {limit} OFFSET {offset}",
        limit = reading.limit(),
        offset = reading.offset(),
    );
    Statement::from_sql_and_values(backend, sql, values)
}

/// The statement that marks the matched words in the heading and a snippet of each result of
/// a page; `None` for an empty page.
fn marks_statement(
    backend: DatabaseBackend,
    scope: Scope,
    query: &Query,
    ids: &[i32],
) -> Option<Statement> {
    if ids.is_empty() {
        return None;
    }
    let s = source(scope);
    let ids_list = ids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let (heading, snippet) = (s.heading, s.snippet);
    let p = |n: u8| placeholder(backend, n);
    let sql = match backend {
        DatabaseBackend::Postgres => format!(
            "SELECT id, \
             ts_headline('ragtime', coalesce({h}, ''), q, {p2}) AS heading, \
             ts_headline('ragtime', coalesce({sn}, ''), q, {p3}) AS snippet \
             FROM {table}, websearch_to_tsquery('ragtime', {p1}) q WHERE id IN ({ids_list})",
            h = heading.0,
            sn = snippet.0,
            table = s.table,
            p1 = p(1),
            p2 = p(2),
            p3 = p(3),
        ),
        _ => format!(
            "SELECT rowid AS id, highlight({fts}, {h}, char(2), char(3)) AS heading, \
             snippet({fts}, {sn}, char(2), char(3), '…', 24) AS snippet \
             FROM {fts} WHERE {fts} MATCH {p1} AND rowid IN ({ids_list})",
            fts = s.fts,
            p1 = p(1),
            h = heading.1,
            sn = snippet.1,
        ),
    };
    let mut values: Vec<Value> = Vec::new();
    match backend {
        DatabaseBackend::Postgres => {
            values.push(query.websearch().into());
            values.push(format!("StartSel={START}, StopSel={STOP}, HighlightAll=true").into());
            values.push(
                format!(
                    "StartSel={START}, StopSel={STOP}, MaxWords=24, MinWords=12, \
                     MaxFragments=2, FragmentDelimiter=\" … \""
                )
                .into(),
            );
        }
        _ => values.push(query.fts5().into()),
    }
    Some(Statement::from_sql_and_values(backend, sql, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(typed: &str) -> (String, String) {
        let q = Query::parse(typed);
        (q.websearch(), q.fts5())
    }

    #[test]
    fn words_phrases_exclusions_and_alternatives_are_written_for_both_databases() {
        assert_eq!(
            both("Maple  LEAF rag"),
            (
                "maple leaf rag".into(),
                "(\"maple\" AND \"leaf\" AND \"rag\")".into()
            )
        );
        assert_eq!(
            both("\"blue moon\" -live"),
            (
                "\"blue moon\" -live".into(),
                "((\"blue moon\") NOT \"live\")".into()
            )
        );
        assert_eq!(
            both("stride or ragtime"),
            (
                "stride or ragtime".into(),
                "(\"stride\") OR (\"ragtime\")".into()
            )
        );
        // Punctuation inside a word makes a phrase of its parts.
        assert_eq!(both("lo-fi").0, "\"lo fi\"");
        assert_eq!(both("maria.keys").0, "\"maria keys\"");
    }

    #[test]
    fn nothing_typed_is_an_operator_of_either_database() {
        for hostile in [
            "\"",
            "\"\"\"",
            "((a",
            "a)) OR (",
            "NEAR(a b, 2)",
            "a* ^b c:d {x}",
            "title:secret",
            "- -- ---",
            "or or OR",
            "'; DROP TABLE users; --",
            "\0\u{1}\u{2}\u{3}",
            "🎹🎷 café",
            &"x".repeat(10_000),
        ] {
            let q = Query::parse(hostile);
            let web = q.websearch();
            assert!(
                web.chars()
                    .all(|c| c.is_alphanumeric() || c == ' ' || c == '"' || c == '-'),
                "{hostile:?} gave {web:?}"
            );
            // Outside the quoted words, only the operators and parentheses we write.
            let fts = q.fts5();
            let outside = fts.split('"').step_by(2).collect::<Vec<_>>().join(" ");
            let operators = outside
                .replace("AND", "")
                .replace("NOT", "")
                .replace("OR", "");
            assert!(
                operators.chars().all(|c| c == '(' || c == ')' || c == ' '),
                "{hostile:?} gave {fts:?}"
            );
            for quoted in fts.split('"').skip(1).step_by(2) {
                assert!(
                    quoted.chars().all(|c| c.is_alphanumeric() || c == ' '),
                    "{hostile:?} gave {fts:?}"
                );
            }
        }
        assert!(Query::parse("- -- ---").is_empty());
        assert!(Query::parse("-only -excluded").is_empty());
        assert!(Query::parse("or").is_empty());
        assert_eq!(Query::parse("NEAR(a b, 2)").websearch(), "\"near a\" b 2");
        assert_eq!(
            Query::parse(&"word ".repeat(100)).alternatives[0].len(),
            MAX_WORDS
        );
    }

    #[test]
    fn marks_become_fragments_and_markdown_marks_go() {
        let text = format!("A **{START}café{STOP}** on <b>{START}Main{STOP}</b>");
        assert_eq!(
            marked(&text),
            vec![
                Fragment {
                    text: "A ".into(),
                    hit: false
                },
                Fragment {
                    text: "café".into(),
                    hit: true
                },
                Fragment {
                    text: " on <b>".into(),
                    hit: false
                },
                Fragment {
                    text: "Main".into(),
                    hit: true
                },
                Fragment {
                    text: "</b>".into(),
                    hit: false
                },
            ]
        );
    }
}

//! Atom feeds (RFC 4287) of the newest compositions: the whole site's, an artist's and a tag's,
//! for feed readers and podcast players (each track is an `enclosure` with its type and length).
//! A feed is the first page of the list its HTML page shows, read by the same queries. Each
//! answer carries an `ETag` and a `Last-Modified`, so a reader polling an unchanged feed gets a
//! 304 without a body.

use atom_syndication::{Category, Content, Entry, Feed, FixedDateTime, Link, Person, Text};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::crypto::sha256_hex;
use crate::error::AppError;
use crate::models::composition::{self, Card, Feed as List};
use crate::models::keyset::Cursor;
use crate::models::{tag, user};
use crate::state::AppState;
use crate::views::audio::matches_etag;
use crate::views::names::{SITE_NAME, SITE_TITLE, artist_title, profile_path, tag_title};
use crate::views::tags::tag_path;
use crate::web::assets;
use crate::web::client::ClientInfo;
use crate::web::extract::Path;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feed.atom", get(site))
        .route("/user/{username}/feed.atom", get(artist))
        .route("/tag/{name}/feed.atom", get(tagged))
}

/// The year in the `tag:` URIs (RFC 4151) of entries and feeds: a fixed date, so an id never
/// changes.
const TAG_DATE: &str = "2026";

/// Readers poll; a cache in front may answer them for a few minutes.
const FEED_CACHE: &str = "public, max-age=300";

/// What a feed is of, and how it names itself.
struct Scope {
    list: List,
    /// The `tag:` URI's specific part: `feed`, `user/42`, `tag/stride`.
    id: String,
    title: String,
    /// The HTML page of the same list, a local path.
    page: String,
    /// The feed's author when it is one artist's; otherwise the site.
    author: Option<user::Model>,
}

async fn site(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let scope = Scope {
        list: List::All,
        id: "feed".into(),
        title: SITE_TITLE.into(),
        page: "/".into(),
        author: None,
    };
    answer(&state, &client, &headers, scope).await
}

async fn artist(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> Result<Response, AppError> {
    let artist = user::find_by_username(&state.db, &username)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let scope = Scope {
        list: List::By(artist.id),
        // By id: a change of username keeps the feed a reader subscribed to.
        id: format!("user/{}", artist.id),
        title: artist_title(&artist.username),
        page: profile_path(&artist.username),
        author: Some(artist),
    };
    answer(&state, &client, &headers, scope).await
}

async fn tagged(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    // As the tag's page does: `/tag/Delta Blues/feed.atom` is `/tag/delta-blues/feed.atom`.
    let canonical = tag::normalise(&name).ok_or(AppError::NotFound(None))?;
    if canonical != name {
        let to = format!("{}/feed.atom", tag_path(&canonical));
        return Ok(Redirect::permanent(&to).into_response());
    }
    let tag = tag::find_by_name(&state.db, &canonical)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let scope = Scope {
        list: List::Tagged(tag.id),
        id: format!("tag/{}", tag.name),
        title: tag_title(&tag.name),
        page: tag_path(&tag.name),
        author: None,
    };
    answer(&state, &client, &headers, scope).await
}

/// The feed of `scope`, or a 304 when the reader has it already.
async fn answer(
    state: &AppState,
    client: &ClientInfo,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Response, AppError> {
    let per_page = state.config.compositions_per_page;
    let page = match scope.list {
        // Everyone's first page is usually in the home page's cache already.
        List::All => {
            state
                .feeds
                .all(&state.db, Cursor::First, per_page, false)
                .await?
        }
        list => {
            std::sync::Arc::new(composition::page(&state.db, list, Cursor::First, per_page).await?)
        }
    };
    let newest = page.items.iter().map(|c| c.composition.timestamp).max();
    let body = write(client, &scope, &page.items, newest)?;
    // Of the whole document: an edited title or description changes it too, though no column
    // records when a composition was edited. Weak, as the compression layer may gzip the body.
    let tag = format!("\"{}\"", &sha256_hex(&body)[..32]);
    let etag = format!("W/{tag}");
    // The newest publication, to the second, as HTTP dates go.
    let modified = newest.unwrap_or(DateTime::UNIX_EPOCH);
    let last_modified = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, value(&etag));
    common.insert(header::LAST_MODIFIED, value(&last_modified));
    common.insert(header::CACHE_CONTROL, HeaderValue::from_static(FEED_CACHE));
    if not_modified(headers, &tag, modified) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    common.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    Ok((common, body).into_response())
}

/// RFC 9110 §13.2.2: `If-None-Match` decides when sent (compared weakly, so `tag` is the
/// opaque part); `If-Modified-Since` only without it.
fn not_modified(headers: &HeaderMap, tag: &str, modified: DateTime<Utc>) -> bool {
    if headers.contains_key(header::IF_NONE_MATCH) {
        return matches_etag(headers, header::IF_NONE_MATCH, tag);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| modified.timestamp() <= since.timestamp())
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The host in `tag:` URIs: the configured server name without its port, as a URI authority
/// there is a name only.
fn tag_authority(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// XML 1.0 cannot carry most control characters, even escaped; forms refuse them, but a feed
/// must stay well-formed whatever an older row holds.
fn xml_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

fn link(href: String, rel: &str, mime: &str) -> Link {
    let mut link = Link::default();
    link.set_href(href);
    link.set_rel(rel);
    link.set_mime_type(Some(mime.to_owned()));
    link
}

fn person(origin: &str, name: &str, path: &str) -> Person {
    let mut person = Person::default();
    person.set_name(xml_text(name));
    person.set_uri(Some(format!("{origin}{path}")));
    person
}

fn at(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}

fn write(
    client: &ClientInfo,
    scope: &Scope,
    cards: &[Card],
    newest: Option<DateTime<Utc>>,
) -> Result<String, AppError> {
    let origin = client.origin();
    let authority = tag_authority(&client.host);
    let mut feed = Feed::default();
    feed.set_id(format!("tag:{authority},{TAG_DATE}:{}", scope.id));
    feed.set_title(Text::plain(xml_text(&scope.title)));
    // An empty feed was last updated when time began, as far as a reader can tell.
    feed.set_updated(at(newest.unwrap_or(DateTime::UNIX_EPOCH)));
    let self_path = if scope.page == "/" {
        "/feed.atom".to_owned()
    } else {
        format!("{}/feed.atom", scope.page)
    };
    feed.set_links(vec![
        link(
            format!("{origin}{self_path}"),
            "self",
            "application/atom+xml",
        ),
        link(format!("{origin}{}", scope.page), "alternate", "text/html"),
    ]);
    feed.set_authors(vec![match &scope.author {
        Some(artist) => person(&origin, &artist.username, &profile_path(&artist.username)),
        None => person(&origin, SITE_NAME, "/"),
    }]);
    feed.set_icon(Some(format!("{origin}{}", assets::url("favicon.svg"))));
    feed.set_entries(
        cards
            .iter()
            .map(|card| entry(&origin, authority, card))
            .collect::<Vec<_>>(),
    );
    let bytes = feed
        .write_to(Vec::new())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot write an Atom feed: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("an Atom feed is not UTF-8: {e}")))
}

fn entry(origin: &str, authority: &str, card: &Card) -> Entry {
    let c = &card.composition;
    let mut entry = Entry::default();
    // By id: the slug changes with the title, the entry must not.
    entry.set_id(format!("tag:{authority},{TAG_DATE}:composition/{}", c.id));
    entry.set_title(Text::plain(xml_text(&c.title)));
    entry.set_updated(at(c.timestamp));
    entry.set_published(Some(at(c.timestamp)));
    let artist = &card.artist;
    entry.set_authors(vec![person(
        origin,
        &artist.username,
        &profile_path(&artist.username),
    )]);
    let mut links = vec![link(
        format!("{origin}/composition/{}", c.url_slug()),
        "alternate",
        "text/html",
    )];
    for track in &card.tracks {
        let mut enclosure = link(
            format!("{origin}/audio/{}", track.object_key),
            "enclosure",
            &track.mime,
        );
        enclosure.set_length(Some(track.size_bytes.max(0).to_string()));
        enclosure.set_title(Some(xml_text(&track.title)));
        links.push(enclosure);
    }
    entry.set_links(links);
    entry.set_categories(
        card.tags
            .iter()
            .map(|name| {
                let mut category = Category::default();
                category.set_term(xml_text(name));
                category.set_scheme(Some(format!("{origin}/tag/")));
                category
            })
            .collect::<Vec<_>>(),
    );
    // The description as the site shows it: already sanitised, escaped once more by the writer
    // as `type="html"` asks.
    let mut content = Content::default();
    content.set_content_type(Some("html".to_owned()));
    content.set_value(Some(xml_text(&c.description_html)));
    entry.set_content(Some(content));
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_uris_name_the_host_without_its_port() {
        assert_eq!(tag_authority("ragtime.example"), "ragtime.example");
        assert_eq!(tag_authority("127.0.0.1:5001"), "127.0.0.1");
        assert_eq!(tag_authority("[::1]:8080"), "[::1]");
    }

    #[test]
    fn control_characters_never_reach_the_xml() {
        assert_eq!(xml_text("a\u{1}b\u{7f}c\td\ne"), "abc\td\ne");
    }
}

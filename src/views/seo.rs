//! What the site tells machines about its pages: `/robots.txt`, the sitemaps (an index at
//! `/sitemap.xml`, then one sitemap per range of ids, see `models::sitemap`), and each page's
//! share preview (Open Graph and Twitter card tags, canonical URL, feed autodiscovery), built
//! here and rendered in the page's `<head>` by `templates/_head.html`.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use bytes::Bytes;
use pulldown_cmark::{Event, Parser, TagEnd};

use crate::error::AppError;
use crate::models::composition::Card;
use crate::models::sitemap::{self, Kind, PER_SITEMAP};
use crate::models::user;
use crate::state::AppState;
use crate::templates::head::{FeedLink, Head};
use crate::views::names::{SITE_NAME, SITE_TITLE, artist_title, profile_path, tag_title};
use crate::views::tags::tag_path;
use crate::web::client::ClientInfo;
use crate::web::extract::Path;

mod built;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/robots.txt", get(robots))
        .route("/sitemap.xml", get(sitemap_index))
        .route("/sitemaps/{file}", get(sitemap))
        // Each app (each test's too) its own sitemaps.
        .layer(Extension(Arc::new(built::Built::default())))
}

/// Characters of a preview's description, at most (the previews cut theirs near there).
const DESCRIPTION_CHARS: usize = 200;

/// Crawlers may change nothing anyway (every write is a POST with a CSRF token); these are kept
/// out of the index because they are private, per visitor, or endless.
const PRIVATE: [&str; 14] = [
    "/auth/",
    "/api/",
    "/moderate",
    "/edit",
    "/delete/",
    "/search",
    "/all",
    "/followed",
    "/follow/",
    "/unfollow/",
    "/notifications",
    "/unsubscribe/",
    "/healthz",
    "/scheme",
];

/// A cache in front may keep robots.txt and the sitemaps an hour; crawlers read them daily.
const SITEMAP_CACHE: &str = "public, max-age=3600";

async fn robots(client: ClientInfo) -> Response {
    let mut body = String::from("User-agent: *\n");
    for path in PRIVATE {
        let _ = writeln!(body, "Disallow: {path}");
    }
    let _ = writeln!(body, "Allow: /\n\nSitemap: {}/sitemap.xml", client.origin());
    cacheable("text/plain; charset=utf-8", body)
}

fn xml(body: Bytes) -> Response {
    cacheable("application/xml; charset=utf-8", body)
}

fn cacheable(content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let body: Bytes = body.into();
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(SITEMAP_CACHE),
            ),
        ],
        body,
    )
        .into_response()
}

/// Text for XML character data or an attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
const SITEMAP_NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// The sitemap index: the static pages, then for each table the sitemaps from its first id to
/// its last. One query, whatever the size of the tables.
async fn sitemap_index(
    State(state): State<AppState>,
    Extension(built): Extension<Arc<built::Built>>,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let origin = client.origin();
    let key = format!("{origin}/sitemap.xml");
    let body = built
        .get_or_build(&key, || build_index(&state, &origin))
        .await?;
    Ok(xml(body))
}

async fn build_index(state: &AppState, origin: &str) -> Result<Bytes, AppError> {
    let spans = sitemap::spans(&state.db).await?;
    let mut body = format!("{XML_HEAD}\n<sitemapindex xmlns=\"{SITEMAP_NS}\">\n");
    let mut add = |file: &str| {
        let _ = writeln!(
            body,
            "<sitemap><loc>{}</loc></sitemap>",
            escape(&format!("{origin}/sitemaps/{file}"))
        );
    };
    add("pages.xml");
    for kind in Kind::ALL {
        if let Some((first, last)) = spans.of(kind) {
            for n in sitemap::numbers(first, last, PER_SITEMAP) {
                add(&format!("{}-{n}.xml", kind.name()));
            }
        }
    }
    body.push_str("</sitemapindex>\n");
    Ok(body.into())
}

/// A sitemap: `pages.xml`, or `<kind>-<n>.xml` of a number the index may list.
enum Sitemap {
    Pages,
    Range(Kind, i64),
}

impl Sitemap {
    fn parse(file: &str) -> Option<Sitemap> {
        let name = file.strip_suffix(".xml")?;
        if name == "pages" {
            return Some(Sitemap::Pages);
        }
        let (kind, number) = name.split_once('-')?;
        let kind = Kind::from_name(kind)?;
        // Digits only, as the index writes them: `+3`, `03` and `-1` name no sitemap.
        let number: i64 = Some(number)
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse().ok())?;
        sitemap::ids(number, PER_SITEMAP)?;
        Some(Sitemap::Range(kind, number))
    }
}

async fn sitemap(
    State(state): State<AppState>,
    Extension(built): Extension<Arc<built::Built>>,
    client: ClientInfo,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let which = Sitemap::parse(&file).ok_or(AppError::NotFound(None))?;
    let origin = client.origin();
    // Only names that parsed are kept: at most one entry per real sitemap and origin.
    let key = format!("{origin}/sitemaps/{file}");
    let body = built
        .get_or_build(&key, || build_sitemap(&state, &origin, which))
        .await?;
    Ok(xml(body))
}

async fn build_sitemap(state: &AppState, origin: &str, which: Sitemap) -> Result<Bytes, AppError> {
    let mut body = format!("{XML_HEAD}\n<urlset xmlns=\"{SITEMAP_NS}\">\n");
    match which {
        Sitemap::Pages => {
            for path in ["/", "/users"] {
                url(&mut body, origin, path, None);
            }
        }
        Sitemap::Range(kind, number) => {
            let ids = sitemap::ids(number, PER_SITEMAP).ok_or(AppError::NotFound(None))?;
            let entries = sitemap::entries(&state.db, kind, ids).await?;
            if entries.is_empty() && !listed(state, kind, number).await? {
                return Err(AppError::NotFound(None));
            }
            body.reserve(entries.len() * 100);
            for entry in entries {
                let path = match kind {
                    Kind::Compositions => format!("/composition/{}", entry.key),
                    Kind::Users => profile_path(&entry.key),
                    Kind::Tags => tag_path(&entry.key),
                };
                url(&mut body, origin, &path, entry.lastmod);
            }
        }
    }
    body.push_str("</urlset>\n");
    Ok(body.into())
}

/// Whether the index lists this sitemap: one whose ids were all deleted is listed (and empty),
/// one past the table's last id is not.
async fn listed(state: &AppState, kind: Kind, number: i64) -> Result<bool, AppError> {
    let spans = sitemap::spans(&state.db).await?;
    Ok(spans
        .of(kind)
        .is_some_and(|(first, last)| sitemap::numbers(first, last, PER_SITEMAP).contains(&number)))
}

fn url(
    body: &mut String,
    origin: &str,
    path: &str,
    lastmod: Option<chrono::DateTime<chrono::Utc>>,
) {
    let _ = write!(
        body,
        "<url><loc>{}</loc>",
        escape(&format!("{origin}{path}"))
    );
    if let Some(at) = lastmod {
        let _ = write!(
            body,
            "<lastmod>{}</lastmod>",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    body.push_str("</url>\n");
}

/// A description for a preview: the Markdown's text without its markup, blocks separated by a
/// space, cut at a word near [`DESCRIPTION_CHARS`].
pub fn plain_text(markdown: &str) -> String {
    let mut text = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::End(TagEnd::Paragraph | TagEnd::Item) => {
                text.push(' ')
            }
            Event::End(TagEnd::Heading(_) | TagEnd::CodeBlock | TagEnd::BlockQuote(_)) => {
                text.push(' ')
            }
            // Raw HTML is dropped, as the sanitiser drops most of it.
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let whole = words.join(" ");
    if whole.chars().count() <= DESCRIPTION_CHARS {
        return whole;
    }
    let mut out = String::new();
    for word in words {
        let space = usize::from(!out.is_empty());
        // One character kept for the ellipsis.
        if out.chars().count() + space + word.chars().count() + 1 > DESCRIPTION_CHARS {
            break;
        }
        if space == 1 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        out = whole.chars().take(DESCRIPTION_CHARS - 1).collect();
    }
    out.push('…');
    out
}

/// The preview of a composition's permalink.
pub fn composition_head(origin: &str, avatar_base: &str, card: &Card) -> Head {
    let c = &card.composition;
    let url = format!("{origin}/composition/{}", c.url_slug());
    let kind = if c.release_type == 1 {
        "music.song"
    } else {
        "music.album"
    };
    let mut description = plain_text(&c.description);
    if description.is_empty() {
        description = format!(
            "{} by {} on {SITE_NAME}.",
            c.release_type_name(),
            card.artist.username
        );
    }
    let mut head = Head {
        canonical: Some(url.clone()),
        ..Head::default()
    }
    .property("og:type", kind)
    .property("og:site_name", SITE_NAME)
    .property("og:title", c.title.clone())
    .property("og:description", description)
    .property("og:url", url)
    .property(
        "og:image",
        user::share_image_url(origin, avatar_base, &card.artist.avatar_hash, 512),
    )
    .property(
        "music:musician",
        format!("{origin}{}", profile_path(&card.artist.username)),
    );
    if let Some(track) = card.tracks.first() {
        head = head
            .property("og:audio", format!("{origin}/audio/{}", track.object_key))
            .property("og:audio:type", track.mime.clone());
    }
    head.name("twitter:card", "summary")
}

/// The preview of a profile, with the artist's feed.
pub fn profile_head(origin: &str, avatar_base: &str, artist: &user::Model) -> Head {
    let url = format!("{origin}{}", profile_path(&artist.username));
    let about = artist
        .about_me
        .as_deref()
        .map(plain_text)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| format!("{}’s compositions on {SITE_NAME}.", artist.username));
    Head {
        canonical: Some(url.clone()),
        feed: Some(FeedLink {
            title: artist_title(&artist.username),
            href: format!("{url}/feed.atom"),
        }),
        meta: Vec::new(),
    }
    .property("og:type", "profile")
    .property("og:site_name", SITE_NAME)
    .property("og:title", artist.username.clone())
    .property("og:description", about)
    .property("og:url", url)
    .property(
        "og:image",
        user::share_image_url(origin, avatar_base, &artist.avatar_hash, 512),
    )
    .property("profile:username", artist.username.clone())
    .name("twitter:card", "summary")
}

/// A tag's page: its canonical URL and its feed.
pub fn tag_head(origin: &str, tag: &str) -> Head {
    let url = format!("{origin}{}", tag_path(tag));
    Head {
        canonical: Some(url.clone()),
        feed: Some(FeedLink {
            title: tag_title(tag),
            href: format!("{url}/feed.atom"),
        }),
        meta: Vec::new(),
    }
}

/// The home page: the whole site's feed.
pub fn home_head(origin: &str) -> Head {
    Head {
        canonical: None,
        feed: Some(FeedLink {
            title: SITE_TITLE.to_owned(),
            href: format!("{origin}/feed.atom"),
        }),
        meta: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_description_is_the_text_without_markup_cut_at_a_word() {
        assert_eq!(
            plain_text(
                "# Title\n\nSome **bold** and `code`, a [link](http://x.example).\n\n- one\n- two"
            ),
            "Title Some bold and code, a link. one two"
        );
        let html = plain_text("<script>alert(1)</script>\n\n<b>bold</b> text");
        assert!(!html.contains('<') && html.ends_with("text"), "{html}");
        let long = "word ".repeat(100);
        let cut = plain_text(&long);
        assert!(cut.chars().count() <= DESCRIPTION_CHARS);
        assert!(cut.ends_with("word…"), "{cut}");
        let one = "x".repeat(500);
        assert_eq!(plain_text(&one).chars().count(), DESCRIPTION_CHARS);
        let exact = "y".repeat(DESCRIPTION_CHARS);
        assert_eq!(plain_text(&exact), exact);
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(escape(r#"a&b<c>"'"#), "a&amp;b&lt;c&gt;&quot;&apos;");
    }
}

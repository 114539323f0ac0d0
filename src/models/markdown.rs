//! Markdown written by users, turned into HTML that is safe to show: rendered with
//! pulldown-cmark, bare URLs made into links, then cleaned by ammonia down to an allow-list of
//! tags. Links keep only http, https and mailto URLs and get `rel="nofollow"`; scripts, styles,
//! event handlers and every other attribute are removed.
//!
//! A description sits under the page's own title (`<h1>`) and its card's (`<h2>`), so its
//! headings are demoted to `<h3>`–`<h6>`; its GFM tables render (without alignment: no style
//! attribute survives); and an image, which the site does not embed, becomes a link to it with
//! its alt text, instead of vanishing. Comments keep their inline subset and none of this.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

/// Which allow-list applies (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Composition descriptions: block elements too.
    Description,
    /// Comments: inline elements only.
    Comment,
}

impl Allow {
    fn tags(self) -> &'static [&'static str] {
        match self {
            Allow::Description => &[
                "a",
                "abbr",
                "acronym",
                "b",
                "blockquote",
                "code",
                "em",
                "i",
                "li",
                "ol",
                "pre",
                "strong",
                "ul",
                "h3",
                "h4",
                "h5",
                "h6",
                "p",
                "table",
                "thead",
                "tbody",
                "tr",
                "th",
                "td",
            ],
            Allow::Comment => &["a", "abbr", "acronym", "b", "code", "em", "i", "strong"],
        }
    }
}

/// Markdown in, safe HTML out.
pub fn to_safe_html(markdown: &str, allow: Allow) -> String {
    to_safe_html_with_mentions(markdown, allow, &HashMap::new())
}

/// [`to_safe_html`], with each `@name` of `mentioned` (lower-cased name → username) linked to
/// that user's profile.
pub fn to_safe_html_with_mentions(
    markdown: &str,
    allow: Allow,
    mentioned: &HashMap<String, String>,
) -> String {
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    match allow {
        Allow::Description => {
            let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES);
            let events = link_text(images_as_links(demote_headings(parser)), mentioned);
            pulldown_cmark::html::push_html(&mut html, events);
        }
        Allow::Comment => {
            let events = link_text(Parser::new(markdown), mentioned);
            pulldown_cmark::html::push_html(&mut html, events);
        }
    }
    clean(&html, allow)
}

/// `#` → `<h3>`, `##` → `<h4>`, `###` → `<h5>`, deeper → `<h6>`: a description never outranks
/// the page's title or its card's.
fn demote_headings<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    fn demoted(level: HeadingLevel) -> HeadingLevel {
        match level {
            HeadingLevel::H1 => HeadingLevel::H3,
            HeadingLevel::H2 => HeadingLevel::H4,
            HeadingLevel::H3 => HeadingLevel::H5,
            _ => HeadingLevel::H6,
        }
    }
    events.map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demoted(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demoted(level))),
        other => other,
    })
}

/// Each image becomes a link to it whose text is its alt text (its address when it has none):
/// the site shows no images from elsewhere, but the reader still learns one is there. Only an
/// http(s) image becomes a link, and never inside another link (an image that is a link's
/// text leaves its alt text there); any other keeps just its alt text.
fn images_as_links<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut link_depth = 0usize;
    // The image being read: its address and title, and its alt text's events so far. Images
    // nested in its alt text add only their own alt text.
    let mut image: Option<(CowStr<'a>, CowStr<'a>, Vec<Event<'a>>)> = None;
    let mut nested = 0usize;
    events.flat_map(move |event| {
        if let Some((dest_url, title, alt)) = image.as_mut() {
            match event {
                Event::Start(Tag::Image { .. }) => nested += 1,
                Event::End(TagEnd::Image) if nested > 0 => nested -= 1,
                Event::End(TagEnd::Image) => {
                    let (dest_url, title, mut alt) =
                        (dest_url.clone(), title.clone(), std::mem::take(alt));
                    image = None;
                    let web = ["http://", "https://"].iter().any(|scheme| {
                        dest_url
                            .get(..scheme.len())
                            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                    });
                    if !web || link_depth > 0 {
                        return alt;
                    }
                    if alt.is_empty() {
                        alt.push(Event::Text(dest_url.clone()));
                    }
                    let mut out = Vec::with_capacity(alt.len() + 2);
                    out.push(Event::Start(Tag::Link {
                        link_type: LinkType::Inline,
                        dest_url,
                        title,
                        id: CowStr::Borrowed(""),
                    }));
                    out.extend(alt);
                    out.push(Event::End(TagEnd::Link));
                    return out;
                }
                other => alt.push(other),
            }
            return Vec::new();
        }
        match event {
            Event::Start(Tag::Image {
                dest_url, title, ..
            }) => {
                image = Some((dest_url, title, Vec::new()));
                nested = 0;
                return Vec::new();
            }
            Event::Start(Tag::Link { .. }) => link_depth += 1,
            Event::End(TagEnd::Link) => link_depth = link_depth.saturating_sub(1),
            _ => {}
        }
        vec![event]
    })
}

/// How many people one comment can mention: each is notified, so the number is capped.
pub const MENTIONS_MAX: usize = 10;

/// The names `@mentioned` in `markdown`'s text (not in code or links), lower-cased, each once,
/// in order, at most [`MENTIONS_MAX`].
pub fn mentions(markdown: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for event in outside_code_and_links(Parser::new(markdown)) {
        if let Event::Text(text) = event {
            for (_, name) in mention_spans(&text) {
                let name = name.to_ascii_lowercase();
                if names.len() < MENTIONS_MAX && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// `@name` in text: an `@` not preceded by a letter, digit or `.`/`_` (so never an email
/// address), then a name as usernames are made; a dot ending a sentence is not part of it.
fn mention_spans(text: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    let bytes = text.as_bytes();
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'_';
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'@'
            && (i == 0 || !name_byte(bytes[i - 1]))
            && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
        {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && name_byte(bytes[end]) && end - start < 64 {
                end += 1;
            }
            while bytes[end - 1] == b'.' {
                end -= 1;
            }
            spans.push((i..end, &text[start..end]));
            i = end;
        } else {
            i += 1;
        }
    }
    spans
}

/// The text events outside links, code blocks and HTML blocks (code spans are events of their
/// own, never text).
fn outside_code_and_links<'a>(
    events: impl Iterator<Item = Event<'a>>,
) -> impl Iterator<Item = Event<'a>> {
    let mut depth = 0usize;
    events.filter(move |event| {
        match event {
            Event::Start(Tag::Link { .. } | Tag::CodeBlock(_) | Tag::HtmlBlock) => depth += 1,
            Event::End(TagEnd::Link | TagEnd::CodeBlock | TagEnd::HtmlBlock) => {
                depth = depth.saturating_sub(1)
            }
            Event::Text(_) => return depth == 0,
            _ => {}
        }
        false
    })
}

fn clean(html: &str, allow: Allow) -> String {
    let attributes: HashMap<&str, HashSet<&str>> = HashMap::from([
        ("a", HashSet::from(["href", "title"])),
        ("abbr", HashSet::from(["title"])),
        ("acronym", HashSet::from(["title"])),
    ]);
    ammonia::Builder::empty()
        .tags(allow.tags().iter().copied().collect())
        .tag_attributes(attributes)
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        // Relative links only to a profile: the mentions.
        .url_relative(ammonia::UrlRelative::Custom(Box::new(profile_paths_only)))
        .link_rel(Some("nofollow"))
        // A wide table scrolls sideways in its card; keyboards must reach it to scroll it.
        .set_tag_attribute_value("table", "tabindex", "0")
        .clean_content_tags(HashSet::from(["script", "style"]))
        .clean(html)
        .to_string()
}

fn profile_paths_only(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    let name = url.strip_prefix("/user/")?;
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
    plain.then_some(url.into())
}

/// In text outside links and code: bare `http(s)://` and `www.` addresses become links, and
/// `@name`s of `mentioned` become links to their profiles.
fn link_text<'a>(
    events: impl Iterator<Item = Event<'a>>,
    mentioned: &HashMap<String, String>,
) -> impl Iterator<Item = Event<'a>> {
    let finder = {
        let mut f = linkify::LinkFinder::new();
        f.kinds(&[linkify::LinkKind::Url]);
        f.url_must_have_scheme(false);
        f
    };
    let mut depth = 0usize; // inside a link, a code block or an HTML block
    events.flat_map(move |event| {
        match &event {
            Event::Start(Tag::Link { .. } | Tag::CodeBlock(_) | Tag::HtmlBlock) => depth += 1,
            Event::End(TagEnd::Link | TagEnd::CodeBlock | TagEnd::HtmlBlock) => {
                depth = depth.saturating_sub(1)
            }
            Event::Text(text) if depth == 0 => {
                let mut out = Vec::new();
                for span in finder.spans(text) {
                    let s = span.as_str();
                    match span.kind() {
                        Some(_) => {
                            let href = if s.contains("://") {
                                s.to_owned()
                            } else {
                                format!("http://{s}")
                            };
                            out.push(Event::InlineHtml(
                                format!("<a href=\"{}\">{}</a>", escape(&href), escape(s)).into(),
                            ));
                        }
                        None => out.extend(link_mentions(s, mentioned)),
                    }
                }
                return out;
            }
            _ => {}
        }
        vec![event]
    })
}

/// Text with the mentions of known users made into links to their profiles.
fn link_mentions<'a>(text: &str, mentioned: &HashMap<String, String>) -> Vec<Event<'a>> {
    let mut out = Vec::new();
    let mut from = 0;
    for (range, name) in mention_spans(text) {
        let Some(username) = mentioned.get(&name.to_ascii_lowercase()) else {
            continue;
        };
        out.push(Event::Text(text[from..range.start].to_owned().into()));
        out.push(Event::InlineHtml(
            format!("<a href=\"/user/{0}\">@{0}</a>", escape(username)).into(),
        ));
        from = range.end;
    }
    out.push(Event::Text(text[from..].to_owned().into()));
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description(md: &str) -> String {
        to_safe_html(md, Allow::Description)
    }

    #[test]
    fn markdown_becomes_the_allowed_html() {
        assert_eq!(
            description("# Title\n\n*soft* and **loud**"),
            "<h3>Title</h3>\n<p><em>soft</em> and <strong>loud</strong></p>\n"
        );
        assert!(description("- a\n- b").contains("<ul>\n<li>a</li>"));
    }

    #[test]
    fn nothing_executable_survives() {
        let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\
            <a href=\"javascript:alert(3)\">x</a><style>body{}</style>\
            <p style=\"color:red\" onclick=\"alert(4)\">p</p><iframe src=//evil></iframe><b>unclosed";
        let html = description(hostile);
        for bad in [
            "<script",
            "alert(1)",
            "onerror",
            "javascript:",
            "<style",
            "body{}",
            "style=",
            "onclick",
            "<iframe",
            "<img",
        ] {
            assert!(!html.contains(bad), "{bad} survived in {html}");
        }
        assert!(html.contains("<b>unclosed</b>"), "{html}");
        assert!(description("[x](javascript:alert(1))").contains("<a rel=\"nofollow\">x</a>"));
    }

    #[test]
    fn links_are_nofollow_and_bare_urls_are_linked() {
        let html =
            description("see https://example.com/a?b=1&c=2 or www.example.org, [me](mailto:a@b.c)");
        assert!(html.contains("<a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow\">https://example.com/a?b=1&amp;c=2</a>"), "{html}");
        assert!(
            html.contains(
                "<a href=\"http://www.example.org\" rel=\"nofollow\">www.example.org</a>"
            ),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"mailto:a@b.c\" rel=\"nofollow\">me</a>"),
            "{html}"
        );
        let code = description("`https://example.com` and\n\n    https://example.com/block");
        assert!(!code.contains("<a"), "{code}");
        let linked = description("[https://example.com](https://example.com)");
        assert_eq!(linked.matches("<a ").count(), 1, "{linked}");
    }

    #[test]
    fn mentions_are_names_in_text_never_emails_code_or_links() {
        assert_eq!(
            mentions(
                "Hi @Ann, @bob. and @ann again; mail ann@example.com, `@carl`, [@dan](https://x.y) @9x @e_f.g."
            ),
            ["ann", "bob", "e_f.g"]
        );
        let many: Vec<String> = (0..15).map(|n| format!("@u{n}")).collect();
        assert_eq!(mentions(&many.join(" ")).len(), MENTIONS_MAX);
    }

    #[test]
    fn known_mentions_become_profile_links_and_no_other_relative_link_survives() {
        let known = HashMap::from([("ann".to_owned(), "Ann".to_owned())]);
        let html = to_safe_html_with_mentions("hey @ANN and @nobody", Allow::Comment, &known);
        assert_eq!(
            html.trim_end(),
            "hey <a href=\"/user/Ann\" rel=\"nofollow\">@Ann</a> and @nobody"
        );
        for relative in [
            "[x](/auth/logout)",
            "[x](//evil.example/user/a)",
            "[x](/user/a/../../x)",
        ] {
            let html = to_safe_html(relative, Allow::Comment);
            assert_eq!(html.trim_end(), "<a rel=\"nofollow\">x</a>", "{relative}");
        }
    }

    #[test]
    fn headings_in_a_description_never_outrank_the_page() {
        let html = description(
            "# One\n\n## Two\n\n### Three\n\n#### Four\n\n###### Six\n\nSetext\n======\n\n<h1>raw</h1><h2>raw2</h2>",
        );
        for expected in [
            "<h3>One</h3>",
            "<h4>Two</h4>",
            "<h5>Three</h5>",
            "<h6>Four</h6>",
            "<h6>Six</h6>",
            "<h3>Setext</h3>",
        ] {
            assert!(html.contains(expected), "{expected} missing in {html}");
        }
        assert!(!html.contains("<h1") && !html.contains("<h2"), "{html}");
        assert!(html.contains("raw") && html.contains("raw2"), "{html}");
    }

    #[test]
    fn tables_render_without_alignment_styles() {
        let html = description("| Track | Length |\n|:--|--:|\n| Rag | 3:05 |\n");
        assert_eq!(
            html,
            "<table tabindex=\"0\"><thead><tr><th>Track</th><th>Length</th></tr></thead><tbody>\n\
             <tr><td>Rag</td><td>3:05</td></tr>\n</tbody></table>\n"
        );
        let hostile = description(
            "<table style=\"width:9999px\" onclick=\"x()\"><tr><td style=\"color:red\">a</td></tr></table>",
        );
        assert!(
            !hostile.contains("style") && !hostile.contains("onclick"),
            "{hostile}"
        );
        let focus = description("<table tabindex=\"7\"><tr><td>a</td></tr></table>");
        assert!(focus.starts_with("<table tabindex=\"0\">"), "{focus}");
        // Comments have no tables: the pipes stay text.
        let comment = to_safe_html("| a | b |\n|---|---|\n| 1 | 2 |", Allow::Comment);
        assert!(!comment.contains("<t"), "{comment}");
    }

    #[test]
    fn an_image_becomes_a_link_to_it_named_by_its_alt_text() {
        assert_eq!(
            description("![The *cover*](https://example.com/cover.png \"Front\")"),
            "<p><a href=\"https://example.com/cover.png\" title=\"Front\" rel=\"nofollow\">The <em>cover</em></a></p>\n"
        );
        // No alt text: the address names the link, so it is never a link without a name.
        assert_eq!(
            description("![](http://example.com/a.jpg)"),
            "<p><a href=\"http://example.com/a.jpg\" rel=\"nofollow\">http://example.com/a.jpg</a></p>\n"
        );
        // Only the web's images become links; the rest leave their alt text.
        for other in [
            "![alt](javascript:alert(1))",
            "![alt](data:image/png;base64,AAAA)",
            "![alt](/auth/logout)",
            "![alt](mailto:a@b.c)",
        ] {
            assert_eq!(description(other), "<p>alt</p>\n", "{other}");
        }
        // An image inside a link: one link, the outer one, with the alt text.
        assert_eq!(
            description("[![alt](https://e.com/i.png)](https://e.com/page)"),
            "<p><a href=\"https://e.com/page\" rel=\"nofollow\">alt</a></p>\n"
        );
        // Comments stay as they were: no link appears for an image.
        let comment = to_safe_html("![alt](https://example.com/i.png)", Allow::Comment);
        assert!(
            !comment.contains("<a") && !comment.contains("<img"),
            "{comment}"
        );
    }

    #[test]
    fn comments_keep_only_inline_tags() {
        let html = to_safe_html("# big\n\n*ok* <blockquote>q</blockquote>", Allow::Comment);
        assert!(!html.contains("<h1>") && !html.contains("<p>") && !html.contains("<blockquote>"));
        assert!(html.contains("<em>ok</em>"), "{html}");
    }
}

//! Markdown written by users, turned into HTML that is safe to show: rendered with
//! pulldown-cmark, bare URLs made into links, then cleaned by ammonia down to an allow-list of
//! tags. Links keep only http, https and mailto URLs and get `rel="nofollow"`; scripts, styles,
//! event handlers and every other attribute are removed.

use std::collections::{HashMap, HashSet};

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

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
                "h1",
                "h2",
                "h3",
                "p",
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
    let events = link_text(Parser::new(markdown), mentioned);
    pulldown_cmark::html::push_html(&mut html, events);
    clean(&html, allow)
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
            "<h1>Title</h1>\n<p><em>soft</em> and <strong>loud</strong></p>\n"
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
    fn comments_keep_only_inline_tags() {
        let html = to_safe_html("# big\n\n*ok* <blockquote>q</blockquote>", Allow::Comment);
        assert!(!html.contains("<h1>") && !html.contains("<p>") && !html.contains("<blockquote>"));
        assert!(html.contains("<em>ok</em>"), "{html}");
    }
}

//! The rules for old data that does not fit Ragtime, as plain functions (the README's table
//! lists them; each resolution is reported with its old and new value).

use std::collections::HashSet;

use crate::models::forms;

/// The title given to a composition whose title was empty.
pub const UNTITLED: &str = "Untitled";
/// The release type of a composition that had none (or an unknown one): a single.
pub const DEFAULT_RELEASE_TYPE: i16 = 1;
/// Where addresses the import had to make up point: a reserved domain (RFC 2606) that
/// receives no mail.
pub const MADE_UP_DOMAIN: &str = "flask-import.invalid";
/// The account that receives compositions without an artist.
pub const ORPHANS_USERNAME: &str = "former_artists";
pub const ORPHANS_EMAIL: &str = "former_artists@flask-import.invalid";
/// A password hash no password matches: the account cannot log in (a password reset by mail
/// is the way in, where the address is real).
pub const NO_PASSWORD: &str = "!flask-import:no-password";

/// A username Ragtime accepts, made from an old one: characters other than ASCII letters,
/// digits, dots and underscores become `_`, a `u` goes in front of a name that does not start
/// with a letter, and it is cut to 64 characters; `user<id>` when nothing is left.
pub fn valid_username(old: &str, id: i32) -> String {
    let mut name: String = old
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) {
        return format!("user{id}");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, 'u');
    }
    name.chars().take(64).collect()
}

/// `base` with `_<id>` (then `_<id>_2`, `_<id>_3`...) appended, cut so the whole stays within
/// 64 characters, whichever is not in `taken` (lower-cased) first.
pub fn free_username(base: &str, id: i32, taken: &HashSet<String>) -> String {
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            format!("_{id}")
        } else {
            format!("_{id}_{n}")
        };
        let keep = 64 - suffix.len();
        let candidate = format!("{}{suffix}", base.chars().take(keep).collect::<String>());
        if !taken.contains(&candidate.to_lowercase()) {
            return candidate;
        }
        n += 1;
    }
}

/// An address as Ragtime stores it (trimmed, lower-cased), if it is one Ragtime accepts.
pub fn normal_email(old: &str) -> Option<String> {
    forms::email(old).ok()
}

/// For a second account with the same address: `local+<id>@domain` (plus addressing reaches
/// the same mailbox at most providers), or a made-up address when that is too long or taken.
pub fn second_email(email: &str, id: i32, taken: &HashSet<String>) -> String {
    if let Some((local, domain)) = email.split_once('@') {
        let plus = format!("{local}+{id}@{domain}");
        if plus.chars().count() <= 64 && !taken.contains(&plus) && normal_email(&plus).is_some() {
            return plus;
        }
    }
    made_up_email(id, taken)
}

/// `user<id>@flask-import.invalid` (or with a suffix, if even that is taken).
pub fn made_up_email(id: i32, taken: &HashSet<String>) -> String {
    let mut n = 1;
    loop {
        let candidate = if n == 1 {
            format!("user{id}@{MADE_UP_DOMAIN}")
        } else {
            format!("user{id}.{n}@{MADE_UP_DOMAIN}")
        };
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// A title Ragtime accepts: trimmed, control characters as spaces, [`UNTITLED`] if empty, at
/// most 64 characters.
pub fn title(old: Option<&str>) -> String {
    let cleaned: String = old
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        UNTITLED.to_owned()
    } else {
        trimmed.chars().take(64).collect()
    }
}

/// 1, 2 or 3 as they were; anything else (NULL included) becomes a single.
pub fn release_type(old: Option<i32>) -> i16 {
    match old {
        Some(v @ 1..=3) => v as i16,
        _ => DEFAULT_RELEASE_TYPE,
    }
}

/// The Flask original's slug of a title: `<id>-` + the title lower-cased with every run of
/// non-word characters replaced by `-` (a trailing `-` kept).
pub fn flask_slug(id: i32, title: &str) -> String {
    let mut out = format!("{id}-");
    let mut in_run = false;
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

// ----- Descriptions: plain text shown as it was ----------------------------------------------

/// The old plain text split into paragraphs (at blank lines) of lines, line ends normalised
/// and trailing blanks dropped.
fn paragraphs(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches(['\r', ' ', '\t']);
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Leading spaces and tabs as no-break spaces, so indentation shows and Markdown reads no
/// code block into it; the rest of the line.
fn indentation(line: &str) -> (String, &str) {
    let rest = line.trim_start_matches([' ', '\t']);
    let lead = &line[..line.len() - rest.len()];
    let spaces = lead.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum();
    ("\u{a0}".repeat(spaces), rest)
}

/// Addresses in text, as the original's linkify (and Ragtime's Markdown) find them.
fn link_finder() -> linkify::LinkFinder {
    let mut f = linkify::LinkFinder::new();
    f.kinds(&[linkify::LinkKind::Url]);
    f.url_must_have_scheme(false);
    f
}

/// The old plain text as Markdown that renders to the same words: every character Markdown
/// would read as markup is escaped (but addresses are left whole, so they still become links),
/// lines end with a hard break, blank lines still separate paragraphs. This is what the edit
/// form shows; the page shows [`description_html`].
pub fn description_markdown(text: &str) -> String {
    let finder = link_finder();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (p, lines) in paragraphs(text).iter().enumerate() {
        if p > 0 {
            out.push_str("\n\n");
        }
        for (l, line) in lines.iter().enumerate() {
            if l > 0 {
                out.push_str("\\\n");
            }
            let (lead, rest) = indentation(line);
            out.push_str(&lead);
            let mut at_start = true;
            let mut digits = false;
            for span in finder.spans(rest) {
                let is_link = span.kind().is_some();
                for c in span.as_str().chars() {
                    let block_marker = at_start && matches!(c, '#' | '+' | '-' | '=' | '*' | '_');
                    let list_number = digits && matches!(c, '.' | ')');
                    let markup = if is_link {
                        matches!(c, '\\' | '`' | '[' | ']' | '<' | '>')
                    } else {
                        matches!(
                            c,
                            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '~' | '|' | '!'
                        )
                    };
                    if block_marker || list_number || markup {
                        out.push('\\');
                    }
                    digits = (at_start || digits) && c.is_ascii_digit();
                    at_start = false;
                    out.push(c);
                }
            }
        }
    }
    out
}

fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The old plain text as the HTML Ragtime shows: every character as text (HTML in it shown,
/// not run), addresses made links as the original's linkify did, lines kept with `<br>`,
/// blank lines separating paragraphs.
pub fn description_html(text: &str) -> String {
    let finder = link_finder();
    let mut out = String::with_capacity(text.len() * 5 / 4);
    for lines in paragraphs(text) {
        out.push_str("<p>");
        for (l, line) in lines.iter().enumerate() {
            if l > 0 {
                out.push_str("<br>\n");
            }
            let (lead, rest) = indentation(line);
            out.push_str(&lead);
            for span in finder.spans(rest) {
                let s = span.as_str();
                if span.kind().is_some() {
                    let href = if s.contains("://") {
                        s.to_owned()
                    } else {
                        format!("http://{s}")
                    };
                    out.push_str("<a href=\"");
                    escape_html(&href, &mut out);
                    out.push_str("\" rel=\"nofollow\">");
                    escape_html(s, &mut out);
                    out.push_str("</a>");
                } else {
                    escape_html(s, &mut out);
                }
            }
        }
        out.push_str("</p>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::markdown::{Allow, to_safe_html};

    #[test]
    fn usernames_are_made_valid() {
        assert_eq!(valid_username("john", 1), "john");
        assert_eq!(valid_username(" José Ã ", 2), "Jos___");
        assert_eq!(valid_username("42fans", 3), "u42fans");
        assert_eq!(valid_username("   ", 4), "user4");
        assert_eq!(valid_username("!!!", 5), "user5");
        assert_eq!(valid_username(&"a".repeat(80), 6).len(), 64);
        assert!(forms::username(&valid_username("_x-y z", 7)).is_ok());
    }

    #[test]
    fn free_usernames_avoid_taken_ones_and_stay_short() {
        let mut taken = HashSet::from(["john".to_owned(), "john_7".to_owned()]);
        assert_eq!(free_username("John", 7, &taken), "John_7_2");
        taken.clear();
        assert_eq!(free_username(&"a".repeat(64), 12, &taken).len(), 64);
    }

    #[test]
    fn second_addresses_use_plus_addressing_when_they_fit() {
        let taken = HashSet::new();
        assert_eq!(second_email("ann@x.org", 9, &taken), "ann+9@x.org");
        let long = format!("{}@x.org", "a".repeat(58));
        assert_eq!(
            second_email(&long, 12345, &taken),
            "user12345@flask-import.invalid"
        );
    }

    #[test]
    fn flask_slugs_keep_their_trailing_dash() {
        assert_eq!(flask_slug(5, "Hello, World!"), "5-hello-world-");
        assert_eq!(flask_slug(6, ""), "6-");
    }

    #[test]
    fn plain_text_renders_as_it_showed() {
        let old = "<b>bold?</b> *not* _emphasis_\n# not a heading\n1. not a list\n    not code\n\nsee https://example.com/a_b?x=1&y=2";
        let html = description_html(old);
        assert!(html.contains("&lt;b&gt;bold?&lt;/b&gt; *not* _emphasis_<br>\n# not a heading<br>\n1. not a list<br>\n\u{a0}\u{a0}\u{a0}\u{a0}not code</p>"), "{html}");
        assert!(
            html.contains("<a href=\"https://example.com/a_b?x=1&amp;y=2\" rel=\"nofollow\">"),
            "{html}"
        );
        // The Markdown kept for editing renders to the same text.
        let rendered = to_safe_html(&description_markdown(old), Allow::Description);
        for shown in [
            "&lt;b&gt;bold?&lt;/b&gt; *not* _emphasis_",
            "# not a heading",
            "1. not a list",
            "not code",
        ] {
            assert!(rendered.contains(shown), "{shown} in {rendered}");
        }
        assert!(
            !rendered.contains("<h1>") && !rendered.contains("<ol>") && !rendered.contains("<pre>")
        );
        // Ragtime's Markdown shows no line breaks (the page shows `description_html`, which
        // keeps them); addresses stay links.
        assert!(
            rendered.contains(r#"<a href="https://example.com/a_b?x=1&amp;y=2" rel="nofollow">"#),
            "{rendered}"
        );
    }
}

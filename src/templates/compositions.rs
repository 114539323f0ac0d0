//! `templates/compositions/`: a composition's permalink, edit and delete pages, and the
//! composition form they share with the home page.

use std::collections::HashSet;

use askama::Template;

use crate::models::forms::{self, FieldErrors};
use crate::models::{comment, composition, like, release, track};
use crate::web::layout::Layout;
use crate::web::pagination::Pagination;

/// The composition form (home page, edit page): what was typed and what is wrong with it.
#[derive(Default)]
pub struct CompositionForm {
    pub release_type: i16,
    pub title: String,
    pub description: String,
    /// Comma-separated, as typed.
    pub tags: String,
    pub errors: FieldErrors,
}

impl CompositionForm {
    pub fn release_types(&self) -> &'static [(i16, &'static str)] {
        &release::TYPES
    }

    /// The form filled with a stored composition.
    pub fn of(c: &composition::Model, tags: &[String]) -> Self {
        CompositionForm {
            release_type: c.release_type,
            title: c.title.clone(),
            description: c.description.clone(),
            tags: tags.join(", "),
            errors: FieldErrors::new(),
        }
    }

    /// The form as typed, with its errors (input bounded so nothing huge is echoed back).
    pub fn typed(
        release_type: &str,
        title: &str,
        description: &str,
        tags: &str,
        errors: FieldErrors,
    ) -> Self {
        CompositionForm {
            release_type: release_type.trim().parse().unwrap_or(1),
            title: title.chars().take(64).collect(),
            description: description
                .chars()
                .take(forms::MAX_MARKDOWN_CHARS)
                .collect(),
            tags: tags.chars().take(256).collect(),
            errors,
        }
    }
}

/// How the viewer of a page of cards stands towards them. Computed for every request and
/// handed to the template beside the cards, never stored in them: the home page's cards come
/// from a cache that every visitor shares.
#[derive(Debug, Default, Clone)]
pub struct Viewing {
    /// Logged in with the FOLLOW permission: a like button on each card; others see the count.
    pub can_like: bool,
    /// The compositions of the page the viewer likes.
    pub liked: HashSet<i32>,
    /// This page (a local path and query), where a like button leads back to.
    pub back: String,
    /// The composition's own page: nothing folded, nothing cut.
    pub whole: bool,
}

impl Viewing {
    pub fn likes(&self, composition_id: &i32) -> bool {
        self.liked.contains(composition_id)
    }

    /// The composition's own page: its whole description and every track.
    pub fn whole(mut self) -> Self {
        self.whole = true;
        self
    }

    /// The tracks a card lists: on a feed, the first [`TRACKS_ON_CARDS`] (the rest are a link
    /// away); on the composition's page, all.
    pub fn tracks_of<'a>(&self, card: &'a composition::Card) -> &'a [track::Model] {
        match self.whole {
            true => &card.tracks,
            false => &card.tracks[..card.tracks.len().min(TRACKS_ON_CARDS)],
        }
    }

    /// Whether the card leaves tracks out of its list (it links to all of them).
    pub fn tracks_cut(&self, card: &composition::Card) -> bool {
        self.tracks_of(card).len() < card.tracks.len()
    }

    /// Whether a card folds its description to three lines behind "Show more".
    pub fn folds(&self, c: &composition::Model) -> bool {
        !self.whole && long_description(&c.description_html)
    }
}

/// Tracks listed on a card of a feed.
pub const TRACKS_ON_CARDS: usize = 3;

/// Characters to a line of a card's description, reckoned short (a phone's line holds about 40,
/// a desktop's about 95): a description beyond three such lines is folded. The script unfolds
/// one that fits in its three lines after all, on a wide screen.
const CHARS_PER_LINE: usize = 75;
const FOLDED_LINES: usize = 3;

/// Whether sanitised description HTML would take more than about three lines: each block
/// (paragraph, list item, heading, line of code, table row…) takes at least a line, and a
/// line per [`CHARS_PER_LINE`] characters of its text.
pub fn long_description(html: &str) -> bool {
    let mut lines = 0;
    let mut run = 0; // characters of text in the current block
    let mut in_pre = false;
    let close = |lines: &mut usize, run: &mut usize| {
        if *run > 0 {
            *lines += run.div_ceil(CHARS_PER_LINE);
            *run = 0;
        }
    };
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let end = rest.find('>').map_or(rest.len(), |i| i + 1);
                let tag = rest[1..end.saturating_sub(1).max(1)].trim_start_matches('/');
                let name: String = tag
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_ascii_lowercase();
                match name.as_str() {
                    "p" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "tr"
                    | "ul" | "ol" | "table" | "hr" | "div" => close(&mut lines, &mut run),
                    "br" => match run {
                        0 => lines += 1,
                        _ => close(&mut lines, &mut run),
                    },
                    "pre" => {
                        close(&mut lines, &mut run);
                        in_pre = !rest.starts_with("</");
                    }
                    // An image is shown as its link: a line of its own.
                    "img" => lines += 1,
                    _ => {}
                }
                rest = &rest[end..];
            }
            '&' => {
                // An entity is one character.
                let end = rest.find(';').filter(|&i| i < 10).map_or(1, |i| i + 1);
                run += 1;
                rest = &rest[end..];
            }
            '\n' if in_pre => {
                match run {
                    0 => lines += 1,
                    _ => close(&mut lines, &mut run),
                }
                rest = &rest[1..];
            }
            c => {
                if !c.is_whitespace() || run > 0 {
                    run += 1;
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        if lines > FOLDED_LINES {
            return true;
        }
    }
    close(&mut lines, &mut run);
    lines > FOLDED_LINES
}

/// A composition's permalink page: the composition, its comments and the comment form.
#[derive(Template)]
#[template(path = "compositions/show.html")]
pub struct CompositionTemplate {
    pub layout: Layout,
    /// The composition as a one-item list, so it renders like in the feeds.
    pub cards: Vec<composition::Card>,
    /// "More from this artist": a few of their other compositions.
    pub more: Vec<composition::Model>,
    pub viewing: Viewing,
    pub comments: Vec<comment::WithAuthor>,
    pub pagination: Pagination,
    pub can_comment: bool,
    /// What was typed in the comment form, and what is wrong with it.
    pub body: String,
    pub error: Option<String>,
    pub head: super::head::Head,
}

#[derive(Template)]
#[template(path = "compositions/edit.html")]
pub struct EditCompositionTemplate {
    pub layout: Layout,
    pub title: String,
    pub slug: String,
    pub form: CompositionForm,
    /// The tracks editor: the list, how many it may hold, and why an upload was refused.
    pub tracks: Vec<track::Model>,
    pub max_tracks: u64,
    pub upload_error: Option<String>,
}

#[derive(Template)]
#[template(path = "compositions/delete.html")]
pub struct DeleteCompositionTemplate {
    pub layout: Layout,
    pub title: String,
    pub slug: String,
}

/// The people who like a composition, newest like first.
#[derive(Template)]
#[template(path = "compositions/likes.html")]
pub struct LikesTemplate {
    pub layout: Layout,
    pub title: String,
    /// The composition's slug, for the link back to it.
    pub slug: String,
    pub entries: Vec<like::Entry>,
    pub pagination: Pagination,
}

#[cfg(test)]
mod tests {
    use super::long_description;

    #[test]
    fn a_description_beyond_about_three_lines_is_long() {
        assert!(!long_description(""));
        assert!(!long_description(
            "<p>Somewhere between ragtime and swing.</p>"
        ));
        assert!(!long_description("<p>One.</p>\n<p>Two.</p>\n<p>Three.</p>"));
        assert!(long_description(
            "<p>One.</p>\n<p>Two.</p>\n<p>Three.</p>\n<p>Four.</p>"
        ));
        assert!(long_description(
            "<ul>\n<li>a</li>\n<li>b</li>\n<li>c</li>\n<li>d</li>\n</ul>"
        ));
        assert!(!long_description(&format!("<p>{}</p>", "word ".repeat(40))));
        assert!(long_description(&format!("<p>{}</p>", "word ".repeat(50))));
        // Entities count as one character each, tags as none.
        assert!(!long_description(&format!(
            "<p><a href=\"https://example.com/{}\">x</a>{}</p>",
            "a".repeat(500),
            "&amp;".repeat(200)
        )));
        assert!(long_description("<pre><code>1\n2\n3\n4\n</code></pre>"));
    }
}

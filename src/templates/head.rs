//! What a page says about itself in its `<head>`, for those who read it without a person: its
//! canonical URL for search engines, its Atom feed for feed readers (autodiscovery), and the
//! Open Graph and Twitter card tags that make a pasted link a preview in chats and timelines.
//! Built by the views (`views::seo`), rendered by `templates/_head.html`, escaped like any text.

/// A page's `<head>` additions; the default adds nothing.
#[derive(Debug, Default, Clone)]
pub struct Head {
    /// The absolute URL of the page as it should be known, whatever URL reached it.
    pub canonical: Option<String>,
    /// The page's Atom feed.
    pub feed: Option<FeedLink>,
    /// `<meta property=... content=...>`, in order.
    pub meta: Vec<Meta>,
}

#[derive(Debug, Clone)]
pub struct FeedLink {
    pub title: String,
    /// Absolute.
    pub href: String,
}

#[derive(Debug, Clone)]
pub struct Meta {
    /// `property` for Open Graph, `name` for Twitter's cards.
    pub attribute: &'static str,
    pub key: &'static str,
    pub content: String,
}

impl Head {
    /// An Open Graph property (`og:title`).
    pub fn property(mut self, key: &'static str, content: impl Into<String>) -> Self {
        self.meta.push(Meta {
            attribute: "property",
            key,
            content: content.into(),
        });
        self
    }

    /// A named meta tag (`twitter:card`).
    pub fn name(mut self, key: &'static str, content: impl Into<String>) -> Self {
        self.meta.push(Meta {
            attribute: "name",
            key,
            content: content.into(),
        });
        self
    }
}

//! What the site and its feeds are called, and where a profile lives: shared by the Atom feeds
//! and the share previews, which then need not name each other.

pub const SITE_NAME: &str = "Ragtime";

/// The whole site's feed.
pub const SITE_TITLE: &str = "Ragtime: new compositions";

pub fn artist_title(username: &str) -> String {
    format!("{username} on {SITE_NAME}")
}

pub fn tag_title(tag: &str) -> String {
    format!("#{tag} on {SITE_NAME}")
}

/// A profile as a URL path (the username percent-encoded).
pub(crate) fn profile_path(username: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(username.as_bytes()).collect();
    format!("/user/{encoded}")
}

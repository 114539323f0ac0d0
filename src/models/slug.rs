//! A composition's slug, `<id>-<title in lower case, words joined by '-'>`: its permalink's last
//! segment. Plain functions of the id and title, so that whatever links to a composition (a
//! notification, a feed) can build one without reading the composition's model.

/// [`slug`] as a URL path segment (percent-encoded).
pub fn url_slug(id: i32, title: &str) -> String {
    form_urlencoded::byte_serialize(slug(id, title).as_bytes()).collect()
}

/// `<id>-<title lower-cased, runs of non-word characters replaced by '-'>`.
pub fn slug(id: i32, title: &str) -> String {
    let mut words = String::with_capacity(title.len());
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() || c == '_' {
            words.push(c);
        } else if !words.ends_with('-') {
            words.push('-');
        }
    }
    let words = words.trim_matches('-');
    if words.is_empty() {
        id.to_string()
    } else {
        format!("{id}-{words}")
    }
}

/// The id at the front of a slug (`42-my-song` → 42).
pub fn id_from_slug(slug: &str) -> Option<i32> {
    let digits = slug.split('-').next()?;
    digits.parse().ok().filter(|id| *id > 0)
}

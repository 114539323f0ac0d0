//! The colour scheme a visitor chose: the system's (`prefers-color-scheme`, the default), light
//! or dark. The choice is a cookie the server reads, so the very first paint of every page is in
//! the right scheme without any inline script: the layout writes it on `<html data-scheme>`
//! and the stylesheet follows that attribute, or the system's preference when there is none.

use axum::http::{HeaderMap, header};
use axum_extra::extract::cookie::{Cookie, SameSite};

/// The cookie that remembers the choice (a preference, not a secret: no signature).
pub const COOKIE: &str = "scheme";

/// Kept for a year, like any site's display preference.
const DAYS: i64 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    /// Whatever the visitor's system prefers.
    #[default]
    System,
    Light,
    Dark,
}

impl Scheme {
    /// A value of the toggle (`light`, `dark` or `system`); anything else is refused.
    pub fn parse(value: &str) -> Option<Scheme> {
        match value {
            "system" => Some(Scheme::System),
            "light" => Some(Scheme::Light),
            "dark" => Some(Scheme::Dark),
            _ => None,
        }
    }

    /// The scheme a request's cookie names; the system's when it names none we know.
    pub fn of(headers: &HeaderMap) -> Scheme {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .and_then(|(_, value)| Scheme::parse(value.trim()))
            .unwrap_or_default()
    }

    /// The value of `<html data-scheme>`: empty for the system's, which the stylesheet reads
    /// from `prefers-color-scheme`.
    pub fn attribute(self) -> &'static str {
        match self {
            Scheme::System => "",
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }

    /// The cookie that keeps this choice; the system's is the cookie's removal.
    pub fn cookie(self, secure: bool) -> Cookie<'static> {
        let mut c = Cookie::new(COOKIE, self.attribute());
        c.set_path("/");
        // Only the server reads it; the script reads the page's attribute.
        c.set_http_only(true);
        c.set_same_site(SameSite::Lax);
        c.set_secure(secure);
        c.set_max_age(cookie::time::Duration::days(match self {
            Scheme::System => 0,
            _ => DAYS,
        }));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_cookie_names_the_scheme_and_anything_else_is_the_systems() {
        assert_eq!(Scheme::of(&HeaderMap::new()), Scheme::System);
        assert_eq!(Scheme::of(&with_cookie("a=1; scheme=dark")), Scheme::Dark);
        assert_eq!(Scheme::of(&with_cookie("scheme=light")), Scheme::Light);
        assert_eq!(Scheme::of(&with_cookie("scheme=purple")), Scheme::System);
        assert_eq!(Scheme::of(&with_cookie("myscheme=dark")), Scheme::System);
    }

    #[test]
    fn choosing_the_systems_scheme_removes_the_cookie() {
        let c = Scheme::System.cookie(false);
        assert_eq!(c.max_age(), Some(cookie::time::Duration::ZERO));
        let c = Scheme::Dark.cookie(true);
        assert_eq!(c.value(), "dark");
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.max_age(), Some(cookie::time::Duration::days(365)));
    }
}

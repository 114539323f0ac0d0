//! Our stylesheet, script and icon, compiled into the binary (the buildpack keeps only the
//! executable) and served under content-hashed names, so browsers may cache them for a year and
//! still see a new version the moment it ships.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::crypto::sha256_hex;
use crate::error::AppError;
use crate::state::AppState;

pub struct Asset {
    /// The name templates use: "style.css".
    pub name: &'static str,
    /// The URL it is served at: "/static/style.1a2b3c4d5e6f7a8b.css".
    pub url: String,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

const FILES: [(&str, &str, &[u8]); 10] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    (
        "nav.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/nav.js"),
    ),
    (
        "queue.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/queue.js"),
    ),
    (
        "player.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/player.js"),
    ),
    (
        "keys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/keys.js"),
    ),
    (
        "cards.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/cards.js"),
    ),
    (
        "scheme.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/scheme.js"),
    ),
    (
        "plays.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/plays.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
];

pub static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, bytes)| {
            let hash = &sha256_hex(&String::from_utf8_lossy(bytes))[..16];
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            Asset {
                name,
                url: format!("/static/{stem}.{hash}.{ext}"),
                content_type,
                bytes,
            }
        })
        .collect()
});

/// The hashed URL of an asset, for templates.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.url.as_str())
        .unwrap_or("/static/missing")
}

async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    let wanted = format!("/static/{file}");
    let asset = ASSETS
        .iter()
        .find(|a| a.url == wanted)
        .ok_or(AppError::NotFound(None))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/static/{file}", get(serve))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_hashed_url() {
        let css = url("style.css");
        assert!(css.starts_with("/static/style.") && css.ends_with(".css"));
        assert_eq!(css.len(), "/static/style..css".len() + 16);
        assert_ne!(url("app.js"), url("style.css"));
        assert_eq!(url("nope.txt"), "/static/missing");
    }
}

//! Avatars the site draws itself, so that no page waits on another host or shows a broken
//! image when it is down: `/avatar/<key>.svg`, a symmetric 5 × 5 pattern in a colour, both
//! taken from a hash of the account's random avatar key. The same key always gives the same
//! picture (a new email address gets a new key), so browsers may keep it for a year.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::state::AppState;
use crate::web::extract::Path;

pub fn router() -> Router<AppState> {
    Router::new().route("/avatar/{file}", get(avatar))
}

async fn avatar(Path(file): Path<String>) -> Response {
    let key = file
        .strip_suffix(".svg")
        .filter(|k| (8..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(key) = key else {
        return AppError::NotFound(None).into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        draw(key),
    )
        .into_response()
}

/// The picture of `key`: 15 bits of its hash fill the left three columns, mirrored to the
/// right; two more bytes pick the hue.
pub fn draw(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hue = u16::from_be_bytes([digest[0], digest[1]]) % 360;
    let mut cells = String::new();
    for row in 0..5 {
        for column in 0..3 {
            let bit = row * 3 + column;
            if digest[2 + bit / 8] >> (bit % 8) & 1 == 1 {
                for x in [column, 4 - column] {
                    cells.push_str(&format!(
                        r#"<rect x="{x}" y="{row}" width="1" height="1"/>"#
                    ));
                    if column == 2 {
                        break; // the middle column is its own mirror
                    }
                }
            }
        }
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 6 6" shape-rendering="crispEdges"><rect x="-0.5" y="-0.5" width="6" height="6" fill="hsl({hue} 45% 92%)"/><g fill="hsl({hue} 55% 42%)">{cells}</g></svg>"#
    )
}

#[cfg(test)]
mod tests {
    use super::draw;

    #[test]
    fn the_same_key_draws_the_same_symmetric_picture_and_keys_differ() {
        let a = draw("0123456789abcdef0123456789abcdef");
        assert_eq!(a, draw("0123456789abcdef0123456789abcdef"));
        assert_ne!(a, draw("fedcba9876543210fedcba9876543210"));
        assert!(a.starts_with("<svg ") && a.ends_with("</svg>"));
        // Every cell left of the middle has its mirror on the right.
        for row in 0..5 {
            for (left, right) in [(0, 4), (1, 3)] {
                let at = |x: i32| a.contains(&format!(r#"<rect x="{x}" y="{row}" "#));
                assert_eq!(at(left), at(right), "row {row}: {a}");
            }
        }
    }
}

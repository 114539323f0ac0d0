//! Avatars the site draws itself, so that no page waits on another host or shows a broken
//! image when it is down: `/avatar/<key>.svg` (and `.png`, for share previews), a symmetric
//! 5 × 5 pattern in a colour, both
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
    let (key, kind) = match file.rsplit_once('.') {
        Some((key, "svg")) => (key, Kind::Svg),
        Some((key, "png")) => (key, Kind::Png),
        _ => return AppError::NotFound(None).into_response(),
    };
    if !(8..=64).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return AppError::NotFound(None).into_response();
    }
    let pattern = Pattern::of(key);
    let (content_type, body) = match kind {
        Kind::Svg => ("image/svg+xml", pattern.svg().into_bytes()),
        Kind::Png => ("image/png", pattern.png()),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}

/// SVG for our pages; PNG for share previews, whose readers do not take SVG.
enum Kind {
    Svg,
    Png,
}

/// The picture of a key: 15 bits of its hash fill the left three columns, mirrored to the
/// right; two more bytes pick the hue.
struct Pattern {
    hue: u16,
    filled: [[bool; 5]; 5],
}

/// Side of the PNG, in pixels: a 5 × 5 grid of 40-pixel cells with half a cell around it.
const PNG_CELL: usize = 40;
const PNG_SIDE: usize = PNG_CELL * 6;

impl Pattern {
    fn of(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut filled = [[false; 5]; 5];
        for (row, cells) in filled.iter_mut().enumerate() {
            for column in 0..3 {
                let bit = row * 3 + column;
                let on = digest[2 + bit / 8] >> (bit % 8) & 1 == 1;
                cells[column] = on;
                cells[4 - column] = on;
            }
        }
        Pattern {
            hue: u16::from_be_bytes([digest[0], digest[1]]) % 360,
            filled,
        }
    }

    fn svg(&self) -> String {
        let mut cells = String::new();
        for (y, row) in self.filled.iter().enumerate() {
            for (x, _) in row.iter().enumerate().filter(|(_, on)| **on) {
                cells.push_str(&format!(r#"<rect x="{x}" y="{y}" width="1" height="1"/>"#));
            }
        }
        let hue = self.hue;
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="-0.5 -0.5 6 6" shape-rendering="crispEdges"><rect x="-0.5" y="-0.5" width="6" height="6" fill="hsl({hue} 45% 92%)"/><g fill="hsl({hue} 55% 42%)">{cells}</g></svg>"#
        )
    }

    /// The same picture as [`Pattern::svg`], [`PNG_SIDE`] pixels square, in the same colours.
    fn png(&self) -> Vec<u8> {
        let background = hsl_to_rgb(self.hue, 0.45, 0.92);
        let foreground = hsl_to_rgb(self.hue, 0.55, 0.42);
        let mut pixels = Vec::with_capacity(PNG_SIDE * PNG_SIDE * 3);
        for py in 0..PNG_SIDE {
            for px in 0..PNG_SIDE {
                // Half a cell of margin, as the SVG's view box leaves.
                let cell = |p: usize| {
                    (p + PNG_CELL / 2)
                        .checked_sub(PNG_CELL)
                        .map(|c| c / PNG_CELL)
                };
                let on = matches!((cell(px), cell(py)), (Some(x), Some(y)) if x < 5 && y < 5 && self.filled[y][x]);
                pixels.extend_from_slice(if on { &foreground } else { &background });
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, PNG_SIDE as u32, PNG_SIDE as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Writing into memory a picture of known size cannot fail.
        let mut writer = encoder.write_header().expect("PNG header into memory");
        writer
            .write_image_data(&pixels)
            .expect("PNG data of the declared size into memory");
        drop(writer);
        out
    }
}

/// CSS's `hsl()`: hue in degrees, saturation and lightness from 0 to 1.
fn hsl_to_rgb(hue: u16, saturation: f32, lightness: f32) -> [u8; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = f32::from(hue) / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    [r, g, b].map(|c| ((c + m) * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::{PNG_CELL, PNG_SIDE, Pattern, hsl_to_rgb};

    fn draw(key: &str) -> String {
        Pattern::of(key).svg()
    }

    #[test]
    fn hsl_is_read_as_css_reads_it() {
        assert_eq!(hsl_to_rgb(0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl_to_rgb(120, 1.0, 0.25), [0, 128, 0]);
        assert_eq!(hsl_to_rgb(240, 1.0, 0.5), [0, 0, 255]);
        assert_eq!(hsl_to_rgb(300, 0.0, 1.0), [255, 255, 255]);
        assert_eq!(hsl_to_rgb(30, 0.5, 0.5), [191, 128, 64]);
    }

    #[test]
    fn the_png_is_the_svg_s_picture() {
        let key = "0123456789abcdef0123456789abcdef";
        let pattern = Pattern::of(key);
        let png = pattern.png();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("its size")];
        let info = reader.next_frame(&mut pixels).expect("its pixels");
        assert_eq!(
            (info.width, info.height),
            (PNG_SIDE as u32, PNG_SIDE as u32)
        );
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let at = |x: usize, y: usize| {
            let i = (y * PNG_SIDE + x) * 3;
            [pixels[i], pixels[i + 1], pixels[i + 2]]
        };
        let background = hsl_to_rgb(pattern.hue, 0.45, 0.92);
        let foreground = hsl_to_rgb(pattern.hue, 0.55, 0.42);
        assert_eq!(at(0, 0), background, "the margin");
        // The middle of each cell is its colour in the SVG.
        let svg = draw(key);
        for y in 0..5 {
            for x in 0..5 {
                let middle = |c: usize| PNG_CELL / 2 + c * PNG_CELL + PNG_CELL / 2;
                let filled = svg.contains(&format!(r#"<rect x="{x}" y="{y}" "#));
                let want = if filled { foreground } else { background };
                assert_eq!(at(middle(x), middle(y)), want, "cell {x},{y}");
            }
        }
    }

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

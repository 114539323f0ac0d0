//! `GET /audio/<sha256>.<ext>`: a track's bytes. Named by content, so the answer never changes:
//! cached for a year, a strong `ETag`, Range requests for seeking. From an S3 store the browser
//! is sent to a short-lived presigned link instead, so the dyno does not carry the audio.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_range_header::parse_range_header;

use crate::error::{AppError, Rendered};
use crate::models::track;
use crate::state::AppState;
use crate::web::extract::Path;

pub fn router() -> Router<AppState> {
    Router::new().route("/audio/{file}", get(audio))
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `<64 hex digits>.<extension>`, as `MediaStore::key` names objects.
fn valid_key(file: &str) -> bool {
    file.split_once('.').is_some_and(|(hash, ext)| {
        hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && (1..=5).contains(&ext.len())
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

async fn audio(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if !valid_key(&file) {
        return Err(AppError::NotFound(None));
    }
    // Only what a track names is served: an orphan awaiting removal is not.
    let track = track::find_by_key(&state.db, &file)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let etag = format!("\"{}\"", track.sha256);
    let disposition = content_disposition(&track.title, &file);
    // From the bucket, the same name and the checked type, pinned in the signed link (S3
    // takes no X-Content-Type-Options; see `MediaStore::presigned`).
    let presigned = state
        .media
        .store
        .presigned(&file, &disposition, &track.mime)
        .await?;
    if let Some(url) = presigned {
        // Shorter than the link's life, so a cached redirect never leads to an expired link.
        return Ok((
            StatusCode::TEMPORARY_REDIRECT,
            [
                (header::LOCATION, url.to_string()),
                (header::CACHE_CONTROL, "private, max-age=600".to_owned()),
            ],
        )
            .into_response());
    }
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, header_value(&etag));
    common.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if matches_etag(&headers, header::IF_NONE_MATCH, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    common.insert(header::CONTENT_TYPE, header_value(&track.mime));
    common.insert(header::CONTENT_DISPOSITION, header_value(&disposition));
    common.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let size = track.size_bytes.max(0) as u64;
    let wanted = headers
        .get(header::RANGE)
        .filter(|_| {
            // If-Range: a range of the bytes the client already has, else the whole file;
            // compared strongly, so only this exact tag.
            headers
                .get(header::IF_RANGE)
                .is_none_or(|v| v.as_bytes() == etag.as_bytes())
        })
        .and_then(|v| v.to_str().ok());
    let (status, range) = match wanted.map(|r| requested_range(r, size)) {
        None => (StatusCode::OK, 0..size),
        // A Range header we cannot parse is ignored, as RFC 9110 asks.
        Some(Requested::Ignored) => (StatusCode::OK, 0..size),
        Some(Requested::Unsatisfiable) => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            let mut res = (StatusCode::RANGE_NOT_SATISFIABLE, common).into_response();
            res.extensions_mut().insert(Rendered);
            return Ok(res);
        }
        Some(Requested::Bytes(range)) => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {}-{}/{size}", range.start, range.end - 1)),
            );
            (StatusCode::PARTIAL_CONTENT, range)
        }
    };
    common.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    if range.is_empty() {
        return Ok((status, common).into_response());
    }
    let Some(bytes) = state.media.store.read(&file, range).await? else {
        // A row whose object is gone: logged, and a 404 rather than a 500.
        tracing::error!(key = %file, "a track's audio object is missing from the media store");
        return Err(AppError::NotFound(None));
    };
    Ok((status, common, Body::from_stream(bytes)).into_response())
}

/// `inline` (the browser plays it; "Save as" offers the track's title), with a file name that
/// is safe anywhere: an ASCII `filename` with everything else replaced, and the title itself
/// in `filename*` (RFC 6266), percent-encoded.
fn content_disposition(title: &str, key: &str) -> String {
    let extension = key.rsplit_once('.').map_or("", |(_, ext)| ext);
    // No control characters, no path separators, no quotes: nothing a browser or a shell
    // could read as more than a name.
    let name: String = title
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | '"') {
                '_'
            } else {
                c
            }
        })
        .take(100)
        .collect();
    let name = name.trim_start_matches(['.', ' ']);
    let name = if name.is_empty() { "track" } else { name };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = format!("{name}.{extension}");
    let encoded = percent_encoding::utf8_percent_encode(&full, RFC5987_ENCODE);
    format!("inline; filename=\"{ascii}.{extension}\"; filename*=UTF-8''{encoded}")
}

/// Everything but RFC 5987's `attr-char` is percent-encoded.
const RFC5987_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

enum Requested {
    Ignored,
    Unsatisfiable,
    Bytes(std::ops::Range<u64>),
}

/// One range of the file. Several ranges are answered as the one range that spans them (RFC
/// 9110 lets a server coalesce); browsers ask for one at a time.
fn requested_range(header: &str, size: u64) -> Requested {
    let Ok(parsed) = parse_range_header(header) else {
        return Requested::Ignored;
    };
    let several = header.contains(',');
    match parsed.validate(size) {
        Ok(ranges) => {
            let start = ranges.iter().map(|r| *r.start()).min().unwrap_or(0);
            let end = ranges.iter().map(|r| *r.end()).max().unwrap_or(0);
            Requested::Bytes(start..end + 1)
        }
        // Overlapping ranges fail validation though they can be served: the whole file.
        Err(_) if several => Requested::Ignored,
        Err(_) => Requested::Unsatisfiable,
    }
}

/// If-None-Match's weak comparison: the tag, weak or strong, or `*`.
pub(crate) fn matches_etag(headers: &HeaderMap, name: header::HeaderName, etag: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(header: &str, size: u64) -> Option<std::ops::Range<u64>> {
        match requested_range(header, size) {
            Requested::Bytes(r) => Some(r),
            _ => None,
        }
    }

    #[test]
    fn ranges_suffixes_and_unsatisfiable_ones() {
        assert_eq!(bytes("bytes=0-99", 1000), Some(0..100));
        assert_eq!(bytes("bytes=900-", 1000), Some(900..1000));
        assert_eq!(bytes("bytes=-100", 1000), Some(900..1000));
        assert_eq!(bytes("bytes=0-9,500-509", 1000), Some(0..510));
        assert!(matches!(
            requested_range("bytes=1000-", 1000),
            Requested::Unsatisfiable
        ));
        assert!(matches!(
            requested_range("bytes=5-2", 1000),
            Requested::Ignored | Requested::Unsatisfiable
        ));
        assert!(matches!(
            requested_range("pages=1-2", 1000),
            Requested::Ignored
        ));
        // Overlapping, so satisfiable: never a 416.
        assert!(!matches!(
            requested_range("bytes=0-99,50-149", 1000),
            Requested::Unsatisfiable
        ));
    }

    #[test]
    fn the_file_name_is_the_title_made_safe() {
        let key = format!("{}.mp3", "a".repeat(64));
        assert_eq!(
            content_disposition("Maple Leaf Rag", &key),
            "inline; filename=\"Maple Leaf Rag.mp3\"; filename*=UTF-8''Maple%20Leaf%20Rag.mp3"
        );
        assert_eq!(
            content_disposition("Für \"Elise\"\r\nX-Evil: 1", &key),
            "inline; filename=\"F_r _Elise___X-Evil_ 1.mp3\"; \
             filename*=UTF-8''F%C3%BCr%20_Elise___X-Evil%3A%201.mp3"
        );
        assert_eq!(
            content_disposition("../../etc/passwd", &key),
            "inline; filename=\"_.._etc_passwd.mp3\"; filename*=UTF-8''_.._etc_passwd.mp3"
        );
        assert!(content_disposition("  ", &key).starts_with("inline; filename=\"track.mp3\";"));
    }

    #[test]
    fn only_content_names_are_keys() {
        let hash = "a".repeat(64);
        assert!(valid_key(&format!("{hash}.mp3")));
        assert!(!valid_key(&format!("{hash}.mp3/../x")));
        assert!(!valid_key(&format!("{}.mp3", "A".repeat(64))));
        assert!(!valid_key("../../etc/passwd"));
        assert!(!valid_key(&hash));
    }
}

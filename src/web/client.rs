//! Who is asking, and how: the client address, scheme and host, resolved from the connection
//! and from `X-Forwarded-*` headers added by exactly the configured number of trusted proxies
//! (Werkzeug's `ProxyFix`). Values a client wrote before those hops are ignored.
//!
//! The host is a special case, because it ends up in the links we mail and the redirects we
//! send: it is always the configured server name (`RAGTIME_SERVER_NAME`), never what a request
//! says. A request's `Host` serves only to recognise a browser's same-origin `Origin`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Proxies;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: IpAddr,
    /// "http" or "https": how the request reached us (through the trusted proxies).
    pub scheme: &'static str,
    /// "https" when the public site is, whatever this request came over: absolute URLs use it.
    pub public_scheme: &'static str,
    /// The site's configured host, with a port only when it is not the scheme's default.
    pub host: String,
    /// The `Host` the request was sent to, if well-formed: only for same-origin checks.
    pub request_host: Option<String>,
}

impl ClientInfo {
    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// `https://host` of the configured host: the base of every absolute URL.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.public_scheme, self.host)
    }

    /// Whether a browser's `Origin` header names this site: the configured origin, or the
    /// origin of the address the request was sent to (`http://127.0.0.1:5000` in development).
    pub fn is_same_origin(&self, origin: &str) -> bool {
        origin == self.origin()
            || self
                .request_host
                .as_ref()
                .is_some_and(|host| origin == format!("{}://{host}", self.scheme))
    }
}

/// All comma-separated values of a header, across repeated header lines, in order.
fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .collect()
}

/// The value added by the outermost trusted proxy: with `hops` proxies each appending one
/// value, that is the `hops`-th from the end. Too few values means the request did not come
/// through our proxies, and the header is ignored.
fn trusted(headers: &HeaderMap, name: &str, hops: usize) -> Option<String> {
    if hops == 0 {
        return None;
    }
    let all = values(headers, name);
    all.len()
        .checked_sub(hops)
        .map(|i| all[i].clone())
        .filter(|v| !v.is_empty())
}

/// A host as it may appear in a URL: name or address, optional port, nothing else. Anything
/// else (spaces, slashes, '@') could bend the absolute URLs we mail out.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

pub fn resolve(headers: &HeaderMap, peer: Option<SocketAddr>, proxies: &Proxies) -> ClientInfo {
    let hops = proxies.hops;
    let peer_ip = peer.map(|p| p.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = trusted(headers, "x-forwarded-for", hops)
        .and_then(|v| v.parse::<IpAddr>().ok())
        .unwrap_or(peer_ip);
    let scheme = match trusted(headers, "x-forwarded-proto", hops) {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let public_scheme = if proxies.https { "https" } else { scheme };
    // `ragtime.example:443` is `https://ragtime.example` to a browser.
    let default_port = if public_scheme == "https" {
        ":443"
    } else {
        ":80"
    };
    let name = &proxies.server_name;
    let request_host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| valid_host(h))
        .map(str::to_owned);
    ClientInfo {
        ip,
        scheme,
        public_scheme,
        host: name.strip_suffix(default_port).unwrap_or(name).to_owned(),
        request_host,
    }
}

/// Middleware: resolve the client once per request and keep it in the request extensions.
pub async fn resolve_client(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0);
    let info = resolve(req.headers(), peer, &state.config.proxies);
    req.extensions_mut().insert(info);
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        // Without the layer there is no trustworthy origin to build links from.
        parts
            .extensions
            .get::<ClientInfo>()
            .cloned()
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!(
                    "the client resolution layer is not installed"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const PEER: &str = "10.1.2.3:55555";

    fn peer() -> Option<SocketAddr> {
        Some(PEER.parse().unwrap())
    }

    /// `hops` proxies in front of the site `ragtime.example`.
    fn hops(hops: usize) -> Proxies {
        Proxies {
            hops,
            server_name: "ragtime.example".into(),
            https: false,
        }
    }

    #[test]
    fn with_no_trusted_hop_forwarded_headers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
            ("host", "ragtime.example"),
        ]);
        let c = resolve(&h, peer(), &hops(0));
        assert_eq!(c.ip.to_string(), "10.1.2.3");
        assert_eq!(c.scheme, "http");
        assert_eq!(c.origin(), "http://ragtime.example");
    }

    #[test]
    fn with_one_hop_the_last_value_is_believed_and_earlier_ones_are_not() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = resolve(&h, peer(), &hops(1));
        assert_eq!(c.ip.to_string(), "203.0.113.7");
        assert_eq!(c.scheme, "https");
        assert_eq!(c.origin(), "https://ragtime.example");
    }

    #[test]
    fn with_two_hops_the_second_to_last_value_is_the_client() {
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.9, 10.0.0.2"),
            ("x-forwarded-proto", "http, https"),
        ]);
        let c = resolve(&h, peer(), &hops(2));
        assert_eq!(c.ip.to_string(), "198.51.100.9");
        assert_eq!(c.scheme, "http");
    }

    #[test]
    fn fewer_values_than_hops_means_the_header_is_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = resolve(&h, peer(), &hops(2));
        assert_eq!(c.ip.to_string(), "10.1.2.3");
        assert_eq!(c.scheme, "http");
        let h = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(resolve(&h, peer(), &hops(1)).ip.to_string(), "10.1.2.3");
    }

    #[test]
    fn the_origin_is_the_configured_one_whatever_the_request_says() {
        let h = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-port", "8443"),
            ("host", "evil.example"),
        ]);
        let c = resolve(&h, peer(), &hops(1));
        assert_eq!(c.origin(), "https://ragtime.example");
        let with_port = Proxies {
            server_name: "ragtime.example:443".into(),
            ..hops(1)
        };
        assert_eq!(
            resolve(&h, peer(), &with_port).origin(),
            "https://ragtime.example"
        );
        let other_port = Proxies {
            server_name: "ragtime.example:8443".into(),
            ..hops(1)
        };
        assert_eq!(
            resolve(&h, peer(), &other_port).origin(),
            "https://ragtime.example:8443"
        );
    }

    #[test]
    fn a_site_served_over_https_links_over_https_even_from_a_plain_request() {
        let h = headers(&[("host", "ragtime.example")]);
        let public = Proxies {
            https: true,
            ..hops(0)
        };
        let c = resolve(&h, peer(), &public);
        assert_eq!(c.scheme, "http");
        assert_eq!(c.origin(), "https://ragtime.example");
    }

    #[test]
    fn an_origin_is_ours_when_it_names_the_site_or_the_address_the_browser_used() {
        let h = headers(&[("host", "127.0.0.1:5000")]);
        let c = resolve(&h, peer(), &hops(0));
        assert!(c.is_same_origin("http://ragtime.example"));
        assert!(c.is_same_origin("http://127.0.0.1:5000"));
        assert!(!c.is_same_origin("http://evil.example"));
        assert!(!c.is_same_origin("https://127.0.0.1:5000"));
        let hostile = resolve(
            &headers(&[("host", "evil.example/path@x")]),
            peer(),
            &hops(0),
        );
        assert_eq!(hostile.request_host, None);
    }
}

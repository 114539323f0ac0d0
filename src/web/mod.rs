//! The web platform shared by every view: client resolution behind proxies, sessions, CSRF,
//! the layout context and its colour scheme, security headers, request logging, static assets and our own avatars, pagination, and
//! extractors that reject with our own error type.

pub mod assets;
pub mod avatars;
pub mod body_limit;
pub mod cache;
pub mod client;
pub mod csrf;
pub mod extract;
pub mod headers;
pub mod layout;
pub mod pagination;
pub mod request_log;
pub mod scheme;
pub mod session;
pub mod upload;

//! The web platform shared by every view: client resolution behind proxies, sessions, CSRF,
//! security headers, error pages, request logging and static assets.

pub mod assets;
pub mod cache;
pub mod client;
pub mod csrf;
pub mod error_mail;
pub mod errors;
pub mod headers;
pub mod page;
pub mod request_log;
pub mod session;

//! The site's views, one module per area as in the Flask original's blueprints, and what
//! becomes of errors (their pages, and the administrator's mail), as in its `main/errors.py`.

pub mod account;
pub mod admin;
pub mod audio;
pub mod auth;
pub mod compositions;
pub mod dev;
pub mod error_mail;
pub mod errors;
pub mod feeds;
pub mod main;
pub mod moderation;
pub mod names;
pub mod notifications;
pub mod plays;
pub mod search;
pub mod seo;
pub mod tags;
pub mod tracks;
pub mod users;

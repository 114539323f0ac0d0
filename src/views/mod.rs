//! The site's views, one module per area as in the Flask original's blueprints.

pub mod account;
pub mod auth;
pub mod compositions;
pub mod main;
pub mod moderation;
pub mod users;

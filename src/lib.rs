//! Ragtime: a music-sharing social network, the Rust successor of a Flask course project,
//! deployable to Heroku or any Procfile platform.
//!
//! # A guided tour
//!
//! Read the modules top-down; each imports only those below it (the SeaORM entities in
//! [`models`] name each other, as relations do).
//!
//! - [`commands`]: the binary's subcommands, which are the Procfile's process types: `serve`
//!   (`web:`), `deploy` (`release:`), `worker` (`worker:`), and `seed` for development.
//! - [`app`]: the router, where every blueprint and every layer is assembled, once, for
//!   production and tests alike.
//! - [`views`] and [`api`]: the handlers, one module per area like the Flask original's
//!   blueprints (`main`, `auth`, ...) plus the JSON API. A handler reads as a story: extract,
//!   check, call the model, answer. [`views::errors`] renders every error as a page or JSON.
//! - [`templates`]: the askama structs of the pages and mails, one module per folder of
//!   `templates/`; a template becomes a response through [`templates::Html`].
//! - [`web`]: the layers and extractors every page shares: who the client is behind the
//!   proxies, sessions and flash messages, CSRF, the layout context, security headers,
//!   request logs, static assets, pagination.
//! - [`access`]: who is asking and what they may do: passwords, signed tokens, login rate
//!   limits, and the `CurrentUser` / `Can<P>` extractors.
//! - [`state`]: what every request shares ([`state::AppState`]); [`error`]: what can go wrong
//!   ([`error::AppError`]).
//! - [`models`] (and [`migration`], [`db`]): the data. Every query lives there; handlers call
//!   functions such as `composition::page(&db, feed, cursor, per_page)`.
//! - [`forms`]: the rules input must follow; [`mail`]: the durable mail queue and its
//!   delivery; [`notices`]: notifications turned into mail (one each, or a daily digest); [`crypto`]: random tokens and keyed signatures; [`config`]: typed
//!   configuration from the environment, checked at start-up.
//!
//! # How a request travels
//!
//! `serve` accepts the connection and hands the request to the router of [`app::router`].
//! The layers meet it in this order: the client's address and scheme are resolved from
//! the trusted proxy headers; the request is logged (with its id) and given security headers;
//! plain HTTP is redirected when HTTPS is enforced; the browser session is attached; errors
//! are mailed and rendered on the way back; panics, timeouts and oversized bodies are caught;
//! CSRF is checked for browser writes; when a logged-in user was last seen is noted. Then the
//! handler runs: its extractors ([`web::layout::Layout`], `CurrentUser`, `Form`...) reject
//! with an [`error::AppError`], it calls the models, and it answers with a template, a
//! redirect, JSON, or an `AppError` that the error-page layer renders as HTML or JSON.

pub mod access;
pub mod api;
pub mod app;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod forms;
pub mod mail;
pub mod media;
pub mod migration;
pub mod models;
pub mod notices;
pub mod state;
pub mod templates;
pub mod views;
pub mod web;

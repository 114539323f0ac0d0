//! Ragtime: a music-sharing social network, the Rust successor of a Flask course project,
//! deployable to Heroku or any Procfile platform.
//!
//! # A guided tour
//!
//! Read the modules top-down: each names only the modules below it in this line, which
//! `tests/suite/layers.rs` checks against every `crate::` path of `src/`:
//!
//! Layers, top to bottom: `commands`, `app`, `api`, `views`, `access`, `notices`, `templates`, `web`, `state`, `error`, `db`, `migration`, `mail`, `media`, `models`, `config`, `crypto`.
//!
//! Inside [`models`] the SeaORM entities name each other, as relations do.
//!
//! - [`commands`]: the binary's subcommands, which are the Procfile's process types: `serve`
//!   (`web:`), `deploy` (`release:`), `worker` (`worker:`), and `seed` for development.
//! - [`app`]: the router, where every blueprint and every layer is assembled, once, for
//!   production and tests alike.
//! - [`api`] and [`views`]: the handlers, one module per area like the Flask original's
//!   blueprints (`main`, `auth`, ...) plus the JSON API, which renders its errors through
//!   [`views::errors`]. A handler reads as a story: extract, check, call the model, answer.
//! - [`access`]: who is asking and what they may do: passwords, signed tokens, login rate
//!   limits, and the `CurrentUser` / `Can<P>` extractors.
//! - [`notices`]: notifications turned into mail (one each, or a daily digest).
//! - [`templates`]: the askama structs of the pages and mails, one module per folder of
//!   `templates/`; a template becomes a response through [`templates::Html`].
//! - [`web`]: the layers and extractors every page shares: who the client is behind the
//!   proxies, sessions and flash messages, CSRF, the layout context, security headers,
//!   request logs, static assets, pagination.
//! - [`state`]: what every request shares ([`state::AppState`]); [`error`]: what can go wrong
//!   ([`error::AppError`]).
//! - [`db`] and [`migration`]: the connection pool and the schema.
//! - [`mail`]: the durable mail queue and its delivery; [`media`]: audio, probed and kept in
//!   the object store.
//! - [`models`]: the data. Every query lives there; handlers call functions such as
//!   `composition::page(&db, feed, cursor, per_page)`; [`models::forms`] holds the rules
//!   input must follow before it is stored.
//! - [`config`]: typed configuration from the environment, checked at start-up; [`crypto`]:
//!   random tokens and keyed signatures.
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
pub mod mail;
pub mod media;
pub mod migration;
pub mod models;
pub mod notices;
pub mod state;
pub mod templates;
pub mod views;
pub mod web;

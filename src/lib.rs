//! Ragtime: a music-sharing social network, the Rust successor of a Flask course project,
//! deployable to Heroku or any Procfile platform.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod deploy;
pub mod forms;
pub mod mail;
pub mod markdown;
pub mod migration;
pub mod models;
pub mod pagination;
pub mod seed;
pub mod server;
pub mod templates;
pub mod views;
pub mod web;
pub mod worker;

//! Ragtime's test suite: one binary, one module per area, the shared helpers in [`helpers`].
//! Each test gets its own database: a SQLite file by default, a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set.

mod helpers;

mod account_settings;
mod accounts;
mod admin;
mod api;
mod cards;
mod compositions;
mod deploy;
mod dev_mail;
mod error_mail;
mod error_pages;
mod feeds;
mod import_flask;
mod layers;
mod likes;
mod lists;
mod logging;
mod mail;
mod media_s3;
mod notifications;
mod outages;
mod pages;
mod people;
mod platform_files;
mod plays;
mod process;
mod profiles;
mod races;
mod rate_limits;
mod role_command;
mod search;
mod security;
mod seed;
mod share;
mod structure;
mod tags;
mod track_forms;
mod tracks;
mod unconfirmed;

//! Schema migrations, compiled into the binary (the buildpack keeps nothing but the executable)
//! and applied by `ragtime deploy` in the release phase, or on start in development.
//!
//! Every migration must be safe while the previous release still serves traffic: add tables,
//! columns and indexes first; remove only in a later release.

use sea_orm_migration::prelude::*;

mod counting;
mod m20261125_000001_initial;
mod m20261201_000001_tracks;
mod m20261202_000001_counts;
mod m20261203_000001_discovery;
mod m20261204_000001_notifications;
mod m20261205_000001_descriptions;
mod m20261206_000001_flask_import;
mod m20261207_000001_flask_usernames;
mod m20261208_000001_mail_retention;
mod m20261209_000001_plays;

pub use m20261205_000001_descriptions::render_descriptions_again;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261201_000001_tracks::Migration),
            Box::new(m20261202_000001_counts::Migration),
            Box::new(m20261203_000001_discovery::Migration),
            Box::new(m20261204_000001_notifications::Migration),
            Box::new(m20261205_000001_descriptions::Migration),
            Box::new(m20261206_000001_flask_import::Migration),
            Box::new(m20261207_000001_flask_usernames::Migration),
            Box::new(m20261208_000001_mail_retention::Migration),
            Box::new(m20261209_000001_plays::Migration),
        ]
    }
}

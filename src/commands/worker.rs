//! `ragtime worker`: the Procfile's optional `worker:` process. It writes notification mail and
//! delivers queued mail, so mail
//! keeps flowing at its own pace whatever the web dynos do (the web process delivers too, so an
//! app without a worker dyno still sends its mail), and sweeps the media store of objects no
//! track names. Several workers
//! (and web processes) may run at once: each message is claimed before it is sent.

use anyhow::Context;
use sea_orm_migration::MigratorTrait;

use super::serve;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::crypto::Signer;
use crate::db;
use crate::mail::{self, Transport};
use crate::media::Media;
use crate::media::upload::run_sweeps;
use crate::migration::Migrator;
use crate::notices;

/// Deliver mail until SIGTERM or Ctrl-C, then finish the message being sent and return.
pub async fn work(config: Config) -> anyhow::Result<()> {
    let transport = Transport::from_config(&config)?;
    let db = db::connect(&config)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")?;
    // The worker never migrates (the release phase or the development web process does); say
    // so plainly instead of failing every two seconds on a missing table.
    match Migrator::get_pending_migrations(&db).await {
        Ok(pending) if !pending.is_empty() => tracing::warn!(
            "the database has {} pending migrations: run `ragtime deploy` first",
            pending.len()
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot check the migrations"),
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let media = Media::new(&config.media).context("cannot open the media store")?;
    let sweeps = tokio::spawn(run_sweeps(media, db.clone(), stop_rx.clone()));
    let signer = Signer::new(config.secret_key.expose_secret().as_bytes());
    let config = std::sync::Arc::new(config);
    let notices = tokio::spawn(notices::run(
        db.clone(),
        config.clone(),
        signer,
        stop_rx.clone(),
    ));
    let mut delivery = tokio::spawn(mail::run_delivery(
        db,
        config.mail.clone(),
        transport,
        stop_rx,
    ));
    tracing::info!(config = %config.name, "worker: delivering queued mail");
    tokio::select! {
        () = serve::shutdown_signal() => {}
        result = &mut delivery => {
            result.context("the mail delivery loop stopped")?;
            anyhow::bail!("the mail delivery loop stopped");
        }
    }
    tracing::info!("worker: shutting down");
    let _ = stop_tx.send(true);
    let grace = config.shutdown_timeout;
    if tokio::time::timeout(grace, delivery).await.is_err() {
        tracing::warn!("worker: delivery still running after {grace:?}; exiting");
    }
    sweeps.abort();
    notices.abort();
    tracing::info!("worker: stopped");
    Ok(())
}

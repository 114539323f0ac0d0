//! `ragtime serve`: the production web server (gunicorn's job in the lesson). Binds first —
//! Heroku kills a web dyno that has not bound `$PORT` within 60 s — then connects to the
//! database, serves with keep-alive, and on SIGTERM or Ctrl-C stops accepting, lets in-flight
//! requests finish, and exits well within Heroku's 30 s.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;

use crate::app;
use crate::config::Config;
use crate::db;
use crate::models::{rate_limit, session};
use crate::state::AppState;

/// Listen on the configured host, or on every interface: IPv6 `[::]` accepting IPv4 too (Fir
/// dynos need IPv6), falling back to `0.0.0.0` where the kernel has no IPv6.
pub fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let std_listener = match config.host {
        Some(ip) => listen(SocketAddr::new(ip, config.port), false)?,
        None => listen(
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), config.port),
            true,
        )
        .or_else(|_| {
            listen(
                SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), config.port),
                false,
            )
        })?,
    };
    Ok(TcpListener::from_std(std_listener)?)
}

fn listen(addr: SocketAddr, dual_stack: bool) -> anyhow::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot listen on {addr}"))?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Resolves when the process is asked to stop (SIGTERM from the platform, or Ctrl-C).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = bind(&config)?;
    let addr = listener.local_addr()?;
    if config.secret_key_generated {
        tracing::warn!(
            "SECRET_KEY is not set: using a random key, so sessions end when the server restarts"
        );
    }

    let db = db::connect(&config)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")?;
    if config.auto_migrate {
        let applied = db::migrate(&db)
            .await
            .context("cannot migrate the database")?;
        crate::models::role::insert_roles(&db).await?;
        if !applied.is_empty() {
            tracing::info!("applied migrations: {}", applied.join(", "));
        }
    }

    tokio::spawn(purge_sessions(db.clone()));
    // Bound before the slow start-up work; announced once requests can be served.
    tracing::info!(config = %config.name, "listening on {addr}");
    let grace = config.shutdown_timeout;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let transport = crate::mail::Transport::from_config(&config)?;
    // The web process delivers mail too, so a `worker` dyno is optional.
    let delivery = tokio::spawn(crate::mail::run_delivery(
        db.clone(),
        config.mail.clone(),
        transport.clone(),
        stop_rx.clone(),
    ));
    let state = AppState::new(config, db, transport)?;
    let background = state.background.clone();
    let app = app::router(state).into_make_service_with_connect_info::<SocketAddr>();

    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
    });
    let deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.context("server error")?,
        _ = deadline => tracing::warn!("shutdown: requests still running after {grace:?}; exiting"),
    }
    // Work handlers left for after their answer (a reset mail to queue) is finished too.
    background.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), background.wait()).await;
    // Delivery stopped taking new messages when shutdown began; let the one being sent finish.
    let _ = tokio::time::timeout(Duration::from_secs(2), delivery).await;
    tracing::info!("stopped");
    Ok(())
}

/// Expired sessions and rate-limit windows that ended long ago are useless; clear them out
/// now and then so the tables stay small.
async fn purge_sessions(db: sea_orm::DatabaseConnection) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        if let Err(e) = session::purge_expired(&db).await {
            tracing::warn!(error = %e, "cannot purge expired sessions");
        }
        if let Err(e) = rate_limit::purge_older_than(&db, chrono::Duration::days(1)).await {
            tracing::warn!(error = %e, "cannot purge old rate-limit windows");
        }
    }
}

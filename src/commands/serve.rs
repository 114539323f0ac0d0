//! `ragtime serve`: the production web server (gunicorn's job in the lesson). Binds first —
//! Heroku kills a web dyno that has not bound `$PORT` within 60 s — then connects to the
//! database and serves HTTP/1.1 with keep-alive.
//!
//! On SIGTERM or Ctrl-C it stops accepting connections at once, lets in-flight requests
//! finish, and drains the open keep-alive connections: a request that still arrives on one is
//! answered with `Connection: close`, so the client reconnects elsewhere instead of meeting a
//! connection closed under its request; connections that stay quiet for [`DRAIN`] are then
//! closed. It exits as soon as no connection is left, well within Heroku's 30 s.
//!
//! A process holds at most `RAGTIME_MAX_CONNECTIONS` connections (more wait in the listen
//! queue), and one that keeps it waiting for a request's head is closed ([`waiting`]).

mod waiting;

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::task::TaskTracker;
use tower_service::Service;

use crate::app;
use crate::config::Config;
use crate::db;
use crate::models::{play, rate_limit, session, trending};
use crate::state::AppState;
use waiting::Waiting;

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
    match (&config.secret_key_file, config.secret_key_generated) {
        (Some(file), _) => tracing::info!(
            "SECRET_KEY is not set: using the development key kept in {}",
            file.display()
        ),
        (None, true) => tracing::warn!(
            "SECRET_KEY is not set: using a random key, so signed links and forms end when the \
             server restarts"
        ),
        (None, false) => {}
    }

    let db = db::connect(&config)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")?;
    if let Err(e) = db.ping().await {
        tracing::warn!(error = %e, "the database is not answering yet: pages answer 503 until it is");
    }
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
    tokio::spawn(sweep_trending(db.clone()));
    // Bound before the slow start-up work; announced once requests can be served.
    tracing::info!(config = %config.name, "listening on {addr}");
    let grace = config.shutdown_timeout;
    let limits = Limits {
        header_timeout: config.header_timeout,
        max_connections: config.max_connections,
    };
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let transport = crate::mail::Transport::from_config(&config)?;
    // The web process delivers mail too, so a `worker` dyno is optional.
    let delivery = tokio::spawn(crate::mail::run_delivery(
        db.clone(),
        config.mail.clone(),
        transport.clone(),
        stop_rx.clone(),
    ));
    let state = AppState::new(config, db.clone(), transport)?;
    // Likewise notification mail and the media sweep, so a `worker` dyno stays optional.
    tokio::spawn(crate::notices::run(
        db.clone(),
        state.config.clone(),
        state.signer.clone(),
        stop_rx.clone(),
    ));
    tokio::spawn(crate::media::upload::run_sweeps(
        state.media.clone(),
        db,
        stop_rx.clone(),
    ));
    let background = state.background.clone();
    let draining = Arc::new(AtomicBool::new(false));
    let app = app::router(state).layer(from_fn_with_state(draining.clone(), close_when_draining));

    let stop = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_tx.send(true);
    };
    let deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = run(listener, app, stop, draining, limits) => {}
        _ = deadline => tracing::warn!("shutdown: requests still running after {grace:?}; exiting"),
    }
    // Work handlers left for after their answer (a reset mail to queue), and the mail being
    // sent (delivery took no new message once shutdown began), get a last moment together.
    background.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        tokio::join!(background.wait(), delivery)
    })
    .await;
    tracing::info!("stopped");
    Ok(())
}

/// How long open connections may stay quiet once shutdown began before they are closed.
pub const DRAIN: Duration = Duration::from_secs(2);

/// What one process takes on.
#[derive(Clone, Copy)]
struct Limits {
    header_timeout: Duration,
    max_connections: usize,
}

/// Accept and serve connections until `stop`; then drain them (see the module's comment).
async fn run(
    listener: TcpListener,
    app: Router,
    stop: impl Future<Output = ()>,
    draining: Arc<AtomicBool>,
    limits: Limits,
) {
    let connections = TaskTracker::new();
    let (close_quiet, _) = watch::channel(false);
    // One permit per connection: at the cap, new ones wait in the kernel's listen queue.
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let connection = serve_connection(
            stream,
            peer,
            app.clone(),
            close_quiet.subscribe(),
            limits.header_timeout,
        );
        connections.spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    drop(listener);
    draining.store(true, Ordering::SeqCst);
    connections.close();
    if tokio::time::timeout(DRAIN, connections.wait())
        .await
        .is_err()
    {
        let _ = close_quiet.send(true);
        connections.wait().await;
    }
}

/// One client connection, until it closes, or until `close_quiet` says to end it (once its
/// request in flight, if any, is answered).
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    mut close_quiet: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let waiting = Waiting::new(header_timeout);
    let service = {
        let waiting = waiting.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            waiting.request_began();
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            let waiting = waiting.clone();
            async move {
                let res = app.call(req).await?;
                Ok::<_, std::convert::Infallible>(res.map(|body| waiting.response(body)))
            }
        })
    };
    // No hyper header-read timer: it would also close a connection idle between requests,
    // and Heroku's router keeps idle connections to a dyno for up to 90 s; `waiting` tells
    // the two apart. A 64 KiB read buffer (hyper's default grows to 400 KiB): an upload streams through in
    // smaller pieces, so eight at once hold a few MiB, not dozens. Heroku's router refuses
    // request heads over 8 KiB anyway.
    let connection = http1::Builder::new()
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(waiting.watch(stream)), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        () = waiting.too_long() => {
            // Closed without an answer: nothing of a request is in flight.
            tracing::debug!(%peer, "closing a connection that kept us waiting for a request");
            return;
        }
        _ = close_quiet.wait_for(|close| *close) => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection => {}
        () = waiting.too_long() => {}
    }
}

/// Middleware: once shutdown began, every answer tells the client to close its connection.
async fn close_when_draining(
    State(draining): State<Arc<AtomicBool>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    if draining.load(Ordering::SeqCst) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
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
        if let Err(e) = play::prune(&db, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "cannot prune the plays of the last hour");
        }
    }
}

/// The week's plays and likes leave the trending scores as they turn a week old: every few
/// minutes, so the list never holds an event much older than that.
async fn sweep_trending(db: sea_orm::DatabaseConnection) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        if let Err(e) = trending::sweep(&db, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "cannot sweep the trending scores");
        }
    }
}

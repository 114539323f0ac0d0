//! Mail: messages rendered from text + HTML templates, queued durably in the database (see
//! `models::mail_queue`) and delivered by a background loop with retries — in the web process
//! and in the optional `ragtime worker`. A message the relay refuses for good (5xx), or
//! refuses for now too many times, is given up with the reason; an unreachable relay is an
//! outage, retried every few seconds without counting against the messages. Sent and given-up
//! messages are deleted after `RAGTIME_MAIL_RETENTION_DAYS`. Transports: SMTP (`MAIL_SERVER`), the log (development,
//! or any configuration without `MAIL_SERVER`), an in-memory outbox (tests).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use askama::Template;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use secrecy::ExposeSecret;
use tokio::sync::watch;

use crate::config::{Config, MailConfig};
use crate::models::mail_queue;

/// A message as it leaves Ragtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The same for every attempt at one queued message, so that when an attempt whose end
    /// was not recorded is followed by another, relays and mail clients can drop the copy.
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Where one click unsubscribes from this kind of mail (notifications only): sent as
    /// `List-Unsubscribe` with `List-Unsubscribe-Post` (RFC 8058).
    pub unsubscribe: Option<String>,
}

/// Where delivered mail goes.
#[derive(Clone)]
pub enum Transport {
    /// No `MAIL_SERVER`: write the message to the log. The body (with its signed links) only
    /// when `with_body` is set, in development and testing: production logs must not carry
    /// tokens.
    Log { with_body: bool },
    /// Tests: keep messages in memory to read links out of them.
    Memory(Arc<Mutex<Vec<Outgoing>>>),
    /// `MAIL_SERVER`: a pool of SMTP connections, built once per process.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// How long one SMTP exchange may stall before the attempt fails and is retried later; the
/// claim on the message is renewed meanwhile, so no second worker sends it at the same time.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Transport {
    /// The transport the configuration asks for: SMTP when `MAIL_SERVER` is set, otherwise the
    /// log (with a warning in production and heroku, where nobody reads mail in the log).
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        if config.mail.server.is_some() {
            return Self::smtp(&config.mail, None);
        }
        if config.name.is_production_like() {
            tracing::warn!(
                "MAIL_SERVER is not set: mail is written to the log (recipient and subject only) \
                 instead of being sent"
            );
        }
        Ok(Transport::Log {
            with_body: !config.name.is_production_like(),
        })
    }

    /// SMTP to `MAIL_SERVER:MAIL_PORT`: STARTTLS required when `MAIL_USE_TLS` (nothing, not even
    /// the credentials, goes out before the upgrade), plain otherwise; logs in when
    /// `MAIL_USERNAME` is set. `extra_root_pem` adds a trusted CA certificate (PEM) to the
    /// public roots, for a relay with a private CA (the tests' self-signed relay). Call it
    /// inside the Tokio runtime: the connection pool starts a task that closes idle connections.
    pub fn smtp(mail: &MailConfig, extra_root_pem: Option<&[u8]>) -> anyhow::Result<Self> {
        let server = mail
            .server
            .as_deref()
            .context("MAIL_SERVER is required for SMTP")?;
        let mut builder = if mail.use_tls {
            let mut tls = TlsParameters::builder(server.to_owned());
            if let Some(pem) = extra_root_pem {
                tls = tls.add_root_certificate(
                    Certificate::from_pem(pem).context("the extra root certificate")?,
                );
            }
            let tls = tls
                .build_rustls()
                .context("cannot set up TLS for MAIL_SERVER")?;
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(server)
                .context("MAIL_SERVER")?
                .tls(Tls::Required(tls))
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)
        };
        builder = builder.port(mail.port).timeout(Some(SMTP_TIMEOUT));
        if let Some(username) = &mail.username {
            let password = mail
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Transport::Smtp(builder.build()))
    }

    pub fn memory() -> Self {
        Transport::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Everything delivered to an in-memory outbox so far.
    pub fn outbox(&self) -> Vec<Outgoing> {
        match self {
            Transport::Memory(m) => m.lock().map(|v| v.clone()).unwrap_or_default(),
            Transport::Log { .. } | Transport::Smtp(_) => Vec::new(),
        }
    }

    async fn send(&self, mail: Outgoing) -> Result<(), Failure> {
        match self {
            Transport::Log { with_body: true } => {
                let (to, subject) = (&mail.to, &mail.subject);
                tracing::info!(%to, %subject, "mail (log transport):\n{}", mail.text);
                Ok(())
            }
            Transport::Log { with_body: false } => {
                let (to, subject) = (&mail.to, &mail.subject);
                tracing::info!(%to, %subject, "mail (log transport; not sent)");
                Ok(())
            }
            Transport::Memory(m) => {
                m.lock()
                    .map_err(|_| Failure::Transient(anyhow::anyhow!("outbox poisoned")))?
                    .push(mail);
                Ok(())
            }
            Transport::Smtp(smtp) => {
                // A malformed address never gets better.
                let message = message(&mail).map_err(Failure::Permanent)?;
                smtp.send(message).await.map_err(Failure::of_smtp)?;
                Ok(())
            }
        }
    }
}

/// Why a delivery failed, which decides what becomes of the message.
#[derive(Debug)]
enum Failure {
    /// The relay refused it for good (a 5xx reply), or it cannot be sent at all (a malformed
    /// address): given up at once.
    Permanent(anyhow::Error),
    /// The relay refused it for now (4xx) or the exchange went wrong: retried with backoff,
    /// and given up after `RAGTIME_MAIL_MAX_ATTEMPTS`.
    Transient(anyhow::Error),
    /// The relay could not be reached, or the connection broke or stalled: an outage, not
    /// the message's fault. Not counted; retried as soon as the relay answers.
    Unreachable(anyhow::Error),
}

impl Failure {
    /// By the error's kind (lettre's own classification of the reply), never its text.
    fn of_smtp(e: lettre::transport::smtp::Error) -> Self {
        if e.is_permanent() {
            Failure::Permanent(e.into())
        } else if e.is_transient() || e.is_response() || e.is_client() || e.is_tls() {
            Failure::Transient(e.into())
        } else {
            // Connection, network i/o, timeouts, a pool shut down.
            Failure::Unreachable(e.into())
        }
    }
}

/// The MIME message: multipart/alternative, plain text first so HTML-capable readers pick the
/// HTML. A malformed sender or recipient is an error (the delivery fails and is recorded).
fn message(mail: &Outgoing) -> anyhow::Result<Message> {
    let from: Mailbox = mail
        .from
        .parse()
        .with_context(|| format!("invalid sender address {:?}", mail.from))?;
    let to: Mailbox = mail
        .to
        .parse()
        .with_context(|| format!("invalid recipient address {:?}", mail.to))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.as_str())
        .message_id(Some(mail.message_id.clone()));
    if let Some(url) = &mail.unsubscribe {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    Ok(builder.multipart(MultiPart::alternative_plain_html(
        mail.text.clone(),
        mail.html.clone(),
    ))?)
}

/// A message rendered from a pair of templates: `mail/<name>.txt` and `mail/<name>.html`.
pub struct Rendered {
    pub text: String,
    pub html: String,
}

pub fn render<T: Template, H: Template>(text: &T, html: &H) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        text: text.render()?,
        html: html.render()?,
    })
}

/// Queue a message; call it with the transaction of the change that causes the mail.
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    config: &MailConfig,
    to: &str,
    subject: &str,
    body: &Rendered,
) -> Result<(), DbErr> {
    queue_with_unsubscribe(db, config, to, subject, body, None).await
}

/// [`queue`] a mail the recipient may stop with one click at `unsubscribe` (notifications).
pub async fn queue_with_unsubscribe<C: ConnectionTrait>(
    db: &C,
    config: &MailConfig,
    to: &str,
    subject: &str,
    body: &Rendered,
    unsubscribe: Option<&str>,
) -> Result<(), DbErr> {
    let subject = format!("{} {}", config.subject_prefix, subject);
    mail_queue::enqueue(db, to, subject.trim(), &body.text, &body.html, unsubscribe).await
}

/// The longest one delivery may take; the claim on the message is renewed meanwhile.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// `<ragtime.<id>.<queued at>@<sender's domain>>`: stable across attempts, unique across
/// databases that reuse ids.
fn message_id(message: &mail_queue::Model, sender: &str) -> String {
    let domain = sender
        .parse::<Mailbox>()
        .map(|m| m.email.domain().to_owned())
        .unwrap_or_else(|_| "ragtime.invalid".to_owned());
    let queued = message.created_at.timestamp_micros();
    format!("<ragtime.{}.{queued}@{domain}>", message.id)
}

/// How one delivery attempt ended.
enum Attempt {
    Sent,
    Failed(Failure),
    /// Given up because the claim was lost: the message is another worker's now, so this one
    /// records nothing about it.
    Lost,
}

/// Send `outgoing`, renewing the claim on `id` while it goes on. Should the claim be lost (it
/// lapsed, or it could not be renewed before it would), the attempt is given up rather than
/// carried on while another worker may take the message.
async fn send_claimed(
    db: &DatabaseConnection,
    transport: &Transport,
    id: i64,
    outgoing: Outgoing,
) -> Attempt {
    let claim = Duration::from_secs(mail_queue::CLAIM as u64);
    let every = Duration::from_secs(mail_queue::RENEW_EVERY);
    let mut held_until = tokio::time::Instant::now() + claim;
    let send = tokio::time::timeout(SEND_TIMEOUT, transport.send(outgoing));
    tokio::pin!(send);
    let mut renew = tokio::time::interval(every);
    renew.tick().await; // the claim was just made
    loop {
        tokio::select! {
            result = &mut send => {
                return match result {
                    Ok(Ok(())) => Attempt::Sent,
                    Ok(Err(e)) => Attempt::Failed(e),
                    Err(_) => Attempt::Failed(Failure::Unreachable(anyhow::anyhow!(
                        "delivery took over {SEND_TIMEOUT:?}"
                    ))),
                };
            }
            _ = renew.tick() => match mail_queue::renew(db, id).await {
                Ok(true) => held_until = tokio::time::Instant::now() + claim,
                Ok(false) => return Attempt::Lost,
                Err(e) if held_until - tokio::time::Instant::now() > every => {
                    tracing::warn!(id, error = %e, "cannot renew the claim on a mail; will retry");
                }
                Err(e) => {
                    tracing::warn!(id, error = %e, "cannot keep the claim on a mail");
                    return Attempt::Lost;
                }
            },
        }
    }
}

/// Deliver every message that is due; returns how many were sent. Safe to run in several
/// processes at once: each message is claimed before it is sent.
pub async fn deliver_due(
    db: &DatabaseConnection,
    config: &MailConfig,
    transport: &Transport,
) -> Result<usize, DbErr> {
    Ok(deliver_until(db, config, transport, || false).await?.sent)
}

/// What one pass over the due messages did.
struct Pass {
    sent: usize,
    /// It stopped because the relay could not be reached.
    unreachable: bool,
}

/// [`deliver_due`], giving up between two messages once `stopping` says so, or once the relay
/// cannot be reached (the next messages would only wait for the same time-out).
async fn deliver_until(
    db: &DatabaseConnection,
    config: &MailConfig,
    transport: &Transport,
    stopping: impl Fn() -> bool,
) -> Result<Pass, DbErr> {
    let mut sent = 0;
    for message in mail_queue::due(db, 50).await? {
        if stopping() {
            break;
        }
        if !mail_queue::claim(db, message.id).await? {
            continue; // another worker has it
        }
        let outgoing = Outgoing {
            message_id: message_id(&message, &config.sender),
            from: config.sender.clone(),
            to: message.recipient.clone(),
            subject: message.subject.clone(),
            text: message.text_body.clone(),
            html: message.html_body.clone(),
            unsubscribe: message.unsubscribe.clone(),
        };
        let id = message.id;
        match send_claimed(db, transport, id, outgoing).await {
            Attempt::Sent => {
                mail_queue::mark_sent(db, id).await?;
                sent += 1;
            }
            Attempt::Failed(Failure::Permanent(e)) => {
                let error = format!("refused for good: {e:#}");
                tracing::warn!(id, %error, "mail delivery given up");
                mail_queue::give_up(db, &message, &error).await?;
            }
            Attempt::Failed(Failure::Transient(e))
                if message.attempts + 1 >= config.max_attempts =>
            {
                let error = format!("given up after {} attempts: {e:#}", message.attempts + 1);
                tracing::warn!(id, %error, "mail delivery given up");
                mail_queue::give_up(db, &message, &error).await?;
            }
            Attempt::Failed(Failure::Transient(e)) => {
                let error = format!("{e:#}");
                tracing::warn!(id, %error, "mail delivery failed; will retry");
                mail_queue::mark_failed(db, &message, &error).await?;
            }
            Attempt::Failed(Failure::Unreachable(e)) => {
                let error = format!("{e:#}");
                tracing::warn!(id, %error, "mail relay unreachable; will retry shortly");
                mail_queue::mark_unreachable(db, &message, &error).await?;
                return Ok(Pass {
                    sent,
                    unreachable: true,
                });
            }
            Attempt::Lost => {
                tracing::warn!(id, "lost the claim on a mail; attempt given up");
            }
        }
    }
    Ok(Pass {
        sent,
        unreachable: false,
    })
}

/// Delete the messages sent or given up more than `RAGTIME_MAIL_RETENTION_DAYS` ago; how many.
pub async fn purge_expired(db: &DatabaseConnection, config: &MailConfig) -> Result<u64, DbErr> {
    let kept = chrono::Duration::days(i64::from(config.retention_days));
    mail_queue::purge(db, chrono::Utc::now() - kept).await
}

/// How often the delivery loop deletes expired messages.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// The longest the loop waits between passes while the relay or the database is out: at most
/// this long after either comes back, delivery resumes.
const OUTAGE_PAUSE_MAX: Duration = Duration::from_secs(10);

/// The delivery loop of the web process and of `ragtime worker`: every 2 seconds, deliver what
/// is due (while the relay or the database is out, every 2, 4, 8, then 10 seconds), and every
/// ten minutes delete expired messages. Returns once `stop` turns true (or its sender is
/// gone), after the message being sent.
pub async fn run_delivery(
    db: DatabaseConnection,
    config: MailConfig,
    transport: Transport,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(2);
    let mut pause = Duration::ZERO; // the first pass at once
    let mut purged_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        if purged_at.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            match purge_expired(&db, &config).await {
                Ok(n) => {
                    purged_at = Some(tokio::time::Instant::now());
                    if n > 0 {
                        tracing::info!(deleted = n, "expired mail deleted");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot delete expired mail"),
            }
        }
        let stopping = || *stop.borrow();
        let out = match deliver_until(&db, &config, &transport, stopping).await {
            Ok(pass) => pass.unreachable,
            Err(e) => {
                tracing::warn!(error = %e, "mail delivery loop");
                true
            }
        };
        pause = if out {
            (pause.max(every) * 2).min(OUTAGE_PAUSE_MAX)
        } else {
            every
        };
    }
}

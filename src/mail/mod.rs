//! Mail: messages rendered from text + HTML templates, queued durably in the database (see
//! `models::mail_queue`) and delivered by a background loop with retries. Transports: the log
//! (development), an in-memory outbox (tests).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use askama::Template;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::config::MailConfig;
use crate::models::mail_queue;

/// A message as it leaves Ragtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where delivered mail goes.
#[derive(Clone)]
pub enum Transport {
    /// Development: write the message to the log.
    Log,
    /// Tests: keep messages in memory to read links out of them.
    Memory(Arc<Mutex<Vec<Outgoing>>>),
}

impl Transport {
    pub fn memory() -> Self {
        Transport::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Everything delivered to an in-memory outbox so far.
    pub fn outbox(&self) -> Vec<Outgoing> {
        match self {
            Transport::Memory(m) => m.lock().map(|v| v.clone()).unwrap_or_default(),
            Transport::Log => Vec::new(),
        }
    }

    async fn send(&self, mail: Outgoing) -> anyhow::Result<()> {
        match self {
            Transport::Log => {
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail (log transport):\n{}", mail.text);
                Ok(())
            }
            Transport::Memory(m) => {
                m.lock()
                    .map_err(|_| anyhow::anyhow!("outbox poisoned"))?
                    .push(mail);
                Ok(())
            }
        }
    }
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
    let subject = format!("{} {}", config.subject_prefix, subject);
    mail_queue::enqueue(db, to, subject.trim(), &body.text, &body.html).await
}

/// Deliver every message that is due; returns how many were sent.
pub async fn deliver_due(
    db: &DatabaseConnection,
    config: &MailConfig,
    transport: &Transport,
) -> Result<usize, DbErr> {
    let mut sent = 0;
    for message in mail_queue::due(db, 50).await? {
        if !mail_queue::claim(db, message.id).await? {
            continue; // another worker has it
        }
        let outgoing = Outgoing {
            from: config.sender.clone(),
            to: message.recipient.clone(),
            subject: message.subject.clone(),
            text: message.text_body.clone(),
            html: message.html_body.clone(),
        };
        match transport.send(outgoing).await {
            Ok(()) => {
                mail_queue::mark_sent(db, message.id).await?;
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(id = message.id, error = %e, "mail delivery failed; will retry");
                mail_queue::mark_failed(db, &message, &e.to_string()).await?;
            }
        }
    }
    Ok(sent)
}

/// The web process's background delivery loop.
pub async fn run_delivery(db: DatabaseConnection, config: MailConfig, transport: Transport) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        if let Err(e) = deliver_due(&db, &config, &transport).await {
            tracing::warn!(error = %e, "mail delivery loop");
        }
    }
}

//! Notification mail: the worker's side of notifications. A notification marked for a mail of
//! its own becomes one message of the durable mail queue; those marked for the digest wait
//! until the oldest is a day old, then go together in one. Each mail carries a signed
//! one-click unsubscribe link (`List-Unsubscribe`, RFC 8058) for what it is about. Runs in the
//! web process and in `ragtime worker`, like mail delivery: each notification's mail is taken
//! by one worker with a conditional update, in the transaction that queues the message.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::watch;

use crate::config::Config;
use crate::crypto::Signer;
use crate::mail;
use crate::models::notification::{self, Group, Item, Kind, Topic};
use crate::models::{begin_write, user};
use crate::templates::notifications::{MailLine, NotificationMailHtml, NotificationMailText};

const UNSUBSCRIBE: &str = "unsubscribe";

/// The unsubscribe token of `topics` for a user: signed, not secret, and never expiring (a
/// link in an old mail still works).
pub fn unsubscribe_token(signer: &Signer, user_id: i32, topics: &[Topic]) -> String {
    let names: Vec<&str> = topics.iter().map(|t| t.name()).collect();
    signer.seal(UNSUBSCRIBE, &format!("{user_id}:{}", names.join(",")))
}

/// Who and what an unsubscribe token names, if its signature holds.
pub fn open_unsubscribe(signer: &Signer, token: &str) -> Option<(i32, Vec<Topic>)> {
    let payload = signer.unseal(UNSUBSCRIBE, token)?;
    let (user, topics) = payload.split_once(':')?;
    let topics: Option<Vec<Topic>> = topics.split(',').map(Topic::from_name).collect();
    Some((user.parse().ok()?, topics.filter(|t| !t.is_empty())?))
}

/// What an unsubscribe link turns off, in words.
pub fn describe(topics: &[Topic]) -> String {
    match topics {
        [one] => one.label().to_owned(),
        _ => {
            let labels: Vec<String> = topics.iter().map(|t| t.label().to_lowercase()).collect();
            format!("the daily digest ({})", labels.join("; "))
        }
    }
}

/// Lines a digest lists; the rest are counted ("and 12 more").
const DIGEST_LINES: usize = 50;

/// Write the mail that is due at `now`: each notification's own, then the digests. Returns
/// how many messages were queued.
pub async fn write_due(
    db: &DatabaseConnection,
    config: &Config,
    signer: &Signer,
    now: chrono::DateTime<Utc>,
) -> Result<usize, DbErr> {
    let mut queued = 0;
    for owed in notification::owed_mail(db, 50).await? {
        let txn = begin_write(db).await?;
        if !notification::take_mail(&txn, owed.id).await? {
            continue; // another worker has it
        }
        if let Some(item) = notification::item(&txn, owed.id).await? {
            let topics = [item.kind.topic()];
            queued += queue(&txn, config, signer, vec![item], &topics, None).await?;
        }
        txn.commit().await?;
    }
    for user_id in notification::digests_due(db, now, 20).await? {
        let txn = begin_write(db).await?;
        let items = notification::take_digest(&txn, user_id).await?;
        if !items.is_empty() {
            let mut topics: Vec<Topic> = items.iter().map(|i| i.kind.topic()).collect();
            topics.sort_by_key(|t| t.name());
            topics.dedup();
            let subject = format!(
                "Your day on Ragtime: {} notification{}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            );
            queued += queue(&txn, config, signer, items, &topics, Some(subject)).await?;
        }
        txn.commit().await?;
    }
    Ok(queued)
}

/// Queue one mail of `items` to their recipient (the same for all), unless the recipient has
/// not confirmed their address: mail goes only where its owner said it may.
async fn queue<C: sea_orm::ConnectionTrait>(
    db: &C,
    config: &Config,
    signer: &Signer,
    items: Vec<Item>,
    topics: &[Topic],
    subject: Option<String>,
) -> Result<usize, DbErr> {
    let Some(first) = items.first() else {
        return Ok(0);
    };
    let Some(recipient) = user::find_by_id(db, first.notification.user_id).await? else {
        return Ok(0);
    };
    if !recipient.confirmed {
        return Ok(0);
    }
    let origin = config.proxies.origin();
    let groups = notification::group(items);
    let lines: Vec<MailLine> = groups
        .iter()
        .take(DIGEST_LINES)
        .map(|g| line(g, &origin))
        .collect();
    let more = groups.len().saturating_sub(DIGEST_LINES);
    let subject = subject.unwrap_or_else(|| lines[0].sentence.clone());
    let unsubscribe = format!(
        "{origin}/unsubscribe/{}",
        unsubscribe_token(signer, recipient.id, topics)
    );
    let settings = format!("{origin}/notifications/settings");
    let topic = &describe(topics);
    let body = mail::render(
        &NotificationMailText {
            username: &recipient.username,
            lines: &lines,
            more,
            settings: &settings,
            unsubscribe: &unsubscribe,
            topic,
        },
        &NotificationMailHtml {
            username: &recipient.username,
            lines: &lines,
            more,
            settings: &settings,
            unsubscribe: &unsubscribe,
            topic,
        },
    )
    .map_err(|e| DbErr::Custom(format!("cannot render a notification mail: {e}")))?;
    mail::queue_with_unsubscribe(
        db,
        &config.mail,
        &recipient.email,
        &subject,
        &body,
        Some(&unsubscribe),
    )
    .await?;
    Ok(1)
}

/// "ann and 2 others liked Blue Train", with an absolute link to where it happened.
fn line(group: &Group, origin: &str) -> MailLine {
    let who = match group.actors.first() {
        Some(actor) if group.others() == 1 => format!("{} and 1 other", actor.username),
        Some(actor) if group.others() > 1 => {
            format!("{} and {} others", actor.username, group.others())
        }
        Some(actor) => actor.username.clone(),
        None => "A moderator".to_owned(),
    };
    let (sentence, link) = match group.target() {
        Some((href, title)) => (format!("{who} {} {title}", group.verb()), href),
        None => {
            let href = match (group.newest.kind, group.actors.first()) {
                (Kind::Follow, Some(actor)) if group.others() == 0 => {
                    format!("/user/{}", actor.username)
                }
                _ => "/notifications".to_owned(),
            };
            (format!("{who} {}", group.verb()), href)
        }
    };
    MailLine {
        sentence,
        link: format!("{origin}{href}", href = link),
    }
}

/// The loop of the web process and of `ragtime worker`: every few seconds, write the mail that
/// is due. Returns once `stop` turns true.
pub async fn run(
    db: DatabaseConnection,
    config: std::sync::Arc<Config>,
    signer: Signer,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        if let Err(e) = write_due(&db, &config, &signer, Utc::now()).await {
            tracing::warn!(error = %e, "notification mail");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsubscribe_token_names_its_user_and_topics_and_cannot_be_forged() {
        let signer = Signer::new(b"key");
        let token = unsubscribe_token(&signer, 7, &[Topic::Likes, Topic::Follows]);
        assert_eq!(
            open_unsubscribe(&signer, &token),
            Some((7, vec![Topic::Likes, Topic::Follows]))
        );
        assert_eq!(open_unsubscribe(&Signer::new(b"other"), &token), None);
        let other_purpose = signer.seal("flash", "7:likes");
        assert_eq!(open_unsubscribe(&signer, &other_purpose), None);
        for payload in ["7:", "x:likes", "7:likes,nothing", "7"] {
            let sealed = signer.seal(UNSUBSCRIBE, payload);
            assert_eq!(open_unsubscribe(&signer, &sealed), None, "{payload}");
        }
    }
}

//! `templates/dev/`: the development-only pages.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::models::mail_queue;
use crate::web::layout::Layout;

/// `/dev/mail`: the mail the site sent, newest first.
#[derive(Template)]
#[template(path = "dev/mail.html")]
pub struct DevMailTemplate {
    pub layout: Layout,
    /// The most messages listed.
    pub shown: u64,
    pub mails: Vec<Mail>,
}

/// One message as the page shows it.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub sent: bool,
    /// The text body in pieces: plain text, and the web addresses in it, made links.
    pub body: Vec<Piece>,
}

/// A piece of a text body: text, or a web address (`href` set) shown as a link.
pub struct Piece {
    pub text: String,
    pub href: Option<String>,
}

impl From<mail_queue::Model> for Mail {
    fn from(m: mail_queue::Model) -> Self {
        Mail {
            body: pieces(&m.text_body),
            to: m.recipient,
            subject: m.subject,
            created_at: m.created_at,
            sent: m.sent_at.is_some(),
        }
    }
}

/// `text` cut into plain pieces and http(s) addresses (the template escapes both).
fn pieces(text: &str) -> Vec<Piece> {
    let mut finder = linkify::LinkFinder::new();
    finder.kinds(&[linkify::LinkKind::Url]);
    finder
        .spans(text)
        .map(|span| {
            let s = span.as_str();
            let web = span.kind().is_some()
                && ["http://", "https://"].iter().any(|scheme| {
                    s.get(..scheme.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
                });
            Piece {
                text: s.to_owned(),
                href: web.then(|| s.to_owned()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn only_web_addresses_become_links() {
        let found = pieces(
            "Confirm: http://localhost/auth/confirm/a.b?x=1&y=<2> or ftp://x.y/z, mailto:a@b.c",
        );
        let links: Vec<_> = found.iter().filter_map(|p| p.href.as_deref()).collect();
        assert_eq!(links, ["http://localhost/auth/confirm/a.b?x=1&y="]);
        let all: String = found.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            all,
            "Confirm: http://localhost/auth/confirm/a.b?x=1&y=<2> or ftp://x.y/z, mailto:a@b.c"
        );
    }
}

//! `templates/notifications/`: the notifications page, the mail settings, the unsubscribe
//! page, and the notification mails (one of their own, or the daily digest).

use askama::Template;

use crate::models::notification::{Delivery, Group, Settings, Topic};
use crate::web::layout::Layout;
use crate::web::pagination::Pagination;

#[derive(Template)]
#[template(path = "notifications/index.html")]
pub struct NotificationsTemplate {
    pub layout: Layout,
    pub groups: Vec<Group>,
    pub unread_only: bool,
    pub pagination: Pagination,
}

#[derive(Template)]
#[template(path = "notifications/settings.html")]
pub struct SettingsTemplate {
    pub layout: Layout,
    pub settings: Settings,
}

impl SettingsTemplate {
    pub fn topics(&self) -> [Topic; 5] {
        Topic::ALL
    }

    pub fn choices(&self) -> [Delivery; 3] {
        Delivery::ALL
    }

    pub fn choice_label(&self, delivery: &Delivery) -> &'static str {
        match delivery {
            Delivery::Off => "No email",
            Delivery::Each => "An email each time",
            Delivery::Digest => "A daily digest",
        }
    }
}

#[derive(Template)]
#[template(path = "notifications/unsubscribe.html")]
pub struct UnsubscribeTemplate {
    pub layout: Layout,
    /// What the link turns off, in words.
    pub topic: String,
    pub done: bool,
}

/// One notification, or a digest of several, as mail: every line an absolute link.
pub struct MailLine {
    pub sentence: String,
    pub link: String,
}

#[derive(Template)]
#[template(path = "notifications/mail.txt")]
pub struct NotificationMailText<'a> {
    pub username: &'a str,
    pub lines: &'a [MailLine],
    pub more: usize,
    pub settings: &'a str,
    pub unsubscribe: &'a str,
    pub topic: &'a str,
}

#[derive(Template)]
#[template(path = "notifications/mail.html")]
pub struct NotificationMailHtml<'a> {
    pub username: &'a str,
    pub lines: &'a [MailLine],
    pub more: usize,
    pub settings: &'a str,
    pub unsubscribe: &'a str,
    pub topic: &'a str,
}

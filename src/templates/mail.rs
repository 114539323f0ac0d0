//! `templates/mail/`: every mail the site sends, each with a text and an HTML part.

use askama::Template;

use crate::mail;

/// The mails that greet a user and carry one link (text and HTML parts of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMail {
    Confirm,
    ResetPassword,
    ChangeEmail,
    Welcome,
}

macro_rules! link_mail_templates {
    ($($text:ident $html:ident $text_path:literal $html_path:literal;)*) => {$(
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            username: &'a str,
            link: &'a str,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            username: &'a str,
            link: &'a str,
        }
    )*};
}

link_mail_templates! {
    ConfirmText ConfirmHtml "mail/confirm.txt" "mail/confirm.html";
    ResetText ResetHtml "mail/reset_password.txt" "mail/reset_password.html";
    ChangeEmailText ChangeEmailHtml "mail/change_email.txt" "mail/change_email.html";
    WelcomeText WelcomeHtml "mail/welcome.txt" "mail/welcome.html";
}

impl LinkMail {
    pub fn subject(self) -> &'static str {
        match self {
            LinkMail::Confirm => "Confirm Your Account",
            LinkMail::ResetPassword => "Reset Your Password",
            LinkMail::ChangeEmail => "Confirm your email address",
            LinkMail::Welcome => "Welcome to Ragtime",
        }
    }

    pub fn render(self, username: &str, link: &str) -> Result<mail::Rendered, askama::Error> {
        match self {
            LinkMail::Confirm => mail::render(
                &ConfirmText { username, link },
                &ConfirmHtml { username, link },
            ),
            LinkMail::ResetPassword => {
                mail::render(&ResetText { username, link }, &ResetHtml { username, link })
            }
            LinkMail::ChangeEmail => mail::render(
                &ChangeEmailText { username, link },
                &ChangeEmailHtml { username, link },
            ),
            LinkMail::Welcome => mail::render(
                &WelcomeText { username, link },
                &WelcomeHtml { username, link },
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/new_user.txt")]
pub struct NewUserText<'a> {
    pub username: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "mail/new_user.html")]
pub struct NewUserHtml<'a> {
    pub username: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "mail/error.txt")]
pub struct ErrorMailText<'a> {
    pub context: &'a str,
    pub detail: &'a str,
}

#[derive(Template)]
#[template(path = "mail/error.html")]
pub struct ErrorMailHtml<'a> {
    pub context: &'a str,
    pub detail: &'a str,
}

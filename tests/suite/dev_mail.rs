//! `/dev/mail`: in development, the mail the site sent, with its links clickable; nowhere
//! else.

use crate::helpers::{TestApp, register};
use axum::http::StatusCode;

#[tokio::test]
async fn in_development_the_mail_page_lists_the_confirmation_mail_with_its_link() {
    let app = TestApp::with_env(&[("RAGTIME_CONFIG", "development")]).await;
    let mut client = app.client();
    let empty = client.get("/dev/mail").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains("No mail yet."), "{}", empty.body);

    let res = register(&mut client, "ann@example.com", "ann").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let check_mail = client.get("/auth/unconfirmed").await.body;
    assert!(check_mail.contains("read it at /dev/mail"), "{check_mail}");
    assert!(
        check_mail.contains(r#"<a href="/dev/mail">"#),
        "footer link: {check_mail}"
    );
    app.settle().await;

    let page = client.get("/dev/mail").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches("<h1").count(), 1);
    let mails = app.deliver_mail().await;
    let link = mails
        .iter()
        .find(|m| m.to == "ann@example.com")
        .and_then(|m| {
            m.text
                .split_whitespace()
                .find(|w| w.contains("/auth/confirm/"))
        })
        .expect("a confirmation link")
        .to_owned();
    assert!(page.body.contains("ann@example.com"), "{}", page.body);
    assert!(page.body.contains("Confirm Your Account"), "{}", page.body);
    // The link is a link, written as the mail has it.
    assert!(
        page.body
            .contains(&format!(r#"<a href="{link}">{link}</a>"#)),
        "{link} not linked in {}",
        page.body
    );
    // Delivered mail stays listed, marked so, newest first.
    let after = client.get("/dev/mail").await.body;
    assert!(after.contains("delivered"), "{after}");

    // Registering logged ann in; before confirming she reads the site and this page.
    assert!(client.get("/").await.body.contains("Hello, ann!"));
    assert_eq!(client.get("/dev/mail").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_mail_page_is_not_served_outside_development() {
    for config in ["testing", "production"] {
        let app = TestApp::with_env(&[("RAGTIME_CONFIG", config)]).await;
        let mut client = app.client();
        register(&mut client, "ann@example.com", "ann").await;
        let res = client.get("/dev/mail").await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{config}");
        assert!(!res.body.contains("ann@example.com"), "{config}");
        let login = client.get("/auth/login").await.body;
        assert!(!login.contains("/dev/mail"), "{config}: {login}");
    }
}

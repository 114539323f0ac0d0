//! Rate limits on the account pages: 429 with `Retry-After`, per account and per client
//! address, kept in the database so a second web process enforces them too.

use crate::helpers::{PASSWORD, TestApp, login, register};
use axum::http::StatusCode;

#[tokio::test]
async fn too_many_failed_logins_get_429_on_this_and_on_another_process() {
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "3")]).await;
    app.create_user_with_password("ann").await;
    let mut client = app.client();
    for _ in 0..3 {
        let res = login(&mut client, "ann@example.com", "wrong password", "").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = login(&mut client, "ann@example.com", "wrong password", "").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.body.contains("Too many attempts"), "{}", res.body);
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "Retry-After: {retry}");

    // The next request lands on another dyno; even the right password is refused there, and
    // the account's other address casing counts as the same account.
    let mut elsewhere = app.another_process().await;
    let res = login(&mut elsewhere, "ANN@example.com", PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_successful_login_forgives_earlier_failures() {
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "3")]).await;
    app.create_user_with_password("ann").await;
    let mut client = app.client();
    for _ in 0..2 {
        login(&mut client, "ann@example.com", "wrong password", "").await;
    }
    let res = login(&mut client, "ann@example.com", PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let mut other = app.client();
    for _ in 0..3 {
        let res = login(&mut other, "ann@example.com", "wrong password", "").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn one_address_trying_many_accounts_is_limited_but_others_are_not() {
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ADDRESS", "3")]).await;
    let mut client = app.client();
    for i in 0..3 {
        let res = login(&mut client, &format!("u{i}@example.com"), "guess", "").await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = login(&mut client, "u9@example.com", "guess", "").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);

    let mut neighbour = app.client();
    neighbour.peer = "192.0.2.8:40000".parse().unwrap();
    let res = login(&mut neighbour, "u9@example.com", "guess", "").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn registrations_from_one_address_are_limited_and_the_429_is_a_page() {
    let app = TestApp::with_env(&[("RAGTIME_MAIL_LIMIT_PER_ADDRESS", "2")]).await;
    let mut client = app.client();
    for name in ["ann", "bob"] {
        let res = register(&mut client, &format!("{name}@example.com"), name).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
    }
    let res = register(&mut client, "cat@example.com", "cat").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.body.contains("Too many attempts"));
    assert!(res.header("retry-after").is_some());
    let stored = ragtime::models::user::find_by_email(&app.db, "cat@example.com")
        .await
        .unwrap();
    assert!(stored.is_none(), "nothing is saved when the limit refuses");
}

#[tokio::test]
async fn resending_the_confirmation_is_limited_per_account() {
    let app = TestApp::with_env(&[("RAGTIME_MAIL_LIMIT_PER_ACCOUNT", "2")]).await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "ann").await;
    login(&mut client, "ann@example.com", PASSWORD, "").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let token = client.get("/auth/unconfirmed").await.csrf_token();
        let res = client
            .post_form("/auth/confirm", &[("csrf_token", &token)])
            .await;
        statuses.push(res.status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let mails = app.deliver_mail().await;
    assert_eq!(mails.len(), 3, "the registration mail and two resends");
}

#[tokio::test]
async fn password_reset_requests_are_limited_per_account() {
    let app = TestApp::with_env(&[("RAGTIME_MAIL_LIMIT_PER_ACCOUNT", "2")]).await;
    app.create_user_with_password("ann").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        // A fresh visitor each time: the limit is on the account, not on the browser.
        let mut client = app.client();
        let token = client.get("/auth/reset").await.csrf_token();
        let res = client
            .post_form(
                "/auth/reset",
                &[("csrf_token", &token), ("email", "ann@example.com")],
            )
            .await;
        statuses.push(res.status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(app.deliver_mail().await.len(), 2);
}

#[tokio::test]
async fn guesses_sent_at_the_same_moment_cannot_exceed_the_limit() {
    use axum::body::Body;
    use axum::http::{Method, header};
    use base64::Engine;
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "3")]).await;
    app.create_user_with_password("ann").await;
    let basic = |password: &str| {
        let pair = format!("ann@example.com:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    // Thirty requests in flight together, the right password last. Each attempt is counted
    // before its password is checked, so only the first three are checked at all; had they
    // been counted after the check, all thirty would be checked and the last would get in.
    let mut passwords = vec!["a guess"; 29];
    passwords.push(PASSWORD);
    let attempts = passwords.into_iter().map(|password| {
        let mut client = app.client();
        let req = client
            .request(Method::GET, "/api/v1/users/1")
            .header(header::AUTHORIZATION, basic(password))
            .body(Body::empty())
            .unwrap();
        async move { client.send(req).await.status }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(checked, 3, "{statuses:?}");
    assert_eq!(statuses[29], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn guessing_the_current_password_on_the_account_pages_is_limited_too() {
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "2")]).await;
    let ann = app.create_user_with_password("ann").await;
    let mut client = app.logged_in_client(&ann).await;
    let mut change = async |old: &str| {
        let token = client.get("/auth/change-password").await.csrf_token();
        client
            .post_form(
                "/auth/change-password",
                &[
                    ("csrf_token", &token),
                    ("old_password", old),
                    ("password", "a brand new password"),
                    ("password2", "a brand new password"),
                ],
            )
            .await
            .status
    };
    assert_eq!(change("guess one").await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(change("guess two").await, StatusCode::UNPROCESSABLE_ENTITY);
    // Even the right password now waits for the window to pass.
    assert_eq!(change(PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_address_that_used_up_its_attempts_cannot_lock_other_accounts_out() {
    let app = TestApp::with_env(&[
        ("RAGTIME_LOGIN_LIMIT_PER_ADDRESS", "3"),
        ("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "3"),
    ])
    .await;
    app.create_user_with_password("ann").await;
    let mut attacker = app.client();
    for i in 0..3 {
        login(&mut attacker, &format!("u{i}@example.com"), "guess", "").await;
    }
    // Refused at the address, these are not counted against Ann's account.
    for _ in 0..5 {
        let res = login(&mut attacker, "ann@example.com", "guess", "").await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let mut ann = app.client();
    ann.peer = "192.0.2.8:40000".parse().unwrap();
    let res = login(&mut ann, "ann@example.com", PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "Ann logs in from home");
}

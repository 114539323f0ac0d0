//! Accounts through HTTP with CSRF on: register (logged in at once), confirm by the mailed link
//! in any browser, log in and out, validation, safe `next`, the "check your mail" page, the
//! admin rule, legacy password hashes. What an unconfirmed account may do is in `unconfirmed`.

use crate::helpers::{PASSWORD, TestApp, login, register, werkzeug_hash};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::models::{follow, user};
use sea_orm::EntityTrait;

#[tokio::test]
async fn the_whole_journey_register_confirm_logout_login() {
    let app = TestApp::new().await;
    let mut client = app.client();

    // Registering logs in, on the "check your mail" page.
    let res = register(&mut client, "Ann@Example.com", "ann").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/auth/unconfirmed"));
    let check_mail = client.get("/auth/unconfirmed").await;
    assert_eq!(check_mail.status, StatusCode::OK);
    assert!(
        check_mail
            .body
            .contains("A confirmation email has been sent to you.")
    );
    assert!(check_mail.body.contains("Check your mail"));
    assert!(check_mail.body.contains("ann@example.com"), "where it went");

    let stored = user::find_by_email(&app.db, "ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email, "ann@example.com", "stored lower-cased");
    assert!(!stored.confirmed);
    assert!(stored.password_hash.starts_with("$argon2id$"));
    let follows = follow::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(
        follows.len(),
        1,
        "a new user follows themself from the start"
    );

    let mails = app.deliver_mail().await;
    let mail = mails.iter().find(|m| m.to == "ann@example.com").unwrap();
    assert_eq!(mail.subject, "[Ragtime] Confirm Your Account");
    assert!(mail.html.contains("/auth/confirm/"));

    // Logged in, unconfirmed: the site is there to read, the publish form is not yet.
    let home = client.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Hello, ann!"));
    assert!(home.body.contains("Confirm your account to publish"));

    // The link, in the same browser: no login asked for, home with the news.
    let res = client
        .get(&crate::helpers::link_path(&mails, "ann@example.com"))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/"));
    let home = client.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body
            .contains("You have confirmed your account. Thanks!")
    );
    assert!(home.body.contains("Hello, ann!"));

    let token = home.csrf_token();
    client
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    assert!(client.get("/").await.body.contains("Welcome to Ragtime"));

    let res = login(&mut client, "ANN@example.com", PASSWORD, "").await;
    assert_eq!(res.header("location"), Some("/"));
    assert!(client.get("/").await.body.contains("Hello, ann!"));
}

#[tokio::test]
async fn the_link_in_a_logged_out_browser_confirms_and_asks_to_log_in_with_the_address_filled_in() {
    let app = TestApp::new().await;
    register(&mut app.client(), "ann@example.com", "ann").await;
    let mails = app.deliver_mail().await;
    let link = crate::helpers::link_path(&mails, "ann@example.com");

    // Another browser (the phone the mail was read on): never logged in.
    let mut phone = app.client();
    let page = phone.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("You have confirmed your account. Thanks!")
    );
    assert!(
        page.body.contains(r#"action="/auth/login""#),
        "the login form"
    );
    assert!(
        page.body.contains(r#"value="ann@example.com""#),
        "the address filled in: {}",
        page.body
    );
    assert!(
        user::find_by_email(&app.db, "ann@example.com")
            .await
            .unwrap()
            .unwrap()
            .confirmed
    );
    let welcomes = || async {
        let mails = app.deliver_mail().await;
        mails
            .iter()
            .filter(|m| m.to == "ann@example.com" && m.subject == "[Ragtime] Welcome to Ragtime")
            .count()
    };
    assert_eq!(welcomes().await, 1);

    // The form logs in, confirmed, and home shows the publish form.
    let res = login(&mut phone, "ann@example.com", PASSWORD, "").await;
    assert_eq!(res.header("location"), Some("/"));
    assert!(phone.get("/").await.body.contains("Publish a composition"));

    // A second click (or a reload) says so, and sends no second welcome.
    let mut laptop = app.client();
    let again = laptop.get(&link).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("Your account is already confirmed."));
    assert!(again.body.contains(r#"value="ann@example.com""#));
    assert_eq!(welcomes().await, 1, "no second welcome");
}

#[tokio::test]
async fn a_confirmation_link_cannot_be_tampered_with_or_used_by_someone_else() {
    let app = TestApp::new().await;
    let mut ann = app.client();
    register(&mut ann, "ann@example.com", "ann").await;
    let mut bob = app.client();
    register(&mut bob, "bob@example.com", "bob").await;
    let mails = app.deliver_mail().await;
    let anns_link = crate::helpers::link_path(&mails, "ann@example.com");
    let confirmed = |email: &'static str| {
        let db = app.db.clone();
        async move {
            user::find_by_email(&db, email)
                .await
                .unwrap()
                .unwrap()
                .confirmed
        }
    };

    // A tampered link confirms nobody, in any browser.
    let mut tampered = anns_link.clone();
    tampered.insert(tampered.len() - 3, 'x');
    let res = ann.get(&tampered).await;
    assert_eq!(res.header("location"), Some("/auth/unconfirmed"));
    let res = app.client().get(&tampered).await;
    assert_eq!(
        res.header("location"),
        Some("/auth/login?next=%2Fauth%2Funconfirmed"),
        "logged out: log in to ask for a new one"
    );
    assert!(!confirmed("ann@example.com").await);

    // Ann's link opened in Bob's browser confirms Ann, never Bob.
    let res = bob.get(&anns_link).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains(r#"value="ann@example.com""#));
    assert!(confirmed("ann@example.com").await);
    assert!(!confirmed("bob@example.com").await);
}

#[tokio::test]
async fn each_registration_rule_shows_its_message_and_keeps_the_input() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let token = client.get("/auth/register").await.csrf_token();
    let res = client
        .post_form(
            "/auth/register",
            &[
                ("csrf_token", &token),
                ("email", "not-an-email"),
                ("username", "9lives"),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("Invalid email address."));
    assert!(res.body.contains("Usernames must start with a letter"));
    assert!(
        res.body
            .contains("Passwords must be at least 8 characters long.")
    );
    assert!(res.body.contains(r#"value="not-an-email""#), "input kept");
    assert!(res.body.contains(r#"value="9lives""#));
    assert!(
        !res.body.contains(r#"value="short""#),
        "passwords are never echoed"
    );

    let res = client
        .post_form(
            "/auth/register",
            &[
                ("csrf_token", &token),
                ("email", "ann@example.com"),
                ("username", "ann"),
                ("password", PASSWORD),
                ("password2", "something else"),
            ],
        )
        .await;
    assert!(res.body.contains("Passwords must match."));
    assert_eq!(
        user::Entity::find().all(&app.db).await.unwrap().len(),
        0,
        "nothing saved"
    );
}

#[tokio::test]
async fn every_registration_field_rule_has_its_message_next_to_the_field() {
    // Every attempt counts against the registration limits; this test is not about them.
    let app = TestApp::with_env(&[
        ("RAGTIME_MAIL_LIMIT_PER_ADDRESS", "1000"),
        ("RAGTIME_MAIL_LIMIT_PER_ACCOUNT", "1000"),
    ])
    .await;
    let mut client = app.client();
    let long_email = format!("{}@example.com", "a".repeat(60));
    let long_name = "a".repeat(65);
    let long_password = "p".repeat(257);
    // (field, value, message): every other field valid.
    let cases = [
        ("email", "", "This field is required."),
        (
            "email",
            long_email.as_str(),
            "Field must be between 1 and 64 characters long.",
        ),
        ("email", "ann@example", "Invalid email address."),
        ("email", "a,b@example.com", "Invalid email address."),
        ("username", "", "This field is required."),
        (
            "username",
            long_name.as_str(),
            "Field must be between 1 and 64 characters long.",
        ),
        ("username", "ann lee", "Usernames must start with a letter"),
        ("username", "_ann", "Usernames must start with a letter"),
        (
            "password",
            "",
            "Passwords must be at least 8 characters long.",
        ),
        (
            "password",
            long_password.as_str(),
            "Passwords must be at most 256 characters long.",
        ),
        (
            "password",
            "tab\tin the password",
            "Passwords cannot contain control characters.",
        ),
    ];
    for (field, value, message) in cases {
        let token = client.get("/auth/register").await.csrf_token();
        let mut fields = vec![
            ("csrf_token", token.as_str()),
            ("email", "ann@example.com"),
            ("username", "ann"),
            ("password", PASSWORD),
            ("password2", PASSWORD),
        ];
        for f in fields.iter_mut().filter(|(name, _)| *name == field) {
            f.1 = value;
        }
        if field == "password" {
            fields[4].1 = value;
        }
        let res = client.post_form("/auth/register", &fields).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value:?}"
        );
        // The message sits in the field's own error slot.
        let slot = format!(r#"id="{field}-error""#);
        let at = res
            .body
            .find(&slot)
            .unwrap_or_else(|| panic!("{slot} for {value:?}"));
        let near = &res.body[at..(at + 300).min(res.body.len())];
        assert!(near.contains(message), "{field}={value:?}: {near}");
    }
    assert!(user::Entity::find().all(&app.db).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_hostile_username_is_refused_and_escaped_when_shown_back() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let res = register(&mut client, "ann@example.com", "<script>alert(1)</script>").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!res.body.contains("<script>alert(1)</script>"));
    // Kept in the field, escaped (askama writes numeric entities).
    assert!(
        res.body.contains("&#60;script&#62;") || res.body.contains("&lt;script&gt;"),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn duplicate_email_or_username_in_another_case_is_refused() {
    let app = TestApp::new().await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "Ann").await;
    let res = register(&mut client, "ANN@EXAMPLE.COM", "someone").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("Email already registered."));
    let res = register(&mut client, "other@example.com", "aNN").await;
    assert!(res.body.contains("Username already in use."));
    assert_eq!(user::Entity::find().all(&app.db).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failed_login_says_the_same_whether_or_not_the_email_exists() {
    let app = TestApp::new().await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "ann").await;
    let wrong_password = login(&mut client, "ann@example.com", "wrong password", "").await;
    let no_account = login(&mut client, "nobody@example.com", "wrong password", "").await;
    assert_eq!(wrong_password.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_account.status, StatusCode::UNPROCESSABLE_ENTITY);
    for res in [&wrong_password, &no_account] {
        assert!(res.body.contains("Invalid email or password."));
    }
}

#[tokio::test]
async fn next_is_followed_only_to_local_paths() {
    let app = TestApp::new().await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "ann").await;
    for (next, expected) in [
        ("/auth/unconfirmed", "/auth/unconfirmed"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
    ] {
        let mut c = app.client();
        let res = login(&mut c, "ann@example.com", PASSWORD, next).await;
        assert_eq!(res.header("location"), Some(expected), "next={next}");
    }
}

#[tokio::test]
async fn login_starts_a_new_session_so_an_earlier_token_is_useless() {
    let app = TestApp::new().await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "ann").await;
    let before = client.cookies.get("ragtime_session").cloned().unwrap();
    let old_csrf = client.get("/auth/login").await.csrf_token();
    login(&mut client, "ann@example.com", PASSWORD, "").await;
    let after = client.cookies.get("ragtime_session").cloned().unwrap();
    assert_ne!(before, after);
    let res = client
        .post_form("/auth/logout", &[("csrf_token", &old_csrf)])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn keep_me_logged_in_makes_a_persistent_cookie() {
    let app = TestApp::new().await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "ann").await;
    let token = client.get("/auth/login").await.csrf_token();
    let res = client
        .post_form(
            "/auth/login",
            &[
                ("csrf_token", &token),
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("remember_me", "y"),
            ],
        )
        .await;
    let cookie = res.header("set-cookie").unwrap();
    assert!(cookie.contains("Max-Age=2592000"), "{cookie}");
    let res = login(&mut app.client(), "ann@example.com", PASSWORD, "").await;
    assert!(!res.header("set-cookie").unwrap().contains("Max-Age"));
}

#[tokio::test]
async fn the_admin_address_becomes_administrator_in_any_case() {
    let app = TestApp::with_env(&[("RAGTIME_ADMIN", "Boss@Example.com")]).await;
    let mut client = app.client();
    register(&mut client, "boss@example.COM", "boss").await;
    register(&mut client, "ann@example.com", "ann").await;
    let roles = ragtime::models::role::all(&app.db).await.unwrap();
    let role_of = |email: &str| {
        let email = email.to_owned();
        let db = app.db.clone();
        let roles = roles.clone();
        async move {
            let u = user::find_by_email(&db, &email).await.unwrap().unwrap();
            roles
                .iter()
                .find(|r| r.id == u.role_id)
                .unwrap()
                .name
                .clone()
        }
    };
    assert_eq!(role_of("boss@example.com").await, "Administrator");
    assert_eq!(role_of("ann@example.com").await, "User");
    let mails = app.deliver_mail().await;
    assert!(mails.iter().any(|m| m.to == "boss@example.com"
        && m.subject == "[Ragtime] New User"
        && m.text.contains("ann")));
}

#[tokio::test]
async fn a_werkzeug_pbkdf2_hash_logs_in_and_is_rehashed() {
    let app = TestApp::new().await;
    let account = app.create_user("ann").await;
    let hash = werkzeug_hash(PASSWORD, "Yz8hq2Lk", 1000);
    user::set_password_hash(&app.db, account.id, &hash)
        .await
        .unwrap();

    let mut client = app.client();
    let res = login(&mut client, "ann@example.com", PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(client.get("/").await.body.contains("Hello, ann!"));
    let rehashed = user::find_by_id(&app.db, account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(rehashed.password_hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn login_required_pages_send_anonymous_visitors_to_login_with_next() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let res = client.post_form("/auth/confirm", &[]).await;
    // No session cookie yet: the CSRF layer refuses before anything else.
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // A link that opens nothing: log in, then ask for a new one.
    let res = client.get("/auth/confirm/some-token").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.header("location"),
        Some("/auth/login?next=%2Fauth%2Funconfirmed")
    );
}

#[tokio::test]
async fn the_unconfirmed_page_can_send_the_link_again() {
    let app = TestApp::new().await;
    let mut client = app.client();
    register(&mut client, "ann@example.com", "ann").await;
    login(&mut client, "ann@example.com", PASSWORD, "").await;
    let token = client.get("/auth/unconfirmed").await.csrf_token();
    let res = client
        .post_form("/auth/confirm", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let mails = app.deliver_mail().await;
    assert_eq!(
        mails.iter().filter(|m| m.to == "ann@example.com").count(),
        2
    );
}

/// Register ann through a request carrying `headers` (as a proxy would pass it on); the text
/// of the confirmation mail.
async fn confirmation_mail_via(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut client = app.client();
    let token = client.get("/auth/register").await.csrf_token();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf_token", token.as_str()),
            ("email", "ann@example.com"),
            ("username", "ann"),
            ("password", PASSWORD),
            ("password2", PASSWORD),
        ])
        .finish();
    let mut req = client
        .request(Method::POST, "/auth/register")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = client.send(req.body(Body::from(body)).unwrap()).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let mails = app.deliver_mail().await;
    mails[0].text.clone()
}

#[tokio::test]
async fn mailed_links_are_absolute_https_behind_the_platform_router() {
    // The heroku configuration's proxy settings.
    let app = TestApp::with_env(&[
        ("RAGTIME_PROXY_HOPS", "1"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
    ])
    .await;
    // A request as Heroku's router passes it on: the Host it routed by, the scheme it was
    // received over; and an X-Forwarded-Host the client made up, which the router leaves be.
    let text = confirmation_mail_via(
        &app,
        &[
            ("host", "ragtime.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-host", "evil.example"),
        ],
    )
    .await;
    assert!(
        text.contains("https://ragtime.example/auth/confirm/"),
        "{text}"
    );
    assert!(!text.contains("evil.example"), "{text}");
}

#[tokio::test]
async fn a_reset_link_never_takes_the_host_of_the_request() {
    // The attack: a reset requested for the victim with a Host (or a forwarded host) of the
    // attacker's, hoping the mailed link carries the token there.
    for (host, forwarded) in [
        ("evil.example", None),
        ("ragtime.example", Some("evil.example")),
    ] {
        let app = TestApp::with_env(&[
            ("RAGTIME_PROXY_HOPS", "1"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ])
        .await;
        app.create_user("ann").await;
        let mut client = app.client();
        let token = client.get("/auth/reset").await.csrf_token();
        let mut req = client
            .request(Method::POST, "/auth/reset")
            .header("host", host)
            .header("x-forwarded-proto", "https")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(forwarded) = forwarded {
            req = req.header("x-forwarded-host", forwarded);
        }
        let body = format!("csrf_token={token}&email=ann%40example.com");
        let res = client.send(req.body(Body::from(body)).unwrap()).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        let mails = app.deliver_mail().await;
        let mail = mails.iter().find(|m| m.subject.contains("Reset")).unwrap();
        assert!(
            mail.text.contains("https://ragtime.example/auth/reset/"),
            "{}",
            mail.text
        );
        assert!(!mail.text.contains("evil.example"), "{}", mail.text);
    }
}

#[tokio::test]
async fn a_configured_server_name_is_the_host_of_mailed_links_whatever_the_request_says() {
    let app = TestApp::with_env(&[
        ("RAGTIME_PROXY_HOPS", "1"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
    ])
    .await;
    let text = confirmation_mail_via(
        &app,
        &[
            ("host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-port", "8443"),
        ],
    )
    .await;
    assert!(
        text.contains("https://ragtime.example/auth/confirm/"),
        "{text}"
    );
    assert!(!text.contains("evil.example"), "{text}");
}

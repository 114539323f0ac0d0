//! Production mails unexpected errors to the administrator, one mail per kind of error per few
//! minutes; other configurations do not.

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use sea_orm::ConnectionTrait;

/// Break the database under the app: every logged-in request now fails with a 500.
async fn break_sessions(app: &TestApp) -> crate::helpers::Client {
    let account = app.create_user("ann").await;
    let client = app.logged_in_client(&account).await;
    app.db
        .execute_unprepared("DROP TABLE sessions")
        .await
        .unwrap();
    client
}

#[tokio::test]
async fn production_mails_a_500_to_the_admin_once_per_kind() {
    let app = TestApp::with_env(&[
        ("RAGTIME_CONFIG", "production"),
        ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ("RAGTIME_ADMIN", "boss@example.com"),
    ])
    .await;
    let mut client = break_sessions(&app).await;
    for _ in 0..3 {
        let res = client.get("/").await;
        assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!res.body.contains("sessions"), "no detail for the client");
    }
    let mails = app.deliver_mail().await;
    assert_eq!(mails.len(), 1, "throttled: {mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.to, "boss@example.com");
    assert!(
        mail.subject.starts_with("[Ragtime] Error: "),
        "{}",
        mail.subject
    );
    assert!(mail.text.contains("GET"), "{}", mail.text);
    assert!(mail.text.contains("sessions"), "the cause: {}", mail.text);
}

#[tokio::test]
async fn other_configurations_only_log_errors() {
    let app = TestApp::with_env(&[("RAGTIME_ADMIN", "boss@example.com")]).await;
    let mut client = break_sessions(&app).await;
    assert_eq!(
        client.get("/").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert!(app.deliver_mail().await.is_empty());
}

#[tokio::test]
async fn the_error_mail_names_the_route_and_the_request_id() {
    let app = TestApp::with_env(&[
        ("RAGTIME_CONFIG", "production"),
        ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ("RAGTIME_ADMIN", "boss@example.com"),
    ])
    .await;
    let mut client = break_sessions(&app).await;
    // Heroku's router's id, which the request log keeps.
    let id = "f9ed4675-f4c6-4b4b-8b1f-2b2b3b4b5b6b";
    let req = client
        .request(Method::GET, "/user/ann")
        .header("x-request-id", id)
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.header("x-request-id"), Some(id));
    let mails = app.deliver_mail().await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    // The pattern, never the path itself (paths can carry tokens).
    let context = format!("GET /user/{{username}} (request id {id})");
    assert!(mails[0].text.contains(&context), "{}", mails[0].text);
    assert!(mails[0].html.contains(&context), "{}", mails[0].html);
}

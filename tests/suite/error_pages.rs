//! Every error status the site uses renders in the layout for browsers and as
//! `{"error", "message"}` for JSON clients; internal details never reach the client.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use ragtime::error::AppError;
use ragtime::views::errors::error_pages;
use tower::ServiceExt;

use crate::helpers::TestApp;

/// The error a handler returns for each status the site uses (405 comes from the router).
fn error_for(code: u16) -> AppError {
    match code {
        400 => AppError::BadRequest("The request could not be read.".into()),
        403 => AppError::Forbidden(None),
        404 => AppError::NotFound(None),
        413 => AppError::TooLarge,
        429 => AppError::TooMany { retry_after: 30 },
        _ => AppError::Internal(anyhow::anyhow!("connection to db-internal-7 refused")),
    }
}

async fn app() -> Router {
    let app = TestApp::new().await;
    Router::new()
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move { error_for(code) }).post(|| async { "" }),
        )
        .route(
            "/broken",
            get(|| async {
                Err::<(), AppError>(anyhow::anyhow!("connection to db-internal-7 refused").into())
            }),
        )
        .layer(from_fn_with_state(app.state.clone(), error_pages))
}

async fn get_with_accept(path: &str, accept: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(if path.ends_with("/405") { "PUT" } else { "GET" })
        .uri(path)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap();
    let res = app().await.oneshot(req).await.unwrap();
    let status = res.status();
    let content_type = res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn each_error_status_renders_in_the_layout_and_as_json() {
    for code in [400u16, 403, 404, 405, 413, 429, 500] {
        let status = StatusCode::from_u16(code).unwrap();
        let (got, content_type, body) =
            get_with_accept(&format!("/status/{code}"), "text/html").await;
        assert_eq!(got, status);
        assert!(
            content_type.starts_with("text/html"),
            "{code}: {content_type}"
        );
        assert!(
            body.contains(&format!(r#"<p class="error-code">{code}</p>"#)),
            "{body}"
        );
        assert!(body.contains(status.canonical_reason().unwrap()), "{code}");
        assert!(
            body.contains(r#"<a class="brand" href="/">Ragtime</a>"#),
            "{code}: layout"
        );

        let (got, content_type, body) =
            get_with_accept(&format!("/status/{code}"), "application/json").await;
        assert_eq!(got, status);
        assert_eq!(content_type, "application/json");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json["error"],
            status.canonical_reason().unwrap().to_ascii_lowercase()
        );
        assert!(!json["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn an_internal_error_is_a_generic_500_that_reveals_nothing() {
    let (status, _, body) = get_with_accept("/broken", "text/html").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("Something went wrong on our side"));
    assert!(!body.contains("db-internal-7"));
    let (_, _, body) = get_with_accept("/broken", "application/json").await;
    assert!(!body.contains("db-internal-7"));
}

//! `/admin/users`: administrators see every account with its role, confirmation and last visit,
//! find one by address or name, and change its role (POST, CSRF); nobody else gets in.

use axum::http::StatusCode;
use ragtime::models::{role, user};

use crate::helpers::{TestApp, submit};

async fn role_name(app: &TestApp, account: &user::Model) -> String {
    let fresh = user::find_by_id(&app.db, account.id)
        .await
        .unwrap()
        .unwrap();
    role::all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.id == fresh.role_id)
        .unwrap()
        .name
}

#[tokio::test]
async fn administrators_list_find_and_change_the_roles_of_accounts() {
    let app = TestApp::new().await;
    let root = app.create_user_with_role("root", "Administrator").await;
    let ann = app.create_user("ann").await;
    let moderator = role::find_by_name(&app.db, "Moderator")
        .await
        .unwrap()
        .unwrap();
    let mut admin = app.logged_in_client(&root).await;

    let home = admin.get("/").await;
    assert!(home.body.contains(r#"href="/admin/users""#), "navbar link");
    let page = admin.get("/admin/users").await;
    assert_eq!(page.status, StatusCode::OK);
    for shown in [
        "ann@example.com",
        "root@example.com",
        "Moderator",
        "<th scope=\"col\">Last seen</th>",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    // Found by address (any case) or by name; the search is kept in the page.
    let found = admin.get("/admin/users?q=ANN%40example.com").await;
    assert!(found.body.contains("ann@example.com") && !found.body.contains("root@example.com"));
    let found = admin.get("/admin/users?q=ann").await;
    assert!(found.body.contains("ann@example.com") && !found.body.contains("root@example.com"));
    let none = admin.get("/admin/users?q=%3Cscript%3E").await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(!none.body.contains("<script>"));

    let action = format!("/admin/users/{}/role", ann.id);
    let role_id = moderator.id.to_string();
    let res = submit(
        &mut admin,
        "/admin/users?q=ann",
        &action,
        &[("role_id", &role_id), ("back", "q=ann")],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/admin/users?q=ann"));
    assert_eq!(role_name(&app, &ann).await, "Moderator");
    assert!(
        admin
            .get("/admin/users?q=ann")
            .await
            .body
            .contains("ann is now Moderator.")
    );

    // Refused: no such role, no such account, one's own administrator role, no CSRF token.
    for (action, role_id, status) in [
        (action.clone(), "999999".to_owned(), StatusCode::BAD_REQUEST),
        (action.clone(), "x".to_owned(), StatusCode::BAD_REQUEST),
        (
            "/admin/users/999999/role".to_owned(),
            role_id.clone(),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/admin/users/{}/role", root.id),
            role_id.clone(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let res = submit(
            &mut admin,
            "/admin/users",
            &action,
            &[("role_id", &role_id)],
        )
        .await;
        assert_eq!(res.status, status, "{action} {role_id}");
    }
    assert_eq!(role_name(&app, &root).await, "Administrator");
    let res = admin.post_form(&action, &[("role_id", &role_id)]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // Nobody else: a moderator or a user is refused, a visitor is sent to log in.
    let mut ann_client = app.logged_in_client(&ann).await;
    assert_eq!(
        ann_client.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    let user_role = role::find_by_name(&app.db, "Administrator")
        .await
        .unwrap()
        .unwrap();
    let res = submit(
        &mut ann_client,
        "/",
        &format!("/admin/users/{}/role", ann.id),
        &[("role_id", &user_role.id.to_string())],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(role_name(&app, &ann).await, "Moderator");
    assert_eq!(
        app.client().get("/admin/users").await.status,
        StatusCode::SEE_OTHER
    );
}

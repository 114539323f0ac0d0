//! `/admin/users` (administrators only): every account, newest first, or those a search finds
//! (an email address exactly, or words of the name, as the site's people search); each with its
//! role, whether it is confirmed and when it was last seen, and a form to change its role.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::access::Can;
use crate::error::AppError;
use crate::models::keyset::{Cursor, Page};
use crate::models::{Permission, role, search, user};
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::users::AdminUsersTemplate;
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};
use crate::web::session::Session;

type Administrator = Can<{ Permission::ADMIN.0 }>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users))
        .route("/admin/users/{id}/role", post(set_role))
}

const PER_PAGE: u64 = 50;

/// The `q` of a query string: what the search box holds.
fn searched(query: Option<&str>) -> String {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(name, _)| name == "q")
        .map(|(_, value)| value.trim().chars().take(search::MAX_QUERY_CHARS).collect())
        .unwrap_or_default()
}

async fn users(
    State(state): State<AppState>,
    _admin: Administrator,
    layout: Layout,
    query: PageQuery,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let q = searched(raw.as_deref());
    let cursor = query.cursor();
    let (accounts, pagination) = if q.contains('@') {
        let found = user::find_by_email(&state.db, &q).await?;
        let none = Page::<()>::empty();
        (
            found.into_iter().collect(),
            Pagination::new("/admin/users", cursor, &none),
        )
    } else if !q.is_empty() {
        // The best matches; a name search that needs a second page needs better words.
        let found = search::people(
            &state.db,
            &search::Query::parse(&q),
            Cursor::First,
            PER_PAGE,
        )
        .await?;
        let none = Page::<()>::empty();
        let accounts = found.page.items.into_iter().map(|f| f.user).collect();
        (accounts, Pagination::new("/admin/users", cursor, &none))
    } else {
        let page = user::directory(&state.db, user::Directory::Newest, cursor, PER_PAGE).await?;
        let pagination = Pagination::new("/admin/users", cursor, &page).numbered(query.number());
        (page.items, pagination)
    };
    let roles = role::all(&state.db).await?;
    let role_names: HashMap<i32, String> = roles.iter().map(|r| (r.id, r.name.clone())).collect();
    Ok(Html(AdminUsersTemplate {
        layout,
        q,
        accounts,
        roles,
        role_names,
        pagination,
    })
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoleForm {
    role_id: String,
    /// The query string of the page the form was on.
    back: String,
}

/// Give an account another role. An administrator cannot take their own administrator role
/// away here (someone else, or `ragtime role`, can): a slip would lock them out of this page.
async fn set_role(
    State(state): State<AppState>,
    Can(admin): Administrator,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Result<Response, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::NotFound(None))?;
    let account = user::find_by_id(&state.db, id)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let roles = role::all(&state.db).await?;
    let wanted = form
        .role_id
        .parse::<i32>()
        .ok()
        .and_then(|rid| roles.iter().find(|r| r.id == rid))
        .ok_or_else(|| AppError::BadRequest("Choose one of the roles.".into()))?;
    if account.id == admin.id && !wanted.has_permission(Permission::ADMIN) {
        return Err(AppError::BadRequest(
            "You cannot take away your own administrator role here.".into(),
        ));
    }
    user::set_role(&state.db, account.id, wanted.id).await?;
    session.note_write();
    session.flash(
        "success",
        format!("{} is now {}.", account.username, wanted.name),
    );
    // Back to the same page of the list, with only its own parameters.
    let back = PageQuery::from_query(Some(&form.back)).cursor();
    let mut to = Pagination::new("/admin/users", back, &Page::<()>::empty());
    let q = searched(Some(&form.back));
    if !q.is_empty() {
        let kept: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &q)
            .finish();
        to = to.with_query(kept);
    }
    Ok(Redirect::to(&to.url(&back)).into_response())
}

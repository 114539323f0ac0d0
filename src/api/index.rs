//! `GET /api/v1/`: where a client starts. It names the OpenAPI document and the entry points,
//! so nobody has to guess a URL.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::Links;

/// The API's entry points.
#[derive(Serialize, ToSchema)]
pub struct ApiIndex {
    /// The OpenAPI 3 description of every operation.
    #[schema(format = "uri")]
    pub openapi_url: String,
    /// Everyone's compositions, newest first.
    #[schema(format = "uri")]
    pub compositions_url: String,
    /// Everyone's comments, newest first.
    #[schema(format = "uri")]
    pub comments_url: String,
    /// Search (`?q=`).
    #[schema(format = "uri")]
    pub search_url: String,
    /// The caller (needs credentials).
    #[schema(format = "uri")]
    pub me_url: String,
    /// Where email and password get a token.
    #[schema(format = "uri")]
    pub tokens_url: String,
}

/// Where to start: the OpenAPI document and the main lists.
#[utoipa::path(
    get,
    path = "/api/v1/",
    tag = "meta",
    security(()),
    responses((status = 200, description = "Links to the document and the entry points.", body = ApiIndex))
)]
pub async fn get_index(links: Links) -> Json<ApiIndex> {
    Json(ApiIndex {
        openapi_url: links.api("/openapi.json"),
        compositions_url: links.api("/compositions/"),
        comments_url: links.api("/comments/"),
        search_url: links.api("/search"),
        me_url: links.api("/users/me"),
        tokens_url: links.api("/tokens/"),
    })
}

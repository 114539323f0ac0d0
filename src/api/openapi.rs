//! The OpenAPI 3 description of the API, served at `/api/v1/openapi.json`. Paths, parameters,
//! bodies and their schemas come from the handlers' `#[utoipa::path]` attributes as the router
//! is built (see [`super::routes`]); this module adds what every operation shares — the
//! security schemes and the error responses that the auth extractor, the id in the path and
//! the JSON body reader can give — so each handler lists only its own.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi, PartialSchema};

use crate::error::ErrorBody;

const DESCRIPTION: &str = "The JSON API of Ragtime, a music-sharing social network. \
`GET /api/v1/` links to this document and the main lists.

**Authentication.** Public data — what the site shows a visitor who is not logged in: \
compositions, tracks, users, comments, search — may be read without credentials; such reads \
are limited per client address (429 with `Retry-After` past the limit), and credentials lift \
the limit. Writes and private data (a timeline, notifications, `users/me`) need credentials: \
HTTP Basic with your email and password, or a token. `POST /api/v1/tokens/` (Basic with \
email and password only) returns a token that works for an hour, or until your password \
changes, and names its user; send it as `Authorization: Bearer <token>`, or as the Basic \
username with an empty password. Missing credentials where they are needed, and wrong ones \
anywhere (a wrong credential is never read as none), get a 401 with `WWW-Authenticate`. An \
account whose email address is not confirmed reads like anyone, and gets a 403 on writes. \
Password attempts count against the same rate limits as the site's login form until they \
succeed (429 with `Retry-After`), so send many requests with a token. The API uses no cookies \
and needs no CSRF token; a browser's write from another site is refused.

**Lists** are ordered and paginated by cursor: `{\"<items>\": [...], \"prev\": url|null, \
\"next\": url|null, \"count\": total}`. Follow `next` and `prev` as they are: they carry \
`after` or `before` (an opaque cursor) and `n` (the number of the page they lead to, which only \
counts), and keep the list's own parameters (`q` and `type` of a search). The old numbered \
`page` parameter reaches only the first ten pages. Compositions in lists carry their tracks \
without the `waveform`; one composition or track read alone carries it. **Objects** carry \
their absolute `url`. **Timestamps** are ISO 8601 in UTC (`2026-11-25T10:00:00Z`). A comment \
disabled by a moderator shows `null` for `body` and `body_html` to everyone but moderators.

**Errors** are always JSON, `{\"error\": \"<short>\", \"message\": \"<human>\"}`, with the \
status: 400 malformed JSON or an invalid field (named in the message), 401, 403, 404, 405, 409, \
413 body too large, 415 body not JSON, 429.";

#[derive(OpenApi)]
#[openapi(
    info(title = "Ragtime API", version = "1", description = DESCRIPTION),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("basic" = [])),
    tags(
        (name = "tokens", description = "Tokens, so a client need not send the password every time."),
        (name = "users", description = "Artists, their compositions and timelines; follow and unfollow."),
        (name = "compositions", description = "Singles, EPs and albums; liking them."),
        (name = "comments", description = "Comments on compositions."),
        (name = "search", description = "Full-text search of compositions and users."),
        (name = "notifications", description = "The caller's notifications: follows, comments, mentions, likes, moderation."),
        (name = "meta", description = "This description."),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "Email and password; or a token as the username with an empty password.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ragtime token")
                    .description(Some("A token from POST /api/v1/tokens/."))
                    .build(),
            ),
        );
    }
}

/// The complete description, built once from the same routes the server serves.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, mut doc) = super::routes().split_for_parts();
        add_shared_responses(&mut doc);
        close_request_bodies(&mut doc);
        doc
    })
}

/// Request bodies refuse fields they do not take (see `extract::Fields::reject_unknown`).
const CLOSED_BODIES: [&str; 5] = [
    "NewComposition",
    "NewPlay",
    "UpdateComposition",
    "NewComment",
    "MarkRead",
];

fn close_request_bodies(doc: &mut Document) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let close = |object: &mut utoipa::openapi::schema::Object| {
        object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    };
    for name in CLOSED_BODIES {
        match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::Object(object))) => close(object),
            // A body of several shapes: each of them is closed.
            Some(RefOr::T(Schema::OneOf(one_of))) => {
                for item in &mut one_of.items {
                    if let RefOr::T(Schema::Object(object)) = item {
                        close(object);
                    }
                }
            }
            _ => {}
        }
    }
}

fn json_error(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("Error"))),
    )
}

fn string_header(description: &str, pattern: Option<&str>) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(pattern),
        )
        .description(Some(description))
        .build()
}

/// Add `response` for `status` unless the operation describes that status itself.
fn add(op: &mut Operation, status: &str, response: impl Into<Response>) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(response.into()));
}

/// Who may call an operation, as its `security` says.
#[derive(PartialEq, Eq)]
enum Access {
    /// Anyone, and nothing is checked (`security(())`): this document, the index.
    Open,
    /// Anyone; credentials, if sent, must be right (public reads).
    Optional,
    /// Credentials are needed (the API's default).
    Required,
}

fn access(op: &Operation) -> Access {
    let anonymous = SecurityRequirement::default();
    match &op.security {
        Some(requirements) if requirements.iter().all(|r| *r == anonymous) => Access::Open,
        Some(requirements) if requirements.contains(&anonymous) => Access::Optional,
        _ => Access::Required,
    }
}

/// The error responses every operation shares, by what it takes: credentials, an id in the
/// path, a JSON body.
fn add_shared_responses(doc: &mut Document) {
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .insert("Error".to_owned(), ErrorBody::schema());
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (false, &mut item.get),
            (true, &mut item.put),
            (true, &mut item.post),
            (true, &mut item.delete),
            (true, &mut item.patch),
        ];
        for (writes, op) in operations {
            let Some(op) = op else { continue };
            let access = access(op);
            if access != Access::Open {
                let unauthorized = if access == Access::Optional {
                    "Wrong credentials, or an expired token (send none to read as anyone)."
                } else {
                    "Missing or wrong credentials, or an expired token."
                };
                add(
                    op,
                    "401",
                    json_error(unauthorized).header(
                        "WWW-Authenticate",
                        string_header("The ways to authenticate: Basic and Bearer.", None),
                    ),
                );
                let too_many = if access == Access::Optional {
                    "Too many reads without credentials from this address, or too many failed \
                     passwords: wait `Retry-After` seconds."
                } else {
                    "Too many failed passwords: wait `Retry-After` seconds."
                };
                add(
                    op,
                    "429",
                    json_error(too_many).header(
                        "Retry-After",
                        string_header("Seconds to wait.", Some("^[0-9]+$")),
                    ),
                );
            }
            if access == Access::Required {
                add(
                    op,
                    "403",
                    json_error("The account is not confirmed, or may not do this."),
                );
            }
            if path.contains("{id}") {
                add(op, "400", json_error("The id in the URL is not a number."));
                add(op, "404", json_error("Nothing has this id."));
            }
            if op.request_body.is_some() {
                add(
                    op,
                    "400",
                    json_error(
                        "Malformed JSON, or a field missing or invalid (the message names it).",
                    ),
                );
                add(op, "413", json_error("The body is too large."));
                add(op, "415", json_error("The body is not declared as JSON."));
            }
            if writes {
                add(
                    op,
                    "400",
                    json_error("A browser's request from another site (its `Origin`) is refused."),
                );
            }
        }
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "This OpenAPI document.", body = serde_json::Value))
)]
pub async fn get_openapi() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}

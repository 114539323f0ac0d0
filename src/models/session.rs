//! Server-side login sessions. The browser holds a random token; the table holds only its
//! SHA-256, the user and an expiry, so logging out or changing a password can revoke a session
//! on every web process at once.

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, JoinType, QuerySelect};

use crate::crypto::sha256_hex;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i32,
    pub remember: bool,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// How long a login lasts: a browser session, or 30 days with "keep me logged in".
pub fn lifetime(remember: bool) -> Duration {
    if remember {
        Duration::days(30)
    } else {
        Duration::days(1)
    }
}

/// Store a new session for `token` (the cookie value).
pub async fn create<C: ConnectionTrait>(
    db: &C,
    token: &str,
    user_id: i32,
    remember: bool,
) -> Result<Model, DbErr> {
    let now = Utc::now();
    let session = Model {
        id: sha256_hex(token),
        user_id,
        remember,
        created_at: now,
        expires_at: now + lifetime(remember),
    };
    let row = ActiveModel {
        id: Set(session.id.clone()),
        user_id: Set(user_id),
        remember: Set(remember),
        created_at: Set(session.created_at),
        expires_at: Set(session.expires_at),
    };
    Entity::insert(row).exec_without_returning(db).await?;
    Ok(session)
}

/// The account (user and role) of a live session, in one query.
pub async fn find_account<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<super::user::Account>, DbErr> {
    use super::{role, user};
    let found = user::Entity::find()
        .find_also_related(role::Entity)
        .join(JoinType::InnerJoin, user::Relation::Sessions.def())
        .filter(Column::Id.eq(sha256_hex(token)))
        .filter(Column::ExpiresAt.gt(Utc::now()))
        .limit(1)
        .one(db)
        .await?;
    Ok(found.and_then(|(user, role)| role.map(|role| user::Account { user, role })))
}

/// End one session (logout).
pub async fn delete<C: ConnectionTrait>(db: &C, token: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(sha256_hex(token)).exec(db).await?;
    Ok(())
}

/// End every session of a user except the one making the request (password change or reset).
pub async fn delete_others<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    keep_token: Option<&str>,
) -> Result<u64, DbErr> {
    let mut query = Entity::delete_many().filter(Column::UserId.eq(user_id));
    if let Some(token) = keep_token {
        query = query.filter(Column::Id.ne(sha256_hex(token)));
    }
    Ok(query.exec(db).await?.rows_affected)
}

/// Remove expired rows; run from time to time so the table does not grow without bound.
pub async fn purge_expired<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Ok(Entity::delete_many()
        .filter(Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?
        .rows_affected)
}

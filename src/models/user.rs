//! Users (artists). Accounts and profiles build on this entity.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, Statement};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub email: String,
    pub username: String,
    pub role_id: i32,
    pub password_hash: String,
    pub confirmed: bool,
    pub name: Option<String>,
    pub location: Option<String>,
    pub about_me: Option<String>,
    pub member_since: DateTimeUtc,
    pub last_seen: DateTimeUtc,
    pub avatar_hash: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::role::Entity",
        from = "Column::RoleId",
        to = "super::role::Column::Id"
    )]
    Role,
}

impl Related<super::role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Every user follows themself, so the followed feed includes their own work. Adds the
/// missing ones in one statement (`User.add_self_follows()` of the original); returns how many.
pub async fn add_self_follows<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let sql = r#"INSERT INTO follows (follower_id, followed_id, "timestamp")
        SELECT u.id, u.id, u.member_since FROM users u
        WHERE NOT EXISTS (
            SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followed_id = u.id
        )"#;
    let result = db
        .execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    Ok(result.rows_affected())
}

pub async fn find_by_id<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

//! Likes: a user likes a composition, once. Primary key on the pair; each composition's count
//! is kept in `compositions.likes_count` by the database's triggers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "likes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub composition_id: i32,
    pub timestamp: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Insert many likes in one statement (`seed`).
pub async fn insert_many<C: ConnectionTrait>(db: &C, rows: Vec<ActiveModel>) -> Result<(), DbErr> {
    Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

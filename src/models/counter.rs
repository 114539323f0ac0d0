//! Totals kept by the database's triggers (`migration::m20261202_000001_counts`): how many
//! compositions and comments there are, read without counting them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Every composition.
pub const COMPOSITIONS: &str = "compositions";
/// Every comment.
pub const COMMENTS: &str = "comments";
/// Every composition on the trending list.
pub const TRENDING: &str = "trending";

/// The total named `name` (0 if there is none yet).
pub async fn get<C: ConnectionTrait>(db: &C, name: &str) -> Result<u64, DbErr> {
    let found = Entity::find_by_id(name.to_owned()).one(db).await?;
    Ok(found.map_or(0, |c| u64::try_from(c.value).unwrap_or(0)))
}

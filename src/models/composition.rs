//! Compositions: a single, an EP or an album, with a Markdown description.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "compositions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub release_type: i16,
    pub title: String,
    pub description: String,
    pub description_html: String,
    pub timestamp: DateTimeUtc,
    pub artist_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

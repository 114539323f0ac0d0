//! Roles and permission bits (SPEC §1). The bit values are part of the data model.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, QueryOrder};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub name: String,
    pub default: bool,
    pub permissions: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// One permission bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission(pub i32);

impl Permission {
    pub const FOLLOW: Permission = Permission(1);
    pub const COMMENT: Permission = Permission(2);
    pub const PUBLISH: Permission = Permission(4);
    pub const MODERATE: Permission = Permission(8);
    pub const ADMIN: Permission = Permission(16);
}

/// The three roles of SPEC §1: name, permissions, and whether it is the default.
pub const ROLES: [(&str, &[Permission], bool); 3] = [
    (
        "User",
        &[Permission::FOLLOW, Permission::COMMENT, Permission::PUBLISH],
        true,
    ),
    (
        "Moderator",
        &[
            Permission::FOLLOW,
            Permission::COMMENT,
            Permission::PUBLISH,
            Permission::MODERATE,
        ],
        false,
    ),
    (
        "Administrator",
        &[
            Permission::FOLLOW,
            Permission::COMMENT,
            Permission::PUBLISH,
            Permission::MODERATE,
            Permission::ADMIN,
        ],
        false,
    ),
];

impl Model {
    pub fn has_permission(&self, perm: Permission) -> bool {
        self.permissions & perm.0 == perm.0
    }
}

/// What [`insert_roles`] changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RolesReport {
    pub inserted: Vec<String>,
    pub updated: Vec<String>,
}

/// Idempotent upsert by name: resets each role's permissions to the table above and marks
/// exactly one default role (`Role.insert_roles()` of the original).
pub async fn insert_roles<C: ConnectionTrait>(db: &C) -> Result<RolesReport, DbErr> {
    let before = all(db).await?;
    let mut report = RolesReport::default();
    for (name, perms, default) in ROLES {
        let permissions = perms.iter().fold(0, |acc, p| acc | p.0);
        match before.iter().find(|r| r.name == name) {
            None => report.inserted.push(name.to_owned()),
            Some(r) if r.permissions != permissions || r.default != default => {
                report.updated.push(name.to_owned())
            }
            Some(_) => {}
        }
        let row = ActiveModel {
            name: Set(name.to_owned()),
            default: Set(default),
            permissions: Set(permissions),
            ..Default::default()
        };
        Entity::insert(row)
            .on_conflict(
                OnConflict::column(Column::Name)
                    .update_columns([Column::Permissions, Column::Default])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    // Any other role left in the table (added by hand) must not also claim to be the default.
    let names: Vec<&str> = ROLES.iter().map(|(n, _, _)| *n).collect();
    let demoted = Entity::update_many()
        .col_expr(Column::Default, Expr::value(false))
        .filter(Column::Name.is_not_in(names))
        .filter(Column::Default.eq(true))
        .exec(db)
        .await?;
    if demoted.rows_affected > 0 {
        report.updated.push(format!(
            "{} other role(s) no longer default",
            demoted.rows_affected
        ));
    }
    Ok(report)
}

pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::Id).all(db).await
}

pub async fn find_by_name<C: ConnectionTrait>(db: &C, name: &str) -> Result<Option<Model>, DbErr> {
    Entity::find().filter(Column::Name.eq(name)).one(db).await
}

pub async fn default_role<C: ConnectionTrait>(db: &C) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Default.eq(true))
        .one(db)
        .await
}

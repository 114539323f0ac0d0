//! Users (artists). Accounts and profiles build on this entity.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseBackend, QuerySelect, QueryTrait, Statement,
};

use super::keyset::{Cursor, Key, Order, Page, Reading};

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
    /// Kept by the database's triggers (`migration::m20261202_000001_counts`): never written
    /// by the application. The self-follow is not counted.
    pub followers_count: i32,
    pub following_count: i32,
    pub compositions_count: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::role::Entity",
        from = "Column::RoleId",
        to = "super::role::Column::Id"
    )]
    Role,
    #[sea_orm(has_many = "super::session::Entity")]
    Sessions,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

/// A user with their role: everything needed to answer "may this user do X".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: Model,
    pub role: super::role::Model,
}

impl Account {
    /// The one place that answers "may this user do X" (SPEC §1). An account whose address
    /// is not confirmed may do nothing an anonymous visitor may not (SPEC §2): not even its
    /// role's moderation or administration, since anyone could register an address first.
    pub fn can(&self, permission: super::Permission) -> bool {
        self.user.confirmed && self.role.has_permission(permission)
    }

    pub fn is_administrator(&self) -> bool {
        self.can(super::Permission::ADMIN)
    }
}

/// Templates read `account.username` straight through to the user.
impl std::ops::Deref for Account {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.user
    }
}

impl Related<super::role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Role.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// A new account, not yet saved: member since now, a new avatar key.
pub fn new_account(email: &str, username: &str, role_id: i32, password_hash: &str) -> ActiveModel {
    let now = chrono::Utc::now();
    let email = email.trim().to_lowercase();
    ActiveModel {
        avatar_hash: Set(new_avatar_key()),
        email: Set(email),
        username: Set(username.to_owned()),
        role_id: Set(role_id),
        password_hash: Set(password_hash.to_owned()),
        confirmed: Set(false),
        member_since: Set(now),
        last_seen: Set(now),
        ..Default::default()
    }
}

/// Our own avatar (`/avatar/<key>.svg`, a path on this site) when `base` is empty; else a
/// third-party service's `<base><key>?s=<size>`.
pub fn avatar_url(base: &str, hash: &str, size: u32) -> String {
    if base.is_empty() {
        return format!("/avatar/{hash}.svg");
    }
    let slash = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{slash}{hash}?s={size}")
}

/// [`avatar_url`] for use outside our pages (the API, share previews): our own avatars get
/// `origin` in front.
pub fn absolute_avatar_url(origin: &str, base: &str, hash: &str, size: u32) -> String {
    let url = avatar_url(base, hash, size);
    if url.starts_with('/') {
        format!("{origin}{url}")
    } else {
        url
    }
}

/// The picture of a share preview (`og:image`): our own avatar as PNG, since the readers of
/// previews take no SVG, or the third-party service's at `size` pixels.
pub fn share_image_url(origin: &str, base: &str, hash: &str, size: u32) -> String {
    if base.is_empty() {
        return format!("{origin}/avatar/{hash}.png");
    }
    avatar_url(base, hash, size)
}

/// A key for the avatar service that reveals nothing about the account: random, not the MD5
/// of the email address the avatar services suggest (a guessed address could be checked
/// against it, and every page view would tell the service who is shown). A new address gets a
/// new key, so the old avatar does not follow the account.
pub fn new_avatar_key() -> String {
    crate::crypto::random_hex(16)
}

/// Replace every avatar key that is the MD5 of its account's address (all of them before
/// random keys came, and any an older release still running writes during a deploy) with a
/// random one; returns how many. Each deploy runs it, so none survives a release.
pub async fn replace_revealing_avatar_keys<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let replaced = db
            .execute_unprepared(
                "UPDATE users SET avatar_hash = replace(gen_random_uuid()::text, '-', '') \
                 WHERE avatar_hash = md5(lower(email))",
            )
            .await?;
        return Ok(replaced.rows_affected());
    }
    // SQLite has no MD5: compare here.
    let keys: Vec<(i32, String, String)> = Entity::find()
        .select_only()
        .columns([Column::Id, Column::Email, Column::AvatarHash])
        .into_tuple()
        .all(db)
        .await?;
    let mut replaced = 0;
    for (id, email, key) in keys {
        if key == format!("{:x}", md5::compute(email.to_lowercase().as_bytes())) {
            Entity::update_many()
                .col_expr(Column::AvatarHash, Expr::value(new_avatar_key()))
                .filter(Column::Id.eq(id))
                .exec(db)
                .await?;
            replaced += 1;
        }
    }
    Ok(replaced)
}

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

/// Why a registration (or an email or username change) was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("Email already registered.")]
    EmailTaken,
    #[error("Username already in use.")]
    UsernameTaken,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The unique indexes on `lower(email)` and `lower(username)` (the initial migration).
const EMAIL_INDEX: &str = "ux_users_email_lower";
const USERNAME_INDEX: &str = "ux_users_username_lower";

/// Map a unique-index violation to the field it concerns, by the index's name. The schema is
/// the judge, so two racing registrations cannot both win.
fn account_error(err: DbErr) -> AccountError {
    match super::violation::unique_violated(&err).as_deref() {
        Some(USERNAME_INDEX) => AccountError::UsernameTaken,
        Some(EMAIL_INDEX) => AccountError::EmailTaken,
        _ => AccountError::Db(err),
    }
}

/// Create an account (`registration::register` adds its self-follow). The address named by
/// `RAGTIME_ADMIN` becomes Administrator; everyone else gets the default role.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    email: &str,
    username: &str,
    password_hash: &str,
    admin_email: Option<&str>,
) -> Result<Model, AccountError> {
    use super::role;
    let email = email.trim().to_lowercase();
    let role = if admin_email.is_some_and(|a| a.eq_ignore_ascii_case(&email)) {
        role::find_by_name(db, "Administrator").await?
    } else {
        role::default_role(db).await?
    }
    .ok_or_else(|| DbErr::RecordNotFound("roles are missing: run `ragtime deploy`".into()))?;
    new_account(&email, username, role.id, password_hash)
        .insert(db)
        .await
        .map_err(account_error)
}

/// No stored address or name holds a NUL (the forms refuse control characters), and PostgreSQL
/// refuses one in a text value: such a lookup finds nothing, on either database.
fn holds_nul(text: &str) -> bool {
    text.contains('\0')
}

pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Option<Model>, DbErr> {
    if holds_nul(email) {
        return Ok(None);
    }
    Entity::find()
        // lower(email) is what the unique index covers, so this is an index lookup.
        .filter(ExprTrait::eq(
            Expr::expr(Func::lower(Expr::col(Column::Email))),
            email.trim().to_lowercase(),
        ))
        .one(db)
        .await
}

/// Give the account another role.
pub async fn set_role<C: ConnectionTrait>(db: &C, id: i32, role_id: i32) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::RoleId, Expr::value(role_id))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Mark the account confirmed; `false` if it already was (a second click on the link, perhaps
/// at the same moment), so the caller does what follows a confirmation only once.
pub async fn set_confirmed<C: ConnectionTrait>(db: &C, id: i32) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::Confirmed, Expr::value(true))
        .filter(Column::Id.eq(id))
        .filter(Column::Confirmed.eq(false))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn set_password_hash<C: ConnectionTrait>(
    db: &C,
    id: i32,
    hash: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::PasswordHash, Expr::value(hash))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Replace the password hash only if it is still `old`; `false` if it changed meanwhile (two
/// uses of one reset link at once: only the first wins).
pub async fn replace_password_hash<C: ConnectionTrait>(
    db: &C,
    id: i32,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::PasswordHash, Expr::value(new))
        .filter(Column::Id.eq(id))
        .filter(Column::PasswordHash.eq(old))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Give the account a new address (already validated and lower-cased); its avatar follows.
/// The unique index refuses an address someone registered meanwhile.
pub async fn set_email<C: ConnectionTrait>(
    db: &C,
    id: i32,
    email: &str,
) -> Result<(), AccountError> {
    Entity::update_many()
        .col_expr(Column::Email, Expr::value(email))
        .col_expr(Column::AvatarHash, Expr::value(new_avatar_key()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(account_error)?;
    Ok(())
}

/// Record that the user was seen, at most once a minute: the condition makes most calls
/// write nothing.
pub async fn touch_last_seen<C: ConnectionTrait>(db: &C, id: i32) -> Result<(), DbErr> {
    let now = chrono::Utc::now();
    Entity::update_many()
        .col_expr(Column::LastSeen, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::LastSeen.lt(now - chrono::Duration::seconds(60)))
        .exec(db)
        .await?;
    Ok(())
}

/// The users of these ids, in no particular order.
pub async fn find_many<C: ConnectionTrait>(db: &C, ids: &[i32]) -> Result<Vec<Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

pub async fn find_by_id<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// What a user tells about themself on their profile; `None` leaves a field empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: Option<String>,
    pub location: Option<String>,
    pub about_me: Option<String>,
}

/// The user a profile URL names, whatever the case typed: `lower(username)` is what the
/// unique index covers, so this is an index lookup.
pub async fn find_by_username<C: ConnectionTrait>(
    db: &C,
    username: &str,
) -> Result<Option<Model>, DbErr> {
    if holds_nul(username) {
        return Ok(None);
    }
    Entity::find()
        .filter(ExprTrait::eq(
            Expr::expr(Func::lower(Expr::col(Column::Username))),
            Func::lower(Expr::val(username)),
        ))
        .one(db)
        .await
}

/// The users of some lower-cased names (mentions), as `(id, username)`: one lookup of the
/// unique index on `lower(username)` per name, in one query.
pub async fn named<C: ConnectionTrait>(
    db: &C,
    lower_names: &[String],
) -> Result<Vec<(i32, String)>, DbErr> {
    if lower_names.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::Username)
        .filter(
            Expr::expr(Func::lower(Expr::col(Column::Username)))
                .is_in(lower_names.iter().map(String::as_str)),
        )
        .into_tuple()
        .all(db)
        .await
}

/// Save what the user says about themself (already validated).
pub async fn update_profile<C: ConnectionTrait>(
    db: &C,
    id: i32,
    profile: &Profile,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Name, Expr::value(profile.name.clone()))
        .col_expr(Column::Location, Expr::value(profile.location.clone()))
        .col_expr(Column::AboutMe, Expr::value(profile.about_me.clone()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Everything an administrator may change on an account (already validated; `role_id` names
/// an existing role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEdit {
    pub email: String,
    pub username: String,
    pub confirmed: bool,
    pub role_id: i32,
    pub profile: Profile,
}

/// An administrator's edit of an account, in one statement. The email is stored lower-cased
/// with its avatar hash; the unique indexes refuse an email or username that another account
/// holds (in any case), as at registration.
pub async fn admin_update<C: ConnectionTrait>(
    db: &C,
    id: i32,
    edit: &AdminEdit,
) -> Result<(), AccountError> {
    let email = edit.email.trim().to_lowercase();
    // A new key only for a new address: the avatar stays as long as the address does.
    let avatar_key = Expr::case(
        Expr::col(Column::Email).eq(email.clone()),
        Expr::col(Column::AvatarHash),
    )
    .finally(new_avatar_key());
    Entity::update_many()
        .col_expr(Column::AvatarHash, avatar_key.into())
        .col_expr(Column::Email, Expr::value(email))
        .col_expr(Column::Username, Expr::value(edit.username.clone()))
        .col_expr(Column::Confirmed, Expr::value(edit.confirmed))
        .col_expr(Column::RoleId, Expr::value(edit.role_id))
        .col_expr(Column::Name, Expr::value(edit.profile.name.clone()))
        .col_expr(Column::Location, Expr::value(edit.profile.location.clone()))
        .col_expr(Column::AboutMe, Expr::value(edit.profile.about_me.clone()))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(account_error)?;
    Ok(())
}

/// The account with this id and its role, in one query.
pub async fn account_by_id<C: ConnectionTrait>(db: &C, id: i32) -> Result<Option<Account>, DbErr> {
    let found = Entity::find_by_id(id)
        .find_also_related(super::role::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(user, role)| role.map(|role| Account { user, role })))
}

/// Every username and email address (for tools that must not collide with them: `seed`).
pub async fn names_and_emails<C: ConnectionTrait>(db: &C) -> Result<Vec<(String, String)>, DbErr> {
    use sea_orm::QuerySelect;
    Entity::find()
        .select_only()
        .column(Column::Username)
        .column(Column::Email)
        .into_tuple()
        .all(db)
        .await
}

/// The orders of the people directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directory {
    /// Newest members first: the index `(member_since, id)`.
    Newest,
    /// Most followed first: the index `(followers_count, id)`.
    MostFollowed,
}

impl Directory {
    fn reading(self, cursor: Cursor, per_page: u64) -> Reading {
        let reading = Reading::new(cursor, Order::NewestFirst, per_page);
        match self {
            Directory::Newest => reading,
            Directory::MostFollowed => reading.by_number(),
        }
    }

    fn key(self, user: &Model) -> Key {
        match self {
            Directory::Newest => Key::new(user.member_since, user.id),
            Directory::MostFollowed => Key::ranked(i64::from(user.followers_count), user.id),
        }
    }
}

/// A page of the people directory in `order`: one query, from the cursor along the order's
/// index, whatever the number of users.
pub async fn directory<C: ConnectionTrait>(
    db: &C,
    order: Directory,
    cursor: Cursor,
    per_page: u64,
) -> Result<Page<Model>, DbErr> {
    let reading = order.reading(cursor, per_page);
    if reading.is_past_numbered() {
        return Ok(reading.past_numbered());
    }
    let rows = directory_select(order, &reading).all(db).await?;
    Ok(reading.finish(rows, |u| order.key(u)))
}

fn directory_select(order: Directory, reading: &Reading) -> Select<Entity> {
    let sorted_by = match order {
        Directory::Newest => Column::MemberSince,
        Directory::MostFollowed => Column::FollowersCount,
    };
    reading.apply(Entity::find(), sorted_by, Column::Id)
}

/// The statement that reads a page of the directory (public for the query-plan tests).
pub fn directory_statement(
    backend: DatabaseBackend,
    order: Directory,
    cursor: Cursor,
    per_page: u64,
) -> Statement {
    directory_select(order, &order.reading(cursor, per_page)).build(backend)
}

/// Insert many accounts in one statement; their ids, in insertion order.
pub async fn insert_many<C: ConnectionTrait>(
    db: &C,
    rows: Vec<ActiveModel>,
) -> Result<Vec<i32>, DbErr> {
    Entity::insert_many(rows).exec_with_returning_keys(db).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn avatar_keys_are_random_and_say_nothing_of_the_email() {
        let (a, b) = (super::new_avatar_key(), super::new_avatar_key());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}

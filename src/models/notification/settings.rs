//! How each user wants to hear of notifications by mail: per topic, none, one mail each time,
//! or a daily digest. No row in `notification_settings` means the defaults.

use std::collections::HashMap;

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseConnection};

use super::Kind;
use crate::models::{begin_write, user};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    pub follows: i16,
    pub comments: i16,
    pub mentions: i16,
    pub likes: i16,
    pub moderation: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// How a user hears of one topic by mail. The numbers are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Off = 0,
    Each = 1,
    Digest = 2,
}

impl Delivery {
    pub const ALL: [Delivery; 3] = [Delivery::Off, Delivery::Each, Delivery::Digest];

    pub fn from_i16(value: i16) -> Option<Delivery> {
        Delivery::ALL.into_iter().find(|d| *d as i16 == value)
    }

    /// The form's and the API's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Off => "none",
            Delivery::Each => "each",
            Delivery::Digest => "digest",
        }
    }

    pub fn from_name(name: &str) -> Option<Delivery> {
        Delivery::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// The mail settings, one per column of `notification_settings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Follows,
    Comments,
    Mentions,
    Likes,
    Moderation,
}

impl Topic {
    pub const ALL: [Topic; 5] = [
        Topic::Comments,
        Topic::Mentions,
        Topic::Follows,
        Topic::Likes,
        Topic::Moderation,
    ];

    /// Each comment and mention is worth a mail; the rest waits for the day's digest.
    pub fn default_delivery(self) -> Delivery {
        match self {
            Topic::Comments | Topic::Mentions => Delivery::Each,
            Topic::Follows | Topic::Likes | Topic::Moderation => Delivery::Digest,
        }
    }

    /// The settings form's field, the unsubscribe token's word and the column.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Follows => "follows",
            Topic::Comments => "comments",
            Topic::Mentions => "mentions",
            Topic::Likes => "likes",
            Topic::Moderation => "moderation",
        }
    }

    pub fn from_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What the settings page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Topic::Follows => "New followers",
            Topic::Comments => "Comments on your compositions",
            Topic::Mentions => "Mentions of you in comments",
            Topic::Likes => "Likes of your compositions",
            Topic::Moderation => "A moderator hides or shows your comment",
        }
    }

    pub(super) fn column(self) -> Column {
        match self {
            Topic::Follows => Column::Follows,
            Topic::Comments => Column::Comments,
            Topic::Mentions => Column::Mentions,
            Topic::Likes => Column::Likes,
            Topic::Moderation => Column::Moderation,
        }
    }

    fn kinds(self) -> Vec<i16> {
        Kind::ALL
            .into_iter()
            .filter(|k| k.topic() == self)
            .map(|k| k as i16)
            .collect()
    }
}

/// One user's choices, topic by topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings(pub HashMap<Topic, Delivery>);

impl Default for Settings {
    fn default() -> Self {
        Settings(
            Topic::ALL
                .into_iter()
                .map(|t| (t, t.default_delivery()))
                .collect(),
        )
    }
}

impl Settings {
    pub fn get(&self, topic: Topic) -> Delivery {
        self.0
            .get(&topic)
            .copied()
            .unwrap_or(topic.default_delivery())
    }

    fn from_row(row: &Model) -> Self {
        let of = |value: i16, topic: Topic| {
            (
                topic,
                Delivery::from_i16(value).unwrap_or(topic.default_delivery()),
            )
        };
        Settings(HashMap::from([
            of(row.follows, Topic::Follows),
            of(row.comments, Topic::Comments),
            of(row.mentions, Topic::Mentions),
            of(row.likes, Topic::Likes),
            of(row.moderation, Topic::Moderation),
        ]))
    }
}

pub async fn settings_of<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<Settings, DbErr> {
    Ok(Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|row| Settings::from_row(&row))
        .unwrap_or_default())
}

/// Save a user's choices. Mail still owed for a topic now turned off is forgotten, and a
/// digest line for a topic now mailed one by one goes in the next digest still.
pub async fn save_settings<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    chosen: &Settings,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        user_id: Set(user_id),
        follows: Set(chosen.get(Topic::Follows) as i16),
        comments: Set(chosen.get(Topic::Comments) as i16),
        mentions: Set(chosen.get(Topic::Mentions) as i16),
        likes: Set(chosen.get(Topic::Likes) as i16),
        moderation: Set(chosen.get(Topic::Moderation) as i16),
    };
    Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(Column::UserId)
                .update_columns(Topic::ALL.map(Topic::column))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let off: Vec<i16> = Topic::ALL
        .into_iter()
        .filter(|t| chosen.get(*t) == Delivery::Off)
        .flat_map(Topic::kinds)
        .collect();
    if !off.is_empty() {
        super::Entity::update_many()
            .col_expr(super::Column::Mail, Expr::value(0i16))
            .filter(super::Column::UserId.eq(user_id))
            .filter(super::Column::Mail.ne(0i16))
            .filter(super::Column::Kind.is_in(off))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Turn some topics off (the one-click unsubscribe), keeping the others as they were. A user
/// who is gone is no error: there is nothing left to mail.
pub async fn unsubscribe(
    db: &DatabaseConnection,
    user_id: i32,
    topics: &[Topic],
) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    if user::find_by_id(&txn, user_id).await?.is_none() {
        return Ok(());
    }
    let mut chosen = settings_of(&txn, user_id).await?;
    for topic in topics {
        chosen.0.insert(*topic, Delivery::Off);
    }
    save_settings(&txn, user_id, &chosen).await?;
    txn.commit().await
}

//! Bulk loads (`ragtime seed`): many rows into a table, in batches, in one transaction.
//!
//! On PostgreSQL the batches go first to a temporary copy of the table (no triggers, indexes
//! or foreign keys; dropped at commit), then into the table by one `INSERT … SELECT`. The
//! statement triggers (the counts, the search documents) then run once for the whole load, and
//! each counted row is updated once. Batch by batch, every batch updated again the rows it
//! counted into (the popular compositions and artists in every batch), and inside one
//! transaction none of those versions can be pruned: a row updated in 400 batches had 400
//! versions, which every later lookup of it walked: each foreign-key check of a comment,
//! a like or a notification naming it, and the next batch's count. A 1 M seed took over an
//! hour so (issue 25). On SQLite, whose triggers run row by row on rows updated in place,
//! the rows go straight in.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Alias;
use sea_orm::{DatabaseBackend, IdenStatic, Iterable, PrimaryKeyToColumn, QueryTrait, Statement};

/// Rows of the entity `E` on their way into its table.
pub struct Staged<E> {
    /// The temporary table on PostgreSQL; `None` on SQLite.
    staging: Option<String>,
    entity: E,
}

impl<E: EntityTrait> Staged<E> {
    /// Make the temporary table (PostgreSQL) for a load into `entity`'s table, within the
    /// transaction `db`.
    pub async fn begin<C: ConnectionTrait>(db: &C, entity: E) -> Result<Self, DbErr> {
        let staging = if db.get_database_backend() == DatabaseBackend::Postgres {
            let table = entity.table_name();
            let staging = format!("staged_{table}");
            db.execute_unprepared(&format!(
                "CREATE TEMPORARY TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) \
                 ON COMMIT DROP"
            ))
            .await?;
            // Ids drawn from the table's own identity, so they are known before the move.
            let mut keys = E::PrimaryKey::iter();
            if let (Some(key), None, true) =
                (keys.next(), keys.next(), E::PrimaryKey::auto_increment())
            {
                let column = key.into_column();
                let sequence: String = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT pg_get_serial_sequence($1, $2)",
                        [table.into(), column.as_str().into()],
                    ))
                    .await?
                    .ok_or_else(|| DbErr::RecordNotFound(format!("the sequence of {table}")))?
                    .try_get_by_index(0)?;
                db.execute_unprepared(&format!(
                    "ALTER TABLE {staging} ALTER COLUMN \"{}\" SET DEFAULT nextval('{sequence}')",
                    column.as_str()
                ))
                .await?;
            }
            Some(staging)
        } else {
            None
        };
        Ok(Staged { staging, entity })
    }

    fn statement<A>(&self, rows: Vec<A>) -> sea_orm::sea_query::InsertStatement
    where
        A: ActiveModelTrait<Entity = E>,
    {
        let mut statement = E::insert_many(rows).into_query();
        if let Some(staging) = &self.staging {
            statement.into_table(Alias::new(staging.as_str()));
        }
        statement
    }

    /// A batch of rows (not empty).
    pub async fn insert<C, A>(&self, db: &C, rows: Vec<A>) -> Result<(), DbErr>
    where
        C: ConnectionTrait,
        A: ActiveModelTrait<Entity = E>,
    {
        db.execute(&self.statement(rows)).await?;
        Ok(())
    }

    /// A batch of rows (not empty), and the values of `column` the database gave them, in no
    /// particular order.
    pub async fn insert_returning<C, A>(
        &self,
        db: &C,
        rows: Vec<A>,
        column: E::Column,
    ) -> Result<Vec<i32>, DbErr>
    where
        C: ConnectionTrait,
        A: ActiveModelTrait<Entity = E>,
    {
        let mut statement = self.statement(rows);
        statement.returning_col(column);
        db.query_all(&statement)
            .await?
            .iter()
            .map(|row| row.try_get::<i32>("", column.as_str()))
            .collect()
    }

    /// Move what was staged into the table: one statement (PostgreSQL; nothing on SQLite).
    pub async fn finish<C: ConnectionTrait>(self, db: &C) -> Result<(), DbErr> {
        let Some(staging) = self.staging else {
            return Ok(());
        };
        let columns = E::Column::iter()
            .map(|c| format!("\"{}\"", c.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let table = self.entity.table_name();
        db.execute_unprepared(&format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}; DROP TABLE {staging}"
        ))
        .await?;
        Ok(())
    }
}

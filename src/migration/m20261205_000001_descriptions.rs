//! Descriptions rendered again: headings are demoted below the page's, GFM tables render, and
//! images become links (see `models::markdown`). `description_html` is kept rendered, so the
//! rows written before this release are rendered again here, a batch of ids at a time (memory
//! stays bounded at any number of rows), and only a row whose HTML changes is written.
//!
//! Safe beside the previous release: it changes no schema, and a composition that release
//! writes meanwhile is rendered the old way, as it would have been anyway.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult};

use crate::models::markdown::{Allow, to_safe_html};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Compositions {
    Table,
    Id,
    Description,
    DescriptionHtml,
}

/// Rows read at a time.
const BATCH: u64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let changed = render_descriptions_again(manager.get_connection(), BATCH).await?;
        tracing::info!(changed, "descriptions rendered again");
        Ok(())
    }

    /// Nothing to undo: the old rendering is not kept, and the new one is as safe.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

#[derive(FromQueryResult)]
struct Row {
    id: i32,
    description: String,
    description_html: String,
}

/// Render every composition's description again, `batch` rows at a time in id order, writing
/// those whose HTML changes; returns how many changed.
pub async fn render_descriptions_again<C: ConnectionTrait>(
    db: &C,
    batch: u64,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let mut after = i32::MIN;
    let mut changed = 0;
    loop {
        let select = Query::select()
            .columns([
                Compositions::Id,
                Compositions::Description,
                Compositions::DescriptionHtml,
            ])
            .from(Compositions::Table)
            .and_where(Expr::col(Compositions::Id).gt(after))
            .order_by(Compositions::Id, Order::Asc)
            .limit(std::cmp::max(batch, 1))
            .to_owned();
        let rows = Row::find_by_statement(backend.build(&select))
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for row in rows {
            let html = to_safe_html(&row.description, Allow::Description);
            if html == row.description_html {
                continue;
            }
            let update = Query::update()
                .table(Compositions::Table)
                .value(Compositions::DescriptionHtml, html)
                .and_where(Expr::col(Compositions::Id).eq(row.id))
                .to_owned();
            db.execute(&update).await?;
            changed += 1;
        }
    }
}

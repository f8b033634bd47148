//! Pages of a project's children (features, meetings, signals) for many
//! projects at once.
//!
//! A page of projects asks every project for the first page of the same
//! size; [`load_pages`] answers all of them with one statement:
//! `ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY ...)` numbers each
//! project's rows and the outer query keeps the first `limit` of each
//! (window functions: SQLite >= 3.25, PostgreSQL). A page after a cursor is
//! specific to one project and costs one statement of its own, and so does a
//! batch of one project (a plain `LIMIT`, which reads only the page; the
//! window reads every row of each project it numbers).

use std::{collections::HashMap, hash::Hash};

use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Order, Query},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};
use uuid::Uuid;

/// The first `limit` children of `project_id` (after `after`, when given)
/// that pass `filter`. Loaders use it as their key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageKey<C, F = ()> {
    pub project_id: Uuid,
    /// Rows to read: the page size plus one, to tell whether more follow.
    pub limit: u64,
    /// The sort key of the last row of the previous page.
    pub after: Option<C>,
    pub filter: F,
}

/// A child table that is read in pages per project.
pub trait PagedChild: EntityTrait {
    /// The sort key of a row, which a cursor stands for.
    type Cursor: Clone + Eq + Hash + Send + Sync;
    /// What narrows the rows (beyond the project), e.g. "unanalyzed only".
    type Filter: Clone + Eq + Hash + Send + Sync;

    /// The `project_id` column.
    fn project_column() -> Self::Column;
    fn project_id(model: &Self::Model) -> Uuid;
    /// The page order, unique per project (ends with the id).
    fn order() -> Vec<(Self::Column, Order)>;
    /// All rows that pass `filter`, before the project and page conditions.
    fn filtered(filter: &Self::Filter) -> Select<Self>;
    /// The rows that come after `cursor` in [`PagedChild::order`].
    fn after(cursor: &Self::Cursor) -> Condition;
}

/// Every requested page: one statement per (page size, filter) for all the
/// cursor-less keys, one statement per key with a cursor.
pub async fn load_pages<E: PagedChild>(
    conn: &impl ConnectionTrait,
    keys: Vec<PageKey<E::Cursor, E::Filter>>,
) -> Result<HashMap<PageKey<E::Cursor, E::Filter>, Vec<E::Model>>, DbErr> {
    let mut first_pages: HashMap<(u64, E::Filter), Vec<Uuid>> = HashMap::new();
    let mut later_pages = Vec::new();
    for key in keys {
        if key.after.is_some() {
            later_pages.push(key);
        } else {
            first_pages
                .entry((key.limit, key.filter))
                .or_default()
                .push(key.project_id);
        }
    }
    let mut pages = HashMap::new();
    for ((limit, filter), project_ids) in first_pages {
        if let [project_id] = project_ids[..] {
            // One project (e.g. `project(id)`): a plain LIMIT reads only the
            // page, where the window would number every row of the project.
            let key = PageKey {
                project_id,
                limit,
                after: None,
                filter,
            };
            let rows = one_page::<E>(conn, &key).await?;
            pages.insert(key, rows);
            continue;
        }
        let mut grouped: HashMap<Uuid, Vec<E::Model>> = HashMap::new();
        for row in first_rows::<E>(conn, &project_ids, limit, &filter).await? {
            grouped.entry(E::project_id(&row)).or_default().push(row);
        }
        for project_id in project_ids {
            let rows = grouped.remove(&project_id).unwrap_or_default();
            let key = PageKey {
                project_id,
                limit,
                after: None,
                filter: filter.clone(),
            };
            pages.insert(key, rows);
        }
    }
    for key in later_pages {
        let rows = one_page::<E>(conn, &key).await?;
        pages.insert(key, rows);
    }
    Ok(pages)
}

/// The column the window numbers rows in.
const PAGE_ROW: &str = "page_row";

/// The first `limit` rows of each project in `project_ids`, in one statement.
#[tracing::instrument(skip_all, fields(table = E::default().table_name(), projects = project_ids.len(), limit))]
async fn first_rows<E: PagedChild>(
    conn: &impl ConnectionTrait,
    project_ids: &[Uuid],
    limit: u64,
    filter: &E::Filter,
) -> Result<Vec<E::Model>, DbErr> {
    let order = E::order()
        .into_iter()
        .map(|(column, order)| {
            let direction = if matches!(order, Order::Desc) {
                "DESC"
            } else {
                "ASC"
            };
            format!("{} {direction}", column.as_str())
        })
        .collect::<Vec<_>>()
        .join(", ");
    let window = format!(
        "ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {order})",
        E::project_column().as_str()
    );
    let numbered = E::filtered(filter)
        .filter(E::project_column().is_in(project_ids.iter().copied()))
        .column_as(Expr::cust(window), PAGE_ROW)
        .into_query();
    let page = Query::select()
        .column(Asterisk)
        .from_subquery(numbered, Alias::new("numbered"))
        .and_where(Expr::col(Alias::new(PAGE_ROW)).lte(i64::try_from(limit).unwrap_or(i64::MAX)))
        .order_by(Alias::new(E::project_column().as_str()), Order::Asc)
        .order_by(Alias::new(PAGE_ROW), Order::Asc)
        .to_owned();
    let statement = conn.get_database_backend().build(&page);
    E::find().from_raw_sql(statement).all(conn).await
}

/// One project's page (after the key's cursor, if any), in one statement.
#[tracing::instrument(skip_all, fields(table = E::default().table_name(), project_id = %key.project_id, limit = key.limit))]
async fn one_page<E: PagedChild>(
    conn: &impl ConnectionTrait,
    key: &PageKey<E::Cursor, E::Filter>,
) -> Result<Vec<E::Model>, DbErr> {
    let mut select = E::filtered(&key.filter).filter(E::project_column().eq(key.project_id));
    if let Some(cursor) = &key.after {
        select = select.filter(E::after(cursor));
    }
    for (column, order) in E::order() {
        select = select.order_by(column, order);
    }
    select.limit(key.limit).all(conn).await
}

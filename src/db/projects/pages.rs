//! Pages of a project's children (features, meetings, signals) for many
//! projects at once.
//!
//! A page of projects asks every project for a page of the same size after
//! the same cursor (arguments belong to the field, not to the project);
//! [`load_pages`] answers all of them with one statement:
//! `ROW_NUMBER() OVER (PARTITION BY project_id ORDER BY ...)` numbers each
//! project's rows after the cursor and the outer query keeps the first
//! `limit` of each (window functions: SQLite >= 3.25, PostgreSQL). Keys that
//! differ only in page size share the statement of the largest. So a batch
//! costs one statement per (cursor, filter) it holds, a number the query's
//! text bounds, never the number of projects. A batch of one project uses a
//! plain `LIMIT`, which reads only the page (the window reads every row of
//! each project it numbers).

use entity::ProjectId;
use std::{collections::HashMap, hash::Hash};

use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Order, Query, SelectStatement},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};

use crate::db::group_by_parent;

/// The first `limit` children of `project_id` (after `after`, when given)
/// that pass `filter`. Loaders use it as their key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageKey<C, F = ()> {
    pub project_id: ProjectId,
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
    fn project_id(model: &Self::Model) -> ProjectId;
    /// The page order, unique per project (ends with the id).
    fn order() -> Vec<(Self::Column, Order)>;
    /// All rows that pass `filter`, before the project and page conditions.
    fn filtered(filter: &Self::Filter) -> Select<Self>;
    /// The rows that come after `cursor` in [`PagedChild::order`].
    fn after(cursor: &Self::Cursor) -> Condition;
}

/// The key of a page of `E`.
type Key<E> = PageKey<<E as PagedChild>::Cursor, <E as PagedChild>::Filter>;

/// What the keys that share a statement have in common.
type Group<E> = (Option<<E as PagedChild>::Cursor>, <E as PagedChild>::Filter);

/// Every requested page: one statement per (cursor, filter) among `keys`.
pub async fn load_pages<E: PagedChild>(
    conn: &impl ConnectionTrait,
    keys: Vec<Key<E>>,
) -> Result<HashMap<Key<E>, Vec<E::Model>>, DbErr> {
    let mut groups: HashMap<Group<E>, Vec<Key<E>>> = HashMap::new();
    for key in keys {
        groups
            .entry((key.after.clone(), key.filter.clone()))
            .or_default()
            .push(key);
    }
    let mut pages = HashMap::new();
    for ((after, filter), keys) in groups {
        // The largest page of each project holds the smaller ones: they
        // share the order and the cursor.
        let limit = keys.iter().map(|key| key.limit).max().unwrap_or_default();
        let mut project_ids: Vec<ProjectId> = keys.iter().map(|key| key.project_id).collect();
        project_ids.sort_unstable();
        project_ids.dedup();
        // One project (e.g. `project(id)`): a plain LIMIT reads only the
        // page, where the window would number every row of the project.
        let rows = if let [project_id] = project_ids[..] {
            one_page::<E>(conn, project_id, limit, after.as_ref(), &filter).await?
        } else {
            numbered_rows::<E>(conn, &project_ids, limit, after.as_ref(), &filter).await?
        };
        let grouped = group_by_parent(rows, E::project_id);
        for key in keys {
            let mut rows = grouped.get(&key.project_id).cloned().unwrap_or_default();
            rows.truncate(usize::try_from(key.limit).unwrap_or(usize::MAX));
            pages.insert(key, rows);
        }
    }
    Ok(pages)
}

/// The column the window numbers rows in.
const PAGE_ROW: &str = "page_row";

/// The first `limit` rows of each project in `project_ids` (after
/// `after`, when given), in one statement.
#[tracing::instrument(skip_all, fields(table = E::default().table_name(), projects = project_ids.len(), limit, after = after.is_some()))]
async fn numbered_rows<E: PagedChild>(
    conn: &impl ConnectionTrait,
    project_ids: &[ProjectId],
    limit: u64,
    after: Option<&E::Cursor>,
    filter: &E::Filter,
) -> Result<Vec<E::Model>, DbErr> {
    let mut select =
        E::filtered(filter).filter(E::project_column().is_in(project_ids.iter().copied()));
    if let Some(cursor) = after {
        select = select.filter(E::after(cursor));
    }
    let page = first_of_each_project::<E>(select, limit);
    let statement = conn.get_database_backend().build(&page);
    E::find().from_raw_sql(statement).all(conn).await
}

/// The first `limit` rows of each project among those `select` reads, in
/// [`PagedChild::order`], ordered by project and then that order. Columns
/// `select` adds (e.g. a window aggregate) stay in the result.
pub(crate) fn first_of_each_project<E: PagedChild>(
    select: Select<E>,
    limit: u64,
) -> SelectStatement {
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
    let numbered = select.column_as(Expr::cust(window), PAGE_ROW).into_query();
    Query::select()
        .column(Asterisk)
        .from_subquery(numbered, Alias::new("numbered"))
        .and_where(Expr::col(Alias::new(PAGE_ROW)).lte(i64::try_from(limit).unwrap_or(i64::MAX)))
        .order_by(Alias::new(E::project_column().as_str()), Order::Asc)
        .order_by(Alias::new(PAGE_ROW), Order::Asc)
        .to_owned()
}

/// One project's page (after `after`, when given), in one statement.
#[tracing::instrument(skip_all, fields(table = E::default().table_name(), %project_id, limit, after = after.is_some()))]
async fn one_page<E: PagedChild>(
    conn: &impl ConnectionTrait,
    project_id: ProjectId,
    limit: u64,
    after: Option<&E::Cursor>,
    filter: &E::Filter,
) -> Result<Vec<E::Model>, DbErr> {
    let mut select = E::filtered(filter).filter(E::project_column().eq(project_id));
    if let Some(cursor) = after {
        select = select.filter(E::after(cursor));
    }
    for (column, order) in E::order() {
        select = select.order_by(column, order);
    }
    select.limit(limit).all(conn).await
}

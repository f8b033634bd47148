//! Relay cursor connections: `first`/`after` arguments, opaque cursors and
//! the page they select.

use async_graphql::{
    connection::{Connection, CursorType, Edge, OpaqueCursor},
    OutputType,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::AppError;

/// Page size when `first` is not given.
pub(super) const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest `first` accepted.
pub(super) const MAX_PAGE_SIZE: i32 = 100;

/// The page size asked for, checked against [`MAX_PAGE_SIZE`].
pub(super) fn page_size(first: Option<i32>) -> Result<u64, AppError> {
    let first = first.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(0..=MAX_PAGE_SIZE).contains(&first) {
        return Err(AppError::bad_input(
            "first",
            format!("`first` must be between 0 and {MAX_PAGE_SIZE}, got {first}"),
        ));
    }
    Ok(u64::try_from(first).unwrap_or_default())
}

/// The key a cursor stands for, or `BAD_USER_INPUT` when it is not one of
/// ours.
pub(super) fn decode_after<K: Serialize + DeserializeOwned + Send + Sync>(
    after: Option<&str>,
) -> Result<Option<K>, AppError> {
    after
        .map(|cursor| {
            OpaqueCursor::<K>::decode_cursor(cursor)
                .map(|cursor| cursor.0)
                .map_err(|_| AppError::bad_input("after", "`after` is not a valid cursor"))
        })
        .transpose()
}

/// Builds the connection from `rows`, fetched with one extra row beyond
/// `size` to tell whether a next page exists.
pub(super) fn connection<T, K, N>(
    mut rows: Vec<T>,
    size: u64,
    has_previous: bool,
    key: impl Fn(&T) -> K,
    node: impl Fn(T) -> N,
) -> Connection<OpaqueCursor<K>, N>
where
    K: Serialize + DeserializeOwned + Send + Sync,
    N: OutputType,
{
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let has_next = rows.len() > size;
    rows.truncate(size);
    let mut page = Connection::new(has_previous, has_next);
    page.edges.extend(
        rows.into_iter()
            .map(|row| Edge::new(OpaqueCursor(key(&row)), node(row))),
    );
    page
}

/// How many items a list without a size argument (a circle's members, an
/// agent's tools, a project's personas and value path, a viewer's
/// instructions) counts for in complexity. Nothing caps these lists; this
/// is the largest they are expected to hold (the benchmark's circles have
/// 20 members), and `--max-response-bytes` bounds any larger answer.
pub(super) const UNPAGED_LIST_ITEMS: usize = 20;

/// The complexity of a connection field: its children once per node.
pub(super) fn connection_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    list_complexity(first.unwrap_or(DEFAULT_PAGE_SIZE), child_complexity)
}

/// The complexity of a field whose answer holds up to `items` items (a
/// page size, a limit, the length of an id list argument): its children
/// once per item, and at least once (an out-of-range size is refused by
/// the resolver, never executed).
pub(super) fn list_complexity(items: impl TryInto<usize>, child_complexity: usize) -> usize {
    let items = items.try_into().unwrap_or(0);
    items.max(1).saturating_mul(child_complexity)
}

/// The complexity of a list without a size argument (see
/// [`UNPAGED_LIST_ITEMS`]).
pub(super) fn unpaged_complexity(child_complexity: usize) -> usize {
    list_complexity(UNPAGED_LIST_ITEMS, child_complexity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_bounds() {
        assert_eq!(page_size(None).ok(), Some(20));
        assert_eq!(page_size(Some(100)).ok(), Some(100));
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-1)).is_err());
    }

    #[test]
    fn list_sizes_multiply_their_children() {
        assert_eq!(connection_complexity(None, 3), 60);
        assert_eq!(connection_complexity(Some(0), 3), 3);
        assert_eq!(list_complexity(500, 3), 1500);
        assert_eq!(list_complexity(-4, 3), 3);
        assert_eq!(list_complexity(usize::MAX, 3), usize::MAX);
        assert_eq!(unpaged_complexity(7), 140);
    }

    #[test]
    fn a_foreign_cursor_is_bad_input() {
        assert!(decode_after::<String>(Some("not-base64!")).is_err());
        let cursor = OpaqueCursor("alpha".to_owned()).encode_cursor();
        assert_eq!(
            decode_after::<String>(Some(&cursor))
                .ok()
                .flatten()
                .as_deref(),
            Some("alpha")
        );
    }
}

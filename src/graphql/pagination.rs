//! Relay cursor connections: `first`/`after` arguments, opaque cursors and
//! the page they select.

use async_graphql::{
    connection::{Connection, CursorType, Edge, OpaqueCursor},
    OutputType,
};
use serde::{de::DeserializeOwned, Serialize};

use crate::error::AppError;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: i32 = 20;
/// Largest `first` accepted.
pub const MAX_PAGE_SIZE: i32 = 100;

/// The page size asked for, checked against [`MAX_PAGE_SIZE`].
pub fn page_size(first: Option<i32>) -> Result<u64, AppError> {
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
pub fn decode_after<K: Serialize + DeserializeOwned + Send + Sync>(
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
pub fn connection<T, K, N>(
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

/// The complexity of a connection field: its children once per node.
pub fn connection_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let first = usize::try_from(first.unwrap_or(DEFAULT_PAGE_SIZE)).unwrap_or(0);
    first.max(1).saturating_mul(child_complexity)
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

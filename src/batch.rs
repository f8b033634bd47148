//! Batch loads in which one bad key fails only itself.
//!
//! A batch reads many keys with one statement (`WHERE name IN (...)`), so a
//! key the database refuses (on PostgreSQL a name holding a NUL byte; any
//! value a statement cannot take) would fail every key of the batch, and
//! every request that joined it. [`load_isolated`] splits a batch that
//! failed because of its keys' data in halves and loads each half again,
//! until the keys at fault stand alone: they fail, with `BAD_USER_INPUT`,
//! and every other key gets its answer. A failure that is not the data's
//! (the database is unavailable, a statement timed out) fails the whole
//! batch at once: retrying it key by key would only multiply the load.

use std::{collections::HashMap, future::Future, hash::Hash};

use sea_orm::{sqlx, DbErr, RuntimeErr};

use crate::error::AppError;

/// What a batch load found: a value for each key that has one, and the
/// error of each key that failed on its own.
#[derive(Debug)]
pub struct Loaded<K, V> {
    pub found: HashMap<K, V>,
    pub failed: HashMap<K, AppError>,
}

impl<K, V> Default for Loaded<K, V> {
    fn default() -> Self {
        Self {
            found: HashMap::new(),
            failed: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Loaded<K, V> {
    /// The answer for `key`: its value, `None` when it has none, or its
    /// own error.
    pub fn get(&self, key: &K) -> Result<Option<V>, AppError> {
        match self.failed.get(key) {
            Some(error) => Err(error.clone()),
            None => Ok(self.found.get(key).cloned()),
        }
    }
}

impl<K: Eq + Hash, V> Loaded<K, V> {
    /// Everything `other` found or failed, added to this.
    pub fn absorb(&mut self, other: Self) {
        self.found.extend(other.found);
        self.failed.extend(other.failed);
    }
}

/// Loads `keys` with `fetch` (one call per batch), narrowing a failure
/// caused by the keys' data down to the keys at fault. Keys `fetch` does
/// not return have no value.
pub(crate) async fn load_isolated<K, V, F, Fut>(
    keys: Vec<K>,
    fetch: F,
) -> Result<Loaded<K, V>, AppError>
where
    K: Clone + Eq + Hash,
    F: Fn(Vec<K>) -> Fut,
    Fut: Future<Output = Result<HashMap<K, V>, AppError>>,
{
    let mut loaded = Loaded::default();
    let mut pending = vec![keys];
    while let Some(batch) = pending.pop() {
        if batch.is_empty() {
            continue;
        }
        match fetch(batch.clone()).await {
            Ok(values) => loaded.found.extend(values),
            Err(error) if !is_fault_of_keys(&error) => return Err(error),
            Err(error) => match <[K; 1]>::try_from(batch) {
                Ok([key]) => {
                    loaded.failed.insert(key, as_key_error(error));
                }
                Err(mut batch) => {
                    let second = batch.split_off(batch.len() / 2);
                    pending.push(second);
                    pending.push(batch);
                }
            },
        }
    }
    Ok(loaded)
}

/// [`load_isolated`] for one key, loaded by `fetch`: its value, nothing,
/// or its own error when the data was at fault.
pub(crate) async fn load_one<K, V, Fut>(key: K, fetch: Fut) -> Result<Loaded<K, V>, AppError>
where
    K: Eq + Hash,
    Fut: Future<Output = Result<Option<V>, AppError>>,
{
    let mut loaded = Loaded::default();
    match fetch.await {
        Ok(value) => loaded.found.extend(value.map(|value| (key, value))),
        Err(error) if is_fault_of_keys(&error) => {
            loaded.failed.insert(key, as_key_error(error));
        }
        Err(error) => return Err(error),
    }
    Ok(loaded)
}

/// True when `error` says the statement's input was at fault, not the
/// database or the statement itself: splitting the batch can help.
fn is_fault_of_keys(error: &AppError) -> bool {
    match error {
        AppError::BadUserInput { .. } => true,
        AppError::Internal(detail) => detail
            .downcast_ref::<std::sync::Arc<DbErr>>()
            .map(AsRef::as_ref)
            .or_else(|| detail.downcast_ref::<DbErr>())
            .is_some_and(is_data_refused),
        _ => false,
    }
}

/// A statement refused for the values bound to it: a value the driver
/// could not encode, SQLSTATE class 22 (data exception: e.g. a NUL byte in
/// a text) or 54 (program limit exceeded) on PostgreSQL, and
/// `SQLITE_TOOBIG` or `SQLITE_MISMATCH` on SQLite.
fn is_data_refused(error: &DbErr) -> bool {
    const SQLITE_TOOBIG: &str = "18";
    const SQLITE_MISMATCH: &str = "20";
    let (DbErr::Query(RuntimeErr::SqlxError(error)) | DbErr::Exec(RuntimeErr::SqlxError(error))) =
        error
    else {
        return false;
    };
    match error {
        sqlx::Error::Encode(_) => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("22")
                || code.starts_with("54")
                || code == SQLITE_TOOBIG
                || code == SQLITE_MISMATCH
        }),
        _ => false,
    }
}

/// The error a key that failed alone answers with: the client's input,
/// without the database's wording (which is logged).
fn as_key_error(error: AppError) -> AppError {
    match error {
        AppError::Internal(detail) => {
            tracing::info!(
                error = format!("{detail:#}"),
                "a lookup key was refused by the database"
            );
            AppError::BadUserInput {
                message: "a value in this request cannot be looked up (the database refuses it)"
                    .to_owned(),
                field: None,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    type Calls = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A fetch that doubles each key, refuses any batch holding a key
    /// divisible by 7 as bad input, and records each batch it was given.
    fn fetch(
        calls: &Calls,
    ) -> impl Fn(Vec<u32>) -> futures::future::Ready<Result<HashMap<u32, u32>, AppError>> {
        let calls = Arc::clone(calls);
        move |keys: Vec<u32>| {
            calls.lock().expect("calls").push(keys.clone());
            futures::future::ready(if keys.iter().any(|k| k % 7 == 0) {
                Err(AppError::bad_input("name", "refused"))
            } else {
                Ok(keys.into_iter().map(|k| (k, k * 2)).collect())
            })
        }
    }

    #[tokio::test]
    async fn a_good_batch_is_one_call() {
        let calls = Calls::default();
        let loaded = load_isolated(vec![1, 2, 3], fetch(&calls))
            .await
            .expect("loaded");
        assert_eq!(loaded.found.len(), 3);
        assert!(loaded.failed.is_empty());
        assert_eq!(calls.lock().expect("calls").len(), 1);
    }

    #[tokio::test]
    async fn only_the_bad_keys_fail_and_every_good_key_is_answered() {
        let calls = Calls::default();
        let keys: Vec<u32> = (1..=40).collect();
        let loaded = load_isolated(keys, fetch(&calls)).await.expect("loaded");
        let mut failed: Vec<u32> = loaded.failed.keys().copied().collect();
        failed.sort_unstable();
        assert_eq!(failed, vec![7, 14, 21, 28, 35]);
        for key in (1..=40).filter(|k| k % 7 != 0) {
            assert_eq!(loaded.get(&key).ok(), Some(Some(key * 2)), "key {key}");
        }
        assert!(matches!(loaded.get(&7), Err(AppError::BadUserInput { .. })));
        let calls = calls.lock().expect("calls");
        assert!(
            calls.len() < 40,
            "bisected, not one call per key: {}",
            calls.len()
        );
    }

    #[tokio::test]
    async fn a_failure_that_is_not_the_datas_fails_the_batch_at_once() {
        let calls = Calls::default();
        let unavailable = |keys: Vec<u32>| {
            calls.lock().expect("calls").push(keys);
            futures::future::ready(Err::<HashMap<u32, u32>, _>(AppError::NotFound("x")))
        };
        let result = load_isolated(vec![1, 2, 3, 4], unavailable).await;
        assert!(matches!(result, Err(AppError::NotFound(_))));
        assert_eq!(
            calls.lock().expect("calls").len(),
            1,
            "not retried key by key"
        );
    }
}

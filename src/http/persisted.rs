//! Automatic persisted queries, the protocol Apollo Client and urql ship:
//! a client sends `extensions.persistedQuery = { version: 1, sha256Hash }`
//! without the document; the server answers `PERSISTED_QUERY_NOT_FOUND`
//! until the client sends the document once with its hash, and from then
//! on runs it from the hash alone (over GET too, so the URL is short and a
//! CDN can cache it).
//!
//! The store lives in the HTTP layer, where requests are read, rather than
//! in a schema extension: the document is resolved before it is parsed
//! (once) and measured, and no per-field hook is installed. It is bounded
//! by the bytes of the documents it holds; each replica has its own, and a
//! miss costs the client one round trip.

use std::sync::Arc;

use moka::sync::Cache;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The only version of the protocol.
pub(super) const PERSISTED_QUERY_VERSION: i64 = 1;

/// A document's SHA-256.
pub(crate) type DocumentHash = [u8; 32];

/// What one entry takes besides its text: the hash, the text's handle and
/// allocation header, and the store's bookkeeping (a store of one-byte
/// documents would otherwise hold many times its capacity).
const ENTRY_BYTES: usize = 256;

/// Hash -> document text.
pub struct PersistedQueries {
    store: Cache<DocumentHash, Arc<str>>,
    /// Zero turns the store off (moka would keep an entry until its next
    /// housekeeping).
    enabled: bool,
}

/// Why a persisted query could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PersistedQueryError {
    /// Only a hash was sent, and no document is stored under it: the client
    /// is expected to retry with the document.
    NotFound,
    /// The request is malformed (a message for the client).
    Invalid(&'static str),
}

impl PersistedQueries {
    /// A store holding at most `capacity_bytes` of documents (0 stores
    /// nothing, so every hash-only request is `NotFound`).
    pub fn new(capacity_bytes: u64) -> Self {
        let store = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|_, query: &Arc<str>| {
                u32::try_from(query.len() + ENTRY_BYTES).unwrap_or(u32::MAX)
            })
            .build();
        Self {
            store,
            enabled: capacity_bytes > 0,
        }
    }

    /// The document to run for a request whose `extensions` asked for a
    /// persisted query with `hash`: `query` when it was sent (after checking
    /// its hash), else the stored one.
    pub(crate) fn resolve(
        &self,
        hash: DocumentHash,
        query: Option<String>,
    ) -> Result<String, PersistedQueryError> {
        match query {
            Some(query) if Sha256::digest(query.as_bytes()).as_slice() == hash => Ok(query),
            Some(_) => Err(PersistedQueryError::Invalid(
                "provided sha does not match query",
            )),
            None => self
                .store
                .get(&hash)
                .map(|query| query.to_string())
                .ok_or(PersistedQueryError::NotFound),
        }
    }

    /// Keeps `query` under `hash`; called once the document has parsed, so
    /// text that is not GraphQL never takes room.
    pub(crate) fn remember(&self, hash: DocumentHash, query: &str) {
        if self.enabled && !self.store.contains_key(&hash) {
            self.store.insert(hash, Arc::from(query));
        }
    }
}

/// The hash a request's `extensions` ask for, if they name a persisted
/// query at all.
pub(crate) fn requested_hash(
    extensions: Option<&Value>,
) -> Result<Option<DocumentHash>, PersistedQueryError> {
    let Some(persisted) = extensions.and_then(|extensions| extensions.get("persistedQuery")) else {
        return Ok(None);
    };
    if persisted.get("version").and_then(Value::as_i64) != Some(PERSISTED_QUERY_VERSION) {
        return Err(PersistedQueryError::Invalid(
            "unsupported persisted query version: only version 1 is supported",
        ));
    }
    let Some(hex) = persisted.get("sha256Hash").and_then(Value::as_str) else {
        return Err(PersistedQueryError::Invalid(
            "`extensions.persistedQuery.sha256Hash` must be a string",
        ));
    };
    decode_hex(hex)
        .map(Some)
        .ok_or(PersistedQueryError::Invalid(
            "`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits",
        ))
}

fn decode_hex(hex: &str) -> Option<DocumentHash> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut hash = [0_u8; 32];
    for (byte, pair) in hash.iter_mut().zip(bytes.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(hash)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const QUERY: &str = "{ viewer { id } }";

    fn hash_of(query: &str) -> (DocumentHash, String) {
        let digest = Sha256::digest(query.as_bytes());
        let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
        (digest.into(), hex)
    }

    #[test]
    fn a_hash_is_found_once_its_document_was_sent() {
        let store = PersistedQueries::new(1 << 20);
        let (hash, _) = hash_of(QUERY);
        assert_eq!(
            store.resolve(hash, None),
            Err(PersistedQueryError::NotFound)
        );
        assert_eq!(store.resolve(hash, Some(QUERY.into())), Ok(QUERY.into()));
        store.remember(hash, QUERY);
        assert_eq!(store.resolve(hash, None), Ok(QUERY.into()));
    }

    #[test]
    fn a_document_whose_hash_differs_is_refused() {
        let store = PersistedQueries::new(1 << 20);
        let (hash, _) = hash_of("{ other }");
        assert!(matches!(
            store.resolve(hash, Some(QUERY.into())),
            Err(PersistedQueryError::Invalid(message)) if message.contains("does not match")
        ));
    }

    #[test]
    fn extensions_are_read_strictly() {
        let (hash, hex) = hash_of(QUERY);
        let upper = hex.to_ascii_uppercase();
        let ok = json!({ "persistedQuery": { "version": 1, "sha256Hash": upper } });
        assert_eq!(requested_hash(Some(&ok)), Ok(Some(hash)));
        assert_eq!(requested_hash(Some(&json!({ "other": 1 }))), Ok(None));
        assert_eq!(requested_hash(None), Ok(None));
        for bad in [
            json!({ "persistedQuery": { "version": 2, "sha256Hash": hex } }),
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "zz".repeat(32) } }),
            json!({ "persistedQuery": { "version": 1 } }),
        ] {
            assert!(
                matches!(
                    requested_hash(Some(&bad)),
                    Err(PersistedQueryError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_store_is_bounded_by_bytes() {
        let store = PersistedQueries::new(4096);
        for i in 0..200 {
            let query = format!("{{ a{i}: viewer {{ id }} }} # {}", "x".repeat(100));
            let (hash, _) = hash_of(&query);
            store.remember(hash, &query);
        }
        store.store.run_pending_tasks();
        assert!(
            store.store.weighted_size() <= 4096,
            "{}",
            store.store.weighted_size()
        );
    }
}

//! The size of an answer, counted while it is built, so that an answer
//! larger than `--max-response-bytes` stops growing as soon as it passes
//! the limit instead of being built whole and refused after.
//!
//! async-graphql builds the whole `Value` tree of an answer before anything
//! serializes it. A per-request [`AnswerMeter`] is charged, by the
//! [`AnswerSize`] extension, with the JSON bytes each field and list item
//! adds the moment its value exists: a leaf (scalar, enum, `JSON`) its
//! whole encoding, an object or list only its punctuation (its fields and
//! items are charged as they resolve). Once the meter is past its limit no
//! further resolver runs: every field still to resolve fails at once (the
//! error ends its siblings' futures too), and the HTTP layer replaces the
//! answer with one error. So what a request holds of its answer is at most
//! the limit plus the values resolved at the moment it was passed (one
//! text each: the largest is a 256 KiB analysis), in `Value` form.
//!
//! Sizes are counted as serde_json writes them: a control character stored
//! as one byte is sent as six (`\u0001`), and counts six.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex, PoisonError,
};

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
    registry::{MetaType, Registry},
    PathSegment, QueryPathSegment, Response, ServerError, ServerResult, Value,
};

use crate::error::ErrorCode;

/// Bytes of JSON one answer may have, and how many it has so far.
#[derive(Debug)]
pub struct AnswerMeter {
    limit: usize,
    used: AtomicUsize,
    /// The root field being answered when the limit was passed: the path
    /// of the one error the answer is replaced with.
    overflow_at: Mutex<Option<String>>,
}

impl AnswerMeter {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: AtomicUsize::new(0),
            overflow_at: Mutex::new(None),
        }
    }

    /// Adds `bytes` to the answer; false once it is over the limit.
    pub fn charge(&self, bytes: usize) -> bool {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        before.saturating_add(bytes) <= self.limit
    }

    /// Whether the answer has passed the limit: nothing more is resolved.
    pub fn is_over(&self) -> bool {
        self.used.load(Ordering::Relaxed) > self.limit
    }

    fn note_overflow(&self, root_field: impl FnOnce() -> String) {
        let mut at = self
            .overflow_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        at.get_or_insert_with(root_field);
    }

    /// `response`, or, when the answer passed the limit, an answer with
    /// `data: null` and one error saying so (the partial data and the
    /// errors its cut-off fields made mean nothing).
    pub fn bounded(&self, response: Response) -> Response {
        if !self.is_over() {
            return response;
        }
        let root = self
            .overflow_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut error = too_large(self.limit);
        if let Some(root) = root {
            error = error.with_path(vec![PathSegment::Field(root)]);
        }
        let mut refused = Response::from_errors(vec![error]);
        refused.extensions = response.extensions;
        refused
    }
}

/// The error of an answer over `limit` bytes (code `BAD_USER_INPUT`: the
/// client asked for too much at once and can ask for less).
pub fn too_large(limit: usize) -> ServerError {
    let mut error = ServerError::new(
        format!(
            "the answer would be larger than the limit of {limit} bytes; ask for fewer items or fields"
        ),
        None,
    );
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput.as_str());
    error
}

/// Installs the meter's charging on every field of every request that
/// carries an `Arc<AnswerMeter>` in its data.
/// It is also the one field-level extension, so it answers
/// `__Schema.description` too ([`super::schema_description`]).
pub struct AnswerSize;

impl ExtensionFactory for AnswerSize {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AnswerSize)
    }
}

#[async_trait::async_trait]
impl Extension for AnswerSize {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if let Some(value) = super::schema_description::override_for(&info) {
            return Ok(Some(value));
        }
        let Some(meter) = ctx.data_opt::<Arc<AnswerMeter>>() else {
            return next.run(ctx, info).await;
        };
        // An error, not a missing value: it ends the sibling futures at
        // once, and the whole answer is replaced anyway.
        if meter.is_over() {
            return Err(too_large(meter.limit));
        }
        let shape = Shape::of(&ctx.schema_env.registry, info.return_type);
        // A list item is resolved through here too, under its list's name.
        let key = match info.path_node.segment {
            QueryPathSegment::Name(_) => Some(info.alias.unwrap_or(info.name)),
            QueryPathSegment::Index(_) => None,
        };
        let path = info.path_node;
        let Some(value) = next.run(ctx, info).await? else {
            return Ok(None);
        };
        let bytes = key.map_or(0, |key| string_len(key) + 2) + shape.own_len(&value);
        if meter.charge(bytes) {
            Ok(Some(value))
        } else {
            meter.note_overflow(|| path.to_string_vec().swap_remove(0));
            Err(too_large(meter.limit))
        }
    }
}

/// Charges a list a resolver wrote whole, without its items and their
/// fields going through [`AnswerSize`] (see `plain.rs`): all but the
/// list's punctuation, which its field was charged with.
pub fn charge_written(meter: Option<&Arc<AnswerMeter>>, list: &Value) {
    if let Some(meter) = meter {
        meter.charge(value_len(list).saturating_sub(Shape::List.own_len(list)));
    }
}

/// What a field's (or list item's) type says about which of its bytes are
/// charged with it and which with the values resolved beneath it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// A list: each item is resolved (and charged) on its own.
    List,
    /// A scalar or enum (`JSON` included): written whole.
    Leaf,
    /// An object: each field is resolved (and charged) on its own.
    Object,
}

impl Shape {
    /// The shape of `type_ref` (`[Signal!]!`, `JSON`, `Project`, ...).
    fn of(registry: &Registry, type_ref: &str) -> Self {
        let type_ref = type_ref.trim_end_matches('!');
        if type_ref.starts_with('[') {
            return Self::List;
        }
        match registry.types.get(type_ref) {
            Some(MetaType::Scalar { .. } | MetaType::Enum { .. }) => Self::Leaf,
            _ => Self::Object,
        }
    }

    /// The bytes of `value` not charged elsewhere.
    fn own_len(self, value: &Value) -> usize {
        match (self, value) {
            (Self::List, Value::List(items)) => bracketed(items.iter().map(|_| 0)),
            (Self::Object, Value::Object(_)) => 2,
            _ => value_len(value),
        }
    }
}

/// The bytes of `value` as compact JSON.
pub fn value_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(true) => 4,
        Value::Boolean(false) => 5,
        Value::Number(number) => number.to_string().len(),
        Value::String(text) => string_len(text),
        Value::Enum(name) => name.len() + 2,
        Value::Binary(bytes) => bracketed(bytes.iter().map(|byte| byte.to_string().len())),
        Value::List(items) => bracketed(items.iter().map(value_len)),
        Value::Object(fields) => bracketed(
            fields
                .iter()
                .map(|(key, item)| string_len(key) + 1 + value_len(item)),
        ),
    }
}

/// Items of these sizes between brackets (or braces), comma separated.
fn bracketed(sizes: impl ExactSizeIterator<Item = usize>) -> usize {
    let commas = sizes.len().saturating_sub(1);
    sizes.sum::<usize>() + commas + 2
}

/// The bytes of `text` as a JSON string, quotes and escapes included.
pub fn string_len(text: &str) -> usize {
    let escaped: usize = text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum();
    escaped + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: serde_json::Value) -> Value {
        Value::from_json(value).unwrap_or_default()
    }

    #[test]
    fn sizes_are_those_serde_json_writes() {
        let samples = [
            json(serde_json::json!({"a": [1, 2.5, null, true, false], "b": {"c": "d"}})),
            Value::String("quote\" slash\\ nl\n tab\t nul\u{0} bell\u{7} é 😀".to_owned()),
            json(serde_json::json!([])),
            json(serde_json::json!({})),
        ];
        for sample in samples {
            let written = serde_json::to_string(&sample).unwrap_or_default();
            assert_eq!(value_len(&sample), written.len(), "{written}");
        }
    }

    #[test]
    fn a_control_character_counts_six_bytes() {
        assert_eq!(string_len("\u{1}"), 8);
        assert_eq!(string_len("a"), 3);
    }

    #[test]
    fn a_list_or_object_counts_its_punctuation_only() {
        let list = json(serde_json::json!([{"content": "long text"}, {"content": "more"}]));
        assert_eq!(Shape::List.own_len(&list), "[,]".len());
        let object = json(serde_json::json!({"content": "long text"}));
        assert_eq!(Shape::Object.own_len(&object), "{}".len());
        assert_eq!(Shape::Object.own_len(&Value::Null), "null".len());
        let scalar = json(serde_json::json!({"json": ["scalar"]}));
        assert_eq!(
            Shape::Leaf.own_len(&scalar),
            "{\"json\":[\"scalar\"]}".len()
        );
    }

    #[test]
    fn the_meter_stops_past_its_limit() {
        let meter = AnswerMeter::new(10);
        assert!(meter.charge(10));
        assert!(!meter.is_over());
        assert!(!meter.charge(1));
        assert!(meter.is_over());
        let refused = meter.bounded(Response::new(Value::Null));
        assert!(refused.errors[0]
            .message
            .contains("larger than the limit of 10 bytes"));
    }
}

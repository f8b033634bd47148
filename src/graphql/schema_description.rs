//! `__schema { description }`: the schema's own description, which this
//! schema does not have, so `null`. async-graphql answers with the text
//! describing the `__Schema` meta-type instead, which a tool would show as
//! this API's description and which no SDL (so not `schema.graphql`) holds.

use async_graphql::{extensions::ResolveInfo, Value};

/// The answer to `__Schema.description`, `null`; `None` for every other
/// field. Asked by the answer-size extension, which sees every field
/// anyway (an extension of its own would cost an async hop per field).
pub(super) fn override_for(info: &ResolveInfo<'_>) -> Option<Value> {
    (info.parent_type == "__Schema" && info.name == "description").then_some(Value::Null)
}

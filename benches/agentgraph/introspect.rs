//! Builds the diContext query from the schema itself (introspection), so
//! the workload asks for everything `Project.diContext` offers, whatever
//! its exact shape, and reports "not in schema" when there is none.
//!
//! The selection takes every field without required arguments: scalars
//! and enums as they are, objects (and lists of them) up to three levels
//! deep; of connections it takes `nodes`, not `edges` or `pageInfo`.

use std::{future::Future, pin::Pin};

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::client::Client;

const TYPE_FIELDS: &str = "query ($name: String!) { __type(name: $name) { fields { \
     name args { defaultValue type { kind } } \
     type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }";

/// How deep below `diContext` objects are followed.
const DEPTH: usize = 3;

/// `query ($id: UUID!) { project(id: $id) { diContext { ... } } }`, or
/// `None` when `Project` has no `diContext` field.
pub(crate) async fn di_context_query(
    client: &Client,
    bearer: &str,
) -> anyhow::Result<Option<String>> {
    let project = fields(client, bearer, "Project").await?;
    let Some(field) = project.iter().find(|f| f["name"] == "diContext") else {
        return Ok(None);
    };
    let (kind, type_name) = named_type(&field["type"]);
    let selection = match kind {
        "OBJECT" => selection(client, bearer, type_name.to_owned(), DEPTH).await?,
        _ => String::new(),
    };
    let di_context = if selection.is_empty() {
        "diContext".to_owned()
    } else {
        format!("diContext {{ {selection} }}")
    };
    Ok(Some(format!(
        "query ($id: UUID!) {{ project(id: $id) {{ {di_context} }} }}"
    )))
}

/// The selection set of `type_name`: see the module doc.
fn selection<'a>(
    client: &'a Client,
    bearer: &'a str,
    type_name: String,
    depth: usize,
) -> Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>> {
    Box::pin(async move {
        let mut parts = Vec::new();
        for field in fields(client, bearer, &type_name).await? {
            let name = field["name"].as_str().unwrap_or_default();
            if name.is_empty() || name == "edges" || name == "pageInfo" || needs_arguments(&field) {
                continue;
            }
            match named_type(&field["type"]) {
                ("SCALAR" | "ENUM", _) => parts.push(name.to_owned()),
                ("OBJECT", inner) if depth > 0 => {
                    let sub = selection(client, bearer, inner.to_owned(), depth - 1).await?;
                    if !sub.is_empty() {
                        parts.push(format!("{name} {{ {sub} }}"));
                    }
                }
                _ => {}
            }
        }
        Ok(parts.join(" "))
    })
}

async fn fields(client: &Client, bearer: &str, type_name: &str) -> anyhow::Result<Vec<Value>> {
    let answer = client
        .graphql(bearer, TYPE_FIELDS, json!({ "name": type_name }))
        .await
        .with_context(|| format!("introspecting {type_name}"))?;
    Ok(answer.data["__type"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// A field with an argument that is required and has no default.
fn needs_arguments(field: &Value) -> bool {
    field["args"].as_array().is_some_and(|args| {
        args.iter()
            .any(|arg| arg["type"]["kind"] == "NON_NULL" && arg["defaultValue"].is_null())
    })
}

/// The kind and name under any NON_NULL and LIST wrappers.
fn named_type(mut ty: &Value) -> (&str, &str) {
    while ty["name"].is_null() && !ty["ofType"].is_null() {
        ty = &ty["ofType"];
    }
    (
        ty["kind"].as_str().unwrap_or_default(),
        ty["name"].as_str().unwrap_or_default(),
    )
}

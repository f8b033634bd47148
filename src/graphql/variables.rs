//! Variables coerced before anything runs (GraphQL spec 6.1.2, "Coercing
//! Variable Values"): a required variable that is missing or null, or a
//! value its declared type cannot take (a malformed `UUID` or `DateTime`,
//! an unknown enum value or input field), refuses the request. It is a
//! request error, answered without `data` (GraphQL-over-HTTP), not a field
//! error under `data: null`, which is what async-graphql makes of it where
//! its validation leaves a variable to the resolver that reads it.
use async_graphql::{
    parser::types::{DocumentOperations, OperationDefinition},
    registry::{MetaType, MetaTypeName, Registry},
    InputType, Positioned, Request, ServerError, ServerResult, Value,
};

/// Refuses `request` if its variables do not coerce to their types. Runs in
/// the front-door extension's `prepare_request` ([`super::arguments`]).
pub(super) fn check_request(registry: &Registry, request: &mut Request) -> ServerResult<()> {
    let operation_name = request.operation_name.clone();
    let variables = std::mem::take(&mut request.variables);
    // A document that does not parse is reported by the parse itself.
    let checked = match request.parsed_query() {
        Ok(document) => {
            let operation = match (&document.operations, operation_name.as_deref()) {
                (DocumentOperations::Single(operation), _) => Some(operation),
                (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
                (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                    operations.values().next()
                }
                // No operation to run: execution says so.
                (DocumentOperations::Multiple(_), None) => None,
            };
            operation.map_or(Ok(()), |operation| check(registry, operation, &variables))
        }
        Err(_) => Ok(()),
    };
    request.variables = variables;
    checked
}

fn check(
    registry: &Registry,
    operation: &Positioned<OperationDefinition>,
    variables: &async_graphql::Variables,
) -> ServerResult<()> {
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        let name = &definition.name.node;
        let ty = definition.var_type.node.to_string();
        let value = variables.get(name).or_else(|| definition.default_value());
        let mut path = format!("${name}");
        if let Err(problem) = coerce(registry, &ty, value, &mut path) {
            return Err(ServerError::new(
                format!("variable `${name}` of type `{ty}`: {problem}"),
                Some(definition.name.pos),
            ));
        }
    }
    Ok(())
}

/// Whether `value` (absent: `None`) coerces to the type written `ty`;
/// else what is wrong, at `path` (the variable, then fields and indices).
/// Nesting is bounded by the pre-scan (variables) and the schema (types).
fn coerce(
    registry: &Registry,
    ty: &str,
    value: Option<&Value>,
    path: &mut String,
) -> Result<(), String> {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => match value {
            None => Err(format!("`{path}` is required but was not given")),
            Some(Value::Null) => Err(format!("`{path}` must not be null")),
            Some(_) => coerce(registry, inner, value, path),
        },
        _ if matches!(value, None | Some(Value::Null)) => Ok(()),
        MetaTypeName::List(inner) => match value {
            Some(Value::List(items)) => items.iter().enumerate().try_for_each(|(index, item)| {
                let at = path.len();
                path.push_str(&format!("[{index}]"));
                let result = coerce(registry, inner, Some(item), path);
                path.truncate(at);
                result
            }),
            // One value where a list is expected is a list of one.
            single => coerce(registry, inner, single, path),
        },
        MetaTypeName::Named(name) => {
            let value = value.unwrap_or(&Value::Null);
            named(registry, name, value, path)
        }
    }
}

fn named(registry: &Registry, name: &str, value: &Value, path: &mut String) -> Result<(), String> {
    let wrong = || format!("`{path}` is not a valid `{name}`: {value}");
    match registry.types.get(name) {
        Some(MetaType::Scalar { is_valid, .. }) => {
            let valid = match name {
                "Int" => {
                    matches!(value, Value::Number(n) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()))
                }
                "Float" => matches!(value, Value::Number(_)),
                "String" => matches!(value, Value::String(_)),
                "Boolean" => matches!(value, Value::Boolean(_)),
                "ID" => {
                    matches!(value, Value::String(_))
                        || matches!(value, Value::Number(n) if n.is_i64() || n.is_u64())
                }
                "UUID" => uuid::Uuid::parse(Some(value.clone())).is_ok(),
                "DateTime" => chrono::DateTime::<chrono::Utc>::parse(Some(value.clone())).is_ok(),
                _ => is_valid.as_ref().is_none_or(|is_valid| is_valid(value)),
            };
            valid.then_some(()).ok_or_else(wrong)
        }
        Some(MetaType::Enum { enum_values, .. }) => match value {
            Value::Enum(item) if enum_values.contains_key(item.as_str()) => Ok(()),
            Value::String(item) if enum_values.contains_key(item.as_str()) => Ok(()),
            _ => Err(wrong()),
        },
        Some(MetaType::InputObject {
            input_fields,
            oneof,
            ..
        }) => {
            let Value::Object(fields) = value else {
                return Err(wrong());
            };
            if let Some(unknown) = fields
                .keys()
                .find(|key| !input_fields.contains_key(key.as_str()))
            {
                return Err(format!("`{path}` has no field `{unknown}`"));
            }
            if *oneof && fields.values().filter(|v| **v != Value::Null).count() != 1 {
                return Err(format!(
                    "`{path}` must have exactly one field that is not null"
                ));
            }
            input_fields.values().try_for_each(|field| {
                let given = fields.get(field.name.as_str());
                if given.is_none() && field.default_value.is_some() {
                    return Ok(());
                }
                let at = path.len();
                path.push('.');
                path.push_str(&field.name);
                let result = coerce(registry, &field.ty, given, path);
                path.truncate(at);
                result
            })
        }
        // Not an input type: validation names it.
        _ => Ok(()),
    }
}

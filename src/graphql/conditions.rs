//! The conditions of `@skip` and `@include`: each `if` must be a Boolean.
//!
//! async-graphql reads a condition it cannot take as a Boolean as `false`,
//! so `@skip(if: "yes")` or `@include(if: {a: 1})` would quietly change
//! what a query selects. Here such a document is refused before it runs,
//! as the GraphQL spec's validation requires: a literal must be `true` or
//! `false`, and a variable must be declared `Boolean!` (or `Boolean` with a
//! non-null default, so it can never be null).
//!
//! async-graphql also decides the conditions from the request's variables
//! alone, so a variable left to its default would read as `false`:
//! [`fill_defaults`] writes the defaults of the operation that runs into
//! the variables first.

use std::collections::HashMap;

use async_graphql::{
    parser::types::{
        BaseType, Directive, DocumentOperations, ExecutableDocument, Selection, SelectionSet,
        VariableDefinition,
    },
    Pos, Positioned, ServerError, Variables,
};
use async_graphql_value::{ConstValue, Value};

/// Refuses `document` when a `@skip` or `@include` condition is not a
/// Boolean.
pub fn check(document: &ExecutableDocument) -> Result<(), ServerError> {
    let mut definitions: HashMap<&str, Vec<&VariableDefinition>> = HashMap::new();
    for (_, operation) in document.operations.iter() {
        for variable in &operation.node.variable_definitions {
            definitions
                .entry(variable.node.name.node.as_str())
                .or_default()
                .push(&variable.node);
        }
    }
    let checker = Checker { definitions };
    for (_, operation) in document.operations.iter() {
        checker.selection_set(&operation.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        checker.selection_set(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

/// Gives every variable of the operation `operation_name` selects (or the
/// only one) that `variables` lacks its default value, if it has one.
pub fn fill_defaults(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &mut Variables,
) {
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    let Some(operation) = operation else { return };
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value {
            variables
                .entry(definition.name.node.clone())
                .or_insert_with(|| default.node.clone());
        }
    }
}

struct Checker<'a> {
    /// Every operation's definitions of each variable name.
    definitions: HashMap<&'a str, Vec<&'a VariableDefinition>>,
}

impl Checker<'_> {
    /// Nesting is bounded by the pre-scan, so recursing over it is too.
    fn selection_set(&self, set: &SelectionSet) -> Result<(), ServerError> {
        for item in &set.items {
            self.directives(item.node.directives())?;
            match &item.node {
                Selection::Field(field) => self.selection_set(&field.node.selection_set.node)?,
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        Ok(())
    }

    fn directives(&self, directives: &[Positioned<Directive>]) -> Result<(), ServerError> {
        for directive in directives {
            let name = directive.node.name.node.as_str();
            if !matches!(name, "skip" | "include") {
                continue;
            }
            let Some(condition) = directive.node.get_argument("if") else {
                continue;
            };
            if !self.is_boolean(&condition.node) {
                return Err(not_boolean(name, condition.pos));
            }
        }
        Ok(())
    }

    fn is_boolean(&self, condition: &Value) -> bool {
        match condition {
            Value::Boolean(_) => true,
            // An undefined variable is validation's to report.
            Value::Variable(variable) => self
                .definitions
                .get(variable.as_str())
                .is_none_or(|definitions| definitions.iter().all(|d| is_never_null_boolean(d))),
            _ => false,
        }
    }
}

fn is_never_null_boolean(variable: &VariableDefinition) -> bool {
    let ty = &variable.var_type.node;
    let boolean = matches!(&ty.base, BaseType::Named(name) if name.as_str() == "Boolean");
    let never_null = !ty.nullable
        || variable
            .default_value
            .as_ref()
            .is_some_and(|default| default.node != ConstValue::Null);
    boolean && never_null
}

fn not_boolean(directive: &str, at: Pos) -> ServerError {
    ServerError::new(
        format!(
            "the `if` of @{directive} must be a Boolean: `true`, `false` or a variable declared `Boolean!`"
        ),
        Some(at),
    )
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn verdict(text: &str) -> Result<(), ServerError> {
        check(&parse_query(text).unwrap_or_else(|e| panic!("parses: {e}")))
    }

    #[test]
    fn boolean_literals_and_boolean_variables_pass() {
        for text in [
            "{ a @skip(if: true) b @include(if: false) }",
            "query($b: Boolean!) { a @skip(if: $b) }",
            "query($b: Boolean = false) { ... on Q @include(if: $b) { a } }",
            "query($b: Boolean!) { ...F } fragment F on Q { a { b @skip(if: $b) } }",
            "{ a @other(if: \"anything\") }",
        ] {
            assert!(verdict(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn defaults_fill_in_the_variables_of_the_operation_that_runs() {
        let document = parse_query(
            "query A($a: Boolean = true, $n: Int) { x } query B($b: Boolean = false) { x }",
        )
        .unwrap_or_else(|e| panic!("parses: {e}"));
        let mut variables = Variables::from_json(serde_json::json!({ "n": 1 }));
        fill_defaults(&document, Some("A"), &mut variables);
        assert_eq!(
            variables.into_value().into_json().ok(),
            Some(serde_json::json!({ "a": true, "n": 1 }))
        );
        let mut sent = Variables::from_json(serde_json::json!({ "a": false }));
        fill_defaults(&document, Some("A"), &mut sent);
        assert_eq!(sent.get("a"), Some(&ConstValue::Boolean(false)));
    }

    #[test]
    fn anything_else_is_refused_wherever_it_is() {
        for text in [
            "{ a @skip(if: \"yes\") }",
            "{ a @include(if: {a: 1}) }",
            "{ a @include(if: [true]) }",
            "{ a @include(if: null) }",
            "{ a @skip(if: TRUE) }",
            "{ a { b { ...F @skip(if: 0) } } }",
            "{ ...F } fragment F on Q { ... @include(if: 1.5) { a } }",
            "query($s: String) { a @skip(if: $s) }",
            "query($b: Boolean) { a @skip(if: $b) }",
            "query($b: [Boolean!]!) { a @skip(if: $b) }",
            "query A($b: Boolean!) { ...F } query B($b: Boolean) { ...F } fragment F on Q { a @skip(if: $b) }",
        ] {
            let refused = verdict(text).expect_err(text);
            assert!(refused.message.contains("must be a Boolean"), "{text}");
        }
    }
}

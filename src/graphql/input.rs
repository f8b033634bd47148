//! Input rules shared by every domain: lengths, name formats and the
//! characters a text may hold. Pure functions, so they are tested without
//! a server.
//!
//! Lengths count UTF-8 bytes, what a text costs to store and to send, not
//! characters: 100 four-byte characters are 400 bytes. Control characters
//! other than tab, newline and carriage return mean nothing in content and
//! cost six bytes each in a JSON answer (`\u0001`); they are refused in
//! every text and JSON input by [`control_character_path`], which the
//! schema applies to every argument before execution.

use chrono::{DateTime, Datelike, Utc};

use crate::error::AppError;

/// Longest name (agents, circles, tools, roles), in bytes.
pub(super) const MAX_NAME_BYTES: usize = 100;
/// Longest short description, in bytes.
pub(super) const MAX_DESCRIPTION_BYTES: usize = 4_000;
/// Longest prompt, instruction or signal text, in bytes.
pub(super) const MAX_PROMPT_BYTES: usize = 32_000;
/// Most skill names on one agent.
pub(super) const MAX_SKILLS: usize = 50;
/// Most ids in one list argument (signal ids, step ids).
pub(super) const MAX_LIST_ITEMS: usize = 1_000;
/// Largest stored JSON document (a DI analysis), in bytes.
pub(super) const MAX_JSON_BYTES: usize = 256 * 1024;

/// `value` has at most `max` bytes of UTF-8, or `BAD_USER_INPUT` naming
/// `field`.
pub(super) fn max_bytes(field: &'static str, value: &str, max: usize) -> Result<(), AppError> {
    let bytes = value.len();
    if bytes > max {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {max} bytes (UTF-8), got {bytes}"),
        ));
    }
    Ok(())
}

/// Whether `c` is a control character that means nothing in content: C0
/// controls (NUL among them) other than tab, newline and carriage return.
pub(super) fn is_meaningless_control(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// Where in `value` (an argument's value, `name` being the argument) a
/// string holds a meaningless control character: `name`, `name.key` or
/// `name[2].key`, or `None` when every string is clean. An object with
/// such a key is named itself. The walk keeps its own stack, so no nesting makes it
/// recurse.
pub(super) fn control_character_path(name: &str, value: &async_graphql::Value) -> Option<String> {
    use async_graphql::Value;
    let has_control = |text: &str| text.chars().any(is_meaningless_control);
    let mut pending = vec![(name.to_owned(), value)];
    while let Some((path, value)) = pending.pop() {
        match value {
            Value::String(text) if has_control(text) => return Some(path),
            Value::List(items) => pending.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (format!("{path}[{index}]"), item)),
            ),
            Value::Object(fields) => {
                if fields.keys().any(|key| has_control(key)) {
                    return Some(path);
                }
                pending.extend(
                    fields
                        .iter()
                        .map(|(key, item)| (format!("{path}.{key}"), item)),
                );
            }
            _ => {}
        }
    }
    None
}

/// A key-like name: 1 to 100 of `A-Z a-z 0-9 . _ -`, starting with a letter
/// or digit. Agent names are used as keys elsewhere (caches, prompts), so
/// they stay plain.
pub(super) fn key_name(field: &'static str, value: &str) -> Result<(), AppError> {
    max_bytes(field, value, MAX_NAME_BYTES)?;
    let mut chars = value.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if starts_well && rest_ok {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must start with a letter or digit and contain only letters, digits, `.`, `_` and `-`"),
        ))
    }
}

/// A display name: not blank, at most [`MAX_NAME_BYTES`].
pub(super) fn display_name(field: &'static str, value: &str) -> Result<(), AppError> {
    if value.trim().is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must not be blank"),
        ));
    }
    max_bytes(field, value, MAX_NAME_BYTES)
}

/// A text that must say something: not blank, at most `max` bytes.
pub(super) fn required_text(field: &'static str, value: &str, max: usize) -> Result<(), AppError> {
    if value.trim().is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must not be blank"),
        ));
    }
    max_bytes(field, value, max)
}

/// A list of at most `max` items.
pub(super) fn max_items<T>(field: &'static str, items: &[T], max: usize) -> Result<(), AppError> {
    if items.len() > max {
        return Err(AppError::bad_input(
            field,
            format!(
                "`{field}` must have at most {max} items, got {}",
                items.len()
            ),
        ));
    }
    Ok(())
}

/// A value of at least `min`.
pub(super) fn at_least<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: T,
    min: T,
) -> Result<(), AppError> {
    if value >= min {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must be at least {min}, got {value}"),
        ))
    }
}

/// A JSON object of at most `max_bytes` (serialized).
pub(super) fn json_object(
    field: &'static str,
    value: &serde_json::Value,
    max_bytes: usize,
) -> Result<(), AppError> {
    if !value.is_object() {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be a JSON object"),
        ));
    }
    if contains_nul(value) {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must not contain NUL characters (\\u0000): the database cannot store them"),
        ));
    }
    let size = value.to_string().len();
    if size > max_bytes {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {max_bytes} bytes of JSON, got {size}"),
        ));
    }
    Ok(())
}

/// Whether any string or key inside `value` holds a NUL character.
fn contains_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(entries) => entries
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A time in the years 1 to 9999: what RFC 3339 can write and every
/// backend stores and orders alike (PostgreSQL refuses years before 4713
/// BC; SQLite would store a negative year as text that sorts wrongly).
pub(super) fn timestamp(field: &'static str, value: &DateTime<Utc>) -> Result<(), AppError> {
    if (1..=9999).contains(&value.year()) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must be a time in the years 1 to 9999"),
        ))
    }
}

/// A value inside `min..=max`, or `BAD_USER_INPUT` naming `field`.
pub(super) fn in_range<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), AppError> {
    if value >= min && value <= max {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            format!("`{field}` must be between {min} and {max}, got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_with_a_nul_anywhere_is_refused() {
        for value in [
            serde_json::json!({ "a": "x\u{0}y" }),
            serde_json::json!({ "a\u{0}": 1 }),
            serde_json::json!({ "a": [{ "b": "\u{0}" }] }),
        ] {
            let error = json_object("analysis", &value, 1024).expect_err("refused");
            assert!(matches!(
                error,
                AppError::BadUserInput {
                    field: Some("analysis"),
                    ..
                }
            ));
        }
        assert!(json_object("analysis", &serde_json::json!({ "a": "\\u0000" }), 1024).is_ok());
    }

    #[test]
    fn timestamps_outside_years_1_to_9999_are_refused() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().expect("a time");
        assert!(timestamp("heldAt", &at("0001-01-01T00:00:00Z")).is_ok());
        assert!(timestamp("heldAt", &at("9999-12-31T23:59:59Z")).is_ok());
        for text in [
            "-4800-01-01T00:00:00Z",
            "0000-12-31T23:59:59Z",
            "+10000-01-01T00:00:00Z",
        ] {
            assert!(timestamp("heldAt", &at(text)).is_err(), "{text}");
        }
    }

    #[test]
    fn key_names_are_plain() {
        assert!(key_name("name", "discovery-intelligence").is_ok());
        assert!(key_name("name", "v2.agent_x").is_ok());
        assert!(key_name("name", "").is_err());
        assert!(key_name("name", "-leading").is_err());
        assert!(key_name("name", "has space").is_err());
        assert!(key_name("name", &"a".repeat(101)).is_err());
    }

    #[test]
    fn lengths_count_utf8_bytes_not_characters() {
        assert!(max_bytes("f", &"é".repeat(5), 10).is_ok());
        assert!(max_bytes("f", &"é".repeat(6), 10).is_err());
        assert!(max_bytes("f", &"e".repeat(10), 10).is_ok());
    }

    #[test]
    fn only_tab_newline_and_return_are_allowed_controls() {
        assert!(['\t', '\n', '\r', ' ', 'é', '\u{7f}']
            .into_iter()
            .all(|c| !is_meaningless_control(c)));
        assert!(['\0', '\u{1}', '\u{1b}', '\u{1f}']
            .into_iter()
            .all(is_meaningless_control));
    }

    #[test]
    fn control_characters_are_found_wherever_they_are_nested() {
        use async_graphql::Value;
        let clean = Value::from_json(serde_json::json!({"a": ["x\ty", {"b": "line\n"}]}));
        assert_eq!(
            control_character_path("input", &clean.expect("a value")),
            None
        );
        let nested = Value::from_json(serde_json::json!({"a": [1, {"b": "nul\u{0}"}]}));
        assert_eq!(
            control_character_path("input", &nested.expect("a value")).as_deref(),
            Some("input.a[1].b")
        );
        let key = Value::from_json(serde_json::json!({"k\u{1}": 1}));
        assert_eq!(
            control_character_path("analysis", &key.expect("a value")).as_deref(),
            Some("analysis")
        );
        let plain = Value::String("bell\u{7}".to_owned());
        assert_eq!(
            control_character_path("name", &plain).as_deref(),
            Some("name")
        );
    }

    #[test]
    fn required_texts_are_not_blank() {
        assert!(required_text("f", "  ", 10).is_err());
        assert!(required_text("f", "ok", 10).is_ok());
        assert!(required_text("f", &"x".repeat(11), 10).is_err());
    }

    #[test]
    fn json_documents_are_bounded_objects() {
        assert!(json_object("f", &serde_json::json!({"a": 1}), 100).is_ok());
        assert!(json_object("f", &serde_json::json!([1]), 100).is_err());
        assert!(json_object("f", &serde_json::json!({"a": "x".repeat(100)}), 100).is_err());
    }

    #[test]
    fn lists_and_minimums() {
        assert!(max_items("ids", &[1, 2], 2).is_ok());
        assert!(max_items("ids", &[1, 2, 3], 2).is_err());
        assert!(at_least("position", 0, 0).is_ok());
        assert!(at_least("position", -1, 0).is_err());
    }

    #[test]
    fn ranges_are_inclusive() {
        assert!(in_range("t", 2.0, 0.0, 2.0).is_ok());
        assert!(in_range("t", 2.01, 0.0, 2.0).is_err());
    }
}

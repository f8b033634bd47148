//! Input rules shared by every domain: lengths and name formats. Pure
//! functions, so they are tested without a server.

use crate::error::AppError;

/// Longest name (agents, circles, tools, roles).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest short description.
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// Longest prompt or instruction text.
pub const MAX_PROMPT_CHARS: usize = 32_000;
/// Most skill names on one agent.
pub const MAX_SKILLS: usize = 50;

/// `value` has at most `max` characters, or `BAD_USER_INPUT` naming `field`.
pub fn max_chars(field: &'static str, value: &str, max: usize) -> Result<(), AppError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at most {max} characters, got {chars}"),
        ));
    }
    Ok(())
}

/// A key-like name: 1 to 100 of `A-Z a-z 0-9 . _ -`, starting with a letter
/// or digit. Agent names are used as keys elsewhere (caches, prompts), so
/// they stay plain.
pub fn key_name(field: &'static str, value: &str) -> Result<(), AppError> {
    max_chars(field, value, MAX_NAME_CHARS)?;
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

/// A display name: not blank, at most [`MAX_NAME_CHARS`].
pub fn display_name(field: &'static str, value: &str) -> Result<(), AppError> {
    if value.trim().is_empty() {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must not be blank"),
        ));
    }
    max_chars(field, value, MAX_NAME_CHARS)
}

/// A value inside `min..=max`, or `BAD_USER_INPUT` naming `field`.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
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
    fn key_names_are_plain() {
        assert!(key_name("name", "discovery-intelligence").is_ok());
        assert!(key_name("name", "v2.agent_x").is_ok());
        assert!(key_name("name", "").is_err());
        assert!(key_name("name", "-leading").is_err());
        assert!(key_name("name", "has space").is_err());
        assert!(key_name("name", &"a".repeat(101)).is_err());
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(max_chars("f", &"é".repeat(10), 10).is_ok());
        assert!(max_chars("f", &"é".repeat(11), 10).is_err());
    }

    #[test]
    fn ranges_are_inclusive() {
        assert!(in_range("t", 2.0, 0.0, 2.0).is_ok());
        assert!(in_range("t", 2.01, 0.0, 2.0).is_err());
    }
}

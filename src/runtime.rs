//! What starting an agent for a user needs, assembled from the agent's
//! configuration and the user's instructions. Pure: no I/O.

use std::sync::Arc;

use crate::db::{agents::AgentConfig, instructions::UserInstructions};

/// Everything needed to start one agent for one user.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentRuntime {
    pub config: Arc<AgentConfig>,
    pub instructions: Arc<UserInstructions>,
    /// See [`effective_system_prompt`].
    pub effective_system_prompt: String,
}

impl AgentRuntime {
    pub fn assemble(config: Arc<AgentConfig>, instructions: Arc<UserInstructions>) -> Self {
        let agent = &config.agent.agent;
        let effective_system_prompt = effective_system_prompt(
            &agent.base_prompt,
            &agent.system_prompt,
            instructions.instructions.as_deref(),
        );
        Self {
            config,
            instructions,
            effective_system_prompt,
        }
    }
}

/// Separates the parts of the effective prompt.
pub(crate) const PROMPT_SEPARATOR: &str = "\n\n";

/// The prompt an agent starts with: the base prompt (shared by a family of
/// agents), then the agent's system prompt, then the user's own
/// instructions, separated by a blank line. Blank parts are left out, so
/// there are never empty paragraphs; each part is kept as written.
pub(crate) fn effective_system_prompt(base: &str, system: &str, user: Option<&str>) -> String {
    [Some(base), Some(system), user]
        .into_iter()
        .flatten()
        .filter(|part| !part.trim().is_empty())
        .collect::<Vec<_>>()
        .join(PROMPT_SEPARATOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_joined_in_order_with_a_blank_line() {
        assert_eq!(
            effective_system_prompt("Base.", "System.", Some("Mine.")),
            "Base.\n\nSystem.\n\nMine."
        );
    }

    #[test]
    fn blank_parts_are_left_out() {
        assert_eq!(effective_system_prompt("", "System.", None), "System.");
        assert_eq!(
            effective_system_prompt("Base.", "  ", Some("Mine.")),
            "Base.\n\nMine."
        );
        assert_eq!(effective_system_prompt("", "", Some("")), "");
    }
}

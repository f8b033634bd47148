//! The example operations GraphiQL opens with in dev mode, one tab each,
//! written against the demo data set.

use serde_json::{json, Value};

use crate::seed::DEMO_PROJECT_DEVELOPING;

const NESTED_CIRCLES: &str = "\
# Every circle with its members, their agents, models and providers:
# two SQL statements, however many circles and members there are.
query NestedCircles {
  circles(first: 20) {
    nodes {
      name
      members {
        role
        agent {
          name
          model {
            modelName
            provider {
              name
            }
          }
        }
      }
    }
  }
}
";

const AGENT_RUNTIME: &str = "\
# What an agent needs to start, assembled for the viewer (from memory when warm).
query AgentRuntime {
  agentRuntime(agentName: \"discovery-intelligence\") {
    agent {
      name
      status
    }
    model {
      modelName
    }
    provider {
      name
    }
    tools {
      name
    }
    instructions
    effectiveSystemPrompt
  }
}
";

const PROJECT_READINESS: &str = "\
# A demo project's readiness, and the context the discovery agent reads.
query ProjectReadiness($id: UUID!) {
  project(id: $id) {
    name
    readiness {
      score
      status
      dimensions {
        valuePath
        problem
        solution
        engagement
      }
      blockers
    }
    diContext(signalsLimit: 5) {
      unanalyzedSignalCount
      unanalyzedSignals {
        source
        content
      }
      analysis {
        analyzedAt
      }
      cacheValid
    }
  }
}
";

const SET_INSTRUCTIONS: &str = "\
# Your own instructions for an agent; agentRuntime shows them at once.
mutation SetInstructions {
  setMyAgentInstructions(
    agentName: \"discovery-intelligence\"
    instructions: \"Answer in French.\"
  ) {
    agentName
    instructions
  }
}
";

/// GraphiQL `defaultTabs`: each with the dev headers (a tab's headers are
/// its own, so each needs them).
pub(super) fn tabs(headers: &str) -> Value {
    let variables =
        serde_json::to_string_pretty(&json!({ "id": DEMO_PROJECT_DEVELOPING })).unwrap_or_default();
    json!([
        { "query": NESTED_CIRCLES, "headers": headers },
        { "query": AGENT_RUNTIME, "headers": headers },
        { "query": PROJECT_READINESS, "variables": variables, "headers": headers },
        { "query": SET_INSTRUCTIONS, "headers": headers },
    ])
}

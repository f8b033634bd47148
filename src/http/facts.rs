//! [`RequestFacts`]: what the schema learned about a request while running
//! it (whether it got past validation, and the operation it ran), recorded
//! by a schema extension for the HTTP layer to read afterwards.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
    Response as GqlResponse,
};

/// What the schema learned about a request while running it, recorded by
/// [`RequestFactsRecorder`].
#[derive(Clone, Default)]
pub struct RequestFacts(Arc<FactsInner>);

#[derive(Default)]
struct FactsInner {
    /// Raised once the request got past parsing and validation: from then
    /// on its errors are field errors (HTTP 200).
    executed: AtomicBool,
    /// The operation's name: the one asked for, or the document's only one
    /// (set by the HTTP layer before execution, or by the schema).
    operation: std::sync::OnceLock<String>,
}

impl RequestFacts {
    pub(super) fn executed(&self) -> bool {
        self.0.executed.load(Ordering::Relaxed)
    }

    /// Records the operation name the request asked for.
    pub(super) fn name_operation(&self, name: String) {
        let _ = self.0.operation.set(name);
    }

    pub(super) fn operation(&self) -> Option<&str> {
        self.0.operation.get().map(String::as_str)
    }
}

/// Schema extension that fills [`RequestFacts`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestFactsRecorder;

impl ExtensionFactory for RequestFactsRecorder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestFactsRecorder)
    }
}

#[async_trait::async_trait]
impl Extension for RequestFactsRecorder {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> GqlResponse {
        if let Some(facts) = ctx.data_opt::<RequestFacts>() {
            facts.0.executed.store(true, Ordering::Relaxed);
            if let Some(name) = operation_name {
                let _ = facts.0.operation.set(name.to_owned());
            }
        }
        next.run(ctx, operation_name).await
    }
}

/// The name in `query Name` / `mutation Name`, for a document with one
/// operation.
pub(super) fn single_operation_name(query: &str) -> Option<String> {
    let mut words = query.split(|c: char| c.is_whitespace() || matches!(c, '{' | '(' | '@'));
    let keyword = words.by_ref().find(|w| !w.is_empty())?;
    if !matches!(keyword, "query" | "mutation" | "subscription") {
        return None;
    }
    words.find(|w| !w.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_of_a_single_operation_is_read_from_its_text() {
        assert_eq!(
            single_operation_name("query Runtime($a: Int) { x }").as_deref(),
            Some("Runtime")
        );
        assert_eq!(
            single_operation_name("  mutation Save{ x }").as_deref(),
            Some("Save")
        );
        assert_eq!(single_operation_name("{ viewer { id } }"), None);
    }
}

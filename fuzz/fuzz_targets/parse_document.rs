//! Any text, with or without a token, through what the HTTP layer does with a document before the
//! schema sees it (`ParsedDocuments::parse`: pre-scan, parse, limits),
//! with the server's default limits and the parsed-document store on.
//! Properties: no panic, no stack overflow, no time-out.

#![no_main]

use agentgraph::{config::Config, http::ParsedDocuments};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static DOCUMENTS: LazyLock<ParsedDocuments> = LazyLock::new(|| {
    let config = Config::from_flags(["agentgraph"]).expect("the defaults parse");
    ParsedDocuments::new(config.http.document_cache_bytes, config.limits)
});

// With and without a token: an anonymous request has the smaller budget.
fuzz_target!(|input: (bool, &str)| {
    let (authenticated, text) = input;
    let _ = DOCUMENTS
        .parse(text, authenticated)
        .map(|parsed| parsed.checked());
});

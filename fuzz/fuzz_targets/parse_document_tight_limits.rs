//! As `parse_document`, with every limit at its smallest useful value and
//! no store: every document runs the whole pre-scan, parse and measure,
//! and most are refused by a limit, the path hostile input takes.

#![no_main]

use agentgraph::{config::Config, http::ParsedDocuments};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static DOCUMENTS: LazyLock<ParsedDocuments> = LazyLock::new(|| {
    let config = Config::from_flags([
        "agentgraph",
        "--max-depth",
        "2",
        "--max-complexity",
        "5",
        "--max-aliases",
        "1",
        "--max-fields",
        "3",
        "--max-directives",
        "1",
        "--max-tokens",
        "60",
        "--max-anonymous-tokens",
        "20",
        "--max-nesting",
        "4",
        "--max-arguments",
        "2",
        "--max-literal-bytes",
        "64",
    ])
    .expect("the limits parse");
    ParsedDocuments::new(0, config.limits)
});

// With and without a token: an anonymous request has the smaller budget.
fuzz_target!(|input: (bool, &str)| {
    let (authenticated, text) = input;
    let _ = DOCUMENTS
        .parse(text, authenticated)
        .map(|parsed| parsed.checked());
});

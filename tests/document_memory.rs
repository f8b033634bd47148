//! The parsed-document store is bounded by the memory its documents really
//! take: filled with distinct documents of the shapes that cost the most
//! per token, the process grows by no more than the store's weight.
//!
//! A binary of its own, with one test, so that nothing else allocates
//! while the resident size is read.

use agentgraph::{config::Config, http::ParsedDocuments};

/// Resident bytes of this process, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Documents of about `tokens` tokens in which every token is a node of
/// its own, `variant` making each text distinct.
fn worst_case_documents(tokens: usize, variant: usize) -> Vec<String> {
    let items = tokens / 2;
    vec![
        // Selections of one-letter fields.
        format!("{{ v{variant} {} }}", "a ".repeat(items * 2 - 4)),
        // A list of one-digit numbers.
        format!("{{ v{variant}(x: [{}]) }}", "1 ".repeat(items * 2 - 10)),
        // A list of empty strings.
        format!("{{ v{variant}(x: [{}]) }}", "\"\" ".repeat(items * 2 - 10)),
        // An object of distinct one-value keys.
        format!(
            "{{ v{variant}(x: {{{}}}) }}",
            (0..items * 2 / 3 - 4)
                .map(|i| format!("k{i}: 1 "))
                .collect::<String>()
        ),
        // Aliased fields with a directive each.
        format!("{{ v{variant} {} }}", "a: b @c ".repeat(items * 2 / 5 - 2)),
        // Fields with one argument each.
        format!("{{ v{variant} {} }}", "a(b: 1) ".repeat(items * 2 / 6 - 2)),
    ]
}

#[test]
fn the_store_weighs_what_its_documents_take() {
    let limits = Config::from_flags(["agentgraph"])
        .expect("the defaults parse")
        .limits;
    let tokens = limits.max_tokens;
    // Warm the parser and the allocator, so their own first allocations
    // are not counted.
    let unstored = ParsedDocuments::new(0, limits.clone());
    for text in worst_case_documents(tokens, usize::MAX) {
        unstored.parse(&text, true).expect("parses");
    }
    let documents = ParsedDocuments::new(u64::MAX >> 1, limits);
    let shapes = worst_case_documents(tokens, 0).len();
    let mut closest = 0.0f64;
    for shape in 0..shapes {
        let (resident, weight) = (resident_bytes(), documents.weighted_bytes());
        for variant in 0..8 {
            let text = &worst_case_documents(tokens, variant)[shape];
            documents.parse(text, true).expect("parses");
        }
        let grown = resident_bytes().saturating_sub(resident);
        let weighed = documents.weighted_bytes() - weight;
        eprintln!("shape {shape}: 8 documents take {grown} bytes, weigh {weighed}");
        assert!(weighed > 10 << 20, "the documents are large: {weighed}");
        assert!(
            grown <= weighed,
            "shape {shape}: the documents take {grown} bytes, more than their weight of {weighed}"
        );
        closest = closest.max(grown as f64 / weighed as f64);
    }
    // The estimate is an upper bound, and not several times one.
    assert!(
        closest > 0.6,
        "the costliest shape takes {closest:.2} of its weight"
    );
}

//! The pre-scan: one pass over a document's bytes, in linear time and
//! without recursion, before any parser sees it.
//!
//! async-graphql's parser and validation recurse once per level of
//! nesting, so a few kilobytes of `[[[[…` or `{a:{a:{…` abort the process
//! with a stack overflow, and their work grows with arguments and tokens
//! that the expanded-size limits in [`super::limits`] cannot see until the
//! document is parsed. The scan bounds all of that first: bracket nesting
//! of every kind (selections, arguments, list and object values), tokens,
//! arguments (or variable definitions) in one parenthesised list,
//! directives written at one location (fields, fragments and operations
//! alike), and the length of every literal (and name).
//!
//! The scan tokenizes as GraphQL does (strings with their escapes, block
//! strings, comments, punctuators, names, numbers). Where it could
//! disagree with the parser (an unterminated string, a line break inside a
//! string, a bracket closing the wrong kind) the document is not valid
//! GraphQL: the parser stops with a syntax error at that point, before any
//! deeper nesting, so the scan stops counting there too.

use std::ops::Range;

use super::limits::LimitExceeded;
use crate::config::QueryLimits;

/// The bounds a document must keep before it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanLimits {
    /// Most tokens (names, punctuators, literals) in the document.
    pub tokens: usize,
    /// Deepest nesting of `{`, `[` and `(` together.
    pub nesting: usize,
    /// Most arguments, or variable definitions, in one `( … )`.
    pub arguments: usize,
    /// Most directives written at one location.
    pub directives: usize,
    /// Longest token (string, number, name), in bytes.
    pub literal_bytes: usize,
}

impl ScanLimits {
    /// The configured bounds for a request with a valid token
    /// (`authenticated`) or without one, whose budget of tokens is smaller:
    /// an anonymous viewer gets no data, only `__typename` and (where
    /// allowed) introspection.
    pub fn new(limits: &QueryLimits, authenticated: bool) -> Self {
        Self {
            tokens: if authenticated {
                limits.max_tokens
            } else {
                limits.max_anonymous_tokens.min(limits.max_tokens)
            },
            nesting: limits.max_nesting,
            arguments: limits.max_arguments,
            directives: limits.max_directives,
            literal_bytes: limits.max_literal_bytes,
        }
    }

    /// Refuses a document of `tokens` tokens when that is over the budget.
    pub fn admit_tokens(&self, tokens: usize) -> Result<(), LimitExceeded> {
        if tokens <= self.tokens {
            return Ok(());
        }
        Err(LimitExceeded::new(format!(
            "the document has more than {} tokens (names, punctuation and values)",
            self.tokens
        )))
    }
}

/// What the scan found in a document within its limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Tokens in the document (commas, whitespace and comments are not).
    pub tokens: usize,
}

/// One open bracket.
struct Open {
    /// The byte that closes it.
    closer: u8,
    /// `name:` pairs directly inside it (counted for parentheses).
    arguments: usize,
    /// Whether it holds a directive's arguments.
    directive_arguments: bool,
    /// The directive run outside it, resumed when it closes.
    outer_run: usize,
}

/// Where the scan is in a run of directives (`@a @b(x: 1) @c`) at the
/// current nesting level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Directives {
    /// The last token was not part of a directive.
    Outside,
    /// After `@`: the directive's name comes next.
    Named,
    /// After a directive's name or arguments: another `@` continues the run.
    Ended,
}

/// The lexical token classes the scan tells apart.
enum Token {
    Open(u8),
    Close(u8),
    Colon,
    At,
    Name,
    Other,
}

/// Scans `text` against `limits`: the first limit it breaks refuses it.
pub fn scan(text: &str, limits: &ScanLimits) -> Result<Scanned, LimitExceeded> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut open: Vec<Open> = Vec::new();
    let mut tokens = 0usize;
    let mut directives = Directives::Outside;
    let mut run = 0usize;
    while let Some((token, span)) = scanner.next_spanned() {
        tokens += 1;
        limits.admit_tokens(tokens)?;
        if span.len() > limits.literal_bytes {
            return Err(LimitExceeded::new(format!(
                "a value or name in the document is longer than {} bytes; send long text in variables",
                limits.literal_bytes
            )));
        }
        match token {
            Token::Open(closer) => {
                if open.len() >= limits.nesting {
                    return Err(LimitExceeded::new(format!(
                        "the document nests brackets (selections, arguments, lists and objects) more than {} levels deep",
                        limits.nesting
                    )));
                }
                open.push(Open {
                    closer,
                    arguments: 0,
                    directive_arguments: closer == b')' && directives == Directives::Ended,
                    outer_run: run,
                });
                directives = Directives::Outside;
                run = 0;
            }
            Token::Close(closer) => {
                let Some(closed) = open.pop() else { break };
                if closed.closer != closer {
                    break;
                }
                run = closed.outer_run;
                directives = if closed.directive_arguments {
                    Directives::Ended
                } else {
                    Directives::Outside
                };
            }
            Token::Colon => {
                if let Some(list) = open.last_mut().filter(|list| list.closer == b')') {
                    list.arguments += 1;
                    if list.arguments > limits.arguments {
                        return Err(LimitExceeded::new(format!(
                            "a field, directive or operation has more than {} arguments (or variables)",
                            limits.arguments
                        )));
                    }
                }
                directives = Directives::Outside;
            }
            Token::At => {
                run = if directives == Directives::Ended {
                    run + 1
                } else {
                    1
                };
                if run > limits.directives {
                    return Err(LimitExceeded::new(format!(
                        "more than {} directives are written at one place",
                        limits.directives
                    )));
                }
                directives = Directives::Named;
            }
            Token::Name if directives == Directives::Named => directives = Directives::Ended,
            Token::Name | Token::Other => directives = Directives::Outside,
        }
    }
    Ok(Scanned { tokens })
}

/// The name of the first operation written in `text`, if it has one: for
/// a document that parsed with a single operation, that operation's name
/// (the parser does not keep it). Only a name token right after the
/// keyword that opens a definition counts, so comments, variables and
/// fragments named like keywords are never taken for it.
pub fn first_operation_name(text: &str) -> Option<&str> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut depth = 0usize;
    let mut opens_definition = true;
    while let Some((token, span)) = scanner.next_spanned() {
        match token {
            Token::Open(_) => depth += 1,
            Token::Close(_) => depth = depth.saturating_sub(1),
            Token::Name if depth == 0 && opens_definition => {
                if matches!(text.get(span)?, "query" | "mutation" | "subscription") {
                    return match scanner.next_spanned()? {
                        (Token::Name, name) => text.get(name),
                        _ => None,
                    };
                }
            }
            _ => {}
        }
        opens_definition = depth == 0 && matches!(token, Token::Close(_));
    }
    None
}

/// A cursor over the document's bytes that skips what is not a token.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    /// The next token and where it is in the text.
    fn next_spanned(&mut self) -> Option<(Token, Range<usize>)> {
        self.skip_ignored();
        let start = self.at;
        let token = self.next_token()?;
        Some((token, start..self.at))
    }

    /// The next token, or `None` at the end (or where the text stops being
    /// GraphQL the scan can follow).
    fn next_token(&mut self) -> Option<Token> {
        self.skip_ignored();
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        let token = match byte {
            b'{' => Token::Open(b'}'),
            b'[' => Token::Open(b']'),
            b'(' => Token::Open(b')'),
            b'}' | b']' | b')' => Token::Close(byte),
            b':' => Token::Colon,
            b'@' => Token::At,
            b'"' => {
                self.string()?;
                Token::Other
            }
            b'.' => {
                self.skip_while(|b| b == b'.');
                Token::Other
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                self.skip_while(|b| b == b'_' || b.is_ascii_alphanumeric());
                Token::Name
            }
            b'-' | b'0'..=b'9' => {
                self.skip_while(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_')
                });
                Token::Other
            }
            _ => Token::Other,
        };
        Some(token)
    }

    /// Skips whitespace, commas, a byte order mark and comments.
    fn skip_ignored(&mut self) {
        while let Some(&byte) = self.bytes.get(self.at) {
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.at += 1,
                b'#' => self.skip_while(|b| b != b'\n' && b != b'\r'),
                0xEF if self.bytes[self.at..].starts_with(&[0xEF, 0xBB, 0xBF]) => self.at += 3,
                _ => return,
            }
        }
    }

    fn skip_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.bytes.get(self.at).is_some_and(|&b| keep(b)) {
            self.at += 1;
        }
    }

    /// The rest of a string after its opening quote: a block string
    /// (`"""…"""`, where only `\"""` is an escape) or a plain one (ending
    /// at its line). `None` when it does not end: the parser stops there.
    fn string(&mut self) -> Option<()> {
        let rest = &self.bytes[self.at..];
        if rest.starts_with(b"\"\"") {
            self.at += 2;
            return self.block_string();
        }
        while let Some(&byte) = self.bytes.get(self.at) {
            self.at += 1;
            match byte {
                b'"' => return Some(()),
                b'\\' => self.at += 1,
                b'\n' | b'\r' => return None,
                _ => {}
            }
        }
        None
    }

    fn block_string(&mut self) -> Option<()> {
        loop {
            let rest = self.bytes.get(self.at..)?;
            if rest.starts_with(b"\\\"\"\"") {
                self.at += 4;
            } else if rest.starts_with(b"\"\"\"") {
                self.at += 3;
                return Some(());
            } else if rest.is_empty() {
                return None;
            } else {
                self.at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ScanLimits = ScanLimits {
        tokens: 100,
        nesting: 4,
        arguments: 3,
        directives: 2,
        literal_bytes: 40,
    };

    fn refused(text: &str) -> String {
        match scan(text, &LIMITS) {
            Err(exceeded) => exceeded.to_string(),
            Ok(scanned) => panic!("{text:?} passed: {scanned:?}"),
        }
    }

    fn tokens(text: &str) -> usize {
        scan(text, &LIMITS)
            .unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
            .tokens
    }

    #[test]
    fn tokens_are_counted_without_whitespace_commas_and_comments() {
        assert_eq!(tokens("{ a, b # c d e\n }"), 4);
        assert_eq!(tokens("query Q($v: Int = -1.5e3) { ...F }"), 14);
        assert_eq!(tokens("\u{feff}{ a }"), 3);
        assert!(refused(&"{ a }".repeat(34)).contains("100 tokens"));
    }

    #[test]
    fn no_token_is_longer_than_the_literal_limit() {
        let at_limit = format!("{{ a(x: \"{}\") }}", "x".repeat(38));
        assert_eq!(tokens(&at_limit), 8);
        for long in [
            format!("{{ a(x: \"{}\") }}", "x".repeat(39)),
            format!("{{ a(x: \"\"\"{}\"\"\") }}", "x".repeat(40)),
            format!("{{ a(x: {}) }}", "9".repeat(41)),
            format!("{{ {} }}", "n".repeat(41)),
        ] {
            assert!(refused(&long).contains("longer than 40 bytes"), "{long}");
        }
    }

    #[test]
    fn every_bracket_kind_counts_toward_nesting() {
        assert_eq!(tokens("{ a(x: [{y: 1}]) }"), 14);
        for deep in [
            "{ a { b { c { d { e } } } } }",
            "{ a(x: [[[1]]]) }",
            "{ a(x: {b: {c: {d: 1}}}) }",
            "{ a @skip(if: [[[true]]]) }",
            "query($v: Int = [[[[1]]]]) { a }",
        ] {
            assert!(refused(deep).contains("4 levels"), "{deep}");
        }
    }

    #[test]
    fn brackets_inside_strings_block_strings_and_comments_do_not_count() {
        assert_eq!(tokens(r#"{ a(x: "[[[[[[", y: "\"{{{{{{") }"#), 11);
        assert_eq!(tokens("{ a(x: \"\"\" [[[[[ \\\"\"\" {{{{{ \"\"\") }"), 8);
        assert_eq!(tokens("{ a # [[[[[[[\n }"), 3);
    }

    #[test]
    fn the_scan_stops_where_the_parser_would() {
        // The parser fails at the line break or the wrong bracket, before
        // any of the nesting after it.
        scan("{ a(x: \"open\n[[[[[[[[[[ ) }", &LIMITS).expect("stops at the line break");
        scan("{ a(x: [ ) [[[[[[[[[[[[", &LIMITS).expect("stops at the wrong bracket");
        scan("{ a(x: \"\"\" never closed [[[[[[[", &LIMITS).expect("stops at the end");
    }

    #[test]
    fn arguments_and_variables_are_counted_per_list() {
        assert_eq!(tokens("{ a(x: 1, y: 2, z: 3) b(x: 1, y: 2, z: 3) }"), 26);
        assert!(refused("{ a(w: 1, x: 2, y: 3, z: 4) }").contains("3 arguments"));
        assert!(refused("query($a: Int, $b: Int, $c: Int, $d: Int) { a }").contains("3 arguments"));
        assert!(refused("{ a @include(if: true, a: 1, b: 2, c: 3) }").contains("3 arguments"));
        // Object fields are not arguments.
        tokens("{ a(x: {p: 1, q: 2, r: 3, s: 4}) }");
    }

    #[test]
    fn the_operation_name_is_the_name_after_the_keyword_of_a_definition() {
        for (text, name) in [
            ("query Runtime($a: Int) { x }", Some("Runtime")),
            ("  mutation Save{ x }", Some("Save")),
            ("# query Commented\nsubscription\n,Live { x }", Some("Live")),
            (
                "fragment query on Q { a } query Named { ...query }",
                Some("Named"),
            ),
            ("fragment F on Q { query } { ...F }", None),
            ("query($p:UUID!,$c:String!) { x }", None),
            ("query @dir { x }", None),
            ("{ viewer { id } }", None),
        ] {
            assert_eq!(first_operation_name(text), name, "{text}");
        }
    }

    #[test]
    fn directives_are_counted_per_location_everywhere() {
        tokens("{ a @x @y b @x(i: 1) @y(j: [1]) }");
        for many in [
            "{ a @x @y @z }",
            "{ a @x(i: 1) @y(j: {k: 2}) @z }",
            "query Q @x @y @z { a }",
            "fragment F on Q @x @y @z { a }",
            "{ ...F @x @y @z }",
            "{ ... @x @y @z { a } }",
            "query($v: Int @x @y @z) { a }",
        ] {
            assert!(refused(many).contains("2 directives"), "{many}");
        }
    }
}

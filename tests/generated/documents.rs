//! Grammar-aware generation of GraphQL requests from the real schema: a
//! well-formed operation (real fields and arguments, values of every
//! type), then mutations that push one dimension to its extreme: nesting
//! of selections, of list and object values (in arguments, directive
//! arguments, variable defaults and the variables' JSON), fragments with
//! many spreads, arguments, directives and aliases in bulk, odd values
//! (huge numbers, far dates, NUL and control characters, long strings),
//! cut or corrupted text, and padding up to and past the body limit.
//! Pure: the same seed gives the same requests.

use serde_json::{json, Map, Value};

use crate::schema::{Arg, Field, Kind, Schema, Ty};

/// What the server's data holds that generated values aim at, so requests
/// reach real rows.
#[derive(Clone, Debug)]
pub(crate) struct Targets {
    pub agents: Vec<String>,
    pub projects: Vec<String>,
    /// The project the harness filled with many long unanalyzed signals.
    pub heavy_project: String,
}

/// One GraphQL request before it is put on a transport.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub query: String,
    /// JSON text: it may be nested deeper than `serde_json` builds values.
    pub variables: String,
    pub operation_name: Option<String>,
    /// JSON text, as `variables`.
    pub extensions: Option<String>,
}

impl Request {
    /// The POST body: JSON text.
    pub(crate) fn body(&self) -> String {
        let mut body = format!(
            "{{\"query\": {}, \"variables\": {}",
            json!(self.query),
            self.variables
        );
        if let Some(name) = &self.operation_name {
            body += &format!(", \"operationName\": {}", json!(name));
        }
        if let Some(extensions) = &self.extensions {
            body += &format!(", \"extensions\": {extensions}");
        }
        body.push('}');
        body
    }
}

pub(crate) struct Generator<'a> {
    pub rng: fastrand::Rng,
    schema: &'a Schema,
    targets: &'a Targets,
    /// Bytes a request may take (the server's body limit).
    budget: usize,
    /// Documents sent before, whose hashes a persisted query may reuse.
    sent: Vec<String>,
}

/// Heavy selections of a project: each answer grows with the data.
const HEAVY_PROJECT_FIELDS: &[&str] = &[
    "diContext(signalsLimit: 500) { unanalyzedSignals { content } }",
    "diContext(signalsLimit: 100) { unanalyzedSignals { id content source } }",
    "signals(first: 100) { nodes { content } }",
    "readiness { score status blockers }",
];

impl<'a> Generator<'a> {
    pub(crate) fn new(seed: u64, schema: &'a Schema, targets: &'a Targets, budget: usize) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            schema,
            targets,
            budget,
            sent: Vec::new(),
        }
    }

    /// A size between 1 and `max`, log-uniform (every order of magnitude
    /// as likely), `max` itself now and then.
    pub(crate) fn size(&mut self, max: usize) -> usize {
        let max = max.max(1);
        if self.rng.u8(..10) == 0 {
            return max;
        }
        let exponent = self.rng.f64() * (max as f64).log10();
        (10f64.powf(exponent) as usize).clamp(1, max)
    }

    /// A nesting depth: mostly between 128 and 4,096 levels, where parsers
    /// and recursive walks give out (the exact depth moves with the build's
    /// stack frames: a debug build overflows from about 250 levels of list
    /// values, a release build from about 1,200), else anything the body
    /// holds.
    fn depth(&mut self, max: usize) -> usize {
        if self.rng.u8(..10) < 7 {
            let exponent = 7.0 + self.rng.f64() * 5.0;
            (2f64.powf(exponent) as usize).min(max)
        } else {
            self.size(max)
        }
    }

    pub(crate) fn request(&mut self) -> Request {
        // The families that push the front door and the answer size get
        // twice the weight: they are where faults hide.
        let mut request = match self.rng.u8(..21) {
            0..=3 => self.operation(),
            4 | 5 => self.deep_selection(),
            6 | 7 | 20 => self.deep_value(),
            8 | 9 => self.fragment_flood(),
            10 => self.argument_flood(),
            11 => self.directive_flood(),
            12 => self.alias_flood(),
            13 => self.variable_flood(),
            14 => self.many_operations(),
            15 => self.corrupted(),
            16 => self.long_names(),
            17 => self.padded(),
            _ => self.heavy_answer(),
        };
        if self.rng.u8(..8) == 0 {
            self.persisted(&mut request);
        }
        self.sent.push(request.query.clone());
        if self.sent.len() > 64 {
            self.sent.remove(0);
        }
        request
    }

    /// A well-formed operation over real fields, arguments and values.
    pub(crate) fn operation(&mut self) -> Request {
        let (keyword, root) = match self.rng.u8(..20) {
            0..=14 => ("query", "Query"),
            15..=18 => ("mutation", "Mutation"),
            _ => ("subscription", "Subscription"),
        };
        let mut variables = Variables::default();
        let roots = self.schema.fields(root).to_vec();
        let mut selection = String::new();
        for _ in 0..self.rng.usize(1..=3) {
            let field = &roots[self.rng.usize(..roots.len())];
            let depth = 1 + self.rng.usize(..5);
            selection += &self.field(field, depth, &mut variables);
            selection.push(' ');
        }
        let name = format!("Op{}", self.rng.u16(..));
        Request {
            query: format!(
                "{keyword} {name}{} {{ {selection}}}",
                variables.definitions()
            ),
            variables: variables.values.to_string(),
            operation_name: self.rng.bool().then_some(name),
            extensions: None,
        }
    }

    fn field(&mut self, field: &Field, depth: usize, variables: &mut Variables) -> String {
        let mut text = String::new();
        if self.rng.u8(..6) == 0 {
            text += &format!("a{}: ", self.rng.u16(..));
        }
        text += &field.name;
        let mut args = Vec::new();
        for arg in &field.args {
            if (arg.ty.required && !arg.has_default) || self.rng.bool() {
                args.push(format!("{}: {}", arg.name, self.argument(arg, variables)));
            }
        }
        if !args.is_empty() {
            text += &format!("({})", args.join(", "));
        }
        if self.rng.u8(..10) == 0 {
            text += [
                " @include(if: true)",
                " @skip(if: false)",
                " @skip(if: true)",
            ][self.rng.usize(..3)];
        }
        if !self.schema.is_leaf(&field.ty.name) {
            text += &format!(
                " {{ {} }}",
                self.selection(&field.ty.name, depth, variables)
            );
        }
        text
    }

    fn selection(&mut self, type_name: &str, depth: usize, variables: &mut Variables) -> String {
        let fields = self.schema.fields(type_name).to_vec();
        let mut parts = vec!["__typename".to_owned()];
        for _ in 0..self.rng.usize(1..=4) {
            let field = &fields[self.rng.usize(..fields.len())];
            if self.schema.is_leaf(&field.ty.name) || depth > 0 {
                parts.push(self.field(field, depth.saturating_sub(1), variables));
            }
        }
        parts.join(" ")
    }

    /// An argument's value: a literal, or a variable holding a JSON value.
    fn argument(&mut self, arg: &Arg, variables: &mut Variables) -> String {
        if self.rng.u8(..3) == 0 {
            let value = self.json_value(&arg.ty, 0);
            return variables.add(&arg.ty, value);
        }
        self.literal(&arg.ty, 0)
    }

    fn literal(&mut self, ty: &Ty, lists_done: usize) -> String {
        if lists_done < ty.lists {
            let items: Vec<String> = (0..self.rng.usize(..3))
                .map(|_| self.literal(ty, lists_done + 1))
                .collect();
            return format!("[{}]", items.join(", "));
        }
        match self.schema.kind(&ty.name) {
            Kind::Enum(values) => {
                if self.rng.u8(..8) == 0 {
                    "NOT_A_VALUE".to_owned()
                } else {
                    values[self.rng.usize(..values.len())].clone()
                }
            }
            Kind::Input(fields) => {
                let fields = fields.clone();
                let mut parts = Vec::new();
                for f in &fields {
                    if f.ty.required || self.rng.bool() {
                        parts.push(format!("{}: {}", f.name, self.literal(&f.ty, 0)));
                    }
                }
                format!("{{ {} }}", parts.join(", "))
            }
            _ => match self.scalar(&ty.name) {
                Value::String(text) => graphql_string(&text),
                other => other.to_string(),
            },
        }
    }

    fn json_value(&mut self, ty: &Ty, lists_done: usize) -> Value {
        if lists_done < ty.lists {
            return Value::Array(
                (0..self.rng.usize(..3))
                    .map(|_| self.json_value(ty, lists_done + 1))
                    .collect(),
            );
        }
        match self.schema.kind(&ty.name) {
            Kind::Enum(values) => json!(values[self.rng.usize(..values.len())]),
            Kind::Input(fields) => {
                let fields = fields.clone();
                let mut object = Map::new();
                for f in &fields {
                    if f.ty.required || self.rng.bool() {
                        object.insert(f.name.clone(), self.json_value(&f.ty, 0));
                    }
                }
                Value::Object(object)
            }
            _ => self.scalar(&ty.name),
        }
    }

    /// A value for a scalar: usually right for the type and the data,
    /// sometimes extreme, sometimes of another type.
    fn scalar(&mut self, name: &str) -> Value {
        if self.rng.u8(..10) == 0 {
            return self.odd_value();
        }
        match name {
            "Int" => json!([0, 1, 5, 20, 100, 101, 500, -1][self.rng.usize(..8)]),
            "Float" => json!([0.0, 0.5, 1.0, 2.5][self.rng.usize(..4)]),
            "Boolean" => json!(self.rng.bool()),
            "UUID" => json!(self.pick(&self.targets.projects.clone())),
            "DateTime" => json!(
                [
                    "2026-10-01T09:00:00Z",
                    "-4800-01-01T00:00:00Z",
                    "+275760-09-13T00:00:00Z",
                    "2026-02-30T25:61:61Z"
                ][self.rng.usize(..4)]
            ),
            "JSON" => {
                let depth = self.rng.usize(..4);
                self.deep_json(depth)
            }
            _ => {
                if self.rng.bool() {
                    json!(self.pick(&self.targets.agents.clone()))
                } else {
                    json!(self.odd_string())
                }
            }
        }
    }

    /// Huge numbers, far dates, odd strings and deep JSON: what a careless
    /// or hostile client sends.
    pub(crate) fn odd_value(&mut self) -> Value {
        match self.rng.u8(..9) {
            0 => json!(i64::MAX),
            1 => json!(u64::MAX),
            2 => json!(1e308),
            3 => json!(-2147483649i64),
            4 => serde_json::from_str("123456789012345678901234567890").unwrap_or(json!(0)),
            5 => json!("-4800-01-01T00:00:00Z"),
            6 => {
                let depth = self.depth(100);
                self.deep_json(depth)
            }
            7 => json!(null),
            _ => json!(self.odd_string()),
        }
    }

    /// NUL, control characters, lone surrogates' neighbours, right-to-left
    /// marks, long runs: strings that break careless code.
    pub(crate) fn odd_string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "\0",
            "\u{1}",
            "\u{7f}",
            "\u{8}",
            "\r\n",
            "\t",
            "\u{202e}",
            "\u{feff}",
            "é",
            "👩‍👩‍👧",
            "\"",
            "\\",
            "'; --",
            "%00",
            "${x}",
            "{{x}}",
            "a",
            " ",
        ];
        let pieces = self.size(64);
        let mut text: String = (0..pieces)
            .map(|_| PIECES[self.rng.usize(..PIECES.len())])
            .collect();
        if self.rng.u8(..8) == 0 {
            let long = self.size(self.budget / 4);
            text += &"x".repeat(long);
        }
        text
    }

    fn deep_json(&mut self, depth: usize) -> Value {
        (0..depth).fold(json!(1), |inner, i| {
            if i % 2 == 0 {
                json!([inner])
            } else {
                json!({ "a": inner })
            }
        })
    }

    fn pick(&mut self, items: &[String]) -> String {
        items[self.rng.usize(..items.len())].clone()
    }

    /// `{ a { a { ... } } }` as deep as the body allows.
    fn deep_selection(&mut self) -> Request {
        let depth = self.depth(self.budget / 4);
        let field = ["agent", "a", "circles", "__typename"][self.rng.usize(..4)];
        let mut query = "{ ".to_owned();
        for _ in 0..depth {
            query += field;
            query += " { ";
        }
        query += "id";
        query += &" }".repeat(depth + 1);
        plain(query)
    }

    /// A list or object value nested as deep as the body allows, in one
    /// of the places a value can be: an argument, a directive argument, a
    /// variable's default, the variables' JSON, the extensions' JSON.
    fn deep_value(&mut self) -> Request {
        let depth = self.depth(self.budget / 6);
        let list = self.rng.bool();
        let value = if list {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth))
        };
        let json_text = if list {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("{}1{}", "{\"a\": ".repeat(depth), "}".repeat(depth))
        };
        let field = "agent(name: \"discovery-intelligence\") { name }";
        match self.rng.u8(..9) {
            0..=2 => plain(format!("{{ agent(name: {value}) {{ name }} }}")),
            3 | 4 => plain(format!(
                "{{ agent(name: \"discovery-intelligence\") @include(if: {value}) {{ name }} }}"
            )),
            5 | 6 => plain(format!("query ($v: String = {value}) {{ {field} }}")),
            7 => Request {
                query: format!("query ($v: JSON) {{ {field} }}"),
                variables: format!("{{\"v\": {json_text}}}"),
                operation_name: None,
                extensions: None,
            },
            _ => Request {
                extensions: Some(format!("{{\"x\": {json_text}}}")),
                ..plain(format!("{{ {field} }}"))
            },
        }
    }

    /// One fragment holding the same field twice with many arguments,
    /// spread by many other fragments (or a chain of fragments each
    /// spreading the one before twice).
    fn fragment_flood(&mut self) -> Request {
        let arguments = self.size(self.budget / 40);
        let args: Vec<String> = (0..arguments).map(|i| format!("a{i}: {i}")).collect();
        let args = args.join(", ");
        let mut query = format!(
            "fragment F on Query {{ agent(name: \"x\", {args}) {{ name }} agent(name: \"x\", {args}) {{ name }} }}\n"
        );
        let room = self.budget.saturating_sub(query.len()) / 40;
        let spreads = self.size(room.max(1));
        let chain = self.rng.bool();
        for i in 0..spreads {
            let inner = if chain && i > 0 {
                format!("...G{} ...G{}", i - 1, i - 1)
            } else {
                "...F".to_owned()
            };
            query += &format!("fragment G{i} on Query {{ {inner} }}\n");
        }
        let top: Vec<String> = if chain {
            vec![format!("...G{}", spreads - 1)]
        } else {
            (0..spreads).map(|i| format!("...G{i}")).collect()
        };
        query += &format!("{{ {} }}", top.join(" "));
        plain(query)
    }

    /// One field with many arguments: the same name again and again, or
    /// all different.
    fn argument_flood(&mut self) -> Request {
        let count = self.size(self.budget / 12);
        let same = self.rng.bool();
        let args: Vec<String> = (0..count)
            .map(|i| {
                if same {
                    "name: \"x\"".to_owned()
                } else {
                    format!("a{i}: {i}")
                }
            })
            .collect();
        plain(format!("{{ agent({}) {{ name }} }}", args.join(", ")))
    }

    fn directive_flood(&mut self) -> Request {
        let count = self.size(self.budget / 20);
        let directive = [
            "@include(if: true)",
            "@skip(if: false)",
            "@unknown",
            "@deprecated(reason: \"x\")",
            "@skip(if: true, if: false)",
        ][self.rng.usize(..5)];
        let directives = vec![directive; count].join(" ");
        plain(format!(
            "query ($v: Int = 1 {directives}) {{ agent(name: \"discovery-intelligence\") {directives} {{ name {directives} }} }}"
        ))
    }

    /// Many aliases of a field, a heavy one now and then.
    fn alias_flood(&mut self) -> Request {
        let count = self.size(self.budget / 60);
        let field = [
            "agents(first: 100) { nodes { name tools { name config } } }",
            "circles { nodes { members { agent { name systemPrompt } } } }",
            "agent(name: \"discovery-intelligence\") { systemPrompt basePrompt }",
            "__typename",
        ][self.rng.usize(..4)];
        let aliases: Vec<String> = (0..count).map(|i| format!("a{i}: {field}")).collect();
        plain(format!("{{ {} }}", aliases.join(" ")))
    }

    /// What a frontend asks for, multiplied: aliases of a project's
    /// heavy selections, spread through fragments.
    fn heavy_answer(&mut self) -> Request {
        let aliases = self.size(60);
        let field = HEAVY_PROJECT_FIELDS[self.rng.usize(..HEAVY_PROJECT_FIELDS.len())];
        let copies: Vec<String> = (0..aliases).map(|i| format!("h{i}: {field}")).collect();
        let spreads = self.size(4);
        let top: Vec<String> = (0..spreads).map(|_| "...P".to_owned()).collect();
        Request {
            query: format!(
                "query ($p: UUID!) {{ project(id: $p) {{ {} }} }} fragment P on Project {{ {} }}",
                top.join(" "),
                copies.join(" ")
            ),
            variables: json!({ "p": self.targets.heavy_project }).to_string(),
            operation_name: None,
            extensions: None,
        }
    }

    /// Many variables of every type, each with an odd value.
    fn variable_flood(&mut self) -> Request {
        let count = self.size(self.budget / 200);
        let types = [
            "Int",
            "Float",
            "String",
            "Boolean",
            "ID",
            "UUID",
            "DateTime",
            "JSON",
            "[Int!]!",
            "AgentStatus",
            "AddSignalInput",
        ];
        let mut definitions = Vec::new();
        let mut values = Map::new();
        for i in 0..count {
            let ty = types[self.rng.usize(..types.len())];
            definitions.push(format!("$v{i}: {ty}"));
            values.insert(format!("v{i}"), self.odd_value());
        }
        Request {
            query: format!(
                "query ({}) {{ agent(name: \"discovery-intelligence\") {{ name }} }}",
                definitions.join(", ")
            ),
            variables: Value::Object(values).to_string(),
            operation_name: None,
            extensions: None,
        }
    }

    fn many_operations(&mut self) -> Request {
        let count = self.size(self.budget / 40);
        let operations: Vec<String> = (0..count)
            .map(|i| format!("query Q{} {{ __typename }}", i % (count / 2 + 1)))
            .collect();
        Request {
            operation_name: self
                .rng
                .bool()
                .then(|| format!("Q{}", self.rng.usize(..count))),
            ..plain(operations.join("\n"))
        }
    }

    /// A well-formed operation cut short, or with bytes replaced.
    fn corrupted(&mut self) -> Request {
        let mut request = self.operation();
        let mut bytes: Vec<char> = request.query.chars().collect();
        if self.rng.bool() {
            bytes.truncate(self.rng.usize(..=bytes.len()));
        } else {
            const NOISE: &[char] = &[
                '{', '}', '(', ')', '[', ']', '"', '$', '@', '.', '\0', '\u{1b}', '#', '\\', ':',
                '!', '…',
            ];
            for _ in 0..self.size(16) {
                if bytes.is_empty() {
                    break;
                }
                let at = self.rng.usize(..bytes.len());
                bytes[at] = NOISE[self.rng.usize(..NOISE.len())];
            }
        }
        request.query = bytes.into_iter().collect();
        request
    }

    fn long_names(&mut self) -> Request {
        let length = self.size(self.budget / 2);
        let name = "n".repeat(length);
        match self.rng.u8(..4) {
            0 => plain(format!("query {name} {{ __typename }}")),
            1 => plain(format!("{{ {name}: __typename }}")),
            2 => plain(format!("{{ {name} }}")),
            _ => plain(format!("query (${name}: Int) {{ __typename }}")),
        }
    }

    /// A well-formed operation padded with ignored tokens to about the body
    /// limit, or just past it.
    fn padded(&mut self) -> Request {
        let mut request = self.operation();
        let target = if self.rng.bool() {
            self.budget.saturating_sub(1024)
        } else {
            self.budget + self.rng.usize(1..4096)
        };
        let filler = [" ", ",", "\n", "# comment\n"][self.rng.usize(..4)];
        let count = target.saturating_sub(request.query.len()) / filler.len();
        request.query = format!("{}{}", filler.repeat(count), request.query);
        request
    }

    /// Apollo's persisted-query extension: the right hash, a random one,
    /// or the hash of an earlier document; with or without the document.
    fn persisted(&mut self, request: &mut Request) {
        let hash = match self.rng.u8(..4) {
            0 => sha256_hex(&request.query),
            1 if !self.sent.is_empty() => sha256_hex(&self.pick(&self.sent.clone())),
            2 => "0".repeat(64),
            _ => format!("{:x}", self.rng.u128(..)),
        };
        let version = vec![json!(1), json!(1), json!(2), json!("1"), json!(null)]
            .swap_remove(self.rng.usize(..5));
        request.extensions = Some(
            json!({ "persistedQuery": { "version": version, "sha256Hash": hash } }).to_string(),
        );
        if self.rng.bool() {
            request.query.clear();
        }
    }
}

/// Variables an operation declares, with their values.
#[derive(Default)]
struct Variables {
    definitions: Vec<String>,
    values: Value,
}

impl Variables {
    fn add(&mut self, ty: &Ty, value: Value) -> String {
        let name = format!("v{}", self.definitions.len());
        self.definitions.push(format!("${name}: {}", ty.written()));
        if !self.values.is_object() {
            self.values = json!({});
        }
        self.values[&name] = value;
        format!("${name}")
    }

    fn definitions(&self) -> String {
        if self.definitions.is_empty() {
            String::new()
        } else {
            format!("({})", self.definitions.join(", "))
        }
    }
}

fn plain(query: String) -> Request {
    Request {
        query,
        variables: "{}".to_owned(),
        operation_name: None,
        extensions: None,
    }
}

/// A GraphQL string literal: printable characters as they are, the rest
/// escaped (a raw control character is a syntax error, not an odd value).
pub(crate) fn graphql_string(text: &str) -> String {
    let mut literal = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => literal += "\\\"",
            '\\' => literal += "\\\\",
            c if c.is_control() => literal += &format!("\\u{:04x}", c as u32),
            c => literal.push(c),
        }
    }
    literal.push('"');
    literal
}

pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

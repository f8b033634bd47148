//! A generated case: one request or sequence on one transport (HTTP POST
//! or GET, raw bytes over TCP, a WebSocket), serialisable so a failing
//! case is written to a file and replayed as it was.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::documents::{Generator, Request};

/// Who a case claims to be.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Auth {
    Anonymous,
    Admin,
    User,
    /// Three dots of base64-looking noise.
    Garbage,
    /// An unsigned token (`alg: none`).
    AlgNone,
    /// Signed with the right secret, expiring after the end of time.
    HugeExpiry,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Case {
    Post {
        auth: Auth,
        content_type: String,
        accept: Option<String>,
        body: String,
    },
    Get {
        auth: Auth,
        accept: Option<String>,
        /// After `/graphql?`.
        query_string: String,
    },
    /// Bytes written as they are, `pause_ms` apart; `complete` when the
    /// last request in them is whole (the server must answer and close),
    /// else the server must give up on the connection within the request
    /// timeout.
    Raw {
        chunks: Vec<String>,
        pause_ms: u64,
        complete: bool,
    },
    WebSocket {
        protocol: String,
        /// The `connection_init` payload's token, or no `connection_init`.
        init: Option<Auth>,
        messages: Vec<WsMessage>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub(crate) enum WsMessage {
    Text(String),
    /// A `subscribe` message padded to this many bytes (made when sent).
    Big(usize),
    Binary(Vec<u8>),
}

impl Case {
    /// Whether the case waits on the server's timeouts (it is run beside
    /// the others, not in line).
    pub(crate) fn is_slow(&self) -> bool {
        match self {
            Case::Raw {
                pause_ms, complete, ..
            } => *pause_ms > 0 || !complete,
            Case::WebSocket { init, messages, .. } => init.is_none() && messages.is_empty(),
            _ => false,
        }
    }
}

/// Cases from one seeded stream of requests.
pub(crate) struct CaseGenerator<'a> {
    pub documents: Generator<'a>,
    budget: usize,
}

impl<'a> CaseGenerator<'a> {
    pub(crate) fn new(documents: Generator<'a>, budget: usize) -> Self {
        Self { documents, budget }
    }

    pub(crate) fn case(&mut self) -> Case {
        match self.documents.rng.u8(..20) {
            0..=11 => self.post(),
            12..=14 => self.get(),
            15..=17 => self.raw(),
            _ => self.websocket(),
        }
    }

    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.documents.rng
    }

    fn auth(&mut self) -> Auth {
        match self.rng().u8(..40) {
            0..=19 => Auth::Admin,
            20..=29 => Auth::Anonymous,
            30..=36 => Auth::User,
            37 => Auth::Garbage,
            38 => Auth::AlgNone,
            _ => Auth::HugeExpiry,
        }
    }

    fn accept(&mut self) -> Option<String> {
        [
            None,
            Some("application/json"),
            Some("application/graphql-response+json"),
            Some("text/html"),
            Some("image/png, */*;q=0.1"),
        ][self.rng().usize(..5)]
        .map(str::to_owned)
    }

    fn post(&mut self) -> Case {
        let request = self.documents.request();
        let content_type = match self.rng().u8(..32) {
            0 => "text/plain",
            1 => "application/json; charset=latin1",
            2 => "application/graphql",
            _ => "application/json",
        };
        let body = match self.rng().u8(..32) {
            0 => self.documents.odd_string(),
            1 => format!("[{}]", request.body()),
            2 => json!(request.query).to_string(),
            _ => request.body(),
        };
        Case::Post {
            auth: self.auth(),
            content_type: content_type.to_owned(),
            accept: self.accept(),
            body,
        }
    }

    fn get(&mut self) -> Case {
        let request = self.documents.request();
        Case::Get {
            auth: self.auth(),
            accept: self.accept(),
            query_string: query_string(&request),
        }
    }

    /// Raw HTTP/1.1: pipelined requests, cut headers, slow bodies, bogus
    /// `Content-Length`, odd header bytes.
    fn raw(&mut self) -> Case {
        let body = self.documents.request().body();
        let head = |length: &str, extra: &str| {
            format!(
                "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
            )
        };
        let length = body.len().to_string();
        match self.rng().u8(..6) {
            0 => {
                let count = self.documents.size(32);
                let mut chunk = String::new();
                for i in 0..count {
                    let close = if i + 1 == count {
                        "Connection: close\r\n"
                    } else {
                        ""
                    };
                    chunk += &head(&length, close);
                    chunk += &body;
                }
                Case::Raw {
                    chunks: vec![chunk],
                    pause_ms: 0,
                    complete: true,
                }
            }
            1 => {
                let whole = head(&length, "");
                let cut = self.rng().usize(1..whole.len());
                Case::Raw {
                    chunks: vec![whole[..cut].to_owned()],
                    pause_ms: 0,
                    complete: false,
                }
            }
            2 => {
                let pieces = self.documents.size(8);
                let mut chunks = vec![head(&length, "Connection: close\r\n")];
                let step = body.len().div_ceil(pieces).max(1);
                let bytes: Vec<char> = body.chars().collect();
                chunks.extend(bytes.chunks(step).map(|c| c.iter().collect::<String>()));
                let pause_ms = 100 + self.rng().u64(..900);
                Case::Raw {
                    chunks,
                    pause_ms,
                    complete: true,
                }
            }
            3 => {
                let bogus = [
                    "99999999999999999999999",
                    "-1",
                    "1, 2",
                    "0x10",
                    " 5",
                    "",
                    &(body.len() + 10).to_string(),
                ][self.rng().usize(..7)]
                .to_owned();
                let complete = bogus.parse::<usize>().is_ok_and(|n| n <= body.len());
                Case::Raw {
                    chunks: vec![head(&bogus, "Connection: close\r\n") + &body],
                    pause_ms: 0,
                    complete,
                }
            }
            4 => {
                let odd = self.documents.odd_string().replace(['\r', '\n'], " ");
                let header = format!("X-Odd: {odd}\r\nConnection: close\r\n");
                Case::Raw {
                    chunks: vec![head(&length, &header) + &body],
                    pause_ms: 0,
                    complete: true,
                }
            }
            _ => {
                let size = self.documents.size(64 * 1024);
                let header = format!("X-Big: {}\r\nConnection: close\r\n", "h".repeat(size));
                Case::Raw {
                    chunks: vec![head(&length, &header) + &body],
                    pause_ms: 0,
                    complete: true,
                }
            }
        }
    }

    /// graphql-transport-ws and graphql-ws sequences: with or without
    /// `connection_init`, subscribe before it, many subscriptions, huge
    /// and garbage messages.
    fn websocket(&mut self) -> Case {
        let protocol = ["graphql-transport-ws", "graphql-ws"][self.rng().usize(..2)].to_owned();
        if self.rng().u8(..4) == 0 {
            return Case::WebSocket {
                protocol,
                init: None,
                messages: Vec::new(),
            };
        }
        let init = (self.rng().u8(..6) != 0).then(|| self.auth());
        let start = if protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        let mut messages = Vec::new();
        for _ in 0..self.documents.size(12) {
            let message = match self.rng().u8(..10) {
                0..=5 => {
                    let request = self.documents.request();
                    let id = self.rng().u16(..20);
                    WsMessage::Text(format!(
                        "{{\"id\": \"{id}\", \"type\": \"{start}\", \"payload\": {}}}",
                        request.body()
                    ))
                }
                6 => {
                    let sizes = [self.budget + 1, 4 * self.budget, 12 << 20, 64 << 20];
                    WsMessage::Big(sizes[self.rng().usize(..sizes.len())])
                }
                7 => WsMessage::Binary(
                    (0..self.documents.size(256))
                        .map(|_| self.rng().u8(..))
                        .collect(),
                ),
                8 => WsMessage::Text(self.documents.odd_string()),
                _ => WsMessage::Text(
                    [
                        "{\"type\": \"connection_init\"}",
                        "{\"type\": \"ping\"}",
                        "{\"type\": \"complete\", \"id\": \"1\"}",
                        "{\"type\": 1}",
                        "[]",
                        "null",
                    ][self.rng().usize(..6)]
                    .to_owned(),
                ),
            };
            messages.push(message);
        }
        Case::WebSocket {
            protocol,
            init,
            messages,
        }
    }
}

/// The GET form of a request: `query`, `variables`, `operationName` and
/// `extensions` as URL parameters.
fn query_string(request: &Request) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("query", &request.query);
    query.append_pair("variables", &request.variables);
    if let Some(name) = &request.operation_name {
        query.append_pair("operationName", name);
    }
    if let Some(extensions) = &request.extensions {
        query.append_pair("extensions", extensions);
    }
    query.finish()
}

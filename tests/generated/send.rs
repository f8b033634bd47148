//! Putting a case on the wire and recording what came back: every status,
//! every byte of text the server sent, and whether it answered (or let go
//! of the connection) within the bound.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::{
    client::IntoClientRequest, protocol::WebSocketConfig, Message,
};

use crate::{
    cases::{Auth, Case, WsMessage},
    server::{Server, SECRET},
};

/// What the server did with one case.
#[derive(Debug, Default)]
pub(crate) struct Observation {
    pub statuses: Vec<u16>,
    /// Every body, frame and close reason, as text.
    pub text: String,
    /// Set when the server neither answered nor let go within the bound.
    pub late: Option<String>,
}

/// Where and as whom to send, copied out of the [`Server`] so slow cases
/// can run in tasks of their own.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub address: std::net::SocketAddr,
    admin: String,
    user: String,
    /// The longest the server may take to answer or let go.
    pub bound: Duration,
}

impl Target {
    pub(crate) fn new(server: &Server, bound: Duration) -> Self {
        Self {
            address: server.address,
            admin: server.admin.clone(),
            user: server.user.clone(),
            bound,
        }
    }

    fn bearer(&self, auth: Auth) -> Option<String> {
        match auth {
            Auth::Anonymous => None,
            Auth::Admin => Some(self.admin.clone()),
            Auth::User => Some(self.user.clone()),
            Auth::Garbage => Some("Bearer eyJ0.eyJ0.c2ln".to_owned()),
            Auth::AlgNone => Some(format!(
                "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
                self.admin.split('.').nth(1).unwrap_or_default()
            )),
            Auth::HugeExpiry => Some(huge_expiry_token()),
        }
    }

    /// Runs `case`; a case the server keeps from finishing (a write it
    /// never reads, a socket it never closes) ends as late at twice the
    /// bound, plus the case's own pauses, plus a bound per WebSocket
    /// message (each may be an operation that runs to its deadline).
    pub(crate) async fn send(&self, case: &Case) -> Observation {
        let extra = match case {
            Case::Raw {
                chunks, pause_ms, ..
            } => Duration::from_millis(pause_ms * chunks.len() as u64),
            Case::WebSocket { messages, .. } => self.bound * messages.len() as u32,
            _ => Duration::ZERO,
        };
        let limit = self.bound * 2 + extra;
        tokio::time::timeout(limit, self.send_unbounded(case))
            .await
            .unwrap_or_else(|_| Observation {
                late: Some(format!("the exchange was not over after {limit:?}")),
                ..Observation::default()
            })
    }

    async fn send_unbounded(&self, case: &Case) -> Observation {
        match case {
            Case::Post { .. } | Case::Get { .. } => self.http(case).await,
            Case::Raw {
                chunks,
                pause_ms,
                complete: _,
            } => self.raw(chunks, Duration::from_millis(*pause_ms)).await,
            Case::WebSocket {
                protocol,
                init,
                messages,
            } => self.websocket(protocol, *init, messages).await,
        }
    }

    async fn http(&self, case: &Case) -> Observation {
        let client = reqwest::Client::builder()
            .timeout(self.bound)
            .build()
            .expect("an HTTP client");
        let url = format!("http://{}/graphql", self.address);
        let (request, auth, accept) = match case {
            Case::Post {
                auth,
                content_type,
                accept,
                body,
            } => (
                client
                    .post(&url)
                    .header("content-type", content_type)
                    .body(body.clone()),
                auth,
                accept,
            ),
            Case::Get {
                auth,
                accept,
                query_string,
            } => (client.get(format!("{url}?{query_string}")), auth, accept),
            _ => unreachable!("only HTTP cases come here"),
        };
        let mut request = request;
        if let Some(bearer) = self.bearer(*auth) {
            request = request.header("authorization", bearer);
        }
        if let Some(accept) = accept {
            request = request.header("accept", accept.as_str());
        }
        let mut observation = Observation::default();
        let answer = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        match answer.await {
            Ok((status, body)) => {
                observation.statuses.push(status);
                observation.text = String::from_utf8_lossy(&body).into_owned();
            }
            Err(error) if error.is_timeout() => {
                observation.late = Some(format!("no answer within {:?}", self.bound));
            }
            // A connection reset is the server's to make (e.g. a body over
            // the limit); a dead server is caught by the liveness check.
            Err(_) => {}
        }
        observation
    }

    /// Writes the chunks, then reads until the server closes; the server
    /// must close within the bound after the last byte was written.
    async fn raw(&self, chunks: &[String], pause: Duration) -> Observation {
        let mut observation = Observation::default();
        let Ok(mut stream) = TcpStream::connect(self.address).await else {
            return observation;
        };
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        let mut received = Vec::new();
        let read = tokio::time::timeout(self.bound, stream.read_to_end(&mut received)).await;
        if read.is_err() {
            observation.late = Some(format!(
                "the connection was still open {:?} after the client's last byte",
                self.bound
            ));
        }
        observation.text = String::from_utf8_lossy(&received).into_owned();
        observation.statuses = observation
            .text
            .match_indices("HTTP/1.1 ")
            .filter_map(|(at, _)| observation.text.get(at + 9..at + 12)?.parse().ok())
            .collect();
        observation
    }

    async fn websocket(
        &self,
        protocol: &str,
        init: Option<Auth>,
        messages: &[WsMessage],
    ) -> Observation {
        let mut observation = Observation::default();
        let mut request = format!("ws://{}/graphql", self.address)
            .into_client_request()
            .expect("a WebSocket request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            protocol.parse().expect("a header value"),
        );
        let config = WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(None);
        let connected = tokio::time::timeout(
            self.bound,
            tokio_tungstenite::connect_async_with_config(request, Some(config), false),
        )
        .await;
        let mut socket = match connected {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                observation.statuses.push(response.status().as_u16());
                return observation;
            }
            Ok(Err(_)) => return observation,
            Err(_) => {
                observation.late = Some(format!("no WebSocket handshake within {:?}", self.bound));
                return observation;
            }
        };
        if let Some(auth) = init {
            let payload = match self.bearer(auth) {
                Some(bearer) => json!({ "Authorization": bearer }),
                None => json!({}),
            };
            let init = json!({ "type": "connection_init", "payload": payload });
            let _ = socket.send(Message::text(init.to_string())).await;
        }
        for message in messages {
            let message = match message {
                WsMessage::Text(text) => Message::text(text.clone()),
                WsMessage::Binary(bytes) => Message::binary(bytes.clone()),
                WsMessage::Big(size) => Message::text(big_subscribe(*size)),
            };
            if socket.send(message).await.is_err() {
                break;
            }
        }
        // An idle socket must be let go of within the bound; a busy one is
        // read until it falls quiet.
        let quiet = if messages.is_empty() && init.is_none() {
            self.bound
        } else {
            Duration::from_millis(500)
        };
        let started = Instant::now();
        loop {
            match tokio::time::timeout(quiet, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => observation.text += text.as_str(),
                Ok(Some(Ok(Message::Close(Some(frame))))) => {
                    observation.text +=
                        &format!(" close {} {}", u16::from(frame.code), frame.reason);
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => break,
                Err(_) => {
                    if messages.is_empty() && init.is_none() {
                        observation.late = Some(format!(
                            "a socket that never sent connection_init was still open after {:?}",
                            self.bound
                        ));
                    }
                    break;
                }
            }
            if started.elapsed() > self.bound * (2 + messages.len() as u32) {
                break;
            }
        }
        observation
    }
}

/// A `subscribe` message padded to `size` bytes.
fn big_subscribe(size: usize) -> String {
    let head = "{\"id\": \"big\", \"type\": \"subscribe\", \"payload\": {\"query\": \"{ __typename }\", \"x\": \"";
    let tail = "\"}}";
    format!(
        "{head}{}{tail}",
        "x".repeat(size.saturating_sub(head.len() + tail.len()))
    )
}

/// A correctly signed token whose `exp` is the largest number there is.
fn huge_expiry_token() -> String {
    let claims = json!({ "sub": uuid::Uuid::now_v7().to_string(), "exp": u64::MAX });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("HS256 signs any claims");
    format!("Bearer {token}")
}

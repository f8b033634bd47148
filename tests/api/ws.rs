//! A `graphql-transport-ws` client over a real WebSocket, as the
//! `graphql-ws` library speaks it.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::helpers::TestApp;

/// How long any single expected message may take.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

pub(crate) const READINESS: &str =
    "subscription($p: UUID!) { readinessChanged(projectId: $p) { score status blockers computedAt dimensions { valuePath problem solution engagement } } }";

pub(crate) struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server said last on a connection.
#[derive(Debug)]
pub(crate) enum Heard {
    Message(Value),
    Closed(u16, String),
}

impl WsClient {
    /// Opens a socket and sends `connection_init` with `payload`; does not
    /// wait for the answer.
    pub(crate) async fn connect(app: &TestApp, payload: Value) -> Self {
        let mut client = Self::upgrade(app, "graphql-transport-ws")
            .await
            .expect("the WebSocket handshake succeeds");
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        client
    }

    /// A connection acknowledged for `auth` (a bearer header value, or
    /// anonymous).
    pub(crate) async fn open(app: &TestApp, auth: Option<&str>) -> Self {
        let payload = match auth {
            Some(auth) => json!({ "Authorization": auth }),
            None => json!({}),
        };
        let mut client = Self::connect(app, payload).await;
        let ack = client.message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    /// Opens a socket speaking `protocol` and sends nothing; `Err` when
    /// the upgrade is refused.
    pub(crate) async fn upgrade(
        app: &TestApp,
        protocol: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{}/graphql", app.address)
            .into_client_request()
            .expect("a ws request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            protocol.parse().expect("a header value"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        Ok(Self { socket })
    }

    /// The next frame as the socket gives it: nothing is answered.
    pub(crate) async fn frame(&mut self) -> Option<Message> {
        tokio::time::timeout(WAIT, self.socket.next())
            .await
            .expect("the server says something in time")
            .and_then(Result::ok)
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("the message is sent");
    }

    /// Starts `readinessChanged` on `project` under `id`.
    pub(crate) async fn subscribe(&mut self, id: &str, project: &str) {
        self.subscribe_to(id, READINESS, json!({ "p": project }))
            .await;
    }

    pub(crate) async fn subscribe_to(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// The next thing the server says, answering its pings on the way.
    pub(crate) async fn hear(&mut self) -> Heard {
        self.hear_within(WAIT).await
    }

    /// [`Self::hear`], waiting up to `wait` for each frame.
    pub(crate) async fn hear_within(&mut self, wait: Duration) -> Heard {
        loop {
            let frame = tokio::time::timeout(wait, self.socket.next())
                .await
                .expect("the server says something in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON");
                    if message["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Heard::Message(message);
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Heard::Closed(code, reason);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Heard::Closed(1006, error.to_string()),
                None => return Heard::Closed(1006, "the stream ended".into()),
            }
        }
    }

    /// Whether the server says nothing (but pings) for `quiet`.
    pub(crate) async fn stays_silent_for(&mut self, quiet: Duration) -> bool {
        let until = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(until, self.socket.next()).await {
                Err(_) => return true,
                Ok(Some(Ok(Message::Text(text)))) if text.contains("\"ping\"") => {
                    self.send(json!({ "type": "pong" })).await;
                }
                Ok(_) => return false,
            }
        }
    }

    /// The next message; fails on a close.
    pub(crate) async fn message(&mut self) -> Value {
        match self.hear().await {
            Heard::Message(message) => message,
            Heard::Closed(code, reason) => panic!("closed: {code} {reason}"),
        }
    }

    /// The payload of the next `next` message, which must be for `id`.
    pub(crate) async fn next(&mut self, id: &str) -> Value {
        let message = self.message().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], id, "{message}");
        message["payload"].clone()
    }

    /// The readiness the next `next` message for `id` carries.
    pub(crate) async fn readiness(&mut self, id: &str) -> Value {
        let payload = self.next(id).await;
        assert!(payload.get("errors").is_none(), "{payload}");
        payload["data"]["readinessChanged"].clone()
    }

    /// The close code and reason the server ends the connection with.
    pub(crate) async fn closed(&mut self) -> (u16, String) {
        loop {
            if let Heard::Closed(code, reason) = self.hear().await {
                return (code, reason);
            }
        }
    }
}

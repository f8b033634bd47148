//! GraphQL over WebSocket on `GET /graphql`: the `graphql-transport-ws`
//! protocol (the `graphql-ws` library's, which Apollo Client, urql and
//! GraphiQL speak), and the legacy `graphql-ws` one.
//!
//! async-graphql runs the protocol; this module owns what sits around it:
//! - a message or frame larger than `--body-limit-bytes` is refused as soon
//!   as its header announces it, before it is read.
//! - `connection_init` must come within `--websocket-init-timeout` (else
//!   4408). Its payload carries the bearer token
//!   (`{"Authorization": "Bearer <jwt>"}`, key in either case). None: the
//!   connection is anonymous (subscriptions answer `UNAUTHENTICATED`,
//!   saying to send the token in `connection_init`); an invalid one closes
//!   the socket with 4403 and a reason that says what is wrong with it (an
//!   expired token, a bad signature); the socket closes with 4403 when the
//!   token expires.
//! - each operation passes the same document limits as over HTTP, and a
//!   connection holds at most `--max-subscriptions-per-connection` at once;
//!   the process holds at most `--max-websocket-connections` (beyond: 503),
//!   of which anonymous ones at most `--max-anonymous-websocket-connections`
//!   (beyond: an anonymous `connection_init` is closed with 4403), so that
//!   they cannot lock out clients with a token.
//! - both protocols are kept alive and reaped: every
//!   `--websocket-keepalive` the server sends `graphql-transport-ws`'s
//!   `ping`, or the legacy protocol's `ka` with a WebSocket ping frame (whose
//!   pong every WebSocket client sends by itself); a client silent for twice
//!   that is disconnected (3008).
//! - on shutdown every socket gets a close frame (1001, going away).
//! - errors get the public shape HTTP responses have.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU16, AtomicUsize, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, SystemTime},
};

use async_graphql::{
    http::{WebSocketProtocols as Protocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS},
    Data, Executor, Request, Response as GqlResponse, ServerError,
};
use axum::{
    extract::{
        ws::{
            rejection::WebSocketUpgradeRejection, CloseFrame, Message, WebSocket, WebSocketUpgrade,
        },
        ConnectInfo, RawQuery, State,
    },
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use futures::{future, stream::BoxStream, FutureExt, SinkExt, StreamExt};
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use uuid::Uuid;

use super::{
    graphql::{graphql_get, introspection_allowed, publish_errors},
    state::AppState,
};
use crate::{
    auth::{bearer_token, TokenFault, Viewer},
    budget::retry_after_secs,
    error::ErrorCode,
    graphql::RequestContext,
};

/// Close code for a refused or expired token (`graphql-transport-ws`'s
/// Forbidden).
const FORBIDDEN: u16 = 4403;
/// Close code on shutdown: the client should reconnect (elsewhere).
const GOING_AWAY: u16 = 1001;
/// Close code when no `connection_init` came in time.
const CONNECTION_INIT_TIMEOUT: u16 = 4408;
/// Close code for a client silent too long.
const SILENT_TOO_LONG: u16 = 3008;
/// How long a close frame may take to leave before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The close reason for a refused `connection_init` token: what to fix
/// (a close reason holds at most 123 bytes).
fn close_reason(fault: TokenFault) -> &'static str {
    match fault {
        TokenFault::Expired => TOKEN_EXPIRED,
        TokenFault::NotYetValid => "Forbidden: the token is not valid yet",
        TokenFault::BadSignature => "Forbidden: the token's signature does not verify",
        TokenFault::Unacceptable => "Forbidden: not a valid `Bearer <token>`",
    }
}

const TOKEN_EXPIRED: &str = "Forbidden: the token expired";

const NOT_A_STRING: &str = "Forbidden: `Authorization` in connection_init must be a string";

/// What an operation of an anonymous connection that needs a viewer is
/// told: the token goes in `connection_init`, there is no header to send.
const SEND_A_TOKEN: &str =
    "authentication required: send `{\"Authorization\": \"Bearer <token>\"}` \
     as the connection_init payload";

/// Publishes `response`'s errors, an `UNAUTHENTICATED` one speaking of
/// `connection_init`.
fn publish_over_websocket(response: &mut GqlResponse, request_id: &str) {
    publish_errors(response, request_id);
    for error in &mut response.errors {
        let code = error.extensions.as_ref().and_then(|e| e.get("code"));
        if code
            == Some(&async_graphql::Value::from(
                ErrorCode::Unauthenticated.as_str(),
            ))
        {
            SEND_A_TOKEN.clone_into(&mut error.message);
        }
    }
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, otherwise a query
/// in the URL or GraphiQL.
pub async fn graphql_get_or_websocket(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    query: RawQuery,
) -> Response {
    match upgrade {
        Ok(upgrade) => {
            let peer = peer.as_ref().map(|Extension(ConnectInfo(peer))| *peer);
            let address = state.budgets().client_address(peer, &headers);
            accept(upgrade, state, &headers, address)
        }
        Err(_) => graphql_get(State(state), peer, headers, query).await,
    }
}

/// Upgrades to a WebSocket; `address` is the client's, whose budget an
/// anonymous connection spends.
fn accept(
    upgrade: WebSocketUpgrade,
    state: AppState,
    headers: &HeaderMap,
    address: Option<IpAddr>,
) -> Response {
    let Some(protocol) = protocol(headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Protocol` must offer graphql-transport-ws (or graphql-ws)",
        )
            .into_response();
    };
    let Some(permit) = state.websocket_permit() else {
        let limit = state.config().live.max_websocket_connections;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            format!("this server holds its limit of {limit} WebSocket connections; retry later"),
        )
            .into_response();
    };
    // A larger message is refused from its frame header, not buffered.
    let body_limit = state.config().http.body_limit_bytes;
    upgrade
        .max_message_size(body_limit)
        .max_frame_size(body_limit)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, protocol, state, permit, address))
}

/// The first GraphQL protocol the client offers.
fn protocol(headers: &HeaderMap) -> Option<Protocols> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|offered| offered.trim().parse().ok())
}

/// What one connection's operations share.
struct Session {
    /// Set by `connection_init`: `None` inside for an anonymous connection.
    viewer: OnceLock<Option<Viewer>>,
    /// Set when `connection_init` was refused: the close code to send.
    refused_with: AtomicU16,
    /// An anonymous connection's place among the anonymous ones.
    anonymous: OnceLock<OwnedSemaphorePermit>,
    /// Operations running now, and how many may.
    running: AtomicUsize,
    max_running: usize,
    /// The client's address: the budget an anonymous connection spends.
    address: Option<IpAddr>,
}

/// One running operation's place in its connection's limit.
struct Slot(Arc<Session>);

impl Session {
    fn take_slot(self: &Arc<Self>) -> Option<Slot> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < self.max_running).then_some(running + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(self)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs one connection's operations: the schema, behind the limits and
/// with the connection's viewer.
#[derive(Clone)]
struct Operations {
    state: AppState,
    session: Arc<Session>,
    /// Names the connection in logs and internal errors.
    request_id: Arc<str>,
}

impl Operations {
    fn refuse(&self, error: ServerError) -> BoxStream<'static, GqlResponse> {
        let mut response = GqlResponse::from_errors(vec![error]);
        publish_over_websocket(&mut response, &self.request_id);
        futures::stream::once(future::ready(response)).boxed()
    }
}

impl Executor for Operations {
    async fn execute(&self, request: Request) -> GqlResponse {
        self.execute_stream(request, None)
            .next()
            .await
            .unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: Request,
        _connection_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, GqlResponse> {
        let viewer = self.session.viewer.get().copied().flatten();
        let mut estimated = 1;
        let prepared = super::trusted::subscription_document(
            self.state.trusted_documents(),
            self.state.documents(),
            &request,
            viewer.as_ref(),
        )
        .and_then(|parsed| {
            estimated = parsed.estimated_cost;
            parsed.prepare(request)
        });
        let request = match prepared {
            Ok(request) => request,
            Err(refused) => return self.refuse(refused),
        };
        // Charged once, when the operation starts, and kept: its events
        // are not charged (see the README).
        let budgets = self.state.budgets();
        let key = budgets.key_for(viewer.as_ref(), self.session.address);
        if let Err(over) = budgets.charge(key, estimated) {
            let seconds = retry_after_secs(over.retry_after);
            let mut error = ServerError::new(
                format!("this viewer's budget is spent; retry after {seconds} seconds"),
                None,
            );
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", ErrorCode::RateLimited.as_str());
            extensions.set("retryAfterSeconds", seconds);
            error.extensions = Some(extensions);
            return self.refuse(error);
        }
        let Some(slot) = self.session.take_slot() else {
            let max = self.session.max_running;
            return self.refuse(ServerError::new(
                format!("this connection already runs its limit of {max} subscriptions; complete one first"),
                None,
            ));
        };
        let mut request = request.data(RequestContext::new(viewer, self.state.services()));
        if !introspection_allowed(&self.state, viewer.is_some()) {
            request = request.disable_introspection();
        }
        let request_id = Arc::clone(&self.request_id);
        self.state
            .schema()
            .execute_stream(request)
            .map(move |mut response| {
                // The slot is held for as long as the operation's stream lives.
                let _running = &slot;
                publish_over_websocket(&mut response, &request_id);
                response
            })
            .boxed()
    }
}

/// The `Authorization` value in a `connection_init` payload.
fn authorization(payload: &serde_json::Value) -> Option<&serde_json::Value> {
    payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
}

/// Serves one upgraded connection until the client leaves, the protocol
/// closes it, its token expires or the server shuts down.
async fn serve(
    socket: WebSocket,
    protocol: Protocols,
    state: AppState,
    _permit: OwnedSemaphorePermit,
    address: Option<IpAddr>,
) {
    let live = state.config().live.clone();
    let session = Arc::new(Session {
        viewer: OnceLock::new(),
        refused_with: AtomicU16::new(0),
        anonymous: OnceLock::new(),
        running: AtomicUsize::new(0),
        max_running: live.max_subscriptions_per_connection,
        address,
    });
    let operations = Operations {
        state: state.clone(),
        session: Arc::clone(&session),
        request_id: Uuid::new_v4().to_string().into(),
    };
    let (expiry_tx, mut expiry_rx) = oneshot::channel::<SystemTime>();
    let keys = state.token_keys().clone();
    let init_session = Arc::clone(&session);
    let init_state = state.clone();
    let on_init = move |payload: serde_json::Value| async move {
        let viewer = match authorization(&payload) {
            None => {
                let Some(permit) = init_state.anonymous_websocket_permit() else {
                    init_session
                        .refused_with
                        .store(FORBIDDEN, Ordering::Release);
                    return Err(async_graphql::Error::new(
                        "Forbidden: this server holds its limit of anonymous connections; \
                         send a token in connection_init",
                    ));
                };
                let _ = init_session.anonymous.set(permit);
                None
            }
            Some(value) => {
                let verified = match value.as_str() {
                    Some(value) => bearer_token(value)
                        .and_then(|token| keys.verify_until(token))
                        .map_err(|error| {
                            tracing::info!(%error, "refused a WebSocket token");
                            close_reason(error.fault())
                        }),
                    None => Err(NOT_A_STRING),
                };
                match verified {
                    Ok((viewer, until)) => {
                        let _ = expiry_tx.send(until);
                        Some(viewer)
                    }
                    Err(reason) => {
                        init_session
                            .refused_with
                            .store(FORBIDDEN, Ordering::Release);
                        return Err(async_graphql::Error::new(reason));
                    }
                }
            }
        };
        let _ = init_session.viewer.set(viewer);
        Ok(Data::default())
    };

    let (mut sink, source) = socket.split();
    let last_heard = Arc::new(Mutex::new(tokio::time::Instant::now()));
    let hearing = Arc::clone(&last_heard);
    let input = source
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map(move |message| {
            // Any frame, pongs included, shows the client is there.
            if let Ok(mut heard) = hearing.lock() {
                *heard = tokio::time::Instant::now();
            }
            future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let keepalive = live.websocket_keepalive;
    let messages = async_graphql::http::WebSocket::new(operations, input, protocol)
        .on_connection_init(on_init);
    let mut messages = std::pin::pin!(messages);
    let init_deadline = tokio::time::sleep(live.websocket_init_timeout);
    let mut init_deadline = std::pin::pin!(init_deadline);
    let mut awaiting_init = true;

    let mut closing = state.websockets_closing();
    let mut expiry_seen = false;
    let mut expires = false;
    let mut token_expiry = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Every branch below is cancellation-safe; sending happens in the arms.
    let close = loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = match session.refused_with.load(Ordering::Acquire) {
                        0 => code,
                        refused_with => refused_with,
                    };
                    break Some((code, reason));
                }
                // The client left or terminated the connection.
                None => break None,
            },
            until = &mut expiry_rx, if !expiry_seen => {
                expiry_seen = true;
                if let Ok(until) = until {
                    expires = true;
                    let left = until.duration_since(SystemTime::now()).unwrap_or_default();
                    token_expiry.as_mut().reset(tokio::time::Instant::now() + left);
                }
            }
            () = &mut token_expiry, if expires => {
                break Some((FORBIDDEN, TOKEN_EXPIRED.to_owned()));
            }
            // (mapped, so that no borrow of the watch is held in the arm)
            _ = closing.wait_for(|closing| *closing).map(|_| ()) => {
                break Some((GOING_AWAY, "the server is shutting down".to_owned()));
            }
            () = &mut init_deadline, if awaiting_init => {
                awaiting_init = false;
                if session.viewer.get().is_none() {
                    break Some((CONNECTION_INIT_TIMEOUT, "Connection initialisation timeout".to_owned()));
                }
            }
            _ = pings.tick() => {
                let silence = last_heard.lock().map(|heard| heard.elapsed()).unwrap_or_default();
                if silence >= keepalive * 2 {
                    break Some((SILENT_TOO_LONG, "timeout".to_owned()));
                }
                for ping in keepalive_messages(protocol) {
                    if sink.send(ping).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let frame = close.map(|(code, reason)| CloseFrame {
        code,
        reason: reason.into(),
    });
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        let _ = sink.send(Message::Close(frame)).await;
        let _ = sink.close().await;
    })
    .await;
}

/// What the server sends every keepalive period: `graphql-transport-ws`'s
/// ping, which its clients answer; or the legacy protocol's `ka`, which its
/// clients do not answer, with a WebSocket ping frame, which every client
/// answers by itself.
fn keepalive_messages(protocol: Protocols) -> Vec<Message> {
    match protocol {
        Protocols::GraphQLWS => vec![Message::Text(r#"{"type":"ping"}"#.into())],
        Protocols::SubscriptionsTransportWS => vec![
            Message::Text(r#"{"type":"ka"}"#.into()),
            Message::Ping(Default::default()),
        ],
    }
}

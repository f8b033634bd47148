//! The subscription fan-out row (SPEC 11): many subscribers of one
//! project's `readinessChanged` over real WebSockets (`graphql-transport-ws`),
//! then a series of mutations of that project; for each, the time from the
//! mutation's response to the last subscriber's event, and the SQL
//! statements the change cost beyond the mutation itself (the one
//! recomputation, and persisting its snapshot).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{client::Client, server::SUBSCRIPTIONS_PER_CONNECTION};

const SUBSCRIBE: &str = "subscription ($p: UUID!) { readinessChanged(projectId: $p) { score status blockers computedAt } }";
const CREATE_PROJECT: &str = "mutation { createProject(input: { name: \"fan-out\" }) { id } }";
const ADD_PERSONA: &str = "mutation ($p: UUID!, $n: String!) { \
     createPersona(projectId: $p, input: { name: $n, description: \"fan-out\" }) { id } }";

/// Longest wait for any one event before the run is declared broken.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// After the last event, how long to wait for the change's background
/// statements (persisting the new snapshot) before counting them.
const SETTLE: Duration = Duration::from_millis(200);

/// What the fan-out run measured.
#[derive(Debug)]
pub(crate) struct FanOut {
    pub subscribers: usize,
    pub connections: usize,
    /// Mutation response to last subscriber's event, one per change, sorted.
    pub times: Vec<Duration>,
    /// SQL statements per change beyond the mutation's own, averaged.
    pub statements_per_change: f64,
}

impl FanOut {
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let index = ((self.times.len() - 1) as f64 * q).round() as usize;
        self.times[index]
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Runs the fan-out: `subscribers` subscriptions of one fresh project of
/// the bench user (`bearer`), then `changes` mutations of it.
pub(crate) async fn measure(
    graphql_url: &str,
    bearer: &str,
    subscribers: usize,
    changes: usize,
) -> anyhow::Result<FanOut> {
    anyhow::ensure!(subscribers > 0 && changes > 0, "nothing to measure");
    let client = Client::new(graphql_url)?;
    let project = client
        .graphql(bearer, CREATE_PROJECT, json!({}))
        .await?
        .data["createProject"]["id"]
        .as_str()
        .context("a project id")?
        .to_owned();
    let ws_url = graphql_url.replacen("http://", "ws://", 1);
    let mut sockets = Vec::new();
    let mut counts = Vec::new();
    let mut left = subscribers;
    while left > 0 {
        let count = left.min(SUBSCRIPTIONS_PER_CONNECTION);
        let mut socket = open(&ws_url, bearer).await?;
        for id in 0..count {
            let subscribe = json!({ "id": id.to_string(), "type": "subscribe",
                "payload": { "query": SUBSCRIBE, "variables": { "p": project } } });
            socket.send(Message::text(subscribe.to_string())).await?;
        }
        sockets.push(socket);
        counts.push(count);
        left -= count;
    }
    // Every subscriber's current value first.
    read_all(&mut sockets, &counts).await?;

    let mut times = Vec::with_capacity(changes);
    let mut statements = 0u64;
    for change in 0..changes {
        let before = statements_so_far();
        let answer = client
            .graphql(
                bearer,
                ADD_PERSONA,
                json!({ "p": project, "n": format!("persona {change}") }),
            )
            .await?;
        let responded = Instant::now();
        let last = read_all(&mut sockets, &counts).await?;
        times.push(last.saturating_duration_since(responded));
        tokio::time::sleep(SETTLE).await;
        statements += (statements_so_far() - before).saturating_sub(answer.cost.statements);
    }
    times.sort();
    for mut socket in sockets {
        let _ = socket.close(None).await;
    }
    Ok(FanOut {
        subscribers,
        connections: counts.len(),
        times,
        statements_per_change: statements as f64 / changes as f64,
    })
}

async fn open(ws_url: &str, bearer: &str) -> anyhow::Result<Socket> {
    let mut request = ws_url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("the WebSocket handshake")?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": bearer } });
    socket.send(Message::text(init.to_string())).await?;
    let ack = next_message(&mut socket).await?;
    anyhow::ensure!(ack["type"] == "connection_ack", "no ack: {ack}");
    Ok(socket)
}

/// Reads one event per subscription on every socket, concurrently; returns
/// when the last one arrived.
async fn read_all(sockets: &mut [Socket], counts: &[usize]) -> anyhow::Result<Instant> {
    let reads = sockets
        .iter_mut()
        .zip(counts)
        .map(|(socket, &count)| async move {
            for _ in 0..count {
                let message = next_message(socket).await?;
                anyhow::ensure!(
                    message["type"] == "next" && message["payload"]["errors"].is_null(),
                    "not an event: {message}"
                );
            }
            Ok(Instant::now())
        });
    let lasts = futures::future::try_join_all(reads).await?;
    lasts.into_iter().max().context("no sockets")
}

/// The next GraphQL message on `socket`, answering pings.
async fn next_message(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let frame = tokio::time::timeout(EVENT_TIMEOUT, socket.next())
            .await
            .context("an event in time")?
            .context("the socket stayed open")??;
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text)?;
            if message["type"] == "ping" {
                socket
                    .send(Message::text(json!({ "type": "pong" }).to_string()))
                    .await?;
                continue;
            }
            return Ok(message);
        }
    }
}

/// SQL statements run in this process so far (the server's metrics
/// recorder; the bench's own connection is idle while this runs).
fn statements_so_far() -> u64 {
    agentgraph::observability::metrics::handle()
        .render()
        .lines()
        .filter(|line| line.starts_with("agentgraph_sql_statements_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

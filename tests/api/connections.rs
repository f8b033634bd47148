//! Open connections are bounded (SPEC 10): a client that sends half a
//! header, or keeps an idle connection, is closed after the header-read
//! timeout; past `--max-connections` a connection gets a 503 and is
//! closed, while `/healthz` still answers. Raw TCP, since HTTP clients
//! finish their headers.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{helpers::TestApp, test_both};

/// Far longer than any timeout these tests set: reaching it fails them.
const WAIT: Duration = Duration::from_secs(10);

const HALF_A_HEADER: &str = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address).await.expect("connects")
}

async fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).await.expect("written");
}

/// Everything the server sends until it closes the connection; fails if
/// it keeps it open longer than [`WAIT`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server kept the connection open; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    String::from_utf8_lossy(&received).into_owned()
}

/// Reads one response to a `Content-Length` body that ends with `ends_with`.
async fn read_response(stream: &mut TcpStream, ends_with: &str) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&received).ends_with(ends_with) {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no complete response in time");
    String::from_utf8_lossy(&received).into_owned()
}

test_both! {
    #[flags("--header-read-timeout", "500ms")]
    async fn a_client_that_sends_half_a_header_is_closed(app: TestApp) {
        let mut stream = connect(&app).await;
        send(&mut stream, HALF_A_HEADER).await;
        let received = read_until_closed(&mut stream).await;
        assert!(!received.contains(" 200 "), "{received}");
        // A connection that sends nothing at all is closed too.
        let mut silent = connect(&app).await;
        read_until_closed(&mut silent).await;
    }
}

test_both! {
    #[flags("--header-read-timeout", "500ms")]
    async fn an_idle_keep_alive_connection_is_closed(app: TestApp) {
        let mut stream = connect(&app).await;
        for _ in 0..2 {
            send(&mut stream, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
            let response = read_response(&mut stream, "ok").await;
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            assert!(!response.to_ascii_lowercase().contains("connection: close"), "{response}");
        }
        // Kept alive for the next request, then idle: closed.
        let after = read_until_closed(&mut stream).await;
        assert!(!after.contains("HTTP/1.1 200"), "{after}");
    }
}

test_both! {
    #[flags("--max-connections", "4")]
    async fn past_the_connection_cap_a_connection_gets_503_and_healthz_still_answers(app: TestApp) {
        // Four slow clients hold every place (for the default 30 s).
        let mut holding = Vec::new();
        for _ in 0..4 {
            let mut stream = connect(&app).await;
            send(&mut stream, HALF_A_HEADER).await;
            holding.push(stream);
        }

        let mut refused = connect(&app).await;
        send(&mut refused, "POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").await;
        let answer = read_until_closed(&mut refused).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(lower.contains("retry-after: 1"), "{answer}");
        assert!(lower.contains("connection: close"), "{answer}");
        assert!(answer.contains("limit of 4 connections"), "{answer}");

        // The health check is answered at once, well within the
        // header-read timeout the slow clients still hold their places for.
        let started = std::time::Instant::now();
        let health = app.client.get(app.url("/healthz")).send().await.expect("answered");
        assert_eq!(health.status(), 200);
        assert_eq!(health.text().await.expect("body"), "ok");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

        // A place freed is a place served.
        drop(holding.pop());
        let mut served = None;
        for _ in 0..50 {
            let response = app.client.get(app.url("/readyz")).send().await.expect("answered");
            if response.status() != 503 {
                served = Some(response.status());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(served, Some(reqwest::StatusCode::OK));
    }
}

//! WebSocket limits (SPEC 10): the message size limit is the body limit,
//! refused from the frame header; `connection_init` within a timeout
//! (4408); the legacy `graphql-ws` protocol is kept alive and reaped like
//! `graphql-transport-ws`; anonymous sockets cannot hold every place.

use std::time::Duration;

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::TestApp,
    test_both,
    ws::{WsClient, WAIT},
};

/// A `graphql-transport-ws` upgrade over raw TCP; returns the socket once
/// the server has answered 101.
async fn raw_upgrade(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.address).await.expect("connects");
    let request = "GET /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
        Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("written");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("the upgrade is answered in time")
            .expect("read");
        assert_eq!(n, 1, "closed during the upgrade");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

test_both! {
    async fn a_websocket_frame_above_the_body_limit_is_refused_from_its_header(app: TestApp) {
        let mut stream = raw_upgrade(&app).await;
        // A masked text frame announcing 8 MiB (the body limit is 1 MiB),
        // and not one byte of it.
        let announced: u64 = 8 * 1024 * 1024;
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&announced.to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        stream.write_all(&header).await.expect("written");
        // The server closes at once instead of waiting for the payload.
        let closed = tokio::time::timeout(WAIT, async {
            let mut buffer = [0u8; 256];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    // A close frame, or the connection's end.
                    Ok(_) if buffer[0] == 0x88 => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the server waited for the announced payload");
    }
}

test_both! {
    #[flags("--websocket-init-timeout", "300ms")]
    async fn a_socket_that_never_sends_connection_init_is_closed_with_4408(app: TestApp) {
        let mut silent = WsClient::upgrade(&app, "graphql-transport-ws").await.expect("upgraded");
        let (code, reason) = silent.closed().await;
        assert_eq!(code, 4408, "{reason}");
        let mut legacy = WsClient::upgrade(&app, "graphql-ws").await.expect("upgraded");
        let (code, reason) = legacy.closed().await;
        assert_eq!(code, 4408, "{reason}");
        // A socket that sends it in time is served past the timeout.
        let mut client = WsClient::open(&app, Some(&app.user)).await;
        assert!(client.stays_silent_for(Duration::from_millis(600)).await);
    }
}

test_both! {
    #[flags("--websocket-keepalive", "300ms")]
    async fn the_legacy_protocol_is_kept_alive_and_its_silent_clients_reaped(app: TestApp) {
        let mut client = WsClient::upgrade(&app, "graphql-ws").await.expect("upgraded");
        client.send(json!({ "type": "connection_init", "payload": {} })).await;
        let mut keepalives = 0;
        let mut acked = false;
        // Reading answers the server's ping frames (tungstenite pongs by
        // itself): a client that is there stays connected.
        let until = tokio::time::Instant::now() + Duration::from_millis(1500);
        while tokio::time::Instant::now() < until {
            match tokio::time::timeout_at(until, client.frame()).await {
                Err(_) => break,
                Ok(Some(Message::Text(text))) if text.contains("\"connection_ack\"") => acked = true,
                Ok(Some(Message::Text(text))) if text.contains("\"ka\"") => keepalives += 1,
                Ok(Some(Message::Ping(_) | Message::Pong(_))) => {}
                Ok(other) => panic!("unexpected while alive: {other:?}"),
            }
        }
        assert!(acked);
        assert!(keepalives >= 2, "{keepalives} keepalives");
        // A client that stops answering (nothing read, so no pong sent) is
        // closed after twice the keepalive period.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // What was sent meanwhile, then the close (3008), or the end of the
        // connection when reading makes the client answer a ping too late.
        loop {
            match client.frame().await {
                Some(Message::Close(frame)) => {
                    let code = frame.map(|frame| u16::from(frame.code));
                    assert_eq!(code, Some(3008));
                    break;
                }
                Some(Message::Text(text)) => assert!(text.contains("\"ka\""), "{text}"),
                Some(_) => {}
                None => break,
            }
        }
    }
}

/// Upgrades as soon as a place is free (a closed socket's place is freed
/// just after its close frame is sent).
async fn upgrade_when_free(app: &TestApp) -> WsClient {
    for _ in 0..100 {
        if let Ok(client) = WsClient::upgrade(app, "graphql-transport-ws").await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no WebSocket place came free");
}

test_both! {
    #[flags("--max-websocket-connections", "4", "--websocket-init-timeout", "500ms")]
    async fn anonymous_and_uninitialised_sockets_cannot_lock_out_a_client_with_a_token(app: TestApp) {
        // Half the places (the default) for anonymous sockets: two.
        let mut anonymous = vec![
            WsClient::open(&app, None).await,
            WsClient::open(&app, None).await,
        ];
        let mut third = WsClient::connect(&app, json!({})).await;
        let (code, reason) = third.closed().await;
        assert_eq!(code, 4403, "{reason}");
        assert!(reason.contains("anonymous"), "{reason}");

        // The other two places taken by sockets that never initialise:
        // they are closed at the init timeout, and a client with a token
        // gets in.
        let mut silent = vec![upgrade_when_free(&app).await, upgrade_when_free(&app).await];
        for socket in &mut silent {
            assert_eq!(socket.closed().await.0, 4408);
        }
        let mut with_token = upgrade_when_free(&app).await;
        with_token
            .send(json!({ "type": "connection_init", "payload": { "Authorization": app.user } }))
            .await;
        assert_eq!(with_token.message().await["type"], "connection_ack");
        // The anonymous ones are still served.
        for socket in &mut anonymous {
            assert!(socket.stays_silent_for(Duration::from_millis(100)).await);
        }
    }
}

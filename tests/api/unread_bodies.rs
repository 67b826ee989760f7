//! What a client sees when koogate answers before reading its whole body
//! (issue 13): a refused form-sized post is still received in full, so its
//! connection stays usable; a refused upload is cut off after its answer
//! instead of being received to the last byte.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// The head of a Kit post whose signature is not one (refused from the
/// headers) announcing `length` bytes of body.
fn forged_kit_head(app: &TestApp, length: usize) -> String {
    format!(
        "POST {}/produceAPI/v2/tenantSync HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\
         x-sign: 00\r\nx-timestamp: {}\r\nx-nonce: n-forged\r\n\r\n",
        app.marketplace_path,
        chrono::Utc::now().timestamp_millis()
    )
}

/// Reads one answer's head and its `Content-Length` body.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answered in time")
            .expect("read");
        assert!(read > 0, "closed before answering: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..read]);
        let text = String::from_utf8_lossy(&seen).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(str::to_string)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn a_refused_form_sized_post_keeps_its_connection() {
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connect");
    // 200 KiB, arriving after the head as over a slow uplink: koogate has
    // answered from the headers by the time the body comes.
    let body = vec![b'7'; 200 * 1024];
    stream.write_all(forged_kit_head(&app, body.len()).as_bytes()).await.expect("head");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stream.write_all(&body).await.expect("body");
    let answer = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("000001"), "{answer}");
    assert!(!answer.to_ascii_lowercase().contains("connection: close"), "{answer}");

    stream
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("second request");
    let second = read_answer(&mut stream).await;
    assert!(second.starts_with("HTTP/1.1 200"), "the connection was not kept: {second}");
}

#[tokio::test]
async fn a_refused_upload_is_cut_off_after_its_answer() {
    const ANNOUNCED: usize = 8 * 1024 * 1024;
    let app = spawn_app(Backend::Sqlite, KIT_SETTINGS).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    // A small send buffer, so what the client has written is close to
    // what koogate has taken in.
    socket.set_send_buffer_size(64 * 1024).expect("send buffer");
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], app.port));
    let mut stream = socket.connect(address).await.expect("connect");
    stream.write_all(forged_kit_head(&app, ANNOUNCED).as_bytes()).await.expect("head");
    let (mut reader, mut writer) = stream.into_split();
    let sender = tokio::spawn(async move {
        let chunk = vec![b'7'; 64 * 1024];
        let mut sent = 0usize;
        while sent < ANNOUNCED {
            match writer.write(&chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        sent
    });
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), reader.read(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");

    let sent = tokio::time::timeout(std::time::Duration::from_secs(10), sender)
        .await
        .expect("the upload was cut off")
        .expect("sender");
    assert!(
        sent < ANNOUNCED / 2,
        "koogate took in {sent} bytes of a refused {ANNOUNCED}-byte upload"
    );
}

//! A hostile tenant auth centre: plain TCP on port 0 that counts every
//! request koogate makes to it and every byte it manages to hand over,
//! and answers slowly, with nothing, or without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the hostile auth centre answers every request.
#[derive(Clone, Copy, Debug)]
pub enum Hostility {
    /// `404` after a pause (no OpenID discovery, slowly).
    SlowNotFound(Duration),
    /// `200` with a JSON-looking body of this many bytes.
    Endless(usize),
}

/// A running hostile auth centre; `base_url` is a tenant's `domainName`.
pub struct HostileCentre {
    pub base_url: String,
    pub port: u16,
    requests: Arc<AtomicUsize>,
    bytes_sent: Arc<AtomicUsize>,
}

impl HostileCentre {
    pub async fn start(hostility: Hostility) -> HostileCentre {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let bytes_sent = Arc::new(AtomicUsize::new(0));
        let (counted, sent) = (requests.clone(), bytes_sent.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counted, sent) = (counted.clone(), sent.clone());
                tokio::spawn(answer(stream, hostility, counted, sent));
            }
        });
        HostileCentre { base_url: format!("http://127.0.0.1:{port}"), port, requests, bytes_sent }
    }

    /// Requests it received (whole heads read).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Body bytes the peer accepted before it stopped reading.
    pub fn bytes_sent(&self) -> usize {
        self.bytes_sent.load(Ordering::SeqCst)
    }
}

async fn answer(
    mut stream: TcpStream,
    hostility: Hostility,
    requests: Arc<AtomicUsize>,
    bytes_sent: Arc<AtomicUsize>,
) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    match hostility {
        Hostility::SlowNotFound(pause) => {
            tokio::time::sleep(pause).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
        Hostility::Endless(size) => {
            let head: &[u8] =
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"x\":\"";
            if stream.write_all(head).await.is_err() {
                return;
            }
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0;
            while sent < size {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
                bytes_sent.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            let _ = stream.write_all(b"\"}").await;
        }
    }
}

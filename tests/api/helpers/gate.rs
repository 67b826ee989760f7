//! The vendor's app as the gate sees it: an echo server, and the check of
//! the identity token it receives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use serde_json::{json, Value};

use super::app::{spawn_app, Backend, TestApp, KIT_SETTINGS};

/// A stand-in for the vendor's app: it answers what it received (`/slow`
/// after 6 s).
pub async fn start_upstream() -> String {
    let server = HttpServer::new(|| {
        App::new().app_data(web::PayloadConfig::new(16 << 20)).default_service(web::to(
            |req: HttpRequest, body: web::Bytes| async move {
                // An app that takes its time (a report, an export).
                if req.path() == "/slow" {
                    actix_web::rt::time::sleep(std::time::Duration::from_secs(6)).await;
                }
                let headers: BTreeMap<String, String> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                    })
                    .collect();
                HttpResponse::Ok().insert_header(("X-Upstream", "yes")).json(json!({
                    "method": req.method().as_str(),
                    "path": req.uri().path_and_query().map(|p| p.as_str()),
                    "headers": headers,
                    "bodyLength": body.len(),
                    "bodyChecksum": body.iter().map(|b| u64::from(*b)).sum::<u64>(),
                }))
            },
        ))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    format!("http://127.0.0.1:{port}")
}

/// What the stand-in app received for `request` (sent through the gate,
/// answered 200).
pub async fn echoed(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("through the gate");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("echo")
}

/// Verifies an ES256 JWT against the published JWKS; returns its claims.
pub async fn verified_claims(app: &TestApp, token: &str) -> Value {
    let jwks: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.address))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact token");
    let header: Value =
        serde_json::from_slice(&B64URL.decode(parts[0]).expect("b64")).expect("header");
    assert_eq!(header["alg"], "ES256");
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is published");
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!((jwk["alg"].as_str(), jwk["use"].as_str()), (Some("ES256"), Some("sig")));
    let point = json!({"kty": jwk["kty"], "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]});
    let public = p256::PublicKey::from_jwk_str(&point.to_string()).expect("an EC P-256 JWK");
    let key = p256::ecdsa::VerifyingKey::from(public);
    let signature =
        p256::ecdsa::Signature::from_slice(&B64URL.decode(parts[2]).expect("b64")).expect("sig");
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .expect("the signature verifies");
    serde_json::from_slice(&B64URL.decode(parts[1]).expect("b64")).expect("claims")
}

/// An app with [`KIT_SETTINGS`] whose gate forwards to `upstream`, plus
/// `more` settings.
pub async fn gate_app_with(backend: Backend, upstream: &str, more: &[(&str, &str)]) -> TestApp {
    let mut settings: Vec<(&str, &str)> = KIT_SETTINGS.to_vec();
    settings.push(("upstream.url", upstream));
    settings.extend_from_slice(more);
    spawn_app(backend, &settings).await
}

/// A listener that keeps the first bytes of the first connection made to
/// it and then hangs up: what a client speaks before any answer (a TLS
/// ClientHello starts with the handshake record type 0x16).
pub async fn first_bytes_listener() -> (u16, tokio::sync::oneshot::Receiver<Vec<u8>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        let mut first = vec![0u8; 3];
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), socket.read_exact(&mut first))
                .await;
        if matches!(read, Ok(Ok(_))) {
            let _ = sender.send(first);
        }
    });
    (port, receiver)
}

/// A plain HTTP/1.1 app that answers every request `200 ok` and counts the
/// connections made to it. With `hang_up`, it closes each connection right
/// after its first answer, without saying so (no `Connection: close`), as
/// an app whose keep-alive ran out does.
pub async fn counting_upstream(hang_up: bool) -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut received = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut buffer).await else { return };
                    if n == 0 {
                        return;
                    }
                    received.extend_from_slice(&buffer[..n]);
                    // GETs only: a request ends with its head.
                    while let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                        received.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if socket.write_all(answer).await.is_err() || hang_up {
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}"), connections)
}

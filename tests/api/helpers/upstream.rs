//! A stand-in for the vendor's app behind the gate.

use std::collections::BTreeMap;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;

use super::app::{spawn_app, Backend, TestApp, KIT_SETTINGS};

/// A stand-in for the vendor's app: it answers what it received (method,
/// path, headers, body length and checksum).
pub async fn start_upstream() -> String {
    let server = HttpServer::new(|| {
        App::new().app_data(web::PayloadConfig::new(16 << 20)).default_service(web::to(
            |req: HttpRequest, body: web::Bytes| async move {
                let headers: BTreeMap<String, String> = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
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

/// An app with [`KIT_SETTINGS`] whose gate forwards to `upstream`, plus
/// `more` settings.
pub async fn gate_app_with(backend: Backend, upstream: &str, more: &[(&str, &str)]) -> TestApp {
    let mut settings: Vec<(&str, &str)> = KIT_SETTINGS.to_vec();
    settings.push(("upstream.url", upstream));
    settings.extend_from_slice(more);
    spawn_app(backend, &settings).await
}

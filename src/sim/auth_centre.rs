//! `koogate sim auth-centre`: a tenant auth centre in the KooGallery
//! dialect (protocol §7: authorize, token, userinfo, logout), so sign-in
//! can be clicked through on a laptop before the marketplace exists.
//!
//! It checks what a real one checks: the client credentials, the exact
//! redirect_uri, single-use codes and the PKCE verifier. Who signs in is
//! chosen on a small form (any account name), or fixed with `auto_user`
//! for load tests.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Codes must be redeemed within this; tokens live for `TOKEN_LIFETIME`.
const CODE_LIFETIME: Duration = Duration::from_secs(120);
const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// Past this many live codes or tokens the oldest half is forgotten.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: String,
    /// The tenant id the callback names (`tenant=`).
    pub tenant_id: String,
    /// Who signs in without a form (load tests); `None` shows the form.
    pub auto_user: Option<String>,
}

/// A code waiting to be redeemed once.
struct Grant {
    user_name: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    issued: Instant,
}

#[derive(Default)]
struct Memory {
    codes: HashMap<String, Grant>,
    /// token → (user name, issued)
    access_tokens: HashMap<String, (String, Instant)>,
    refresh_tokens: HashMap<String, (String, Instant)>,
}

struct Centre {
    config: Config,
    memory: Mutex<Memory>,
}

/// Starts the auth centre on `listener`; runs until the process ends.
pub fn serve(listener: TcpListener, config: Config) -> Result<actix_web::dev::Server, Error> {
    let centre = web::Data::new(Centre { config, memory: Mutex::new(Memory::default()) });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(centre.clone())
            .route("/api/v1/oauth2/authorize", web::get().to(authorize_form))
            .route("/api/v1/oauth2/authorize", web::post().to(authorize))
            .route("/api/v1/oauth2/token", web::post().to(token))
            .route("/api/v1/oauth2/userinfo", web::get().to(userinfo))
            .route("/api/v1/logout", web::get().to(logout))
    })
    .listen(listener)
    .map_err(|e| Error::Internal(format!("cannot serve the auth centre: {e}")))?
    .run();
    Ok(server)
}

type Params = HashMap<String, String>;

fn random(prefix: &str) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 32))
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({"error": error, "error_description": description}))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Forgets the oldest half of a map that grew past `MAX_ENTRIES`.
fn bound<V>(map: &mut HashMap<String, V>, issued: impl Fn(&V) -> Instant) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    let mut ages: Vec<Instant> = map.values().map(&issued).collect();
    ages.sort();
    let cut = ages[ages.len() / 2];
    map.retain(|_, v| issued(v) > cut);
}

/// `GET authorize`: the request checked, then the sign-in form (or, with
/// `auto_user`, straight back with a code).
async fn authorize_form(centre: web::Data<Centre>, query: web::Query<Params>) -> HttpResponse {
    if let Err(why) = check_authorize(&centre.config, &query) {
        return HttpResponse::BadRequest().body(why);
    }
    if let Some(user_name) = centre.config.auto_user.clone() {
        return issue_code(&centre, &query, user_name);
    }
    let hidden: String = query
        .iter()
        .map(|(k, v)| {
            format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v))
        })
        .collect();
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Auth centre (simulated)</title></head><body>\
         <h1>Sign in to tenant {}</h1>\
         <p>This is koogate's simulated auth centre: any account name signs in.</p>\
         <form method=\"post\">{hidden}\
         <label>Account name <input name=\"login_user\" required autofocus></label> \
         <button>Sign in</button></form></body></html>",
        escape(&centre.config.tenant_id)
    ))
}

/// `POST authorize`: the form's account signs in.
async fn authorize(centre: web::Data<Centre>, form: web::Form<Params>) -> HttpResponse {
    let mut form = form.into_inner();
    if let Err(why) = check_authorize(&centre.config, &form) {
        return HttpResponse::BadRequest().body(why);
    }
    let Some(user_name) = form.remove("login_user").filter(|u| !u.trim().is_empty()) else {
        return HttpResponse::BadRequest().body("an account name is needed");
    };
    issue_code(&centre, &form, user_name.trim().to_string())
}

fn check_authorize(config: &Config, query: &Params) -> Result<(), &'static str> {
    if query.get("response_type").map(String::as_str) != Some("code") {
        return Err("unsupported response_type");
    }
    if query.get("client_id") != Some(&config.client_id) {
        return Err("unknown client_id");
    }
    if !query.contains_key("redirect_uri") {
        return Err("redirect_uri missing");
    }
    Ok(())
}

fn issue_code(centre: &Centre, query: &Params, user_name: String) -> HttpResponse {
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    let code = random("code-");
    if let Ok(mut memory) = centre.memory.lock() {
        bound(&mut memory.codes, |g| g.issued);
        memory.codes.insert(
            code.clone(),
            Grant {
                user_name,
                redirect_uri: redirect_uri.clone(),
                code_challenge: query.get("code_challenge").cloned(),
                issued: Instant::now(),
            },
        );
    }
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("code", &code);
    back.append_pair("tenant", &centre.config.tenant_id);
    if let Some(state) = query.get("state") {
        back.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{redirect_uri}{separator}{}", back.finish())))
        .finish()
}

/// `POST token`: form body, client_secret_post; authorization_code (with
/// PKCE when the authorize request had a challenge) or refresh_token.
async fn token(centre: web::Data<Centre>, form: web::Form<Params>) -> HttpResponse {
    let config = &centre.config;
    let client_ok = form.get("client_id") == Some(&config.client_id)
        && form.get("client_secret").is_some_and(|s| {
            bool::from(subtle::ConstantTimeEq::ct_eq(s.as_bytes(), config.client_secret.as_bytes()))
        });
    if !client_ok {
        return oauth_error(401, "invalid_client", "Bad client credentials");
    }
    let Ok(mut memory) = centre.memory.lock() else {
        return oauth_error(500, "server_error", "try again");
    };
    let user_name = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            // A code is gone once presented, whatever the outcome.
            let grant = form.get("code").and_then(|code| memory.codes.remove(code));
            let redeemable = |g: &Grant| {
                let pkce_ok = match &g.code_challenge {
                    Some(challenge) => {
                        form.get("code_verifier").is_some_and(|v| s256(v) == *challenge)
                    }
                    None => true,
                };
                g.issued.elapsed() < CODE_LIFETIME
                    && form.get("redirect_uri") == Some(&g.redirect_uri)
                    && pkce_ok
            };
            match grant {
                Some(g) if redeemable(&g) => g.user_name,
                _ => return oauth_error(400, "invalid_grant", "Invalid authorization code"),
            }
        }
        Some("refresh_token") => {
            let known = form.get("refresh_token").and_then(|t| memory.refresh_tokens.remove(t));
            match known {
                Some((user_name, _)) => user_name,
                None => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
            }
        }
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let access_token = random("at-");
    let refresh_token = random("rt-");
    bound(&mut memory.access_tokens, |t| t.1);
    bound(&mut memory.refresh_tokens, |t| t.1);
    memory.access_tokens.insert(access_token.clone(), (user_name.clone(), Instant::now()));
    memory.refresh_tokens.insert(refresh_token.clone(), (user_name, Instant::now()));
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME.as_secs(),
        "scope": "get_user_info",
        "refresh_token": refresh_token,
    }))
}

/// `GET userinfo` with `Authorization: Bearer …`: the account signed in.
async fn userinfo(centre: web::Data<Centre>, request: HttpRequest) -> HttpResponse {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let user_name = centre.memory.lock().ok().and_then(|memory| {
        let (user_name, issued) = memory.access_tokens.get(bearer?)?;
        (issued.elapsed() < TOKEN_LIFETIME).then(|| user_name.clone())
    });
    match user_name {
        Some(user_name) => HttpResponse::Ok().json(json!({
            "id": format!("id-{user_name}"),
            "userName": user_name,
            "name": user_name,
            "email": format!("{user_name}@example.com"),
            "role": "user",
            "tenant": centre.config.tenant_id,
        })),
        None => oauth_error(401, "unauthorized", "Full authentication is required"),
    }
}

/// `GET logout?redirect_url=…`: back to `redirect_url`.
async fn logout(query: web::Query<Params>) -> HttpResponse {
    match query.get("redirect_url") {
        Some(target) => {
            HttpResponse::Found().insert_header((header::LOCATION, target.as_str())).finish()
        }
        None => HttpResponse::Ok().body("signed out of the simulated auth centre"),
    }
}

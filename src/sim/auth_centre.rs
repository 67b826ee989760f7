//! `koogate sim auth-centre`: a tenant auth centre in the KooGallery
//! dialect (protocol §7: authorize, token, userinfo, logout), so sign-in
//! can be clicked through on a laptop before the marketplace exists. The
//! black-box tests run this same stand-in in-process (see [`embed`]).
//!
//! It checks what a real one checks: the client credentials, the exact
//! redirect_uri, single-use codes and the PKCE verifier. Who signs in is
//! chosen on a small form (any account name), or fixed with `auto_user`
//! (load tests) or [`Controls::signs_in`] (tests). Refresh tokens stay
//! valid after use, as Spring's authorization server keeps them.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Codes must be redeemed within this; tokens live for `TOKEN_LIFETIME`
/// unless [`Controls::tokens_live`] says otherwise.
const CODE_LIFETIME: Duration = Duration::from_secs(120);
const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// Past this many live codes or tokens the oldest half is forgotten.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: String,
    /// The tenant id the callback names (`tenant=`) for an account that
    /// names no tenant of its own.
    pub tenant_id: String,
    /// Who signs in without a form (load tests); `None` shows the form.
    pub auto_user: Option<String>,
}

/// The query or form parameters of one request.
pub type Params = HashMap<String, String>;

/// How many times each endpoint was called.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub authorize: usize,
    pub token: usize,
    pub userinfo: usize,
    pub logout: usize,
}

/// A code waiting to be redeemed once.
struct Grant {
    user_name: String,
    redirect_uri: String,
    code_challenge: Option<String>,
    issued: Instant,
}

/// A token's owner and the moment it stops being valid.
struct Issued {
    user_name: String,
    until: Instant,
}

#[derive(Default)]
struct Memory {
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, Issued>,
    refresh_tokens: HashMap<String, Issued>,
    /// userName → the userinfo answer; others get a made-up one.
    accounts: HashMap<String, Value>,
    /// Who signs in at the next authorize without a form.
    next_user: Option<String>,
    refuse_codes: bool,
    refuse_refresh: bool,
    token_lifetime: Option<Duration>,
    refreshes: usize,
    calls: Calls,
    last_authorize: Option<Params>,
    last_token_request: Option<Params>,
    last_logout: Option<Params>,
}

struct Centre {
    config: Config,
    memory: Mutex<Memory>,
}

impl Centre {
    /// The memory; a panic elsewhere leaves it usable (each change is one
    /// insert or remove, never half done).
    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the auth centre on `listener`; runs until the process ends.
pub fn serve(listener: TcpListener, config: Config) -> Result<actix_web::dev::Server, Error> {
    let (_, server) = start(listener, config, false)?;
    Ok(server)
}

/// Starts the auth centre inside a program that has its own runtime and
/// signal handling (the tests): one worker, and [`Controls`] to choose
/// who signs in, inject refusals and see what it was sent.
pub fn embed(
    listener: TcpListener,
    config: Config,
) -> Result<(Controls, actix_web::dev::Server), Error> {
    start(listener, config, true)
}

fn start(
    listener: TcpListener,
    config: Config,
    embedded: bool,
) -> Result<(Controls, actix_web::dev::Server), Error> {
    let memory = Memory { next_user: config.auto_user.clone(), ..Memory::default() };
    let centre = Arc::new(Centre { config, memory: Mutex::new(memory) });
    let data = web::Data::from(centre.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/api/v1/oauth2/authorize", web::get().to(authorize_form))
            .route("/api/v1/oauth2/authorize", web::post().to(authorize))
            .route("/api/v1/oauth2/token", web::post().to(token))
            .route("/api/v1/oauth2/userinfo", web::get().to(userinfo))
            .route("/api/v1/logout", web::get().to(logout))
    });
    if embedded {
        server = server.workers(1).disable_signals();
    }
    let server = server
        .listen(listener)
        .map_err(|e| Error::Internal(format!("cannot serve the auth centre: {e}")))?
        .run();
    Ok((Controls { centre }, server))
}

/// The knobs of a running auth centre and what it saw.
#[derive(Clone)]
pub struct Controls {
    centre: Arc<Centre>,
}

impl Controls {
    /// Adds an account: its userinfo answer, with `userName` and, when
    /// the callback should name it, `tenant`.
    pub fn add_account(&self, account: Value) {
        if let Some(user_name) = account["userName"].as_str() {
            self.centre.memory().accounts.insert(user_name.to_string(), account.clone());
        }
    }

    /// The account that signs in at every authorize from now on.
    pub fn signs_in(&self, user_name: &str) {
        self.centre.memory().next_user = Some(user_name.to_string());
    }

    /// From now on the token endpoint refuses every code (`invalid_grant`).
    pub fn refuse_codes(&self) {
        self.centre.memory().refuse_codes = true;
    }

    /// From now on every refresh token is refused (`invalid_grant`).
    pub fn refuse_refresh(&self) {
        self.centre.memory().refuse_refresh = true;
    }

    /// Tokens handed out from now on live this many seconds.
    pub fn tokens_live(&self, seconds: u64) {
        self.centre.memory().token_lifetime = Some(Duration::from_secs(seconds));
    }

    /// How many refresh-token grants it answered.
    pub fn refreshes(&self) -> usize {
        self.centre.memory().refreshes
    }

    pub fn calls(&self) -> Calls {
        self.centre.memory().calls
    }

    /// The parameters of the latest authorize request.
    pub fn last_authorize(&self) -> Option<Params> {
        self.centre.memory().last_authorize.clone()
    }

    /// The form of the latest token request.
    pub fn last_token_request(&self) -> Option<Params> {
        self.centre.memory().last_token_request.clone()
    }

    /// The query of the latest logout visit.
    pub fn last_logout(&self) -> Option<Params> {
        self.centre.memory().last_logout.clone()
    }
}

fn random(prefix: &str) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    format!("{prefix}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), 32))
}

/// BASE64URL-NOPAD(SHA256(verifier)): the S256 code challenge (RFC 7636).
pub fn s256(verifier: &str) -> String {
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
fn bound<V>(map: &mut HashMap<String, V>, age: impl Fn(&V) -> Instant) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    let mut ages: Vec<Instant> = map.values().map(&age).collect();
    ages.sort();
    let cut = ages[ages.len() / 2];
    map.retain(|_, v| age(v) > cut);
}

/// `GET authorize`: the request checked, then the sign-in form (or, with
/// a chosen account, straight back with a code).
async fn authorize_form(centre: web::Data<Centre>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    let next_user = {
        let mut memory = centre.memory();
        memory.calls.authorize += 1;
        memory.last_authorize = Some(query.clone());
        memory.next_user.clone()
    };
    if let Err(why) = check_authorize(&centre.config, &query) {
        return HttpResponse::BadRequest().body(why);
    }
    if let Some(user_name) = next_user {
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
    {
        let mut memory = centre.memory();
        memory.calls.authorize += 1;
        memory.last_authorize = Some(form.clone());
    }
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
    let tenant_id = {
        let mut memory = centre.memory();
        let tenant_id = memory
            .accounts
            .get(&user_name)
            .and_then(|account| account["tenant"].as_str())
            .unwrap_or(&centre.config.tenant_id)
            .to_string();
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
        tenant_id
    };
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("code", &code);
    back.append_pair("tenant", &tenant_id);
    if let Some(state) = query.get("state") {
        back.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    HttpResponse::Found()
        .insert_header((header::LOCATION, format!("{redirect_uri}{separator}{}", back.finish())))
        .finish()
}

/// Whether a token request may redeem this grant: in time, the
/// redirect_uri of the authorize request, and the PKCE verifier.
fn redeemable(grant: &Grant, form: &Params) -> bool {
    let pkce_ok = match &grant.code_challenge {
        Some(challenge) => form.get("code_verifier").is_some_and(|v| s256(v) == *challenge),
        None => true,
    };
    grant.issued.elapsed() < CODE_LIFETIME
        && form.get("redirect_uri") == Some(&grant.redirect_uri)
        && pkce_ok
}

/// `POST token`: form body, client_secret_post; authorization_code (with
/// PKCE when the authorize request had a challenge) or refresh_token.
async fn token(centre: web::Data<Centre>, form: web::Form<Params>) -> HttpResponse {
    let form = form.into_inner();
    let config = &centre.config;
    let mut memory = centre.memory();
    memory.calls.token += 1;
    memory.last_token_request = Some(form.clone());
    let client_ok = form.get("client_id") == Some(&config.client_id)
        && form.get("client_secret").is_some_and(|s| {
            bool::from(subtle::ConstantTimeEq::ct_eq(s.as_bytes(), config.client_secret.as_bytes()))
        });
    if !client_ok {
        return oauth_error(401, "invalid_client", "Bad client credentials");
    }
    let user_name = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            // A code is gone once presented, whatever the outcome.
            let grant = form.get("code").and_then(|code| memory.codes.remove(code));
            match grant {
                Some(g) if !memory.refuse_codes && redeemable(&g, &form) => g.user_name,
                _ => return oauth_error(400, "invalid_grant", "Invalid authorization code"),
            }
        }
        Some("refresh_token") => {
            let known = form
                .get("refresh_token")
                .and_then(|t| memory.refresh_tokens.get(t))
                .filter(|issued| Instant::now() < issued.until)
                .map(|issued| issued.user_name.clone());
            match known {
                Some(user_name) if !memory.refuse_refresh => {
                    memory.refreshes += 1;
                    user_name
                }
                _ => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
            }
        }
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let lifetime = memory.token_lifetime.unwrap_or(TOKEN_LIFETIME);
    let access_token = random("at-");
    let refresh_token = random("rt-");
    bound(&mut memory.access_tokens, |t| t.until);
    bound(&mut memory.refresh_tokens, |t| t.until);
    let access = Issued { user_name: user_name.clone(), until: Instant::now() + lifetime };
    memory.access_tokens.insert(access_token.clone(), access);
    // A refresh token outlives the access tokens it renews.
    let refresh = Issued { user_name, until: Instant::now() + TOKEN_LIFETIME.max(lifetime) };
    memory.refresh_tokens.insert(refresh_token.clone(), refresh);
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
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
    let mut memory = centre.memory();
    memory.calls.userinfo += 1;
    let user_name = bearer
        .and_then(|token| memory.access_tokens.get(token))
        .filter(|issued| Instant::now() < issued.until)
        .map(|issued| issued.user_name.clone());
    let Some(user_name) = user_name else {
        return oauth_error(
            401,
            "unauthorized",
            "Full authentication is required to access this resource",
        );
    };
    let account = memory.accounts.get(&user_name).cloned().unwrap_or_else(|| {
        json!({
            "id": format!("id-{user_name}"),
            "userName": user_name,
            "name": user_name,
            "email": format!("{user_name}@example.com"),
            "role": "user",
            "tenant": centre.config.tenant_id,
        })
    });
    HttpResponse::Ok().json(account)
}

/// `GET logout?redirect_url=…`: back to `redirect_url`.
async fn logout(centre: web::Data<Centre>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    {
        let mut memory = centre.memory();
        memory.calls.logout += 1;
        memory.last_logout = Some(query.clone());
    }
    match query.get("redirect_url") {
        Some(target) => {
            HttpResponse::Found().insert_header((header::LOCATION, target.as_str())).finish()
        }
        None => HttpResponse::Ok().body("signed out of the simulated auth centre"),
    }
}

//! A stand-in for a tenant's auth centre in the KooGallery dialect (spec §7,
//! research §6.2–6.3): authorize, token, userinfo and logout on port 0.
//! It checks what a real one checks (client credentials, single-use codes,
//! the redirect_uri, the PKCE verifier) and records what it was sent, so
//! tests can look at koogate's side of the conversation.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::random_id;

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

/// A code handed out at authorize, waiting to be redeemed once.
struct Grant {
    user_name: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
}

#[derive(Default)]
struct Inner {
    /// userName → the userinfo answer.
    accounts: HashMap<String, Value>,
    /// Who signs in at the next authorize ("the user typed their password").
    next_user: Option<String>,
    refuse_codes: bool,
    refuse_refresh: bool,
    /// `expires_in` of the tokens it hands out (7200 unless told).
    token_lifetime: Option<u64>,
    refreshes: usize,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, String>,
    refresh_tokens: HashMap<String, String>,
    authorize_requests: Vec<Params>,
    token_requests: Vec<Params>,
    logout_requests: Vec<Params>,
    userinfo_calls: usize,
}

struct Shared {
    client_id: String,
    client_secret: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("auth centre state")
    }
}

/// A running auth centre; its `base_url` is the tenant's `domainName`.
pub struct AuthCentre {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
    shared: Arc<Shared>,
}

impl AuthCentre {
    /// Starts an auth centre that knows one OAuth client and no account.
    pub fn start(client_id: &str, client_secret: &str) -> AuthCentre {
        let shared = Arc::new(Shared {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            inner: Mutex::new(Inner::default()),
        });
        let data = web::Data::from(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the auth centre");
        let port = listener.local_addr().expect("local address").port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/api/v1/oauth2/authorize", web::get().to(authorize))
                .route("/api/v1/oauth2/token", web::post().to(token))
                .route("/api/v1/oauth2/userinfo", web::get().to(userinfo))
                .route("/api/v1/logout", web::get().to(logout))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        AuthCentre {
            base_url: format!("http://127.0.0.1:{port}"),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            shared,
        }
    }

    /// Adds an account (a userinfo answer, see [`account`]).
    pub fn add_account(&self, account: Value) {
        let user_name = account["userName"].as_str().expect("userName").to_string();
        self.shared.lock().accounts.insert(user_name, account);
    }

    /// The account that signs in at every authorize from now on.
    pub fn signs_in(&self, user_name: &str) {
        self.shared.lock().next_user = Some(user_name.to_string());
    }

    /// From now on the token endpoint refuses every code (`invalid_grant`).
    pub fn refuse_codes(&self) {
        self.shared.lock().refuse_codes = true;
    }

    /// Tokens handed out from now on live this many seconds.
    pub fn tokens_live(&self, seconds: u64) {
        self.shared.lock().token_lifetime = Some(seconds);
    }

    /// From now on every refresh token is refused (`invalid_grant`).
    pub fn refuse_refresh(&self) {
        self.shared.lock().refuse_refresh = true;
    }

    /// How many refresh-token grants it answered.
    pub fn refreshes(&self) -> usize {
        self.shared.lock().refreshes
    }

    pub fn calls(&self) -> Calls {
        let inner = self.shared.lock();
        Calls {
            authorize: inner.authorize_requests.len(),
            token: inner.token_requests.len(),
            userinfo: inner.userinfo_calls,
            logout: inner.logout_requests.len(),
        }
    }

    /// The query of the latest authorize request.
    pub fn last_authorize(&self) -> Params {
        self.shared.lock().authorize_requests.last().cloned().expect("an authorize request")
    }

    /// The form of the latest token request.
    pub fn last_token_request(&self) -> Params {
        self.shared.lock().token_requests.last().cloned().expect("a token request")
    }

    /// The query of the latest logout visit.
    pub fn last_logout(&self) -> Params {
        self.shared.lock().logout_requests.last().cloned().expect("a logout visit")
    }
}

/// A userinfo answer as the auth centre gives it (research §6.2 step 5).
pub fn account(tenant_id: &str, user_name: &str, name: &str, role: &str, org_code: &str) -> Value {
    json!({
        "id": format!("id-{user_name}"),
        "userName": user_name,
        "name": name,
        "email": format!("{user_name}@example.com"),
        "mobile": "13800000000",
        "role": role,
        "organizationCode": org_code,
        "organizationName": format!("Department {org_code}"),
        "tenant": tenant_id,
    })
}

/// BASE64URL-NOPAD(SHA256(verifier)): the S256 code challenge (RFC 7636).
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status).expect("a status");
    HttpResponse::build(status).json(json!({"error": error, "error_description": description}))
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, location)).finish()
}

/// `GET /api/v1/oauth2/authorize`: the chosen account signs in at once and
/// the browser goes back to `redirect_uri?code=…&tenant=…&state=…`.
async fn authorize(shared: web::Data<Shared>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    let mut inner = shared.lock();
    inner.authorize_requests.push(query.clone());
    if query.get("response_type").map(String::as_str) != Some("code") {
        return HttpResponse::BadRequest().body("unsupported response_type");
    }
    if query.get("client_id") != Some(&shared.client_id) {
        return HttpResponse::BadRequest().body("unknown client_id");
    }
    let Some(redirect_uri) = query.get("redirect_uri").cloned() else {
        return HttpResponse::BadRequest().body("redirect_uri missing");
    };
    let Some(account) = inner.next_user.as_ref().and_then(|u| inner.accounts.get(u)).cloned()
    else {
        return HttpResponse::BadRequest().body("the test chose no account");
    };
    let code = random_id("code-");
    inner.codes.insert(
        code.clone(),
        Grant {
            user_name: account["userName"].as_str().expect("userName").to_string(),
            client_id: shared.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            code_challenge: query.get("code_challenge").cloned(),
        },
    );
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("code", &code);
    back.append_pair("tenant", account["tenant"].as_str().expect("tenant"));
    if let Some(state) = query.get("state") {
        back.append_pair("state", state);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    redirect(&format!("{redirect_uri}{separator}{}", back.finish()))
}

/// Whether a token request may redeem this grant: same client, the
/// redirect_uri of the authorize request, and the PKCE verifier.
fn redeemable(grant: &Grant, form: &Params) -> bool {
    let pkce_ok = match &grant.code_challenge {
        Some(challenge) => form.get("code_verifier").is_some_and(|v| s256(v) == *challenge),
        None => true,
    };
    form.get("client_id") == Some(&grant.client_id)
        && form.get("redirect_uri") == Some(&grant.redirect_uri)
        && pkce_ok
}

/// `POST /api/v1/oauth2/token`, form body, client_secret_post.
async fn token(shared: web::Data<Shared>, form: web::Form<Params>) -> HttpResponse {
    let form = form.into_inner();
    let mut inner = shared.lock();
    inner.token_requests.push(form.clone());
    if form.get("client_id") != Some(&shared.client_id)
        || form.get("client_secret") != Some(&shared.client_secret)
    {
        return oauth_error(401, "invalid_client", "Bad client credentials");
    }
    let user_name = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            // A code is gone once presented, whatever the outcome.
            let grant = form.get("code").and_then(|code| inner.codes.remove(code));
            match grant {
                Some(grant) if !inner.refuse_codes && redeemable(&grant, &form) => grant.user_name,
                _ => return oauth_error(400, "invalid_grant", "Invalid authorization code"),
            }
        }
        Some("refresh_token") => {
            let known =
                form.get("refresh_token").and_then(|t| inner.refresh_tokens.get(t)).cloned();
            match known {
                Some(user_name) if !inner.refuse_refresh => {
                    inner.refreshes += 1;
                    user_name
                }
                _ => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
            }
        }
        _ => return oauth_error(400, "unsupported_grant_type", "Unsupported grant type"),
    };
    let access_token = random_id("at-");
    let refresh_token = random_id("rt-");
    inner.access_tokens.insert(access_token.clone(), user_name.clone());
    inner.refresh_tokens.insert(refresh_token.clone(), user_name);
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": inner.token_lifetime.unwrap_or(7200),
        "scope": "get_user_info",
        "refresh_token": refresh_token,
    }))
}

/// `GET /api/v1/oauth2/userinfo` with `Authorization: Bearer …`.
async fn userinfo(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    let mut inner = shared.lock();
    inner.userinfo_calls += 1;
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let account = bearer
        .and_then(|token| inner.access_tokens.get(token))
        .and_then(|user_name| inner.accounts.get(user_name));
    match account {
        Some(account) => HttpResponse::Ok().json(account),
        None => oauth_error(
            401,
            "unauthorized",
            "Full authentication is required to access this resource",
        ),
    }
}

/// `GET /api/v1/logout?redirect_url=…`: back to `redirect_url`.
async fn logout(shared: web::Data<Shared>, query: web::Query<Params>) -> HttpResponse {
    let query = query.into_inner();
    shared.lock().logout_requests.push(query.clone());
    match query.get("redirect_url") {
        Some(target) => redirect(target),
        None => HttpResponse::Ok().body("signed out of the auth centre"),
    }
}

/// The stand-in itself: the sign-in tests prove little if it lets a wrong
/// verifier, a reused code or a wrong secret through.
#[tokio::test]
async fn the_stand_in_refuses_what_a_real_auth_centre_refuses() {
    let centre = AuthCentre::start("client-1", "secret-1");
    centre.add_account(account("tenant-1", "alice", "Alice", "admin", "D1"));
    centre.signs_in("alice");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let redirect_uri = "http://127.0.0.1:8080/sso/callback";
    let verifier = random_id("verifier-with-enough-characters-");
    let authorize = |challenge: String| {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("client_id", "client-1"),
                ("redirect_uri", redirect_uri),
                ("scope", "get_user_info"),
                ("state", "s1"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        http.get(format!("{}/api/v1/oauth2/authorize?{query}", centre.base_url)).send()
    };
    let code_of = |response: reqwest::Response| {
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().expect("ASCII").to_string();
        let url = reqwest::Url::parse(&location).expect("a URL");
        assert!(location.starts_with(&format!("{redirect_uri}?")), "{location}");
        let params: Params = url.query_pairs().into_owned().collect();
        assert_eq!((params["tenant"].as_str(), params["state"].as_str()), ("tenant-1", "s1"));
        params["code"].clone()
    };
    let redeem = |code: &str, secret: &str, verifier: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", "client-1"),
            ("client_secret", secret),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        http.post(format!("{}/api/v1/oauth2/token", centre.base_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let code = code_of(authorize(s256(&verifier)).await.expect("authorize"));
    assert_eq!(redeem(&code, "wrong", &verifier).await.expect("token").status(), 401);
    let code = code_of(authorize(s256(&verifier)).await.expect("authorize"));
    assert_eq!(redeem(&code, "secret-1", "another-verifier").await.expect("token").status(), 400);
    let code = code_of(authorize(s256(&verifier)).await.expect("authorize"));
    let granted = redeem(&code, "secret-1", &verifier).await.expect("token");
    assert_eq!(granted.status(), 200);
    let tokens: Value = granted.json().await.expect("JSON");
    assert_eq!(redeem(&code, "secret-1", &verifier).await.expect("token").status(), 400);

    let userinfo = format!("{}/api/v1/oauth2/userinfo", centre.base_url);
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let me = http.get(&userinfo).bearer_auth(access_token).send().await.expect("userinfo");
    assert_eq!(me.json::<Value>().await.expect("JSON")["userName"], "alice");
    assert_eq!(http.get(&userinfo).send().await.expect("userinfo").status(), 401);

    centre.refuse_codes();
    let code = code_of(authorize(s256(&verifier)).await.expect("authorize"));
    assert_eq!(redeem(&code, "secret-1", &verifier).await.expect("token").status(), 400);
    assert_eq!(centre.calls(), Calls { authorize: 4, token: 5, userinfo: 2, logout: 0 });
}

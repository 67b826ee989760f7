//! The stand-in auth centre (`koogate sim auth-centre`, which the sign-in
//! tests use): the sign-in tests prove little if it lets a wrong
//! verifier, a reused code or a wrong secret through.

use serde_json::Value;

use crate::helpers::*;

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
    assert_eq!(
        centre.calls(),
        Calls { authorize: 4, token: 5, userinfo: 2, logout: 0, validate: 0 }
    );
}

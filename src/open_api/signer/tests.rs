//! The signer pinned to the published vectors (research §2.4).

use super::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

fn signature_of(signed: &Signed) -> String {
    let auth = header(&signed.headers, "authorization").expect("authorization");
    Authorization::parse(auth).expect("parses").signature
}

fn at(date: &str) -> DateTime<Utc> {
    parse_sdk_date(date).expect("date")
}

// Vector A: Huawei's own documented example (research §2.4), external.
#[test]
fn vector_a_huawei_documented_example() {
    let url = "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0";
    let headers = h(&[
        ("Content-Type", "application/json"),
        ("Host", "service.region.example.com"),
        ("X-Sdk-Date", "20191115T033655Z"),
    ]);
    let signed = sign(
        "GET",
        url,
        &headers,
        b"",
        "QTWAOYTTINDUT2QVKYUC",
        "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        at("20000101T000000Z"),
    )
    .expect("signs");
    let canonical = canonical_request(
        "GET",
        "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        &canonical_query("limit=2&marker=13551d6b-755d-4757-b956-536f674975c0"),
        &headers,
        &signed_header_names(headers.iter().map(|(n, _)| n.as_str())),
        &payload_hash(&headers, b""),
    )
    .expect("canonical");
    assert_eq!(
        hex::encode(Sha256::digest(canonical.as_bytes())),
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    );
    assert_eq!(
        signature_of(&signed),
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    );
    assert_eq!(
        header(&signed.headers, "authorization"),
        Some("SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe")
    );
}

#[test]
fn vector_a_content_type_is_signed_verbatim() {
    let url = "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0";
    let headers =
        h(&[("Content-Type", "application/json;charset=utf8"), ("X-Sdk-Date", "20191115T033655Z")]);
    let signed = sign(
        "GET",
        url,
        &headers,
        b"",
        "QTWAOYTTINDUT2QVKYUC",
        "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        at("20191115T033655Z"),
    )
    .expect("signs");
    assert_ne!(
        signature_of(&signed),
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    );
}

// Vector B: a third-party KooGallery vector (Ruby gem spec), external;
// host added by the signer.
#[test]
fn vector_b_koogallery_license_activate() {
    let headers = h(&[
        ("x-stage", "RELEASE"),
        ("X-Sdk-Date", "20240317T144237Z"),
        ("Content-Type", "application/json"),
    ]);
    let url = "https://mkt.myhuaweicloud.com/api/mkp-openapi-public/global/v1/license/activate";
    let signed =
        sign("POST", url, &headers, b"", "test", "123", at("20000101T000000Z")).expect("signs");
    assert_eq!(header(&signed.headers, "host"), Some("mkt.myhuaweicloud.com"));
    assert_eq!(
        signature_of(&signed),
        "77595ad624b6e4e49990b8c4e84bf1c287457fca61069c4e60b9b6765b52053d"
    );
    // The access key takes no part in the signature.
    let other =
        sign("POST", url, &headers, b"", "another", "123", at("20000101T000000Z")).expect("signs");
    assert_eq!(signature_of(&other), signature_of(&signed));
}

// Vector C: the order query with its parameters out of order.
#[test]
fn vector_c_order_query() {
    let url = "https://mkt-intl.myhuaweicloud.com/api/mkp-openapi-public/global/v1/order/query?orderLineId=MOCKPERIODYEARNEW-000001&orderId=MOCKPERIODYEARNEW";
    let signed = sign(
        "GET",
        url,
        &h(&[("Content-Type", "application/json")]),
        b"",
        "EXAMPLEAK000000000000",
        "EXAMPLEsk0000000000000000000000000000000",
        at("20250101T080000Z"),
    )
    .expect("signs");
    assert_eq!(header(&signed.headers, "x-sdk-date"), Some("20250101T080000Z"));
    assert_eq!(
        header(&signed.headers, "authorization"),
        Some("SDK-HMAC-SHA256 Access=EXAMPLEAK000000000000, SignedHeaders=content-type;host;x-sdk-date, Signature=f15a6cf6fed3edfe2d585341b591b1e1723e8037068ab358f476ca8aea3f31ff")
    );
    // What was signed is what is sent; no trailing slash on the wire.
    assert_eq!(
        signed.url,
        "https://mkt-intl.myhuaweicloud.com/api/mkp-openapi-public/global/v1/order/query?orderId=MOCKPERIODYEARNEW&orderLineId=MOCKPERIODYEARNEW-000001"
    );
}

// Vector D: a POST with a body (usage push).
#[test]
fn vector_d_usage_push_body() {
    let body = br#"{"usage_records":[{"begin_time":"20250101T070000Z","end_time":"20250101T080000Z","instance_id":"inst-0001","metering_sn":"sn-0001","record_time":"20250101T080500Z","usage_value":"1.5"}]}"#;
    assert_eq!(
        hex::encode(Sha256::digest(body)),
        "e9c6256c6f56bb3d2b897ae9a53f961a357900df89be561bf740f37583498fad"
    );
    let signed = sign(
        "POST",
        "https://mkt-intl.myhuaweicloud.com/api/mkp-openapi-public/global/v1/isv/usage-data",
        &h(&[("Content-Type", "application/json")]),
        body,
        "EXAMPLEAK000000000000",
        "EXAMPLEsk0000000000000000000000000000000",
        at("20250101T080600Z"),
    )
    .expect("signs");
    assert_eq!(
        signature_of(&signed),
        "e39f159b4806a86f42c097607b808010010e43617e10f228c7a8b73f6949423d"
    );
}

#[test]
fn encoding_follows_the_documented_illustration() {
    // research §2.2, the illustration.
    assert_eq!(
        canonical_query("b=2&b=10&b=1&a%20b=x%2By%2Fz~*%C3%A9&orderId=CS%201"),
        "a%20b=x%2By%2Fz~%2A%C3%A9&b=1&b=10&b=2&orderId=CS%201"
    );
    assert_eq!(canonical_uri("/api/v1/a b/c%2Fd"), "/api/v1/a%20b/c/d/");
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/"), "/");
}

#[test]
fn a_request_that_arrived_verifies_and_any_changed_byte_does_not() {
    let url = "http://127.0.0.1:8099/api/mkp-openapi-public/global/v1/order/query?orderId=A%201";
    let signed = sign(
        "GET",
        url,
        &h(&[("Content-Type", "application/json")]),
        b"",
        "ak",
        "sk",
        at("20250101T080000Z"),
    )
    .expect("signs");
    assert_eq!(header(&signed.headers, "host"), Some("127.0.0.1:8099"));
    let auth = Authorization::parse(header(&signed.headers, "authorization").expect("auth"))
        .expect("parses");
    let path = "/api/mkp-openapi-public/global/v1/order/query";
    let check = |method: &str, query: &str, body: &[u8], sk: &str| {
        expected_signature(method, path, query, &signed.headers, body, &auth, sk)
            .expect("recomputes")
            == auth.signature
    };
    assert!(check("GET", "orderId=A%201", b"", "sk"));
    assert!(!check("GET", "orderId=A%202", b"", "sk"));
    assert!(!check("GET", "orderId=A%201", b"x", "sk"));
    assert!(!check("POST", "orderId=A%201", b"", "sk"));
    assert!(!check("GET", "orderId=A%201", b"", "sK"));
}

#[test]
fn authorization_headers_parse_strictly() {
    assert!(Authorization::parse(
        "SDK-HMAC-SHA256 Access=a,SignedHeaders=host;x-sdk-date,Signature=00"
    )
    .is_ok());
    assert_eq!(
        Authorization::parse("SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=00"),
        Err(SignError::BadAuthorization),
        "x-sdk-date must be signed"
    );
    assert!(Authorization::parse(
        "AWS4-HMAC-SHA256 Access=a, SignedHeaders=x-sdk-date, Signature=00"
    )
    .is_err());
    assert!(Authorization::parse("SDK-HMAC-SHA256 Access=a, Signature=00").is_err());
}

#[test]
fn the_usage_signature_is_base64_hmac_of_ts_nonce_and_body() {
    // Checked with: printf 'ts=1735718760000&nonce=n-1&body={"a":1}' |
    //   openssl dgst -sha256 -hmac key -binary | base64
    assert_eq!(
        usage_body_signature("key", 1_735_718_760_000, "n-1", r#"{"a":1}"#),
        "ofyX41wiPwjd7ggqxwCr5RDoN4CnYCuNjqZ/AMedvMI="
    );
    let headers = usage_headers("key", at("20250101T080600Z"), "n-1", r#"{"a":1}"#);
    assert_eq!(headers[1], ("ts".to_string(), "1735718760000".to_string()));
    assert_eq!(headers[2], ("nonce".to_string(), "n-1".to_string()));
}

//! KooGallery wire algorithms: canonical request bodies, request signatures
//! and response `Body-Sign` headers (protocol §3), and the secrets carried in
//! payloads (protocol §4: appInfo AES credentials, RSA-OAEP `clientSecret`).
//!
//! Pure functions over bytes and strings: no I/O, no clock, no global state.

pub mod appinfo;
pub mod canonical;
pub mod client_secret;
pub mod error;
pub mod exact_json;
pub mod fields;
pub mod result;
pub mod signature;
pub mod timestamp;

pub use error::WireError;
pub use result::ResultCode;

/// The shared test vectors (`shared/spec/vectors.json`), or a copy in `tests/data/`.
#[cfg(test)]
pub(crate) fn vectors() -> serde_json::Value {
    let text = read_test_file(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/spec/vectors.json"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json"),
    );
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

/// The throw-away ISV private key (PKCS#8 PEM) the `clientSecret` vectors use.
#[cfg(test)]
pub(crate) fn test_private_key_pem() -> String {
    read_test_file(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/spec/test-keys/isv-test-private.pem"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/isv-test-private.pem"),
    )
}

#[cfg(test)]
fn read_test_file(shared: &str, local: &str) -> String {
    let path = if std::path::Path::new(shared).exists() { shared } else { local };
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[cfg(test)]
mod tests {
    /// `tests/data/` keeps a copy of the shared vectors so `cargo test`
    /// works from a bare clone; the copy must never drift from the spec.
    #[test]
    fn the_vendored_test_data_matches_the_shared_spec() {
        let pairs = [
            ("/../shared/spec/vectors.json", "/tests/data/vectors.json"),
            ("/../shared/spec/test-keys/isv-test-private.pem", "/tests/data/isv-test-private.pem"),
        ];
        for (shared, local) in pairs {
            let root = env!("CARGO_MANIFEST_DIR");
            let (shared, local) = (format!("{root}{shared}"), format!("{root}{local}"));
            let Ok(spec) = std::fs::read(&shared) else {
                continue;
            };
            let copy = std::fs::read(&local).unwrap_or_default();
            assert!(spec == copy, "{local} differs from {shared}: copy it again");
        }
    }
}

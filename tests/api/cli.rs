//! The command line, as an operator runs it.

use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;

/// `koogate keygen --out FILE`: the private key only its owner can read,
/// the public key body (base64, no PEM lines) on stdout for the seller
/// console; what the marketplace encrypts with it, koogate can open.
#[test]
fn keygen_makes_the_application_credential_key_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("app-key.pem");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_koogate"))
        .args(["keygen", "--out"])
        .arg(&out)
        .output()
        .expect("keygen runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let body = String::from_utf8(run.stdout).expect("utf-8");
    let body = body.trim();
    assert!(!body.contains("BEGIN") && !body.contains('\n'), "one base64 line: {body}");
    let der = base64::engine::general_purpose::STANDARD.decode(body).expect("base64");
    let public = rsa::RsaPublicKey::from_public_key_der(&der).expect("a public key");
    assert_eq!(public.size() * 8, 3072);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read_to_string(&out).expect("pem");
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).expect("a private key");
    assert_eq!(private.to_public_key(), public);

    let secret = "client-secret-from-the-marketplace";
    let sealed = public
        .encrypt(&mut rand::rngs::OsRng, rsa::Oaep::new::<sha2::Sha256>(), secret.as_bytes())
        .expect("encrypt");
    let b64 = base64::engine::general_purpose::STANDARD.encode(sealed);
    let key = koogate::marketplace::client_secret::load_private_key_pem(&pem).expect("loads");
    assert_eq!(
        koogate::marketplace::client_secret::decrypt_client_secret(&key, &b64).expect("opens"),
        secret
    );

    // Never overwrites an existing key.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_koogate"))
        .args(["keygen", "--out"])
        .arg(&out)
        .output()
        .expect("keygen runs");
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&out).expect("pem"), pem);
}

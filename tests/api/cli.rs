//! The command line, as an operator runs it.

use base64::Engine;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;

use crate::helpers::*;

/// `koogate keygen --out FILE`: the private key only its owner can read,
/// the public key body (base64, no PEM lines) on stdout for the seller
/// console; what the marketplace encrypts with it, koogate can open.
#[test]
fn keygen_makes_the_application_credential_key_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("app-key.pem");
    let run = std::process::Command::new(KOOGATE)
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
    let again = std::process::Command::new(KOOGATE)
        .args(["keygen", "--out"])
        .arg(&out)
        .output()
        .expect("keygen runs");
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&out).expect("pem"), pem);
}

/// `koogate hash-password`: the password on stdin, its argon2id hash on
/// stdout, ready for `admin.password_hash`; the password is not echoed.
#[test]
fn hash_password_prints_an_argon2id_hash_of_stdin() {
    use std::io::Write;
    let mut child = std::process::Command::new(KOOGATE)
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("hash-password runs");
    child.stdin.take().expect("stdin").write_all(b"a long operator password\n").expect("write");
    let run = child.wait_with_output().expect("done");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = String::from_utf8(run.stdout).expect("utf-8");
    let hash = out.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!out.contains("a long operator password"));
    assert!(koogate::sso::local::verify_password("a long operator password", hash));
    assert!(!koogate::sso::local::verify_password("a long operator password\n", hash));
}

/// With no `admin.password_hash`, the first start prints a one-time
/// password (and how to set a permanent one); only its hash is stored,
/// and later starts do not print it again.
#[tokio::test]
async fn the_first_start_prints_a_one_time_admin_password_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("koogate.db");
    let start = || async {
        let mut process = Serve::bare()
            .setting("database.url", &format!("sqlite://{}?mode=rwc", db.display()))
            .setting("log.format", "json")
            .log("info")
            .in_dir(dir.path())
            .start()
            .await;
        let seen = process.stdout_through("koogate listening").await;
        process.kill().await;
        seen
    };
    let first = start().await;
    let marker = "with the one-time password: ";
    let at = first.find(marker).unwrap_or_else(|| panic!("no password printed:\n{first}"));
    let password: String =
        first[at + marker.len()..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    assert_eq!(password.len(), 20);
    assert!(first.contains("koogate hash-password"), "says how to set a permanent one");
    assert_eq!(first.matches(&password).count(), 1, "printed once, logged nowhere else");

    let second = start().await;
    assert!(!second.contains(marker), "not printed again:\n{second}");
    assert!(!second.contains(&password));

    use sea_orm::EntityTrait;
    let conn = sea_orm::Database::connect(format!("sqlite://{}", db.display()))
        .await
        .expect("open the database");
    let rows = entity::admin_credential::Entity::find().all(&conn).await.expect("credentials");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].password_hash.starts_with("$argon2id$"));
    assert!(koogate::sso::local::verify_password(&password, &rows[0].password_hash));
}

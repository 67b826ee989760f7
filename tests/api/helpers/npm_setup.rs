//! `cargo test` sets up the OpenID provider the OIDC tests start by itself:
//! when Node.js is present and `test-support/oidc/node_modules` is not,
//! the locked dependencies are installed once (`npm ci`), so the test
//! set-up stays one command.
//!
//! Tests run on many threads, and possibly in two `cargo test` processes at
//! once: within the process a `OnceLock` runs the install once; between
//! processes each installs into its own scratch folder and renames the
//! result into place, which is atomic, so a loser of the race just throws
//! its copy away and nobody ever sees a half-filled `node_modules`.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

const SUPPORT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test-support/oidc");

/// Installs `oidc-provider` from `package-lock.json` unless it is there.
/// Returns why it could not (Node.js missing, `npm ci` failing); the
/// caller decides whether that is a skip or, in CI, a failure.
pub fn install_oidc_provider() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| install(Path::new(SUPPORT_DIR))).clone()
}

fn install(dir: &Path) -> Result<(), String> {
    let installed = dir.join("node_modules");
    if installed.join("oidc-provider").is_dir() {
        return Ok(());
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Err("Node.js is not installed (20 or later is needed)".to_string());
    }
    let scratch = dir.join(format!(".install-{}", std::process::id()));
    let outcome = install_into(dir, &scratch).and_then(|()| {
        match std::fs::rename(scratch.join("node_modules"), &installed) {
            Ok(()) => Ok(()),
            // Another process got there first: its copy is as good as ours.
            Err(_) if installed.join("oidc-provider").is_dir() => Ok(()),
            Err(err) => Err(format!("cannot move node_modules into place: {err}")),
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

fn install_into(dir: &Path, scratch: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).map_err(|e| format!("cannot make {scratch:?}: {e}"))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), scratch.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
        .arg(scratch)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm ci --prefix test-support/oidc` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

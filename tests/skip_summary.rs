//! The last test binary of `cargo test`: one line saying how many test
//! variants were skipped (PostgreSQL, Redis, Node.js, root-only), so a run
//! without the servers never looks like a full one. Not a test of koogate.

use std::io::Write;

#[path = "api/helpers/skip_log.rs"]
mod skip_log;

fn main() {
    let (path, own) = skip_log::skip_log();
    let skipped = std::fs::read_to_string(&path).map(|log| log.lines().count()).unwrap_or(0);
    if own {
        let _ = std::fs::remove_file(&path);
    }
    let line = if skipped == 0 {
        "koogate tests: nothing skipped".to_owned()
    } else {
        format!(
            "koogate tests: {skipped} skipped (the SKIPPED lines above say why); run them with \
             KOOGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
             KOOGATE_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo test --workspace"
        )
    };
    let _ = writeln!(std::io::stderr(), "{line}");
}

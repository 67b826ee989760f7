//! Where skipped test variants are counted. `.ci/run` names the file with
//! `KOOGATE_TEST_SKIP_LOG`; a plain `cargo test` gets one of its own per
//! run, keyed by the cargo process that runs every test binary, so the
//! `skip_summary` binary (run last) can say how many were skipped.
//! Shared by `tests/api` and `tests/skip_summary.rs`.

use std::path::PathBuf;

/// The file to count skips in, and whether it is this run's own (to be
/// removed once counted) rather than one a caller named.
pub fn skip_log() -> (PathBuf, bool) {
    match std::env::var("KOOGATE_TEST_SKIP_LOG") {
        Ok(path) if !path.is_empty() => (PathBuf::from(path), false),
        _ => {
            let run = std::os::unix::process::parent_id();
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            (dir.join(format!("koogate-skipped-{run}.log")), true)
        }
    }
}

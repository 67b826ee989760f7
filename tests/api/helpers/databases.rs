//! The databases and services tests run against: fresh PostgreSQL
//! databases, the Redis server, and the record of what was skipped.

use std::io::Write;

use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{ConnectionTrait, Database};

use super::skip_log::skip_log;

/// Says, past the test harness's output capture, that a test is skipped
/// (`what`, and `how` to run it), and appends one line to the run's skip
/// log (see [`skip_log`]), so the run can count its skips. In CI a
/// missing service is a failure instead.
pub fn skip_loudly(what: &str, how: &str) {
    assert!(std::env::var("CI").is_err(), "{what} cannot be skipped in CI: {how}");
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what} ({how})");
    let (path, _) = skip_log();
    // libtest names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    // One write of one whole line, in append mode: concurrent tests do
    // not interleave their lines.
    let line = format!("{test}\t{what}\n");
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = appended {
        let _ =
            writeln!(std::io::stderr(), "cannot append to the skip log {}: {e}", path.display());
    }
}

/// The PostgreSQL server for tests, or a loud skip (never in CI).
pub fn postgres_url() -> Option<String> {
    match std::env::var("KOOGATE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_loudly("a PostgreSQL test", "set KOOGATE_TEST_POSTGRES_URL to run it");
            None
        }
    }
}

/// The Redis server for tests, or a loud skip (never in CI).
pub fn redis_url() -> Option<String> {
    match std::env::var("KOOGATE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_loudly("a Redis test", "set KOOGATE_TEST_REDIS_URL to run it");
            None
        }
    }
}

/// The start of the name of every database tests create:
/// `KOOGATE_TEST_DB_PREFIX`, `kg_test_` unless set, so a run can drop
/// exactly the databases it made.
pub fn database_prefix() -> String {
    let prefix = std::env::var("KOOGATE_TEST_DB_PREFIX")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "kg_test_".to_string());
    // It goes into CREATE DATABASE unquoted.
    assert!(
        prefix.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "KOOGATE_TEST_DB_PREFIX must be lower-case letters, digits and _: {prefix:?}"
    );
    prefix
}

/// A fresh, empty PostgreSQL database; returns its URL and name.
pub async fn fresh_postgres_database() -> (String, String) {
    let server = postgres_url().expect("postgres url");
    let name = format!(
        "{}{}",
        database_prefix(),
        Alphanumeric.sample_string(&mut rand::thread_rng(), 12).to_lowercase()
    );
    let admin = Database::connect(server.clone()).await.expect("connect to postgres");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    admin.close().await.ok();
    (replace_database(&server, &name), name)
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rsplit_once('/') {
        Some((prefix, _)) if prefix.contains("://") && prefix.len() > "postgres://".len() => {
            prefix.to_string()
        }
        _ => base.to_string(),
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

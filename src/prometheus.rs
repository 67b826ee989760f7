//! `/metrics`: what koogate is doing, in Prometheus text. Every metric's
//! name and labels are defined here, so the set is one list to read.
//!
//! Labels never carry ids, names or anything a caller chose freely: an
//! activity the marketplace does not define is counted as `other`, so a
//! stranger cannot grow the label set.

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Marketplace activities and Kit calls (protocol §5-6), the only values
/// the `activity` label takes besides `other`.
const ACTIVITIES: &[&str] = &[
    "newInstance",
    "queryInstance",
    "refreshInstance",
    "updateInstanceStatus",
    "upgradeInstance",
    "changeInstanceCheck",
    "releaseInstance",
    "expireInstance",
    "upgrade",
    "instanceStatus",
    "tenantSync",
    "applicationSync",
    "authSync",
    "singleOrgSync",
    "allOrgSync",
];

/// Latency buckets in seconds: 1 ms to 10 s.
const BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Memory, CPU time, open files and threads of this process
/// (`process_*`, named as every Prometheus client names them).
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// The `HELP` line of every koogate metric: what an operator reads in
/// Prometheus beside the name.
fn describe() {
    describe_counter!(
        "koogate_marketplace_calls_total",
        "Marketplace calls answered, by channel, activity and result code."
    );
    describe_histogram!(
        "koogate_marketplace_call_duration_seconds",
        "Time to answer a marketplace call, in seconds."
    );
    describe_counter!("koogate_unknown_scene_total", "refreshInstance calls with a scene koogate does not know (answered 000002; the marketplace retries them).");
    describe_counter!("koogate_logins_total", "Sign-ins finished, by outcome.");
    describe_counter!(
        "koogate_log_lines_dropped_total",
        "Log lines dropped because standard output was not being read."
    );
    describe_histogram!(
        "koogate_proxy_duration_seconds",
        "Time the vendor's app took to answer a proxied request, in seconds."
    );
    describe_counter!(
        "koogate_proxy_upstream_errors_total",
        "Proxied requests the vendor's app did not answer (unreachable or too slow)."
    );
    describe_gauge!(
        "koogate_sessions_active",
        "Sign-in sessions open now (counted once a minute)."
    );
    describe_counter!(
        "koogate_storage_write_failures_total",
        "Commits that failed, by class (disk_full, io_error, connection_lost, other)."
    );
    describe_gauge!(
        "koogate_redis_available",
        "1 while Redis is used, 0 while the breaker bypasses it."
    );
    describe_gauge!("koogate_outbox_backlog", "Webhook deliveries waiting to be sent.");
    describe_gauge!(
        "koogate_outbox_dead",
        "Webhook deliveries given up after every retry (dead letters)."
    );
    describe_gauge!(
        "koogate_outbox_oldest_age_seconds",
        "Age of the oldest waiting webhook delivery, in seconds."
    );
    describe_gauge!("koogate_usage_records", "Usage records, by state (pending, pushed, refused).");
    describe_gauge!(
        "koogate_usage_records_expiring",
        "Usage records not yet pushed that are close to the marketplace's 21-day limit."
    );
    describe_gauge!("koogate_drift_findings", "Open reconciliation findings, by kind of drift.");
    describe_counter!(
        "koogate_refused_records_dropped_total",
        "Records of calls refused before they authenticated that were not written, by reason (over_rate: past the per-second cap; queue_full: the writer was behind)."
    );
}

/// Installs the process-wide recorder once (several apps in one test
/// process share it). `None` if another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    PROCESS.get_or_init(metrics_process::Collector::default).describe();
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics are not recorded");
                    None
                }
            }
        })
        .as_ref()
}

/// Drains the recorded histogram samples into their buckets every 5 s.
/// The recorder keeps every sample until it is drained: without this, a
/// koogate nobody scrapes would hold one more sample for every proxied
/// request and marketplace call, for ever.
pub fn spawn_upkeep() {
    let Some(handle) = install() else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

/// `GET /metrics`: the outbox is measured at each scrape (two counts on
/// an index), the rest as it happens.
pub async fn render(state: web::Data<AppState>, req: actix_web::HttpRequest) -> HttpResponse {
    let token = secrecy::ExposeSecret::expose_secret(&state.settings.metrics.token);
    if !token.is_empty() && !crate::bearer::presented(&req, token) {
        return actix_web::ResponseError::error_response(&crate::error::Error::Unauthenticated(
            "metrics.token is set: a bearer token is required",
        ));
    }
    match crate::store::outbox::stats(&state.db.conn).await {
        Ok(stats) => {
            let now = chrono::Utc::now().timestamp_millis();
            let oldest_ms = stats.oldest_pending_at.map_or(0, |at| now.saturating_sub(at).max(0));
            gauge!("koogate_outbox_backlog").set(stats.pending as f64);
            gauge!("koogate_outbox_dead").set(stats.dead as f64);
            gauge!("koogate_outbox_oldest_age_seconds").set(oldest_ms as f64 / 1000.0);
        }
        Err(err) => tracing::warn!(error = ?err, "cannot measure the outbox"),
    }
    let now = chrono::Utc::now().timestamp_millis();
    match crate::store::usage::counts(&state.db.conn, crate::open_api::usage::flag_before(now))
        .await
    {
        Ok((by_state, expiring)) => {
            for (state, count) in by_state {
                gauge!("koogate_usage_records", "state" => state.as_str()).set(count as f64);
            }
            gauge!("koogate_usage_records_expiring").set(expiring as f64);
        }
        Err(err) => tracing::warn!(error = ?err, "cannot count usage records"),
    }
    match crate::store::drift::counts(&state.db.conn).await {
        Ok(counts) => {
            for kind in crate::open_api::reconcile::Drift::ALL {
                let n = counts.iter().find(|(k, _)| k == kind.as_str()).map_or(0, |(_, n)| *n);
                gauge!("koogate_drift_findings", "kind" => kind.as_str()).set(n as f64);
            }
        }
        Err(err) => tracing::warn!(error = ?err, "cannot count drift findings"),
    }
    counter!("koogate_log_lines_dropped_total").absolute(crate::telemetry::dropped_lines());
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    let body = install().map(PrometheusHandle::render).unwrap_or_default();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(body)
}

fn activity_label(activity: &str) -> &'static str {
    ACTIVITIES.iter().find(|a| **a == activity).copied().unwrap_or("other")
}

/// One marketplace call answered.
pub fn marketplace_call(channel: &'static str, activity: &str, result_code: &str, took: Duration) {
    let activity = activity_label(activity);
    let code = if result_code.len() == 6 && result_code.bytes().all(|b| b.is_ascii_digit()) {
        result_code.to_string()
    } else {
        "other".to_string()
    };
    counter!("koogate_marketplace_calls_total", "channel" => channel, "activity" => activity, "result_code" => code)
        .increment(1);
    histogram!("koogate_marketplace_call_duration_seconds", "channel" => channel, "activity" => activity)
        .record(took.as_secs_f64());
}

/// A `refreshInstance` whose scene koogate does not know: the marketplace
/// retries it until koogate learns the scene, so an operator must see it.
/// The scene is named in the answer and the event log, not in a label: a
/// label takes only values koogate defines.
pub fn unknown_scene(activity: &str) {
    counter!("koogate_unknown_scene_total", "activity" => activity_label(activity)).increment(1);
}

/// A refused call's record not written: `over_rate` or `queue_full`
/// (see `crate::inbound::refused`).
pub fn refused_record_dropped(reason: &'static str) {
    counter!("koogate_refused_records_dropped_total", "reason" => reason).increment(1);
}

/// One sign-in finished: `signed_in`, `refused`, `auth_centre_failed`,
/// `bad_request` or `error`.
pub fn login(outcome: &'static str) {
    counter!("koogate_logins_total", "outcome" => outcome).increment(1);
}

/// One proxied request, and how long the vendor's app took.
pub fn proxied(took: Duration) {
    // Looked up once: the gate records one on every request. The recorder
    // is installed at start, before the first request is served.
    static PROXY_DURATION: std::sync::LazyLock<metrics::Histogram> =
        std::sync::LazyLock::new(|| histogram!("koogate_proxy_duration_seconds"));
    PROXY_DURATION.record(took.as_secs_f64());
}

/// The vendor's app could not be reached or did not answer in time.
pub fn proxy_upstream_error() {
    counter!("koogate_proxy_upstream_errors_total").increment(1);
}

/// Sessions open now (counted once a minute).
pub fn active_sessions(count: u64) {
    gauge!("koogate_sessions_active").set(count as f64);
}

/// A commit failed; `class` is `disk_full`, `io_error`,
/// `connection_lost` or `other`.
pub fn storage_write_failure(class: &'static str) {
    counter!("koogate_storage_write_failures_total", "class" => class).increment(1);
}

/// Whether Redis is being used (1) or bypassed by the breaker (0).
pub fn redis_breaker_closed(closed: bool) {
    gauge!("koogate_redis_available").set(if closed { 1.0 } else { 0.0 });
}

//! What a load generator's workers saw: latencies and how each try ended;
//! merged across workers and printed as one line.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Default)]
pub struct Tally {
    latencies: Vec<Duration>,
    outcomes: BTreeMap<String, u64>,
}

impl Tally {
    /// One try: how it ended, and its latency when it counts.
    pub fn record(&mut self, outcome: String, latency: Option<Duration>) {
        self.latencies.extend(latency);
        *self.outcomes.entry(outcome).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (outcome, n) in other.outcomes {
            *self.outcomes.entry(outcome).or_default() += n;
        }
    }

    /// `{what}={n} {what}_per_s=… p50_ms=… p99_ms=… {outcomes}={…}`
    pub fn report(mut self, what: &str, outcomes: &str, elapsed: Duration) -> String {
        self.latencies.sort();
        let latencies = &self.latencies;
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0)
        };
        format!(
            "{what}={} {what}_per_s={:.0} p50_ms={:.2} p99_ms={:.2} {outcomes}={:?}",
            latencies.len(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            self.outcomes
        )
    }
}

//! The marketplace's seller Open API (protocol §9): koogate speaking back
//! to KooGallery. The APIG request signer, the client with its retries and
//! rate limit, order details and the entitlement they give each instance.

pub mod apply;
pub mod client;
pub mod entitlement;
pub mod fetch;
pub mod order;
pub mod reconcile;
pub mod signer;
pub mod usage;

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// Runs a worker's `round` over and over on its own task: again at once
/// while a round finds work (it returns how much), after `poll` when it
/// finds none or fails. Only the first failure of a run of them is logged.
pub(crate) fn spawn_rounds<R, F>(worker: &'static str, poll: Duration, mut round: R)
where
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = Result<usize, Error>> + Send,
{
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match round().await {
                Ok(found) => {
                    failing = false;
                    if found > 0 {
                        continue;
                    }
                }
                Err(err) => {
                    if !failing {
                        failing = true;
                        tracing::warn!(worker, error = ?err, "an Open API worker cannot reach the database; retrying");
                    }
                }
            }
            tokio::time::sleep(poll).await;
        }
    });
}

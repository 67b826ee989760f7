//! Three koogate processes on one PostgreSQL and Redis, as behind a load
//! balancer: the marketplace's repeated deliveries land on any of them,
//! concurrently, and each order is still stored exactly once, also when
//! PostgreSQL goes away for a few seconds in the middle of it.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use koogate::sim::client::{Marketplace, Version};
use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::*;

const ORDERS: usize = 1000;
const COPIES: usize = 5;
const IN_FLIGHT: usize = 48;

/// One `koogate serve` process on the shared database, killed when dropped.
async fn start_replica(database_url: &str, redis_url: &str) -> Running {
    Serve::on(database_url)
        .setting("database.max_connections", "8")
        .setting("redis.url", redis_url)
        .log("error")
        .ready_at("/readyz")
        .start()
        .await
}

async fn three_replicas(database_url: &str, redis_url: &str) -> [Running; 3] {
    let (a, b, c) = tokio::join!(
        start_replica(database_url, redis_url),
        start_replica(database_url, redis_url),
        start_replica(database_url, redis_url),
    );
    [a, b, c]
}

/// A TCP relay between the replicas and PostgreSQL that the test can cut:
/// while cut, every connection through it is dropped and new ones are
/// refused, as when the database server stops.
struct Cable {
    port: u16,
    connected: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Cable {
    fn start(target_port: u16) -> Cable {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let connected = Arc::new(AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts) = (connected.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Cable { port, connected, cut }
    }

    fn unplug(&self) {
        self.connected.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn plug_in(&self) {
        self.connected.store(true, Ordering::SeqCst);
    }
}

fn postgres_port(url: &str) -> u16 {
    let url = reqwest::Url::parse(url).expect("a PostgreSQL URL");
    url.port().unwrap_or(5432)
}

fn through(url: &str, port: u16) -> String {
    let mut url = reqwest::Url::parse(url).expect("a PostgreSQL URL");
    url.set_port(Some(port)).expect("a port");
    url.to_string()
}

/// Sends every order `COPIES` times, spread over the replicas, with at
/// most `IN_FLIGHT` at once; a delivery answered 000004 or 000005 is sent
/// again (as the marketplace retries). Returns each order's instanceIds
/// and every result code seen.
async fn storm(
    replicas: &[Running],
    orders: &[String],
) -> (HashMap<String, HashSet<String>>, HashMap<String, usize>) {
    let markets: Vec<Arc<Marketplace>> = replicas
        .iter()
        .map(|r| {
            let url = format!("{}/koogallery", r.address);
            Arc::new(Marketplace::new(&url, ACCESS_KEY, ACCESS_KEY).expect("client"))
        })
        .collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut deliveries = JoinSet::new();
    for copy in 0..COPIES {
        for (i, order) in orders.iter().enumerate() {
            let market = markets[(i + copy) % markets.len()].clone();
            let permits = permits.clone();
            let order = order.clone();
            deliveries.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore");
                let body = json!({
                    "activity": "newInstance",
                    "orderId": order,
                    "orderLineId": format!("{order}-1"),
                    "businessId": format!("biz-{order}"),
                    "testFlag": "0",
                });
                let mut seen = Vec::new();
                for _ in 0..400 {
                    let code = match market.lifecycle(Version::V2, &body).await {
                        Ok(reply) => {
                            let code = reply.code().to_string();
                            if code == "000000" {
                                let id =
                                    reply.json["instanceId"].as_str().unwrap_or("").to_string();
                                seen.push(code);
                                return (order, id, seen);
                            }
                            code
                        }
                        // No answer in time (a loaded machine): the
                        // marketplace sends it again, as for a timeout.
                        Err(_) => "no-answer".to_string(),
                    };
                    assert!(
                        matches!(code.as_str(), "000004" | "000005" | "no-answer"),
                        "unexpected {code} for {order} after {seen:?}"
                    );
                    seen.push(code);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                panic!("{order} never stored: {seen:?}");
            });
        }
    }
    let mut instances: HashMap<String, HashSet<String>> = HashMap::new();
    let mut codes: HashMap<String, usize> = HashMap::new();
    while let Some(done) = deliveries.join_next().await {
        let (order, instance_id, seen) = done.expect("a delivery");
        instances.entry(order).or_default().insert(instance_id);
        for code in seen {
            *codes.entry(code).or_default() += 1;
        }
    }
    (instances, codes)
}

fn assert_each_order_once(orders: &[String], instances: &HashMap<String, HashSet<String>>) {
    assert_eq!(instances.len(), orders.len());
    for (order, ids) in instances {
        assert_eq!(ids.len(), 1, "{order} got several instances: {ids:?}");
    }
}

async fn stored_instances(database_url: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(database_url).await.expect("connect");
    let row = db
        .query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM instances",
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

fn orders(prefix: &str) -> Vec<String> {
    let run = random_id("");
    (0..ORDERS).map(|i| format!("{prefix}{run}-{i:04}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_deliveries_of_a_thousand_orders_over_three_replicas_store_each_once() {
    let (Some(_), Some(redis)) = (postgres_url(), redis_url()) else { return };
    let (database_url, _name) = fresh_postgres_database().await;
    let replicas = three_replicas(&database_url, &redis).await;
    let orders = orders("STORM");

    let (instances, codes) = storm(&replicas, &orders).await;
    assert_each_order_once(&orders, &instances);
    assert_eq!(stored_instances(&database_url).await, ORDERS as i64);
    assert!(codes.get("000000").copied().unwrap_or(0) >= ORDERS * COPIES, "{codes:?}");
}

/// PostgreSQL goes away for three seconds in the middle of the storm:
/// while it is away the replicas answer only 000005 (or 000004), every
/// order is stored once after the retries, and no replica is restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_gone_for_seconds_in_the_storm_loses_and_doubles_nothing() {
    let (Some(server), Some(redis)) = (postgres_url(), redis_url()) else { return };
    let (database_url, _name) = fresh_postgres_database().await;
    let cable = Cable::start(postgres_port(&server));
    let replicas = three_replicas(&through(&database_url, cable.port), &redis).await;
    let orders = orders("OUTAGE");

    let outage = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cable.unplug();
        // While it is away, readiness says so.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ready = reqwest::get(format!("{}/readyz", replicas[0].address)).await.expect("readyz");
        let (status, body) = (ready.status().as_u16(), ready.text().await.unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(2500)).await;
        cable.plug_in();
        (status, body)
    };
    let ((instances, codes), (ready_status, ready_body)) =
        tokio::join!(storm(&replicas, &orders), outage);

    assert_eq!(ready_status, 503, "{ready_body}");
    assert!(ready_body.contains(r#""database":"unavailable""#), "{ready_body}");
    assert!(codes.get("000005").copied().unwrap_or(0) > 0, "the outage was felt: {codes:?}");
    assert_each_order_once(&orders, &instances);
    assert_eq!(stored_instances(&database_url).await, ORDERS as i64);
}

/// Stopping a replica (SIGTERM, as an orchestrator does) lets the call it
/// is working on finish and be answered; then the process exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_replica_finishes_the_call_in_flight() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    if postgres_url().is_none() {
        return;
    }
    let (database_url, _name) = fresh_postgres_database().await;
    let mut replica = start_replica(&database_url, "").await;
    let market =
        Marketplace::new(&format!("{}/koogallery", replica.address), ACCESS_KEY, ACCESS_KEY)
            .expect("client");

    // Hold the orders table so the purchase waits inside koogate.
    let db = sea_orm::Database::connect(database_url.as_str()).await.expect("connect");
    let hold = db.begin().await.expect("begin");
    hold.execute_unprepared("LOCK TABLE orders IN EXCLUSIVE MODE").await.expect("lock");
    let body = json!({
        "activity": "newInstance", "orderId": "GRACEFUL1", "orderLineId": "GRACEFUL1-1",
        "businessId": "biz-graceful", "testFlag": "0",
    });
    let call = tokio::spawn(async move { market.lifecycle(Version::V2, &body).await });
    tokio::time::sleep(Duration::from_millis(400)).await;

    replica.terminate().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    hold.rollback().await.expect("release the table");

    let reply = call.await.expect("joined").expect("answered, not cut off");
    assert_eq!(reply.code(), "000000", "{:?}", reply.json);
    let status = tokio::time::timeout(Duration::from_secs(15), replica.child.wait())
        .await
        .expect("exits after its calls")
        .expect("status");
    assert!(status.success(), "{status:?}");
    assert_eq!(stored_instances(&database_url).await, 1);
}

//! Real faults for the storage-fault stories: a `koogate serve` the test
//! stops cleanly or kills, a small filesystem it fills, a TCP relay it
//! cuts, and a Redis of its own it kills.

use std::time::Duration;

use sea_orm::{Database, DatabaseConnection};

use super::app::{Backend, TestApp};
use super::databases::skip_loudly;
use super::process::{free_port, Running, Serve};

/// One `koogate serve` (started the one way, [`Serve`]) with the test
/// settings; killed when dropped.
pub struct Process {
    running: Running,
    pub address: String,
    pub database_url: String,
}

impl Process {
    /// Starts `koogate serve` on `database_url`, with extra `settings` as
    /// `KOOGATE__SECTION__KEY` variables, and waits until `/healthz` answers.
    pub async fn start(database_url: &str, settings: &[(&str, &str)]) -> Process {
        let mut serve = Serve::on(database_url);
        for (name, value) in settings {
            serve = serve.env(name, value);
        }
        let running = serve.start().await;
        Process {
            address: running.address.clone(),
            running,
            database_url: database_url.to_string(),
        }
    }

    /// A client for this process (signing, admin API) plus a connection
    /// of the test's own to its database.
    pub async fn client(&self) -> TestApp {
        let backend = if self.database_url.starts_with("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let db = Database::connect(self.database_url.clone()).await.expect("test connection");
        TestApp::of_process(&self.address, backend, db, &self.database_url)
    }

    /// A client for the process at `address`, without a database
    /// connection of the test's own (for a task that only sends calls).
    pub fn client_at(address: &str) -> TestApp {
        TestApp::of_process(address, Backend::Postgres, DatabaseConnection::Disconnected, "")
    }

    /// SIGTERM, then waits for a clean exit; what it printed.
    pub async fn stop(mut self) -> String {
        self.running.terminate().await;
        let status = tokio::time::timeout(Duration::from_secs(20), self.running.child.wait())
            .await
            .expect("stops within 20 s")
            .expect("exit status");
        assert!(status.success(), "a clean stop: {status}");
        self.running.output()
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill_hard(mut self) {
        self.running.kill().await;
    }

    pub fn log_text(&self) -> String {
        self.running.output()
    }
}

/// A tmpfs of `bytes` mounted on a fresh directory, unmounted when
/// dropped; `None` (said loudly, never in CI) where the test may not mount.
pub struct SmallDisk {
    pub dir: tempfile::TempDir,
}

impl SmallDisk {
    pub fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            Some(SmallDisk { dir })
        } else {
            skip_loudly("a full-disk test", "run it as root, which may mount a tmpfs");
            None
        }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a filler file until the filesystem says it is full.
    pub fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path("filler")).expect("filler");
        let block = vec![0u8; 4096];
        while filler.write_all(&block).and_then(|_| filler.flush()).is_ok() {}
        let _ = filler.sync_all();
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.path("filler")).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// A TCP relay to `127.0.0.1:target_port` the test can cut: while cut,
/// every connection through it is dropped and new ones hang unanswered,
/// as when the network to the server is partitioned.
pub struct Relay {
    pub port: u16,
    connected: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    pub fn start(target_port: u16) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let connected = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts) = (connected.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut cut = cuts.subscribe();
                if !flag.load(Ordering::SeqCst) {
                    // A partition, not a refusal: the connection is taken
                    // and never answered until the cable is back.
                    let flag = flag.clone();
                    tokio::spawn(async move {
                        while !flag.load(Ordering::SeqCst) {
                            let _ = tokio::time::timeout(Duration::from_millis(50), cut.changed())
                                .await;
                        }
                        drop(inbound);
                    });
                    continue;
                }
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
        Relay { port, connected, cut }
    }

    pub fn cut(&self) {
        self.connected.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn reconnect(&self) {
        self.connected.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` (PostgreSQL) with its port replaced by the relay's.
    pub fn in_front_of(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("a URL");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }
}

/// A TCP relay to `127.0.0.1:target_port` that holds everything the
/// client sends for `delay` before passing it on: a database that far
/// away, so each round trip a request makes costs `delay`.
pub struct SlowLink {
    pub port: u16,
}

impl SlowLink {
    pub fn start(target_port: u16, delay: Duration) -> SlowLink {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    let (mut client_reads, mut client_writes) = inbound.into_split();
                    let (mut server_reads, mut server_writes) = outbound.into_split();
                    let answers = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_reads, &mut client_writes).await;
                    });
                    let mut chunk = vec![0u8; 64 * 1024];
                    while let Ok(n) = client_reads.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        if server_writes.write_all(&chunk[..n]).await.is_err() {
                            break;
                        }
                    }
                    answers.abort();
                });
            }
        });
        SlowLink { port }
    }

    /// `url` (PostgreSQL) with its port replaced by the link's.
    pub fn in_front_of(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("a URL");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }
}

/// A `redis-server` of the test's own on a free port (never the shared
/// one), killed when dropped or by [`OwnRedis::kill`].
pub struct OwnRedis {
    child: Option<std::process::Child>,
    pub url: String,
}

impl OwnRedis {
    /// `None` (said loudly, never in CI) where `redis-server` is missing.
    pub async fn start() -> Option<OwnRedis> {
        let port = free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else {
            skip_loudly("a Redis-killing test", "put redis-server on PATH");
            return None;
        };
        let url = format!("redis://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Some(OwnRedis { child: Some(child), url });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on {port} never listened");
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill redis-server");
            child.wait().expect("redis-server exits");
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

//! `koogate serve` as a child process, the way an operator runs it:
//! configured through `KOOGATE__…` variables, in a directory of its own,
//! killed when the test drops it. The one way tests start the binary.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::app::{ACCESS_KEY, ADMIN_TOKEN};

/// The path of the koogate binary cargo built for these tests.
pub const KOOGATE: &str = env!("CARGO_BIN_EXE_koogate");

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// How to start one `koogate serve`.
#[must_use]
pub struct Serve {
    settings: Vec<(String, String)>,
    env: Vec<(String, String)>,
    clear_env: bool,
    dir: Option<PathBuf>,
    ready_path: &'static str,
    stdout_unread: bool,
}

impl Serve {
    /// A process on `database_url` with the settings every test app has
    /// (the test access key, admin token and master key).
    pub fn on(database_url: &str) -> Serve {
        Serve::bare()
            .setting("database.url", database_url)
            .setting("database.max_connections", "4")
            .setting("marketplace.access_key", ACCESS_KEY)
            .setting("admin.api_token", ADMIN_TOKEN)
            .setting(
                "security.master_key",
                &base64::engine::general_purpose::STANDARD.encode([42u8; 32]),
            )
            .setting("ui.default_language", "en")
            // The stand-in auth centres listen on 127.0.0.1.
            .setting("sso.allow_private_auth_centres", "true")
    }

    /// A process with no setting but its port: what a first start sees.
    pub fn bare() -> Serve {
        Serve {
            settings: Vec::new(),
            env: vec![("RUST_LOG".into(), "warn".into())],
            clear_env: false,
            dir: None,
            ready_path: "/healthz",
            stdout_unread: false,
        }
    }

    /// One setting (`section.key`), later ones winning.
    pub fn setting(mut self, key: &str, value: &str) -> Serve {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    pub fn settings<K: AsRef<str>, V: AsRef<str>>(mut self, settings: &[(K, V)]) -> Serve {
        for (key, value) in settings {
            self = self.setting(key.as_ref(), value.as_ref());
        }
        self
    }

    /// A variable of the process's environment, as it is written.
    pub fn env(mut self, name: &str, value: &str) -> Serve {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// `RUST_LOG` (`warn` unless told).
    pub fn log(self, filter: &str) -> Serve {
        self.env("RUST_LOG", filter)
    }

    /// Nothing of the test's environment reaches the process.
    pub fn clear_env(mut self) -> Serve {
        self.clear_env = true;
        self
    }

    /// Runs in `dir` (kept after the process) instead of a fresh one.
    pub fn in_dir(mut self, dir: &Path) -> Serve {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Its standard output is a pipe nobody reads (a log collector that
    /// hangs) until [`Running::read_stdout`].
    pub fn stdout_unread(mut self) -> Serve {
        self.stdout_unread = true;
        self
    }

    /// Ready once this path answers 2xx (`/healthz` unless told).
    pub fn ready_at(mut self, path: &'static str) -> Serve {
        self.ready_path = path;
        self
    }

    /// Starts the process and waits until it is ready; panics with its
    /// output if it never is.
    pub async fn start(self) -> Running {
        let port = free_port();
        let own_dir = match self.dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().expect("tempdir")),
        };
        let dir = self.dir.clone().or_else(|| own_dir.as_ref().map(|d| d.path().to_path_buf()));
        let mut command = Command::new(KOOGATE);
        if self.clear_env {
            command.env_clear();
        }
        command.arg("serve").current_dir(dir.expect("a directory"));
        command.env("KOOGATE__SERVER__BIND", format!("127.0.0.1:{port}"));
        for (key, value) in &self.settings {
            command.env(format!("KOOGATE__{}", key.to_uppercase().replace('.', "__")), value);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("koogate starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let unread = child.stdout.take().expect("stdout");
        let unread = if self.stdout_unread {
            Some(unread)
        } else {
            drain(unread, stdout.clone());
            None
        };
        drain(child.stderr.take().expect("stderr"), stderr.clone());
        let running = Running {
            child,
            address: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
            unread: Mutex::new(unread),
            _dir: own_dir,
        };
        running.wait_until_ready(self.ready_path).await;
        running
    }
}

/// Keeps a pipe drained into `into`, so the process never blocks on it.
fn drain(stream: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            into.lock().expect("output").push_str(&(line + "\n"));
        }
    });
}

/// A running `koogate serve`, killed when dropped.
pub struct Running {
    pub child: Child,
    /// `http://127.0.0.1:{port}`
    pub address: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// Standard output while nobody reads it ([`Serve::stdout_unread`]).
    unread: Mutex<Option<tokio::process::ChildStdout>>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    async fn wait_until_ready(&self, path: &str) {
        let http = reqwest::Client::new();
        for _ in 0..600 {
            let answer = http.get(format!("{}{path}", self.address)).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("koogate serve never became ready at {}:\n{}", self.address, self.output());
    }

    /// Everything it printed so far: stdout, then stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout.lock().expect("output"), self.stderr.lock().expect("output"))
    }

    /// What it printed on stdout up to and including the first line
    /// containing `marker` (waiting a little for it).
    pub async fn stdout_through(&self, marker: &str) -> String {
        for _ in 0..100 {
            let stdout = self.stdout.lock().expect("output").clone();
            if let Some(at) = stdout.find(marker) {
                let end = stdout[at..].find('\n').map_or(stdout.len(), |n| at + n);
                return stdout[..end].to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{marker:?} never printed:\n{}", self.output());
    }

    /// Starts reading a standard output nobody read so far.
    pub fn read_stdout(&self) {
        if let Some(unread) = self.unread.lock().expect("stdout").take() {
            drain(unread, self.stdout.clone());
        }
    }

    /// `SIGTERM`, as an orchestrator stops it.
    pub async fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let signal =
            Command::new("kill").args(["-TERM", &pid.to_string()]).status().await.expect("kill");
        assert!(signal.success());
    }

    /// `SIGKILL` and reaped: gone in the middle of whatever it did.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("SIGKILL");
    }
}

//! Helpers shared by the integration tests: the real `salus` binary, throw-away databases on
//! every backend, the shared external fixtures, and a real server on an ephemeral port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub use salus_store::testing::{all as all_databases, TestDb};
use serde_json::Value;

pub fn salus() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_salus"));
    cmd.env_remove("SALUS_DB")
        .env_remove("SALUS_CONFIG")
        .env("SALUS_LOG", "warn");
    cmd
}

/// Run `salus --db URL ARGS…` in a scratch directory.
pub fn run(db: &TestDb, args: &[&str]) -> Output {
    salus()
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .output()
        .expect("run salus")
}

pub fn run_with_stdin(db: &TestDb, args: &[&str], input: &[u8]) -> Output {
    let mut child = salus()
        .arg("--db")
        .arg(&db.url)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn salus");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Assert that a command exited 0, showing its standard error otherwise.
pub fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn json_report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}); stdout: {} stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A directory of the shared external fixtures, or `None` with the reason printed.
pub fn external(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/external")
        .join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipping: the shared fixture {relative} is absent (expected at {})",
            path.display()
        );
        None
    }
}

/// A new bearer token of `role`, made with `salus token create`.
pub fn make_token(db: &TestDb, role: &str) -> String {
    let out = run(
        db,
        &[
            "token",
            "create",
            "--role",
            role,
            "--name",
            &format!("test-{role}"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A blocking HTTP client that sends `token` with every request.
pub fn client_with_token(token: &str) -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .unwrap()
}

pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// A `salus serve` process on an ephemeral port, stopped when dropped.
pub struct Server {
    pub base: String,
    /// `host:port` of the MLLP listener, when started with `--mllp`.
    pub mllp: Option<String>,
    child: Child,
}

impl Server {
    pub fn start(db: &TestDb) -> Server {
        Self::spawn(db, &[], None)
    }

    /// A server logging at the most verbose level, its standard error into `log`.
    pub fn start_logging(db: &TestDb, log: &Path) -> Server {
        Self::spawn(db, &[], Some(log))
    }

    /// A server with extra arguments after `serve --listen 127.0.0.1:0`.
    pub fn start_with_args(db: &TestDb, extra: &[&str]) -> Server {
        Self::spawn(db, extra, None)
    }

    fn spawn(db: &TestDb, extra: &[&str], log: Option<&Path>) -> Server {
        let mut command = salus();
        command
            .arg("--db")
            .arg(&db.url)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped());
        match log {
            Some(path) => {
                let file = std::fs::File::create(path).expect("create the log file");
                command.env("SALUS_LOG", "trace").stderr(file);
            }
            None => {
                command.stderr(Stdio::inherit());
            }
        }
        let mut child = command.spawn().expect("spawn salus serve");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut mllp = None;
        // The MLLP listener (when asked for) reports first, then HTTP.
        let addr = loop {
            let mut line = String::new();
            stdout
                .read_line(&mut line)
                .expect("read the listening line");
            let addr = line
                .trim()
                .strip_prefix("salus listening on ")
                .unwrap_or_else(|| panic!("unexpected line from salus serve: {line:?}"))
                .to_owned();
            match addr
                .strip_prefix("mllp://")
                .or_else(|| addr.strip_prefix("mllp+tls://"))
            {
                Some(hostport) => mllp = Some(hostport.to_owned()),
                None => break addr,
            }
        };
        Server {
            base: addr,
            mllp,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

impl Server {
    /// Stop the server as an operator would (SIGTERM) and wait: it finishes what it has
    /// queued, audit entries included.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    status.success(),
                    "salus serve exited with {status} on SIGTERM"
                );
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("salus serve did not stop within 30 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON value without `meta` (for comparing stored resources with their input).
pub fn without_meta(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.shift_remove("meta");
    }
    v
}

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

pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// A `salus serve` process on an ephemeral port, stopped when dropped.
pub struct Server {
    pub base: String,
    child: Child,
}

impl Server {
    pub fn start(db: &TestDb) -> Server {
        let mut child = salus()
            .arg("--db")
            .arg(&db.url)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn salus serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("salus listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from salus serve: {line:?}"))
            .to_owned();
        Server { base: addr, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
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

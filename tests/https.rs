//! HTTPS end to end: `salus dev-cert` writes a certificate, `salus serve --tls-cert --tls-key`
//! serves it, and real clients (reqwest on rustls, and curl when installed) trust it as their
//! only root. A server with a certificate that clients would reject must not start at all.

// Only SQLite here (TLS does not depend on the backend), so `all_databases` goes unused.
#[allow(unused_imports)]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use reqwest::blocking::Client;
use serde_json::{json, Value};

const CERT: &str = "salus-dev-cert.pem";
const KEY: &str = "salus-dev-key.pem";

/// `salus dev-cert --out DIR ARGS…`, which must succeed.
fn dev_cert(dir: &Path, args: &[&str]) -> Output {
    let out = salus()
        .arg("dev-cert")
        .arg("--out")
        .arg(dir)
        .args(args)
        .output()
        .expect("run salus dev-cert");
    assert_eq!(
        out.status.code(),
        Some(0),
        "dev-cert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// A reqwest client on rustls whose only trusted root is the certificate in `cert`.
fn client_trusting(cert: &Path, resolve: Option<(&str, std::net::SocketAddr)>) -> Client {
    let pem = std::fs::read(cert).unwrap();
    let mut builder = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30));
    if let Some((name, addr)) = resolve {
        builder = builder.resolve(name, addr);
    }
    builder.build().unwrap()
}

/// `salus serve` with TLS files, which must refuse to start: its exit code and standard error.
/// A server that starts anyway is killed after a while, failing the test instead of hanging it.
fn serve_refused(db: &TestDb, cert: &Path, key: &Path) -> (Option<i32>, String, String) {
    let mut child = salus()
        .arg("--db")
        .arg(&db.url)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn salus serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "salus serve started with a certificate it must refuse; stdout: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn https_serves_the_dev_certificate_to_reqwest_and_curl() {
    let dir = scratch_dir();
    let out = dev_cert(dir.path(), &[]);
    let printed = String::from_utf8(out.stdout).unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let (cert, key) = (dir_path.join(CERT), dir_path.join(KEY));
    assert!(
        printed.contains(&format!(
            "salus serve --tls-cert {} --tls-key {}",
            cert.display(),
            key.display()
        )),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("curl --cacert {} https://", cert.display())),
        "{printed}"
    );

    let db = salus_store::testing::sqlite();
    let server = Server::start_with_args(
        &db,
        &["--tls-cert", path_arg(&cert), "--tls-key", path_arg(&key)],
    );
    let addr: std::net::SocketAddr = server
        .base
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("not an https listening line: {}", server.base))
        .parse()
        .unwrap();

    // (1) reqwest on rustls, by IP address and by name (both are in the certificate).
    for (url, resolve) in [
        (server.url("/healthz"), None),
        (
            format!("https://localhost:{}/healthz", addr.port()),
            Some(("localhost", addr)),
        ),
    ] {
        let response = client_trusting(&cert, resolve)
            .get(&url)
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
        assert_eq!(response.status(), 200, "{url}");
        let body: Value = response.json().unwrap();
        assert_eq!(body, json!({"status": "ok"}), "{url}");
    }
    // A client that does not trust the certificate is turned away by its own TLS check.
    let untrusting = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert!(untrusting.get(server.url("/healthz")).send().is_err());

    // (2) curl (OpenSSL), TLS 1.3 by default and TLS 1.2 when capped there.
    match Command::new("curl").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping the curl half: curl is not installed")
        }
        Err(e) => panic!("running curl: {e}"),
        Ok(_) => {
            for cap in [None, Some("1.2")] {
                let mut curl = Command::new("curl");
                curl.args(["--silent", "--show-error", "--max-time", "30"])
                    .arg("--cacert")
                    .arg(&cert);
                if let Some(version) = cap {
                    curl.args(["--tlsv1.2", "--tls-max", version]);
                }
                let out = curl.arg(server.url("/healthz")).output().unwrap();
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "curl (TLS max {cap:?}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let body: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(body, json!({"status": "ok"}));
            }
        }
    }

    // (3) Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(format!("http://{addr}/healthz"))
        .send();
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
}

#[test]
fn https_refuses_to_start_with_an_expired_certificate_or_a_foreign_key() {
    let dir = scratch_dir();
    let write = |name: &str, contents: &str| -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = write("expired.pem", &params.self_signed(&key_pair).unwrap().pem());
    let key_pem = key_pair.serialize_pem();
    let key = write("key.pem", &key_pem);

    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(4000, 1, 1);
    let current = write(
        "current.pem",
        &params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem(),
    );

    let db = salus_store::testing::sqlite();
    let key_body = key_pem.lines().nth(1).unwrap();
    let cases = [
        (
            &expired,
            &key,
            format!(
                "error: the TLS certificate in {} expired on 2021-01-01 00:00:00 UTC (it is now ",
                expired.display()
            ),
        ),
        (
            &current,
            &key,
            format!(
                "error: the private key in {} does not belong to the certificate in {}: their \
                 public keys differ",
                key.display(),
                current.display()
            ),
        ),
        (
            &current,
            &dir.path().join("absent.pem"),
            format!(
                "error: cannot read the TLS private key file {}: ",
                dir.path().join("absent.pem").display()
            ),
        ),
    ];
    for (cert, key, expected) in cases {
        let (code, stdout, stderr) = serve_refused(&db, cert, key);
        assert_eq!(code, Some(1), "stderr: {stderr}");
        assert!(
            stderr.contains(&expected),
            "expected {expected:?} in {stderr:?}"
        );
        assert!(!stdout.contains("listening"), "{stdout}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains(key_body), "key material in {stderr}");
    }
}

#[test]
fn dev_cert_keeps_its_key_private_and_existing_files_unless_forced() {
    let dir = scratch_dir();
    let out = dev_cert(dir.path(), &["--host", "salus.test", "10.1.2.3"]);
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("for localhost, 127.0.0.1, salus.test, 10.1.2.3,"),
        "{printed}"
    );
    let (cert, key) = (dir.path().join(CERT), dir.path().join(KEY));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }
    let first = std::fs::read(&cert).unwrap();

    let refused = salus()
        .arg("dev-cert")
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "error: {} and {} already exist; pass --force to replace them",
            cert.display(),
            key.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&cert).unwrap(), first);

    // --force replaces both, and a key file left readable by others is made private again.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dev_cert(dir.path(), &["--force"]);
    assert_ne!(std::fs::read(&cert).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }
}

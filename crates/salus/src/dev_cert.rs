//! `salus dev-cert`: a self-signed certificate and key for trying HTTPS on one machine.
//!
//! Clients trust the certificate itself (`curl --cacert`), so no certificate authority is
//! involved, and the certificate is good for nothing beyond the names it lists.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};

pub const CERT_FILE: &str = "salus-dev-cert.pem";
pub const KEY_FILE: &str = "salus-dev-key.pem";

/// Short enough that a forgotten development certificate dies on its own.
const VALID_DAYS: i64 = 90;

/// The names every development certificate covers: what a local client dials.
const DEFAULT_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

#[derive(clap::Args)]
pub struct DevCertArgs {
    /// Directory for salus-dev-cert.pem and salus-dev-key.pem (created if absent).
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Another DNS name or IP address for the certificate, besides localhost and 127.0.0.1.
    #[arg(long = "host", value_name = "NAME", num_args = 1..)]
    hosts: Vec<String>,
    /// Overwrite the certificate and key files if they exist.
    #[arg(long)]
    force: bool,
}

pub fn run(args: DevCertArgs) -> Result<u8> {
    let cert_path = args.out.join(CERT_FILE);
    let key_path = args.out.join(KEY_FILE);
    // Both checked before either is written, so a refusal leaves no half-replaced pair behind.
    if !args.force {
        let existing: Vec<String> = [&cert_path, &key_path]
            .into_iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            anyhow::bail!(
                "{} already exist{}; pass --force to replace {}, or --out another directory",
                existing.join(" and "),
                if existing.len() == 1 { "s" } else { "" },
                if existing.len() == 1 { "it" } else { "them" },
            );
        }
    }

    let hosts = host_names(&args.hosts)?;
    let now = Utc::now();
    let not_after = now + chrono::Duration::days(VALID_DAYS);
    let (cert_pem, key_pem) = generate(&hosts, now, not_after)?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the directory {}", args.out.display()))?;
    // Printed paths are absolute, so the commands below work from any directory.
    let out = args
        .out
        .canonicalize()
        .with_context(|| format!("cannot resolve the directory {}", args.out.display()))?;
    let (cert_path, key_path) = (out.join(CERT_FILE), out.join(KEY_FILE));
    write_file(&key_path, key_pem.as_bytes(), 0o600, args.force)?;
    write_file(&cert_path, cert_pem.as_bytes(), 0o644, args.force)?;

    let listen = salus_server::ServerConfig::default().listen;
    let port = listen.rsplit(':').next().unwrap_or("8080");
    let (cert, key) = (shell_quote(&cert_path), shell_quote(&key_path));
    println!(
        "wrote a self-signed development certificate for {}, valid until {}:",
        hosts.join(", "),
        not_after.format("%Y-%m-%d %H:%M UTC")
    );
    println!("  certificate: {}", cert_path.display());
    println!(
        "  private key: {} (readable by you only)",
        key_path.display()
    );
    println!("serve HTTPS with:");
    println!("  salus serve --tls-cert {cert} --tls-key {key}");
    println!("and try it with:");
    println!("  curl --cacert {cert} https://localhost:{port}/healthz");
    println!("for development only: clients trust it only when told to, as curl is here");
    Ok(0)
}

/// localhost and 127.0.0.1, then the extra names in the order given, each once.
fn host_names(extra: &[String]) -> Result<Vec<String>> {
    let mut hosts: Vec<String> = DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect();
    for host in extra {
        let host = host.trim();
        if !is_host(host) {
            anyhow::bail!(
                "--host {host:?} is neither a DNS name (letters, digits, '-' and '.', optionally \
                 starting with '*.') nor an IP address"
            );
        }
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            hosts.push(host.to_owned());
        }
    }
    Ok(hosts)
}

/// An IP address, or a DNS name that a client could match against the certificate.
fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A new ECDSA P-256 key and a self-signed certificate for `hosts` (names, or IP addresses,
/// which become IP address entries), valid from a minute before `now` until `not_after`: the
/// minute lets a client whose clock lags a little accept it straight away.
fn generate(
    hosts: &[String],
    now: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<(String, String)> {
    let mut params = CertificateParams::new(hosts.to_vec()).context("the certificate's names")?;
    params
        .distinguished_name
        .push(DnType::CommonName, "salus development certificate");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // rcgen takes times from the `time` crate; counting from its Unix epoch avoids a second
    // date-time library here.
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let since_epoch =
        |t: DateTime<Utc>| std::time::Duration::from_secs(t.timestamp().max(0) as u64);
    params.not_before = epoch + since_epoch(now - chrono::Duration::minutes(1));
    params.not_after = epoch + since_epoch(not_after);
    let key = KeyPair::generate().context("generating the private key")?;
    let cert = params
        .self_signed(&key)
        .context("signing the development certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Write `contents` to `path` with permissions `mode`, set before any byte is written; refuse
/// an existing file unless `force`.
fn write_file(path: &Path, contents: &[u8], mode: u32, force: bool) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Not an exists() check alone: a file appearing since then is still not overwritten.
        options.create_new(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    // The mode above applies only to a new file; an overwritten one keeps its own until this.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .with_context(|| format!("cannot restrict the permissions of {}", path.display()))?;
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `path` as one shell word, for commands the user copies.
fn shell_quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_default_to_localhost_and_loopback_without_duplicates() {
        assert_eq!(host_names(&[]).unwrap(), ["localhost", "127.0.0.1"]);
        assert_eq!(
            host_names(&[
                "LOCALHOST".into(),
                "salus.test".into(),
                "::1".into(),
                "*.salus.test".into(),
                "salus.test".into()
            ])
            .unwrap(),
            [
                "localhost",
                "127.0.0.1",
                "salus.test",
                "::1",
                "*.salus.test"
            ]
        );
    }

    #[test]
    fn generated_certificate_is_accepted_by_the_server_for_its_validity() {
        let now = Utc::now();
        let not_after = now + chrono::Duration::days(VALID_DAYS);
        let hosts = host_names(&["salus.test".into()]).unwrap();
        let (cert, key) = generate(&hosts, now, not_after).unwrap();
        let tls = salus_server::tls::server_config_from_pem(
            Path::new(CERT_FILE),
            cert.as_bytes(),
            Path::new(KEY_FILE),
            key.as_bytes(),
            now,
        )
        .unwrap();
        assert_eq!(tls.not_after.timestamp(), not_after.timestamp());
        let expired = salus_server::tls::server_config_from_pem(
            Path::new(CERT_FILE),
            cert.as_bytes(),
            Path::new(KEY_FILE),
            key.as_bytes(),
            not_after + chrono::Duration::seconds(1),
        );
        assert!(expired.unwrap_err().to_string().contains("expired"));
    }

    #[test]
    fn bad_host_names_are_refused() {
        for bad in [
            "bad host",
            "",
            "-salus.test",
            "salus..test",
            "a.*.test",
            "https://salus.test",
        ] {
            let e = host_names(&[bad.into()]).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "--host {bad:?} is neither a DNS name (letters, digits, '-' and '.', \
                     optionally starting with '*.') nor an IP address"
                )
            );
        }
    }

    #[test]
    fn paths_are_quoted_for_the_shell_when_needed() {
        assert_eq!(shell_quote(Path::new("/tmp/a.pem")), "/tmp/a.pem");
        assert_eq!(
            shell_quote(Path::new("/tmp/my certs/a.pem")),
            "'/tmp/my certs/a.pem'"
        );
        assert_eq!(shell_quote(Path::new("/tmp/it's")), r"'/tmp/it'\''s'");
    }
}

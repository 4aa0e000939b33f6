//! TLS for `salus serve`: the certificate chain and private key from PEM files, checked before the
//! server starts.
//!
//! Every check that a TLS client would otherwise fail at handshake time (an expired or
//! not-yet-valid certificate, a key that does not belong to it) is made here, so that a
//! misconfigured server refuses to start with a message saying which file is wrong and how,
//! rather than starting and failing every connection. [`server_config_from_pem`] is pure (bytes and
//! a clock reading in, a configuration or an error out) so that each refusal is unit-tested;
//! [`load`] only reads the files.
//!
//! Messages name files and say what is wrong; they never quote file contents, since a key file's
//! contents are the secret.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate that expires sooner than this is still served, with a warning at start-up.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// Which of the two files a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemFile {
    Certificate,
    Key,
}

impl fmt::Display for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemFile::Certificate => "certificate",
            PemFile::Key => "private key",
        })
    }
}

/// Why the server refuses to start with the given certificate and key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS {file} file {path}: {cause}; check the path and that salus may read the file", path = .path.display())]
    Unreadable {
        file: PemFile,
        path: PathBuf,
        // Not `source`: the message already says it, and `{:#}` would print it twice.
        cause: std::io::Error,
    },
    #[error("the TLS {file} file {path} is not valid PEM: {problem}; give the file as written by the certificate authority or `salus dev-cert`", path = .path.display())]
    BadPem {
        file: PemFile,
        path: PathBuf,
        problem: &'static str,
    },
    #[error("the TLS certificate file {path} holds no certificate (no \"-----BEGIN CERTIFICATE-----\" block){fix}", path = .path.display())]
    NoCertificate { path: PathBuf, fix: &'static str },
    #[error("the first certificate in {path} is not a valid X.509 certificate ({reason}); the server's own certificate must come first, followed by any intermediate certificates", path = .path.display())]
    BadCertificate { path: PathBuf, reason: String },
    #[error("the TLS certificate in {path} expired on {not_after} (it is now {now}); renew it, or for local testing create a new one with `salus dev-cert`", path = .path.display(), not_after = Instant(*.not_after), now = Instant(*.now))]
    Expired {
        path: PathBuf,
        not_after: i64,
        now: i64,
    },
    #[error("the TLS certificate in {path} is not valid before {not_before} (it is now {now}); check this machine's clock, or use a certificate that is already valid", path = .path.display(), not_before = Instant(*.not_before), now = Instant(*.now))]
    NotYetValid {
        path: PathBuf,
        not_before: i64,
        now: i64,
    },
    #[error("the TLS private key file {path} holds no private key (no \"-----BEGIN PRIVATE KEY-----\", \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE KEY-----\" block){fix}", path = .path.display())]
    NoKey { path: PathBuf, fix: &'static str },
    #[error("the private key in {path} cannot be used ({reason}); salus accepts RSA keys of 2048 bits or more, ECDSA P-256 and P-384 keys, and Ed25519 keys", path = .path.display())]
    UnusableKey { path: PathBuf, reason: String },
    #[error("the private key in {key} does not belong to the certificate in {cert}: their public keys differ; give the key the certificate was issued for, and put the server's own certificate first in {cert}", key = .key.display(), cert = .cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot check that the private key in {key} belongs to the certificate in {cert} ({reason}); give a certificate and key that salus can compare", key = .key.display(), cert = .cert.display())]
    KeyCheckFailed {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// A Unix time in seconds, shown as a UTC date and time for messages.
struct Instant(i64);

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match DateTime::from_timestamp(self.0, 0) {
            Some(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S UTC")),
            None => write!(f, "Unix time {}", self.0),
        }
    }
}

/// A checked TLS configuration.
#[derive(Debug)]
pub struct Tls {
    /// TLS 1.3 and 1.2 with rustls' default cipher suites on the ring provider.
    pub config: rustls::ServerConfig,
    /// When the server's certificate expires.
    pub not_after: DateTime<Utc>,
}

/// Read the certificate chain and key files and check them against `now`: the thin I/O shell
/// around [`server_config_from_pem`].
pub fn load(cert_path: &Path, key_path: &Path, now: DateTime<Utc>) -> Result<Tls, TlsError> {
    let read = |file: PemFile, path: &Path| {
        std::fs::read(path).map_err(|cause| TlsError::Unreadable {
            file,
            path: path.to_owned(),
            cause,
        })
    };
    let cert_pem = read(PemFile::Certificate, cert_path)?;
    let key_pem = read(PemFile::Key, key_path)?;
    let tls = server_config_from_pem(cert_path, &cert_pem, key_path, &key_pem, now)?;
    let days_left = (tls.not_after - now).num_days();
    if days_left < EXPIRY_WARNING_DAYS {
        tracing::warn!(
            certificate = %cert_path.display(),
            expires = %tls.not_after.format("%Y-%m-%d %H:%M:%S UTC"),
            days_left,
            "the TLS certificate expires soon; renew it before then, or salus will refuse to start"
        );
    }
    Ok(tls)
}

/// Build the server's TLS configuration from PEM text: `cert_pem` holds the server's certificate
/// first, then any intermediates; `key_pem` the matching private key (PKCS#8, PKCS#1 or SEC1).
/// The paths only name the files in messages. `now` decides whether the certificate is valid.
pub fn server_config_from_pem(
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
    now: DateTime<Utc>,
) -> Result<Tls, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(PemFile::Certificate, cert_path, &e))?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_owned(),
            fix: if PrivateKeyDer::from_pem_slice(cert_pem).is_ok() {
                " but a private key: were the certificate and key files swapped?"
            } else {
                "; give the server's certificate in PEM, followed by any intermediate certificates"
            },
        });
    };
    let not_after = check_validity(cert_path, leaf, now)?;

    let key = match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(key) => key,
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: key_path.to_owned(),
                fix: no_key_fix(key_pem),
            })
        }
        Err(e) => return Err(bad_pem(PemFile::Key, key_path, &e)),
    };

    // One provider, named here rather than taken from the process default: whatever another
    // dependency enables, the server's TLS is ring's, with its default (secure) cipher suites.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::UnusableKey {
                path: key_path.to_owned(),
                reason: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            })
        }
        // rustls itself would serve a key whose public half it cannot derive; the server does
        // not, since a mismatch would then only show as every handshake failing.
        Err(e) => {
            return Err(TlsError::KeyCheckFailed {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
                reason: e.to_string(),
            })
        }
    }

    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(OneCertificate(Arc::new(certified))));
    Ok(Tls { config, not_after })
}

/// Parse the server's certificate and compare its validity period with `now`. Only the leaf is
/// checked: chains in the wild carry expired cross-signed certificates that clients skip.
fn check_validity(
    path: &Path,
    leaf: &CertificateDer<'_>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, TlsError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf).map_err(|e| TlsError::BadCertificate {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let validity = cert.validity();
    let (not_before, not_after) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    let now_secs = now.timestamp();
    if now_secs < not_before {
        return Err(TlsError::NotYetValid {
            path: path.to_owned(),
            not_before,
            now: now_secs,
        });
    }
    if now_secs > not_after {
        return Err(TlsError::Expired {
            path: path.to_owned(),
            not_after,
            now: now_secs,
        });
    }
    Ok(DateTime::from_timestamp(not_after, 0).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

/// Say which PEM rule the file breaks, without quoting it (the lines may be key material).
fn bad_pem(file: PemFile, path: &Path, error: &pem::Error) -> TlsError {
    let problem = match error {
        pem::Error::MissingSectionEnd { .. } => {
            "a \"-----BEGIN\" block has no matching \"-----END\" line (is the file cut short?)"
        }
        pem::Error::IllegalSectionStart { .. } => "a \"-----BEGIN\" line is malformed",
        pem::Error::Base64Decode(_) => "the contents of a PEM block are not valid base64",
        pem::Error::SectionTooLarge => "a PEM block is larger than 256 MB",
        _ => "it cannot be parsed",
    };
    TlsError::BadPem {
        file,
        path: path.to_owned(),
        problem,
    }
}

/// How to mend a key file without a usable key, from what it holds instead.
fn no_key_fix(key_pem: &[u8]) -> &'static str {
    let holds = |marker: &str| {
        key_pem
            .windows(marker.len())
            .any(|w| w == marker.as_bytes())
    };
    if holds("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        " but an encrypted one, which salus cannot unlock: decrypt it first, e.g. with `openssl pkey -in KEY -out KEY.plain`, and keep that file readable only by salus"
    } else if CertificateDer::from_pem_slice(key_pem).is_ok() {
        " but a certificate: were the certificate and key files swapped?"
    } else {
        "; give the certificate's private key in PEM"
    }
}

/// The same certificate for every connection (rustls' own single-certificate resolver is
/// private, and building through it would parse the key a second time).
#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{date_time_ymd, CertificateParams, KeyPair};

    const CERT: &str = "/etc/salus/cert.pem";
    const KEY: &str = "/etc/salus/key.pem";

    /// A certificate for localhost valid through 2030, and its key, in PEM.
    fn cert_and_key(from: (i32, u8, u8), until: (i32, u8, u8)) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(until.0, until.1, until.2);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
    }

    fn check(cert: &str, key: &str, now: DateTime<Utc>) -> Result<Tls, TlsError> {
        server_config_from_pem(
            Path::new(CERT),
            cert.as_bytes(),
            Path::new(KEY),
            key.as_bytes(),
            now,
        )
    }

    fn refusal(cert: &str, key: &str, now: DateTime<Utc>) -> String {
        match check(cert, key, now) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn tls_valid_certificate_and_key_are_accepted() {
        let (cert, key) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        let tls = check(&cert, &key, at(2026, 6, 1)).unwrap();
        assert_eq!(tls.not_after, at(2030, 1, 1) - chrono::Duration::hours(12));
        // A chain (leaf first, then another certificate) is accepted the same.
        let (other, _) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        check(&format!("{cert}{other}"), &key, at(2026, 6, 1)).unwrap();
    }

    #[test]
    fn tls_expired_certificate_is_refused() {
        let (cert, key) = cert_and_key((2020, 1, 1), (2021, 1, 1));
        assert_eq!(
            refusal(&cert, &key, at(2026, 6, 1)),
            "the TLS certificate in /etc/salus/cert.pem expired on 2021-01-01 00:00:00 UTC \
             (it is now 2026-06-01 12:00:00 UTC); renew it, or for local testing create a new one \
             with `salus dev-cert`"
        );
    }

    #[test]
    fn tls_not_yet_valid_certificate_is_refused() {
        let (cert, key) = cert_and_key((2027, 1, 1), (2030, 1, 1));
        assert_eq!(
            refusal(&cert, &key, at(2026, 6, 1)),
            "the TLS certificate in /etc/salus/cert.pem is not valid before 2027-01-01 00:00:00 \
             UTC (it is now 2026-06-01 12:00:00 UTC); check this machine's clock, or use a \
             certificate that is already valid"
        );
    }

    #[test]
    fn tls_mismatched_key_is_refused() {
        let (cert, _) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        let (_, other_key) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        let message = refusal(&cert, &other_key, at(2026, 6, 1));
        assert_eq!(
            message,
            "the private key in /etc/salus/key.pem does not belong to the certificate in \
             /etc/salus/cert.pem: their public keys differ; give the key the certificate was \
             issued for, and put the server's own certificate first in /etc/salus/cert.pem"
        );
        assert!(!message.contains("PRIVATE KEY-----"));
    }

    #[test]
    fn tls_garbage_pem_is_refused() {
        let (cert, key) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        let now = at(2026, 6, 1);
        assert_eq!(
            refusal("not a certificate at all\n", &key, now),
            "the TLS certificate file /etc/salus/cert.pem holds no certificate (no \"-----BEGIN \
             CERTIFICATE-----\" block); give the server's certificate in PEM, followed by any \
             intermediate certificates"
        );
        assert_eq!(
            refusal(
                "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
                &key,
                now
            ),
            "the TLS certificate file /etc/salus/cert.pem is not valid PEM: the contents of a PEM \
             block are not valid base64; give the file as written by the certificate authority \
             or `salus dev-cert`"
        );
        // Well-formed PEM around bytes that are no certificate.
        let message = refusal(
            "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
            &key,
            now,
        );
        assert_eq!(
            message,
            "the first certificate in /etc/salus/cert.pem is not a valid X.509 certificate \
             (Parsing Error: Der(UnexpectedTag { expected: Some(Tag(16)), actual: Tag(0) })); the \
             server's own certificate must come first, followed by any intermediate certificates"
        );
        // A truncated key file: the message says so and quotes nothing from it.
        let cut = &key[..key.len() / 2];
        let message = refusal(&cert, cut, now);
        assert_eq!(
            message,
            "the TLS private key file /etc/salus/key.pem is not valid PEM: a \"-----BEGIN\" block \
             has no matching \"-----END\" line (is the file cut short?); give the file as written \
             by the certificate authority or `salus dev-cert`"
        );
    }

    #[test]
    fn tls_missing_key_is_refused_with_a_hint() {
        let (cert, key) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        let now = at(2026, 6, 1);
        assert_eq!(
            refusal(&cert, "", now),
            "the TLS private key file /etc/salus/key.pem holds no private key (no \"-----BEGIN \
             PRIVATE KEY-----\", \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE \
             KEY-----\" block); give the certificate's private key in PEM"
        );
        // Swapped files are recognized from either side.
        assert_eq!(
            refusal(&key, &cert, now),
            "the TLS certificate file /etc/salus/cert.pem holds no certificate (no \"-----BEGIN \
             CERTIFICATE-----\" block) but a private key: were the certificate and key files \
             swapped?"
        );
        assert_eq!(
            refusal(&cert, &cert, now),
            "the TLS private key file /etc/salus/key.pem holds no private key (no \"-----BEGIN \
             PRIVATE KEY-----\", \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE \
             KEY-----\" block) but a certificate: were the certificate and key files swapped?"
        );
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAECAwQF\n-----END ENCRYPTED \
                         PRIVATE KEY-----\n";
        assert_eq!(
            refusal(&cert, encrypted, now),
            "the TLS private key file /etc/salus/key.pem holds no private key (no \"-----BEGIN \
             PRIVATE KEY-----\", \"-----BEGIN RSA PRIVATE KEY-----\" or \"-----BEGIN EC PRIVATE \
             KEY-----\" block) but an encrypted one, which salus cannot unlock: decrypt it first, \
             e.g. with `openssl pkey -in KEY -out KEY.plain`, and keep that file readable only by \
             salus"
        );
    }

    #[test]
    fn tls_unreadable_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("salus-tls-test-{}", std::process::id()));
        let missing = dir.join("absent.pem");
        let e = load(&missing, &missing, at(2026, 6, 1)).unwrap_err();
        let message = e.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot read the TLS certificate file {}: ",
                missing.display()
            )),
            "{message}"
        );
        assert!(message.ends_with("; check the path and that salus may read the file"));
    }

    /// Drive a handshake between the configuration and a client limited to `version`, in memory.
    fn handshake(
        server: rustls::ServerConfig,
        cert_pem: &str,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> rustls::ProtocolVersion {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut client =
            rustls::ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap())
                .unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(server)).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut wire = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut wire).unwrap();
            }
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().unwrap();
            if !client.is_handshaking() && !server.is_handshaking() {
                return server.protocol_version().unwrap();
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn tls_serves_tls13_and_tls12_with_the_default_suites() {
        let (cert, key) = cert_and_key((2025, 1, 1), (2030, 1, 1));
        let tls = check(&cert, &key, at(2026, 6, 1)).unwrap();
        let suites: Vec<_> = tls
            .config
            .crypto_provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        let defaults: Vec<_> = rustls::crypto::ring::DEFAULT_CIPHER_SUITES
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(suites, defaults);
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            assert_eq!(
                handshake(tls.config.clone(), &cert, version),
                version.version
            );
        }
    }
}

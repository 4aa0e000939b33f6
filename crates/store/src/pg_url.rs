//! The PostgreSQL URL as Salus connects with it.
//!
//! libpq's default `sslmode=prefer` encrypts even a connection to 127.0.0.1. On the loopback
//! interface the bytes never leave the kernel, so TLS protects nothing there, while every row
//! is encrypted by PostgreSQL and decrypted by Salus on the same cores (libcrypto and libssl
//! were about a tenth of the server's CPU on patient-compartment searches). A loopback URL that does not say
//! `sslmode` therefore connects without TLS; any URL that says `sslmode` keeps it, and a remote
//! host keeps libpq's default.

use std::borrow::Cow;

/// `url` with `sslmode=disable` added when its host is the loopback interface (`localhost`,
/// `127.x.x.x`, `::1`) and it names no `sslmode` of its own.
pub fn with_loopback_tls_default(url: &str) -> Cow<'_, str> {
    let Some((_, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let sets_sslmode = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("sslmode"))
    });
    if sets_sslmode {
        return Cow::Borrowed(url);
    }
    let authority = before_query.split('/').next().unwrap_or("");
    // User info may hold '@' only percent-encoded, so the host starts after the last '@'.
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    if !is_loopback(host) {
        return Cow::Borrowed(url);
    }
    let separator = if query.is_some() { "&" } else { "?" };
    Cow::Owned(format!("{url}{separator}sslmode=disable"))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::with_loopback_tls_default as f;

    #[test]
    fn loopback_urls_without_sslmode_connect_without_tls() {
        assert_eq!(
            f("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
        );
        assert_eq!(
            f("postgres://u:p@localhost/db?options=-csearch_path%3Dx"),
            "postgres://u:p@localhost/db?options=-csearch_path%3Dx&sslmode=disable"
        );
        assert_eq!(
            f("postgresql://[::1]:5433/db"),
            "postgresql://[::1]:5433/db?sslmode=disable"
        );
        assert_eq!(
            f("postgres://127.0.0.2"),
            "postgres://127.0.0.2?sslmode=disable"
        );
    }

    #[test]
    fn an_explicit_sslmode_or_a_remote_host_is_left_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test?sslmode=require",
            "postgres://127.0.0.1/test?application_name=a&sslmode=verify-full",
            "postgres://db.hospital.example:5432/salus",
            "postgres://user@10.0.0.5/salus",
            // The host is what follows the last '@', not a user name that looks local.
            "postgres://localhost@db.hospital.example/salus",
            "postgres://[2001:db8::1]/salus",
            // No host: a Unix socket, where libpq uses no TLS anyway.
            "postgres:///salus",
        ] {
            assert_eq!(f(url), url, "{url}");
        }
    }
}

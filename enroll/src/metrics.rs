//! Prometheus text exposition, written by hand (a handful of counters needs no crate).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    issued: AtomicU64,
    renewed: AtomicU64,
    revoked: AtomicU64,
    tokens: AtomicU64,
    jwts: AtomicU64,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
    token_attempts_limited: AtomicU64,
    enroll_failures: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub(crate) fn issued(&self) {
        self.issued.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn renewed(&self) {
        self.renewed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn revoked(&self) {
        self.revoked.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn token_minted(&self) {
        self.tokens.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn jwt_minted(&self) {
        self.jwts.fetch_add(1, Ordering::Relaxed);
    }
    /// Count an open connection until the guard drops.
    pub(crate) fn connection_opened(&self) -> OpenConnection<'_> {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self)
    }
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn token_attempts_limited(&self) {
        self.token_attempts_limited.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn enroll_failed(&self, reason: &'static str) {
        let mut m = match self.enroll_failures.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        *m.entry(reason).or_insert(0) += 1;
    }

    /// The exposition text; `earliest_expiry` is the Unix time of the first unrevoked
    /// certificate to expire, if any.
    pub fn render(&self, earliest_expiry: Option<i64>) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {v}");
        };
        counter(
            &mut out,
            "meshtls_ca_issued_total",
            "Certificates issued by enrollment.",
            self.issued.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "meshtls_ca_renewed_total",
            "Certificates issued by renewal.",
            self.renewed.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "meshtls_ca_revoked_total",
            "Certificates revoked.",
            self.revoked.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "meshtls_ca_tokens_minted_total",
            "Join tokens minted.",
            self.tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "meshtls_ca_jwts_minted_total",
            "JWT-SVIDs minted.",
            self.jwts.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "meshtls_ca_connections_refused_total",
            "Connections closed at once: their client address held its limit of open connections.",
            self.connections_refused.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "meshtls_ca_token_attempts_limited_total",
            "Enrollments answered 429: their client address made too many failed join-token attempts.",
            self.token_attempts_limited.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP meshtls_ca_connections_open Connections open now."
        );
        let _ = writeln!(out, "# TYPE meshtls_ca_connections_open gauge");
        let _ = writeln!(
            out,
            "meshtls_ca_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meshtls_ca_enroll_failures_total Failed enrollments and renewals by reason."
        );
        let _ = writeln!(out, "# TYPE meshtls_ca_enroll_failures_total counter");
        let failures = match self.enroll_failures.lock() {
            Ok(m) => m.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for (reason, n) in failures {
            let _ = writeln!(
                out,
                "meshtls_ca_enroll_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP meshtls_ca_earliest_expiry_seconds Unix time of the first unrevoked certificate to expire."
        );
        let _ = writeln!(out, "# TYPE meshtls_ca_earliest_expiry_seconds gauge");
        if let Some(t) = earliest_expiry {
            let _ = writeln!(out, "meshtls_ca_earliest_expiry_seconds {t}");
        }
        out
    }
}

/// One open connection in [`Metrics`]; uncounted when dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection<'a>(&'a Metrics);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

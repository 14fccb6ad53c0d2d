//! `/healthz` and `/metrics` (Prometheus text format) on a loopback address: a few lines of
//! HTTP/1.1 over tokio, one request per connection.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the agent knows of one identity.
#[derive(Debug, Default, Clone)]
pub struct IdentityStats {
    pub name: String,
    pub spiffe_id: String,
    /// Unix seconds of the current certificate's notAfter.
    pub not_after: Option<i64>,
    pub renewals_ok: u64,
    /// Failed renewals by code.
    pub renewals_failed: BTreeMap<String, u64>,
    /// Unix seconds of the last refresh that reached the service (changed or 304).
    pub last_refresh: Option<i64>,
    /// Failed refreshes by code.
    pub refresh_failed: BTreeMap<String, u64>,
    pub hook_runs: u64,
    pub hook_failures: u64,
}

/// What the agent knows, shared with the HTTP server.
#[derive(Debug, Default)]
pub struct Stats {
    pub identities: Vec<IdentityStats>,
    /// Unix seconds the bundle / CRL file last changed.
    pub bundle_changed: Option<i64>,
    pub crl_changed: Option<i64>,
}

/// [`Stats`] behind a lock.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<Stats>>);

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Stats> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// Now, Unix seconds (the agent's clock for its stats).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of `stats` at `now`.
pub fn render(stats: &Stats, now: i64) -> String {
    let mut o = String::new();
    let ids = &stats.identities;
    let family = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        &mut o,
        "meshtls_agent_certificate_expiry_seconds",
        "gauge",
        "Seconds until the current certificate expires (negative once expired).",
    );
    for i in ids {
        if let Some(na) = i.not_after {
            let _ = writeln!(
                o,
                "meshtls_agent_certificate_expiry_seconds{{identity=\"{}\",spiffe_id=\"{}\"}} {}",
                label(&i.name),
                label(&i.spiffe_id),
                na - now
            );
        }
    }
    family(
        &mut o,
        "meshtls_agent_certificate_not_after_timestamp_seconds",
        "gauge",
        "notAfter of the current certificate, Unix seconds.",
    );
    for i in ids {
        if let Some(na) = i.not_after {
            let _ = writeln!(
                o,
                "meshtls_agent_certificate_not_after_timestamp_seconds{{identity=\"{}\"}} {na}",
                label(&i.name)
            );
        }
    }
    family(
        &mut o,
        "meshtls_agent_renewals_total",
        "counter",
        "Renewals through the CA service: result ok, or failed with the error code.",
    );
    for i in ids {
        let _ = writeln!(
            o,
            "meshtls_agent_renewals_total{{identity=\"{}\",result=\"ok\"}} {}",
            label(&i.name),
            i.renewals_ok
        );
        for (code, n) in &i.renewals_failed {
            let _ = writeln!(
                o,
                "meshtls_agent_renewals_total{{identity=\"{}\",result=\"failed\",code=\"{}\"}} {n}",
                label(&i.name),
                label(code)
            );
        }
    }
    family(&mut o, "meshtls_agent_trust_refresh_timestamp_seconds", "gauge",
        "When the bundle and CRL were last fetched successfully (changed or not modified), Unix seconds.");
    for i in ids {
        if let Some(t) = i.last_refresh {
            let _ = writeln!(
                o,
                "meshtls_agent_trust_refresh_timestamp_seconds{{identity=\"{}\"}} {t}",
                label(&i.name)
            );
        }
    }
    family(
        &mut o,
        "meshtls_agent_trust_refresh_age_seconds",
        "gauge",
        "Seconds since the bundle and CRL were last fetched successfully.",
    );
    for i in ids {
        if let Some(t) = i.last_refresh {
            let _ = writeln!(
                o,
                "meshtls_agent_trust_refresh_age_seconds{{identity=\"{}\"}} {}",
                label(&i.name),
                now - t
            );
        }
    }
    family(
        &mut o,
        "meshtls_agent_trust_refresh_failures_total",
        "counter",
        "Failed bundle/CRL refreshes by error code.",
    );
    for i in ids {
        for (code, n) in &i.refresh_failed {
            let _ = writeln!(
                o,
                "meshtls_agent_trust_refresh_failures_total{{identity=\"{}\",code=\"{}\"}} {n}",
                label(&i.name),
                label(code)
            );
        }
    }
    family(
        &mut o,
        "meshtls_agent_file_changed_timestamp_seconds",
        "gauge",
        "When the bundle or CRL file last changed, Unix seconds.",
    );
    for (file, t) in [("bundle", stats.bundle_changed), ("crl", stats.crl_changed)] {
        if let Some(t) = t {
            let _ = writeln!(
                o,
                "meshtls_agent_file_changed_timestamp_seconds{{file=\"{file}\"}} {t}"
            );
        }
    }
    family(
        &mut o,
        "meshtls_agent_reload_hook_runs_total",
        "counter",
        "Reload hooks run.",
    );
    for i in ids {
        let _ = writeln!(
            o,
            "meshtls_agent_reload_hook_runs_total{{identity=\"{}\"}} {}",
            label(&i.name),
            i.hook_runs
        );
    }
    family(
        &mut o,
        "meshtls_agent_reload_hook_failures_total",
        "counter",
        "Reload hooks that failed (non-zero exit, no PID, could not run).",
    );
    for i in ids {
        let _ = writeln!(
            o,
            "meshtls_agent_reload_hook_failures_total{{identity=\"{}\"}} {}",
            label(&i.name),
            i.hook_failures
        );
    }
    o
}

/// `None` when healthy, else why not: every identity holds an unexpired certificate.
pub fn unhealthy(stats: &Stats, now: i64) -> Option<String> {
    if stats.identities.is_empty() {
        return Some("no identity yet".to_owned());
    }
    for i in &stats.identities {
        match i.not_after {
            None => return Some(format!("{}: not enrolled yet", i.name)),
            Some(na) if na <= now => return Some(format!("{}: certificate expired", i.name)),
            Some(_) => {}
        }
    }
    None
}

/// Binds `addr` and serves until the process ends; returns the bound address.
pub async fn serve(addr: SocketAddr, stats: Shared) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let stats = stats.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, stats)).await;
            });
        }
    });
    Ok(bound)
}

async fn answer(mut stream: tokio::net::TcpStream, stats: Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or_default().split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let now = now();
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(&stats.lock(), now),
        ),
        ("GET", "/healthz") => match unhealthy(&stats.lock(), now) {
            None => ("200 OK", "text/plain; charset=utf-8", "ok\n".to_owned()),
            Some(why) => (
                "503 Service Unavailable",
                "text/plain; charset=utf-8",
                format!("unhealthy: {why}\n"),
            ),
        },
        ("GET", _) => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_expiry_renewals_by_code_and_ages() {
        let mut s = Stats::default();
        s.identities.push(IdentityStats {
            name: "web".into(),
            spiffe_id: "spiffe://mesh.internal/service/web".into(),
            not_after: Some(1_000),
            renewals_ok: 3,
            renewals_failed: [("revoked".to_owned(), 2)].into_iter().collect(),
            last_refresh: Some(900),
            ..Default::default()
        });
        let text = render(&s, 950);
        assert!(text.contains("meshtls_agent_certificate_expiry_seconds{identity=\"web\",spiffe_id=\"spiffe://mesh.internal/service/web\"} 50\n"), "{text}");
        assert!(text.contains("meshtls_agent_renewals_total{identity=\"web\",result=\"ok\"} 3\n"));
        assert!(text.contains(
            "meshtls_agent_renewals_total{identity=\"web\",result=\"failed\",code=\"revoked\"} 2\n"
        ));
        assert!(text.contains("meshtls_agent_trust_refresh_age_seconds{identity=\"web\"} 50\n"));
        assert_eq!(unhealthy(&s, 950), None);
        assert_eq!(
            unhealthy(&s, 1_000).as_deref(),
            Some("web: certificate expired")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

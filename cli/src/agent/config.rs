//! The agent's configuration: `agent.toml`, or the same for one identity as flags. Parsed
//! once here into [`Plan`], so the runner sees checked types only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meshtls_core::validity::parse_duration;
use meshtls_core::{Fingerprint, KeyAlgorithm, RenewTrigger, RotationPolicy, SpiffeId};
use meshtls_net::enroll::{self, FileLayout, KEY_MODE, PUBLIC_MODE};
use serde::Deserialize;

use crate::enroll::TrustSource;
use crate::error::CliError;
use crate::files;

/// `agent.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The CA service, https://host:port.
    pub url: Option<String>,
    /// Trust for the first contact: a bundle file...
    pub bundle: Option<PathBuf>,
    /// ... or the SHA-256 of the service's root.
    pub ca_fingerprint: Option<String>,
    /// The shared directory (default layout `DIR/ca.pem`, `DIR/crl.pem`, `DIR/NAME/*.pem`).
    pub dir: Option<PathBuf>,
    /// Where the bundle is written (default DIR/ca.pem).
    pub bundle_file: Option<PathBuf>,
    /// Where the CRL is written (default DIR/crl.pem).
    pub crl_file: Option<PathBuf>,
    /// The agent's own state (default DIR/.meshtls-agent).
    pub state_dir: Option<PathBuf>,
    /// `/healthz` and `/metrics` on this loopback address.
    pub metrics: Option<String>,
    /// Bundle and CRL refresh interval (default 5m).
    pub refresh_every: Option<String>,
    /// Request timeout (default 30s).
    pub timeout: Option<String>,
    /// The SPIFFE ID the service presents (default spiffe://<td>/meshtls/ca).
    pub service_id: Option<String>,
    /// Renew at this fraction of the lifetime (default 2/3, the core's).
    pub renew_at_fraction: Option<f64>,
    /// Or this long before expiry.
    pub renew_before: Option<String>,
    /// Up to this fraction of the lifetime earlier (default 0.05).
    pub jitter: Option<f64>,
    /// First retry delay after a failure (default 1s), doubling up to `retry_max` (5m).
    pub retry_min: Option<String>,
    /// Longest retry delay.
    pub retry_max: Option<String>,
    /// The identities.
    #[serde(default)]
    pub identity: Vec<IdentityConfig>,
}

/// One `[[identity]]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Directory name under DIR (default: the last segment of the ID).
    pub name: Option<String>,
    /// The SPIFFE ID.
    pub id: String,
    /// The join token file (needed only until the first enrollment).
    pub token_file: Option<PathBuf>,
    /// DNS names to ask for.
    #[serde(default)]
    pub dns: Vec<String>,
    /// Key algorithm (default ecdsa-p256).
    pub key_algorithm: Option<String>,
    /// Overrides of the default paths.
    pub cert_file: Option<PathBuf>,
    /// Key path.
    pub key_file: Option<PathBuf>,
    /// Chain path.
    pub chain_file: Option<PathBuf>,
    /// Key mode, octal (default "0600").
    pub key_mode: Option<String>,
    /// Mode of the certificate files (default "0644").
    pub cert_mode: Option<String>,
    /// Reload hook: a shell command run after any of its files changed.
    pub exec: Option<String>,
    /// Reload hook: send `signal` to the PID in this file.
    pub pid_file: Option<PathBuf>,
    /// The signal (default HUP).
    pub signal: Option<String>,
}

/// A reload hook.
#[derive(Debug, Clone)]
pub enum Hook {
    /// `sh -c COMMAND`.
    Exec(String),
    /// `kill -s SIGNAL $(cat PID_FILE)`.
    Signal { pid_file: PathBuf, signal: String },
}

/// One identity, checked.
#[derive(Debug, Clone)]
pub struct IdentityPlan {
    pub name: String,
    pub id: SpiffeId,
    pub token_file: Option<PathBuf>,
    pub dns: Vec<String>,
    pub key_algorithm: KeyAlgorithm,
    pub layout: FileLayout,
    pub state_dir: PathBuf,
    pub hooks: Vec<Hook>,
}

/// The whole agent, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: String,
    pub trust: TrustSource,
    pub service_id: Option<SpiffeId>,
    pub metrics: Option<SocketAddr>,
    pub refresh_every: Duration,
    pub timeout: Duration,
    pub rotation: RotationPolicy,
    pub retry: (Duration, Duration),
    pub identities: Vec<IdentityPlan>,
}

fn bad(what: &str, msg: impl std::fmt::Display) -> CliError {
    CliError::invalid(format!("{what}: {msg}"))
}

fn duration(what: &str, v: &Option<String>, default: Duration) -> Result<Duration, CliError> {
    match v {
        Some(s) => parse_duration(s).map_err(|e| bad(what, e.message())),
        None => Ok(default),
    }
}

fn mode(what: &str, v: &Option<String>, default: u32) -> Result<u32, CliError> {
    match v {
        None => Ok(default),
        Some(s) => {
            let m = u32::from_str_radix(s.trim_start_matches("0o"), 8)
                .map_err(|_| bad(what, format!("{s:?} is not an octal mode")))?;
            if m > 0o777 {
                return Err(bad(what, format!("{s:?} is not a file mode")));
            }
            Ok(m)
        }
    }
}

/// A name that is one plain path component.
fn check_name(name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(bad(
            "identity name",
            format!("{name:?} must be letters, digits, '-', '_' or '.', not starting with '.'"),
        ))
    }
}

impl FileConfig {
    /// Reads `agent.toml`.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let text = files::read_text(path)?;
        toml::from_str(&text).map_err(|e| {
            CliError::new(
                meshtls_core::ErrorCode::Malformed,
                e.to_string().replace('\n', " "),
            )
            .in_file(path)
        })
    }

    /// Checks everything and fills the defaults.
    pub fn plan(&self) -> Result<Plan, CliError> {
        let url = self
            .url
            .clone()
            .ok_or_else(|| CliError::invalid("no url: the CA service, https://host:port"))?;
        let trust = match (&self.bundle, &self.ca_fingerprint) {
            (Some(b), None) => TrustSource::Bundle(b.clone()),
            (None, Some(f)) => TrustSource::Fingerprint(
                Fingerprint::from_hex(f).map_err(|e| bad("ca_fingerprint", e.message()))?,
            ),
            _ => {
                return Err(CliError::invalid(
                    "give exactly one of bundle and ca_fingerprint",
                ))
            }
        };
        let dir = self
            .dir
            .clone()
            .ok_or_else(|| CliError::invalid("no dir: where the files are kept"))?;
        let service_id = match &self.service_id {
            Some(s) => Some(SpiffeId::parse(s).map_err(|e| bad("service_id", e.message()))?),
            None => None,
        };
        let metrics = match &self.metrics {
            None => None,
            Some(s) => {
                let addr: SocketAddr = s
                    .parse()
                    .map_err(|_| bad("metrics", format!("{s:?} is not IP:PORT")))?;
                if !addr.ip().is_loopback() {
                    return Err(bad(
                        "metrics",
                        format!("{addr} is not a loopback address (127.0.0.1, ::1)"),
                    ));
                }
                Some(addr)
            }
        };
        let refresh_every = duration(
            "refresh_every",
            &self.refresh_every,
            Duration::from_secs(300),
        )?;
        enroll::check_refresh_every(refresh_every)
            .map_err(|e| bad("refresh_every", e.message()))?;
        let timeout = duration("timeout", &self.timeout, Duration::from_secs(30))?;
        enroll::check_timeout(timeout).map_err(|e| bad("timeout", e.message()))?;
        let mut rotation = RotationPolicy::default();
        match (self.renew_at_fraction, &self.renew_before) {
            (Some(_), Some(_)) => {
                return Err(CliError::invalid(
                    "give at most one of renew_at_fraction and renew_before",
                ))
            }
            (Some(f), None) => {
                rotation = RotationPolicy::at_fraction(f)
                    .map_err(|e| bad("renew_at_fraction", e.message()))?
            }
            (None, Some(d)) => {
                let d = parse_duration(d).map_err(|e| bad("renew_before", e.message()))?;
                rotation.trigger = RenewTrigger::Before(d);
            }
            (None, None) => {}
        }
        if let Some(j) = self.jitter {
            rotation = rotation
                .with_jitter(j)
                .map_err(|e| bad("jitter", e.message()))?;
        }
        let retry_min = duration("retry_min", &self.retry_min, Duration::from_secs(1))?;
        let retry_max = duration("retry_max", &self.retry_max, Duration::from_secs(300))?;
        if retry_min.is_zero() || retry_max < retry_min {
            return Err(CliError::invalid(
                "retry_min must be above zero and at most retry_max",
            ));
        }
        if self.identity.is_empty() {
            return Err(CliError::invalid("no [[identity]]: nothing to keep"));
        }
        let state_root = self
            .state_dir
            .clone()
            .unwrap_or_else(|| dir.join(".meshtls-agent"));
        let mut identities = Vec::new();
        for i in &self.identity {
            let id = SpiffeId::parse(&i.id).map_err(|e| bad("id", e.message()))?;
            let name = match &i.name {
                Some(n) => n.clone(),
                None => id
                    .to_string()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            };
            check_name(&name)?;
            if identities.iter().any(|p: &IdentityPlan| p.name == name) {
                return Err(bad("identity name", format!("{name:?} is used twice")));
            }
            let mut layout = FileLayout::standard(&dir, &name);
            if let Some(p) = &i.cert_file {
                layout.cert = p.clone();
            }
            if let Some(p) = &i.key_file {
                layout.key = p.clone();
            }
            if let Some(p) = &i.chain_file {
                layout.chain = p.clone();
            }
            if let Some(p) = &self.bundle_file {
                layout.bundle = Some(p.clone());
            }
            if let Some(p) = &self.crl_file {
                layout.crl = Some(p.clone());
            }
            layout.key_mode = mode("key_mode", &i.key_mode, KEY_MODE)?;
            layout.public_mode = mode("cert_mode", &i.cert_mode, PUBLIC_MODE)?;
            let key_algorithm = match &i.key_algorithm {
                Some(k) => k
                    .parse::<KeyAlgorithm>()
                    .map_err(|e| bad("key_algorithm", e.message()))?,
                None => KeyAlgorithm::EcdsaP256,
            };
            let mut hooks = Vec::new();
            if let Some(cmd) = &i.exec {
                hooks.push(Hook::Exec(cmd.clone()));
            }
            match (&i.pid_file, &i.signal) {
                (Some(p), s) => {
                    let signal = s.clone().unwrap_or_else(|| "HUP".to_owned());
                    let plain = signal.trim_start_matches("SIG");
                    if plain.is_empty() || !plain.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        return Err(bad("signal", format!("{signal:?} is not a signal name")));
                    }
                    hooks.push(Hook::Signal {
                        pid_file: p.clone(),
                        signal: plain.to_owned(),
                    });
                }
                (None, Some(_)) => return Err(CliError::invalid("signal needs pid_file")),
                (None, None) => {}
            }
            identities.push(IdentityPlan {
                state_dir: state_root.join(&name),
                name,
                id,
                token_file: i.token_file.clone(),
                dns: i.dns.clone(),
                key_algorithm,
                layout,
                hooks,
            });
        }
        Ok(Plan {
            url,
            trust,
            service_id,
            metrics,
            refresh_every,
            timeout,
            rotation,
            retry: (retry_min, retry_max),
            identities,
        })
    }
}

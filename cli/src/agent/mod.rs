//! `meshtls agent`: enroll once, then keep certificate, key, chain, bundle and CRL files
//! current for programs that cannot link meshtls (nginx, Go, Java, HAProxy, Envoy...), and
//! run a reload hook after every change.
//!
//! The renewal and refresh are meshtls-net's enrollment client, the one the bindings use
//! ([`meshtls_net::enroll::enroll`] / [`resume`](meshtls_net::enroll::resume)): renewal at
//! the core rotation policy's time with jitter, retries with backoff, bundle and CRL fetched
//! conditionally. This module turns its events into files, hooks, logs and metrics.

mod config;
mod hook;
mod metrics;

use std::path::PathBuf;

use clap::Args;
use meshtls_core::{ErrorCode, ErrorFamily, Fingerprint, RotationStatus};
use meshtls_net::enroll::{
    self, EnrollError, EnrollOptions, EnrolledIdentity, TrustEvent, STATE_FILE,
};
use meshtls_net::RotationEvent;
use tokio::sync::mpsc;

use self::config::{FileConfig, IdentityConfig, IdentityPlan, Plan};
use self::metrics::{IdentityStats, Shared};
use crate::enroll::{enroll_error, parse_spiffe_id, read_token, trust_pem};
use crate::error::CliError;

/// `agent`
#[derive(Debug, Args)]
#[command(after_help = "\
With --config, everything comes from agent.toml (several identities); without it, the flags
describe one identity. Default layout: DIR/ca.pem, DIR/crl.pem, DIR/NAME/{cert,chain,key}.pem
(key 0600), each written atomically; the agent's state (to restart without a token) is in
DIR/.meshtls-agent/NAME/.

It enrolls once with the join token (or resumes from its state), writes the files, then renews
at the core rotation time (2/3 of the lifetime, up to 5% earlier by jitter), retrying with
backoff, refreshes bundle and CRL every --refresh-every with ETags, and after every change of
an identity's files runs its hooks (--exec, or --signal to --pid-file). --once does the first
part and exits (init containers). Logs are one line per event on stderr with the core's code.

Exit codes: 0 (--once) done, 1 rejected (unknown_issuer, revoked, expired...), 2 refused or bad
input, 3 I/O, the service unreachable, or (--once) a reload hook failed.")]
pub struct AgentArgs {
    /// agent.toml (see cli/README.md); the other flags are for one identity without a file.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "url", "token_file", "bundle", "ca_fingerprint", "id", "name", "dns", "dir", "exec",
        "pid_file", "signal", "metrics", "refresh_every", "renew_at_fraction", "renew_before",
    ])]
    config: Option<PathBuf>,
    /// Enroll (or renew if due), write the files, refresh bundle and CRL, run hooks, exit.
    #[arg(long)]
    once: bool,
    /// The CA service: https://host:port.
    #[arg(long, value_name = "URL", required_unless_present = "config")]
    url: Option<String>,
    /// The join token file (needed until the first enrollment).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// CA certificates that vouch for the service, for the first contact.
    #[arg(long, value_name = "FILE", conflicts_with = "ca_fingerprint")]
    bundle: Option<PathBuf>,
    /// Or the SHA-256 of the service's root (hex, colons optional).
    #[arg(long, value_name = "SHA256", value_parser = Fingerprint::from_hex)]
    ca_fingerprint: Option<Fingerprint>,
    /// The SPIFFE ID to keep.
    #[arg(long, value_name = "SPIFFE_ID", value_parser = parse_spiffe_id, required_unless_present = "config")]
    id: Option<meshtls_core::SpiffeId>,
    /// Its directory name under DIR (default: the ID's last segment).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A DNS name to ask for; repeat.
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
    /// The shared directory of the files.
    #[arg(long, value_name = "DIR", required_unless_present = "config")]
    dir: Option<PathBuf>,
    /// Reload hook: a shell command run after the files changed.
    #[arg(long, value_name = "COMMAND")]
    exec: Option<String>,
    /// Reload hook: signal the PID in this file.
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// The signal for --pid-file (default HUP).
    #[arg(long, value_name = "SIGNAL", requires = "pid_file")]
    signal: Option<String>,
    /// Serve /healthz and /metrics on this loopback address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Bundle and CRL refresh interval (default 5m).
    #[arg(long, value_name = "DURATION")]
    refresh_every: Option<String>,
    /// Renew at this fraction of the lifetime (default 2/3, the core's).
    #[arg(long, value_name = "FRACTION", conflicts_with = "renew_before")]
    renew_at_fraction: Option<f64>,
    /// Or renew this long before expiry.
    #[arg(long, value_name = "DURATION")]
    renew_before: Option<String>,
}

impl AgentArgs {
    fn file_config(&self) -> Result<FileConfig, CliError> {
        if let Some(path) = &self.config {
            return FileConfig::load(path);
        }
        let id = self
            .id
            .as_ref()
            .ok_or_else(|| CliError::invalid("give --config or --id"))?;
        Ok(FileConfig {
            url: self.url.clone(),
            bundle: self.bundle.clone(),
            ca_fingerprint: self.ca_fingerprint.map(|f| f.to_hex()),
            dir: self.dir.clone(),
            metrics: self.metrics.clone(),
            refresh_every: self.refresh_every.clone(),
            renew_at_fraction: self.renew_at_fraction,
            renew_before: self.renew_before.clone(),
            identity: vec![IdentityConfig {
                name: self.name.clone(),
                id: id.to_string(),
                token_file: self.token_file.clone(),
                dns: self.dns.clone(),
                exec: self.exec.clone(),
                pid_file: self.pid_file.clone(),
                signal: self.signal.clone(),
                ..Default::default()
            }],
            ..Default::default()
        })
    }
}

/// Runs `agent`: returns only on error, or after `--once`.
pub fn run(a: &AgentArgs, _json: bool) -> Result<(), CliError> {
    let plan = a.file_config()?.plan()?;
    crate::enroll::runtime()?.block_on(Agent::new(plan).run(a.once))
}

fn log(name: &str, what: impl std::fmt::Display) {
    eprintln!("meshtls agent: {name}: {what}");
}

/// What the enrollment client reports, tagged with the identity's index.
enum Event {
    Rotation(usize, RotationEvent),
    Trust(usize, TrustEvent),
}

struct Agent {
    plan: Plan,
    stats: Shared,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    held: Vec<EnrolledIdentity>,
    /// Past the first enrollments: a change of the shared bundle or CRL runs the hooks.
    running: bool,
}

impl Agent {
    fn new(plan: Plan) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Shared::default();
        stats.lock().identities = plan
            .identities
            .iter()
            .map(|i| IdentityStats {
                name: i.name.clone(),
                spiffe_id: i.id.to_string(),
                ..Default::default()
            })
            .collect();
        Agent {
            plan,
            stats,
            tx,
            rx,
            held: Vec::new(),
            running: false,
        }
    }

    async fn run(mut self, once: bool) -> Result<(), CliError> {
        if let Some(addr) = self.plan.metrics {
            let bound = metrics::serve(addr, self.stats.clone())
                .await
                .map_err(|e| CliError::new(ErrorCode::Io, format!("metrics on {addr}: {e}")))?;
            eprintln!("meshtls agent: metrics on http://{bound}/metrics, health on /healthz");
        }
        for index in 0..self.plan.identities.len() {
            let enrolled = self.start(index, once).await?;
            self.held.push(enrolled);
            self.write_identity(index)?;
        }
        if once {
            for index in 0..self.held.len() {
                let due = {
                    let current = self.held[index].identity().current();
                    let leaf = current.leaf()?;
                    !matches!(
                        self.plan.rotation.status(&leaf, crate::clock::now()?),
                        RotationStatus::Fresh { .. }
                    )
                };
                if due {
                    self.held[index].renew_now().await.map_err(|e| {
                        self.fail_log(index, "renewal failed", &e);
                        enroll_error(e)
                    })?;
                    log(&self.plan.identities[index].name, "renewed");
                    self.write_identity(index)?;
                }
                self.held[index].refresh_trust().await.map_err(|e| {
                    self.fail_log(index, "bundle/CRL refresh failed", &e);
                    enroll_error(e)
                })?;
            }
            while let Ok(event) = self.rx.try_recv() {
                self.handle(event).await?;
            }
            let mut failed = Vec::new();
            for index in 0..self.held.len() {
                if !self.run_hooks(index).await {
                    failed.push(self.plan.identities[index].name.clone());
                }
            }
            if !failed.is_empty() {
                // The files are written; the program reading them was not told.
                return Err(CliError::new(
                    ErrorCode::Io,
                    format!("the reload hook of {} failed", failed.join(", ")),
                ));
            }
            return Ok(());
        }
        // What the first refreshes reported, then the hooks once: the files may be new to
        // the program reading them.
        while let Ok(event) = self.rx.try_recv() {
            self.handle(event).await?;
        }
        for index in 0..self.held.len() {
            self.run_hooks(index).await;
        }
        self.running = true;
        while let Some(event) = self.rx.recv().await {
            if let Err(e) = self.handle(event).await {
                // A file could not be written: say so and keep going (the next renewal or
                // refresh writes again).
                eprintln!("meshtls agent: {e}");
            }
        }
        Ok(())
    }

    fn fail_log(&self, index: usize, what: &str, e: &EnrollError) {
        log(
            &self.plan.identities[index].name,
            format!("{what}: {}: {e}", e.code()),
        );
    }

    /// Resume from the state directory if it holds an unexpired certificate, else enroll
    /// with the token; a service that cannot be reached is tried again with backoff (not
    /// with --once), any other failure ends the agent.
    async fn start(&self, index: usize, once: bool) -> Result<EnrolledIdentity, CliError> {
        let ident = &self.plan.identities[index];
        let mut delay = self.plan.retry.0;
        loop {
            match self.try_start(index).await {
                Ok(e) => return Ok(e),
                Err(err) => {
                    let retry = !once
                        && matches!(&err, Failure::Enroll(e) if e.family() == ErrorFamily::Io);
                    let cli = match err {
                        Failure::Enroll(e) => {
                            self.fail_log(index, "enrollment failed", &e);
                            enroll_error(e)
                        }
                        Failure::Cli(c) => {
                            log(&ident.name, &c);
                            c
                        }
                    };
                    if !retry {
                        return Err(cli);
                    }
                    log(&ident.name, format!("retrying in {delay:?}"));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.plan.retry.1);
                }
            }
        }
    }

    async fn try_start(&self, index: usize) -> Result<EnrolledIdentity, Failure> {
        let ident = &self.plan.identities[index];
        let options = self.options(index).await?;
        if let Some(why) = resumable(ident) {
            log(&ident.name, why);
            let e = enroll::resume(&self.plan.url, options).await?;
            log(
                &ident.name,
                format!("resumed from {}", ident.state_dir.display()),
            );
            return Ok(e);
        }
        let token = read_token(ident.token_file.as_deref())?;
        let e = enroll::enroll(&self.plan.url, &token, &ident.id, options).await?;
        log(&ident.name, format!("enrolled as {}", ident.id));
        Ok(e)
    }

    /// The options of identity `index`: trust from the bundle file the agent keeps if there
    /// is one (it came over a verified connection), else from the configured source.
    async fn options(&self, index: usize) -> Result<EnrollOptions, CliError> {
        let ident = &self.plan.identities[index];
        let kept = ident
            .layout
            .bundle
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .filter(|pem| meshtls_core::TrustBundle::from_pem(pem.as_bytes()).is_ok());
        let trust = match kept {
            Some(pem) => pem,
            None => trust_pem(&self.plan.url, &self.plan.trust, self.plan.timeout).await?,
        };
        let mut o = EnrollOptions::new(trust);
        o.dns_names = ident.dns.clone();
        o.key_algorithm = ident.key_algorithm;
        o.service_id = self.plan.service_id.clone();
        o.rotation = self.plan.rotation;
        o.refresh_every = self.plan.refresh_every;
        o.timeout = self.plan.timeout;
        o.backoff = self.plan.retry;
        o.state_dir = Some(ident.state_dir.clone());
        let tx = self.tx.clone();
        o.on_rotation = Some(std::sync::Arc::new(move |e| {
            let _ = tx.send(Event::Rotation(index, e));
        }));
        let tx = self.tx.clone();
        o.on_trust = Some(std::sync::Arc::new(move |e| {
            let _ = tx.send(Event::Trust(index, e));
        }));
        Ok(o)
    }

    fn write_identity(&self, index: usize) -> Result<bool, CliError> {
        let ident = &self.plan.identities[index];
        let current = self.held[index].identity().current();
        let changed = ident
            .layout
            .write_identity(&current)
            .map_err(enroll_error)?;
        let leaf = current.leaf()?;
        self.stats.lock().identities[index].not_after = Some(leaf.not_after.unix());
        if changed {
            log(
                &ident.name,
                format!(
                    "wrote {} (serial {}, valid until {})",
                    ident.layout.chain.display(),
                    leaf.serial,
                    leaf.not_after.to_rfc3339()
                ),
            );
        }
        Ok(changed)
    }

    async fn handle(&mut self, event: Event) -> Result<(), CliError> {
        match event {
            Event::Rotation(index, RotationEvent::Renewed { serial, not_after }) => {
                let name = &self.plan.identities[index].name;
                log(
                    name,
                    format!(
                        "renewed: serial {serial}, valid until {}",
                        not_after.to_rfc3339()
                    ),
                );
                self.stats.lock().identities[index].renewals_ok += 1;
                if index < self.held.len() && self.write_identity(index)? && self.running {
                    self.run_hooks(index).await;
                }
            }
            Event::Rotation(
                index,
                RotationEvent::Failed {
                    code,
                    message,
                    retry_in,
                    attempt,
                },
            ) => {
                let code = code
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_else(|| "io".to_owned());
                log(
                    &self.plan.identities[index].name,
                    format!("renewal failed (attempt {attempt}): {code}: {message}; retrying in {retry_in:?}"),
                );
                *self.stats.lock().identities[index]
                    .renewals_failed
                    .entry(code)
                    .or_default() += 1;
            }
            Event::Rotation(
                index,
                RotationEvent::Expiring {
                    serial, expired, ..
                },
            ) => {
                let what = if expired {
                    "has expired"
                } else {
                    "is due for renewal"
                };
                log(
                    &self.plan.identities[index].name,
                    format!("certificate {serial} {what}"),
                );
            }
            Event::Rotation(_, _) => {}
            Event::Trust(
                index,
                TrustEvent::Changed {
                    bundle_pem,
                    crl_pem,
                },
            ) => {
                self.stats.lock().identities[index].last_refresh = Some(metrics::now());
                let layout = self.plan.identities[index].layout.clone();
                let mut changed = false;
                if layout.write_bundle(&bundle_pem).map_err(enroll_error)? {
                    self.stats.lock().bundle_changed = Some(metrics::now());
                    log(&self.plan.identities[index].name, "bundle changed");
                    changed = true;
                }
                if let Some(crl) = crl_pem {
                    if layout.write_crl(&crl).map_err(enroll_error)? {
                        self.stats.lock().crl_changed = Some(metrics::now());
                        log(&self.plan.identities[index].name, "CRL changed");
                        changed = true;
                    }
                }
                if changed && self.running {
                    // Every identity's program may read the shared bundle and CRL.
                    for i in 0..self.held.len() {
                        self.run_hooks(i).await;
                    }
                }
            }
            Event::Trust(index, TrustEvent::Unchanged) => {
                self.stats.lock().identities[index].last_refresh = Some(metrics::now());
            }
            Event::Trust(index, TrustEvent::Failed { code, message }) => {
                log(
                    &self.plan.identities[index].name,
                    format!("bundle/CRL refresh failed: {code}: {message}"),
                );
                *self.stats.lock().identities[index]
                    .refresh_failed
                    .entry(code)
                    .or_default() += 1;
            }
            Event::Trust(_, _) => {}
        }
        Ok(())
    }

    /// Runs the hooks of identity `index`; `false` when one failed (logged and counted).
    async fn run_hooks(&self, index: usize) -> bool {
        let ident = &self.plan.identities[index];
        let mut all_ok = true;
        for h in ident.hooks.clone() {
            let result = tokio::task::spawn_blocking(move || hook::run(&h))
                .await
                .unwrap_or_else(|e| Err(format!("hook task: {e}")));
            let mut stats = self.stats.lock();
            stats.identities[index].hook_runs += 1;
            match result {
                Ok(()) => {}
                Err(why) => {
                    stats.identities[index].hook_failures += 1;
                    drop(stats);
                    all_ok = false;
                    log(&ident.name, format!("reload hook failed: {why}"));
                }
            }
        }
        all_ok
    }
}

/// Why the state directory can be resumed from, if it can.
fn resumable(ident: &IdentityPlan) -> Option<String> {
    let path = ident.state_dir.join(STATE_FILE);
    let text = std::fs::read(&path).ok()?;
    let cert = meshtls_core::Certificate::from_pem_or_der(&text).ok()?;
    let now = crate::clock::now().ok()?;
    if cert.not_after.unix() <= now.unix() {
        log(
            &ident.name,
            format!("{}: certificate expired, enrolling again", path.display()),
        );
        return None;
    }
    if cert.spiffe_id.as_ref() != Some(&ident.id) {
        log(
            &ident.name,
            format!("{}: another identity, enrolling again", path.display()),
        );
        return None;
    }
    Some(format!("resuming from {}", path.display()))
}

enum Failure {
    Enroll(EnrollError),
    Cli(CliError),
}

impl From<EnrollError> for Failure {
    fn from(e: EnrollError) -> Self {
        Failure::Enroll(e)
    }
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::Cli(e)
    }
}

//! The rotation driver: renews our identity on the core's schedule and swaps it in safely.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use meshtls_core::{
    Error, ErrorCode, PeerUsage, RotationPolicy, RotationStatus, Serial, Timestamp,
};
use tokio::task::JoinHandle;

use crate::config::now;
use crate::identity::{Identity, IdentityHandle};
use crate::trust::TrustHandle;

/// What a renew function may fail with.
pub type RenewError = Box<dyn std::error::Error + Send + Sync>;

type RenewFn = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Identity, RenewError>> + Send>> + Send + Sync,
>;
type EventFn = Arc<dyn Fn(RotationEvent) + Send + Sync>;

/// What the driver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotationEvent {
    /// The current certificate is due for renewal (`expired: false`) or already expired
    /// (`expired: true`); reported once per certificate and state.
    Expiring {
        /// Serial of the current certificate.
        serial: Serial,
        /// When it expires.
        not_after: Timestamp,
        /// Whether it has expired already.
        expired: bool,
    },
    /// A new identity passed the checks and was swapped in.
    Renewed {
        /// Serial of the new certificate.
        serial: Serial,
        /// When it expires.
        not_after: Timestamp,
    },
    /// A renewal attempt failed (the renew function failed, or its result was rejected); the
    /// current identity is kept and the driver retries after `retry_in`.
    Failed {
        /// 1 for the first failure since the last success.
        attempt: u32,
        /// The core code when there is one: the new identity was rejected by the core (e.g.
        /// `unknown_issuer`), or the renew function failed with a core error, a TLS refusal
        /// that carries one, or a CA service answer that is a core code (e.g. `revoked`).
        code: Option<ErrorCode>,
        /// What went wrong.
        message: String,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
}

/// Renews an [`IdentityHandle`] when the core [`RotationPolicy`] says so.
///
/// At the scheduled time it calls the user's async `renew` function; the identity it returns
/// is swapped in only if its key matches its certificate (checked when the [`Identity`] is
/// built), the core verifier accepts its chain for the configured usage, and the core policy
/// does not already consider it due. Failures are retried with exponential backoff; every step
/// is reported to the event callback.
pub struct RotationDriver {
    identity: IdentityHandle,
    verify_with: TrustHandle,
    usage: PeerUsage,
    policy: RotationPolicy,
    renew: RenewFn,
    on_event: Option<EventFn>,
    min_backoff: Duration,
    max_backoff: Duration,
    max_sleep: Duration,
}

impl fmt::Debug for RotationDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotationDriver")
            .field("usage", &self.usage)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish_non_exhaustive()
    }
}

impl RotationDriver {
    /// A driver for `identity`. Each renewed chain must pass `verify_with` (a verifier whose
    /// policy allows *our own* identity: typically the trust bundle with `allow_id(our id)`)
    /// for `PeerUsage::Server` unless [`usage`](Self::usage) says otherwise.
    pub fn new<F, Fut>(identity: IdentityHandle, verify_with: TrustHandle, renew: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Identity, RenewError>> + Send + 'static,
    {
        RotationDriver {
            identity,
            verify_with,
            usage: PeerUsage::Server,
            policy: RotationPolicy::default(),
            renew: Arc::new(move || Box::pin(renew())),
            on_event: None,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_sleep: Duration::from_secs(60),
        }
    }

    /// When to renew (default: the core's default policy).
    pub fn policy(mut self, policy: RotationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The usage a renewed certificate must be valid for (default `Server`).
    pub fn usage(mut self, usage: PeerUsage) -> Self {
        self.usage = usage;
        self
    }

    /// Retry delays after a failure: starting at `min`, doubling up to `max` (1 s … 5 min).
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max.max(min);
        self
    }

    /// The longest the driver sleeps before looking at the clock again (default 60 s), so a
    /// replaced identity or a clock jump is noticed.
    pub fn recheck_every(mut self, interval: Duration) -> Self {
        self.max_sleep = interval.max(Duration::from_millis(10));
        self
    }

    /// Where events go.
    pub fn on_event(mut self, callback: impl Fn(RotationEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Run the driver on the current tokio runtime; it stops when the returned task is dropped
    /// or [`stop`](RotationTask::stop)ped.
    pub fn spawn(self) -> RotationTask {
        RotationTask {
            task: tokio::spawn(self.run()),
        }
    }

    fn emit(&self, event: RotationEvent) {
        if let Some(cb) = &self.on_event {
            cb(event);
        }
    }

    /// Run forever.
    pub async fn run(self) {
        let mut attempt: u32 = 0;
        let mut warned: Option<(Serial, bool)> = None;
        loop {
            let at = now();
            let current = self.identity.current();
            let cert = match current.leaf() {
                Ok(c) => c,
                Err(e) => {
                    // Cannot happen for an Identity built by this crate; renew anyway.
                    attempt += 1;
                    let delay = self.retry_delay(attempt);
                    self.emit(failed(attempt, &e, delay));
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            let expired = match self.policy.status(&cert, at) {
                RotationStatus::Fresh { renew_at } => {
                    attempt = 0;
                    let wait = renew_at.since(at).min(self.max_sleep);
                    tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
                    continue;
                }
                RotationStatus::RenewDue => false,
                RotationStatus::Expired => true,
            };
            let serial = cert.serial.clone();
            if warned.as_ref() != Some(&(serial.clone(), expired)) {
                self.emit(RotationEvent::Expiring {
                    serial: serial.clone(),
                    not_after: cert.not_after,
                    expired,
                });
                warned = Some((serial, expired));
            }
            match self.renew_once().await {
                Ok(()) => attempt = 0,
                Err(e) => {
                    attempt = attempt.saturating_add(1);
                    let delay = self.retry_delay(attempt);
                    self.emit(RotationEvent::Failed {
                        attempt,
                        code: e.code,
                        message: e.message,
                        retry_in: delay,
                    });
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One renewal attempt now, whatever the schedule: renew, check, swap, report `Renewed`.
    pub async fn renew_now(&self) -> Result<(), Error> {
        self.renew_once()
            .await
            .map_err(|e| Error::new(e.code.unwrap_or(ErrorCode::Io), e.message))
    }

    async fn renew_once(&self) -> Result<(), Failure> {
        let fresh = (self.renew)().await.map_err(|e| Failure {
            code: crate::error::error_code(&*e),
            message: format!("renew failed: {e}"),
        })?;
        let at = now();
        let chain: Vec<&[u8]> = fresh.chain().iter().map(|c| c.as_ref()).collect();
        self.verify_with
            .current()
            .verify(&chain, self.usage, at)
            .map_err(|e| Failure {
                code: Some(e.code()),
                message: format!("renewed certificate rejected: {}", e.message()),
            })?;
        let cert = fresh.leaf().map_err(Failure::core)?;
        match self.policy.status(&cert, at) {
            RotationStatus::Fresh { .. } => {}
            _ => {
                return Err(Failure {
                    code: Some(ErrorCode::InvalidRequest),
                    message: "renewed certificate is already due for renewal".into(),
                })
            }
        }
        self.identity.replace(fresh);
        self.emit(RotationEvent::Renewed {
            serial: cert.serial.clone(),
            not_after: cert.not_after,
        });
        Ok(())
    }

    fn retry_delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.min_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

struct Failure {
    code: Option<ErrorCode>,
    message: String,
}

impl Failure {
    fn core(e: Error) -> Self {
        Failure {
            code: Some(e.code()),
            message: e.message().to_owned(),
        }
    }
}

fn failed(attempt: u32, e: &Error, retry_in: Duration) -> RotationEvent {
    RotationEvent::Failed {
        attempt,
        code: Some(e.code()),
        message: e.message().to_owned(),
        retry_in,
    }
}

/// A running [`RotationDriver`]; dropping it stops the driver.
#[derive(Debug)]
pub struct RotationTask {
    task: JoinHandle<()>,
}

impl RotationTask {
    /// Stop the driver.
    pub fn stop(self) {
        self.task.abort();
    }

    /// Stop the driver, through a shared reference (an owner that is closed, not dropped).
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for RotationTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! When to renew (core `rotation`): at a fraction of the lifetime or a margin before expiry,
//! with jitter.

use chrono::{DateTime, Utc};
use meshtls_core::{
    Certificate as CoreCertificate, RenewTrigger, RotationPolicy as CoreRotationPolicy,
    RotationStatus as CoreRotationStatus, Timestamp,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::encoding::{bytes, Input};
use crate::error::IntoJs;
use crate::validity::{at, duration, to_date};

/// What a rotation driver reports (`onRotation`), one shape for the three kinds; the fields
/// that do not apply to a kind are absent.
#[napi(object)]
pub struct RotationEvent {
    /// `renewed` (a new certificate was swapped in), `failed` (a renewal attempt failed; the
    /// current certificate is kept and the driver retries) or `expiring` (the current one is
    /// due for renewal, or already `expired`).
    pub kind: String,
    /// Serial (hex) of the new certificate (`renewed`) or of the current one (`expiring`).
    pub serial: Option<String>,
    /// When that certificate expires (`renewed`, `expiring`).
    pub not_after: Option<DateTime<Utc>>,
    /// Whether it has expired already (`expiring`).
    pub expired: Option<bool>,
    /// 1 for the first failure since the last success (`failed`).
    pub attempt: Option<u32>,
    /// The core code when the core rejected the new certificate (e.g. `unknown_issuer`) or
    /// the CA service refused with a core code (e.g. `revoked`) (`failed`; absent when the
    /// service was unreachable or refused with a code of its own).
    pub code: Option<String>,
    /// What went wrong (`failed`).
    pub message: Option<String>,
    /// Seconds before the next attempt (`failed`).
    pub retry_in_seconds: Option<f64>,
}

/// A driver event as a JavaScript object.
pub(crate) fn rotation_event(e: meshtls_net::RotationEvent) -> RotationEvent {
    use meshtls_net::RotationEvent as E;
    let empty = |kind: &str| RotationEvent {
        kind: kind.to_owned(),
        serial: None,
        not_after: None,
        expired: None,
        attempt: None,
        code: None,
        message: None,
        retry_in_seconds: None,
    };
    match e {
        E::Renewed { serial, not_after } => RotationEvent {
            serial: Some(serial.to_hex()),
            not_after: Some(to_date(not_after)),
            ..empty("renewed")
        },
        E::Expiring {
            serial,
            not_after,
            expired,
        } => RotationEvent {
            serial: Some(serial.to_hex()),
            not_after: Some(to_date(not_after)),
            expired: Some(expired),
            ..empty("expiring")
        },
        E::Failed {
            attempt,
            code,
            message,
            retry_in,
        } => RotationEvent {
            attempt: Some(attempt),
            code: code.map(|c| c.as_str().to_owned()),
            message: Some(message),
            retry_in_seconds: Some(retry_in.as_secs_f64()),
            ..empty("failed")
        },
        // `RotationEvent` is non-exhaustive: a kind added later reaches JavaScript by name
        // only rather than not at all.
        _ => empty("other"),
    }
}

/// Where a certificate stands.
#[napi(object)]
pub struct RotationStatus {
    /// `fresh`, `renew_due` or `expired`.
    pub state: String,
    /// When renewal becomes due (`fresh` only).
    pub renew_at: Option<DateTime<Utc>>,
}

fn status(s: CoreRotationStatus) -> RotationStatus {
    RotationStatus {
        state: s.state().into(),
        renew_at: match s {
            CoreRotationStatus::Fresh { renew_at } => Some(to_date(renew_at)),
            _ => None,
        },
    }
}

/// A renewal schedule (immutable: `withJitter` returns a new one).
#[napi]
pub struct RotationPolicy {
    pub(crate) inner: CoreRotationPolicy,
}

#[napi]
impl RotationPolicy {
    /// The default: renew at 2/3 of the lifetime, jitter 5% of it.
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        RotationPolicy {
            inner: CoreRotationPolicy::default(),
        }
    }

    /// Renew at this fraction of the lifetime (0 < f < 1).
    #[napi(factory, catch_unwind)]
    pub fn at_fraction(fraction: f64) -> napi::Result<Self> {
        Ok(RotationPolicy {
            inner: CoreRotationPolicy::at_fraction(fraction).js()?,
        })
    }

    /// Renew this long (seconds, or text such as `"7d"`) before expiry.
    #[napi(factory, catch_unwind)]
    pub fn before_expiry(margin: Either<f64, String>) -> napi::Result<Self> {
        Ok(RotationPolicy {
            inner: CoreRotationPolicy::before_expiry(duration(margin)?),
        })
    }

    /// The same schedule with this jitter (0 to 0.5 of the lifetime).
    #[napi(catch_unwind)]
    pub fn with_jitter(&self, jitter: f64) -> napi::Result<RotationPolicy> {
        Ok(RotationPolicy {
            inner: self.inner.with_jitter(jitter).js()?,
        })
    }

    /// The renewal fraction, when the trigger is a fraction.
    #[napi(getter, catch_unwind)]
    pub fn fraction(&self) -> Option<f64> {
        match self.inner.trigger {
            RenewTrigger::Fraction(f) => Some(f),
            RenewTrigger::Before(_) => None,
        }
    }

    /// The margin before expiry in seconds, when the trigger is a margin.
    #[napi(getter, catch_unwind)]
    pub fn before_expiry_seconds(&self) -> Option<f64> {
        match self.inner.trigger {
            RenewTrigger::Fraction(_) => None,
            RenewTrigger::Before(d) => Some(d.as_secs_f64()),
        }
    }

    /// The jitter fraction.
    #[napi(getter, catch_unwind)]
    pub fn jitter(&self) -> f64 {
        self.inner.jitter
    }

    /// Where a certificate (PEM text, or PEM/DER bytes; the first one) stands at `at`
    /// (default now). The jitter comes from its fingerprint: asking twice gives one answer.
    #[napi(catch_unwind)]
    pub fn status(
        &self,
        cert: Input,
        at_time: Option<DateTime<Utc>>,
    ) -> napi::Result<RotationStatus> {
        let cert = CoreCertificate::from_pem_or_der(&bytes(&cert)).js()?;
        Ok(status(self.inner.status(&cert, at(at_time))))
    }

    /// When to look again: `renewAt` for a fresh certificate, otherwise `at + retry` (retry in
    /// seconds or text; grow it after a failed renewal).
    #[napi(catch_unwind)]
    pub fn next_check(
        &self,
        cert: Input,
        at_time: Option<DateTime<Utc>>,
        retry: Either<f64, String>,
    ) -> napi::Result<DateTime<Utc>> {
        let cert = CoreCertificate::from_pem_or_der(&bytes(&cert)).js()?;
        let now: Timestamp = at(at_time);
        let retry = duration(retry)?;
        let s = self.inner.status(&cert, now);
        Ok(to_date(self.inner.next_check(s, now, retry)))
    }
}

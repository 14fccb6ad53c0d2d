//! When to renew a certificate: at a fraction of its lifetime (default 2/3) or a fixed margin
//! before expiry, moved earlier by a jitter so that a fleet does not renew all at once.
//!
//! CA rotation uses [`crate::TrustBundle`]: add the new CA next to the old one
//! ([`crate::TrustBundle::merged`]), reissue every leaf under the new CA, then drop the old
//! one ([`crate::TrustBundle::remove_ca`] or [`crate::TrustBundle::prune_expired`]).

use std::time::Duration;

use crate::certificate::Certificate;
use crate::error::{Error, Result};
use crate::validity::Timestamp;

/// What triggers a renewal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RenewTrigger {
    /// At this fraction of the lifetime, counted from not_before (0 < f < 1).
    Fraction(f64),
    /// This long before not_after.
    Before(Duration),
}

/// The renewal schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotationPolicy {
    /// The trigger (default: 2/3 of the lifetime).
    pub trigger: RenewTrigger,
    /// Up to this fraction of the lifetime earlier than the trigger, picked per certificate
    /// (default 0.05; 0 disables jitter).
    pub jitter: f64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            trigger: RenewTrigger::Fraction(2.0 / 3.0),
            jitter: 0.05,
        }
    }
}

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStatus {
    /// No action before `renew_at`.
    Fresh {
        /// When renewal becomes due.
        renew_at: Timestamp,
    },
    /// Renew now.
    RenewDue,
    /// Expired: it can no longer be used (nor renew itself over mTLS).
    Expired,
}

impl RotationStatus {
    /// The state's stable name, the same in every binding (as `state`): `fresh`, `renew_due`
    /// or `expired`.
    pub const fn state(self) -> &'static str {
        match self {
            RotationStatus::Fresh { .. } => "fresh",
            RotationStatus::RenewDue => "renew_due",
            RotationStatus::Expired => "expired",
        }
    }
}

/// A source of jitter: numbers in `[0, 1)`.
pub trait JitterSource {
    /// The next number in `[0, 1)`.
    fn next_unit(&mut self) -> f64;
}

/// The same number every time (tests, or no randomness wanted).
#[derive(Debug, Clone, Copy)]
pub struct FixedJitter(pub f64);

impl JitterSource for FixedJitter {
    fn next_unit(&mut self) -> f64 {
        self.0.clamp(0.0, 1.0 - f64::EPSILON)
    }
}

/// Jitter derived from the certificate's fingerprint: stable for one certificate (asking
/// twice gives the same renewal time), spread across a fleet.
#[derive(Debug, Clone, Copy)]
pub struct FingerprintJitter(pub [u8; 32]);

impl JitterSource for FingerprintJitter {
    fn next_unit(&mut self) -> f64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl RotationPolicy {
    /// Renew at a fraction of the lifetime.
    pub fn at_fraction(fraction: f64) -> Result<Self> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::invalid_request(
                "the renewal fraction must be between 0 and 1",
            ));
        }
        Ok(RotationPolicy {
            trigger: RenewTrigger::Fraction(fraction),
            ..Default::default()
        })
    }

    /// Renew a fixed time before expiry.
    pub fn before_expiry(margin: Duration) -> Self {
        RotationPolicy {
            trigger: RenewTrigger::Before(margin),
            ..Default::default()
        }
    }

    /// Sets the jitter fraction (0 to 0.5).
    pub fn with_jitter(mut self, jitter: f64) -> Result<Self> {
        if !(0.0..=0.5).contains(&jitter) {
            return Err(Error::invalid_request(
                "the jitter must be between 0 and 0.5 of the lifetime",
            ));
        }
        self.jitter = jitter;
        Ok(self)
    }

    /// When a certificate valid from `not_before` to `not_after` should renew, with `unit`
    /// in `[0, 1)` choosing the point within the jitter window.
    pub fn renew_at(&self, not_before: Timestamp, not_after: Timestamp, unit: f64) -> Timestamp {
        let lifetime = not_after.since(not_before).as_secs_f64();
        let target = match self.trigger {
            RenewTrigger::Fraction(f) => not_before.unix() as f64 + lifetime * f,
            RenewTrigger::Before(margin) => not_after.unix() as f64 - margin.as_secs_f64(),
        };
        let earliest = not_before.unix() as f64;
        let at = (target - lifetime * self.jitter * unit.clamp(0.0, 1.0)).max(earliest);
        Timestamp::from_unix(at.floor() as i64)
    }

    /// The status of a certificate at `now`, with jitter from `source`.
    pub fn status_with(
        &self,
        not_before: Timestamp,
        not_after: Timestamp,
        now: Timestamp,
        source: &mut dyn JitterSource,
    ) -> RotationStatus {
        if now >= not_after {
            return RotationStatus::Expired;
        }
        let renew_at = self.renew_at(not_before, not_after, source.next_unit());
        if now >= renew_at {
            RotationStatus::RenewDue
        } else {
            RotationStatus::Fresh { renew_at }
        }
    }

    /// The status of a certificate at `now`; the jitter comes from its fingerprint.
    pub fn status(&self, cert: &Certificate, now: Timestamp) -> RotationStatus {
        self.status_with(
            cert.not_before,
            cert.not_after,
            now,
            &mut FingerprintJitter(cert.fingerprint.0),
        )
    }

    /// When to look again: `renew_at` for a fresh certificate, `now + retry` otherwise
    /// (after a failed renewal the caller backs off by growing `retry`).
    pub fn next_check(&self, status: RotationStatus, now: Timestamp, retry: Duration) -> Timestamp {
        match status {
            RotationStatus::Fresh { renew_at } => renew_at,
            RotationStatus::RenewDue | RotationStatus::Expired => now.add(retry),
        }
    }
}

//! When to renew: the core's rotation policy and a certificate's status under it.

use std::time::Duration;

use meshtls_core::{Certificate, RotationPolicy, RotationStatus, Timestamp};

use crate::arg::{self, Out};
use crate::error::meshtls_result;
use crate::panic::{ffi_boundary, ffi_value};

/// A renewal schedule (a fraction of the lifetime, or a margin before expiry, with jitter).
#[allow(non_camel_case_types)]
pub struct meshtls_rotation_policy {
    pub(crate) inner: RotationPolicy,
}

/// Where a certificate stands, written as `uint32_t` by `meshtls_rotation_policy_status`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_rotation_status {
    /// No action before `renew_at`.
    MESHTLS_ROTATION_FRESH = 1,
    /// Renew now.
    MESHTLS_ROTATION_RENEW_DUE = 2,
    /// Expired: it can no longer be used.
    MESHTLS_ROTATION_EXPIRED = 3,
}

fn give_policy(out: Out<*mut meshtls_rotation_policy>, inner: RotationPolicy) {
    arg::give(out, meshtls_rotation_policy { inner });
}

/// The core's default schedule (renew at 2/3 of the lifetime, with jitter).
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_rotation_policy_new(
    out: *mut *mut meshtls_rotation_policy,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        give_policy(out, RotationPolicy::default());
        Ok(())
    })
}

/// Renew at `fraction` (strictly between 0 and 1) of the lifetime, with the default jitter.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_rotation_policy_at_fraction(
    fraction: f64,
    out: *mut *mut meshtls_rotation_policy,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        give_policy(out, RotationPolicy::at_fraction(fraction)?);
        Ok(())
    })
}

/// Renew `margin_secs` seconds before expiry, with the default jitter.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_rotation_policy_before_expiry(
    margin_secs: u64,
    out: *mut *mut meshtls_rotation_policy,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        give_policy(
            out,
            RotationPolicy::before_expiry(Duration::from_secs(margin_secs)),
        );
        Ok(())
    })
}

/// Sets the jitter: up to this fraction of the lifetime (0 to 0.5) earlier than the trigger.
///
/// # Safety
/// `policy` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_rotation_policy_set_jitter(
    policy: *mut meshtls_rotation_policy,
    jitter: f64,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let policy = unsafe { arg::handle_mut(policy, "policy")? };
        policy.inner = policy.inner.with_jitter(jitter)?;
        Ok(())
    })
}

/// The status at `now` of the certificate in `(cert, len)` (PEM or DER; the first of a chain).
/// Writes a `meshtls_rotation_status` to `*status_out`, and for a fresh certificate the
/// renewal time (Unix seconds) to `*renew_at_out` (left untouched otherwise).
///
/// # Safety
/// `policy` is live; `(cert, len)` is readable; both outs are writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_rotation_policy_status(
    policy: *const meshtls_rotation_policy,
    cert: *const u8,
    len: usize,
    now: i64,
    status_out: *mut u32,
    renew_at_out: *mut i64,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (policy, cert, status_out, renew_at_out) = unsafe {
            (
                arg::handle(policy, "policy")?,
                arg::bytes(cert, len, "cert")?,
                Out::new(status_out, "status_out")?,
                Out::new(renew_at_out, "renew_at_out")?,
            )
        };
        let cert = Certificate::from_pem_or_der(cert)?;
        match policy.inner.status(&cert, Timestamp::from_unix(now)) {
            RotationStatus::Fresh { renew_at } => {
                status_out.set(meshtls_rotation_status::MESHTLS_ROTATION_FRESH as u32);
                renew_at_out.set(renew_at.unix());
            }
            RotationStatus::RenewDue => {
                status_out.set(meshtls_rotation_status::MESHTLS_ROTATION_RENEW_DUE as u32)
            }
            RotationStatus::Expired => {
                status_out.set(meshtls_rotation_status::MESHTLS_ROTATION_EXPIRED as u32)
            }
        }
        Ok(())
    })
}

/// Frees a rotation policy. NULL is a no-op.
///
/// # Safety
/// `policy` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_rotation_policy_free(policy: *mut meshtls_rotation_policy) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(policy) })
}

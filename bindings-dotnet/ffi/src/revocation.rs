//! Revocation: a CA's records of revoked serials and the CRLs built from them.

use std::ffi::c_char;

use meshtls_core::{CrlParams, RevocationList, RevocationReason, Serial, Timestamp};

use crate::arg::{self, Out};
use crate::authority::meshtls_authority;
use crate::buffer::{give_bytes, meshtls_buffer};
use crate::error::{meshtls_result, FfiError};
use crate::panic::{ffi_boundary, ffi_value};

/// A CA's revocation records: the source a CRL is built from.
#[allow(non_camel_case_types)]
pub struct meshtls_revocation_list {
    inner: RevocationList,
}

/// Revocation reasons, passed as `uint32_t`: the RFC 5280 CRLReason numbers.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_revocation_reason {
    /// unspecified
    MESHTLS_REASON_UNSPECIFIED = 0,
    /// keyCompromise
    MESHTLS_REASON_KEY_COMPROMISE = 1,
    /// cACompromise
    MESHTLS_REASON_CA_COMPROMISE = 2,
    /// affiliationChanged
    MESHTLS_REASON_AFFILIATION_CHANGED = 3,
    /// superseded
    MESHTLS_REASON_SUPERSEDED = 4,
    /// cessationOfOperation
    MESHTLS_REASON_CESSATION_OF_OPERATION = 5,
    /// certificateHold
    MESHTLS_REASON_CERTIFICATE_HOLD = 6,
    /// privilegeWithdrawn
    MESHTLS_REASON_PRIVILEGE_WITHDRAWN = 9,
    /// aACompromise
    MESHTLS_REASON_AA_COMPROMISE = 10,
}

fn reason(value: u32) -> Result<RevocationReason, FfiError> {
    Ok(match value {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        n => {
            return Err(FfiError::invalid(format!(
                "revocation reason {n} is not an RFC 5280 CRLReason meshtls records"
            )))
        }
    })
}

/// New, empty revocation records.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_revocation_list_new(
    out: *mut *mut meshtls_revocation_list,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        arg::give(
            out,
            meshtls_revocation_list {
                inner: RevocationList::new(),
            },
        );
        Ok(())
    })
}

/// Parses records written by `meshtls_revocation_list_to_text` (the CLI's records file).
///
/// # Safety
/// `(text, len)` is readable; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_revocation_list_from_text(
    text: *const u8,
    len: usize,
    out: *mut *mut meshtls_revocation_list,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (text, out) = unsafe { (arg::bytes(text, len, "text")?, Out::new(out, "out")?) };
        let text = std::str::from_utf8(text)
            .map_err(|_| FfiError::invalid("the revocation records are not UTF-8"))?;
        let inner = RevocationList::from_text(text)?;
        arg::give(out, meshtls_revocation_list { inner });
        Ok(())
    })
}

/// The records as text, to keep beside the CA.
///
/// # Safety
/// `list` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_revocation_list_to_text(
    list: *const meshtls_revocation_list,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (list, out) = unsafe { (arg::handle(list, "list")?, Out::new(out, "out")?) };
        give_bytes(out, list.inner.to_text());
        Ok(())
    })
}

/// Records the revocation of the certificate with this serial (hex, as printed by meshtls or
/// OpenSSL) at `at` for `reason` (a `meshtls_revocation_reason`). `*added_out` is false when
/// the serial was already revoked (nothing changes then). `at` (Unix seconds) must be a time
/// a CRL can carry, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z: any other is
/// `MESHTLS_INVALID_REQUEST` and records nothing.
///
/// # Safety
/// `list` is live and unshared; `serial_hex` is NUL-terminated; `added_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_revocation_list_revoke(
    list: *mut meshtls_revocation_list,
    serial_hex: *const c_char,
    reason_value: u32,
    at: i64,
    added_out: *mut bool,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (list, serial, added_out) = unsafe {
            (
                arg::handle_mut(list, "list")?,
                arg::text(serial_hex, "serial_hex")?,
                Out::new(added_out, "added_out")?,
            )
        };
        let serial = Serial::from_hex(serial)?;
        let added = list
            .inner
            .revoke(serial, reason(reason_value)?, Timestamp::from_unix(at))?;
        added_out.set(added);
        Ok(())
    })
}

/// How many serials are revoked (0 for NULL).
///
/// # Safety
/// `list` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_revocation_list_len(
    list: *const meshtls_revocation_list,
) -> usize {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(list, "list") }.map_or(0, |l| l.inner.len())
    })
}

/// Frees revocation records. NULL is a no-op.
///
/// # Safety
/// `list` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_revocation_list_free(list: *mut meshtls_revocation_list) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(list) })
}

/// Builds and signs a CRL (PEM) of the records: number `number` (must grow with each CRL),
/// thisUpdate `this_update`, nextUpdate `next_update` (Unix seconds; 0 means the core's
/// default, 7 days after thisUpdate).
///
/// # Safety
/// `ca` and `list` are live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_build_crl(
    ca: *const meshtls_authority,
    list: *const meshtls_revocation_list,
    number: u64,
    this_update: i64,
    next_update: i64,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (ca, list, out) = unsafe {
            (
                arg::handle(ca, "authority")?,
                arg::handle(list, "list")?,
                Out::new(out, "out")?,
            )
        };
        let mut params = CrlParams::new(number, Timestamp::from_unix(this_update));
        if next_update != 0 {
            params.next_update = Timestamp::from_unix(next_update);
        }
        let crl = ca.inner.build_crl(&list.inner, &params)?;
        give_bytes(out, crl.to_pem());
        Ok(())
    })
}

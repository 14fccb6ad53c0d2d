//! Issuance: from a generated key or from a CSR; the issued certificate and its PKCS#12 form.

use std::ffi::c_char;
use std::time::Duration;

use meshtls_core::{
    create_csr, IssueRequest, Issued, KeySource, Pkcs12Profile, SpiffeId, Timestamp, Usage,
};

use crate::arg::{self, Out};
use crate::authority::{key_algorithm, meshtls_authority};
use crate::buffer::{give_bytes, give_optional, meshtls_buffer};
use crate::error::{meshtls_result, FfiError};
use crate::panic::{ffi_boundary, ffi_value};

/// An issued certificate: the leaf, its chain, the generated key (if any) and its facts.
#[allow(non_camel_case_types)]
pub struct meshtls_issued {
    inner: Issued,
}

/// What an issued certificate may be used for, passed as `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_usage {
    /// The core's default (both).
    MESHTLS_USAGE_DEFAULT = 0,
    /// TLS server only.
    MESHTLS_USAGE_SERVER = 1,
    /// TLS client only.
    MESHTLS_USAGE_CLIENT = 2,
    /// Both.
    MESHTLS_USAGE_BOTH = 3,
}

/// PKCS#12 protection, passed as `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_pkcs12_profile {
    /// The core's default (modern).
    MESHTLS_PKCS12_DEFAULT = 0,
    /// PBES2 / AES-256 / HMAC-SHA256: OpenSSL 3, .NET 5+, Java.
    MESHTLS_PKCS12_MODERN = 1,
    /// PBE-SHA1-3DES / HMAC-SHA1: Mono, older Windows and macOS.
    MESHTLS_PKCS12_LEGACY = 2,
}

fn usage(value: u32) -> Result<Usage, FfiError> {
    Ok(match value {
        0 => Usage::default(),
        1 => Usage::Server,
        2 => Usage::Client,
        3 => Usage::Both,
        n => return Err(FfiError::invalid(format!("usage {n} is not 0 to 3"))),
    })
}

pub(crate) fn pkcs12_profile(value: u32) -> Result<Pkcs12Profile, FfiError> {
    Ok(match value {
        0 => Pkcs12Profile::default(),
        1 => Pkcs12Profile::Modern,
        2 => Pkcs12Profile::Legacy,
        n => {
            return Err(FfiError::invalid(format!(
                "PKCS#12 profile {n} is not 0 to 2"
            )))
        }
    })
}

fn with_lifetime(req: IssueRequest, lifetime_secs: u64) -> IssueRequest {
    if lifetime_secs == 0 {
        req
    } else {
        req.with_lifetime(Duration::from_secs(lifetime_secs))
    }
}

/// Issues a certificate for `spiffe_id` with a key meshtls generates (`key`, a
/// `meshtls_key_algorithm`), at `now`.
///
/// `dns_names` lists `dns_names_len` DNS SANs (NULL with 0 for none); `usage` is a
/// `meshtls_usage`; `lifetime_secs` 0 means the core default (90 days). A request outside the
/// CA's trust domain or name constraints is `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `ca` is a live authority; strings are NUL-terminated; `dns_names` holds `dns_names_len`
/// string pointers; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_issue(
    ca: *const meshtls_authority,
    spiffe_id: *const c_char,
    dns_names: *const *const c_char,
    dns_names_len: usize,
    usage_value: u32,
    lifetime_secs: u64,
    key: u32,
    now: i64,
    out: *mut *mut meshtls_issued,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (ca, id, dns, out) = unsafe {
            (
                arg::handle(ca, "authority")?,
                arg::text(spiffe_id, "spiffe_id")?,
                arg::text_list(dns_names, dns_names_len, "dns_names")?,
                Out::new(out, "out")?,
            )
        };
        let req = IssueRequest::new(SpiffeId::parse(id)?)
            .with_dns(dns)
            .with_usage(usage(usage_value)?)
            .with_key(KeySource::Generate(key_algorithm(key)?));
        let inner = ca.inner.issue(
            &with_lifetime(req, lifetime_secs),
            Timestamp::from_unix(now),
        )?;
        arg::give(out, meshtls_issued { inner });
        Ok(())
    })
}

/// Issues a certificate for a PKCS#10 CSR (PEM or DER): the identity and DNS names are the
/// CSR's, its signature is checked, and the key stays with the requester.
///
/// # Safety
/// `ca` is a live authority; `(csr, csr_len)` is readable; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_issue_csr(
    ca: *const meshtls_authority,
    csr: *const u8,
    csr_len: usize,
    usage_value: u32,
    lifetime_secs: u64,
    now: i64,
    out: *mut *mut meshtls_issued,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (ca, csr, out) = unsafe {
            (
                arg::handle(ca, "authority")?,
                arg::bytes(csr, csr_len, "csr")?,
                Out::new(out, "out")?,
            )
        };
        let req = IssueRequest::from_csr(csr)?.with_usage(usage(usage_value)?);
        let inner = ca.inner.issue(
            &with_lifetime(req, lifetime_secs),
            Timestamp::from_unix(now),
        )?;
        arg::give(out, meshtls_issued { inner });
        Ok(())
    })
}

/// Generates a key (`key`, a `meshtls_key_algorithm`) and a CSR naming `spiffe_id` and the DNS
/// names. `*csr_pem_out` gets the CSR PEM, `*key_pem_out` the PKCS#8 key PEM (keep it secret).
///
/// # Safety
/// Strings are NUL-terminated; `dns_names` holds `dns_names_len` string pointers; both outs
/// are writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_create_csr(
    spiffe_id: *const c_char,
    dns_names: *const *const c_char,
    dns_names_len: usize,
    key: u32,
    csr_pem_out: *mut *mut meshtls_buffer,
    key_pem_out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (id, dns, csr_out, key_out) = unsafe {
            (
                arg::text(spiffe_id, "spiffe_id")?,
                arg::text_list(dns_names, dns_names_len, "dns_names")?,
                Out::new(csr_pem_out, "csr_pem_out")?,
                Out::new(key_pem_out, "key_pem_out")?,
            )
        };
        let made = create_csr(&SpiffeId::parse(id)?, &dns, key_algorithm(key)?)?;
        give_bytes(csr_out, made.csr_pem);
        give_bytes(key_out, made.key_pem);
        Ok(())
    })
}

/// Runs `f` on a live issued certificate and hands its bytes (or NULL) to `out`.
///
/// # Safety
/// `issued` is NULL or live; `out` is NULL or writable.
unsafe fn issued_bytes<F>(
    issued: *const meshtls_issued,
    out: *mut *mut meshtls_buffer,
    f: F,
) -> meshtls_result
where
    F: FnOnce(&Issued) -> Result<Option<Vec<u8>>, FfiError>,
{
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (issued, out) = unsafe { (arg::handle(issued, "issued")?, Out::new(out, "out")?) };
        give_optional(out, f(&issued.inner)?);
        Ok(())
    })
}

/// The leaf certificate, PEM.
///
/// # Safety
/// `issued` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_cert_pem(
    issued: *const meshtls_issued,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { issued_bytes(issued, out, |i| Ok(Some(i.cert_pem.clone().into_bytes()))) }
}

/// The chain to present (leaf, then intermediates; no root), PEM.
///
/// # Safety
/// `issued` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_chain_pem(
    issued: *const meshtls_issued,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { issued_bytes(issued, out, |i| Ok(Some(i.chain_pem.clone().into_bytes()))) }
}

/// The generated private key, PKCS#8 PEM; `*out` is set to NULL when issued from a CSR.
///
/// # Safety
/// `issued` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_key_pem(
    issued: *const meshtls_issued,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        issued_bytes(issued, out, |i| {
            Ok(i.key_pem.clone().map(String::into_bytes))
        })
    }
}

/// The serial number, lowercase hex.
///
/// # Safety
/// `issued` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_serial_hex(
    issued: *const meshtls_issued,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { issued_bytes(issued, out, |i| Ok(Some(i.serial.to_hex().into_bytes()))) }
}

/// The SHA-256 fingerprint of the leaf DER, lowercase hex.
///
/// # Safety
/// `issued` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_fingerprint_hex(
    issued: *const meshtls_issued,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        issued_bytes(issued, out, |i| {
            Ok(Some(i.fingerprint.to_hex().into_bytes()))
        })
    }
}

/// A password-protected PKCS#12 (PFX) with the generated key and the chain; `profile` is a
/// `meshtls_pkcs12_profile` (legacy for Mono). Issued from a CSR: `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `issued` is live; `password` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_to_pkcs12(
    issued: *const meshtls_issued,
    password: *const c_char,
    profile: u32,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: NUL-terminated or NULL per this function's contract.
    let password = unsafe { arg::text(password, "password") };
    // SAFETY: forwarded contract.
    unsafe {
        issued_bytes(issued, out, |i| {
            Ok(Some(i.to_pkcs12(password?, pkcs12_profile(profile)?)?))
        })
    }
}

/// Start of validity, Unix seconds (0 for NULL).
///
/// # Safety
/// `issued` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_not_before(issued: *const meshtls_issued) -> i64 {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(issued, "issued") }.map_or(0, |i| i.inner.not_before.unix())
    })
}

/// End of validity, Unix seconds (0 for NULL).
///
/// # Safety
/// `issued` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_not_after(issued: *const meshtls_issued) -> i64 {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(issued, "issued") }.map_or(0, |i| i.inner.not_after.unix())
    })
}

/// Frees an issued certificate. NULL is a no-op.
///
/// # Safety
/// `issued` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issued_free(issued: *mut meshtls_issued) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(issued) })
}

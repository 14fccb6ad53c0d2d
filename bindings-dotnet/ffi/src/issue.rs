//! Issuance: from a generated key or from a CSR; the issued certificate and its PKCS#12 form.

use std::ffi::c_char;
use std::time::Duration;

use meshtls_core::{
    create_csr, parse_ip, IdPattern, IssueRequest, Issued, KeyAlgorithm, KeySource, Pkcs12Profile,
    SpiffeId, Timestamp, Usage,
};

use crate::arg::{self, Out};
use crate::authority::{key_algorithm, meshtls_authority};
use crate::buffer::{give_bytes, give_optional, meshtls_buffer};
use crate::error::{meshtls_result, FfiError};
use crate::grant::meshtls_grant;
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

/// A request being built: an ID with a generated key, or a CSR (with or without an explicit
/// ID), then SANs, usage, lifetime and key. Every value is parsed by the core, so a request
/// built here is refused with the same code as in every other meshtls language.
#[allow(non_camel_case_types)]
pub struct meshtls_issue_request {
    inner: IssueRequest,
}

/// Starts a request: for `spiffe_id` with a generated key (`csr` NULL), or for the CSR
/// `(csr, csr_len)` (PEM or DER), whose ID, DNS and IP names are used; with both, the CSR must
/// name `spiffe_id` or no ID (`MESHTLS_INVALID_REQUEST` otherwise, never a silent replace).
/// The CSR passes the issuance policy here (weak hash, weak or unsupported key). Free `*out`
/// with `meshtls_issue_request_free`.
///
/// # Safety
/// `spiffe_id` is NULL or NUL-terminated; `(csr, csr_len)` is NULL/0 or readable; `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_new(
    spiffe_id: *const c_char,
    csr: *const u8,
    csr_len: usize,
    out: *mut *mut meshtls_issue_request,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (id, out) = unsafe {
            (
                arg::optional_text(spiffe_id, "spiffe_id")?,
                Out::new(out, "out")?,
            )
        };
        let id = id.map(SpiffeId::parse).transpose()?;
        let inner = if csr.is_null() && csr_len == 0 {
            let id = id.ok_or_else(|| FfiError::null("spiffe_id (without a csr)"))?;
            IssueRequest::new(id)
        } else {
            // SAFETY: per this function's contract.
            let csr = unsafe { arg::bytes(csr, csr_len, "csr")? };
            IssueRequest::from_csr_with_id(csr, id.as_ref())?
        };
        arg::give(out, meshtls_issue_request { inner });
        Ok(())
    })
}

/// Adds a DNS SAN (checked as a hostname when issuing).
///
/// # Safety
/// `req` is a live request; `name` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_add_dns_name(
    req: *mut meshtls_issue_request,
    name: *const c_char,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (req, name) = unsafe { (arg::handle_mut(req, "req")?, arg::text(name, "name")?) };
        req.inner.dns_names.push(name.to_owned());
        Ok(())
    })
}

/// Adds an IP address SAN given as text; one that is not an address is
/// `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `req` is a live request; `ip` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_add_ip_address(
    req: *mut meshtls_issue_request,
    ip: *const c_char,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (req, ip) = unsafe { (arg::handle_mut(req, "req")?, arg::text(ip, "ip")?) };
        req.inner.ip_addresses.push(parse_ip(ip)?);
        Ok(())
    })
}

/// Sets the usage by name: `server`, `client` or `both` (else `MESHTLS_INVALID_REQUEST`).
///
/// # Safety
/// `req` is a live request; `usage` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_set_usage(
    req: *mut meshtls_issue_request,
    usage: *const c_char,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (req, usage) = unsafe { (arg::handle_mut(req, "req")?, arg::text(usage, "usage")?) };
        req.inner.usage = usage.parse::<Usage>()?;
        Ok(())
    })
}

/// Sets the lifetime in seconds (checked against the core's bounds when issuing).
///
/// # Safety
/// `req` is a live request.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_set_lifetime(
    req: *mut meshtls_issue_request,
    lifetime_secs: u64,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointer is valid as this function's contract states.
        let req = unsafe { arg::handle_mut(req, "req")? };
        req.inner.lifetime = Duration::from_secs(lifetime_secs);
        Ok(())
    })
}

/// Sets the key to generate by name (`ecdsa-p256`, `ecdsa-p384`, `ed25519`, `rsa-2048`,
/// `rsa-4096`; else `MESHTLS_UNSUPPORTED`). With a CSR it is `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `req` is a live request; `key` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_set_key(
    req: *mut meshtls_issue_request,
    key: *const c_char,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (req, key) = unsafe { (arg::handle_mut(req, "req")?, arg::text(key, "key")?) };
        let alg = key.parse::<KeyAlgorithm>()?;
        if matches!(req.inner.key, KeySource::Csr(_)) {
            return Err(meshtls_core::Error::new(
                meshtls_core::ErrorCode::InvalidRequest,
                "a CSR brings its own key: no key to generate",
            )
            .into());
        }
        req.inner.key = KeySource::Generate(alg);
        Ok(())
    })
}

/// Frees a request. NULL is a no-op.
///
/// # Safety
/// `req` is NULL or a request from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_issue_request_free(req: *mut meshtls_issue_request) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(req) })
}

/// Issues `req` at `now`. Without a grant (`grant` NULL) the CA issues it directly; with one,
/// the request's own rules come first (`MESHTLS_INVALID_REQUEST`), then the grant
/// (`MESHTLS_NOT_AUTHORIZED`), then issuance. `admins` lists `admins_len` administrator ID
/// patterns no join-token grant may issue (the CA service's own ID is always reserved).
///
/// # Safety
/// `ca` and `req` are live; `grant` is NULL or live; `admins` holds `admins_len` string
/// pointers; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_issue_request(
    ca: *const meshtls_authority,
    req: *const meshtls_issue_request,
    grant: *const meshtls_grant,
    admins: *const *const c_char,
    admins_len: usize,
    now: i64,
    out: *mut *mut meshtls_issued,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (ca, req, admins, out) = unsafe {
            (
                arg::handle(ca, "authority")?,
                arg::handle(req, "req")?,
                arg::text_list(admins, admins_len, "admins")?,
                Out::new(out, "out")?,
            )
        };
        let now = Timestamp::from_unix(now);
        let inner = if grant.is_null() {
            ca.inner.issue(&req.inner, now)?
        } else {
            // SAFETY: non-NULL and live per this function's contract.
            let grant = unsafe { arg::handle(grant, "grant")? };
            let mut reserved = ca.inner.reserved();
            for a in &admins {
                reserved = reserved.with_admin(IdPattern::parse(a)?);
            }
            ca.inner
                .issue_granted(&req.inner, &grant.inner, &reserved, now)?
        };
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

//! Grants: what a join token or an administrator allows. The core decides
//! (`Authority::issue_granted`, through `meshtls_authority_issue_request`); these functions
//! only build the core grant.

use std::ffi::c_char;
use std::time::Duration;

use meshtls_core::{parse_ip, Grant, IdPattern, Usage};

use crate::arg::{self, Out};
use crate::error::meshtls_result;
use crate::panic::{ffi_boundary, ffi_value};

/// A grant: an ID pattern, DNS names, IP addresses, a usage and a longest lifetime.
#[allow(non_camel_case_types)]
pub struct meshtls_grant {
    pub(crate) inner: Grant,
}

/// A join token's grant: IDs matching `ids`, only the `dns_names_len` DNS names listed
/// (exact, or `*.suffix` for one more label; NULL with 0 for none), no IP address, any usage,
/// never a reserved identity. A name that is not a hostname is `MESHTLS_INVALID_REQUEST`.
/// Free `*out` with `meshtls_grant_free`.
///
/// # Safety
/// `ids` is NUL-terminated; `dns_names` holds `dns_names_len` string pointers; `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_join_token(
    ids: *const c_char,
    dns_names: *const *const c_char,
    dns_names_len: usize,
    out: *mut *mut meshtls_grant,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (ids, dns, out) = unsafe {
            (
                arg::text(ids, "ids")?,
                arg::text_list(dns_names, dns_names_len, "dns_names")?,
                Out::new(out, "out")?,
            )
        };
        let inner = Grant::join_token(IdPattern::parse(ids)?, &dns)?;
        arg::give(out, meshtls_grant { inner });
        Ok(())
    })
}

/// An operator's administrator grant: IDs matching `ids`, reserved ones included, any DNS
/// name, IP address and usage until restricted. Free `*out` with `meshtls_grant_free`.
///
/// # Safety
/// `ids` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_administrator(
    ids: *const c_char,
    out: *mut *mut meshtls_grant,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (ids, out) = unsafe { (arg::text(ids, "ids")?, Out::new(out, "out")?) };
        let inner = Grant::administrator(IdPattern::parse(ids)?);
        arg::give(out, meshtls_grant { inner });
        Ok(())
    })
}

/// Allows exactly these DNS names (replacing what was allowed).
///
/// # Safety
/// `grant` is a live grant; `dns_names` holds `dns_names_len` string pointers.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_set_dns_names(
    grant: *mut meshtls_grant,
    dns_names: *const *const c_char,
    dns_names_len: usize,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (grant, dns) = unsafe {
            (
                arg::handle_mut(grant, "grant")?,
                arg::text_list(dns_names, dns_names_len, "dns_names")?,
            )
        };
        grant.inner = grant.inner.clone().with_dns(&dns)?;
        Ok(())
    })
}

/// Allows exactly these IP addresses (text; replacing what was allowed). One that is not an
/// address is `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `grant` is a live grant; `ip_addresses` holds `ip_addresses_len` string pointers.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_set_ip_addresses(
    grant: *mut meshtls_grant,
    ip_addresses: *const *const c_char,
    ip_addresses_len: usize,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (grant, ips) = unsafe {
            (
                arg::handle_mut(grant, "grant")?,
                arg::text_list(ip_addresses, ip_addresses_len, "ip_addresses")?,
            )
        };
        let ips = ips
            .iter()
            .map(|s| parse_ip(s))
            .collect::<meshtls_core::error::Result<Vec<_>>>()?;
        grant.inner = grant.inner.clone().with_ips(ips);
        Ok(())
    })
}

/// Allows only this usage (`server`, `client` or `both`).
///
/// # Safety
/// `grant` is a live grant; `usage` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_set_usage(
    grant: *mut meshtls_grant,
    usage: *const c_char,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (grant, usage) =
            unsafe { (arg::handle_mut(grant, "grant")?, arg::text(usage, "usage")?) };
        grant.inner = grant.inner.clone().with_usage(usage.parse::<Usage>()?);
        Ok(())
    })
}

/// Caps the lifetime (seconds); outside the core's lifetime bounds it is
/// `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `grant` is a live grant.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_set_max_lifetime(
    grant: *mut meshtls_grant,
    max_lifetime_secs: u64,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointer is valid as this function's contract states.
        let grant = unsafe { arg::handle_mut(grant, "grant")? };
        grant.inner = grant
            .inner
            .clone()
            .with_max_lifetime(Duration::from_secs(max_lifetime_secs))?;
        Ok(())
    })
}

/// Frees a grant. NULL is a no-op.
///
/// # Safety
/// `grant` is NULL or a grant from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_grant_free(grant: *mut meshtls_grant) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(grant) })
}

//! Certificate authorities: create a root or an intermediate, load one from PEM, save it.

use std::ffi::c_char;
use std::time::Duration;

use meshtls_core::{
    Authority, IntermediateParams, KeyAlgorithm, RootParams, Timestamp, TrustDomain,
};

use crate::arg::{self, Out};
use crate::buffer::{give_bytes, meshtls_buffer};
use crate::error::{meshtls_result, FfiError};
use crate::panic::{ffi_boundary, ffi_value};

/// A certificate authority (root or intermediate) with its private key.
#[allow(non_camel_case_types)]
pub struct meshtls_authority {
    pub(crate) inner: Authority,
}

/// Key algorithms, passed as `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_key_algorithm {
    /// The core's default (ECDSA P-256).
    MESHTLS_KEY_DEFAULT = 0,
    /// ECDSA P-256 with SHA-256.
    MESHTLS_KEY_ECDSA_P256 = 1,
    /// ECDSA P-384 with SHA-384.
    MESHTLS_KEY_ECDSA_P384 = 2,
    /// Ed25519.
    MESHTLS_KEY_ED25519 = 3,
    /// RSA 2048.
    MESHTLS_KEY_RSA_2048 = 4,
    /// RSA 4096.
    MESHTLS_KEY_RSA_4096 = 5,
}

/// `path_len` argument: the core's default for this kind of CA (none for a root, 0 for an
/// intermediate).
pub const MESHTLS_PATH_LEN_DEFAULT: i32 = -1;
/// `path_len` argument: no path length constraint.
pub const MESHTLS_PATH_LEN_NONE: i32 = -2;

pub(crate) fn key_algorithm(value: u32) -> Result<KeyAlgorithm, FfiError> {
    Ok(match value {
        0 => KeyAlgorithm::default(),
        1 => KeyAlgorithm::EcdsaP256,
        2 => KeyAlgorithm::EcdsaP384,
        3 => KeyAlgorithm::Ed25519,
        4 => KeyAlgorithm::Rsa2048,
        5 => KeyAlgorithm::Rsa4096,
        n => {
            return Err(FfiError::invalid(format!(
                "key algorithm {n} is not 0 to 5"
            )))
        }
    })
}

fn path_len(value: i32, default: Option<u8>) -> Result<Option<u8>, FfiError> {
    match value {
        MESHTLS_PATH_LEN_DEFAULT => Ok(default),
        MESHTLS_PATH_LEN_NONE => Ok(None),
        n => u8::try_from(n)
            .map(Some)
            .map_err(|_| FfiError::invalid(format!("path_len {n} is not 0 to 255, -1 or -2"))),
    }
}

fn validity(secs: u64, default: Duration) -> Duration {
    if secs == 0 {
        default
    } else {
        Duration::from_secs(secs)
    }
}

/// Creates a self-signed root CA for `trust_domain`, valid from `now` (Unix seconds).
///
/// `common_name` may be NULL (core default); `key` is a `meshtls_key_algorithm`;
/// `validity_secs` 0 means the core default (10 years); `path_len` is 0..255,
/// `MESHTLS_PATH_LEN_DEFAULT` or `MESHTLS_PATH_LEN_NONE`; `permitted_dns` lists
/// `permitted_dns_len` DNS name constraints (NULL with 0 for none). On success `*out` is a new
/// authority to free with `meshtls_authority_free`.
///
/// # Safety
/// Strings are NUL-terminated; `permitted_dns` holds `permitted_dns_len` string pointers;
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_create_root(
    trust_domain: *const c_char,
    common_name: *const c_char,
    key: u32,
    validity_secs: u64,
    path_len_value: i32,
    permitted_dns: *const *const c_char,
    permitted_dns_len: usize,
    now: i64,
    out: *mut *mut meshtls_authority,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (td, cn, dns, out) = unsafe {
            (
                arg::text(trust_domain, "trust_domain")?,
                arg::optional_text(common_name, "common_name")?,
                arg::text_list(permitted_dns, permitted_dns_len, "permitted_dns")?,
                Out::new(out, "out")?,
            )
        };
        let defaults = RootParams::new(TrustDomain::new(td)?);
        let params = RootParams {
            common_name: cn.map(str::to_owned),
            key: key_algorithm(key)?,
            validity: validity(validity_secs, defaults.validity),
            path_len: path_len(path_len_value, defaults.path_len)?,
            permitted_dns: dns,
            ..defaults
        };
        let inner = Authority::create_root(&params, Timestamp::from_unix(now))?;
        arg::give(out, meshtls_authority { inner });
        Ok(())
    })
}

/// Creates an intermediate CA signed by `parent`, in its trust domain, valid from `now`.
///
/// Arguments as for `meshtls_authority_create_root`; `validity_secs` 0 means the core default
/// (3 years, never past the parent).
///
/// # Safety
/// `parent` is a live authority; otherwise as `meshtls_authority_create_root`.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_create_intermediate(
    parent: *const meshtls_authority,
    common_name: *const c_char,
    key: u32,
    validity_secs: u64,
    path_len_value: i32,
    permitted_dns: *const *const c_char,
    permitted_dns_len: usize,
    now: i64,
    out: *mut *mut meshtls_authority,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (parent, cn, dns, out) = unsafe {
            (
                arg::handle(parent, "parent")?,
                arg::optional_text(common_name, "common_name")?,
                arg::text_list(permitted_dns, permitted_dns_len, "permitted_dns")?,
                Out::new(out, "out")?,
            )
        };
        let defaults = IntermediateParams::new();
        let params = IntermediateParams {
            common_name: cn.map(str::to_owned),
            key: key_algorithm(key)?,
            validity: validity(validity_secs, defaults.validity),
            path_len: path_len(path_len_value, defaults.path_len)?,
            permitted_dns: dns,
        };
        let inner = parent
            .inner
            .create_intermediate(&params, Timestamp::from_unix(now))?;
        arg::give(out, meshtls_authority { inner });
        Ok(())
    })
}

/// Loads a CA from its certificate chain PEM (this CA first, then its parents up to the root)
/// and its private key PEM, encrypted (give the `passphrase`) or plain (`passphrase` NULL).
/// A wrong passphrase is `MESHTLS_WRONG_PASSPHRASE`.
///
/// # Safety
/// `(chain_pem, chain_len)` and `(key_pem, key_len)` are readable; `passphrase` is NULL or
/// NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_load(
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
    passphrase: *const c_char,
    out: *mut *mut meshtls_authority,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (chain, key, pass, out) = unsafe {
            (
                arg::bytes(chain_pem, chain_len, "chain_pem")?,
                arg::bytes(key_pem, key_len, "key_pem")?,
                arg::optional_text(passphrase, "passphrase")?,
                Out::new(out, "out")?,
            )
        };
        let inner = Authority::from_pem(chain, key, pass)?;
        arg::give(out, meshtls_authority { inner });
        Ok(())
    })
}

/// Runs `f` on a live authority and hands the bytes it returns to `out`.
///
/// # Safety
/// `ca` is NULL or a live authority; `out` is NULL or writable.
unsafe fn authority_bytes<F>(
    ca: *const meshtls_authority,
    out: *mut *mut meshtls_buffer,
    f: F,
) -> meshtls_result
where
    F: FnOnce(&Authority) -> Result<Vec<u8>, FfiError>,
{
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (ca, out) = unsafe { (arg::handle(ca, "authority")?, Out::new(out, "out")?) };
        give_bytes(out, f(&ca.inner)?);
        Ok(())
    })
}

/// The CA's certificate chain as PEM (this CA, its parents, the root): what to save beside
/// the key.
///
/// # Safety
/// `ca` is a live authority; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_chain_pem(
    ca: *const meshtls_authority,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { authority_bytes(ca, out, |a| Ok(a.chain_pem().into_bytes())) }
}

/// The CA's own certificate as PEM.
///
/// # Safety
/// `ca` is a live authority; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_certificate_pem(
    ca: *const meshtls_authority,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { authority_bytes(ca, out, |a| Ok(a.certificate_pem().into_bytes())) }
}

/// The root certificate above this CA (itself for a root) as PEM: what a trust bundle holds.
///
/// # Safety
/// `ca` is a live authority; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_root_pem(
    ca: *const meshtls_authority,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { authority_bytes(ca, out, |a| Ok(a.root_pem().into_bytes())) }
}

/// The CA's private key as encrypted PKCS#8 PEM under `passphrase` (not empty).
///
/// # Safety
/// `ca` is a live authority; `passphrase` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_encrypted_key_pem(
    ca: *const meshtls_authority,
    passphrase: *const c_char,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: the pointer is valid as this function's contract states; read inside the
    // boundary so a NULL is reported like any other.
    let pass = unsafe { arg::text(passphrase, "passphrase") };
    // SAFETY: forwarded contract.
    unsafe { authority_bytes(ca, out, |a| Ok(a.encrypted_key_pem(pass?)?.0.into_bytes())) }
}

/// The CA's trust domain (`mesh.internal`).
///
/// # Safety
/// `ca` is a live authority; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_trust_domain(
    ca: *const meshtls_authority,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        authority_bytes(ca, out, |a| {
            Ok(a.trust_domain().as_str().as_bytes().to_vec())
        })
    }
}

/// Whether the CA is a self-signed root (false for NULL).
///
/// # Safety
/// `ca` is NULL or a live authority.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_is_root(ca: *const meshtls_authority) -> bool {
    // SAFETY: per this function's contract.
    ffi_value(false, || {
        unsafe { arg::handle(ca, "authority") }.is_ok_and(|a| a.inner.is_root())
    })
}

/// Frees an authority. NULL is a no-op.
///
/// # Safety
/// `ca` is NULL or an authority from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_authority_free(ca: *mut meshtls_authority) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(ca) })
}

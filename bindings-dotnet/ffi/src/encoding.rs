//! PKCS#12 from PEM files: the form .NET (and Mono) load a certificate with its key from.

use std::ffi::c_char;

use meshtls_core::{encoding, Certificate};

use crate::arg::{self, Out};
use crate::buffer::{give_bytes, meshtls_buffer};
use crate::error::meshtls_result;
use crate::issue::pkcs12_profile;
use crate::panic::ffi_boundary;

/// A password-protected PKCS#12 (PFX) from a certificate chain PEM (leaf first) and its
/// private key PEM (encrypted under `key_passphrase`, or plain when it is NULL). `profile` is a
/// `meshtls_pkcs12_profile`; the friendly name is the leaf's SPIFFE ID, as for an issued
/// certificate.
///
/// # Safety
/// The `(ptr, len)` pairs are readable; strings are NUL-terminated (`key_passphrase` may be
/// NULL); `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_pkcs12_from_pem(
    chain_pem: *const u8,
    chain_len: usize,
    key_pem: *const u8,
    key_len: usize,
    key_passphrase: *const c_char,
    password: *const c_char,
    profile: u32,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: the pointers are valid as this function's contract states.
        let (chain, key, pass, password, out) = unsafe {
            (
                arg::bytes(chain_pem, chain_len, "chain_pem")?,
                arg::bytes(key_pem, key_len, "key_pem")?,
                arg::optional_text(key_passphrase, "key_passphrase")?,
                arg::text(password, "password")?,
                Out::new(out, "out")?,
            )
        };
        let profile = pkcs12_profile(profile)?;
        let chain = encoding::parse_certificates(chain)?;
        let key = match pass {
            Some(p) => encoding::decrypt_private_key(key, p)?,
            None => encoding::parse_private_key(key)?,
        };
        // parse_certificates never returns an empty list, but index defensively.
        let name = match chain.first() {
            Some(leaf) => Certificate::from_der(leaf)?
                .spiffe_id
                .map(|id| id.to_string())
                .unwrap_or_else(|| "meshtls".to_owned()),
            None => "meshtls".to_owned(),
        };
        give_bytes(
            out,
            encoding::to_pkcs12(&key, &chain, &name, password, profile)?,
        );
        Ok(())
    })
}

/// Whether `(input, len)` reads as a file path rather than certificate contents (the core's
/// one rule, `encoding::looks_like_path`): a binding that accepts a bundle "as text, bytes or
/// path" reads the file when this says so. False for NULL.
///
/// # Safety
/// `(input, len)` is readable (or NULL).
#[no_mangle]
pub unsafe extern "C" fn meshtls_looks_like_path(input: *const u8, len: usize) -> bool {
    crate::panic::ffi_value(false, || {
        // SAFETY: per this function's contract.
        unsafe { arg::bytes(input, len, "input") }.is_ok_and(encoding::looks_like_path)
    })
}

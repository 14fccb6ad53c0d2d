//! The TLS profile of meshtls (`meshtls_net::profile`) as data, for a host TLS stack that
//! meshtls does not drive (.NET `SslStream`): the versions, the cipher suites by IANA and
//! OpenSSL names and wire numbers, the key-exchange groups, and the alert <-> code table the
//! Rust transport uses. Read from net's tables, never written here a second time.
//!
//! ```c
//! for (size_t i = 0; i < meshtls_tls_profile_suite_count(true); i++) {
//!     meshtls_tls_suite s;
//!     meshtls_tls_profile_suite(true, i, &s);
//!     printf("%04x %s\n", s.id, s.iana);
//! }
//! ```

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use meshtls_core::ErrorCode;
use meshtls_net::profile::{self, CipherSuite, Group, TlsProfile, TlsVersion};

use crate::arg::Out;
use crate::error::{meshtls_result, FfiError};
use crate::panic::{ffi_boundary, ffi_value};

/// One cipher suite of the profile. The strings are static: never free them.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct meshtls_tls_suite {
    /// The suite's wire number (`0x1301`, `0xc02b`...), as .NET's `TlsCipherSuite` numbers it.
    pub id: u16,
    /// The protocol version it belongs to, as a wire number (`0x0303` TLS 1.2, `0x0304` TLS 1.3).
    pub version: u16,
    /// The IANA name (`TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`).
    pub iana: *const c_char,
    /// The OpenSSL name (`ECDHE-ECDSA-AES128-GCM-SHA256`).
    pub openssl: *const c_char,
}

/// One key-exchange group of the profile. The strings are static: never free them.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct meshtls_tls_group {
    /// The group's wire number (`0x001d` x25519).
    pub id: u16,
    /// A post-quantum hybrid, offered first where the stack has it.
    pub hybrid: bool,
    /// The IANA name (`x25519`, `secp256r1`).
    pub iana: *const c_char,
    /// The OpenSSL name (`X25519`, `P-256`).
    pub openssl: *const c_char,
}

/// The names of net's tables with a NUL, made once and kept for the life of the process.
struct Names {
    suites: Vec<(CString, CString)>,
    groups: Vec<(CString, CString)>,
}

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let c = |s: &str| CString::new(s).unwrap_or_default();
        Names {
            suites: profile::CIPHER_SUITES
                .iter()
                .map(|s| (c(s.iana), c(s.openssl)))
                .collect(),
            groups: profile::GROUPS
                .iter()
                .map(|g| (c(g.iana), c(g.openssl)))
                .collect(),
        }
    })
}

/// The suites of the profile, with their place in net's table.
fn suites(allow_tls12: bool) -> impl Iterator<Item = (usize, &'static CipherSuite)> {
    let offered: Vec<u16> = TlsProfile::new(allow_tls12)
        .cipher_suites()
        .map(|s| s.id)
        .collect();
    profile::CIPHER_SUITES
        .iter()
        .enumerate()
        .filter(move |(_, s)| offered.contains(&s.id))
}

/// The lowest version the profile accepts, as a wire number: `0x0304` (TLS 1.3), or
/// `0x0303` (TLS 1.2) when `allow_tls12`.
#[no_mangle]
pub extern "C" fn meshtls_tls_profile_min_version(allow_tls12: bool) -> u16 {
    ffi_value(TlsVersion::Tls13.wire(), || {
        TlsProfile::new(allow_tls12).min_version().wire()
    })
}

/// The highest version the profile offers, as a wire number (`0x0304`, TLS 1.3).
#[no_mangle]
pub extern "C" fn meshtls_tls_profile_max_version(allow_tls12: bool) -> u16 {
    ffi_value(TlsVersion::Tls13.wire(), || {
        TlsProfile::new(allow_tls12).max_version().wire()
    })
}

/// How many cipher suites the profile offers and accepts (the TLS 1.3 suites, and with
/// `allow_tls12` the TLS 1.2 ECDHE + AEAD suites).
#[no_mangle]
pub extern "C" fn meshtls_tls_profile_suite_count(allow_tls12: bool) -> usize {
    ffi_value(0, || suites(allow_tls12).count())
}

/// The `index`th cipher suite of the profile, in order of preference, into `*out`;
/// `MESHTLS_INVALID_ARGUMENT` past the last.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_tls_profile_suite(
    allow_tls12: bool,
    index: usize,
    out: *mut meshtls_tls_suite,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        let (at, suite) = suites(allow_tls12)
            .nth(index)
            .ok_or_else(|| FfiError::invalid(format!("no cipher suite {index} in the profile")))?;
        let (iana, openssl) = &names().suites[at];
        out.set(meshtls_tls_suite {
            id: suite.id,
            version: suite.version.wire(),
            iana: iana.as_ptr(),
            openssl: openssl.as_ptr(),
        });
        Ok(())
    })
}

/// How many key-exchange groups the profile has (hybrids included).
#[no_mangle]
pub extern "C" fn meshtls_tls_profile_group_count() -> usize {
    ffi_value(0, || profile::GROUPS.len())
}

/// The `index`th key-exchange group, in order of preference, into `*out`;
/// `MESHTLS_INVALID_ARGUMENT` past the last.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_tls_profile_group(
    index: usize,
    out: *mut meshtls_tls_group,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        let group: &Group = profile::GROUPS
            .get(index)
            .ok_or_else(|| FfiError::invalid(format!("no group {index} in the profile")))?;
        let (iana, openssl) = &names().groups[index];
        out.set(meshtls_tls_group {
            id: group.id,
            hybrid: group.hybrid,
            iana: iana.as_ptr(),
            openssl: openssl.as_ptr(),
        });
        Ok(())
    })
}

/// The core code a received TLS alert (by wire number) names, as a `meshtls_result`
/// (`MESHTLS_REVOKED` for `certificate_revoked`...); `MESHTLS_OK` (0) when it names none.
#[no_mangle]
pub extern "C" fn meshtls_tls_alert_code(alert: u8) -> u32 {
    ffi_value(0, || {
        profile::code_for_alert(alert).map_or(0, |c| meshtls_result::from_code(c) as u32)
    })
}

/// The core code a received TLS alert names, by the alert's RFC 8446 name (`access_denied`,
/// `certificate_revoked`; case-insensitive), as `meshtls_tls_alert_code` reads it by number:
/// for a TLS stack that reports a peer's alert only by name (Mono's BoringSSL:
/// `TLSV1_ALERT_ACCESS_DENIED`). `MESHTLS_OK` (0) when it names none or `name` is NULL.
///
/// # Safety
/// `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_tls_alert_code_by_name(name: *const c_char) -> u32 {
    ffi_value(0, || {
        // SAFETY: per this function's contract.
        let Ok(name) = (unsafe { crate::arg::text(name, "name") }) else {
            return 0;
        };
        ErrorCode::ALL
            .iter()
            .map(|c| profile::alert_for(*c))
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .and_then(|a| profile::code_for_alert(a.number))
            .map_or(0, |c| meshtls_result::from_code(c) as u32)
    })
}

/// The TLS alert (wire number) a refusal with the core code `code` (a `meshtls_result`) is
/// sent as: the alert naming the reason, else `certificate_unknown` (46).
#[no_mangle]
pub extern "C" fn meshtls_tls_alert_for(code: u32) -> u8 {
    ffi_value(profile::CERTIFICATE_UNKNOWN.number, || {
        ErrorCode::from_number(code)
            .map_or(profile::CERTIFICATE_UNKNOWN, profile::alert_for)
            .number
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn the_suites_are_nets() {
        for allow in [false, true] {
            let want: Vec<&str> = TlsProfile::new(allow)
                .cipher_suites()
                .map(|s| s.iana)
                .collect();
            assert_eq!(meshtls_tls_profile_suite_count(allow), want.len());
            for (i, name) in want.iter().enumerate() {
                let mut s = std::mem::MaybeUninit::<meshtls_tls_suite>::uninit();
                // SAFETY: `s` is writable.
                let r = unsafe { meshtls_tls_profile_suite(allow, i, s.as_mut_ptr()) };
                assert_eq!(r, meshtls_result::MESHTLS_OK);
                // SAFETY: written on success; the names are static C strings.
                let s = unsafe { s.assume_init() };
                assert_eq!(unsafe { CStr::from_ptr(s.iana) }.to_str().unwrap(), *name);
            }
            let mut s = std::mem::MaybeUninit::<meshtls_tls_suite>::uninit();
            // SAFETY: `s` is writable.
            let r = unsafe { meshtls_tls_profile_suite(allow, want.len(), s.as_mut_ptr()) };
            assert_eq!(r, meshtls_result::MESHTLS_INVALID_ARGUMENT);
        }
        assert_eq!(meshtls_tls_profile_min_version(false), 0x0304);
        assert_eq!(meshtls_tls_profile_min_version(true), 0x0303);
    }

    #[test]
    fn alerts_follow_nets_table() {
        let revoked = meshtls_result::MESHTLS_REVOKED as u32;
        assert_eq!(meshtls_tls_alert_for(revoked), 44);
        assert_eq!(meshtls_tls_alert_code(44), revoked);
        assert_eq!(meshtls_tls_alert_code(46), 0);
        assert_eq!(meshtls_tls_alert_for(1000), 46);
        let by_name = |n: &std::ffi::CStr| unsafe { meshtls_tls_alert_code_by_name(n.as_ptr()) };
        assert_eq!(
            by_name(c"ACCESS_DENIED"),
            meshtls_result::MESHTLS_IDENTITY_NOT_ALLOWED as u32
        );
        assert_eq!(by_name(c"certificate_revoked"), revoked);
        assert_eq!(by_name(c"handshake_failure"), 0);
    }
}

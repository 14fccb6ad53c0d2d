//! Result codes and the thread-local last error.
//!
//! Codes 1..999 are the core's [`ErrorCode::number`] values, unchanged; 0 is success; 1000 and
//! up are failures the core cannot have (a NULL pointer, a panic, a refusal of the CA
//! service...). Codes are added, never renumbered or reused.
//!
//! Besides the number, every failure has a stable string code (`meshtls_last_error_code`): the
//! name of the number for the core's and the C ABI's own failures, and the CA service's own code
//! (`token_used`, `identity_mismatch`...) for `MESHTLS_SERVICE_ERROR`, whose number alone cannot
//! say which refusal it was.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use meshtls_core::{Error, ErrorCode, ErrorFamily};
use meshtls_net::enroll::EnrollError;

/// The result of every fallible meshtls function: 0 on success, else why it failed.
///
/// Values 1 to 999 are the core's error codes (the same numbers and names in every meshtls
/// language); 1000 and up belong to the C ABI. A failed call leaves its out-parameters
/// untouched and sets the calling thread's last error (read it with `meshtls_last_error`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_result {
    /// Success.
    MESHTLS_OK = 0,
    /// Input could not be parsed (bad PEM/DER, truncated, empty, garbage).
    MESHTLS_MALFORMED = 1,
    /// Well-formed input using something meshtls does not support.
    MESHTLS_UNSUPPORTED = 2,
    /// A request that breaks a rule (wrong trust domain, lifetime, name constraints...).
    MESHTLS_INVALID_REQUEST = 3,
    /// A certificate in the chain has expired.
    MESHTLS_EXPIRED = 4,
    /// A certificate in the chain is not valid yet.
    MESHTLS_NOT_YET_VALID = 5,
    /// No path from the presented chain to a trusted CA.
    MESHTLS_UNKNOWN_ISSUER = 6,
    /// A signature does not verify.
    MESHTLS_BAD_SIGNATURE = 7,
    /// A certificate in the chain is revoked.
    MESHTLS_REVOKED = 8,
    /// The certificate is not allowed for the requested usage.
    MESHTLS_WRONG_USAGE = 9,
    /// The peer's identity is not allowed by the policy.
    MESHTLS_IDENTITY_NOT_ALLOWED = 10,
    /// The peer matches none of the pins.
    MESHTLS_NOT_PINNED = 11,
    /// A name is outside the name constraints of a CA in the path.
    MESHTLS_NAME_CONSTRAINT_VIOLATION = 12,
    /// The passphrase does not decrypt the key.
    MESHTLS_WRONG_PASSPHRASE = 13,
    /// CRLs are configured but none covers a certificate in the path.
    MESHTLS_REVOCATION_UNKNOWN = 14,
    /// The covering CRL is past its nextUpdate.
    MESHTLS_CRL_EXPIRED = 15,
    /// The path is longer than allowed.
    MESHTLS_CHAIN_TOO_LONG = 16,
    /// The leaf breaks the X509-SVID rules.
    MESHTLS_INVALID_SVID = 17,
    /// A file or socket operation failed.
    MESHTLS_IO = 18,
    /// A bug in meshtls.
    MESHTLS_INTERNAL = 19,
    /// The peer presented no certificate where one is required.
    MESHTLS_NO_CERTIFICATE = 20,
    /// A key is weaker than meshtls accepts (RSA below 2048 bits or with a modulus not a multiple of 8, P-192, DSA).
    MESHTLS_WEAK_KEY = 21,
    /// A signature uses a hash meshtls refuses (SHA-1, MD5), in a CSR or anywhere in a path.
    MESHTLS_WEAK_SIGNATURE = 22,
    /// The grant (a join token, an administrator) does not allow this request: an ID, name, usage or lifetime outside it, or a reserved identity.
    MESHTLS_NOT_AUTHORIZED = 23,
    /// A certificate in the path breaks the certificate profile (RFC 5280 rules meshtls enforces: critical basicConstraints, key identifiers, serial number, SAN syntax...).
    MESHTLS_INVALID_CERTIFICATE = 24,
    /// A certificate in the path carries a critical extension meshtls does not process.
    MESHTLS_UNKNOWN_CRITICAL_EXTENSION = 25,
    /// Checking the path's name constraints needs more comparisons than the verifier allows.
    MESHTLS_NAME_CONSTRAINTS_TOO_COMPLEX = 26,
    /// A CRL older than the one held for its issuer (lower CRLNumber), or the same number with different content: refused, the held CRL kept.
    MESHTLS_STALE_CRL = 27,
    /// A CRL that decodes but breaks the profile (no or critical CRLNumber, an issuer without cRLSign).
    MESHTLS_INVALID_CRL = 28,
    /// A token (JWT-SVID) that does not parse: not three base64url parts, a header or claims that are not JSON objects, a required claim missing or of the wrong type.
    MESHTLS_TOKEN_MALFORMED = 29,
    /// A token's signature does not verify with the key its kid names.
    MESHTLS_TOKEN_SIGNATURE = 30,
    /// A token signed with an algorithm meshtls refuses: none, any HMAC, one outside the allow-list, or one that does not fit the key its kid names (key confusion).
    MESHTLS_TOKEN_ALGORITHM = 31,
    /// A token's kid is missing or names no JWT key of the bundle (for its trust domain).
    MESHTLS_TOKEN_UNKNOWN_KEY = 32,
    /// A token is past its exp, or its iat/nbf is in the future, beyond the policy's leeway.
    MESHTLS_TOKEN_EXPIRED = 33,
    /// A token's aud names none of the audiences the validator accepts.
    MESHTLS_TOKEN_AUDIENCE = 34,
    /// A token bound to a certificate (cnf x5t#S256) on a connection whose peer certificate differs or is absent, or an unbound token where binding is required.
    MESHTLS_TOKEN_BINDING = 35,
    /// C ABI: a required pointer argument was NULL.
    MESHTLS_NULL_ARGUMENT = 1000,
    /// C ABI: meshtls panicked; the call was abandoned (please report it).
    MESHTLS_PANIC = 1001,
    /// C ABI: an argument is out of range (an unknown enum value, a string that is not UTF-8,
    /// lengths that do not add up).
    MESHTLS_INVALID_ARGUMENT = 1002,
    /// Enrollment: the CA service refused the request. Its stable code (`token_used`,
    /// `token_invalid`, `identity_mismatch`, `revoked`...) is `meshtls_last_error_code`.
    MESHTLS_SERVICE_ERROR = 1003,
    /// Enrollment: the CA service could not be reached or answered nonsense (connection, TLS
    /// (including the service's certificate rejected by the core), HTTP, timeout). The exact
    /// code (`transport`, or the service's `unavailable`/`timeout`) is `meshtls_last_error_code`.
    MESHTLS_TRANSPORT = 1004,
}

impl meshtls_result {
    /// The result for a core error code. A code this crate does not know yet (the core's enum
    /// is non-exhaustive) becomes `MESHTLS_INTERNAL`; a unit test keeps the two lists equal.
    pub(crate) fn from_code(code: ErrorCode) -> Self {
        use meshtls_result::*;
        match code.number() {
            1 => MESHTLS_MALFORMED,
            2 => MESHTLS_UNSUPPORTED,
            3 => MESHTLS_INVALID_REQUEST,
            4 => MESHTLS_EXPIRED,
            5 => MESHTLS_NOT_YET_VALID,
            6 => MESHTLS_UNKNOWN_ISSUER,
            7 => MESHTLS_BAD_SIGNATURE,
            8 => MESHTLS_REVOKED,
            9 => MESHTLS_WRONG_USAGE,
            10 => MESHTLS_IDENTITY_NOT_ALLOWED,
            11 => MESHTLS_NOT_PINNED,
            12 => MESHTLS_NAME_CONSTRAINT_VIOLATION,
            13 => MESHTLS_WRONG_PASSPHRASE,
            14 => MESHTLS_REVOCATION_UNKNOWN,
            15 => MESHTLS_CRL_EXPIRED,
            16 => MESHTLS_CHAIN_TOO_LONG,
            17 => MESHTLS_INVALID_SVID,
            18 => MESHTLS_IO,
            20 => MESHTLS_NO_CERTIFICATE,
            21 => MESHTLS_WEAK_KEY,
            22 => MESHTLS_WEAK_SIGNATURE,
            23 => MESHTLS_NOT_AUTHORIZED,
            24 => MESHTLS_INVALID_CERTIFICATE,
            25 => MESHTLS_UNKNOWN_CRITICAL_EXTENSION,
            26 => MESHTLS_NAME_CONSTRAINTS_TOO_COMPLEX,
            27 => MESHTLS_STALE_CRL,
            28 => MESHTLS_INVALID_CRL,
            29 => MESHTLS_TOKEN_MALFORMED,
            30 => MESHTLS_TOKEN_SIGNATURE,
            31 => MESHTLS_TOKEN_ALGORITHM,
            32 => MESHTLS_TOKEN_UNKNOWN_KEY,
            33 => MESHTLS_TOKEN_EXPIRED,
            34 => MESHTLS_TOKEN_AUDIENCE,
            35 => MESHTLS_TOKEN_BINDING,
            _ => MESHTLS_INTERNAL,
        }
    }

    /// The core code with this number, if it is one.
    #[cfg(test)]
    fn core_code(self) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.number() == self as u32)
    }

    /// Every C ABI-only code, with its stable name.
    #[cfg(test)]
    const FFI_ONLY: &'static [(meshtls_result, &'static str)] = &[
        (meshtls_result::MESHTLS_NULL_ARGUMENT, "null_argument"),
        (meshtls_result::MESHTLS_PANIC, "panic"),
        (meshtls_result::MESHTLS_INVALID_ARGUMENT, "invalid_argument"),
        (meshtls_result::MESHTLS_SERVICE_ERROR, "service_error"),
        (meshtls_result::MESHTLS_TRANSPORT, "transport"),
    ];
}

/// A failure on its way to C: the code, the string code when it says more than the code's
/// name (a CA service's refusal), and the message for the last error.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) code: meshtls_result,
    pub(crate) name: Option<String>,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn null(what: &str) -> Self {
        FfiError {
            code: meshtls_result::MESHTLS_NULL_ARGUMENT,
            name: None,
            message: format!("null_argument: {what} is NULL"),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FfiError {
            code: meshtls_result::MESHTLS_INVALID_ARGUMENT,
            name: None,
            message: format!("invalid_argument: {}", message.into()),
        }
    }

    pub(crate) fn panic(message: impl Into<String>) -> Self {
        FfiError {
            code: meshtls_result::MESHTLS_PANIC,
            name: None,
            message: format!("panic: {}", message.into()),
        }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError {
            code: meshtls_result::from_code(e.code()),
            name: None,
            message: e.to_string(),
        }
    }
}

impl From<EnrollError> for FfiError {
    /// The enrollment client's failures: the core's keep their code; a refusal of the CA
    /// service is `MESHTLS_SERVICE_ERROR` with the service's code as the string code, except
    /// the codes that mean the service could not answer (`unavailable`, `timeout`,
    /// `unexpected_answer`: `MESHTLS_TRANSPORT`, as connection and TLS failures are); an
    /// unusable argument (the URL) is `MESHTLS_INVALID_REQUEST`, as in every binding.
    fn from(e: EnrollError) -> Self {
        let code = e.code().to_owned();
        match e {
            EnrollError::Core(e) => e.into(),
            EnrollError::Service {
                status, message, ..
            } => FfiError {
                code: match code.as_str() {
                    "unavailable" | "timeout" | "unexpected_answer" => {
                        meshtls_result::MESHTLS_TRANSPORT
                    }
                    _ => meshtls_result::MESHTLS_SERVICE_ERROR,
                },
                message: format!("{code}: {message} (CA service, HTTP {status})"),
                name: Some(code),
            },
            EnrollError::Transport(m) => FfiError {
                code: meshtls_result::MESHTLS_TRANSPORT,
                name: Some(code),
                message: format!("transport: CA service unreachable: {m}"),
            },
            EnrollError::Invalid(m) => FfiError {
                code: meshtls_result::MESHTLS_INVALID_REQUEST,
                name: Some(code),
                message: format!("invalid_request: {m}"),
            },
            // A kind added to the client later: its code is still reported.
            other => FfiError {
                code: meshtls_result::MESHTLS_INTERNAL,
                message: format!("{code}: {other}"),
                name: Some(code),
            },
        }
    }
}

/// The calling thread's last failure: its string code and its message.
struct LastError {
    code: String,
    message: String,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// The stable string code of a failure: its own name (a CA service's code) or its number's.
pub(crate) fn code_name(error: &FfiError) -> String {
    error.name.clone().unwrap_or_else(|| {
        String::from_utf8_lossy(result_name(error.code as u32))
            .trim_end_matches('\0')
            .to_owned()
    })
}

pub(crate) fn set_last_error(error: FfiError) {
    let code = code_name(&error);
    LAST_ERROR.with(|e| {
        *e.borrow_mut() = Some(LastError {
            code,
            message: error.message,
        })
    });
}

pub(crate) fn clear_last_error() {
    LAST_ERROR.with(|e| *e.borrow_mut() = None);
}

/// Copies `text` into the caller's `(buf, len)` as `meshtls_last_error` documents.
///
/// # Safety
/// As `meshtls_last_error`.
unsafe fn copy_out(text: &str, buf: *mut c_char, len: usize, out_n: *mut usize) -> meshtls_result {
    if out_n.is_null() || (buf.is_null() && len != 0) {
        return meshtls_result::MESHTLS_NULL_ARGUMENT;
    }
    let bytes = text.as_bytes();
    if len > 0 {
        let n = bytes.len().min(len - 1);
        // SAFETY: the caller gave `len` writable bytes at `buf` (checked non-NULL above),
        // and `n + 1 <= len`; the source is a live Rust string that cannot overlap them.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    // SAFETY: checked non-NULL above; the caller promised it is writable.
    unsafe { *out_n = bytes.len() };
    meshtls_result::MESHTLS_OK
}

/// Copies the calling thread's last error message (`code: message`, UTF-8) into `buf`.
///
/// At most `len - 1` bytes are written, then a NUL; `*out_n` receives the full length of the
/// message without the NUL, so `*out_n >= len` means it was cut. With `buf` NULL and `len` 0
/// only the length is reported. Every fallible call clears the message first, so after a
/// success it is empty. Returns `MESHTLS_NULL_ARGUMENT` when `out_n` is NULL, or `buf` is NULL
/// with a non-zero `len`.
///
/// # Safety
/// `buf` must point to `len` writable bytes (or be NULL with `len` 0); `out_n` must be
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_last_error(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> meshtls_result {
    crate::panic::ffi_value(meshtls_result::MESHTLS_PANIC, || {
        let message = LAST_ERROR
            .with(|e| e.borrow().as_ref().map(|e| e.message.clone()))
            .unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&message, buf, len, out_n) }
    })
}

/// Copies the stable string code of the calling thread's last error (`expired`,
/// `null_argument`, `token_used`, `transport`...) into `buf`, as `meshtls_last_error` copies the
/// message; empty after a success.
///
/// It is the name of the result code (`meshtls_result_name`) except after
/// `MESHTLS_SERVICE_ERROR` and `MESHTLS_TRANSPORT`, where it is the CA service's own code
/// (`token_used`, `token_invalid`, `identity_mismatch`, `revoked`, `unavailable`...) or
/// `transport`: the same string every meshtls language reports for that failure.
///
/// # Safety
/// As `meshtls_last_error`.
#[no_mangle]
pub unsafe extern "C" fn meshtls_last_error_code(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> meshtls_result {
    crate::panic::ffi_value(meshtls_result::MESHTLS_PANIC, || {
        let code = LAST_ERROR
            .with(|e| e.borrow().as_ref().map(|e| e.code.clone()))
            .unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_out(&code, buf, len, out_n) }
    })
}

/// Whether a message shows Rust syntax (a `Debug` dump such as `Other(OtherError(…))`) instead
/// of words: the core's own check (`looks_like_debug_output`), for the tests of every binding
/// that no message of theirs does. False for NULL or non-UTF-8.
///
/// # Safety
/// `message` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_looks_like_debug_output(message: *const c_char) -> bool {
    crate::panic::ffi_value(false, || {
        // SAFETY: per this function's contract.
        unsafe { crate::arg::text(message, "message") }
            .is_ok_and(meshtls_core::error::looks_like_debug_output)
    })
}

/// The stable snake_case name of a result code (`"ok"`, `"expired"`, `"null_argument"`...),
/// as a static NUL-terminated string; `"unknown"` for a number that is no code. Never free it.
#[no_mangle]
pub extern "C" fn meshtls_result_name(code: u32) -> *const c_char {
    crate::panic::ffi_value(c"unknown".as_ptr(), || result_name(code).as_ptr().cast())
}

fn result_name(code: u32) -> &'static [u8] {
    match code {
        0 => b"ok\0",
        1000 => b"null_argument\0",
        1001 => b"panic\0",
        1002 => b"invalid_argument\0",
        1003 => b"service_error\0",
        1004 => b"transport\0",
        n => match ErrorCode::ALL.iter().find(|c| c.number() == n) {
            Some(c) => static_name(c.as_str()),
            None => b"unknown\0",
        },
    }
}

/// The family of a result code, as a static NUL-terminated string: the core's families
/// (`input`, `request`, `verification`, `passphrase`, `io`, `internal`) for its codes,
/// `argument` for `null_argument`/`invalid_argument`, `internal` for `panic`, `request` for
/// `service_error` (the CA service refused), `io` for `transport`, `ok` for 0, `unknown`
/// otherwise. Never free it.
#[no_mangle]
pub extern "C" fn meshtls_result_family(code: u32) -> *const c_char {
    crate::panic::ffi_value(c"unknown".as_ptr(), || result_family(code).as_ptr().cast())
}

fn result_family(code: u32) -> &'static [u8] {
    match code {
        0 => b"ok\0",
        1000 | 1002 => b"argument\0",
        1001 => b"internal\0",
        1003 => b"request\0",
        1004 => b"io\0",
        n => match ErrorCode::ALL.iter().find(|c| c.number() == n) {
            Some(c) => match c.family() {
                ErrorFamily::Input => b"input\0",
                ErrorFamily::Request => b"request\0",
                ErrorFamily::Verification => b"verification\0",
                ErrorFamily::Passphrase => b"passphrase\0",
                ErrorFamily::Io => b"io\0",
                _ => b"internal\0",
            },
            None => b"unknown\0",
        },
    }
}

/// The core's code names with a NUL, built once from [`ErrorCode::ALL`] and kept for the
/// life of the process, so C may hold the pointers forever.
fn static_name(name: &str) -> &'static [u8] {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            ErrorCode::ALL
                .iter()
                .filter_map(|c| CString::new(c.as_str()).ok())
                .collect()
        })
        .iter()
        .find(|c| c.as_bytes() == name.as_bytes())
        .map(|c| c.as_bytes_with_nul())
        .unwrap_or(b"unknown\0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn name_of(code: u32) -> String {
        // SAFETY: meshtls_result_name returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(meshtls_result_name(code)) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn every_core_code_has_its_number_and_name() {
        for code in ErrorCode::ALL {
            let r = meshtls_result::from_code(*code);
            assert_eq!(r as u32, code.number(), "{code}");
            assert_eq!(r.core_code(), Some(*code));
            assert_eq!(name_of(code.number()), code.as_str());
        }
        assert!(ErrorCode::ALL.iter().all(|c| c.number() < 1000));
    }

    #[test]
    fn ffi_codes_are_named_and_above_the_core_range() {
        for (code, name) in meshtls_result::FFI_ONLY {
            assert!(*code as u32 >= 1000);
            assert_eq!(code.core_code(), None);
            assert_eq!(name_of(*code as u32), *name);
        }
        assert_eq!(name_of(0), "ok");
        assert_eq!(name_of(999), "unknown");
    }

    #[test]
    fn families_follow_the_core() {
        for code in ErrorCode::ALL {
            // SAFETY: static NUL-terminated string.
            let fam = unsafe { CStr::from_ptr(meshtls_result_family(code.number())) };
            assert_eq!(fam.to_str().unwrap(), code.family().as_str());
        }
    }

    #[test]
    fn last_error_is_copied_cut_and_measured() {
        set_last_error(FfiError {
            code: meshtls_result::MESHTLS_EXPIRED,
            name: None,
            message: "expired: leaf expired".into(),
        });
        let mut buf = [0x55 as c_char; 8];
        let mut n = 0usize;
        // SAFETY: buf has 8 writable bytes; n is writable.
        let r = unsafe { meshtls_last_error(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(r, meshtls_result::MESHTLS_OK);
        assert_eq!(n, "expired: leaf expired".len());
        // SAFETY: the function NUL-terminated it within the 8 bytes.
        let got = unsafe { CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(got.to_str().unwrap(), "expired");
        // SAFETY: length query only.
        let r = unsafe { meshtls_last_error(std::ptr::null_mut(), 0, &mut n) };
        assert_eq!(r, meshtls_result::MESHTLS_OK);
        // SAFETY: NULL out_n is refused before anything is written.
        let r = unsafe { meshtls_last_error(buf.as_mut_ptr(), buf.len(), std::ptr::null_mut()) };
        assert_eq!(r, meshtls_result::MESHTLS_NULL_ARGUMENT);
        clear_last_error();
        // SAFETY: as above.
        unsafe { meshtls_last_error(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(n, 0);
    }

    fn last_code() -> String {
        let mut buf = [0 as c_char; 64];
        let mut n = 0usize;
        // SAFETY: buf has 64 writable bytes; n is writable.
        let r = unsafe { meshtls_last_error_code(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(r, meshtls_result::MESHTLS_OK);
        // SAFETY: NUL-terminated by meshtls_last_error_code.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn enrollment_failures_keep_their_string_code() {
        let service = |code: &str| EnrollError::Service {
            status: 403,
            code: code.to_owned(),
            message: "no".to_owned(),
        };
        let cases = [
            (
                service("token_used"),
                meshtls_result::MESHTLS_SERVICE_ERROR,
                "token_used",
            ),
            (
                service("identity_mismatch"),
                meshtls_result::MESHTLS_SERVICE_ERROR,
                "identity_mismatch",
            ),
            (
                service("unavailable"),
                meshtls_result::MESHTLS_TRANSPORT,
                "unavailable",
            ),
            (
                EnrollError::Transport("refused".into()),
                meshtls_result::MESHTLS_TRANSPORT,
                "transport",
            ),
            (
                EnrollError::Invalid("url".into()),
                meshtls_result::MESHTLS_INVALID_REQUEST,
                "invalid_request",
            ),
            (
                EnrollError::Core(Error::new(ErrorCode::Expired, "old")),
                meshtls_result::MESHTLS_EXPIRED,
                "expired",
            ),
        ];
        for (e, want, name) in cases {
            let e = FfiError::from(e);
            assert_eq!(e.code, want, "{name}");
            assert!(e.message.starts_with(&format!("{name}: ")), "{}", e.message);
            set_last_error(e);
            assert_eq!(last_code(), name);
        }
        set_last_error(FfiError::null("x"));
        assert_eq!(last_code(), "null_argument");
        clear_last_error();
        assert_eq!(last_code(), "");
    }
}

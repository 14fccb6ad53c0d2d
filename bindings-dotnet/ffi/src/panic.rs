//! The panic boundary every exported function runs inside: a panic becomes `MESHTLS_PANIC`
//! and a last-error message, never an unwind into C (undefined behaviour) nor an abort.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{clear_last_error, meshtls_result, set_last_error, FfiError};

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".to_owned())
}

/// Runs a fallible body: clears the last error, then maps the outcome onto a result code.
pub(crate) fn ffi_boundary<F>(body: F) -> meshtls_result
where
    F: FnOnce() -> Result<(), FfiError>,
{
    clear_last_error();
    // AssertUnwindSafe: after a panic nothing the body touched is used again except handles
    // the caller still owns; a half-updated builder is at worst a builder with fewer rules.
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return meshtls_result::MESHTLS_OK,
        Ok(Err(e)) => e,
        Err(payload) => FfiError::panic(panic_message(payload.as_ref())),
    };
    let code = error.code;
    set_last_error(error);
    code
}

/// Runs an infallible accessor, returning `fallback` if it panics.
pub(crate) fn ffi_value<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::meshtls_last_error;

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = ffi_boundary(|| panic!("boom {}", 42));
        let v = ffi_value(7, || -> i32 { panic!("again") });
        std::panic::set_hook(prev);
        assert_eq!(r, meshtls_result::MESHTLS_PANIC);
        assert_eq!(v, 7);
        let mut buf = [0 as std::ffi::c_char; 64];
        let mut n = 0;
        // SAFETY: buf has 64 writable bytes; n is writable.
        unsafe { meshtls_last_error(buf.as_mut_ptr(), buf.len(), &mut n) };
        // SAFETY: NUL-terminated by meshtls_last_error.
        let msg = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(msg.to_str().unwrap(), "panic: boom 42");
    }

    /// Every exported function runs inside the boundary: its body calls `ffi_boundary` or
    /// `ffi_value`, or one of the helpers below that does (checked here too). The two
    /// exceptions take no input and cannot panic.
    #[test]
    fn every_export_runs_inside_the_panic_boundary() {
        const HELPERS: &[&str] = &[
            "authority_bytes",
            "enrolled_bytes",
            "issued_bytes",
            "peer_bytes",
            "add_rule",
            "set",
            "on_enrolled",
        ];
        const NO_INPUT: &[&str] = &["meshtls_version", "meshtls_verify_options_default"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut exports = 0;
        let mut helpers_seen = std::collections::HashSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            // Each function: from its `fn` to the first line that closes it at column 0.
            for (at, _) in source.match_indices("fn ") {
                let rest = &source[at + 3..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let body = &rest[..rest.find("\n}\n").unwrap_or(rest.len())];
                let exported = source[..at].ends_with("extern \"C\" ");
                let calls = |f: &str| body.contains(&format!("{f}("));
                let guarded = calls("ffi_boundary") || calls("ffi_value");
                if exported {
                    exports += 1;
                    let via_helper = HELPERS.iter().any(|h| calls(h));
                    assert!(
                        guarded || via_helper || NO_INPUT.contains(&name.as_str()),
                        "{}: {name} runs outside the panic boundary",
                        path.display()
                    );
                } else if HELPERS.contains(&name.as_str()) && body.contains("meshtls_result") {
                    assert!(guarded, "{}: helper {name} has no boundary", path.display());
                    helpers_seen.insert(name);
                }
            }
        }
        assert!(exports > 130, "{exports} exports found");
        assert_eq!(
            helpers_seen.len(),
            HELPERS.len(),
            "helpers found: {helpers_seen:?}"
        );
    }

    #[test]
    fn success_clears_the_last_error() {
        let r = ffi_boundary(|| Err(FfiError::invalid("x")));
        assert_eq!(r, meshtls_result::MESHTLS_INVALID_ARGUMENT);
        assert_eq!(ffi_boundary(|| Ok(())), meshtls_result::MESHTLS_OK);
        let mut n = 1;
        // SAFETY: length query only.
        unsafe { meshtls_last_error(std::ptr::null_mut(), 0, &mut n) };
        assert_eq!(n, 0);
    }
}

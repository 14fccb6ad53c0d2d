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

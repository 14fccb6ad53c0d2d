//! Reading arguments that come from C: every pointer is NULL-checked here, so that each
//! exported function states its contract once and converts with `?`.

use std::ffi::{c_char, CStr};

use crate::error::FfiError;

/// A handle passed in by the caller, borrowed for the call.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library and not yet freed.
pub(crate) unsafe fn handle<'a, T>(p: *const T, what: &str) -> Result<&'a T, FfiError> {
    // SAFETY: per this function's contract.
    unsafe { p.as_ref() }.ok_or_else(|| FfiError::null(what))
}

/// A handle passed in by the caller, borrowed mutably for the call.
///
/// # Safety
/// As [`handle`], and no other reference to it is alive during the call.
pub(crate) unsafe fn handle_mut<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, FfiError> {
    // SAFETY: per this function's contract.
    unsafe { p.as_mut() }.ok_or_else(|| FfiError::null(what))
}

/// A byte buffer `(ptr, len)`. NULL with `len` 0 is the empty input.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that stay unchanged during the call.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], FfiError> {
    if p.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(FfiError::null(what))
        };
    }
    // SAFETY: non-NULL, and per this function's contract `len` bytes are readable.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A NUL-terminated UTF-8 string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
pub(crate) unsafe fn text<'a>(p: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::null(what));
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| FfiError::invalid(format!("{what} is not UTF-8")))
}

/// An optional NUL-terminated UTF-8 string: NULL means none.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(
    p: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, FfiError> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: per this function's contract.
        unsafe { text(p, what) }.map(Some)
    }
}

/// An array of `n` NUL-terminated strings. NULL with `n` 0 is the empty list.
///
/// # Safety
/// `p` is NULL or points to `n` readable pointers, each to a NUL-terminated string.
pub(crate) unsafe fn text_list(
    p: *const *const c_char,
    n: usize,
    what: &str,
) -> Result<Vec<String>, FfiError> {
    if p.is_null() {
        return if n == 0 {
            Ok(Vec::new())
        } else {
            Err(FfiError::null(what))
        };
    }
    // SAFETY: non-NULL and `n` pointers readable per this function's contract.
    let items = unsafe { std::slice::from_raw_parts(p, n) };
    items
        .iter()
        // SAFETY: each item is a NUL-terminated string (or NULL, refused by `text`).
        .map(|s| unsafe { text(*s, what) }.map(str::to_owned))
        .collect()
}

/// An out-parameter, checked before any work so that a failed call leaves it untouched.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `p` is non-NULL.
    ///
    /// # Safety
    /// `p` is NULL or valid for a write of `T` until the call returns.
    pub(crate) unsafe fn new(p: *mut T, what: &str) -> Result<Self, FfiError> {
        if p.is_null() {
            Err(FfiError::null(what))
        } else {
            Ok(Out(p))
        }
    }

    /// Writes the value (the last step of a successful call).
    pub(crate) fn set(self, value: T) {
        // SAFETY: non-NULL and writable per `Out::new`'s contract.
        unsafe { self.0.write(value) }
    }
}

/// Hands a new object to C as an owned handle.
pub(crate) fn give<T>(out: Out<*mut T>, value: T) {
    out.set(Box::into_raw(Box::new(value)));
}

/// Takes back and drops a handle made by [`give`]; NULL is a no-op.
///
/// # Safety
/// `p` is NULL or a handle of type `T` made by [`give`] and not freed before.
pub(crate) unsafe fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per this function's contract it came from Box::into_raw and is freed once.
        drop(unsafe { Box::from_raw(p) });
    }
}

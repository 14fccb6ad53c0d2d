//! Owned byte buffers handed to C: PEM text, PKCS#12 files, hex strings, names.

use crate::arg::{self, Out};
use crate::panic::ffi_value;

/// Bytes owned by meshtls and handed to the caller: read them with `meshtls_buffer_data` and
/// `meshtls_buffer_len`, release them with `meshtls_buffer_free`. The data is followed by a
/// NUL byte not counted in the length, so a text buffer is also a C string.
#[allow(non_camel_case_types)]
pub struct meshtls_buffer {
    /// The bytes plus the trailing NUL.
    data: Vec<u8>,
}

impl meshtls_buffer {
    fn new(bytes: impl Into<Vec<u8>>) -> Self {
        let mut data = bytes.into();
        data.push(0);
        meshtls_buffer { data }
    }
}

/// Hands bytes to C through an out-parameter.
pub(crate) fn give_bytes(out: Out<*mut meshtls_buffer>, bytes: impl Into<Vec<u8>>) {
    arg::give(out, meshtls_buffer::new(bytes));
}

/// Hands optional bytes to C: NULL when there are none.
pub(crate) fn give_optional(out: Out<*mut meshtls_buffer>, bytes: Option<impl Into<Vec<u8>>>) {
    match bytes {
        Some(b) => give_bytes(out, b),
        None => out.set(std::ptr::null_mut()),
    }
}

/// The first byte of the buffer (NULL for a NULL buffer). Valid until the buffer is freed.
///
/// # Safety
/// `buf` is NULL or a live buffer from this library.
#[no_mangle]
pub unsafe extern "C" fn meshtls_buffer_data(buf: *const meshtls_buffer) -> *const u8 {
    ffi_value(std::ptr::null(), || {
        // SAFETY: NULL or a live buffer, per this function's contract.
        match unsafe { arg::handle(buf, "buf") } {
            Ok(b) => b.data.as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// The number of bytes in the buffer, without the trailing NUL (0 for a NULL buffer).
///
/// # Safety
/// `buf` is NULL or a live buffer from this library.
#[no_mangle]
pub unsafe extern "C" fn meshtls_buffer_len(buf: *const meshtls_buffer) -> usize {
    ffi_value(0, || {
        // SAFETY: NULL or a live buffer, per this function's contract.
        match unsafe { arg::handle(buf, "buf") } {
            Ok(b) => b.data.len() - 1,
            Err(_) => 0,
        }
    })
}

/// Frees a buffer. NULL is a no-op.
///
/// # Safety
/// `buf` is NULL or a buffer from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_buffer_free(buf: *mut meshtls_buffer) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(buf) })
}

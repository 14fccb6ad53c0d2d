//! meshtls-ffi: the C ABI of meshtls, for .NET (P/Invoke) and any language that calls C.
//!
//! A small, stable surface over `meshtls-core`, in the style of rustls-ffi:
//! - opaque handles (`meshtls_authority`, `meshtls_verifier`...) made by `*_new`/`*_create_*`
//!   functions through out-parameters and released by their `*_free` function;
//! - every fallible function returns a [`meshtls_result`]: 0 on success, the core's stable
//!   error number (`expired` = 4, `revoked` = 8...) on failure, or a C ABI-only code from 1000
//!   (`null_argument`, `panic`, `invalid_argument`); the message is read with
//!   [`meshtls_last_error`];
//! - every pointer is NULL-checked, out-parameters are untouched on failure, and every entry
//!   point runs inside a panic boundary: a panic is `MESHTLS_PANIC`, never an abort;
//! - bytes go in as `(ptr, len)` and come out as owned [`meshtls_buffer`]s; times are Unix
//!   seconds (`int64_t`); enums are passed as `uint32_t`.
//!
//! The enrollment client (`meshtls_enroll`, in [`enroll`]) is meshtls-net's, run on a small
//! tokio runtime this library starts on first use; its calls block the calling thread, and
//! their `*_async` forms ([`enroll_async`]) report to a completion callback instead ([`task`]).
//!
//! The crate translates; it never decides. Every rule about certificates is the core's.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod arg;
pub mod authority;
pub mod buffer;
pub mod encoding;
pub mod enroll;
pub mod enroll_async;
pub mod error;
pub mod grant;
pub mod issue;
pub mod jwt;
mod panic;
pub mod profile;
pub mod revocation;
pub mod rotation;
pub mod task;
pub mod verify;

pub use buffer::meshtls_buffer;
pub use error::{meshtls_last_error, meshtls_result};

/// The version of this library (`0.1.0`), as a static NUL-terminated string. Never free it.
#[no_mangle]
pub extern "C" fn meshtls_version() -> *const std::ffi::c_char {
    // A constant: nothing here can panic, so no boundary is needed.
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

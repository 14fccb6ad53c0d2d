//! The asynchronous forms of the enrollment client's blocking calls (`meshtls_enroll`,
//! `meshtls_enroll_resume`, `meshtls_enrolled_renew_now`, `meshtls_enrolled_refresh_trust`):
//! the same work on the library's runtime, its outcome delivered to a completion callback
//! (see [`crate::task`] for the callback's rules and cancellation).
//!
//! Arguments are checked before anything starts: a bad one is returned as the function's
//! result and the callback is never called. On `MESHTLS_OK` it is called exactly once.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use meshtls_core::SpiffeId;

use crate::arg::{self, Out};
use crate::enroll::{enrolled, meshtls_enroll_options, meshtls_enrolled};
use crate::error::{meshtls_result, FfiError};
use crate::panic::ffi_boundary;
use crate::task::{self, meshtls_completion_callback, meshtls_task, Completion, Value};

/// `meshtls_enroll` without blocking: on success the completion's `enrolled` is the new
/// identity (the receiver owns it). The options may be freed once this returns.
///
/// # Safety
/// Strings are NUL-terminated; `options` is live; `callback` may be called once with
/// `user_data` from any thread; `out_task` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_async(
    url: *const c_char,
    token: *const c_char,
    spiffe_id: *const c_char,
    options: *const meshtls_enroll_options,
    callback: meshtls_completion_callback,
    user_data: *mut c_void,
    out_task: *mut *mut meshtls_task,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (url, token, id, options, out) = unsafe {
            (
                arg::text(url, "url")?.to_owned(),
                arg::text(token, "token")?.to_owned(),
                arg::text(spiffe_id, "spiffe_id")?,
                arg::handle(options, "options")?,
                Out::new(out_task, "out_task")?,
            )
        };
        let completion = Completion::new(callback, user_data)?;
        let id = SpiffeId::parse(id)?;
        let (client_options, events) = options.to_client()?;
        let work = async move {
            // On failure `events` drops here: its thread ends before the callback is called.
            let inner = meshtls_net::enroll::enroll(&url, &token, &id, client_options).await?;
            Ok(Value::Enrolled(Box::new(enrolled(inner, events))))
        };
        task::spawn(work, completion, out)
    })
}

/// `meshtls_enroll_resume` without blocking: on success the completion's `enrolled` is the
/// identity (the receiver owns it). The options may be freed once this returns.
///
/// # Safety
/// `url` is NUL-terminated; `options` is live; `callback` may be called once with
/// `user_data` from any thread; `out_task` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_resume_async(
    url: *const c_char,
    options: *const meshtls_enroll_options,
    callback: meshtls_completion_callback,
    user_data: *mut c_void,
    out_task: *mut *mut meshtls_task,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (url, options, out) = unsafe {
            (
                arg::text(url, "url")?.to_owned(),
                arg::handle(options, "options")?,
                Out::new(out_task, "out_task")?,
            )
        };
        let completion = Completion::new(callback, user_data)?;
        let (client_options, events) = options.to_client()?;
        let work = async move {
            let inner = meshtls_net::enroll::resume(&url, client_options).await?;
            Ok(Value::Enrolled(Box::new(enrolled(inner, events))))
        };
        task::spawn(work, completion, out)
    })
}

/// `meshtls_enrolled_renew_now` without blocking. The identity may be freed before the
/// callback: the renewal keeps what it needs, and its outcome still comes.
///
/// # Safety
/// `enrolled` is live; `callback` may be called once with `user_data` from any thread;
/// `out_task` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_renew_now_async(
    enrolled: *const meshtls_enrolled,
    callback: meshtls_completion_callback,
    user_data: *mut c_void,
    out_task: *mut *mut meshtls_task,
) -> meshtls_result {
    // SAFETY: per this function's contract.
    unsafe {
        on_enrolled(
            enrolled,
            callback,
            user_data,
            out_task,
            |inner| async move { inner.renew_now().await },
        )
    }
}

/// `meshtls_enrolled_refresh_trust` without blocking. The identity may be freed before the
/// callback.
///
/// # Safety
/// `enrolled` is live; `callback` may be called once with `user_data` from any thread;
/// `out_task` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_refresh_trust_async(
    enrolled: *const meshtls_enrolled,
    callback: meshtls_completion_callback,
    user_data: *mut c_void,
    out_task: *mut *mut meshtls_task,
) -> meshtls_result {
    // SAFETY: per this function's contract.
    unsafe {
        on_enrolled(
            enrolled,
            callback,
            user_data,
            out_task,
            |inner| async move { inner.refresh_trust().await },
        )
    }
}

/// The common body of the calls on a live identity: arguments checked, then `op` runs on the
/// runtime with its own reference to the identity, its outcome delivered as `Value::Done`.
///
/// # Safety
/// As the calling `meshtls_enrolled_*_async` function's.
unsafe fn on_enrolled<F, Fut>(
    enrolled: *const meshtls_enrolled,
    callback: meshtls_completion_callback,
    user_data: *mut c_void,
    out_task: *mut *mut meshtls_task,
    op: F,
) -> meshtls_result
where
    F: FnOnce(Arc<meshtls_net::enroll::EnrolledIdentity>) -> Fut,
    Fut:
        std::future::Future<Output = Result<(), meshtls_net::enroll::EnrollError>> + Send + 'static,
{
    ffi_boundary(|| {
        // SAFETY: per the caller's contract.
        let (e, out) = unsafe {
            (
                arg::handle(enrolled, "enrolled")?,
                Out::new(out_task, "out_task")?,
            )
        };
        let completion = Completion::new(callback, user_data)?;
        let done = op(Arc::clone(&e.inner));
        let work = async move {
            done.await.map_err(FfiError::from)?;
            Ok(Value::Done)
        };
        task::spawn(work, completion, out)
    })
}

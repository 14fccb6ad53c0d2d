//! Asynchronous calls: work started on the library's tokio runtime that reports its outcome
//! through a completion callback instead of blocking the caller (a .NET `Task`, a C event loop).
//!
//! An `*_async` function checks its arguments and starts the work; when it returns
//! `MESHTLS_OK` the callback is called **exactly once**, on a short-lived thread of its own
//! (never the caller's, never a runtime worker: a host runtime that attaches calling threads,
//! Mono or the CLR, then has no pool thread parked in its domain), with a
//! `meshtls_completion`. When it returns an error the callback is never called. The
//! `meshtls_task` it hands out can cancel the work (`meshtls_task_cancel`: the callback then
//! comes with `cancelled` set, unless the work had already ended) and is freed with
//! `meshtls_task_free` whenever the caller likes (freeing does not cancel).
//!
//! ```c
//! static void done(void *user_data, const meshtls_completion *c) {
//!     if (c->cancelled) { ... }
//!     else if (c->result != MESHTLS_OK) { printf("%s: %s\n", c->code, c->message); }
//!     else { meshtls_enrolled *node = c->enrolled; ... }
//! }
//! meshtls_task *task = NULL;
//! meshtls_enroll_async(url, token, id, opts, done, state, &task);
//! ...
//! meshtls_task_cancel(task);   /* optional */
//! meshtls_task_free(task);
//! ```

use std::ffi::{c_char, c_void, CString};
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::arg::{self, Out};
use crate::enroll::meshtls_enrolled;
use crate::error::{code_name, meshtls_result, FfiError};
use crate::panic::ffi_value;

/// The string code of a cancelled completion (its `result` is `MESHTLS_TRANSPORT`: the call
/// ended without an answer, as a timeout does).
const CANCELLED: &str = "cancelled";

/// The outcome of an asynchronous call, passed to a `meshtls_completion_callback`. The
/// strings are NUL-terminated UTF-8, valid only during the call (copy what you keep).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct meshtls_completion {
    /// `MESHTLS_OK`, or why the call failed (as the blocking function would have returned);
    /// `MESHTLS_TRANSPORT` with the code `cancelled` when `cancelled` is set.
    pub result: u32,
    /// Whether `meshtls_task_cancel` stopped the work before it ended.
    pub cancelled: bool,
    /// The stable string code (`meshtls_last_error_code`'s): `token_used`, `expired`,
    /// `cancelled`...; NULL on success.
    pub code: *const c_char,
    /// The message (`meshtls_last_error`'s); NULL on success.
    pub message: *const c_char,
    /// `meshtls_enroll_async` and `meshtls_enroll_resume_async` on success: the new identity,
    /// owned by the receiver from now on (free it with `meshtls_enrolled_free`, even when no
    /// longer wanted). NULL otherwise.
    pub enrolled: *mut meshtls_enrolled,
}

/// Receives the outcome of an asynchronous call, once, on a thread meshtls starts for it. It
/// may call any meshtls function. `completion` is valid only during the call.
#[allow(non_camel_case_types)]
pub type meshtls_completion_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, completion: *const meshtls_completion)>;

/// An asynchronous call in flight, to cancel it (`meshtls_task_cancel`); freed with
/// `meshtls_task_free`, before or after the callback.
#[allow(non_camel_case_types)]
pub struct meshtls_task {
    cancel: Mutex<Option<oneshot::Sender<()>>>,
}

/// What an asynchronous call produced.
pub(crate) enum Value {
    /// Nothing but success (a renewal, a refresh).
    Done,
    /// A new enrolled identity.
    Enrolled(Box<meshtls_enrolled>),
}

enum Outcome {
    Finished(Result<Value, FfiError>),
    Cancelled,
}

/// The C callback and its user data.
#[derive(Clone, Copy)]
pub(crate) struct Completion {
    function: unsafe extern "C" fn(*mut c_void, *const meshtls_completion),
    user_data: *mut c_void,
}

// SAFETY: `user_data` is the caller's, who promises (every `*_async` function's contract) that
// the callback may be called with it from another thread; this crate never dereferences it.
unsafe impl Send for Completion {}

impl Completion {
    /// The callback, refused when NULL (before any work starts).
    pub(crate) fn new(
        function: meshtls_completion_callback,
        user_data: *mut c_void,
    ) -> Result<Self, FfiError> {
        let function = function.ok_or_else(|| FfiError::null("callback"))?;
        Ok(Completion {
            function,
            user_data,
        })
    }
}

/// Starts `work` on the runtime and hands the caller its task; the callback gets the outcome.
///
/// A panic in `work` is reported as `MESHTLS_PANIC`; a cancelled `work` is dropped where it
/// stands (an identity it had just made is freed with it).
pub(crate) fn spawn<F>(
    work: F,
    completion: Completion,
    out: Out<*mut meshtls_task>,
) -> Result<(), FfiError>
where
    F: Future<Output = Result<Value, FfiError>> + Send + 'static,
{
    let runtime = crate::enroll::runtime()?;
    let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
    let job = runtime.spawn(work);
    let abort = job.abort_handle();
    runtime.spawn(async move {
        let outcome = tokio::select! {
            joined = job => match joined {
                Ok(r) => Outcome::Finished(r),
                Err(e) if e.is_panic() => Outcome::Finished(Err(FfiError::panic(
                    "the asynchronous call panicked",
                ))),
                Err(_) => Outcome::Cancelled,
            },
            () = cancelled(cancel_rx) => {
                abort.abort();
                Outcome::Cancelled
            }
        };
        deliver_on_own_thread(completion, outcome);
    });
    arg::give(
        out,
        meshtls_task {
            cancel: Mutex::new(Some(cancel_tx)),
        },
    );
    Ok(())
}

/// Resolves when the task is cancelled; never when it is only freed.
async fn cancelled(rx: oneshot::Receiver<()>) {
    if rx.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Calls the callback on a thread of its own (or, if no thread can be started, on this one).
fn deliver_on_own_thread(completion: Completion, outcome: Outcome) {
    let slot = std::sync::Arc::new(Mutex::new(Some(outcome)));
    let theirs = slot.clone();
    let started = std::thread::Builder::new()
        .name("meshtls-completion".to_owned())
        .spawn(move || {
            let outcome = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(o) = outcome {
                deliver(completion, o);
            }
        });
    if started.is_err() {
        let outcome = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(o) = outcome {
            deliver(completion, o);
        }
    }
}

/// Builds the `meshtls_completion` and calls the callback once.
fn deliver(completion: Completion, outcome: Outcome) {
    let cstring = |s: String| CString::new(s.replace('\0', " ")).unwrap_or_default();
    let mut raw = meshtls_completion {
        result: meshtls_result::MESHTLS_OK as u32,
        cancelled: false,
        code: std::ptr::null(),
        message: std::ptr::null(),
        enrolled: std::ptr::null_mut(),
    };
    // The strings the completion points to, alive until the call returns.
    let (code, message) = match outcome {
        Outcome::Finished(Ok(Value::Done)) => (None, None),
        Outcome::Finished(Ok(Value::Enrolled(e))) => {
            raw.enrolled = Box::into_raw(e);
            (None, None)
        }
        Outcome::Finished(Err(e)) => {
            raw.result = e.code as u32;
            (Some(cstring(code_name(&e))), Some(cstring(e.message)))
        }
        Outcome::Cancelled => {
            raw.result = meshtls_result::MESHTLS_TRANSPORT as u32;
            raw.cancelled = true;
            (
                Some(cstring(CANCELLED.to_owned())),
                Some(cstring(format!(
                    "{CANCELLED}: the call was cancelled before it ended"
                ))),
            )
        }
    };
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    raw.code = ptr(&code);
    raw.message = ptr(&message);
    // A panic in a Rust callback must not unwind further; a C or .NET one cannot unwind here.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the caller gave a callback that may be called once with this user data from
        // any thread (the `*_async` contract); `raw` and its strings live until it returns.
        unsafe { (completion.function)(completion.user_data, &raw) }
    }));
}

/// Asks the work of `task` to stop. If it had not ended, the callback comes (once, soon) with
/// `cancelled` set and no value; if it had, the callback has the real outcome. Calling it
/// again, or after the callback, does nothing. NULL is a no-op.
///
/// # Safety
/// `task` is NULL or live (not freed).
#[no_mangle]
pub unsafe extern "C" fn meshtls_task_cancel(task: *const meshtls_task) {
    ffi_value((), || {
        // SAFETY: per this function's contract.
        if let Ok(t) = unsafe { arg::handle(task, "task") } {
            let sender = t
                .cancel
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(s) = sender {
                let _ = s.send(());
            }
        }
    })
}

/// Frees a task handle. The work goes on and the callback still comes, exactly once; only
/// cancelling is no longer possible. NULL is a no-op.
///
/// # Safety
/// `task` is NULL or from this library, not freed before and not used after (nor during, by
/// another thread).
#[no_mangle]
pub unsafe extern "C" fn meshtls_task_free(task: *mut meshtls_task) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(task) })
}

//! The enrollment client of the meshtls CA service (`meshtls serve`) for C: enroll with a join
//! token, then hold an identity that renews itself and a trust bundle and CRL kept fresh.
//!
//! The client is meshtls-net's ([`meshtls_net::enroll`]); it is async, and C has no runtime,
//! so this library owns one: a small tokio multi-thread runtime, made on first use and kept
//! for the life of the process, whose two worker threads run the renewals and the refreshes.
//! The functions here block the calling thread until the client is done; their `*_async`
//! forms ([`crate::enroll_async`]) run the same work on the runtime and report to a completion
//! callback (what the .NET library uses). The rotation callback is called on a thread of the
//! identity's own, which ends when the identity is freed.
//!
//! The private key is made here and stays in the process: it can be read back
//! (`meshtls_enrolled_key_pem`, `meshtls_enrolled_to_pkcs12`) only so that another TLS stack in
//! the same process (SslStream) can present the certificate.
//!
//! ```c
//! meshtls_enroll_options *opts = NULL;
//! meshtls_enrolled *node = NULL;
//! meshtls_enroll_options_new(bundle_pem, bundle_len, &opts);
//! meshtls_enroll_options_set_state_dir(opts, "/var/lib/node");
//! if (meshtls_enroll("https://ca.mesh.internal:8443", token,
//!                    "spiffe://mesh.internal/service/api", opts, &node) != MESHTLS_OK) {
//!     /* meshtls_last_error_code: token_used, token_invalid, identity_mismatch, transport... */
//! }
//! meshtls_enroll_options_free(opts);
//! /* ... meshtls_enrolled_to_pkcs12(node, ...), meshtls_enrolled_verifier(node, ...) ... */
//! meshtls_enrolled_free(node);   /* stops the renewals */
//! ```

use std::ffi::{c_char, c_void, CString};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use meshtls_core::{encoding, KeyAlgorithm, Policy, RotationPolicy, SpiffeId, TrustBundle};
use meshtls_net::enroll::{EnrollOptions, EnrolledIdentity};
use meshtls_net::{IdentityHandle, RotationEvent};
use tokio::runtime::Runtime;

use crate::arg::{self, Out};
use crate::authority::key_algorithm;
use crate::buffer::{give_bytes, meshtls_buffer};
use crate::error::{meshtls_result, FfiError};
use crate::issue::pkcs12_profile;
use crate::panic::{ffi_boundary, ffi_value};
use crate::rotation::meshtls_rotation_policy;
use crate::verify::{meshtls_policy, meshtls_verifier};

/// Worker threads of the runtime: renewals and refreshes are a few requests an hour.
const WORKER_THREADS: usize = 2;

/// The process-wide runtime, made on first use and never dropped (its threads live as long as
/// the process, so a handle freed from any thread finds it still running).
pub(crate) fn runtime() -> Result<&'static Runtime, FfiError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .thread_name("meshtls-enroll")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| FfiError {
            code: meshtls_result::MESHTLS_IO,
            name: None,
            message: format!("io: cannot start the meshtls runtime: {e}"),
        })
}

/// Runs `work` on the runtime and waits for it on the calling thread.
pub(crate) fn block_on<F: Future>(work: F) -> Result<F::Output, FfiError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        // Blocking a runtime thread on the runtime would deadlock it (tokio panics instead).
        return Err(FfiError::invalid(
            "a blocking meshtls call from a tokio runtime thread: call it from another thread",
        ));
    }
    Ok(runtime()?.block_on(work))
}

/// What happened to an enrolled identity, in a `meshtls_rotation_event`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_rotation_event_kind {
    /// A new certificate and key were checked and swapped in (`serial_hex` is the new one).
    MESHTLS_ROTATION_RENEWED = 1,
    /// A renewal attempt failed; the current identity is kept and the attempt repeated after
    /// `retry_in_ms`.
    MESHTLS_ROTATION_FAILED = 2,
    /// The current certificate is due for renewal, or has expired (`expired`).
    MESHTLS_ROTATION_EXPIRING = 3,
}

/// One event of the renewal schedule, passed to a `meshtls_rotation_callback`. The strings are
/// NUL-terminated UTF-8, valid only during the call (copy what you keep).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct meshtls_rotation_event {
    /// A `meshtls_rotation_event_kind`.
    pub kind: u32,
    /// The identity's generation when the event was sent (a `RENEWED` event carries the
    /// generation of the new certificate).
    pub generation: u64,
    /// The serial (lowercase hex) of the new certificate (`RENEWED`) or of the current one
    /// (`EXPIRING`); NULL for `FAILED`.
    pub serial_hex: *const c_char,
    /// When that certificate expires, Unix seconds; 0 for `FAILED`.
    pub not_after: i64,
    /// `EXPIRING`: whether the certificate has expired already.
    pub expired: bool,
    /// `FAILED`: 1 for the first failure since the last success.
    pub attempt: u32,
    /// `FAILED`: milliseconds before the next attempt.
    pub retry_in_ms: u64,
    /// `FAILED`: the core's code when there is one: the core rejected the new certificate
    /// (`unknown_issuer`...) or the CA service refused with a core code (`revoked`); NULL when
    /// the service was unreachable or refused with a code of its own (the message says why).
    /// NULL for the other kinds.
    pub code: *const c_char,
    /// `FAILED`: what went wrong; NULL for the other kinds.
    pub message: *const c_char,
}

/// Receives the events of an enrolled identity's renewal schedule, in order, on a thread
/// meshtls starts for that identity (never the caller's, never a runtime worker), so it must be
/// safe to call from another thread; a slow callback delays only later events. It may call
/// meshtls functions, `meshtls_enrolled_free` of its own identity included.
/// `meshtls_enrolled_free` waits for a running call to end (unless called from the callback),
/// and none is made after it.
#[allow(non_camel_case_types)]
pub type meshtls_rotation_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const meshtls_rotation_event)>;

/// The C callback and its user data.
#[derive(Clone, Copy)]
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, *const meshtls_rotation_event),
    user_data: *mut c_void,
}

// SAFETY: `user_data` is the caller's, who promises (meshtls_enroll_options_set_rotation_callback)
// that the callback may be called with it from another thread; this crate never dereferences it.
unsafe impl Send for Callback {}

thread_local! {
    /// Whether this thread is a dispatcher inside a rotation callback (so `free` must not wait
    /// for itself).
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The events of one identity on their way to C: the rotation driver (on a runtime thread)
/// queues them, a dispatcher thread of this identity calls the callback.
///
/// A thread of its own, not the runtime's workers: a host runtime that attaches the threads
/// calling into it (Mono, the CLR) then sees one short-lived thread per identity, which ends
/// when the identity is freed, instead of pool threads that outlive every identity (Mono cannot
/// unload an AppDomain while a thread it attached is parked in native code).
struct EventQueue {
    /// Set by `close`: no call starts after it.
    closed: Arc<AtomicBool>,
    sender: Mutex<Option<mpsc::Sender<(RotationEvent, u64)>>>,
    dispatcher: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The identity, once enrolled, for the generation in the events.
    identity: OnceLock<IdentityHandle>,
}

impl EventQueue {
    fn start(callback: Callback) -> Result<Arc<Self>, FfiError> {
        let (sender, receiver) = mpsc::channel::<(RotationEvent, u64)>();
        let closed = Arc::new(AtomicBool::new(false));
        let dispatcher = {
            let closed = closed.clone();
            std::thread::Builder::new()
                .name("meshtls-events".to_owned())
                .spawn(move || {
                    let callback = callback;
                    for (event, generation) in receiver {
                        if closed.load(Ordering::SeqCst) {
                            break;
                        }
                        // A panic here must not unwind into C; the event is lost.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            deliver(callback, event, generation)
                        }));
                    }
                })
                .map_err(|e| FfiError {
                    code: meshtls_result::MESHTLS_IO,
                    name: None,
                    message: format!("io: cannot start the rotation event thread: {e}"),
                })?
        };
        Ok(Arc::new(EventQueue {
            closed,
            sender: Mutex::new(Some(sender)),
            dispatcher: Mutex::new(Some(dispatcher)),
            identity: OnceLock::new(),
        }))
    }

    /// Called by the rotation driver, on a runtime thread.
    fn push(&self, event: RotationEvent) {
        let generation = self.identity.get().map_or(0, IdentityHandle::generation);
        if let Some(sender) = &*self.sender.lock().unwrap_or_else(PoisonError::into_inner) {
            let _ = sender.send((event, generation));
        }
    }

    /// No call starts after this returns, and the dispatcher thread has ended (unless this is
    /// called from the callback itself: then it ends when the callback returns).
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        drop(
            self.sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = dispatcher {
            if !IN_CALLBACK.with(|c| c.get()) {
                let _ = thread.join();
            }
        }
    }
}

/// Closes the queue when the identity (or a failed enrollment) lets go of it.
pub(crate) struct Events(Arc<EventQueue>);

impl Drop for Events {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Calls the C callback with one event (on the dispatcher thread).
fn deliver(callback: Callback, event: RotationEvent, generation: u64) {
    let cstring = |s: String| CString::new(s.replace('\0', " ")).unwrap_or_default();
    let mut raw = meshtls_rotation_event {
        kind: 0,
        generation,
        serial_hex: std::ptr::null(),
        not_after: 0,
        expired: false,
        attempt: 0,
        retry_in_ms: 0,
        code: std::ptr::null(),
        message: std::ptr::null(),
    };
    // The strings the event points to, alive until the call returns.
    let (serial, code, message);
    match event {
        RotationEvent::Renewed {
            serial: s,
            not_after,
        } => {
            raw.kind = meshtls_rotation_event_kind::MESHTLS_ROTATION_RENEWED as u32;
            serial = Some(cstring(s.to_hex()));
            raw.not_after = not_after.unix();
            (code, message) = (None, None);
        }
        RotationEvent::Expiring {
            serial: s,
            not_after,
            expired,
        } => {
            raw.kind = meshtls_rotation_event_kind::MESHTLS_ROTATION_EXPIRING as u32;
            serial = Some(cstring(s.to_hex()));
            raw.not_after = not_after.unix();
            raw.expired = expired;
            (code, message) = (None, None);
        }
        RotationEvent::Failed {
            attempt,
            code: c,
            message: m,
            retry_in,
        } => {
            raw.kind = meshtls_rotation_event_kind::MESHTLS_ROTATION_FAILED as u32;
            raw.attempt = attempt;
            raw.retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
            serial = None;
            code = c.map(|c| cstring(c.as_str().to_owned()));
            message = Some(cstring(m));
        }
        // An event kind added to the driver later: not one C knows.
        _ => return,
    }
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    raw.serial_hex = ptr(&serial);
    raw.code = ptr(&code);
    raw.message = ptr(&message);
    IN_CALLBACK.with(|c| c.set(true));
    // SAFETY: the caller gave a callback valid with this user data until the identity is
    // freed, and free closes the queue (checked by the dispatcher before each call) first.
    unsafe { (callback.function)(callback.user_data, &raw) };
    IN_CALLBACK.with(|c| c.set(false));
}

/// The options of `meshtls_enroll` and `meshtls_enroll_resume`: the CA bundle that vouches
/// for the service, and the optional settings. Made by `meshtls_enroll_options_new`, changed
/// by its setters, freed by `meshtls_enroll_options_free`; one may serve several calls.
#[allow(non_camel_case_types)]
pub struct meshtls_enroll_options {
    bundle_pem: String,
    dns_names: Vec<String>,
    key_algorithm: KeyAlgorithm,
    service_id: Option<SpiffeId>,
    rotation: Option<RotationPolicy>,
    peer_policy: Option<Policy>,
    refresh_every: Option<Duration>,
    timeout: Option<Duration>,
    state_dir: Option<PathBuf>,
    callback: meshtls_rotation_callback,
    user_data: *mut c_void,
}

impl meshtls_enroll_options {
    /// The client's options, and the event queue when a callback is set.
    pub(crate) fn to_client(&self) -> Result<(EnrollOptions, Option<Events>), FfiError> {
        let mut o = EnrollOptions::new(self.bundle_pem.clone());
        o.dns_names = self.dns_names.clone();
        o.key_algorithm = self.key_algorithm;
        o.service_id = self.service_id.clone();
        if let Some(r) = &self.rotation {
            o.rotation = *r;
        }
        o.peer_policy = self.peer_policy.clone();
        if let Some(d) = self.refresh_every {
            o.refresh_every = d;
        }
        if let Some(d) = self.timeout {
            o.timeout = d;
        }
        o.state_dir = self.state_dir.clone();
        let events = match self.callback {
            Some(function) => Some(Events(EventQueue::start(Callback {
                function,
                user_data: self.user_data,
            })?)),
            None => None,
        };
        if let Some(Events(queue)) = &events {
            let queue = queue.clone();
            o.on_rotation = Some(Arc::new(move |e| queue.push(e)));
        }
        Ok((o, events))
    }
}

/// New options trusting the CA certificates of `(ca_bundle_pem, len)` (PEM, given to the node
/// with its token) to vouch for the service. A bundle without a CA certificate is refused
/// here (`MESHTLS_MALFORMED`, `MESHTLS_INVALID_REQUEST`).
///
/// # Safety
/// `(ca_bundle_pem, len)` is readable; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_new(
    ca_bundle_pem: *const u8,
    len: usize,
    out: *mut *mut meshtls_enroll_options,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (pem, out) = unsafe {
            (
                arg::bytes(ca_bundle_pem, len, "ca_bundle_pem")?,
                Out::new(out, "out")?,
            )
        };
        TrustBundle::from_pem(pem)?;
        let bundle_pem = std::str::from_utf8(pem)
            .map_err(|_| FfiError::invalid("ca_bundle_pem is not UTF-8"))?
            .to_owned();
        arg::give(
            out,
            meshtls_enroll_options {
                bundle_pem,
                dns_names: Vec::new(),
                key_algorithm: KeyAlgorithm::default(),
                service_id: None,
                rotation: None,
                peer_policy: None,
                refresh_every: None,
                timeout: None,
                state_dir: None,
                callback: None,
                user_data: std::ptr::null_mut(),
            },
        );
        Ok(())
    })
}

/// Applies `set` to live options.
///
/// # Safety
/// `options` is NULL or live and unshared.
unsafe fn set<F>(options: *mut meshtls_enroll_options, set: F) -> meshtls_result
where
    F: FnOnce(&mut meshtls_enroll_options) -> Result<(), FfiError>,
{
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let options = unsafe { arg::handle_mut(options, "options")? };
        set(options)
    })
}

/// Asks for this DNS name too (the token must grant it); call once per name.
///
/// # Safety
/// `options` is live and unshared; `name` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_add_dns_name(
    options: *mut meshtls_enroll_options,
    name: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            let name = arg::text(name, "name")?;
            o.dns_names.push(name.to_owned());
            Ok(())
        })
    }
}

/// The algorithm of the node's keys, a `meshtls_key_algorithm` (0: the core's default,
/// ECDSA P-256).
///
/// # Safety
/// `options` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_key_algorithm(
    options: *mut meshtls_enroll_options,
    key: u32,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            o.key_algorithm = key_algorithm(key)?;
            Ok(())
        })
    }
}

/// The SPIFFE ID the service must present (default `spiffe://<trust domain>/meshtls/ca`);
/// NULL restores the default.
///
/// # Safety
/// `options` is live and unshared; `spiffe_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_service_id(
    options: *mut meshtls_enroll_options,
    spiffe_id: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            o.service_id = arg::optional_text(spiffe_id, "spiffe_id")?
                .map(SpiffeId::parse)
                .transpose()?;
            Ok(())
        })
    }
}

/// When to renew (a copy of `policy`; default: the core's, 2/3 of the lifetime with jitter);
/// NULL restores the default.
///
/// # Safety
/// `options` is live and unshared; `policy` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_rotation_policy(
    options: *mut meshtls_enroll_options,
    policy: *const meshtls_rotation_policy,
) -> meshtls_result {
    // SAFETY: forwarded contract; `policy` is NULL or live.
    unsafe {
        set(options, |o| {
            o.rotation = policy.as_ref().map(|p| p.inner);
            Ok(())
        })
    }
}

/// Who the enrolled identity's verifier (`meshtls_enrolled_verifier`) accepts as a peer (a copy
/// of `policy`; default: every member of the identity's trust domain); NULL restores the
/// default.
///
/// # Safety
/// `options` is live and unshared; `policy` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_peer_policy(
    options: *mut meshtls_enroll_options,
    policy: *const meshtls_policy,
) -> meshtls_result {
    // SAFETY: forwarded contract; `policy` is NULL or live.
    unsafe {
        set(options, |o| {
            o.peer_policy = policy.as_ref().map(|p| p.inner.clone());
            Ok(())
        })
    }
}

/// How often the bundle and CRL are fetched again, in seconds (default 300; 0 is refused).
///
/// # Safety
/// `options` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_refresh_interval(
    options: *mut meshtls_enroll_options,
    seconds: u64,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            let d = Duration::from_secs(seconds);
            meshtls_net::enroll::check_refresh_every(d)?;
            o.refresh_every = Some(d);
            Ok(())
        })
    }
}

/// The timeout of each request to the service, in milliseconds (default 30000; 0 is
/// refused). A call may make several requests (enrolling fetches the CRL too).
///
/// # Safety
/// `options` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_timeout_ms(
    options: *mut meshtls_enroll_options,
    milliseconds: u64,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            let d = Duration::from_millis(milliseconds);
            meshtls_net::enroll::check_timeout(d)?;
            o.timeout = Some(d);
            Ok(())
        })
    }
}

/// Keep the chain and key in `DIR/identity.pem` (mode 0600, replaced atomically on each
/// renewal), so that `meshtls_enroll_resume` picks the identity up after a restart; required
/// by resume. NULL: keep nothing on disk (the default).
///
/// # Safety
/// `options` is live and unshared; `dir` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_state_dir(
    options: *mut meshtls_enroll_options,
    dir: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            o.state_dir = arg::optional_text(dir, "dir")?.map(PathBuf::from);
            Ok(())
        })
    }
}

/// The callback that receives the renewal schedule's events, with `user_data` passed back
/// unchanged (NULL callback: none, the default). See `meshtls_rotation_callback` for the
/// threads it runs on.
///
/// # Safety
/// `options` is live and unshared; `callback` is NULL or a function that may be called with
/// `user_data` from any thread until the `meshtls_enrolled` made with these options is freed.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_set_rotation_callback(
    options: *mut meshtls_enroll_options,
    callback: meshtls_rotation_callback,
    user_data: *mut c_void,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        set(options, |o| {
            o.callback = callback;
            o.user_data = user_data;
            Ok(())
        })
    }
}

/// Frees options. NULL is a no-op.
///
/// # Safety
/// `options` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_options_free(options: *mut meshtls_enroll_options) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(options) })
}

/// An identity from the CA service that renews itself (at the rotation policy's time, through
/// `/v1/renew` over mTLS) and keeps its trust bundle and CRL fresh, in the background, until
/// `meshtls_enrolled_free`.
///
/// Its functions may be called from several threads at once (but not free during another).
#[allow(non_camel_case_types)]
pub struct meshtls_enrolled {
    /// Shared with the asynchronous calls in flight (`meshtls_enrolled_renew_now_async`...),
    /// which keep it until they end.
    pub(crate) inner: Arc<EnrolledIdentity>,
    /// Dropped (closed) before `inner` stops the tasks: no event reaches C once free returns.
    events: Option<Events>,
}

const _: () = {
    const fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<meshtls_enrolled>();
};

impl Drop for meshtls_enrolled {
    fn drop(&mut self) {
        // Explicitly first (fields drop after this body, in declaration order anyway).
        drop(self.events.take());
    }
}

/// Hands a new enrolled identity to C, with its event queue.
fn give_enrolled(out: Out<*mut meshtls_enrolled>, inner: EnrolledIdentity, events: Option<Events>) {
    arg::give(out, enrolled(inner, events));
}

/// A new enrolled identity with its event queue, for C.
pub(crate) fn enrolled(inner: EnrolledIdentity, events: Option<Events>) -> meshtls_enrolled {
    if let Some(Events(queue)) = &events {
        let _ = queue.identity.set(inner.identity());
    }
    meshtls_enrolled {
        inner: Arc::new(inner),
        events,
    }
}

/// Enrolls `spiffe_id` at the CA service `url` (`https://host:port`) with the join `token`:
/// makes a key here, sends only a CSR, and on success sets `*out` to an identity that renews
/// itself. Blocks until done (each request bounded by the options' timeout).
///
/// Failures: `MESHTLS_SERVICE_ERROR` when the service refuses (`meshtls_last_error_code`:
/// `token_used`, `token_invalid`, `token_expired`, `identity_mismatch`...);
/// `MESHTLS_TRANSPORT` when it cannot be reached or its certificate is not vouched for by the
/// bundle; `MESHTLS_INVALID_REQUEST` for a URL that is not `https://`; the core's codes for
/// the rest (`MESHTLS_MALFORMED` SPIFFE ID...).
///
/// # Safety
/// Strings are NUL-terminated; `options` is live (not changed during the call); `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll(
    url: *const c_char,
    token: *const c_char,
    spiffe_id: *const c_char,
    options: *const meshtls_enroll_options,
    out: *mut *mut meshtls_enrolled,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (url, token, id, options, out) = unsafe {
            (
                arg::text(url, "url")?,
                arg::text(token, "token")?,
                arg::text(spiffe_id, "spiffe_id")?,
                arg::handle(options, "options")?,
                Out::new(out, "out")?,
            )
        };
        let id = SpiffeId::parse(id)?;
        let (client_options, events) = options.to_client()?;
        // On failure `events` drops here: its thread ends before the error reaches C.
        let inner = block_on(meshtls_net::enroll::enroll(url, token, &id, client_options))??;
        give_enrolled(out, inner, events);
        Ok(())
    })
}

/// Picks up the identity an earlier `meshtls_enroll` kept in the options' state directory
/// (after a restart): no token needed while its certificate is valid; it then renews and
/// refreshes as after `meshtls_enroll`. Options without a state directory, or a directory
/// without an identity, are `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `url` is NUL-terminated; `options` is live (not changed during the call); `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enroll_resume(
    url: *const c_char,
    options: *const meshtls_enroll_options,
    out: *mut *mut meshtls_enrolled,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (url, options, out) = unsafe {
            (
                arg::text(url, "url")?,
                arg::handle(options, "options")?,
                Out::new(out, "out")?,
            )
        };
        let (client_options, events) = options.to_client()?;
        let inner = block_on(meshtls_net::enroll::resume(url, client_options))??;
        give_enrolled(out, inner, events);
        Ok(())
    })
}

/// Runs `f` on a live enrolled identity and hands its bytes to `out`.
///
/// # Safety
/// `enrolled` is NULL or live; `out` is NULL or writable.
unsafe fn enrolled_bytes<F>(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_buffer,
    f: F,
) -> meshtls_result
where
    F: FnOnce(&EnrolledIdentity) -> Result<Vec<u8>, FfiError>,
{
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (e, out) = unsafe { (arg::handle(enrolled, "enrolled")?, Out::new(out, "out")?) };
        give_bytes(out, f(&e.inner)?);
        Ok(())
    })
}

/// The SPIFFE ID.
///
/// # Safety
/// `enrolled` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_spiffe_id(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { enrolled_bytes(enrolled, out, |e| Ok(e.id().to_string().into_bytes())) }
}

/// The serial of the current certificate, lowercase hex.
///
/// # Safety
/// `enrolled` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_serial_hex(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        enrolled_bytes(enrolled, out, |e| {
            Ok(e.identity().current().leaf()?.serial.to_hex().into_bytes())
        })
    }
}

/// The current chain, PEM, leaf first.
///
/// # Safety
/// `enrolled` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_chain_pem(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        enrolled_bytes(enrolled, out, |e| {
            Ok(e.identity().current().chain_pem().into_bytes())
        })
    }
}

/// The current private key, PKCS#8 PEM (`PRIVATE KEY`), for another TLS stack in this process.
/// A renewal may happen between this call and `meshtls_enrolled_chain_pem`: to get a chain and
/// its key together, use `meshtls_enrolled_to_pkcs12`. Free the buffer soon.
///
/// # Safety
/// `enrolled` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_key_pem(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        enrolled_bytes(enrolled, out, |e| {
            Ok(e.identity().current().key_pem().as_bytes().to_vec())
        })
    }
}

/// The current chain and its key as a PKCS#12 protected by `password`, with `profile` a
/// `meshtls_pkcs12_profile` (the legacy one for Mono); the friendly name is the SPIFFE ID. This
/// is how .NET loads the certificate with its key for SslStream.
///
/// # Safety
/// `enrolled` is live; `password` is NUL-terminated; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_to_pkcs12(
    enrolled: *const meshtls_enrolled,
    password: *const c_char,
    profile: u32,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (e, password, out) = unsafe {
            (
                arg::handle(enrolled, "enrolled")?,
                arg::text(password, "password")?,
                Out::new(out, "out")?,
            )
        };
        let profile = pkcs12_profile(profile)?;
        // One generation: the chain and the key of the same certificate.
        let current = e.inner.identity().current();
        let chain: Vec<Vec<u8>> = current.chain().iter().map(|c| c.to_vec()).collect();
        let name = e.inner.id().to_string();
        give_bytes(
            out,
            encoding::to_pkcs12(current.key_pkcs8_der(), &chain, &name, password, profile)?,
        );
        Ok(())
    })
}

/// The generation of the identity: 0 after enrolling, one more after each renewal (0 for
/// NULL).
///
/// # Safety
/// `enrolled` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_generation(enrolled: *const meshtls_enrolled) -> u64 {
    ffi_value(0, || {
        // SAFETY: per this function's contract.
        unsafe { arg::handle(enrolled, "enrolled") }.map_or(0, |e| e.inner.identity().generation())
    })
}

/// How many CRLs fetched from the service were refused for stepping back (a lower CRL
/// number than the one held, or the same number with other content; the held CRL stays and
/// `meshtls_enrolled_refresh_trust` fails with `MESHTLS_STALE_CRL`); 0 for NULL.
///
/// # Safety
/// `enrolled` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_stale_crl_refusals(
    enrolled: *const meshtls_enrolled,
) -> u64 {
    ffi_value(0, || {
        // SAFETY: per this function's contract.
        unsafe { arg::handle(enrolled, "enrolled") }.map_or(0, |e| e.inner.stale_crl_refusals())
    })
}

/// The peer verifier as of now: the CA bundle and CRL last fetched from the service, with
/// the peer policy (`meshtls_enroll_options_set_peer_policy`; default: the members of the
/// identity's trust domain). A snapshot: take a new one after
/// a refresh. Free it with `meshtls_verifier_free`.
///
/// # Safety
/// `enrolled` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_verifier(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_verifier,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (e, out) = unsafe { (arg::handle(enrolled, "enrolled")?, Out::new(out, "out")?) };
        let inner = (*e.inner.trust().current()).clone();
        arg::give(out, meshtls_verifier::fixed(inner));
        Ok(())
    })
}

/// The peer trust, live: a verifier that always uses the CA bundle and CRL last fetched from
/// the service, with the peer policy (as `meshtls_enrolled_verifier`). A certificate revoked
/// through the service is refused by it after the next refresh, with no new verifier. It
/// keeps what it last had once the identity is freed. Free it with `meshtls_verifier_free`.
///
/// # Safety
/// `enrolled` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_trust(
    enrolled: *const meshtls_enrolled,
    out: *mut *mut meshtls_verifier,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (e, out) = unsafe { (arg::handle(enrolled, "enrolled")?, Out::new(out, "out")?) };
        arg::give(out, meshtls_verifier::live(e.inner.trust()));
        Ok(())
    })
}

/// Another live trust with its own `policy` (a copy) on the same CA bundle and CRL, for a
/// second listener that admits other peers; every refresh swaps it too while it is held. Free
/// it with `meshtls_verifier_free`.
///
/// # Safety
/// `enrolled` and `policy` are live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_trust_for(
    enrolled: *const meshtls_enrolled,
    policy: *const meshtls_policy,
    out: *mut *mut meshtls_verifier,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (e, policy, out) = unsafe {
            (
                arg::handle(enrolled, "enrolled")?,
                arg::handle(policy, "policy")?,
                Out::new(out, "out")?,
            )
        };
        let trust = e.inner.trust_for(policy.inner.clone());
        arg::give(out, meshtls_verifier::live(trust));
        Ok(())
    })
}

/// Renews now (a new key and certificate; the schedule does it by itself). Blocks until done;
/// fails as `meshtls_enroll` does (`revoked` when the service refuses a revoked identity).
///
/// # Safety
/// `enrolled` is live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_renew_now(
    enrolled: *const meshtls_enrolled,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let e = unsafe { arg::handle(enrolled, "enrolled")? };
        block_on(e.inner.renew_now())??;
        Ok(())
    })
}

/// Fetches the CA bundle and CRL now (the schedule does it every refresh interval). Blocks
/// until done.
///
/// # Safety
/// `enrolled` is live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_refresh_trust(
    enrolled: *const meshtls_enrolled,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let e = unsafe { arg::handle(enrolled, "enrolled")? };
        block_on(e.inner.refresh_trust())??;
        Ok(())
    })
}

/// Stops the renewals and refreshes and frees the identity. Once it returns, the rotation
/// callback is not running and will not be called again. NULL is a no-op.
///
/// # Safety
/// `enrolled` is NULL or from this library, not freed before and not used after (nor during,
/// by another thread).
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_free(enrolled: *mut meshtls_enrolled) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(enrolled) })
}

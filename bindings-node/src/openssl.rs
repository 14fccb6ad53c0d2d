//! The core as the certificate verifier of Node's own OpenSSL (the `tls`/`https` server path).
//!
//! Node gives OpenSSL a verify callback that accepts everything and checks
//! `SSL_get_verify_result` once the handshake is over, so a server built on `tls` can only
//! drop a refused client after the handshake, without an alert, and a guarded server verified
//! every chain twice (OpenSSL, then the core). Node links OpenSSL into its own binary and
//! exports its symbols, and a `SecureContext` hands out its `SSL_CTX*` (`context._external`).
//! [`hook_secure_context`] installs `SSL_CTX_set_cert_verify_callback` on it: OpenSSL then
//! calls the core *instead of* its own chain verification, in the handshake, and a refusal
//! fails the handshake with the TLS alert of the core's code (`net::profile::alert_for`).
//!
//! - The alert: OpenSSL sends `ssl_x509err2alert(verify error)` when the callback fails, so
//!   the callback sets the X.509 error whose alert is the profile's. `access_denied` (the
//!   policy's codes, `identity_not_allowed` and `not_pinned`) has no X.509 error; it is sent
//!   through OpenSSL's `ossl_statem_fatal` when Node's OpenSSL exports it (OpenSSL 3), else
//!   the refusal goes out as `certificate_unknown`.
//! - The verdict: an accepted chain's [`PeerIdentity`] waits in a small table keyed by the
//!   hook and the connection (the server's Finished in TLS 1.3, which `socket.getFinished()`
//!   returns; the leaf's DER in TLS 1.2) until the JavaScript guard takes it on `'secureConnection'`
//!   ([`take_peer`]); a refusal is kept for [`take_refusal`], which the guard calls from the
//!   `'tlsClientError'` that the failed handshake raises on the same turn of the event loop.
//! - Lifetime: the hook's state is ex_data of the `SSL_CTX`, dropped when OpenSSL frees it.
//!
//! Everything is looked up with `dlsym` in the running process, never linked: the addon must
//! use Node's OpenSSL, not another copy. Where a symbol is missing (another runtime, Windows)
//! [`hook_secure_context`] returns `null` and the JavaScript guard keeps verifying after the
//! handshake, as before.

use std::collections::{HashMap, VecDeque};
use std::ffi::{c_char, c_int, c_long, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use meshtls_core::{ErrorCode, PeerUsage, Verifier as CoreVerifier};
use meshtls_net::profile;
use meshtls_net::TrustHandle;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::trust::Trust;
use crate::verify::{peer_identity, PeerIdentity, Verifier};

type VerifyCb = unsafe extern "C" fn(*mut c_void, *mut c_void) -> c_int;
type ExFree =
    unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void, c_int, c_long, *mut c_void);
type SetCertVerifyCallback = unsafe extern "C" fn(*mut c_void, Option<VerifyCb>, *mut c_void);
type GetExNewIndex = unsafe extern "C" fn(
    c_int,
    c_long,
    *mut c_void,
    *mut c_void,
    *mut c_void,
    Option<ExFree>,
) -> c_int;
type SetExData = unsafe extern "C" fn(*mut c_void, c_int, *mut c_void) -> c_int;
type GetExData = unsafe extern "C" fn(*const c_void, c_int) -> *mut c_void;
type Getter = unsafe extern "C" fn(*const c_void) -> *mut c_void;
type SetError = unsafe extern "C" fn(*mut c_void, c_int);
type Index = unsafe extern "C" fn() -> c_int;
type SkNum = unsafe extern "C" fn(*const c_void) -> c_int;
type SkValue = unsafe extern "C" fn(*const c_void, c_int) -> *mut c_void;
type I2d = unsafe extern "C" fn(*const c_void, *mut *mut u8) -> c_int;
type GetFinished = unsafe extern "C" fn(*const c_void, *mut c_void, usize) -> usize;
type StatemFatal = unsafe extern "C" fn(*mut c_void, c_int, c_int, *const c_char, ...);

/// The OpenSSL functions the hook calls, found in the running process.
struct Api {
    set_cert_verify_callback: SetCertVerifyCallback,
    get_ex_new_index: GetExNewIndex,
    ctx_set_ex_data: SetExData,
    ctx_get_ex_data: GetExData,
    store_get0_cert: Getter,
    store_get0_untrusted: Getter,
    store_set_error: SetError,
    store_get_ex_data: GetExData,
    ssl_store_idx: Index,
    sk_num: SkNum,
    sk_value: SkValue,
    i2d_x509: I2d,
    get_finished: GetFinished,
    /// `ossl_statem_fatal(SSL*, alert, reason, fmt, ...)`: internal to OpenSSL 3 but
    /// exported by Node; the only way to send `access_denied` from a verify callback.
    statem_fatal: Option<StatemFatal>,
    /// OpenSSL's version number (`0xMNN00PP0L`).
    version: u64,
    ex_index: c_int,
}

// SAFETY: the fields are plain function pointers into OpenSSL and an index.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

const CRYPTO_EX_INDEX_SSL_CTX: c_int = 1;
const SSL_R_CERTIFICATE_VERIFY_FAILED: c_int = 134;
const X509_V_OK: c_int = 0;

fn symbol(name: &CStr) -> *mut c_void {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the process's
    // symbol tables.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

macro_rules! required {
    ($name:literal, $ty:ty) => {{
        let p = symbol($name);
        if p.is_null() {
            return None;
        }
        // SAFETY: the symbol is OpenSSL's public function of that name; the field's type is
        // its C signature.
        unsafe { std::mem::transmute::<*mut c_void, $ty>(p) }
    }};
}

fn load() -> Option<Api> {
    let version_num = symbol(c"OpenSSL_version_num");
    if version_num.is_null() {
        return None;
    }
    // SAFETY: `unsigned long OpenSSL_version_num(void)`.
    let version = unsafe {
        std::mem::transmute::<*mut c_void, unsafe extern "C" fn() -> std::ffi::c_ulong>(version_num)(
        )
    } as u64;
    // Major version 3: the signatures below (and `ossl_statem_fatal`'s) are OpenSSL 3's.
    if version >> 28 != 3 {
        return None;
    }
    let statem = symbol(c"ossl_statem_fatal");
    let mut api = Api {
        set_cert_verify_callback: required!(
            c"SSL_CTX_set_cert_verify_callback",
            SetCertVerifyCallback
        ),
        get_ex_new_index: required!(c"CRYPTO_get_ex_new_index", GetExNewIndex),
        ctx_set_ex_data: required!(c"SSL_CTX_set_ex_data", SetExData),
        ctx_get_ex_data: required!(c"SSL_CTX_get_ex_data", GetExData),
        store_get0_cert: required!(c"X509_STORE_CTX_get0_cert", Getter),
        store_get0_untrusted: required!(c"X509_STORE_CTX_get0_untrusted", Getter),
        store_set_error: required!(c"X509_STORE_CTX_set_error", SetError),
        store_get_ex_data: required!(c"X509_STORE_CTX_get_ex_data", GetExData),
        ssl_store_idx: required!(c"SSL_get_ex_data_X509_STORE_CTX_idx", Index),
        sk_num: required!(c"OPENSSL_sk_num", SkNum),
        sk_value: required!(c"OPENSSL_sk_value", SkValue),
        i2d_x509: required!(c"i2d_X509", I2d),
        get_finished: required!(c"SSL_get_finished", GetFinished),
        statem_fatal: if statem.is_null() {
            None
        } else {
            // SAFETY: OpenSSL 3's `void ossl_statem_fatal(SSL_CONNECTION *s, int al, int
            // reason, const char *fmt, ...)`; an `SSL*` of a TLS connection is its
            // `SSL_CONNECTION*` (3.0: the same type; 3.2+: the first member).
            Some(unsafe { std::mem::transmute::<*mut c_void, StatemFatal>(statem) })
        },
        version,
        ex_index: -1,
    };
    // SAFETY: CRYPTO_get_ex_new_index(class, argl, argp, new, dup, free).
    api.ex_index = unsafe {
        (api.get_ex_new_index)(
            CRYPTO_EX_INDEX_SSL_CTX,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            Some(free_hook),
        )
    };
    if api.ex_index < 0 {
        return None;
    }
    Some(api)
}

fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(load).as_ref()
}

/// Who decides: a fixed verifier or a live trust handle.
enum Decider {
    Snapshot(Box<CoreVerifier>),
    Live(TrustHandle),
}

/// The state of one hooked `SSL_CTX`.
struct Hook {
    id: u32,
    decider: Decider,
}

impl Hook {
    fn verify(&self, chain: &[Vec<u8>]) -> meshtls_core::error::Result<meshtls_core::PeerIdentity> {
        let now = crate::validity::at(None);
        match &self.decider {
            Decider::Snapshot(v) => v.verify(chain, PeerUsage::Client, now),
            Decider::Live(t) => t.current().verify(chain, PeerUsage::Client, now),
        }
    }
}

unsafe extern "C" fn free_hook(
    _parent: *mut c_void,
    ptr: *mut c_void,
    _ad: *mut c_void,
    _idx: c_int,
    _argl: c_long,
    _argp: *mut c_void,
) {
    if !ptr.is_null() {
        // SAFETY: the pointer was made by Box::into_raw in `hook_secure_context` and OpenSSL
        // frees the ex_data once, with its SSL_CTX.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(ptr as *mut Hook) })
        }));
    }
}

/// The X.509 verify error whose alert (`ssl_x509err2alert`) is `alert`, when one exists
/// (net's table).
fn x509_error_for(alert: profile::Alert) -> Option<c_int> {
    profile::openssl_verify_error(alert.number)
}

/// A refusal made by a hook, waiting for the JavaScript guard.
#[derive(Clone)]
struct Refused {
    code: ErrorCode,
    message: String,
    alert: profile::Alert,
}

/// Accepted peers by (hook, server Finished or leaf DER), oldest first for eviction.
#[derive(Default)]
struct Verdicts {
    accepted: HashMap<(u32, Vec<u8>), Vec<meshtls_core::PeerIdentity>>,
    order: VecDeque<(u32, Vec<u8>)>,
}

thread_local! {
    /// The last refusal made on this thread: OpenSSL runs a handshake on the thread of the
    /// event loop that owns the socket, and Node raises its 'tlsClientError' there too.
    static REFUSED: std::cell::RefCell<Option<Refused>> = const { std::cell::RefCell::new(None) };
}

/// Accepted chains whose handshake never completed (the client failed its CertificateVerify
/// or hung up) are forgotten past this many.
const MAX_PENDING: usize = 4096;

fn verdicts() -> &'static Mutex<Verdicts> {
    static V: OnceLock<Mutex<Verdicts>> = OnceLock::new();
    V.get_or_init(Mutex::default)
}

fn record_accept(id: u32, leaf: Vec<u8>, peer: meshtls_core::PeerIdentity) {
    REFUSED.with(|r| r.borrow_mut().take());
    let Ok(mut v) = verdicts().lock() else { return };
    let key = (id, leaf);
    v.accepted.entry(key.clone()).or_default().push(peer);
    v.order.push_back(key);
    while v.order.len() > MAX_PENDING {
        if let Some(old) = v.order.pop_front() {
            if let Some(list) = v.accepted.get_mut(&old) {
                if !list.is_empty() {
                    list.remove(0);
                }
                if list.is_empty() {
                    v.accepted.remove(&old);
                }
            }
        }
    }
}

fn record_refusal(r: Refused) {
    REFUSED.with(|slot| *slot.borrow_mut() = Some(r));
}

/// The DER of one X509*.
unsafe fn der_of(api: &Api, x509: *const c_void) -> Option<Vec<u8>> {
    let len = (api.i2d_x509)(x509, std::ptr::null_mut());
    if len <= 0 {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    let mut p = buf.as_mut_ptr();
    let written = (api.i2d_x509)(x509, &mut p);
    if written != len {
        return None;
    }
    Some(buf)
}

/// The peer chain, leaf first, as OpenSSL received it.
unsafe fn peer_chain(api: &Api, store: *mut c_void) -> Option<Vec<Vec<u8>>> {
    let leaf = (api.store_get0_cert)(store);
    if leaf.is_null() {
        return None;
    }
    let mut chain = vec![der_of(api, leaf)?];
    let untrusted = (api.store_get0_untrusted)(store);
    if !untrusted.is_null() {
        for i in 0..(api.sk_num)(untrusted) {
            let x = (api.sk_value)(untrusted, i);
            if !x.is_null() && x != leaf {
                chain.push(der_of(api, x)?);
            }
        }
    }
    Some(chain)
}

/// Calls of the callback and the time spent in them (ns), for the handshake benchmark.
static CALLS: AtomicU64 = AtomicU64::new(0);
static NANOS: AtomicU64 = AtomicU64::new(0);
static VERIFY_NANOS: AtomicU64 = AtomicU64::new(0);

/// What names this handshake for the JavaScript guard: in TLS 1.3 the server has sent its
/// Finished before the client's certificate arrives, and `socket.getFinished()` returns the
/// same bytes after the handshake (unique per connection, and cheap to read on both sides).
/// `None` in TLS 1.2, where the server's Finished comes later: the leaf's DER names it then.
unsafe fn connection_key(api: &Api, store: *mut c_void) -> Option<Vec<u8>> {
    let ssl = (api.store_get_ex_data)(store, (api.ssl_store_idx)());
    if ssl.is_null() {
        return None;
    }
    let mut buf = [0u8; 64];
    let n = (api.get_finished)(ssl, buf.as_mut_ptr() as *mut c_void, buf.len());
    (n > 0 && n <= buf.len()).then(|| buf[..n].to_vec())
}

/// `SSL_CTX_set_cert_verify_callback`'s callback: 1 accepts, 0 fails the handshake.
unsafe extern "C" fn verify_cb(store: *mut c_void, arg: *mut c_void) -> c_int {
    let started = Instant::now();
    let outcome = verify_inner(store, arg);
    CALLS.fetch_add(1, Ordering::Relaxed);
    NANOS.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
    outcome
}

unsafe fn verify_inner(store: *mut c_void, arg: *mut c_void) -> c_int {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Some(api) = api() else { return 0 };
        if arg.is_null() {
            return 0;
        }
        // SAFETY: `arg` is the Hook this SSL_CTX owns as ex_data (alive while it is).
        let hook = &*(arg as *const Hook);
        let verdict = match peer_chain(api, store) {
            Some(chain) => {
                let t = Instant::now();
                let v = hook.verify(&chain).map(|p| (chain, p));
                VERIFY_NANOS.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                v
            }
            None => Err(meshtls_core::Error::new(
                ErrorCode::Malformed,
                "the peer's certificate could not be read back from OpenSSL",
            )),
        };
        match verdict {
            Ok((mut chain, peer)) => {
                (api.store_set_error)(store, X509_V_OK);
                let key = connection_key(api, store).unwrap_or_else(|| chain.swap_remove(0));
                record_accept(hook.id, key, peer);
                1
            }
            Err(e) => {
                let alert = profile::alert_for(e.code());
                refuse(api, store, alert);
                record_refusal(Refused {
                    code: e.code(),
                    message: e.message().to_owned(),
                    alert,
                });
                0
            }
        }
    }));
    outcome.unwrap_or(0)
}

/// Makes OpenSSL fail the handshake with `alert`.
unsafe fn refuse(api: &Api, store: *mut c_void, alert: profile::Alert) {
    match (x509_error_for(alert), api.statem_fatal) {
        (Some(err), _) => (api.store_set_error)(store, err),
        (None, Some(fatal)) => {
            // The error OpenSSL reports (and Node's verifyError) is the generic one; the
            // alert is sent now, and OpenSSL's own SSLfatal after we return 0 sends nothing
            // more (one fatal error per connection).
            (api.store_set_error)(store, 50); // X509_V_ERR_APPLICATION_VERIFICATION
            let ssl = (api.store_get_ex_data)(store, (api.ssl_store_idx)());
            if !ssl.is_null() {
                fatal(
                    ssl,
                    c_int::from(alert.number),
                    SSL_R_CERTIFICATE_VERIFY_FAILED,
                    std::ptr::null(),
                );
            }
        }
        (None, None) => {
            // certificate_unknown, see x509_error_for
            (api.store_set_error)(
                store,
                x509_error_for(profile::CERTIFICATE_UNKNOWN).unwrap_or(49),
            );
        }
    }
}

/// The pointer a V8 `External` holds. Node-API's `napi_get_value_external` reads only
/// externals that Node-API made (it unwraps its own holder), so this asks V8 itself:
/// `v8::External::Value() const`, exported by Node, whose `this` is the value's handle (what
/// a `napi_value` is in Node).
fn ssl_ctx_of(env: &Env, value: &Unknown) -> Option<*mut c_void> {
    let mut kind = 0;
    // SAFETY: napi_typeof on a live value of this env.
    let status = unsafe { napi::sys::napi_typeof(env.raw(), value.raw(), &mut kind) };
    if status != napi::sys::Status::napi_ok || kind != napi::sys::ValueType::napi_external {
        return None;
    }
    let value_fn = symbol(c"_ZNK2v88External5ValueEv");
    if value_fn.is_null() {
        return None;
    }
    // SAFETY: `void* v8::External::Value() const` (Itanium ABI: `this` first); the handle is
    // an External (checked above) and lives for this call.
    let raw = unsafe {
        std::mem::transmute::<*mut c_void, unsafe extern "C" fn(*const c_void) -> *mut c_void>(
            value_fn,
        )(value.raw() as *const c_void)
    };
    (!raw.is_null()).then_some(raw)
}

/// What `hookSecureContext` installed.
#[napi(object)]
pub struct HostHook {
    /// The hook's number, to take its verdicts with `takePeer`.
    pub id: u32,
    /// Whether every code gets its own alert (`false`: `identity_not_allowed` and
    /// `not_pinned` go out as `certificate_unknown`).
    pub exact_alerts: bool,
    /// The OpenSSL version Node runs, as OpenSSL prints it (`3.0.19`).
    pub openssl: String,
}

/// Makes the core the certificate verifier of a Node `SecureContext`: client chains are
/// verified by `verifier` during the handshake, and a refused chain fails the handshake with
/// the TLS alert of the core's code. Returns `null` where Node's OpenSSL cannot be reached (the
/// caller then verifies after the handshake). Used by `createServer`/`guardServer`; not needed
/// directly. `external` must be `secureContext.context._external` of a context made by Node's
/// `tls` (its `SSL_CTX*`): any other External is taken for one too.
#[napi(catch_unwind)]
pub fn hook_secure_context(
    env: Env,
    external: Unknown,
    verifier: Either<&Verifier, &Trust>,
) -> Option<HostHook> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let api = api()?;
    let raw = ssl_ctx_of(&env, &external)?;
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let decider = match verifier {
        Either::A(v) => Decider::Snapshot(Box::new(v.inner.clone())),
        Either::B(t) => Decider::Live(t.handle.clone()),
    };
    let hook = Box::into_raw(Box::new(Hook { id, decider })) as *mut c_void;
    // SAFETY: `raw` is the SSL_CTX* of a live SecureContext (the caller holds it); the old
    // hook, if any, is replaced and freed after OpenSSL points at the new one.
    unsafe {
        let old = (api.ctx_get_ex_data)(raw, api.ex_index);
        if (api.ctx_set_ex_data)(raw, api.ex_index, hook) != 1 {
            drop(Box::from_raw(hook as *mut Hook));
            return None;
        }
        (api.set_cert_verify_callback)(raw, Some(verify_cb), hook);
        if !old.is_null() {
            drop(Box::from_raw(old as *mut Hook));
        }
    }
    let v = api.version;
    Some(HostHook {
        id,
        exact_alerts: api.statem_fatal.is_some(),
        openssl: format!("{}.{}.{}", v >> 28, (v >> 20) & 0xff, (v >> 4) & 0xff),
    })
}

/// The peer a hook accepted in a handshake, taken once: `key` is the server's Finished
/// (`socket.getFinished()`, TLS 1.3) or the leaf certificate's DER (TLS 1.2); `null` when the
/// hook made no such verdict (a resumed session, a context without the hook).
#[napi(catch_unwind)]
pub fn take_peer(hook: u32, key: Uint8Array) -> Option<PeerIdentity> {
    let mut v = verdicts().lock().ok()?;
    let key = (hook, key.to_vec());
    let list = v.accepted.get_mut(&key)?;
    let peer = if list.is_empty() {
        None
    } else {
        Some(list.remove(0))
    };
    if list.is_empty() {
        v.accepted.remove(&key);
    }
    if let Some(pos) = v.order.iter().position(|k| *k == key) {
        v.order.remove(pos);
    }
    peer.map(peer_identity)
}

/// A refusal a hook sent as an alert.
#[napi(object)]
pub struct HostRefusal {
    /// The core's code.
    pub code: String,
    /// The core's message.
    pub message: String,
    /// The alert sent (`access_denied`...).
    pub alert: String,
    /// Its wire number.
    pub alert_number: u32,
}

/// The last refusal a hook made on this thread, taken once (the guard calls it from the
/// `'tlsClientError'` of the handshake that failed).
#[napi(catch_unwind)]
pub fn take_refusal() -> Option<HostRefusal> {
    let r = REFUSED.with(|slot| slot.borrow_mut().take())?;
    Some(HostRefusal {
        code: r.code.as_str().to_owned(),
        message: r.message,
        alert: r.alert.name.to_owned(),
        alert_number: u32::from(r.alert.number),
    })
}

/// What the hooks of this process did: handshakes verified (accepted or refused), the time in
/// the callback and the part of it in the core's `verify` (µs in all). For the handshake
/// benchmark (`bench/handshake.mjs`), which reports where a guarded handshake's time goes.
#[napi(object)]
pub struct HookStats {
    /// Callback calls.
    pub calls: f64,
    /// Microseconds in the callback (reading the chain, the core, the verdict table).
    pub callback_micros: f64,
    /// Of which in the core's verification.
    pub verify_micros: f64,
}

/// The hooks' counters (see [`HookStats`]).
#[napi(catch_unwind)]
pub fn hook_stats() -> HookStats {
    HookStats {
        calls: CALLS.load(Ordering::Relaxed) as f64,
        callback_micros: NANOS.load(Ordering::Relaxed) as f64 / 1000.0,
        verify_micros: VERIFY_NANOS.load(Ordering::Relaxed) as f64 / 1000.0,
    }
}

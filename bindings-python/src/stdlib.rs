//! The native half of the standard-library `ssl` integration (`meshtls._stdlib`): hands the
//! peer's chain to the core *inside* OpenSSL's handshake, applies the TLS profile of
//! `meshtls_net::profile`, and loads the identity's key without a file or a passphrase.
//!
//! Python's `ssl` has no hook for a custom chain verification, so this module reaches the
//! `SSL_CTX *` behind an `ssl.SSLContext` (CPython's `PySSLContext` starts with
//! `PyObject_HEAD` then `SSL_CTX *ctx`) and calls the OpenSSL that `_ssl` already loaded,
//! resolved with `dlsym` through `_ssl`'s own handle (so exactly its libssl and libcrypto):
//!
//! - `SSL_CTX_set_cert_verify_callback`: OpenSSL does not build or verify the chain itself;
//!   the callback passes the presented chain (DER) to the core once and keeps the verdict
//!   on the `SSL` (ex_data). A refusal fails the handshake with the `X509_V_ERR_*` that
//!   OpenSSL 3.0 turns into the alert [`profile::alert_for`] names (`ssl_x509err2alert`).
//! - `access_denied` (`identity_not_allowed`, `not_pinned`) has no `X509_V_ERR_*`: on a
//!   TLS 1.3 server the callback lets the handshake run on and a custom extension of the
//!   NewSessionTicket (never put on the wire) fails the handshake with that alert right
//!   after the client's Finished, as the Rust transport does. On TLS 1.2 and on clients these
//!   go out as `certificate_unknown` (the profile's alert for a reason no alert names).
//! - `SSL_CTX_use_cert_and_key` from DER in memory: no scrypt, no temporary file, one call
//!   (a renewal swaps certificate, chain and key together).
//!
//! Everything is checked before use (the OpenSSL major version, every symbol, the
//! `SSL_CTX *` against the context's `options`); when anything is missing, `available()` is
//! false and the Python layer keeps its portable path (files + a check after the handshake).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void, CString};
use std::sync::OnceLock;

use meshtls_core::{Error as CoreError, ErrorCode, PeerIdentity as CorePeer, PeerUsage};
use meshtls_net::profile::{self, TlsProfile};
use meshtls_net::TrustHandle;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::error::to_py;
use crate::net::Identity;
use crate::trust::trust_handle;
use crate::validity::now;
use crate::verify::PeerIdentity;

type Ptr = *mut c_void;
type VerifyCb = unsafe extern "C" fn(Ptr, Ptr) -> c_int;
type AddCb = unsafe extern "C" fn(
    Ptr,
    c_uint,
    c_uint,
    *mut *const u8,
    *mut usize,
    Ptr,
    usize,
    *mut c_int,
    Ptr,
) -> c_int;
type ExFree = unsafe extern "C" fn(Ptr, Ptr, Ptr, c_int, c_long, Ptr);

/// The OpenSSL functions used, resolved once.
struct Api {
    set_cert_verify_callback: unsafe extern "C" fn(Ptr, Option<VerifyCb>, Ptr),
    add_custom_ext: unsafe extern "C" fn(
        Ptr,
        c_uint,
        c_uint,
        Option<AddCb>,
        Option<unsafe extern "C" fn()>,
        Ptr,
        Option<unsafe extern "C" fn()>,
        Ptr,
    ) -> c_int,
    set_ciphersuites: unsafe extern "C" fn(Ptr, *const c_char) -> c_int,
    set_cipher_list: unsafe extern "C" fn(Ptr, *const c_char) -> c_int,
    ctx_ctrl: unsafe extern "C" fn(Ptr, c_int, c_long, Ptr) -> c_long,
    use_cert_and_key: unsafe extern "C" fn(Ptr, Ptr, Ptr, Ptr, c_int) -> c_int,
    ctx_get_options: unsafe extern "C" fn(Ptr) -> u64,
    ssl_store_idx: unsafe extern "C" fn() -> c_int,
    ssl_is_server: unsafe extern "C" fn(Ptr) -> c_int,
    ssl_version: unsafe extern "C" fn(Ptr) -> c_int,
    ssl_get_ctx: unsafe extern "C" fn(Ptr) -> Ptr,
    ssl_set_ex_data: unsafe extern "C" fn(Ptr, c_int, Ptr) -> c_int,
    ssl_get_ex_data: unsafe extern "C" fn(Ptr, c_int) -> Ptr,
    store_get_ex_data: unsafe extern "C" fn(Ptr, c_int) -> Ptr,
    store_get0_untrusted: unsafe extern "C" fn(Ptr) -> Ptr,
    store_get0_cert: unsafe extern "C" fn(Ptr) -> Ptr,
    store_set_error: unsafe extern "C" fn(Ptr, c_int),
    sk_num: unsafe extern "C" fn(Ptr) -> c_int,
    sk_value: unsafe extern "C" fn(Ptr, c_int) -> Ptr,
    sk_new_null: unsafe extern "C" fn() -> Ptr,
    sk_push: unsafe extern "C" fn(Ptr, Ptr) -> c_int,
    sk_free: unsafe extern "C" fn(Ptr),
    i2d_x509: unsafe extern "C" fn(Ptr, *mut *mut u8) -> c_int,
    d2i_x509: unsafe extern "C" fn(*mut Ptr, *mut *const u8, c_long) -> Ptr,
    x509_free: unsafe extern "C" fn(Ptr),
    d2i_auto_private_key: unsafe extern "C" fn(*mut Ptr, *mut *const u8, c_long) -> Ptr,
    d2i_private_key: unsafe extern "C" fn(c_int, *mut Ptr, *mut *const u8, c_long) -> Ptr,
    pkey_free: unsafe extern "C" fn(Ptr),
    err_clear: unsafe extern "C" fn(),
    /// Our ex_data index on `SSL` objects (the verdict of the handshake).
    ex_index: c_int,
}

// SAFETY: the table holds plain function pointers and an integer, set once.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

static API: OnceLock<Option<Api>> = OnceLock::new();

const RTLD_NOLOAD: c_int = libc::RTLD_NOLOAD;
const CRYPTO_EX_INDEX_SSL: c_int = 0;
const SSL_CTRL_SET_SESS_CACHE_MODE: c_int = 44;
const SSL_CTRL_SET_GROUPS_LIST: c_int = 92;
const SSL_EXT_TLS1_3_NEW_SESSION_TICKET: c_uint = 0x2000;
const SSL_EXT_TLS1_3_ONLY: c_uint = 0x0020;
/// The private-use extension type of the NewSessionTicket hook (never sent: its callback
/// either skips the extension or fails the handshake).
const REFUSAL_EXT_TYPE: c_uint = 0xfe4d;
const TLS1_3_VERSION: c_int = 0x0304;
const X509_V_OK: c_int = 0;
const X509_V_ERR_UNSPECIFIED: c_int = 1;

/// The `X509_V_ERR_*` that OpenSSL 3.0 sends as the alert with this number (net's table).
fn x509_error_for(alert: u8) -> Option<c_int> {
    profile::openssl_verify_error(alert)
}

/// What the core decided for one handshake, kept on the `SSL`.
// Boxed once per handshake anyway: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Verdict {
    Accepted(CorePeer),
    Refused(CoreError),
}

/// The state a context's callbacks read: the live trust (a `Trust`'s handle, or a handle on a
/// copy of a `Verifier`).
struct HookState {
    trust: TrustHandle,
}

/// Keeps the callbacks' state alive as long as the `ssl.SSLContext` holding it (the Python
/// context references it; OpenSSL holds a pointer to the boxed state).
#[pyclass(frozen, module = "meshtls._native")]
pub struct SslHook {
    // Read by OpenSSL through the pointer given to the callbacks, never from Rust.
    #[allow(dead_code)]
    state: Box<HookState>,
}

unsafe extern "C" fn free_verdict(
    _parent: Ptr,
    ptr: Ptr,
    _ad: Ptr,
    _idx: c_int,
    _argl: c_long,
    _argp: Ptr,
) {
    if !ptr.is_null() {
        // SAFETY: every non-null value at our index is a Box<Verdict> we leaked.
        drop(unsafe { Box::from_raw(ptr.cast::<Verdict>()) });
    }
}

fn resolve(ssl_module_path: &str) -> Option<Api> {
    let path = CString::new(ssl_module_path).ok()?;
    // SAFETY: dlopen with RTLD_NOLOAD only returns a handle to an already loaded object.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | RTLD_NOLOAD) };
    if handle.is_null() {
        return None;
    }
    macro_rules! sym {
        ($name:literal) => {{
            // SAFETY: dlsym through `_ssl`'s handle searches `_ssl` and its dependencies;
            // the signature is OpenSSL 3's public prototype of the named function.
            let p = unsafe { libc::dlsym(handle, concat!($name, "\0").as_ptr().cast()) };
            if p.is_null() {
                return None;
            }
            #[allow(clippy::missing_transmute_annotations)]
            unsafe {
                std::mem::transmute(p)
            }
        }};
    }
    let version_num: unsafe extern "C" fn() -> c_ulong = sym!("OpenSSL_version_num");
    // SAFETY: no arguments.
    let version = unsafe { version_num() };
    if version >> 28 != 3 {
        return None;
    }
    let get_ex_new_index: unsafe extern "C" fn(
        c_int,
        c_long,
        Ptr,
        Option<ExFree>,
        Option<unsafe extern "C" fn()>,
        Option<ExFree>,
    ) -> c_int = sym!("CRYPTO_get_ex_new_index");
    // SAFETY: registers a free callback for our index on SSL objects.
    let ex_index = unsafe {
        get_ex_new_index(
            CRYPTO_EX_INDEX_SSL,
            0,
            std::ptr::null_mut(),
            None,
            None,
            Some(free_verdict),
        )
    };
    if ex_index < 0 {
        return None;
    }
    Some(Api {
        set_cert_verify_callback: sym!("SSL_CTX_set_cert_verify_callback"),
        add_custom_ext: sym!("SSL_CTX_add_custom_ext"),
        set_ciphersuites: sym!("SSL_CTX_set_ciphersuites"),
        set_cipher_list: sym!("SSL_CTX_set_cipher_list"),
        ctx_ctrl: sym!("SSL_CTX_ctrl"),
        use_cert_and_key: sym!("SSL_CTX_use_cert_and_key"),
        ctx_get_options: sym!("SSL_CTX_get_options"),
        ssl_store_idx: sym!("SSL_get_ex_data_X509_STORE_CTX_idx"),
        ssl_is_server: sym!("SSL_is_server"),
        ssl_version: sym!("SSL_version"),
        ssl_get_ctx: sym!("SSL_get_SSL_CTX"),
        ssl_set_ex_data: sym!("SSL_set_ex_data"),
        ssl_get_ex_data: sym!("SSL_get_ex_data"),
        store_get_ex_data: sym!("X509_STORE_CTX_get_ex_data"),
        store_get0_untrusted: sym!("X509_STORE_CTX_get0_untrusted"),
        store_get0_cert: sym!("X509_STORE_CTX_get0_cert"),
        store_set_error: sym!("X509_STORE_CTX_set_error"),
        sk_num: sym!("OPENSSL_sk_num"),
        sk_value: sym!("OPENSSL_sk_value"),
        sk_new_null: sym!("OPENSSL_sk_new_null"),
        sk_push: sym!("OPENSSL_sk_push"),
        sk_free: sym!("OPENSSL_sk_free"),
        i2d_x509: sym!("i2d_X509"),
        d2i_x509: sym!("d2i_X509"),
        x509_free: sym!("X509_free"),
        d2i_auto_private_key: sym!("d2i_AutoPrivateKey"),
        d2i_private_key: sym!("d2i_PrivateKey"),
        pkey_free: sym!("EVP_PKEY_free"),
        err_clear: sym!("ERR_clear_error"),
        ex_index,
    })
}

/// The resolved API, if this interpreter's `ssl` runs on OpenSSL 3 with every symbol found.
fn api(py: Python<'_>) -> Option<&'static Api> {
    API.get_or_init(|| {
        let path: Option<String> = py
            .import("_ssl")
            .and_then(|m| m.getattr("__file__"))
            .and_then(|f| f.extract())
            .ok();
        path.and_then(|p| resolve(&p))
    })
    .as_ref()
}

static SSL_CONTEXT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SSL_SOCKET: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `_ssl.<name>`, looked up once.
fn ssl_type<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'static Py<PyType>> {
    cell.get_or_try_init(py, || {
        Ok(py
            .import("_ssl")?
            .getattr(name)?
            .cast_into::<PyType>()?
            .unbind())
    })
}

/// The `SSL_CTX *` field of a `_ssl._SSLContext` (PyObject_HEAD, then `SSL_CTX *ctx`).
fn ctx_field(py: Python<'_>, context: &Bound<'_, PyAny>) -> PyResult<Ptr> {
    let base = ssl_type(py, &SSL_CONTEXT, "_SSLContext")?.bind(py);
    if !context.is_instance(base)? {
        return Err(PyTypeError::new_err("expected an ssl.SSLContext"));
    }
    // SAFETY: `context` is a live `_ssl._SSLContext` (checked above).
    Ok(unsafe {
        *context
            .as_ptr()
            .cast::<u8>()
            .add(std::mem::size_of::<pyo3::ffi::PyObject>())
            .cast::<Ptr>()
    })
}

/// The `SSL_CTX *` of an `ssl.SSLContext`, checked against the context's `options`.
fn ssl_ctx(api: &Api, context: &Bound<'_, PyAny>) -> PyResult<Ptr> {
    let ctx = ctx_field(context.py(), context)?;
    let options: u64 = context.getattr("options")?.extract()?;
    // SAFETY: SSL_CTX_get_options only reads the context; a null pointer is refused first.
    if ctx.is_null() || unsafe { (api.ctx_get_options)(ctx) } != options {
        return Err(crate::error::internal(
            "this Python's ssl.SSLContext layout is not the one meshtls knows",
        ));
    }
    Ok(ctx)
}

/// The peer's chain as presented (leaf first), DER.
unsafe fn presented_chain(api: &Api, store: Ptr) -> Vec<Vec<u8>> {
    let mut certs = Vec::new();
    // SAFETY (whole function): `store` is the X509_STORE_CTX OpenSSL passed to the callback.
    let stack = unsafe { (api.store_get0_untrusted)(store) };
    let n = if stack.is_null() {
        0
    } else {
        unsafe { (api.sk_num)(stack) }
    };
    let mut push = |x509: Ptr| {
        if x509.is_null() {
            return;
        }
        let len = unsafe { (api.i2d_x509)(x509, std::ptr::null_mut()) };
        let Ok(size) = usize::try_from(len) else {
            return;
        };
        let mut der = vec![0u8; size];
        let mut out = der.as_mut_ptr();
        if unsafe { (api.i2d_x509)(x509, &mut out) } == len {
            certs.push(der);
        }
    };
    if n > 0 {
        for i in 0..n {
            push(unsafe { (api.sk_value)(stack, i) });
        }
    } else {
        push(unsafe { (api.store_get0_cert)(store) });
    }
    certs
}

unsafe fn keep_verdict(api: &Api, ssl: Ptr, verdict: Verdict) {
    let boxed = Box::into_raw(Box::new(verdict)).cast::<c_void>();
    // SAFETY: `ssl` is the handshake's SSL; the previous value (a renegotiation) is ours.
    unsafe {
        let old = (api.ssl_get_ex_data)(ssl, api.ex_index);
        if (api.ssl_set_ex_data)(ssl, api.ex_index, boxed) == 1 {
            if !old.is_null() {
                drop(Box::from_raw(old.cast::<Verdict>()));
            }
        } else {
            drop(Box::from_raw(boxed.cast::<Verdict>()));
        }
    }
}

/// OpenSSL's chain verification, replaced: the core decides once.
unsafe extern "C" fn verify_callback(store: Ptr, arg: Ptr) -> c_int {
    let decided = std::panic::catch_unwind(|| {
        // SAFETY: the callback is only installed once API is resolved; `arg` is the boxed
        // HookState of the SslHook the Python context keeps alive.
        let api = API.get().and_then(Option::as_ref)?;
        let state = unsafe { &*arg.cast::<HookState>() };
        let ssl = unsafe { (api.store_get_ex_data)(store, (api.ssl_store_idx)()) };
        if ssl.is_null() {
            return None;
        }
        let server = unsafe { (api.ssl_is_server)(ssl) } == 1;
        let tls13 = unsafe { (api.ssl_version)(ssl) } == TLS1_3_VERSION;
        let chain = unsafe { presented_chain(api, store) };
        let usage = if server {
            PeerUsage::Client
        } else {
            PeerUsage::Server
        };
        let result = state.trust.current().verify(&chain, usage, now());
        let (ok, error) = match result {
            Ok(peer) => {
                unsafe { keep_verdict(api, ssl, Verdict::Accepted(peer)) };
                (1, X509_V_OK)
            }
            Err(e) => {
                let alert = profile::alert_for(e.code());
                unsafe { keep_verdict(api, ssl, Verdict::Refused(e)) };
                match x509_error_for(alert.number) {
                    Some(x509) => (0, x509),
                    // Refused by the NewSessionTicket hook with the exact alert.
                    None if server && tls13 => (1, X509_V_OK),
                    None => (0, x509_error_for(profile::CERTIFICATE_UNKNOWN.number)?),
                }
            }
        };
        unsafe { (api.store_set_error)(store, error) };
        Some(ok)
    });
    match decided {
        Ok(Some(ok)) => ok,
        _ => {
            if let Some(api) = API.get().and_then(Option::as_ref) {
                // SAFETY: `store` is OpenSSL's.
                unsafe { (api.store_set_error)(store, X509_V_ERR_UNSPECIFIED) };
            }
            0
        }
    }
}

/// Called while OpenSSL writes a TLS 1.3 NewSessionTicket (after the client's Finished): a
/// handshake the core refused with a reason no `X509_V_ERR_*` carries fails here with the
/// profile's alert. Otherwise the extension is skipped (nothing is sent).
unsafe extern "C" fn ticket_hook(
    ssl: Ptr,
    _ext_type: c_uint,
    _context: c_uint,
    _out: *mut *const u8,
    _outlen: *mut usize,
    _x509: Ptr,
    _chainidx: usize,
    al: *mut c_int,
    _arg: Ptr,
) -> c_int {
    let Some(api) = API.get().and_then(Option::as_ref) else {
        return 0;
    };
    // SAFETY: `ssl` is the connection being written; our index holds a Verdict or null.
    let verdict = unsafe { (api.ssl_get_ex_data)(ssl, api.ex_index) }.cast::<Verdict>();
    if verdict.is_null() {
        return 0;
    }
    match unsafe { &*verdict } {
        Verdict::Refused(e) => {
            // SAFETY: `al` is OpenSSL's out-parameter for the alert.
            unsafe { *al = c_int::from(profile::alert_for(e.code()).number) };
            -1
        }
        Verdict::Accepted(_) => 0,
    }
}

/// Whether the native hooks can be used with this interpreter's `ssl` (CPython on
/// OpenSSL 3 with every symbol found).
#[pyfunction]
pub fn _ssl_native_available(py: Python<'_>) -> bool {
    api(py).is_some()
}

/// The TLS profile as OpenSSL strings: `(min_version, tls13_suites, tls12_cipher_list,
/// groups)`, e.g. `("TLSv1.3", "TLS_AES_128_GCM_SHA256:...", "", "X25519:P-256:P-384")`.
#[pyfunction]
#[pyo3(signature = (allow_tls12=false))]
pub fn tls_profile(allow_tls12: bool) -> (String, String, String, String) {
    let p = TlsProfile::new(allow_tls12);
    (
        p.min_version().openssl_name().to_owned(),
        p.openssl_ciphersuites(),
        p.openssl_cipher_list(),
        p.openssl_groups(),
    )
}

fn check(api: &Api, ok: bool, what: &str) -> PyResult<()> {
    if ok {
        return Ok(());
    }
    // SAFETY: clears this thread's OpenSSL error queue.
    unsafe { (api.err_clear)() };
    Err(crate::error::internal(&format!("OpenSSL refused {what}")))
}

/// Installs the core's verification and the TLS profile on `context`'s `SSL_CTX`; returns
/// the hook the context must keep. `verifier` is a `Verifier` or a `Trust`.
#[pyfunction]
pub fn _ssl_install(
    py: Python<'_>,
    context: &Bound<'_, PyAny>,
    verifier: &Bound<'_, PyAny>,
    allow_tls12: bool,
) -> PyResult<SslHook> {
    let api = api(py).ok_or_else(|| crate::error::internal("native ssl hooks unavailable"))?;
    let ctx = ssl_ctx(api, context)?;
    let state = Box::new(HookState {
        trust: trust_handle(verifier)?,
    });
    let p = TlsProfile::new(allow_tls12);
    let suites = CString::new(p.openssl_ciphersuites()).unwrap_or_default();
    let groups = CString::new(p.openssl_groups()).unwrap_or_default();
    // SAFETY: `ctx` is the context's live SSL_CTX; strings are NUL-terminated and copied by
    // OpenSSL; the callback argument outlives the context (the SslHook is kept on it).
    unsafe {
        check(
            api,
            (api.set_ciphersuites)(ctx, suites.as_ptr()) == 1,
            "the TLS 1.3 suites",
        )?;
        if p.allows_tls12() {
            let list = CString::new(p.openssl_cipher_list()).unwrap_or_default();
            check(
                api,
                (api.set_cipher_list)(ctx, list.as_ptr()) == 1,
                "the TLS 1.2 suites",
            )?;
        }
        check(
            api,
            (api.ctx_ctrl)(ctx, SSL_CTRL_SET_GROUPS_LIST, 0, groups.as_ptr() as Ptr) == 1,
            "the groups",
        )?;
        // No resumption: every handshake presents a chain the core checks now.
        (api.ctx_ctrl)(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, 0, std::ptr::null_mut());
        let arg = (&*state as *const HookState).cast_mut().cast::<c_void>();
        (api.set_cert_verify_callback)(ctx, Some(verify_callback), arg);
        // Fails if a hook is already there (a second install on one context): harmless.
        if (api.add_custom_ext)(
            ctx,
            REFUSAL_EXT_TYPE,
            SSL_EXT_TLS1_3_NEW_SESSION_TICKET | SSL_EXT_TLS1_3_ONLY,
            Some(ticket_hook),
            None,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        ) != 1
        {
            (api.err_clear)();
        }
    }
    Ok(SslHook { state })
}

/// The OpenSSL `EVP_PKEY_*` type of a PKCS#8 key, from its algorithm OID.
fn pkey_type(pkcs8: &[u8]) -> Option<c_int> {
    const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let head = &pkcs8[..pkcs8.len().min(32)];
    let has = |oid: &[u8]| head.windows(oid.len()).any(|w| w == oid);
    if has(EC) {
        Some(408) // EVP_PKEY_EC
    } else if has(ED25519) {
        Some(1087) // EVP_PKEY_ED25519
    } else if has(RSA) {
        Some(6) // EVP_PKEY_RSA
    } else {
        None
    }
}

/// Loads `identity`'s current chain and key into `context` (DER in memory: no file, no
/// passphrase); returns the generation loaded.
#[pyfunction]
pub fn _ssl_load_identity(
    py: Python<'_>,
    context: &Bound<'_, PyAny>,
    identity: &Bound<'_, Identity>,
) -> PyResult<u64> {
    let api = api(py).ok_or_else(|| crate::error::internal("native ssl hooks unavailable"))?;
    let ctx = ssl_ctx(api, context)?;
    let handle = identity.get().handle();
    let generation = handle.generation();
    let current = handle.current();
    let chain = current.chain();
    let key = current.key_pkcs8_der();
    // SAFETY: DER buffers outlive the d2i calls; every object made here is freed here (the
    // SSL_CTX takes its own references).
    unsafe {
        let mut x509s = Vec::with_capacity(chain.len());
        for der in chain.iter() {
            let der: &[u8] = der.as_ref();
            let mut p = der.as_ptr();
            let x = (api.d2i_x509)(std::ptr::null_mut(), &mut p, der.len() as c_long);
            if x.is_null() {
                for x in x509s {
                    (api.x509_free)(x);
                }
                return check(api, false, "the certificate").map(|_| 0);
            }
            x509s.push(x);
        }
        // With the key type named, OpenSSL 3 tries one decoder instead of all of them
        // (about 0.25 ms instead of 1.2 ms for P-256).
        let mut p = key.as_ptr();
        let mut pkey = match pkey_type(key) {
            Some(kind) => {
                (api.d2i_private_key)(kind, std::ptr::null_mut(), &mut p, key.len() as c_long)
            }
            None => std::ptr::null_mut(),
        };
        if pkey.is_null() {
            (api.err_clear)();
            let mut p = key.as_ptr();
            pkey = (api.d2i_auto_private_key)(std::ptr::null_mut(), &mut p, key.len() as c_long);
        }
        let stack = (api.sk_new_null)();
        let mut ok = !pkey.is_null() && !stack.is_null() && !x509s.is_empty();
        if ok {
            for x in &x509s[1..] {
                ok &= (api.sk_push)(stack, *x) > 0;
            }
        }
        if ok {
            ok = (api.use_cert_and_key)(ctx, x509s[0], pkey, stack, 1) == 1;
        }
        if !stack.is_null() {
            (api.sk_free)(stack);
        }
        if !pkey.is_null() {
            (api.pkey_free)(pkey);
        }
        for x in x509s {
            (api.x509_free)(x);
        }
        check(api, ok, "the identity's certificate and key")?;
    }
    Ok(generation)
}

/// The verdict the core gave in the handshake of `sslobj` (an `ssl.SSLObject`'s or
/// `ssl.SSLSocket`'s `_sslobj`) made with `context`: the `PeerIdentity`, the refusal raised
/// as the core's error, or `None` when the core was not asked (no chain was presented) or the
/// verdict cannot be read (an object layout this module does not know): the caller then
/// checks the peer itself.
#[pyfunction]
pub fn _ssl_verdict(
    py: Python<'_>,
    context: &Bound<'_, PyAny>,
    sslobj: &Bound<'_, PyAny>,
) -> PyResult<Option<PeerIdentity>> {
    let api = api(py).ok_or_else(|| crate::error::internal("native ssl hooks unavailable"))?;
    // The layout was checked against `options` when the hooks were installed on it.
    let ctx = ctx_field(py, context)?;
    if !sslobj.is_instance(ssl_type(py, &SSL_SOCKET, "_SSLSocket")?.bind(py))? {
        return Err(PyTypeError::new_err("expected an _ssl._SSLSocket"));
    }
    let word = std::mem::size_of::<Ptr>();
    let head = std::mem::size_of::<pyo3::ffi::PyObject>();
    // SAFETY: a live `_ssl._SSLSocket` (checked above) is PyObject_HEAD, `PyObject *Socket`,
    // `SSL *ssl`, `PySSLContext *ctx`: the ctx field must be `context` itself before the SSL
    // pointer is used, and the SSL must belong to the context's SSL_CTX.
    let ssl = unsafe {
        let base = sslobj.as_ptr().cast::<u8>();
        let ssl = *base.add(head + word).cast::<Ptr>();
        let owner = *base.add(head + 2 * word).cast::<Ptr>();
        // Another layout (or a connection moved to another context): no verdict to read,
        // the caller checks the peer itself.
        if ssl.is_null() || owner != context.as_ptr().cast::<c_void>() {
            return Ok(None);
        }
        if (api.ssl_get_ctx)(ssl) != ctx {
            return Ok(None);
        }
        ssl
    };
    // SAFETY: our index holds a Verdict or null; the SSL lives as long as `sslobj`.
    let verdict = unsafe { (api.ssl_get_ex_data)(ssl, api.ex_index) }.cast::<Verdict>();
    if verdict.is_null() {
        return Ok(None);
    }
    match unsafe { &*verdict } {
        Verdict::Accepted(peer) => Ok(Some(PeerIdentity {
            inner: peer.clone(),
        })),
        Verdict::Refused(e) => Err(to_py(e.clone())),
    }
}

/// The alert (name, number) a refusal with `code` is sent as by these contexts: the profile's
/// alert, except that a reason no `X509_V_ERR_*` carries goes out as `certificate_unknown`
/// on TLS 1.2 and on the client side.
#[pyfunction]
#[pyo3(signature = (code, server=true, tls13=true))]
pub fn _ssl_alert_for(code: &str, server: bool, tls13: bool) -> PyResult<(String, u8)> {
    let code = ErrorCode::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .copied()
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("unknown code {code}")))?;
    let alert = profile::alert_for(code);
    let sent = if x509_error_for(alert.number).is_some() || (server && tls13) {
        alert
    } else {
        profile::CERTIFICATE_UNKNOWN
    };
    Ok((sent.name.to_owned(), sent.number))
}

//! The enrollment client (`meshtls-enroll`): `enroll(url, token, id, options)` and
//! `resume(url, options)`.
//!
//! The key is made, the CSR sent, the certificate renewed through `/v1/renew` and the bundle
//! and CRL refreshed by the Rust client on napi's tokio runtime; this module translates
//! arguments, results and errors. A rejected promise's `err.code` is the client's stable code
//! (`EnrollError::code()`: the service's, such as `token_used`, the core's, or `transport`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshtls_net::enroll::{EnrollError, EnrollOptions as RustOptions, EnrolledIdentity as Rust};
use meshtls_net::{IdentityHandle, TrustHandle};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::error::{edge, IntoJs};
use crate::net::Identity;
use crate::rotation::{rotation_event, RotationEvent, RotationPolicy};
use crate::verify::Policy;

/// A rejected enrollment: `code` (the client's: the service's, the core's, or `transport`),
/// `family` (net's one rule: `request` for a service refusal such as `token_used`, `io` when
/// the service could not be reached) and `status`, the HTTP status of a service refusal
/// (`null` when no service answered), as Python's `EnrollError` carries them.
fn reject<T>(env: &Env, e: EnrollError) -> Result<T> {
    if let EnrollError::Core(core) = e {
        return crate::error::reject(env, core);
    }
    let (message, status) = match &e {
        EnrollError::Service {
            message, status, ..
        } => (message.clone(), Some(*status)),
        other => (other.to_string(), None),
    };
    let js = crate::error::error_object(env, e.code(), Some(e.family().as_str()), &message);
    if let Ok(mut obj) = js.coerce_to_object() {
        let _ = match status {
            Some(s) => obj.set_named_property("status", u32::from(s)),
            None => obj.set_named_property("status", Null),
        };
    }
    Err(napi::Error::from(js))
}

/// Runs an enrollment future on napi's tokio runtime.
pub(crate) fn spawn<'env, T, V, F>(
    env: &'env Env,
    fut: F,
    finish: fn(T) -> V,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: std::future::Future<Output = std::result::Result<T, EnrollError>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, out| match out {
        Ok(v) => Ok(finish(v)),
        Err(e) => reject(env, e),
    })
    .map_err(|e| edge(meshtls_core::ErrorCode::Internal, e.reason.clone()))
}

/// `onRotation`: called on the JS thread with each event of the rotation driver. Weak (it
/// does not keep the process alive) and not callee-handled (the event is the only argument).
type OnRotation =
    ThreadsafeFunction<RotationEvent, UnknownReturnValue, RotationEvent, Status, false, true>;

/// Options of `enroll` and `resume` (the Rust `EnrollOptions`).
#[napi(object, object_to_js = false)]
pub struct EnrollOptions<'env> {
    /// The CA certificates (PEM text, or the path of a PEM file) that vouch for the service,
    /// given with the token.
    pub ca_bundle: String,
    /// DNS names to ask for (the token must grant them).
    pub dns_names: Option<Vec<String>>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `ed25519`, `rsa-2048`, `rsa-4096`.
    pub key: Option<String>,
    /// The SPIFFE ID the service must present (default `spiffe://<td>/meshtls/ca`).
    pub service_id: Option<String>,
    /// Who may connect, for `verifier()` (default: the whole trust domain of the ID).
    pub peer_policy: Option<ClassInstance<'env, Policy>>,
    /// When to renew (default: the core's, 2/3 of the lifetime with jitter).
    pub rotation: Option<ClassInstance<'env, RotationPolicy>>,
    /// Called with each event of the renewal schedule (`renewed`, `failed`, `expiring`), on
    /// the JS thread. An exception it throws is reported as a process warning and does not
    /// stop the schedule; it does not keep the process alive.
    #[napi(ts_type = "(event: RotationEvent) => void")]
    pub on_rotation: Option<OnRotation>,
    /// Seconds between bundle + CRL refreshes (default 300).
    pub refresh_every_seconds: Option<f64>,
    /// Seconds each request to the service may take (default 30).
    pub timeout_seconds: Option<f64>,
    /// Keep the chain and key in `DIR/identity.pem` (0600) across restarts; `resume` reads it.
    pub state_dir: Option<String>,
}

fn seconds(s: f64, what: &str) -> std::result::Result<Duration, napi::Error> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        edge(
            meshtls_core::ErrorCode::InvalidRequest,
            format!("{what}: not a number of seconds: {s}"),
        )
    })
}

/// `process.emitWarning(message)`; a failure to warn is dropped (nothing else can be done on
/// the JS thread between two events).
fn warn(env: &Env, message: String) {
    let run = || -> Result<()> {
        let process: Object = env.get_global()?.get_named_property("process")?;
        let emit: Function<String, Unknown> = process.get_named_property("emitWarning")?;
        emit.apply(process, message)?;
        Ok(())
    };
    let _ = run();
}

/// The Rust callback that hands each event to `onRotation`.
fn on_rotation(f: OnRotation) -> Arc<dyn Fn(meshtls_net::RotationEvent) + Send + Sync> {
    Arc::new(move |event| {
        // Called for its outcome so that an exception lands here instead of being rethrown
        // as an uncaught exception; a closed or full queue drops the event.
        let _ = f.call_with_return_value(
            rotation_event(event),
            ThreadsafeFunctionCallMode::NonBlocking,
            |outcome: Result<UnknownReturnValue>, env| {
                if let Err(e) = outcome {
                    warn(&env, format!("meshtls: onRotation threw: {}", e.reason));
                }
                Ok(())
            },
        );
    })
}

fn rust_options(options: EnrollOptions) -> std::result::Result<RustOptions, napi::Error> {
    let mut o = RustOptions::new(crate::encoding::bundle_text(options.ca_bundle)?);
    o.dns_names = options.dns_names.unwrap_or_default();
    if let Some(k) = options.key {
        o.key_algorithm = k.parse().js()?;
    }
    o.service_id = options
        .service_id
        .map(|s| meshtls_core::SpiffeId::parse(&s))
        .transpose()
        .js()?;
    o.peer_policy = options.peer_policy.map(|p| p.inner.clone());
    if let Some(r) = options.rotation {
        o.rotation = r.inner;
    }
    o.on_rotation = options.on_rotation.map(on_rotation);
    if let Some(s) = options.refresh_every_seconds {
        o.refresh_every = seconds(s, "refreshEverySeconds")?;
        meshtls_net::enroll::check_refresh_every(o.refresh_every).js()?;
    }
    if let Some(s) = options.timeout_seconds {
        o.timeout = seconds(s, "timeoutSeconds")?;
        meshtls_net::enroll::check_timeout(o.timeout).js()?;
    }
    o.state_dir = options.state_dir.map(Into::into);
    Ok(o)
}

fn closed() -> napi::Error {
    edge(
        meshtls_core::ErrorCode::InvalidRequest,
        "this EnrolledIdentity is closed",
    )
}

/// An identity from the CA service: renews itself through `/v1/renew` and keeps its trust
/// bundle and CRL fresh, until `close()` (or garbage collection).
#[napi]
pub struct EnrolledIdentity {
    id: String,
    identity: IdentityHandle,
    trust: TrustHandle,
    /// The client and its background tasks; `None` once closed.
    inner: Mutex<Option<Arc<Rust>>>,
}

impl EnrolledIdentity {
    fn new(node: Rust) -> Self {
        EnrolledIdentity {
            id: node.id().to_string(),
            identity: node.identity(),
            trust: node.trust(),
            inner: Mutex::new(Some(Arc::new(node))),
        }
    }

    fn running(&self) -> std::result::Result<Arc<Rust>, napi::Error> {
        self.inner
            .lock()
            .map_err(|_| edge(meshtls_core::ErrorCode::Internal, "lock poisoned"))?
            .clone()
            .ok_or_else(closed)
    }
}

#[napi]
impl EnrolledIdentity {
    /// The SPIFFE ID.
    #[napi(getter, catch_unwind)]
    pub fn spiffe_id(&self) -> String {
        self.id.clone()
    }

    /// An `Identity` that is always the current certificate and key, for the native transport
    /// (`wssConnect`, `WssServer.listen`) and Node's TLS stacks (`createServer`, `connect`...:
    /// a guarded server picks up each renewal for its next handshake).
    #[napi(getter, catch_unwind)]
    pub fn identity(&self) -> Identity {
        Identity::from_handle(self.identity.clone())
    }

    /// The current leaf certificate.
    #[napi(getter, catch_unwind)]
    pub fn certificate(&self) -> napi::Result<Certificate> {
        Ok(Certificate::new(self.identity.current().leaf().js()?))
    }

    /// The current serial (hex).
    #[napi(getter, catch_unwind)]
    pub fn serial(&self) -> napi::Result<String> {
        Ok(self.identity.current().leaf().js()?.serial.to_hex())
    }

    /// The current chain, PEM, leaf first.
    #[napi(getter, catch_unwind)]
    pub fn chain_pem(&self) -> String {
        self.identity.current().chain_pem()
    }

    /// Grows by one at each renewal.
    #[napi(getter, catch_unwind)]
    pub fn generation(&self) -> f64 {
        self.identity.generation() as f64
    }

    /// How many CRLs fetched from the service were refused for stepping back (a lower CRL
    /// number than the one held, or the same number with other content): the held CRL stays,
    /// and `refreshTrust()` rejects with `stale_crl`. Throws `invalid_request` once closed.
    #[napi(getter, catch_unwind)]
    pub fn stale_crl_refusals(&self) -> napi::Result<f64> {
        Ok(self.running()?.stale_crl_refusals() as f64)
    }

    /// The peer trust, live: the bundle and CRL as last fetched, with `peerPolicy` (or the
    /// trust domain). Each `verify()` and each handshake of a server or client built from it
    /// uses what the schedule last fetched; `generation` grows at each refresh that brought a
    /// new bundle or CRL.
    #[napi(getter, catch_unwind)]
    pub fn trust(&self) -> crate::trust::Trust {
        crate::trust::Trust::from_handle(self.trust.clone())
    }

    /// Another live trust on the same bundle and CRL with its own `policy`, for a server (or
    /// client) that admits other peers than `trust` does; refreshed with `trust` while it is
    /// held. Throws `invalid_request` once closed.
    #[napi(catch_unwind)]
    pub fn trust_for(&self, policy: &crate::verify::Policy) -> napi::Result<crate::trust::Trust> {
        let node = self.running()?;
        Ok(crate::trust::Trust::from_handle(
            node.trust_for(policy.inner.clone()),
        ))
    }

    /// The peer verifier as of now (bundle and CRL last fetched, `peerPolicy` or the trust
    /// domain): a snapshot that later refreshes do not reach (`trust` does).
    #[napi(catch_unwind)]
    pub fn verifier(&self) -> crate::verify::Verifier {
        crate::verify::Verifier {
            inner: (*self.trust.current()).clone(),
        }
    }

    /// Renews now (a new key and certificate); resolves to the new generation. Throws
    /// `invalid_request` once closed.
    #[napi(ts_return_type = "Promise<number>", catch_unwind)]
    pub fn renew_now<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, f64>> {
        let inner = self.running()?;
        spawn(
            env,
            async move {
                inner.renew_now().await?;
                Ok(inner.identity().generation())
            },
            |g| g as f64,
        )
    }

    /// JWT-SVIDs for `audience` from the CA service, for this identity's SPIFFE ID, kept
    /// fresh: `await identity.jwtSource(["orders"]).token()`. `ttlSeconds` defaults to the
    /// service's (5 minutes); `bind` binds them to the current certificate. Throws
    /// `invalid_request` once closed.
    #[napi(catch_unwind)]
    pub fn jwt_source(
        &self,
        audience: Vec<String>,
        ttl_seconds: Option<f64>,
        bind: Option<bool>,
    ) -> napi::Result<crate::jwt::JwtSource> {
        let inner = self.running()?;
        let ttl = ttl_seconds
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| Duration::from_secs(t as u64));
        Ok(crate::jwt::JwtSource {
            inner: Arc::new(inner.jwt_source(audience, ttl, bind.unwrap_or(false))),
        })
    }

    /// Fetches the bundle and CRL now. Throws `invalid_request` once closed.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn refresh_trust<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.running()?;
        spawn(env, async move { inner.refresh_trust().await }, |()| ())
    }

    /// Stops renewing and refreshing (and releases `onRotation`); the identity and verifier
    /// keep what they hold. A renewal or refresh already under way finishes first. Idempotent.
    #[napi(catch_unwind)]
    pub fn close(&self) -> napi::Result<()> {
        let node = self
            .inner
            .lock()
            .map_err(|_| edge(meshtls_core::ErrorCode::Internal, "lock poisoned"))?
            .take();
        drop(node);
        Ok(())
    }

    /// Whether `close()` was called.
    #[napi(getter, catch_unwind)]
    pub fn closed(&self) -> napi::Result<bool> {
        Ok(self
            .inner
            .lock()
            .map_err(|_| edge(meshtls_core::ErrorCode::Internal, "lock poisoned"))?
            .is_none())
    }
}

/// Enrolls `id` at the CA service `url` (`https://host:port`) with a join `token`: the key is
/// made here and only the CSR is sent. Resolves to an `EnrolledIdentity` that renews itself.
#[napi(ts_return_type = "Promise<EnrolledIdentity>", catch_unwind)]
pub fn enroll<'env>(
    env: &'env Env,
    url: String,
    token: String,
    id: String,
    options: EnrollOptions,
) -> napi::Result<PromiseRaw<'env, EnrolledIdentity>> {
    let id = meshtls_core::SpiffeId::parse(&id).js()?;
    let o = rust_options(options)?;
    spawn(
        env,
        async move { meshtls_net::enroll::enroll(&url, &token, &id, o).await },
        EnrolledIdentity::new,
    )
}

/// Picks up the identity an earlier `enroll` kept in `options.stateDir` (after a restart): no
/// token while its certificate is valid. Resolves to an `EnrolledIdentity` that renews itself
/// as after `enroll`; a missing or unreadable state file rejects with `invalid_request`, a
/// damaged one with the core's code (`malformed`).
#[napi(ts_return_type = "Promise<EnrolledIdentity>", catch_unwind)]
pub fn resume<'env>(
    env: &'env Env,
    url: String,
    options: EnrollOptions,
) -> napi::Result<PromiseRaw<'env, EnrolledIdentity>> {
    let o = rust_options(options)?;
    spawn(
        env,
        async move { meshtls_net::enroll::resume(&url, o).await },
        EnrolledIdentity::new,
    )
}

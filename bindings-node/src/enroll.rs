//! The enrollment client (`meshtls-enroll`): `enroll(url, token, id, options)`.
//!
//! The key is made, the CSR sent, the certificate renewed through `/v1/renew` and the bundle
//! and CRL refreshed by the Rust client on napi's tokio runtime; this module translates
//! arguments, results and errors. A rejected promise's `err.code` is the client's stable code
//! (`EnrollError::code()`: the service's, such as `token_used`, the core's, or `transport`).

use std::sync::Arc;
use std::time::Duration;

use meshtls_net::enroll::{EnrollError, EnrollOptions as RustOptions, EnrolledIdentity as Rust};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::error::{edge, Code, IntoJs};
use crate::net::Identity;

/// The `code` of an enrollment error: any string the client reports.
struct EnrollCode(String);

impl AsRef<str> for EnrollCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn reject<T>(env: &Env, e: EnrollError) -> Result<T> {
    if let EnrollError::Core(core) = e {
        return crate::error::reject(env, core);
    }
    let message = match &e {
        EnrollError::Service { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let err = napi::Error::new(EnrollCode(e.code().to_owned()), message);
    Err(napi::Error::from(JsError::from(err).into_unknown(*env)))
}

/// Runs an enrollment future on napi's tokio runtime.
fn spawn<'env, T, V, F>(
    env: &'env Env,
    fut: F,
    finish: fn(T) -> V,
) -> Result<PromiseRaw<'env, V>, Code>
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

/// Options of `enroll` (the Rust `EnrollOptions`).
#[napi(object)]
pub struct EnrollOptions {
    /// The CA certificates (PEM) that vouch for the service, given with the token.
    pub ca_bundle: String,
    /// DNS names to ask for (the token must grant them).
    pub dns_names: Option<Vec<String>>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `ed25519`, `rsa-2048`, `rsa-4096`.
    pub key: Option<String>,
    /// The SPIFFE ID the service must present (default `spiffe://<td>/meshtls/ca`).
    pub service_id: Option<String>,
    /// Seconds between bundle + CRL refreshes (default 300).
    pub refresh_every_seconds: Option<f64>,
    /// Seconds each request to the service may take (default 30).
    pub timeout_seconds: Option<f64>,
    /// Keep the chain and key in `DIR/identity.pem` (0600) across restarts.
    pub state_dir: Option<String>,
}

fn seconds(s: f64, what: &str) -> std::result::Result<Duration, napi::Error<Code>> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        edge(
            meshtls_core::ErrorCode::InvalidRequest,
            format!("{what}: not a number of seconds: {s}"),
        )
    })
}

/// An identity from the CA service: renews itself through `/v1/renew` and keeps its trust
/// bundle and CRL fresh (until garbage-collected).
#[napi]
pub struct EnrolledIdentity {
    inner: Arc<Rust>,
}

#[napi]
impl EnrolledIdentity {
    /// The SPIFFE ID.
    #[napi(getter, catch_unwind)]
    pub fn spiffe_id(&self) -> String {
        self.inner.id().to_string()
    }

    /// An `Identity` that is always the current certificate and key, for the native transport
    /// (`wssConnect`, `WssServer.listen`) and Node's TLS stacks (`createServer`, `connect`...:
    /// a guarded server picks up each renewal for its next handshake).
    #[napi(getter, catch_unwind)]
    pub fn identity(&self) -> Identity {
        Identity::from_handle(self.inner.identity())
    }

    /// The current leaf certificate.
    #[napi(getter, catch_unwind)]
    pub fn certificate(&self) -> Result<Certificate, Code> {
        Ok(Certificate::new(
            self.inner.identity().current().leaf().js()?,
        ))
    }

    /// The current serial (hex).
    #[napi(getter, catch_unwind)]
    pub fn serial(&self) -> Result<String, Code> {
        Ok(self.inner.identity().current().leaf().js()?.serial.to_hex())
    }

    /// The current chain, PEM, leaf first.
    #[napi(getter, catch_unwind)]
    pub fn chain_pem(&self) -> String {
        self.inner
            .identity()
            .current()
            .chain()
            .iter()
            .map(|c| meshtls_core::encoding::cert_pem(c))
            .collect()
    }

    /// Grows by one at each renewal.
    #[napi(getter, catch_unwind)]
    pub fn generation(&self) -> f64 {
        self.inner.identity().generation() as f64
    }

    /// The peer verifier as of now (bundle and CRL last fetched, the trust domain's policy).
    #[napi(catch_unwind)]
    pub fn verifier(&self) -> crate::verify::Verifier {
        crate::verify::Verifier {
            inner: (*self.inner.trust().current()).clone(),
        }
    }

    /// Renews now (a new key and certificate); resolves to the new generation.
    #[napi(ts_return_type = "Promise<number>", catch_unwind)]
    pub fn renew_now<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, f64>, Code> {
        let inner = self.inner.clone();
        spawn(
            env,
            async move {
                inner.renew_now().await?;
                Ok(inner.identity().generation())
            },
            |g| g as f64,
        )
    }

    /// Fetches the bundle and CRL now.
    #[napi(ts_return_type = "Promise<void>", catch_unwind)]
    pub fn refresh_trust<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>, Code> {
        let inner = self.inner.clone();
        spawn(env, async move { inner.refresh_trust().await }, |()| ())
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
) -> Result<PromiseRaw<'env, EnrolledIdentity>, Code> {
    let id = meshtls_core::SpiffeId::parse(&id).js()?;
    let mut o = RustOptions::new(options.ca_bundle);
    o.dns_names = options.dns_names.unwrap_or_default();
    if let Some(k) = options.key {
        o.key_algorithm = k.parse().js()?;
    }
    o.service_id = options
        .service_id
        .map(|s| meshtls_core::SpiffeId::parse(&s))
        .transpose()
        .js()?;
    if let Some(s) = options.refresh_every_seconds {
        o.refresh_every = seconds(s, "refreshEverySeconds")?;
    }
    if let Some(s) = options.timeout_seconds {
        o.timeout = seconds(s, "timeoutSeconds")?;
    }
    o.state_dir = options.state_dir.map(Into::into);
    spawn(
        env,
        async move { meshtls_net::enroll::enroll(&url, &token, &id, o).await },
        |node| EnrolledIdentity {
            inner: Arc::new(node),
        },
    )
}

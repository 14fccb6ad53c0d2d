//! Certificate authorities (core `authority`): root and intermediate creation, loading and
//! saving. Key generation and scrypt are slow, so those calls return promises.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use meshtls_core::{
    Authority as CoreAuthority, IntermediateParams, KeyAlgorithm, RootParams, TrustDomain,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::encoding::{bytes, Input};
use crate::error::IntoJs;
use crate::tasks::CoreTask;
use crate::validity::{at, duration};

/// How to create a root CA (`Authority.createRoot`).
#[napi(object)]
pub struct RootOptions {
    /// The trust domain the CA vouches for (`mesh.internal`).
    pub trust_domain: String,
    /// Subject common name (default `<td> root CA <random id>`).
    pub common_name: Option<String>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `ed25519`, `rsa-2048` or `rsa-4096`.
    pub key: Option<String>,
    /// Lifetime: seconds, or text such as `"10y"` (default 10 years).
    pub validity: Option<Either<f64, String>>,
    /// Path length constraint.
    pub path_len: Option<u8>,
    /// Permitted DNS subtrees (name constraints).
    pub permitted_dns: Option<Vec<String>>,
    /// Creation time (default now).
    pub at: Option<DateTime<Utc>>,
}

/// How to create an intermediate CA (`authority.createIntermediate`).
#[napi(object)]
pub struct IntermediateOptions {
    /// Subject common name (default `<td> intermediate CA <random id>`).
    pub common_name: Option<String>,
    /// Key algorithm (default `ecdsa-p256`).
    pub key: Option<String>,
    /// Lifetime: seconds, or text such as `"5y"` (core default when omitted).
    pub validity: Option<Either<f64, String>>,
    /// Path length constraint (core default 0: it issues leaves only).
    pub path_len: Option<u8>,
    /// Permitted DNS subtrees.
    pub permitted_dns: Option<Vec<String>>,
    /// Creation time (default now).
    pub at: Option<DateTime<Utc>>,
}

/// A key algorithm from its name (`unsupported` for an unknown one).
pub fn key_algorithm(name: Option<String>) -> napi::Result<KeyAlgorithm> {
    match name {
        None => Ok(KeyAlgorithm::default()),
        Some(n) => n.parse::<KeyAlgorithm>().js(),
    }
}

/// A certificate authority: issues leaves, intermediates and CRLs.
#[napi]
pub struct Authority {
    pub(crate) inner: Arc<CoreAuthority>,
}

fn wrap(a: CoreAuthority) -> Authority {
    Authority { inner: Arc::new(a) }
}

#[napi]
impl Authority {
    /// Creates a self-signed root CA. Resolves to an `Authority`.
    #[napi(ts_return_type = "Promise<Authority>", catch_unwind)]
    pub fn create_root(
        options: RootOptions,
    ) -> napi::Result<AsyncTask<CoreTask<CoreAuthority, Authority>>> {
        let mut params = RootParams::new(TrustDomain::new(&options.trust_domain).js()?);
        params.common_name = options.common_name;
        params.key = key_algorithm(options.key)?;
        if let Some(v) = options.validity {
            params.validity = duration(v)?;
        }
        if options.path_len.is_some() {
            params.path_len = options.path_len;
        }
        if let Some(dns) = options.permitted_dns {
            params.permitted_dns = dns;
        }
        let now = at(options.at);
        Ok(CoreTask::new(
            move || CoreAuthority::create_root(&params, now),
            wrap,
        ))
    }

    /// Creates an intermediate CA signed by this one. Resolves to an `Authority`.
    #[napi(ts_return_type = "Promise<Authority>", catch_unwind)]
    pub fn create_intermediate(
        &self,
        options: Option<IntermediateOptions>,
    ) -> napi::Result<AsyncTask<CoreTask<CoreAuthority, Authority>>> {
        let mut params = IntermediateParams::new();
        let mut now = at(None);
        if let Some(o) = options {
            params.common_name = o.common_name;
            params.key = key_algorithm(o.key)?;
            if let Some(v) = o.validity {
                params.validity = duration(v)?;
            }
            if o.path_len.is_some() {
                params.path_len = o.path_len;
            }
            if let Some(dns) = o.permitted_dns {
                params.permitted_dns = dns;
            }
            now = at(o.at);
        }
        let parent = self.inner.clone();
        Ok(CoreTask::new(
            move || parent.create_intermediate(&params, now),
            wrap,
        ))
    }

    /// Loads a CA from its certificate chain (this CA first) and its private key, encrypted
    /// with `passphrase` or plain. A wrong passphrase is `wrong_passphrase`.
    #[napi(ts_return_type = "Promise<Authority>", catch_unwind)]
    pub fn from_pem(
        cert_chain: Input,
        key: Input,
        passphrase: Option<String>,
    ) -> AsyncTask<CoreTask<CoreAuthority, Authority>> {
        let chain = bytes(&cert_chain);
        let key = bytes(&key);
        CoreTask::new(
            move || CoreAuthority::from_pem(&chain, &key, passphrase.as_deref()),
            wrap,
        )
    }

    /// The private key encrypted with the passphrase (PKCS#8, scrypt + AES-256-CBC), PEM.
    #[napi(ts_return_type = "Promise<string>", catch_unwind)]
    pub fn encrypted_key_pem(&self, passphrase: String) -> AsyncTask<CoreTask<String, String>> {
        let ca = self.inner.clone();
        CoreTask::new(move || Ok(ca.encrypted_key_pem(&passphrase)?.0), |s| s)
    }

    /// The private key as plaintext PKCS#8 PEM. Prefer `encryptedKeyPem`.
    #[napi(catch_unwind)]
    pub fn plaintext_key_pem(&self) -> String {
        self.inner.plaintext_key_pem().0
    }

    /// This CA's certificate, PEM.
    #[napi(getter, catch_unwind)]
    pub fn certificate_pem(&self) -> String {
        self.inner.certificate_pem()
    }

    /// This CA's chain (itself, its parents, the root), PEM.
    #[napi(getter, catch_unwind)]
    pub fn chain_pem(&self) -> String {
        self.inner.chain_pem()
    }

    /// The root above this CA (itself for a root), PEM: what a trust bundle holds.
    #[napi(getter, catch_unwind)]
    pub fn root_pem(&self) -> String {
        self.inner.root_pem()
    }

    /// The intermediates sent after a leaf this CA issues, PEM (empty for a root).
    #[napi(getter, catch_unwind)]
    pub fn intermediates_pem(&self) -> String {
        self.inner.intermediates_pem().to_owned()
    }

    /// This CA's certificate, parsed.
    #[napi(getter, catch_unwind)]
    pub fn certificate(&self) -> Certificate {
        Certificate::new(self.inner.certificate().clone())
    }

    /// The trust domain.
    #[napi(getter, catch_unwind)]
    pub fn trust_domain(&self) -> String {
        self.inner.trust_domain().to_string()
    }

    /// Whether this is a self-signed root.
    #[napi(getter, catch_unwind)]
    pub fn is_root(&self) -> bool {
        self.inner.is_root()
    }

    /// The key algorithm name.
    #[napi(getter, catch_unwind)]
    pub fn key_algorithm(&self) -> String {
        self.inner.key_algorithm().as_str().to_owned()
    }

    /// The CA certificate's serial, hex.
    #[napi(getter, catch_unwind)]
    pub fn serial(&self) -> String {
        self.inner.serial().to_hex()
    }
}

//! The transport edge (`meshtls-net`): a swappable identity shared by Node's TLS stacks
//! (`lib/tls.js` reads its PEM and generation) and the native rustls transport.

use std::sync::{Arc, Mutex};

use meshtls_core::encoding as core_enc;
use meshtls_net::{Identity as NetIdentity, IdentityHandle};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::certificate::Certificate;
use crate::encoding::{bytes, Input};
use crate::error::{edge, Code, IntoJs, JsResult};
use crate::issue::Issued;

struct Pems {
    chain: String,
    key: String,
}

/// Our certificate chain and key, swappable while servers run: `update()` changes what new
/// handshakes present and leaves open connections alone.
#[napi]
pub struct Identity {
    pub(crate) handle: IdentityHandle,
    pems: Arc<Mutex<Pems>>,
}

fn load(chain: &[u8], key: &[u8]) -> JsResult<(NetIdentity, Pems)> {
    let chain_der = core_enc::parse_certificates(chain).js()?;
    let key_der = core_enc::parse_private_key(key).js()?;
    let pems = Pems {
        chain: chain_der.iter().map(|d| core_enc::cert_pem(d)).collect(),
        key: core_enc::key_pem(&key_der),
    };
    Ok((NetIdentity::from_der(chain_der, key_der).js()?, pems))
}

fn from_source(
    source: &Either3<ClassInstance<Issued>, String, Uint8Array>,
    key: Option<Input>,
) -> JsResult<(NetIdentity, Pems)> {
    match source {
        Either3::A(issued) => {
            if key.is_some() {
                return Err(edge(
                    meshtls_core::ErrorCode::InvalidRequest,
                    "an Issued carries its key: pass no separate key",
                ));
            }
            let key = issued.inner.key_der.as_ref().ok_or_else(|| {
                edge(
                    meshtls_core::ErrorCode::InvalidRequest,
                    "issued from a CSR: this Issued has no private key",
                )
            })?;
            load(issued.inner.chain_pem.as_bytes(), key)
        }
        Either3::B(_) | Either3::C(_) => {
            let chain = match source {
                Either3::B(s) => s.as_bytes().to_vec(),
                Either3::C(b) => b.to_vec(),
                Either3::A(_) => Vec::new(),
            };
            let key = key.ok_or_else(|| {
                edge(
                    meshtls_core::ErrorCode::InvalidRequest,
                    "a certificate chain needs its private key",
                )
            })?;
            load(&chain, &bytes(&key))
        }
    }
}

#[napi]
impl Identity {
    /// An identity from an `Issued` (with its generated key), or from a chain (leaf first) and
    /// its private key, each PEM text or PEM/DER bytes. A key that does not match the leaf is
    /// refused.
    #[napi(constructor)]
    pub fn new(
        source: Either3<ClassInstance<Issued>, String, Uint8Array>,
        key: Option<Input>,
    ) -> Result<Self, Code> {
        let (id, pems) = from_source(&source, key)?;
        Ok(Identity {
            handle: IdentityHandle::new(id),
            pems: Arc::new(Mutex::new(pems)),
        })
    }

    /// Swaps in a renewed certificate and key (same forms as the constructor). New handshakes
    /// present it; established connections keep theirs.
    #[napi]
    pub fn update(
        &self,
        source: Either3<ClassInstance<Issued>, String, Uint8Array>,
        key: Option<Input>,
    ) -> Result<(), Code> {
        let (id, pems) = from_source(&source, key)?;
        let mut guard = self
            .pems
            .lock()
            .map_err(|_| edge(meshtls_core::ErrorCode::Internal, "identity lock poisoned"))?;
        self.handle.replace(id);
        *guard = pems;
        Ok(())
    }

    /// The chain presented (leaf first), PEM.
    #[napi(getter)]
    pub fn chain_pem(&self) -> Result<String, Code> {
        Ok(self.read()?.0)
    }

    /// The private key, PKCS#8 PEM.
    #[napi(getter)]
    pub fn key_pem(&self) -> Result<String, Code> {
        Ok(self.read()?.1)
    }

    /// Grows by one at each `update()`: Node servers compare it to refresh their context.
    #[napi(getter)]
    pub fn generation(&self) -> f64 {
        self.handle.generation() as f64
    }

    /// The leaf, parsed.
    #[napi(getter)]
    pub fn certificate(&self) -> Result<Certificate, Code> {
        Ok(Certificate::new(self.handle.current().leaf().js()?))
    }
}

impl Identity {
    fn read(&self) -> JsResult<(String, String)> {
        let g = self
            .pems
            .lock()
            .map_err(|_| edge(meshtls_core::ErrorCode::Internal, "identity lock poisoned"))?;
        Ok((g.chain.clone(), g.key.clone()))
    }
}

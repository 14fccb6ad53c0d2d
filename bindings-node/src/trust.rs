//! Live trust (`meshtls-net` `TrustHandle`): the verifier of the moment, swappable while
//! servers run.
//!
//! A `Verifier` is a snapshot; a `Trust` is the handle an enrolled identity refreshes (bundle
//! and CRL from the CA service on its schedule). Node's TLS helpers (`lib/tls.js`) call
//! `verify()` on each handshake, which reads the current verifier (an `Arc`, no copy of the
//! bundle or CRL), and compare `generation` to refresh a server's `ca`.

use meshtls_net::TrustHandle;
use napi_derive::napi;

use crate::error::IntoJs;
use crate::validity::at;
use crate::verify::{chain_ders, peer_identity, peer_usage, ChainInput, PeerIdentity, Verifier};
use crate::verify::{Policy, VerifyOptions};

/// Who we trust, replaceable while servers run: every `verify()` uses the verifier current at
/// that moment. An enrolled identity's `trust` is refreshed from the CA service (bundle + CRL);
/// `new Trust(verifier)` and `replace()` do it by hand.
///
/// ```js
/// const server = createServer(node.identity, node.trust, onSocket)  // follows CRL and CA changes
/// ```
#[napi]
pub struct Trust {
    pub(crate) handle: TrustHandle,
}

impl Trust {
    /// A trust whose handle is refreshed elsewhere (an enrolled identity).
    pub(crate) fn from_handle(handle: TrustHandle) -> Self {
        Trust { handle }
    }
}

#[napi]
impl Trust {
    /// A trust holding `verifier` (generation 0).
    #[napi(constructor, catch_unwind)]
    pub fn new(verifier: &Verifier) -> Self {
        Trust {
            handle: TrustHandle::new(verifier.inner.clone()),
        }
    }

    /// Swaps in another verifier for every later `verify()` and handshake. On an enrolled
    /// identity's trust, the next scheduled refresh replaces it again.
    #[napi(catch_unwind)]
    pub fn replace(&self, verifier: &Verifier) {
        self.handle.replace(verifier.inner.clone());
    }

    /// Verifies a chain (leaf first) with the current bundle, CRL and policy; returns who the
    /// peer is, or throws an `Error` whose `code` says why not (`revoked`, `unknown_issuer`...).
    #[napi(catch_unwind)]
    pub fn verify(&self, chain: ChainInput, options: VerifyOptions) -> napi::Result<PeerIdentity> {
        let usage = peer_usage(&options.usage)?;
        let ders = chain_ders(&chain)?;
        self.handle
            .current()
            .verify(&ders, usage, at(options.at))
            .map(peer_identity)
            .js()
    }

    /// Grows at each replacement (a refresh of an enrolled identity's trust that brought a new
    /// bundle or CRL; an unchanged one leaves it): Node servers compare it to refresh their `ca`.
    #[napi(getter, catch_unwind)]
    pub fn generation(&self) -> f64 {
        self.handle.generation() as f64
    }

    /// The current CA certificates as PEM (Node's `ca` option), without the CRLs.
    #[napi(getter, catch_unwind)]
    pub fn ca_pem(&self) -> String {
        self.handle.current().bundle().to_pem()
    }

    /// The current policy.
    #[napi(getter, catch_unwind)]
    pub fn policy(&self) -> Policy {
        Policy {
            inner: self.handle.current().policy().clone(),
        }
    }

    /// The current verifier, as a snapshot (a copy of the bundle and CRL).
    #[napi(catch_unwind)]
    pub fn verifier(&self) -> Verifier {
        Verifier {
            inner: (*self.handle.current()).clone(),
        }
    }
}

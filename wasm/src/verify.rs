//! Verification: a chain against a trust bundle, with a policy, at a given time.

use js_sys::Uint8Array;
use meshtls_core::{Fingerprint, PeerUsage, VerifyOptions as CoreOptions};
use wasm_bindgen::prelude::*;

use crate::certificate::Certificate;
use crate::encoding::{self, Options, PemOrDer};
use crate::error::{MeshError, Result};
use crate::revocation::Crl;
use crate::validity::{from_millis, to_millis};

#[wasm_bindgen]
extern "C" {
    /// Tunables of a verifier.
    #[wasm_bindgen(typescript_type = "VerifyOptions")]
    pub type VerifyOptions;
    /// `"client" | "server"`.
    #[wasm_bindgen(typescript_type = "PeerUsageName")]
    pub type PeerUsageName;
}

/// The CA certificates a verifier trusts (several during a CA rotation) and the CRLs it
/// checks. Methods that change it change this object; `merged` returns a new one.
///
/// ```js
/// const bundle = TrustBundle.fromPem(rootPem);
/// bundle.addCrl(crlPem);
/// ```
#[wasm_bindgen]
#[derive(Clone, Default)]
pub struct TrustBundle(pub(crate) meshtls_core::TrustBundle);

#[wasm_bindgen]
impl TrustBundle {
    /// An empty bundle (it trusts nothing until a CA is added).
    #[wasm_bindgen(constructor)]
    pub fn new() -> TrustBundle {
        TrustBundle::default()
    }

    /// A bundle of every CA certificate in the PEM (or the one DER certificate). Throws
    /// `malformed` for bad input and `invalid_request` for a certificate that is not a CA.
    #[wasm_bindgen(js_name = fromPem)]
    pub fn from_pem(input: &PemOrDer) -> Result<TrustBundle> {
        Ok(TrustBundle(meshtls_core::TrustBundle::from_pem(
            &encoding::pem_or_der(input)?,
        )?))
    }

    /// Adds every CA certificate of the PEM (or the one DER certificate).
    #[wasm_bindgen(js_name = addCaPem)]
    pub fn add_ca_pem(&mut self, input: &PemOrDer) -> Result<()> {
        Ok(self.0.add_ca_pem(&encoding::pem_or_der(input)?)?)
    }

    /// Adds a CRL (PEM or DER). Once a bundle holds CRLs, every certificate in a verified
    /// path must be covered by one (fail closed: `revocation_unknown`).
    #[wasm_bindgen(js_name = addCrl)]
    pub fn add_crl(&mut self, input: &PemOrDer) -> Result<()> {
        Ok(self.0.add_crl(&encoding::pem_or_der(input)?)?)
    }

    /// Removes the CA with this SHA-256 fingerprint (hex); returns whether it was there.
    #[wasm_bindgen(js_name = removeCa)]
    pub fn remove_ca(&mut self, fingerprint: &str) -> Result<bool> {
        Ok(self.0.remove_ca(&Fingerprint::from_hex(fingerprint)?))
    }

    /// Removes the CAs expired at `at` (milliseconds); returns how many were removed.
    #[wasm_bindgen(js_name = pruneExpired)]
    pub fn prune_expired(&mut self, at: f64) -> Result<u32> {
        Ok(self.0.prune_expired(from_millis(at)?) as u32)
    }

    /// A new bundle with the CAs and CRLs of both (CA rotation: old and new side by side).
    pub fn merged(&self, other: &TrustBundle) -> TrustBundle {
        TrustBundle(self.0.merged(&other.0))
    }

    /// The CA certificates.
    #[wasm_bindgen(getter)]
    pub fn cas(&self) -> Vec<Certificate> {
        self.0.cas().cloned().map(Certificate).collect()
    }

    /// The CRLs.
    #[wasm_bindgen(getter)]
    pub fn crls(&self) -> Vec<Crl> {
        self.0.crls().iter().cloned().map(Crl).collect()
    }

    /// The CA certificates given to the bundle that it cannot use as trust anchors (an
    /// unknown critical extension...), with why: skipped, not fatal to the bundle.
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> Vec<SkippedCa> {
        self.0.skipped().iter().cloned().map(SkippedCa).collect()
    }

    /// How many CA certificates it holds.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.0.len() as u32
    }

    /// The CA certificates as PEM.
    #[wasm_bindgen(js_name = toPem)]
    pub fn to_pem(&self) -> String {
        self.0.to_pem()
    }
}

/// A CA certificate a trust bundle skipped (it cannot anchor a path), and why.
#[wasm_bindgen]
#[derive(Clone)]
pub struct SkippedCa(meshtls_core::SkippedCa);

#[wasm_bindgen]
impl SkippedCa {
    /// Its subject.
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> String {
        self.0.subject.clone()
    }

    /// SHA-256 of its DER, lowercase hex.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint.to_hex()
    }

    /// Why, as an error code (`unknown_critical_extension`...).
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.0.reason.code().as_str().to_string()
    }

    /// Why, in words.
    #[wasm_bindgen(getter)]
    pub fn message(&self) -> String {
        self.0.reason.message().to_string()
    }
}

/// Who may connect. Build one with `Policy.builder()`; a policy that allows nobody cannot
/// be built (`invalid_request`): meshtls fails closed.
///
/// ```js
/// const policy = Policy.builder()
///   .allowPattern("spiffe://mesh.internal/service/*")
///   .build();
/// ```
#[wasm_bindgen]
#[derive(Clone)]
pub struct Policy(pub(crate) meshtls_core::Policy);

#[wasm_bindgen]
impl Policy {
    /// A new, empty builder.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder(meshtls_core::Policy::builder())
    }

    /// Any peer the bundle vouches for (still subject to the X509-SVID rules).
    #[wasm_bindgen(js_name = allowAny)]
    pub fn allow_any() -> Policy {
        Policy(meshtls_core::Policy::allow_any())
    }

    /// The clock leeway, in milliseconds (default 0).
    #[wasm_bindgen(getter, js_name = clockLeeway)]
    pub fn clock_leeway(&self) -> f64 {
        self.0.clock_leeway().as_millis() as f64
    }

    /// The most intermediates a path may hold (default 4).
    #[wasm_bindgen(getter, js_name = maxIntermediates)]
    pub fn max_intermediates(&self) -> u32 {
        u32::try_from(self.0.max_intermediates()).unwrap_or(u32::MAX)
    }
}

/// An immutable policy builder: every method returns a new builder and leaves this one as
/// it was. A peer passes when it matches at least one identity rule (ID, pattern, trust
/// domain or DNS name) and, if pins are set, one of the pins.
#[wasm_bindgen]
#[derive(Clone)]
pub struct PolicyBuilder(meshtls_core::PolicyBuilder);

#[wasm_bindgen]
impl PolicyBuilder {
    /// Allows exactly this SPIFFE ID (throws `malformed` if it is not one).
    #[wasm_bindgen(js_name = allowId)]
    pub fn allow_id(&self, id: &str) -> Result<PolicyBuilder> {
        let id = meshtls_core::SpiffeId::parse(id)?;
        Ok(PolicyBuilder(self.0.clone().allow_id(id)))
    }

    /// Allows the IDs matching a pattern such as `spiffe://mesh.internal/service/*`.
    #[wasm_bindgen(js_name = allowPattern)]
    pub fn allow_pattern(&self, pattern: &str) -> Result<PolicyBuilder> {
        let p = meshtls_core::IdPattern::parse(pattern)?;
        Ok(PolicyBuilder(self.0.clone().allow_pattern(p)))
    }

    /// Allows every member of the trust domain (`mesh.internal`; the same strict syntax as
    /// every meshtls language).
    #[wasm_bindgen(js_name = allowTrustDomain)]
    pub fn allow_trust_domain(&self, trust_domain: &str) -> Result<PolicyBuilder> {
        let td = meshtls_core::TrustDomain::new(trust_domain)?;
        Ok(PolicyBuilder(self.0.clone().allow_trust_domain(td)))
    }

    /// Allows a peer whose certificate is valid for this DNS name or IP address.
    #[wasm_bindgen(js_name = allowDns)]
    pub fn allow_dns(&self, name: &str) -> PolicyBuilder {
        PolicyBuilder(self.0.clone().allow_dns(name))
    }

    /// Requires the certificate's SHA-256 (hex) to be one of the pins.
    #[wasm_bindgen(js_name = pinCert)]
    pub fn pin_cert(&self, fingerprint: &str) -> Result<PolicyBuilder> {
        let fp = Fingerprint::from_hex(fingerprint)?;
        Ok(PolicyBuilder(self.0.clone().pin_cert(fp)))
    }

    /// Requires the SubjectPublicKeyInfo's SHA-256 (hex) to be one of the pins.
    #[wasm_bindgen(js_name = pinSpki)]
    pub fn pin_spki(&self, fingerprint: &str) -> Result<PolicyBuilder> {
        let fp = Fingerprint::from_hex(fingerprint)?;
        Ok(PolicyBuilder(self.0.clone().pin_spki(fp)))
    }

    /// Allows any identity the bundle vouches for.
    #[wasm_bindgen(js_name = allowAny)]
    pub fn allow_any(&self) -> PolicyBuilder {
        PolicyBuilder(self.0.clone().allow_any())
    }

    /// Tolerates this clock difference (a duration such as `"30s"`) at both ends of every
    /// certificate's validity. Default none: the rotation margin absorbs clock drift.
    #[wasm_bindgen(js_name = clockLeeway)]
    pub fn clock_leeway(&self, leeway: &str) -> Result<PolicyBuilder> {
        let d = crate::validity::duration(leeway)?;
        Ok(PolicyBuilder(self.0.clone().clock_leeway(d)))
    }

    /// The most intermediates between the leaf and the trust anchor (default 4).
    #[wasm_bindgen(js_name = maxIntermediates)]
    pub fn max_intermediates(&self, n: u32) -> PolicyBuilder {
        PolicyBuilder(self.0.clone().max_intermediates(n as usize))
    }

    /// The policy. Throws `invalid_request` when it would allow nobody or a DNS rule is not
    /// a DNS name.
    pub fn build(&self) -> Result<Policy> {
        Ok(Policy(self.0.clone().build()?))
    }
}

/// Who the peer is, once verified.
#[wasm_bindgen]
pub struct PeerIdentity(meshtls_core::PeerIdentity);

#[wasm_bindgen]
impl PeerIdentity {
    /// The SPIFFE ID, if the leaf has one.
    #[wasm_bindgen(getter, js_name = spiffeId)]
    pub fn spiffe_id(&self) -> Option<String> {
        self.0.spiffe_id.as_ref().map(|id| id.to_string())
    }

    /// DNS SANs.
    #[wasm_bindgen(getter, js_name = dnsNames)]
    pub fn dns_names(&self) -> Vec<String> {
        self.0.dns_names.clone()
    }

    /// Subject common name.
    #[wasm_bindgen(getter, js_name = commonName)]
    pub fn common_name(&self) -> Option<String> {
        self.0.common_name.clone()
    }

    /// Serial number, lowercase hex.
    #[wasm_bindgen(getter)]
    pub fn serial(&self) -> String {
        self.0.serial.to_hex()
    }

    /// Start of validity, milliseconds since the epoch.
    #[wasm_bindgen(getter, js_name = notBefore)]
    pub fn not_before(&self) -> f64 {
        to_millis(self.0.not_before)
    }

    /// End of validity, milliseconds since the epoch.
    #[wasm_bindgen(getter, js_name = notAfter)]
    pub fn not_after(&self) -> f64 {
        to_millis(self.0.not_after)
    }

    /// SHA-256 of the leaf DER, hex.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.0.fingerprint.to_hex()
    }

    /// SHA-256 of the leaf SubjectPublicKeyInfo, hex.
    #[wasm_bindgen(getter, js_name = spkiFingerprint)]
    pub fn spki_fingerprint(&self) -> String {
        self.0.spki_fingerprint.to_hex()
    }

    /// Subject of the trust anchor the path ends at.
    #[wasm_bindgen(getter, js_name = anchorSubject)]
    pub fn anchor_subject(&self) -> String {
        self.0.anchor_subject.clone()
    }
}

fn peer_usage(usage: &PeerUsageName) -> Result<PeerUsage> {
    let v: &JsValue = usage.as_ref();
    match v.as_string() {
        Some(name) => Ok(name.parse()?),
        None => Err(MeshError::invalid_request(
            "usage must be \"client\" (the peer is a TLS client) or \"server\"",
        )),
    }
}

fn verify_options(options: &JsValue) -> Result<CoreOptions> {
    let o = Options::new(options, "options")?;
    let mut out = CoreOptions::default();
    for moved in ["clockSkew", "maxIntermediates"] {
        if o.value(moved)?.is_some() {
            return Err(MeshError::invalid_request(format!(
                "{moved} is a policy setting: use Policy.builder().clockLeeway(...) / .maxIntermediates(...)"
            )));
        }
    }
    if let Some(b) = o.boolean("requireCrl")? {
        out.revocation.require_crl = b;
    }
    if let Some(b) = o.boolean("rejectStaleCrl")? {
        out.revocation.reject_stale_crl = b;
    }
    if let Some(b) = o.boolean("leafOnly")? {
        out.revocation.leaf_only = b;
    }
    Ok(out)
}

/// A trust bundle, a policy and options: decides whether a presented chain is acceptable.
/// The verifier keeps its own copies; changing the bundle afterwards does not change it.
///
/// ```js
/// const verifier = new Verifier(bundle, policy);
/// try {
///   const peer = verifier.verify(chainPem, "client", Date.now());
///   console.log(peer.spiffeId);
/// } catch (e) {
///   if (e.code === "expired") { ... }
/// }
/// ```
#[wasm_bindgen]
pub struct Verifier(meshtls_core::Verifier);

#[wasm_bindgen]
impl Verifier {
    /// A verifier for the bundle and policy. `options`: `requireCrl` (default true),
    /// `rejectStaleCrl` (default true), `leafOnly` (default false). Clock leeway and path
    /// depth are policy settings (`Policy.builder().clockLeeway("30s").maxIntermediates(2)`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        bundle: &TrustBundle,
        policy: &Policy,
        options: Option<VerifyOptions>,
    ) -> Result<Verifier> {
        let opts = match options {
            Some(o) => verify_options(o.as_ref())?,
            None => CoreOptions::default(),
        };
        Ok(Verifier(meshtls_core::Verifier::with_options(
            bundle.0.clone(),
            policy.0.clone(),
            opts,
        )))
    }

    /// Verifies a PEM chain (leaf first; or one DER certificate) for a peer acting as
    /// `usage` (`"client"` or `"server"`) at `at` (milliseconds since the epoch). Returns
    /// the peer's identity or throws an error whose `code` says why (`expired`,
    /// `unknown_issuer`, `bad_signature`, `revoked`, `wrong_usage`, `identity_not_allowed`...).
    pub fn verify(&self, chain: &PemOrDer, usage: &PeerUsageName, at: f64) -> Result<PeerIdentity> {
        let bytes = encoding::pem_or_der(chain)?;
        let usage = peer_usage(usage)?;
        let at = from_millis(at)?;
        Ok(PeerIdentity(self.0.verify_pem(&bytes, usage, at)?))
    }

    /// Verifies a chain of DER certificates (leaf first), as a TLS stack presents them.
    #[wasm_bindgen(js_name = verifyDer)]
    pub fn verify_der(
        &self,
        chain: Vec<Uint8Array>,
        usage: &PeerUsageName,
        at: f64,
    ) -> Result<PeerIdentity> {
        let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.to_vec()).collect();
        let usage = peer_usage(usage)?;
        let at = from_millis(at)?;
        Ok(PeerIdentity(self.0.verify(&ders, usage, at)?))
    }
}

//! Issuance requests, issued certificates, and key pairs with CSRs.

use js_sys::Uint8Array;
use meshtls_core::{parse_ip, IssueRequest, KeyAlgorithm, KeySource, Pkcs12Profile, SpiffeId};
use wasm_bindgen::prelude::*;

use crate::certificate::Certificate;
use crate::encoding::{self, Options};
use crate::error::{MeshError, Result};
use crate::validity::{duration, to_millis};

#[wasm_bindgen]
extern "C" {
    /// What to issue.
    #[wasm_bindgen(typescript_type = "IssueOptions")]
    pub type IssueOptions;
    /// How to make a CSR.
    #[wasm_bindgen(typescript_type = "CsrOptions")]
    pub type CsrOptions;
}

pub(crate) fn issue_request(options: &JsValue) -> Result<IssueRequest> {
    let o = Options::new(options, "request")?;
    let id = o.string("id")?.map(|s| SpiffeId::parse(&s)).transpose()?;
    let mut req = match o.value("csr")? {
        // With both, the CSR must name that ID or none (the core decides, never overwrites);
        // the CSR's DNS and IP names are kept.
        Some(csr) => IssueRequest::from_csr_with_id(&encoding::bytes(&csr)?, id.as_ref())?,
        None => {
            let id = id.ok_or_else(|| {
                MeshError::invalid_request("request.id (a SPIFFE ID) or request.csr is required")
            })?;
            let mut req = IssueRequest::new(id);
            if let Some(k) = o.string("key")? {
                req.key = KeySource::Generate(k.parse::<KeyAlgorithm>()?);
            }
            req
        }
    };
    req = req.with_dns(o.strings("dnsNames")?);
    for ip in o.strings("ipAddresses")? {
        req.ip_addresses.push(parse_ip(&ip)?);
    }
    if let Some(cn) = o.string("commonName")? {
        req.common_name = Some(cn);
    }
    if let Some(u) = o.string("usage")? {
        req.usage = u.parse()?;
    }
    if let Some(l) = o.string("lifetime")? {
        req.lifetime = duration(&l)?;
    }
    req.crl_distribution_points
        .extend(o.strings("crlDistributionPoints")?);
    Ok(req)
}

/// An issued certificate: PEM, chain, the generated key (if meshtls made it), serial,
/// validity and fingerprint.
#[wasm_bindgen]
pub struct Issued(pub(crate) meshtls_core::Issued);

#[wasm_bindgen]
impl Issued {
    /// The leaf certificate, PEM.
    #[wasm_bindgen(getter, js_name = certPem)]
    pub fn cert_pem(&self) -> String {
        self.0.cert_pem.clone()
    }

    /// The leaf and its intermediates (not the root), PEM: what a TLS peer presents.
    #[wasm_bindgen(getter, js_name = chainPem)]
    pub fn chain_pem(&self) -> String {
        self.0.chain_pem.clone()
    }

    /// The generated private key as PKCS#8 PEM; `undefined` when issued from a CSR.
    #[wasm_bindgen(getter, js_name = keyPem)]
    pub fn key_pem(&self) -> Option<String> {
        self.0.key_pem.clone()
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

    /// The leaf certificate, parsed.
    #[wasm_bindgen(getter)]
    pub fn certificate(&self) -> Result<Certificate> {
        Ok(Certificate(meshtls_core::Certificate::from_der(
            &self.0.cert_der,
        )?))
    }

    /// A PKCS#12 (PFX) file with the generated key and the chain, protected by `password`.
    /// `profile`: `"modern"` (default; AES-256, PBKDF2) or `"legacy"` (3DES, SHA-1 MAC) for
    /// old readers. Throws `invalid_request` when the key was not generated here.
    #[wasm_bindgen(js_name = toPkcs12)]
    pub fn to_pkcs12(&self, password: &str, profile: Option<String>) -> Result<Uint8Array> {
        let profile = match profile {
            None => Pkcs12Profile::default(),
            Some(name) => name.parse()?,
        };
        Ok(Uint8Array::from(
            self.0.to_pkcs12(password, profile)?.as_slice(),
        ))
    }
}

/// A new key pair and a CSR naming a SPIFFE ID, signed by the new key. The key stays with
/// the requester; the CSR goes to the CA.
#[wasm_bindgen]
pub struct GeneratedCsr(meshtls_core::GeneratedCsr);

#[wasm_bindgen]
impl GeneratedCsr {
    /// The CSR, PEM.
    #[wasm_bindgen(getter, js_name = csrPem)]
    pub fn csr_pem(&self) -> String {
        self.0.csr_pem.clone()
    }

    /// The private key, PKCS#8 PEM.
    #[wasm_bindgen(getter, js_name = keyPem)]
    pub fn key_pem(&self) -> String {
        self.0.key_pem.clone()
    }
}

/// Generates a key pair (`options.key`, default `ecdsa-p256`; RSA throws `unsupported` in
/// wasm) and a CSR for the SPIFFE ID `id`, with optional `options.dnsNames`.
///
/// ```js
/// const { csrPem, keyPem } = createCsr("spiffe://mesh.internal/service/api");
/// ```
#[wasm_bindgen(js_name = createCsr)]
pub fn create_csr(id: &str, options: Option<CsrOptions>) -> Result<GeneratedCsr> {
    let raw = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
    let o = Options::new(&raw, "options")?;
    let id = SpiffeId::parse(id)?;
    let alg = match o.string("key")? {
        Some(k) => k.parse::<KeyAlgorithm>()?,
        None => KeyAlgorithm::default(),
    };
    let dns = o.strings("dnsNames")?;
    Ok(GeneratedCsr(meshtls_core::create_csr(&id, &dns, alg)?))
}

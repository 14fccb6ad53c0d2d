//! The certificate authority, for local and development meshes and for tests: create a root
//! or an intermediate, load and save one, issue leaves and CRLs.

use meshtls_core::{CrlParams, IntermediateParams, KeyAlgorithm, RootParams, TrustDomain};
use wasm_bindgen::prelude::*;

use crate::certificate::Certificate;
use crate::encoding::{self, Options, PemOrDer};
use crate::error::{MeshError, Result};
use crate::grant::Grant;
use crate::issue::{issue_request, IssueOptions, Issued};
use crate::revocation::{Crl, RevocationList};
use crate::validity::{duration, from_millis};

#[wasm_bindgen]
extern "C" {
    /// How to create a root CA.
    #[wasm_bindgen(typescript_type = "RootOptions")]
    pub type RootOptions;
    /// How to create an intermediate CA.
    #[wasm_bindgen(typescript_type = "IntermediateOptions")]
    pub type IntermediateOptions;
    /// How to build a CRL.
    #[wasm_bindgen(typescript_type = "CrlOptions")]
    pub type CrlOptions;
}

/// The CA fields both kinds share: common name, key, validity, path length, DNS constraints.
struct CaFields {
    common_name: Option<String>,
    key: Option<KeyAlgorithm>,
    validity: Option<std::time::Duration>,
    path_len: Option<u8>,
    permitted_dns: Vec<String>,
}

fn ca_fields(o: &Options<'_>) -> Result<CaFields> {
    Ok(CaFields {
        common_name: o.string("commonName")?,
        key: o.string("key")?.map(|k| k.parse()).transpose()?,
        validity: o.string("validity")?.map(|v| duration(&v)).transpose()?,
        path_len: o.integer("pathLen", 255)?.map(|n| n as u8),
        permitted_dns: o.strings("permittedDns")?,
    })
}

/// A certificate authority (root or intermediate) with its private key.
///
/// ```js
/// const now = Date.now();
/// const ca = Authority.createRoot({ trustDomain: "mesh.internal" }, now);
/// const leaf = ca.issue({ id: "spiffe://mesh.internal/service/api" }, now);
/// ```
#[wasm_bindgen]
pub struct Authority(meshtls_core::Authority);

#[wasm_bindgen]
impl Authority {
    /// Creates a self-signed root CA valid from `now` (milliseconds; backdated one minute).
    /// `options.trustDomain` is required; `key` defaults to `ecdsa-p256`, `validity` to
    /// `"3650d"`. RSA keys cannot be generated in wasm: `rsa-2048`/`rsa-4096` throw
    /// `unsupported`.
    #[wasm_bindgen(js_name = createRoot)]
    pub fn create_root(options: &RootOptions, now: f64) -> Result<Authority> {
        let o = Options::new(options.as_ref(), "options")?;
        let td = o
            .string("trustDomain")?
            .ok_or_else(|| MeshError::invalid_request("options.trustDomain is required"))?;
        // Strict, as in every meshtls binding: `spiffe://mesh.internal` is malformed here.
        let mut params = RootParams::new(TrustDomain::new(&td)?);
        let f = ca_fields(&o)?;
        params.common_name = f.common_name;
        if let Some(k) = f.key {
            params.key = k;
        }
        if let Some(v) = f.validity {
            params.validity = v;
        }
        params.path_len = f.path_len;
        params.permitted_dns = f.permitted_dns;
        Ok(Authority(meshtls_core::Authority::create_root(
            &params,
            from_millis(now)?,
        )?))
    }

    /// Creates an intermediate CA signed by this one (same trust domain), valid from `now`.
    #[wasm_bindgen(js_name = createIntermediate)]
    pub fn create_intermediate(
        &self,
        options: Option<IntermediateOptions>,
        now: f64,
    ) -> Result<Authority> {
        let raw = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        let o = Options::new(&raw, "options")?;
        let mut params = IntermediateParams::new();
        let f = ca_fields(&o)?;
        params.common_name = f.common_name;
        if let Some(k) = f.key {
            params.key = k;
        }
        if let Some(v) = f.validity {
            params.validity = v;
        }
        params.path_len = f.path_len;
        params.permitted_dns = f.permitted_dns;
        Ok(Authority(meshtls_core::Authority::create_intermediate(
            &self.0,
            &params,
            from_millis(now)?,
        )?))
    }

    /// Loads a CA from its certificate chain (this CA first, up to the root) and its
    /// private key: encrypted PKCS#8 with `passphrase` (throws `wrong_passphrase` when it
    /// does not decrypt), or plain PKCS#8 when `passphrase` is omitted.
    #[wasm_bindgen(js_name = fromPem)]
    pub fn from_pem(
        chain: &PemOrDer,
        key: &PemOrDer,
        passphrase: Option<String>,
    ) -> Result<Authority> {
        let chain = encoding::pem_or_der(chain)?;
        let key = encoding::pem_or_der(key)?;
        Ok(Authority(meshtls_core::Authority::from_pem(
            &chain,
            &key,
            passphrase.as_deref(),
        )?))
    }

    /// Issues an X509-SVID at `now` (milliseconds): from a generated key (`key`, default
    /// `ecdsa-p256`; the key comes back in `keyPem`) or from a CSR (`csr`; the requester
    /// keeps its key). Throws `invalid_request` for an ID outside the CA's trust domain or
    /// name constraints, `bad_signature` for a tampered CSR.
    pub fn issue(&self, request: &IssueOptions, now: f64) -> Result<Issued> {
        let req = issue_request(request.as_ref())?;
        Ok(Issued(self.0.issue(&req, from_millis(now)?)?))
    }

    /// Issues `request` at `now` (milliseconds) if `grant` allows it: the request's own rules
    /// (`invalid_request`), then the grant (`not_authorized`), then issuance. `admins` are the
    /// administrator ID patterns no join-token grant may issue (the CA service's own ID is
    /// always reserved).
    #[wasm_bindgen(js_name = issueGranted)]
    pub fn issue_granted(
        &self,
        request: &IssueOptions,
        grant: &Grant,
        admins: Vec<String>,
        now: f64,
    ) -> Result<Issued> {
        let req = issue_request(request.as_ref())?;
        let mut reserved = self.0.reserved();
        for a in admins {
            reserved = reserved.with_admin(meshtls_core::IdPattern::parse(&a)?);
        }
        Ok(Issued(self.0.issue_granted(
            &req,
            &grant.0,
            &reserved,
            from_millis(now)?,
        )?))
    }

    /// Builds a CRL signed by this CA from the revocation list, issued at `now`
    /// (milliseconds). `options.number` (required) must grow with each CRL;
    /// `options.nextUpdate` (milliseconds) defaults to 7 days after `now`.
    #[wasm_bindgen(js_name = buildCrl)]
    pub fn build_crl(&self, list: &RevocationList, options: &CrlOptions, now: f64) -> Result<Crl> {
        let o = Options::new(options.as_ref(), "options")?;
        let number = o
            .integer("number", (1u64 << 53) - 1)?
            .ok_or_else(|| MeshError::invalid_request("options.number is required"))?;
        let mut params = CrlParams::new(number, from_millis(now)?);
        if let Some(next) = o.number("nextUpdate")? {
            params.next_update = from_millis(next)?;
        }
        Ok(Crl(self.0.build_crl(&list.0, &params)?))
    }

    /// This CA's certificate as PEM.
    #[wasm_bindgen(getter, js_name = certificatePem)]
    pub fn certificate_pem(&self) -> String {
        self.0.certificate_pem()
    }

    /// This CA's chain as PEM: this CA, its parents, then the root.
    #[wasm_bindgen(getter, js_name = chainPem)]
    pub fn chain_pem(&self) -> String {
        self.0.chain_pem()
    }

    /// The root certificate as PEM (what verifiers put in their trust bundle).
    #[wasm_bindgen(getter, js_name = rootPem)]
    pub fn root_pem(&self) -> String {
        self.0.root_pem()
    }

    /// This CA's certificate, parsed.
    #[wasm_bindgen(getter)]
    pub fn certificate(&self) -> Certificate {
        Certificate(self.0.certificate().clone())
    }

    /// The private key as encrypted PKCS#8 PEM (the form to store).
    #[wasm_bindgen(js_name = encryptedKeyPem)]
    pub fn encrypted_key_pem(&self, passphrase: &str) -> Result<String> {
        Ok(self.0.encrypted_key_pem(passphrase)?.0)
    }

    /// The private key as plain PKCS#8 PEM (handle with care).
    #[wasm_bindgen(js_name = plaintextKeyPem)]
    pub fn plaintext_key_pem(&self) -> String {
        self.0.plaintext_key_pem().0
    }

    /// The trust domain it vouches for.
    #[wasm_bindgen(getter, js_name = trustDomain)]
    pub fn trust_domain(&self) -> String {
        self.0.trust_domain().as_str().to_owned()
    }

    /// Whether it is a root (self-signed) CA.
    #[wasm_bindgen(getter, js_name = isRoot)]
    pub fn is_root(&self) -> bool {
        self.0.is_root()
    }

    /// Its key algorithm (`ecdsa-p256`...).
    #[wasm_bindgen(getter, js_name = keyAlgorithm)]
    pub fn key_algorithm(&self) -> String {
        self.0.key_algorithm().as_str().to_owned()
    }

    /// Its serial number, hex.
    #[wasm_bindgen(getter)]
    pub fn serial(&self) -> String {
        self.0.serial().to_hex()
    }
}

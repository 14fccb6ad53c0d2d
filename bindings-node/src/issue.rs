//! Issuance (core `issue`): leaves from a generated key or a CSR, and CSR creation.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use meshtls_core::{
    create_csr, parse_ip, ErrorCode, GeneratedCsr, IdPattern, IssueRequest as CoreIssueRequest,
    Issued as CoreIssued, KeySource, SpiffeId, Usage,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::authority::{key_algorithm, Authority};
use crate::certificate::Certificate;
use crate::encoding::{bytes, pkcs12_profile, Input};
use crate::error::{edge, IntoJs};
use crate::grant::Grant;
use crate::tasks::CoreTask;
use crate::validity::{at, duration, to_date};

/// What to issue (`authority.issue`).
#[napi(object)]
pub struct IssueRequest {
    /// The SPIFFE ID. Optional with a `csr`, which then names it.
    pub id: Option<String>,
    /// DNS SANs.
    pub dns_names: Option<Vec<String>>,
    /// IP address SANs.
    pub ip_addresses: Option<Vec<String>>,
    /// Subject common name (default: the last segment of the ID).
    pub common_name: Option<String>,
    /// `server`, `client` or `both` (default).
    pub usage: Option<String>,
    /// Lifetime: seconds, or text such as `"90d"` (default 90 days, at least one minute).
    pub lifetime: Option<Either<f64, String>>,
    /// Key algorithm to generate (default `ecdsa-p256`). Not with `csr`.
    pub key: Option<String>,
    /// A PKCS#10 CSR (PEM or DER): the requester keeps its key. Not with `key`.
    pub csr: Option<Input>,
    /// CRL distribution point URIs.
    pub crl_distribution_points: Option<Vec<String>>,
}

/// Translates a JavaScript request into the core's.
pub fn core_request(r: IssueRequest) -> napi::Result<CoreIssueRequest> {
    let id = r.id.as_deref().map(SpiffeId::parse).transpose().js()?;
    let mut req = match (&r.csr, id) {
        // With both, the CSR must name that ID or none; its DNS and IP names are kept.
        (Some(csr), id) => CoreIssueRequest::from_csr_with_id(&bytes(csr), id.as_ref()).js()?,
        (None, Some(id)) => CoreIssueRequest::new(id),
        (None, None) => {
            return Err(edge(
                ErrorCode::InvalidRequest,
                "an issue request needs an id (or a csr naming one)",
            ))
        }
    };
    if r.key.is_some() {
        if r.csr.is_some() {
            return Err(edge(
                ErrorCode::InvalidRequest,
                "give a key algorithm or a csr, not both",
            ));
        }
        req = req.with_key(KeySource::Generate(key_algorithm(r.key)?));
    }
    if let Some(names) = r.dns_names {
        req = req.with_dns(names);
    }
    if let Some(ips) = r.ip_addresses {
        let parsed = ips
            .iter()
            .map(|ip| parse_ip(ip).js())
            .collect::<napi::Result<Vec<IpAddr>>>()?;
        req = req.with_ips(parsed);
    }
    if let Some(cn) = r.common_name {
        req = req.with_common_name(cn);
    }
    if let Some(u) = r.usage {
        req = req.with_usage(u.parse::<Usage>().js()?);
    }
    if let Some(l) = r.lifetime {
        req = req.with_lifetime(duration(l)?);
    }
    for uri in r.crl_distribution_points.unwrap_or_default() {
        req = req.with_crl_distribution_point(uri);
    }
    Ok(req)
}

/// An issued certificate: the leaf, the chain to present, and the key when meshtls made it.
#[napi]
pub struct Issued {
    pub(crate) inner: Arc<CoreIssued>,
}

impl Issued {
    pub(crate) fn new(inner: CoreIssued) -> Self {
        Issued {
            inner: Arc::new(inner),
        }
    }
}

#[napi]
impl Issued {
    /// The leaf, PEM.
    #[napi(getter, catch_unwind)]
    pub fn cert_pem(&self) -> String {
        self.inner.cert_pem.clone()
    }

    /// The chain to present: leaf then intermediates (no root), PEM.
    #[napi(getter, catch_unwind)]
    pub fn chain_pem(&self) -> String {
        self.inner.chain_pem.clone()
    }

    /// The generated private key, PKCS#8 PEM (`null` when issued from a CSR).
    #[napi(getter, catch_unwind)]
    pub fn key_pem(&self) -> Option<String> {
        self.inner.key_pem.clone()
    }

    /// The leaf, DER.
    #[napi(getter, catch_unwind)]
    pub fn cert_der(&self) -> Buffer {
        self.inner.cert_der.clone().into()
    }

    /// The chain, DER, leaf first.
    #[napi(getter, catch_unwind)]
    pub fn chain_der(&self) -> Vec<Buffer> {
        self.inner
            .chain_der
            .iter()
            .map(|d| d.clone().into())
            .collect()
    }

    /// The generated private key, PKCS#8 DER.
    #[napi(getter, catch_unwind)]
    pub fn key_der(&self) -> Option<Buffer> {
        self.inner.key_der.clone().map(Buffer::from)
    }

    /// Serial number, lowercase hex.
    #[napi(getter, catch_unwind)]
    pub fn serial(&self) -> String {
        self.inner.serial.to_hex()
    }

    /// Start of validity.
    #[napi(getter, catch_unwind)]
    pub fn not_before(&self) -> DateTime<Utc> {
        to_date(self.inner.not_before)
    }

    /// End of validity.
    #[napi(getter, catch_unwind)]
    pub fn not_after(&self) -> DateTime<Utc> {
        to_date(self.inner.not_after)
    }

    /// SHA-256 of the leaf DER, lowercase hex.
    #[napi(getter, catch_unwind)]
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint.to_hex()
    }

    /// The leaf, parsed.
    #[napi(getter, catch_unwind)]
    pub fn certificate(&self) -> napi::Result<Certificate> {
        Ok(Certificate::new(
            meshtls_core::Certificate::from_der(&self.inner.cert_der).js()?,
        ))
    }

    /// A password-protected PKCS#12 (PFX) with the key and chain; `profile` is `"modern"`
    /// (default) or `"legacy"`. Issued from a CSR (no key here) it is `invalid_request`.
    #[napi(ts_return_type = "Promise<Buffer>", catch_unwind)]
    pub fn to_pkcs12(
        &self,
        password: String,
        profile: Option<String>,
    ) -> napi::Result<AsyncTask<CoreTask<Vec<u8>, Buffer>>> {
        let profile = pkcs12_profile(profile)?;
        let issued = self.inner.clone();
        Ok(CoreTask::new(
            move || issued.to_pkcs12(&password, profile),
            Buffer::from,
        ))
    }
}

/// Bulk issuance off the event loop.
pub type IssueManyTask = CoreTask<Vec<CoreIssued>, Vec<Issued>>;

#[napi]
impl Authority {
    /// Issues a certificate. Resolves to an `Issued`; a request the CA refuses rejects with
    /// `invalid_request`, a CSR whose signature fails with `bad_signature`.
    #[napi(ts_return_type = "Promise<Issued>", catch_unwind)]
    pub fn issue(
        &self,
        request: IssueRequest,
        at_time: Option<DateTime<Utc>>,
    ) -> napi::Result<AsyncTask<CoreTask<CoreIssued, Issued>>> {
        let req = core_request(request)?;
        let now = at(at_time);
        let ca = self.inner.clone();
        Ok(CoreTask::new(move || ca.issue(&req, now), Issued::new))
    }

    /// Issues a certificate if `grant` allows it: the request's own rules (`invalid_request`),
    /// then the grant (`not_authorized`), then issuance. `admins` are the administrator ID
    /// patterns no join-token grant may issue (the CA service's ID is always reserved).
    #[napi(ts_return_type = "Promise<Issued>", catch_unwind)]
    pub fn issue_granted(
        &self,
        request: IssueRequest,
        grant: &Grant,
        admins: Option<Vec<String>>,
        at_time: Option<DateTime<Utc>>,
    ) -> napi::Result<AsyncTask<CoreTask<CoreIssued, Issued>>> {
        let req = core_request(request)?;
        let mut reserved = self.inner.reserved();
        for a in admins.unwrap_or_default() {
            reserved = reserved.with_admin(IdPattern::parse(&a).js()?);
        }
        let grant = grant.inner.clone();
        let now = at(at_time);
        let ca = self.inner.clone();
        Ok(CoreTask::new(
            move || ca.issue_granted(&req, &grant, &reserved, now),
            Issued::new,
        ))
    }

    /// Issues many certificates in one trip off the event loop; fails as a whole on the first
    /// refused request.
    #[napi(ts_return_type = "Promise<Issued[]>", catch_unwind)]
    pub fn issue_many(
        &self,
        requests: Vec<IssueRequest>,
        at_time: Option<DateTime<Utc>>,
    ) -> napi::Result<AsyncTask<IssueManyTask>> {
        let reqs = requests
            .into_iter()
            .map(core_request)
            .collect::<napi::Result<Vec<_>>>()?;
        let now = at(at_time);
        let ca = self.inner.clone();
        Ok(CoreTask::new(
            move || reqs.iter().map(|r| ca.issue(r, now)).collect(),
            |v| v.into_iter().map(Issued::new).collect(),
        ))
    }
}

/// Options of `createCsr`.
#[napi(object)]
pub struct CsrOptions {
    /// DNS SANs to request.
    pub dns_names: Option<Vec<String>>,
    /// Key algorithm (default `ecdsa-p256`).
    pub key: Option<String>,
}

/// A key pair and a CSR made for it (the key never leaves the requester).
#[napi(object)]
pub struct CsrResult {
    /// The CSR, PEM.
    pub csr_pem: String,
    /// The CSR, DER.
    pub csr_der: Buffer,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Buffer,
}

/// Generates a key pair and a CSR naming `id`. Resolves to `{ csrPem, csrDer, keyPem, keyDer }`.
#[napi(
    js_name = "createCsr",
    ts_return_type = "Promise<CsrResult>",
    catch_unwind
)]
pub fn create_csr_js(
    id: String,
    options: Option<CsrOptions>,
) -> napi::Result<AsyncTask<CoreTask<GeneratedCsr, CsrResult>>> {
    let id = SpiffeId::parse(&id).js()?;
    let (dns, key) = match options {
        Some(o) => (o.dns_names.unwrap_or_default(), key_algorithm(o.key)?),
        None => (Vec::new(), key_algorithm(None)?),
    };
    Ok(CoreTask::new(
        move || create_csr(&id, &dns, key),
        |g| CsrResult {
            csr_pem: g.csr_pem,
            csr_der: g.csr_der.into(),
            key_pem: g.key_pem,
            key_der: g.key_der.into(),
        },
    ))
}

//! Certificate authorities: create, load, save, issue, sign CRLs.

use meshtls_core::{
    Authority as CoreAuthority, CrlParams, IntermediateParams, IssueRequest, RootParams,
};
use pyo3::prelude::*;

use crate::certificate::certificate_arg;
use crate::certificate::Certificate;
use crate::encoding::input_bytes;
use crate::error::to_py;
use crate::grant::{reserved, Grant};
use crate::identity::trust_domain;
use crate::issue::{key_algorithm, request, Issued, RequestArgs};
use crate::revocation::{Crl, RevocationList};
use crate::validity::{opt_duration, timestamp};

/// A certificate authority (root or intermediate) holding its private key.
///
/// `Authority.create_root("mesh.internal")`, `Authority.load(chain_pem, key_pem, passphrase)`,
/// `ca.issue("spiffe://mesh.internal/service/api")`.
#[pyclass(frozen, module = "meshtls._native")]
pub struct Authority {
    inner: CoreAuthority,
}

#[pymethods]
impl Authority {
    /// A new self-signed root CA for `trust_domain`. Unset arguments keep the core defaults
    /// (ECDSA P-256, 10 years, no path length limit, no name constraints).
    #[staticmethod]
    #[pyo3(signature = (trust_domain, *, common_name=None, key=None, validity=None,
                        path_len=None, permitted_dns=Vec::new(), now=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_root(
        py: Python<'_>,
        trust_domain: &str,
        common_name: Option<String>,
        key: Option<&str>,
        validity: Option<&Bound<'_, PyAny>>,
        path_len: Option<u8>,
        permitted_dns: Vec<String>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Authority> {
        let mut params = RootParams::new(self::trust_domain(trust_domain)?);
        params.common_name = common_name;
        if key.is_some() {
            params.key = key_algorithm(key)?;
        }
        if let Some(v) = opt_duration(validity)? {
            params.validity = v;
        }
        if path_len.is_some() {
            params.path_len = path_len;
        }
        params.permitted_dns = permitted_dns;
        let now = timestamp(now)?;
        let inner = py
            .detach(move || CoreAuthority::create_root(&params, now))
            .map_err(to_py)?;
        Ok(Authority { inner })
    }

    /// An intermediate CA signed by this one. Unset arguments keep the core defaults
    /// (ECDSA P-256, 3 years, path length 0).
    #[pyo3(signature = (*, common_name=None, key=None, validity=None, path_len=None,
                        permitted_dns=Vec::new(), now=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_intermediate(
        &self,
        py: Python<'_>,
        common_name: Option<String>,
        key: Option<&str>,
        validity: Option<&Bound<'_, PyAny>>,
        path_len: Option<u8>,
        permitted_dns: Vec<String>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Authority> {
        let mut params = IntermediateParams::new();
        params.common_name = common_name;
        if key.is_some() {
            params.key = key_algorithm(key)?;
        }
        if let Some(v) = opt_duration(validity)? {
            params.validity = v;
        }
        if path_len.is_some() {
            params.path_len = path_len;
        }
        params.permitted_dns = permitted_dns;
        let now = timestamp(now)?;
        let parent = &self.inner;
        let inner = py
            .detach(|| parent.create_intermediate(&params, now))
            .map_err(to_py)?;
        Ok(Authority { inner })
    }

    /// Loads a CA from its certificate chain (this CA first, up to the root) and its private
    /// key (encrypted PKCS#8 with `passphrase`, or plaintext).
    #[staticmethod]
    #[pyo3(signature = (cert_chain, key, passphrase=None))]
    fn load(
        py: Python<'_>,
        cert_chain: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        passphrase: Option<String>,
    ) -> PyResult<Authority> {
        let chain = input_bytes(cert_chain, "cert_chain")?;
        let key = input_bytes(key, "key")?;
        let inner = py
            .detach(move || CoreAuthority::from_pem(&chain, &key, passphrase.as_deref()))
            .map_err(to_py)?;
        Ok(Authority { inner })
    }

    /// `(cert_chain_pem, key_pem)`: the key encrypted with `passphrase` (scrypt + AES-256),
    /// or plaintext PKCS#8 when `passphrase` is None.
    #[pyo3(signature = (passphrase=None))]
    fn to_pem(&self, py: Python<'_>, passphrase: Option<String>) -> PyResult<(String, String)> {
        let ca = &self.inner;
        let key = match passphrase {
            Some(p) => py.detach(|| ca.encrypted_key_pem(&p)).map_err(to_py)?.0,
            None => ca.plaintext_key_pem().0,
        };
        Ok((ca.chain_pem(), key))
    }

    /// Issues a certificate for `spiffe_id` with a generated key, or for the identity and
    /// key of `csr` (with both, the CSR must name `spiffe_id` or no ID). Unset arguments keep
    /// the core defaults (usage both, 90 days, ECDSA P-256). With `grant`, the request must be
    /// within it (`NotAuthorized` otherwise); `admins` are the administrator ID patterns no
    /// join-token grant may issue (the CA service's own ID is always reserved).
    #[pyo3(signature = (spiffe_id=None, *, csr=None, dns_names=Vec::new(),
                        ip_addresses=Vec::new(), common_name=None, usage=None, lifetime=None,
                        key=None, crl_distribution_points=Vec::new(), grant=None,
                        admins=Vec::new(), now=None))]
    #[allow(clippy::too_many_arguments)]
    fn issue(
        &self,
        py: Python<'_>,
        spiffe_id: Option<&Bound<'_, PyAny>>,
        csr: Option<&Bound<'_, PyAny>>,
        dns_names: Vec<String>,
        ip_addresses: Vec<String>,
        common_name: Option<String>,
        usage: Option<&str>,
        lifetime: Option<&Bound<'_, PyAny>>,
        key: Option<&str>,
        crl_distribution_points: Vec<String>,
        grant: Option<PyRef<'_, Grant>>,
        admins: Vec<String>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Issued> {
        let req = request(RequestArgs {
            spiffe_id: spiffe_id.filter(|s| !s.is_none()),
            csr: csr.filter(|c| !c.is_none()),
            dns_names,
            ip_addresses,
            common_name,
            usage,
            lifetime,
            key,
            crl_distribution_points,
        })?;
        let now = timestamp(now)?;
        let ca = &self.inner;
        let inner = match grant {
            None => py.detach(|| ca.issue(&req, now)),
            Some(grant) => {
                let reserved = reserved(ca, &admins)?;
                let grant = &grant.inner;
                py.detach(|| ca.issue_granted(&req, grant, &reserved, now))
            }
        }
        .map_err(to_py)?;
        Ok(Issued { inner })
    }

    /// Issues the renewal of `old` (a `Certificate`, `Issued` or PEM/DER): same SPIFFE ID,
    /// SANs, usage, lifetime and key algorithm, with a new generated key.
    #[pyo3(signature = (old, *, now=None))]
    fn renew(
        &self,
        py: Python<'_>,
        old: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Issued> {
        let old = certificate_arg(py, old)?;
        let now = timestamp(now)?;
        let ca = &self.inner;
        let inner = py
            .detach(|| IssueRequest::renewal_of(&old).and_then(|req| ca.issue(&req, now)))
            .map_err(to_py)?;
        Ok(Issued { inner })
    }

    /// Signs a CRL of `revocations` with CRL number `number`, valid from `now` to
    /// `next_update` (default: the core's, 7 days).
    #[pyo3(signature = (revocations, number, *, now=None, next_update=None))]
    fn build_crl(
        &self,
        py: Python<'_>,
        revocations: &RevocationList,
        number: u64,
        now: Option<&Bound<'_, PyAny>>,
        next_update: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Crl> {
        let mut params = CrlParams::new(number, timestamp(now)?);
        if let Some(next) = next_update.filter(|n| !n.is_none()) {
            params.next_update = timestamp(Some(next))?;
        }
        let records = revocations.snapshot()?;
        let ca = &self.inner;
        let crl = py
            .detach(|| ca.build_crl(&records, &params))
            .map_err(to_py)?;
        Ok(Crl::from_core(crl))
    }

    /// This CA's certificate, PEM.
    #[getter]
    fn certificate_pem(&self) -> String {
        self.inner.certificate_pem()
    }
    /// This CA's chain (this CA, its parents, the root), PEM.
    #[getter]
    fn chain_pem(&self) -> String {
        self.inner.chain_pem()
    }
    /// The root above this CA (itself for a root), PEM: what a trust bundle holds.
    #[getter]
    fn root_pem(&self) -> String {
        self.inner.root_pem()
    }
    /// The intermediates sent after a leaf this CA issues, PEM (empty for a root).
    #[getter]
    fn intermediates_pem(&self) -> &str {
        self.inner.intermediates_pem()
    }
    #[getter]
    fn certificate(&self) -> Certificate {
        Certificate::from_core(self.inner.certificate().clone())
    }
    #[getter]
    fn trust_domain(&self) -> String {
        self.inner.trust_domain().to_string()
    }
    #[getter]
    fn is_root(&self) -> bool {
        self.inner.is_root()
    }
    #[getter]
    fn key_algorithm(&self) -> &'static str {
        self.inner.key_algorithm().as_str()
    }
    #[getter]
    fn serial(&self) -> String {
        self.inner.serial().to_hex()
    }
    fn __repr__(&self) -> String {
        format!(
            "<Authority subject={:?} trust_domain={} root={}>",
            self.inner.certificate().subject,
            self.inner.trust_domain(),
            if self.inner.is_root() {
                "True"
            } else {
                "False"
            }
        )
    }
}

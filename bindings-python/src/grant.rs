//! Grants: what a join token or an administrator allows. The core decides
//! (`Grant::authorizes`); this file only converts arguments.

use std::net::IpAddr;

use meshtls_core::{
    parse_ip, Authority as CoreAuthority, Grant as CoreGrant, IdPattern, Reserved, Usage,
};
use pyo3::prelude::*;

use crate::error::to_py;
use crate::validity::opt_duration;

/// What a join token or an administrator allows: an ID pattern, DNS names, IP addresses, a
/// usage and a longest lifetime. Pass it to `Authority.issue(..., grant=...)`.
#[pyclass(frozen, module = "meshtls._native")]
pub struct Grant {
    pub(crate) inner: CoreGrant,
}

fn ips(list: &[String]) -> PyResult<Vec<IpAddr>> {
    list.iter().map(|s| parse_ip(s).map_err(to_py)).collect()
}

fn restrict(
    mut g: CoreGrant,
    ip_addresses: Option<Vec<String>>,
    usage: Option<&str>,
    max_lifetime: Option<&Bound<'_, PyAny>>,
) -> PyResult<CoreGrant> {
    if let Some(list) = ip_addresses {
        g = g.with_ips(ips(&list)?);
    }
    if let Some(u) = usage {
        g = g.with_usage(u.parse::<Usage>().map_err(to_py)?);
    }
    if let Some(max) = opt_duration(max_lifetime)? {
        g = g.with_max_lifetime(max).map_err(to_py)?;
    }
    Ok(g)
}

#[pymethods]
impl Grant {
    /// A join token's grant: IDs matching `ids`, only the DNS names and IP addresses listed
    /// (`*.suffix` covers one more label), never a reserved identity.
    #[staticmethod]
    #[pyo3(signature = (ids, *, dns_names=Vec::new(), ip_addresses=Vec::new(), usage=None,
                        max_lifetime=None))]
    fn join_token(
        ids: &str,
        dns_names: Vec<String>,
        ip_addresses: Vec<String>,
        usage: Option<&str>,
        max_lifetime: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Grant> {
        let ids = IdPattern::parse(ids).map_err(to_py)?;
        let g = CoreGrant::join_token(ids, &dns_names).map_err(to_py)?;
        Ok(Grant {
            inner: restrict(g, Some(ip_addresses), usage, max_lifetime)?,
        })
    }

    /// An operator's administrator grant: IDs matching `ids`, reserved ones included; any DNS
    /// name and IP address unless `dns_names` / `ip_addresses` restrict it.
    #[staticmethod]
    #[pyo3(signature = (ids, *, dns_names=None, ip_addresses=None, usage=None,
                        max_lifetime=None))]
    fn administrator(
        ids: &str,
        dns_names: Option<Vec<String>>,
        ip_addresses: Option<Vec<String>>,
        usage: Option<&str>,
        max_lifetime: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Grant> {
        let ids = IdPattern::parse(ids).map_err(to_py)?;
        let mut g = CoreGrant::administrator(ids);
        if let Some(dns) = dns_names {
            g = g.with_dns(&dns).map_err(to_py)?;
        }
        Ok(Grant {
            inner: restrict(g, ip_addresses, usage, max_lifetime)?,
        })
    }

    /// `join_token` or `administrator`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind().as_str()
    }

    /// The ID pattern.
    #[getter]
    fn ids(&self) -> String {
        self.inner.ids().to_string()
    }

    /// The DNS names allowed (lowercase), or None for any.
    #[getter]
    fn dns_names(&self) -> Option<Vec<String>> {
        self.inner.dns_names().map(<[String]>::to_vec)
    }

    /// The IP addresses allowed, or None for any.
    #[getter]
    fn ip_addresses(&self) -> Option<Vec<String>> {
        self.inner
            .ip_addresses()
            .map(|a| a.iter().map(ToString::to_string).collect())
    }

    /// The usage allowed (`server`, `client`, `both`), or None for any.
    #[getter]
    fn usage(&self) -> Option<&'static str> {
        self.inner.usage().map(Usage::as_str)
    }

    /// The longest lifetime, in seconds.
    #[getter]
    fn max_lifetime_seconds(&self) -> u64 {
        self.inner.max_lifetime().as_secs()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Grant {} {}>",
            self.inner.kind().as_str(),
            self.inner.ids()
        )
    }
}

/// The reserved identities of the CA's trust domain plus the administrator patterns.
pub fn reserved(ca: &CoreAuthority, admins: &[String]) -> PyResult<Reserved> {
    let mut r = ca.reserved();
    for a in admins {
        r = r.with_admin(IdPattern::parse(a).map_err(to_py)?);
    }
    Ok(r)
}

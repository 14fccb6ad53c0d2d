//! Grants (core `grant`): what a join token or an administrator allows. The core decides
//! (`Grant::authorizes`, through `Authority::issue_granted`); this file converts arguments.

use std::net::IpAddr;

use meshtls_core::{parse_ip, Grant as CoreGrant, IdPattern, Usage};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::IntoJs;
use crate::validity::duration;

/// Options of `Grant.joinToken` and `Grant.administrator`.
#[napi(object)]
pub struct GrantOptions {
    /// DNS names allowed (exact, or `*.suffix` for one more label). A join token allows none
    /// unless listed; an administrator grant allows any unless listed.
    pub dns_names: Option<Vec<String>>,
    /// IP addresses allowed (same defaults as `dnsNames`).
    pub ip_addresses: Option<Vec<String>>,
    /// The usage allowed: `server`, `client` or `both` (default: any).
    pub usage: Option<String>,
    /// The longest lifetime: seconds or text such as `"24h"` (default 825 days).
    pub max_lifetime: Option<Either<f64, String>>,
}

/// What a join token or an administrator allows. Pass it to `authority.issueGranted`.
#[napi]
pub struct Grant {
    pub(crate) inner: CoreGrant,
}

fn ips(list: Vec<String>) -> napi::Result<Vec<IpAddr>> {
    list.iter().map(|s| parse_ip(s).js()).collect()
}

fn restrict(mut g: CoreGrant, o: GrantOptions) -> napi::Result<CoreGrant> {
    if let Some(list) = o.ip_addresses {
        g = g.with_ips(ips(list)?);
    }
    if let Some(u) = o.usage {
        g = g.with_usage(u.parse::<Usage>().js()?);
    }
    if let Some(max) = o.max_lifetime {
        g = g.with_max_lifetime(duration(max)?).js()?;
    }
    Ok(g)
}

#[napi]
impl Grant {
    /// A join token's grant: IDs matching `ids`; only the DNS names and IP addresses listed;
    /// never a reserved identity (the CA service's ID, an administrator's).
    #[napi(factory, catch_unwind)]
    pub fn join_token(ids: String, options: Option<GrantOptions>) -> napi::Result<Grant> {
        let mut o = options.unwrap_or(GrantOptions {
            dns_names: None,
            ip_addresses: None,
            usage: None,
            max_lifetime: None,
        });
        let dns = o.dns_names.take().unwrap_or_default();
        let g = CoreGrant::join_token(IdPattern::parse(&ids).js()?, &dns).js()?;
        Ok(Grant {
            inner: restrict(g, o)?,
        })
    }

    /// An operator's administrator grant: IDs matching `ids`, reserved ones included; any DNS
    /// name and IP address unless the options list them.
    #[napi(factory, catch_unwind)]
    pub fn administrator(ids: String, options: Option<GrantOptions>) -> napi::Result<Grant> {
        let mut g = CoreGrant::administrator(IdPattern::parse(&ids).js()?);
        let Some(mut o) = options else {
            return Ok(Grant { inner: g });
        };
        if let Some(dns) = o.dns_names.take() {
            g = g.with_dns(&dns).js()?;
        }
        Ok(Grant {
            inner: restrict(g, o)?,
        })
    }

    /// `join_token` or `administrator`.
    #[napi(getter, catch_unwind)]
    pub fn kind(&self) -> &'static str {
        self.inner.kind().as_str()
    }

    /// The ID pattern.
    #[napi(getter, catch_unwind)]
    pub fn ids(&self) -> String {
        self.inner.ids().to_string()
    }

    /// The DNS names allowed (lowercase), or `null` for any.
    #[napi(getter, catch_unwind)]
    pub fn dns_names(&self) -> Option<Vec<String>> {
        self.inner.dns_names().map(<[String]>::to_vec)
    }

    /// The IP addresses allowed, or `null` for any.
    #[napi(getter, catch_unwind)]
    pub fn ip_addresses(&self) -> Option<Vec<String>> {
        self.inner
            .ip_addresses()
            .map(|a| a.iter().map(ToString::to_string).collect())
    }

    /// The usage allowed, or `null` for any.
    #[napi(getter, catch_unwind)]
    pub fn usage(&self) -> Option<&'static str> {
        self.inner.usage().map(Usage::as_str)
    }

    /// The longest lifetime, in seconds.
    #[napi(getter, catch_unwind)]
    pub fn max_lifetime_seconds(&self) -> f64 {
        self.inner.max_lifetime().as_secs() as f64
    }
}

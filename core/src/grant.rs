//! Grants: what a join token or an administrator allows a requester to be issued, and the one
//! decision ([`Grant::authorizes`]) every issuer calls before it signs.
//!
//! A [`Grant`] names the SPIFFE IDs it covers (an [`IdPattern`]), the DNS names (exact names or
//! `*.suffix`, which covers one more label), the IP addresses, the usage and the longest lifetime.
//! [`Reserved`] lists the identities no join token may ever obtain, whatever its pattern covers:
//! the CA service's own ID ([`SpiffeId::ca_service`]) and every administrator ID or pattern.
//! Only an explicit [`Grant::administrator`] issues one of those.
//!
//! A request outside its grant is `not_authorized`; a grant with names that are not hostnames
//! or addresses is `invalid_request`.
//!
//! ```
//! use meshtls_core::{Grant, IdPattern, IssueRequest, Reserved, SpiffeId, TrustDomain};
//! let td = TrustDomain::new("mesh.internal")?;
//! let reserved = Reserved::new(&td).with_admin(IdPattern::parse("spiffe://mesh.internal/admin/*")?);
//! let token = Grant::join_token(IdPattern::parse("spiffe://mesh.internal")?, &["api.mesh.internal"])?;
//!
//! let api = IssueRequest::new(SpiffeId::parse("spiffe://mesh.internal/service/api")?)
//!     .with_dns(["api.mesh.internal"]);
//! assert!(token.authorizes(&api, &reserved).is_ok());
//!
//! // The token's pattern covers the whole trust domain, but never an administrator...
//! let ops = IssueRequest::new(SpiffeId::parse("spiffe://mesh.internal/admin/ops")?);
//! assert_eq!(token.authorizes(&ops, &reserved).unwrap_err().code().as_str(), "not_authorized");
//! // ...nor the CA service itself.
//! let ca = IssueRequest::new(SpiffeId::ca_service(&td));
//! assert_eq!(token.authorizes(&ca, &reserved).unwrap_err().code().as_str(), "not_authorized");
//! // An operator's administrator grant does.
//! assert!(Grant::administrator(IdPattern::trust_domain_member(&td)).authorizes(&ops, &reserved).is_ok());
//! # Ok::<(), meshtls_core::Error>(())
//! ```

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::hostname::{self, Wildcard};
use crate::identity::{IdPattern, SpiffeId, TrustDomain};
use crate::issue::{self, IssueRequest, Usage};

/// Which kind of grant: it decides whether reserved identities can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantKind {
    /// A join token: never a reserved identity.
    JoinToken,
    /// An operator's explicit administrator grant (the CA key holder, or an admin's request).
    Administrator,
}

impl GrantKind {
    /// `join_token` or `administrator`.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantKind::JoinToken => "join_token",
            GrantKind::Administrator => "administrator",
        }
    }
}

/// DNS names a grant allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DnsGrant {
    /// Any valid hostname (administrator grants).
    Any,
    /// Exactly these (lowercase), or `*.suffix` entries covering one more label.
    Names(Vec<String>),
}

/// What a join token or an administrator allows: ID pattern, DNS names, IP addresses, usage and
/// the longest lifetime. Build with [`Grant::join_token`] or [`Grant::administrator`] and the
/// `with_*` methods; decide with [`Grant::authorizes`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    kind: GrantKind,
    ids: IdPattern,
    dns: DnsGrant,
    /// None: any address (administrator grants); otherwise exactly these.
    ips: Option<Vec<IpAddr>>,
    /// None: any usage.
    usage: Option<Usage>,
    max_lifetime: Duration,
}

impl Grant {
    /// A join token's grant: IDs matching `ids`, the DNS names listed (exact hostnames, or
    /// `*.suffix` for any one label under the suffix), no IP address, any usage, lifetimes up to
    /// [`issue::MAX_LIFETIME`]. A name that is not a hostname is `invalid_request`.
    pub fn join_token<S: AsRef<str>>(ids: IdPattern, dns: &[S]) -> Result<Grant> {
        Ok(Grant {
            kind: GrantKind::JoinToken,
            ids,
            dns: DnsGrant::Names(normalize_grant_names(dns)?),
            ips: Some(Vec::new()),
            usage: None,
            max_lifetime: issue::MAX_LIFETIME,
        })
    }

    /// An operator's explicit administrator grant: IDs matching `ids`, reserved ones included,
    /// with any DNS name, IP address and usage, lifetimes up to [`issue::MAX_LIFETIME`].
    /// Restrict it with the `with_*` methods.
    pub fn administrator(ids: IdPattern) -> Grant {
        Grant {
            kind: GrantKind::Administrator,
            ids,
            dns: DnsGrant::Any,
            ips: None,
            usage: None,
            max_lifetime: issue::MAX_LIFETIME,
        }
    }

    /// Allows exactly these DNS names (replacing what was allowed). `invalid_request` when one
    /// is not a hostname.
    pub fn with_dns<S: AsRef<str>>(mut self, dns: &[S]) -> Result<Grant> {
        self.dns = DnsGrant::Names(normalize_grant_names(dns)?);
        Ok(self)
    }

    /// Allows exactly these IP addresses (replacing what was allowed).
    pub fn with_ips<I: IntoIterator<Item = IpAddr>>(mut self, ips: I) -> Grant {
        self.ips = Some(ips.into_iter().collect());
        self
    }

    /// Allows only this usage (`Both` allows any).
    pub fn with_usage(mut self, usage: Usage) -> Grant {
        self.usage = Some(usage);
        self
    }

    /// Caps the lifetime; `invalid_request` outside [`issue::check_lifetime`]'s bounds.
    pub fn with_max_lifetime(mut self, max: Duration) -> Result<Grant> {
        issue::check_lifetime(max)?;
        self.max_lifetime = max;
        Ok(self)
    }

    /// The kind of grant.
    pub fn kind(&self) -> GrantKind {
        self.kind
    }

    /// The IDs it covers.
    pub fn ids(&self) -> &IdPattern {
        &self.ids
    }

    /// The DNS names it allows (lowercase), or None for any.
    pub fn dns_names(&self) -> Option<&[String]> {
        match &self.dns {
            DnsGrant::Any => None,
            DnsGrant::Names(n) => Some(n),
        }
    }

    /// The IP addresses it allows, or None for any.
    pub fn ip_addresses(&self) -> Option<&[IpAddr]> {
        self.ips.as_deref()
    }

    /// The usage it allows, or None for any.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The longest lifetime it allows.
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    /// Whether the grant allows issuing `req`: its ID matches the pattern and is not reserved
    /// (unless this is an administrator grant), every DNS name and IP address is granted, the
    /// usage is within the grant's and the lifetime at most its maximum. The refusal is
    /// `not_authorized` and names what is outside the grant; a DNS name that is not a hostname
    /// is `invalid_request`.
    pub fn authorizes(&self, req: &IssueRequest, reserved: &Reserved) -> Result<()> {
        if !self.ids.matches(&req.id) {
            return Err(not_authorized(format!(
                "{} is outside the grant ({})",
                req.id, self.ids
            )));
        }
        if self.kind == GrantKind::JoinToken {
            if let Some(why) = reserved.why_reserved(&req.id) {
                return Err(not_authorized(format!(
                    "{} is reserved ({why}): only an administrator grant issues it",
                    req.id
                )));
            }
        }
        for name in &req.dns_names {
            let name = hostname::normalize(name, Wildcard::Allow)?;
            if !self.allows_dns(&name) {
                return Err(not_authorized(format!(
                    "the DNS name {name} is not granted"
                )));
            }
        }
        if let Some(ips) = &self.ips {
            if let Some(ip) = req.ip_addresses.iter().find(|ip| !ips.contains(ip)) {
                return Err(not_authorized(format!(
                    "the IP address {ip} is not granted"
                )));
            }
        }
        if let Some(usage) = self.usage {
            if usage != Usage::Both && req.usage != usage {
                return Err(not_authorized(format!(
                    "usage {} is not granted (only {})",
                    req.usage.as_str(),
                    usage.as_str()
                )));
            }
        }
        if req.lifetime > self.max_lifetime {
            return Err(not_authorized(format!(
                "a lifetime of {} s is longer than the grant's {} s",
                req.lifetime.as_secs(),
                self.max_lifetime.as_secs()
            )));
        }
        Ok(())
    }

    fn allows_dns(&self, name: &str) -> bool {
        let names = match &self.dns {
            DnsGrant::Any => return true,
            DnsGrant::Names(n) => n,
        };
        names.iter().any(|g| {
            if g == name {
                return true;
            }
            // `*.suffix` covers exactly one more label; a requested wildcard only itself.
            match g.strip_prefix("*.") {
                Some(suffix) => name
                    .strip_suffix(suffix)
                    .and_then(|head| head.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty() && !label.contains(['.', '*'])),
                None => false,
            }
        })
    }
}

fn not_authorized(message: String) -> Error {
    Error::new(ErrorCode::NotAuthorized, message)
}

fn normalize_grant_names<S: AsRef<str>>(dns: &[S]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(dns.len());
    for name in dns {
        let n = hostname::normalize(name.as_ref(), Wildcard::Allow)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Identities no join token may obtain: the CA service's own ID and every administrator ID or
/// pattern of a trust domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    ca_service: SpiffeId,
    admins: Vec<IdPattern>,
}

impl Reserved {
    /// The reserved identities of `td`: its CA service ID, and no administrator yet.
    pub fn new(td: &TrustDomain) -> Reserved {
        Reserved {
            ca_service: SpiffeId::ca_service(td),
            admins: Vec::new(),
        }
    }

    /// Adds an administrator ID or pattern.
    pub fn with_admin(mut self, admin: IdPattern) -> Reserved {
        self.admins.push(admin);
        self
    }

    /// The CA service's ID.
    pub fn ca_service(&self) -> &SpiffeId {
        &self.ca_service
    }

    /// The administrator patterns.
    pub fn admins(&self) -> &[IdPattern] {
        &self.admins
    }

    /// Whether `id` is reserved.
    pub fn is_reserved(&self, id: &SpiffeId) -> bool {
        self.why_reserved(id).is_some()
    }

    fn why_reserved(&self, id: &SpiffeId) -> Option<String> {
        if *id == self.ca_service {
            return Some("the CA service's own identity".to_owned());
        }
        self.admins
            .iter()
            .find(|p| p.matches(id))
            .map(|p| format!("administrator identity {p}"))
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} grant for {}", self.kind.as_str(), self.ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td() -> TrustDomain {
        TrustDomain::new("mesh.internal").unwrap()
    }
    fn id(s: &str) -> SpiffeId {
        SpiffeId::parse(&format!("spiffe://mesh.internal/{s}")).unwrap()
    }
    fn pat(s: &str) -> IdPattern {
        IdPattern::parse(s).unwrap()
    }
    fn code(r: Result<()>) -> &'static str {
        r.map_or_else(|e| e.code().as_str(), |()| "ok")
    }

    #[test]
    fn pattern_dns_ip_usage_and_lifetime() {
        let reserved = Reserved::new(&td());
        let g = Grant::join_token(
            pat("spiffe://mesh.internal/service/*"),
            &["API.mesh.internal", "*.web.mesh.internal"],
        )
        .unwrap();
        let req = |s: &str| IssueRequest::new(id(s));
        assert_eq!(code(g.authorizes(&req("service/api"), &reserved)), "ok");
        assert_eq!(
            code(g.authorizes(&req("other/api"), &reserved)),
            "not_authorized"
        );
        let ok_dns = req("service/api").with_dns(["api.MESH.internal", "a.web.mesh.internal"]);
        assert_eq!(code(g.authorizes(&ok_dns, &reserved)), "ok");
        for bad in [
            "b.mesh.internal",
            "a.b.web.mesh.internal",
            "web.mesh.internal",
        ] {
            let r = req("service/api").with_dns([bad]);
            assert_eq!(code(g.authorizes(&r, &reserved)), "not_authorized", "{bad}");
        }
        let r = req("service/api").with_dns(["bad_name.mesh.internal"]);
        assert_eq!(code(g.authorizes(&r, &reserved)), "invalid_request");
        let r = req("service/api").with_ips(["10.0.0.1".parse().unwrap()]);
        assert_eq!(code(g.authorizes(&r, &reserved)), "not_authorized");
        let g2 = g.clone().with_ips(["10.0.0.1".parse().unwrap()]);
        assert_eq!(code(g2.authorizes(&r, &reserved)), "ok");

        let server = g.clone().with_usage(Usage::Server);
        assert_eq!(
            code(server.authorizes(&req("service/api"), &reserved)),
            "not_authorized"
        );
        let r = req("service/api").with_usage(Usage::Server);
        assert_eq!(code(server.authorizes(&r, &reserved)), "ok");

        let short = g.with_max_lifetime(Duration::from_secs(3600)).unwrap();
        let r = req("service/api").with_lifetime(Duration::from_secs(3601));
        assert_eq!(code(short.authorizes(&r, &reserved)), "not_authorized");
        let r = req("service/api").with_lifetime(Duration::from_secs(3600));
        assert_eq!(code(short.authorizes(&r, &reserved)), "ok");
    }

    #[test]
    fn reserved_identities_need_an_administrator_grant() {
        let reserved = Reserved::new(&td())
            .with_admin(pat("spiffe://mesh.internal/admin/*"))
            .with_admin(pat("spiffe://mesh.internal/ops/root"));
        let token = Grant::join_token(pat("spiffe://mesh.internal"), &[] as &[&str]).unwrap();
        let admin = Grant::administrator(pat("spiffe://mesh.internal"));
        for s in ["meshtls/ca", "admin/ops", "ops/root"] {
            let r = IssueRequest::new(id(s));
            assert_eq!(
                code(token.authorizes(&r, &reserved)),
                "not_authorized",
                "{s}"
            );
            assert_eq!(code(admin.authorizes(&r, &reserved)), "ok", "{s}");
        }
        let exact =
            Grant::join_token(pat("spiffe://mesh.internal/meshtls/ca"), &[] as &[&str]).unwrap();
        let r = IssueRequest::new(SpiffeId::ca_service(&td()));
        assert_eq!(code(exact.authorizes(&r, &reserved)), "not_authorized");
        for s in ["service/api", "admin/ops/x", "ops/root2"] {
            let r = IssueRequest::new(id(s));
            assert_eq!(code(token.authorizes(&r, &reserved)), "ok", "{s}");
        }
        assert!(reserved.is_reserved(&id("admin/x")));
        assert_eq!(
            reserved.ca_service().to_string(),
            "spiffe://mesh.internal/meshtls/ca"
        );
    }

    #[test]
    fn grant_names_are_hostnames() {
        let p = pat("spiffe://mesh.internal");
        for bad in ["", "a..b", "under_score.x", "sp ace.x", "*.com", "a.*.b"] {
            let e = Grant::join_token(p.clone(), &[bad]).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidRequest, "{bad:?}");
        }
        let g = Grant::join_token(p, &["A.B", "a.b", "*.Mesh.Internal"]).unwrap();
        assert_eq!(g.dns_names().unwrap(), ["a.b", "*.mesh.internal"]);
    }

    #[test]
    fn grant_lifetime_bounds() {
        let g = Grant::administrator(pat("spiffe://mesh.internal"));
        assert_eq!(
            g.clone()
                .with_max_lifetime(Duration::from_secs(30))
                .unwrap_err()
                .code(),
            ErrorCode::InvalidRequest
        );
        assert!(g.with_max_lifetime(issue::MAX_LIFETIME).is_ok());
    }
}

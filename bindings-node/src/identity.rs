//! SPIFFE IDs and ID patterns (core `identity`).

use meshtls_core::{IdPattern as CoreIdPattern, SpiffeId as CoreSpiffeId, TrustDomain};
use napi_derive::napi;

use crate::error::IntoJs;

/// A SPIFFE ID (`spiffe://mesh.internal/service/api`), validated by the core.
#[napi]
pub struct SpiffeId {
    pub(crate) inner: CoreSpiffeId,
}

#[napi]
impl SpiffeId {
    /// Parses an ID; anything that is not a valid SPIFFE ID is `malformed`.
    #[napi(factory, catch_unwind)]
    pub fn parse(id: String) -> napi::Result<SpiffeId> {
        Ok(SpiffeId {
            inner: CoreSpiffeId::parse(&id).js()?,
        })
    }

    /// The trust domain (`mesh.internal`).
    #[napi(getter, catch_unwind)]
    pub fn trust_domain(&self) -> String {
        self.inner.trust_domain().to_string()
    }

    /// The path (`/service/api`).
    #[napi(getter, catch_unwind)]
    pub fn path(&self) -> String {
        self.inner.path().to_owned()
    }

    /// The path segments (`["service", "api"]`).
    #[napi(getter, catch_unwind)]
    pub fn segments(&self) -> Vec<String> {
        self.inner.segments().map(str::to_owned).collect()
    }

    /// Whether the ID belongs to the trust domain (`mesh.internal`; parsed strictly, as in
    /// every meshtls binding: `spiffe://mesh.internal` is `malformed`).
    #[napi(catch_unwind)]
    pub fn is_member_of(&self, trust_domain: String) -> napi::Result<bool> {
        let td = TrustDomain::new(&trust_domain).js()?;
        Ok(self.inner.is_member_of(&td))
    }

    /// The ID as text.
    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_js_string(&self) -> String {
        self.inner.to_string()
    }
}

/// An ID pattern: `spiffe://td` (any member), `spiffe://td/service/*` (one segment),
/// `spiffe://td/service/**` (one or more segments), or an exact ID.
#[napi]
pub struct IdPattern {
    inner: CoreIdPattern,
}

#[napi]
impl IdPattern {
    /// Parses a pattern; a malformed one is `malformed`.
    #[napi(factory, catch_unwind)]
    pub fn parse(pattern: String) -> napi::Result<IdPattern> {
        Ok(IdPattern {
            inner: CoreIdPattern::parse(&pattern).js()?,
        })
    }

    /// Whether the SPIFFE ID matches; an ID that does not parse is `malformed`.
    #[napi(catch_unwind)]
    pub fn matches(&self, id: String) -> napi::Result<bool> {
        Ok(self.inner.matches(&CoreSpiffeId::parse(&id).js()?))
    }

    /// The pattern as text.
    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_js_string(&self) -> String {
        self.inner.to_string()
    }
}

//! SPIFFE IDs and the patterns a policy allows.

use wasm_bindgen::prelude::*;

use crate::error::Result;

/// A workload identity, `spiffe://<trust-domain>/<path>`, parsed by the SPIFFE ID rules.
///
/// ```js
/// const id = SpiffeId.parse("spiffe://mesh.internal/service/api");
/// id.trustDomain; // "mesh.internal"
/// id.path;        // "/service/api"
/// ```
#[wasm_bindgen]
pub struct SpiffeId(pub(crate) meshtls_core::SpiffeId);

#[wasm_bindgen]
impl SpiffeId {
    /// Parses a SPIFFE ID; throws `malformed` for anything the SPIFFE spec rejects
    /// (uppercase trust domain, empty or `..` segments, query, port...).
    pub fn parse(text: &str) -> Result<SpiffeId> {
        Ok(SpiffeId(meshtls_core::SpiffeId::parse(text)?))
    }

    /// The trust domain, e.g. `mesh.internal`.
    #[wasm_bindgen(getter, js_name = trustDomain)]
    pub fn trust_domain(&self) -> String {
        self.0.trust_domain().as_str().to_owned()
    }

    /// The path with its leading slash, e.g. `/service/api`.
    #[wasm_bindgen(getter)]
    pub fn path(&self) -> String {
        self.0.path().to_owned()
    }

    /// The whole ID.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_string_js(&self) -> String {
        self.0.to_string()
    }
}

/// A pattern of SPIFFE IDs: an exact ID, `spiffe://td` (any member of the trust domain),
/// `*` for one path segment, `**` (last) for one or more.
///
/// ```js
/// IdPattern.parse("spiffe://mesh.internal/service/*").matches("spiffe://mesh.internal/service/api"); // true
/// ```
#[wasm_bindgen]
pub struct IdPattern(pub(crate) meshtls_core::IdPattern);

#[wasm_bindgen]
impl IdPattern {
    /// Parses a pattern; throws `malformed` when it is not one.
    pub fn parse(text: &str) -> Result<IdPattern> {
        Ok(IdPattern(meshtls_core::IdPattern::parse(text)?))
    }

    /// Whether the SPIFFE ID matches; throws `malformed` when `id` is not a SPIFFE ID.
    pub fn matches(&self, id: &str) -> Result<bool> {
        Ok(self.0.matches(&meshtls_core::SpiffeId::parse(id)?))
    }

    /// The pattern as text.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_string_js(&self) -> String {
        self.0.to_string()
    }
}

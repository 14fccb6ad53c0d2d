//! Grants (core `grant`): what a join token or an administrator allows. The core decides
//! (`Authority::issue_granted`); this file converts the JavaScript options.

use meshtls_core::{parse_ip, Grant as CoreGrant, IdPattern, Usage};
use wasm_bindgen::prelude::*;

use crate::encoding::Options;
use crate::error::Result;
use crate::validity::duration;

#[wasm_bindgen]
extern "C" {
    /// What a grant allows beyond its ID pattern.
    #[wasm_bindgen(typescript_type = "GrantOptions")]
    pub type GrantOptions;
}

/// What a join token or an administrator allows: an ID pattern, DNS names, IP addresses, a
/// usage and a longest lifetime. Pass it to `authority.issueGranted`.
#[wasm_bindgen]
pub struct Grant(pub(crate) CoreGrant);

/// The options' restrictions on top of a grant; what is not given keeps the grant's default
/// (the core's: a join token allows no IP address, an administrator any).
fn restrict(mut g: CoreGrant, o: &Options<'_>) -> Result<CoreGrant> {
    if o.value("ipAddresses")?.is_some() {
        let ips = o
            .strings("ipAddresses")?
            .iter()
            .map(|s| parse_ip(s))
            .collect::<meshtls_core::error::Result<Vec<_>>>()?;
        g = g.with_ips(ips);
    }
    if let Some(u) = o.string("usage")? {
        g = g.with_usage(u.parse::<Usage>()?);
    }
    if let Some(max) = o.string("maxLifetime")? {
        g = g.with_max_lifetime(duration(&max)?)?;
    }
    Ok(g)
}

#[wasm_bindgen]
impl Grant {
    /// A join token's grant: IDs matching `ids`; only the DNS names and IP addresses listed
    /// (`*.suffix` covers one more label); never a reserved identity.
    #[wasm_bindgen(js_name = joinToken)]
    pub fn join_token(ids: &str, options: Option<GrantOptions>) -> Result<Grant> {
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        let o = Options::new(&options, "options")?;
        let g = CoreGrant::join_token(IdPattern::parse(ids)?, &o.strings("dnsNames")?)?;
        Ok(Grant(restrict(g, &o)?))
    }

    /// An operator's administrator grant: IDs matching `ids`, reserved ones included; any DNS
    /// name and IP address unless the options list them.
    pub fn administrator(ids: &str, options: Option<GrantOptions>) -> Result<Grant> {
        let options: JsValue = options.map(Into::into).unwrap_or(JsValue::UNDEFINED);
        let o = Options::new(&options, "options")?;
        let mut g = CoreGrant::administrator(IdPattern::parse(ids)?);
        if o.value("dnsNames")?.is_some() {
            g = g.with_dns(&o.strings("dnsNames")?)?;
        }
        Ok(Grant(restrict(g, &o)?))
    }

    /// `"join_token"` or `"administrator"`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.0.kind().as_str().to_owned()
    }

    /// The ID pattern.
    #[wasm_bindgen(getter)]
    pub fn ids(&self) -> String {
        self.0.ids().to_string()
    }

    /// The DNS names allowed (lowercase), or `undefined` for any.
    #[wasm_bindgen(getter, js_name = dnsNames)]
    pub fn dns_names(&self) -> Option<Vec<String>> {
        self.0.dns_names().map(<[String]>::to_vec)
    }

    /// The IP addresses allowed, or `undefined` for any.
    #[wasm_bindgen(getter, js_name = ipAddresses)]
    pub fn ip_addresses(&self) -> Option<Vec<String>> {
        self.0
            .ip_addresses()
            .map(|a| a.iter().map(ToString::to_string).collect())
    }

    /// The usage allowed, or `undefined` for any.
    #[wasm_bindgen(getter)]
    pub fn usage(&self) -> Option<String> {
        self.0.usage().map(|u| u.as_str().to_owned())
    }

    /// The longest lifetime, in seconds.
    #[wasm_bindgen(getter, js_name = maxLifetimeSeconds)]
    pub fn max_lifetime_seconds(&self) -> f64 {
        self.0.max_lifetime().as_secs() as f64
    }
}

//! When to renew: at a fraction of the lifetime (default 2/3) or a fixed margin before
//! expiry, moved earlier by a per-certificate jitter.

use meshtls_core::RotationStatus as CoreStatus;
use wasm_bindgen::prelude::*;

use crate::certificate::Certificate;
use crate::encoding::Options;
use crate::error::{MeshError, Result};
use crate::validity::{duration, from_millis, to_millis};

#[wasm_bindgen]
extern "C" {
    /// The renewal schedule.
    #[wasm_bindgen(typescript_type = "RotationOptions")]
    pub type RotationOptions;
}

/// The renewal schedule.
///
/// ```js
/// const status = new RotationPolicy().status(cert, Date.now());
/// if (status.state === "renew_due") { ... }
/// ```
#[wasm_bindgen]
pub struct RotationPolicy(meshtls_core::RotationPolicy);

#[wasm_bindgen]
impl RotationPolicy {
    /// The default (renew at 2/3 of the lifetime, jitter 5% of it), or `options`:
    /// `renewAtFraction` (0 < f < 1) or `renewBefore` (a duration such as `"7d"`), and
    /// `jitter` (0 to 0.5 of the lifetime). Throws `invalid_request` for values out of range.
    #[wasm_bindgen(constructor)]
    pub fn new(options: Option<RotationOptions>) -> Result<RotationPolicy> {
        let raw = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        let o = Options::new(&raw, "options")?;
        let fraction = o.number("renewAtFraction")?;
        let before = o.string("renewBefore")?;
        let mut policy = match (fraction, before) {
            (Some(_), Some(_)) => {
                return Err(MeshError::invalid_request(
                    "give options.renewAtFraction or options.renewBefore, not both",
                ))
            }
            (Some(f), None) => meshtls_core::RotationPolicy::at_fraction(f)?,
            (None, Some(b)) => meshtls_core::RotationPolicy::before_expiry(duration(&b)?),
            (None, None) => meshtls_core::RotationPolicy::default(),
        };
        if let Some(j) = o.number("jitter")? {
            policy = policy.with_jitter(j)?;
        }
        Ok(RotationPolicy(policy))
    }

    /// Where the certificate stands at `now` (milliseconds). The jitter comes from the
    /// certificate's fingerprint, so asking twice gives the same answer.
    pub fn status(&self, cert: &Certificate, now: f64) -> Result<RotationStatus> {
        Ok(RotationStatus(self.0.status(&cert.0, from_millis(now)?)))
    }

    /// When to look again, in milliseconds: `renewAt` for a fresh certificate, otherwise
    /// `now` plus `retry` (a duration such as `"5m"`).
    #[wasm_bindgen(js_name = nextCheck)]
    pub fn next_check(&self, status: &RotationStatus, now: f64, retry: &str) -> Result<f64> {
        Ok(to_millis(self.0.next_check(
            status.0,
            from_millis(now)?,
            duration(retry)?,
        )))
    }
}

/// Where a certificate stands: `state` is `"fresh"` (with `renewAt`), `"renew_due"` or
/// `"expired"`.
#[wasm_bindgen]
pub struct RotationStatus(CoreStatus);

#[wasm_bindgen]
impl RotationStatus {
    /// `"fresh"`, `"renew_due"` or `"expired"`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.0.state().to_owned()
    }

    /// When renewal becomes due (milliseconds), for a fresh certificate.
    #[wasm_bindgen(getter, js_name = renewAt)]
    pub fn renew_at(&self) -> Option<f64> {
        match self.0 {
            CoreStatus::Fresh { renew_at } => Some(to_millis(renew_at)),
            _ => None,
        }
    }
}

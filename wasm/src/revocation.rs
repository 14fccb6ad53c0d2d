//! Revocation: a CA's records of revoked serials, and signed CRLs built from them or parsed.

use js_sys::Uint8Array;
use meshtls_core::{RevocationReason, Serial};
use wasm_bindgen::prelude::*;

use crate::encoding::{self, PemOrDer};
use crate::error::Result;
use crate::validity::{from_millis, to_millis};

/// One revoked certificate: serial (hex), when and why.
#[wasm_bindgen]
pub struct RevokedEntry(meshtls_core::RevokedEntry);

#[wasm_bindgen]
impl RevokedEntry {
    /// Serial number, lowercase hex.
    #[wasm_bindgen(getter)]
    pub fn serial(&self) -> String {
        self.0.serial.to_hex()
    }

    /// When it was revoked, milliseconds since the epoch.
    #[wasm_bindgen(getter, js_name = revokedAt)]
    pub fn revoked_at(&self) -> f64 {
        to_millis(self.0.revoked_at)
    }

    /// The reason, snake_case (`key_compromise`, `superseded`, `unspecified`...).
    #[wasm_bindgen(getter)]
    pub fn reason(&self) -> String {
        self.0.reason.as_str().to_owned()
    }
}

/// A CA's records of revoked serials, from which `Authority.buildCrl` makes a signed CRL.
///
/// ```js
/// const list = new RevocationList();
/// list.revoke(cert.serial, "key_compromise", Date.now());
/// const crl = ca.buildCrl(list, { number: 1 }, Date.now());
/// ```
#[wasm_bindgen]
#[derive(Default)]
pub struct RevocationList(pub(crate) meshtls_core::RevocationList);

#[wasm_bindgen]
impl RevocationList {
    /// An empty list.
    #[wasm_bindgen(constructor)]
    pub fn new() -> RevocationList {
        RevocationList::default()
    }

    /// Revokes a serial (hex) at `at` (milliseconds) for `reason` (default `unspecified`);
    /// returns false when it was already revoked. Throws `malformed` for a bad serial and
    /// `invalid_request` for an unknown reason or a time a CRL cannot carry (before 1970,
    /// after 9999).
    pub fn revoke(&mut self, serial: &str, reason: Option<String>, at: f64) -> Result<bool> {
        let serial = Serial::from_hex(serial)?;
        let reason = match reason {
            Some(r) => r.parse::<RevocationReason>()?,
            None => RevocationReason::Unspecified,
        };
        Ok(self.0.revoke(serial, reason, from_millis(at)?)?)
    }

    /// The entry for a serial (hex), or `undefined`.
    pub fn get(&self, serial: &str) -> Result<Option<RevokedEntry>> {
        let serial = Serial::from_hex(serial)?;
        Ok(self.0.get(&serial).cloned().map(RevokedEntry))
    }

    /// Every entry.
    #[wasm_bindgen(getter)]
    pub fn entries(&self) -> Vec<RevokedEntry> {
        self.0.entries().cloned().map(RevokedEntry).collect()
    }

    /// How many serials are revoked.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> u32 {
        self.0.len() as u32
    }

    /// The number of the last CRL built from this list.
    #[wasm_bindgen(getter, js_name = lastCrlNumber)]
    pub fn last_crl_number(&self) -> f64 {
        self.0.last_crl_number as f64
    }

    /// The list in meshtls's text form (what the CLI stores).
    #[wasm_bindgen(js_name = toText)]
    pub fn to_text(&self) -> String {
        self.0.to_text()
    }

    /// Parses the text form; throws `malformed` on a bad line.
    #[wasm_bindgen(js_name = fromText)]
    pub fn from_text(text: &str) -> Result<RevocationList> {
        Ok(RevocationList(meshtls_core::RevocationList::from_text(
            text,
        )?))
    }
}

/// A parsed CRL.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Crl(pub(crate) meshtls_core::Crl);

#[wasm_bindgen]
impl Crl {
    /// Parses a CRL from PEM or DER; throws `malformed` when it is not one.
    pub fn parse(input: &PemOrDer) -> Result<Crl> {
        Ok(Crl(meshtls_core::Crl::from_pem_or_der(
            &encoding::pem_or_der(input)?,
        )?))
    }

    /// Issuer distinguished name.
    #[wasm_bindgen(getter)]
    pub fn issuer(&self) -> String {
        self.0.issuer.clone()
    }

    /// The CRL number, if present.
    #[wasm_bindgen(getter)]
    pub fn number(&self) -> Option<f64> {
        self.0.number.map(|n| n as f64)
    }

    /// thisUpdate, milliseconds since the epoch.
    #[wasm_bindgen(getter, js_name = thisUpdate)]
    pub fn this_update(&self) -> f64 {
        to_millis(self.0.this_update)
    }

    /// nextUpdate, milliseconds since the epoch, if present.
    #[wasm_bindgen(getter, js_name = nextUpdate)]
    pub fn next_update(&self) -> Option<f64> {
        self.0.next_update.map(to_millis)
    }

    /// Authority key identifier, hex, if present.
    #[wasm_bindgen(getter, js_name = authorityKeyId)]
    pub fn authority_key_id(&self) -> Option<String> {
        self.0.authority_key_id.as_deref().map(encoding::hex)
    }

    /// How many certificates it revokes.
    #[wasm_bindgen(getter, js_name = revokedCount)]
    pub fn revoked_count(&self) -> u32 {
        self.0.revoked_count as u32
    }

    /// Whether the serial (hex) is revoked: its entry, or `undefined`.
    pub fn lookup(&self, serial: &str) -> Result<Option<RevokedEntry>> {
        Ok(self.0.lookup(&Serial::from_hex(serial)?)?.map(RevokedEntry))
    }

    /// Every entry.
    pub fn entries(&self) -> Result<Vec<RevokedEntry>> {
        Ok(self.0.entries()?.into_iter().map(RevokedEntry).collect())
    }

    /// Whether the CRL is past its nextUpdate at `at` (milliseconds).
    #[wasm_bindgen(js_name = isStale)]
    pub fn is_stale(&self, at: f64) -> Result<bool> {
        Ok(self.0.is_stale(from_millis(at)?))
    }

    /// The CRL as PEM.
    #[wasm_bindgen(js_name = toPem)]
    pub fn to_pem(&self) -> String {
        self.0.to_pem()
    }

    /// The CRL's DER bytes.
    #[wasm_bindgen(getter)]
    pub fn der(&self) -> Uint8Array {
        Uint8Array::from(self.0.der())
    }
}

//! Revocation (core `revocation`): a CA's revocation records, signed CRLs and CRL parsing.

use chrono::{DateTime, Utc};
use meshtls_core::{
    Crl as CoreCrl, CrlParams, RevocationList as CoreRevocationList, RevocationReason,
    RevokedEntry as CoreRevokedEntry, Serial,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::authority::Authority;
use crate::encoding::{bytes, Input};
use crate::error::IntoJs;
use crate::validity::{at, to_date};

/// One revoked certificate.
#[napi(object)]
pub struct RevokedEntry {
    /// Its serial, hex.
    pub serial: String,
    /// When it was revoked.
    pub revoked_at: DateTime<Utc>,
    /// Why (`key_compromise`, `superseded`...).
    pub reason: String,
}

fn entry(e: &CoreRevokedEntry) -> RevokedEntry {
    RevokedEntry {
        serial: e.serial.to_hex(),
        revoked_at: to_date(e.revoked_at),
        reason: e.reason.as_str().to_owned(),
    }
}

/// A CA's revocation records: what a CRL is built from.
#[napi]
pub struct RevocationList {
    inner: CoreRevocationList,
}

#[napi]
impl RevocationList {
    /// No revocations.
    #[napi(constructor, catch_unwind)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        RevocationList {
            inner: CoreRevocationList::new(),
        }
    }

    /// Parses the text form (`toText`), as the CLI keeps beside a CA.
    #[napi(factory, catch_unwind)]
    pub fn from_text(text: String) -> napi::Result<Self> {
        Ok(RevocationList {
            inner: CoreRevocationList::from_text(&text).js()?,
        })
    }

    /// Records a revocation of `serial` (hex) for `reason` (default `unspecified`) at `at`
    /// (default now). Returns false, changing nothing, when it was already revoked.
    #[napi(catch_unwind)]
    pub fn revoke(
        &mut self,
        serial: String,
        reason: Option<String>,
        at_time: Option<DateTime<Utc>>,
    ) -> napi::Result<bool> {
        let serial = Serial::from_hex(&serial).js()?;
        let reason = match reason {
            Some(r) => r.parse::<RevocationReason>().js()?,
            None => RevocationReason::default(),
        };
        self.inner.revoke(serial, reason, at(at_time)).js()
    }

    /// The entry for a serial (hex), if revoked.
    #[napi(catch_unwind)]
    pub fn get(&self, serial: String) -> napi::Result<Option<RevokedEntry>> {
        Ok(self.inner.get(&Serial::from_hex(&serial).js()?).map(entry))
    }

    /// Every entry, by serial.
    #[napi(getter, catch_unwind)]
    pub fn entries(&self) -> Vec<RevokedEntry> {
        self.inner.entries().map(entry).collect()
    }

    /// How many serials are revoked.
    #[napi(getter, catch_unwind)]
    pub fn length(&self) -> u32 {
        self.inner.len() as u32
    }

    /// The number of the last CRL built from these records.
    #[napi(getter, catch_unwind)]
    pub fn last_crl_number(&self) -> f64 {
        self.inner.last_crl_number as f64
    }

    /// Sets the number of the last CRL built.
    #[napi(setter, catch_unwind)]
    pub fn set_last_crl_number(&mut self, n: u32) {
        self.inner.last_crl_number = u64::from(n);
    }

    /// The records as text.
    #[napi(catch_unwind)]
    pub fn to_text(&self) -> String {
        self.inner.to_text()
    }
}

/// A parsed CRL.
#[napi]
pub struct Crl {
    inner: CoreCrl,
}

impl Crl {
    pub(crate) fn new(inner: CoreCrl) -> Self {
        Crl { inner }
    }
}

#[napi]
impl Crl {
    /// Parses a CRL (PEM text, or PEM/DER bytes).
    #[napi(factory, catch_unwind)]
    pub fn parse(input: Input) -> napi::Result<Self> {
        Ok(Crl::new(CoreCrl::from_pem_or_der(&bytes(&input)).js()?))
    }

    /// Issuer distinguished name.
    #[napi(getter, catch_unwind)]
    pub fn issuer(&self) -> String {
        self.inner.issuer.clone()
    }

    /// The CRL number.
    #[napi(getter, catch_unwind)]
    pub fn number(&self) -> Option<f64> {
        self.inner.number.map(|n| n as f64)
    }

    /// thisUpdate.
    #[napi(getter, catch_unwind)]
    pub fn this_update(&self) -> DateTime<Utc> {
        to_date(self.inner.this_update)
    }

    /// nextUpdate.
    #[napi(getter, catch_unwind)]
    pub fn next_update(&self) -> Option<DateTime<Utc>> {
        self.inner.next_update.map(to_date)
    }

    /// How many certificates it revokes.
    #[napi(getter, catch_unwind)]
    pub fn revoked_count(&self) -> u32 {
        self.inner.revoked_count as u32
    }

    /// Whether `serial` (hex) is revoked, and when and why.
    #[napi(catch_unwind)]
    pub fn lookup(&self, serial: String) -> napi::Result<Option<RevokedEntry>> {
        let serial = Serial::from_hex(&serial).js()?;
        Ok(self.inner.lookup(&serial).js()?.as_ref().map(entry))
    }

    /// Whether it is past its nextUpdate at `at` (default now).
    #[napi(catch_unwind)]
    pub fn is_stale(&self, at_time: Option<DateTime<Utc>>) -> bool {
        self.inner.is_stale(at(at_time))
    }

    /// The DER.
    #[napi(getter, catch_unwind)]
    pub fn der(&self) -> Buffer {
        self.inner.der().to_vec().into()
    }

    /// The PEM.
    #[napi(catch_unwind)]
    pub fn to_pem(&self) -> String {
        self.inner.to_pem()
    }
}

/// How to build a CRL.
#[napi(object)]
pub struct CrlOptions {
    /// The CRL number; must grow with each CRL.
    pub number: u32,
    /// thisUpdate (default now).
    pub this_update: Option<DateTime<Utc>>,
    /// nextUpdate (default: the core's, 7 days after thisUpdate).
    pub next_update: Option<DateTime<Utc>>,
}

#[napi]
impl Authority {
    /// Builds and signs a CRL of the records.
    #[napi(catch_unwind)]
    pub fn build_crl(&self, records: &RevocationList, options: CrlOptions) -> napi::Result<Crl> {
        let mut params = CrlParams::new(u64::from(options.number), at(options.this_update));
        if let Some(n) = options.next_update {
            params.next_update = at(Some(n));
        }
        Ok(Crl::new(
            self.inner.build_crl(&records.inner, &params).js()?,
        ))
    }
}

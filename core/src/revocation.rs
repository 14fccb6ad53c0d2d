//! Revocation: the CA's records of revoked serials, signed CRLs, and CRL parsing.
//!
//! Lookups in a parsed CRL go through rustls-webpki's owned CRL (a sorted map): O(log n).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};
use webpki::{CertRevocationList, OwnedCertRevocationList};
use x509_parser::prelude::FromDer;

use crate::authority::Authority;
use crate::certificate::Serial;
use crate::encoding;
use crate::error::{Error, ErrorCode, Result};
use crate::validity::Timestamp;

/// Why a certificate was revoked (RFC 5280 CRLReason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RevocationReason {
    /// unspecified
    #[default]
    Unspecified,
    /// keyCompromise
    KeyCompromise,
    /// cACompromise
    CaCompromise,
    /// affiliationChanged
    AffiliationChanged,
    /// superseded
    Superseded,
    /// cessationOfOperation
    CessationOfOperation,
    /// certificateHold
    CertificateHold,
    /// privilegeWithdrawn
    PrivilegeWithdrawn,
    /// aACompromise
    AaCompromise,
}

impl RevocationReason {
    /// Every reason.
    pub const ALL: &'static [RevocationReason] = &[
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The snake_case name (`key_compromise`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key_compromise",
            RevocationReason::CaCompromise => "ca_compromise",
            RevocationReason::AffiliationChanged => "affiliation_changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation_of_operation",
            RevocationReason::CertificateHold => "certificate_hold",
            RevocationReason::PrivilegeWithdrawn => "privilege_withdrawn",
            RevocationReason::AaCompromise => "aa_compromise",
        }
    }

    /// The RFC 5280 CRLReason number (0-10, 7 unused).
    pub const fn rfc5280_code(self) -> u32 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
            RevocationReason::CertificateHold => 6,
            RevocationReason::PrivilegeWithdrawn => 9,
            RevocationReason::AaCompromise => 10,
        }
    }

    /// The reason with this RFC 5280 number; 7 (unused), 8 (removeFromCRL) and others are
    /// `invalid_request`.
    pub fn from_rfc5280_code(code: u32) -> Result<Self> {
        RevocationReason::ALL
            .iter()
            .copied()
            .find(|r| r.rfc5280_code() == code)
            .ok_or_else(|| {
                Error::invalid_request(format!("{code} is not a revocation reason meshtls records"))
            })
    }

    fn to_rcgen(self) -> rcgen::RevocationReason {
        use rcgen::RevocationReason as R;
        match self {
            RevocationReason::Unspecified => R::Unspecified,
            RevocationReason::KeyCompromise => R::KeyCompromise,
            RevocationReason::CaCompromise => R::CaCompromise,
            RevocationReason::AffiliationChanged => R::AffiliationChanged,
            RevocationReason::Superseded => R::Superseded,
            RevocationReason::CessationOfOperation => R::CessationOfOperation,
            RevocationReason::CertificateHold => R::CertificateHold,
            RevocationReason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
            RevocationReason::AaCompromise => R::AaCompromise,
        }
    }

    fn from_webpki(r: webpki::RevocationReason) -> Self {
        use webpki::RevocationReason as W;
        match r {
            W::KeyCompromise => RevocationReason::KeyCompromise,
            W::CaCompromise => RevocationReason::CaCompromise,
            W::AffiliationChanged => RevocationReason::AffiliationChanged,
            W::Superseded => RevocationReason::Superseded,
            W::CessationOfOperation => RevocationReason::CessationOfOperation,
            W::CertificateHold => RevocationReason::CertificateHold,
            W::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
            W::AaCompromise => RevocationReason::AaCompromise,
            _ => RevocationReason::Unspecified,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.replace('-', "_").to_ascii_lowercase();
        RevocationReason::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| {
                Error::invalid_request(format!(
                    "revocation reason {s:?}: use one of {}",
                    RevocationReason::ALL
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Its serial.
    pub serial: Serial,
    /// When it was revoked.
    pub revoked_at: Timestamp,
    /// Why.
    pub reason: RevocationReason,
}

/// A CA's revocation records: the source a CRL is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationList {
    entries: BTreeMap<Serial, RevokedEntry>,
    /// The number of the last CRL built from these records.
    pub last_crl_number: u64,
}

const RECORDS_HEADER: &str = "# meshtls revocation records v1";

impl RevocationList {
    /// No revocations.
    pub fn new() -> Self {
        Self::default()
    }

    /// The earliest revocation time a record may carry: 1970-01-01T00:00:00Z (verifiers
    /// read CRL times as Unix time and refuse a CRL holding an earlier one).
    pub const EARLIEST: Timestamp = Timestamp::from_unix(0);
    /// The latest revocation time a record may carry: 9999-12-31T23:59:59Z, the last time an
    /// X.509 GeneralizedTime can hold.
    pub const LATEST: Timestamp = Timestamp::from_unix(253_402_300_799);

    /// Records a revocation; returns `Ok(false)` (and changes nothing) if already revoked.
    ///
    /// A time a CRL cannot carry (before [`EARLIEST`](Self::EARLIEST) or after
    /// [`LATEST`](Self::LATEST)) is `invalid_request`, and nothing is recorded: one such
    /// record would make every later CRL of the list impossible to build.
    ///
    /// ```
    /// # use meshtls_core::{ErrorCode, RevocationList, RevocationReason, Serial, Timestamp};
    /// let mut list = RevocationList::new();
    /// let serial = Serial::from_hex("01")?;
    /// let e = list.revoke(serial.clone(), RevocationReason::KeyCompromise, Timestamp::from_unix(i64::MIN));
    /// assert_eq!(e.unwrap_err().code(), ErrorCode::InvalidRequest);
    /// assert!(list.revoke(serial, RevocationReason::KeyCompromise, Timestamp::from_unix(1_790_000_000))?);
    /// # Ok::<(), meshtls_core::Error>(())
    /// ```
    pub fn revoke(
        &mut self,
        serial: Serial,
        reason: RevocationReason,
        at: Timestamp,
    ) -> Result<bool> {
        Self::check_time(at)?;
        if self.entries.contains_key(&serial) {
            return Ok(false);
        }
        self.entries.insert(
            serial.clone(),
            RevokedEntry {
                serial,
                revoked_at: at,
                reason,
            },
        );
        Ok(true)
    }

    /// `invalid_request` unless a CRL can carry `at` as a revocation time.
    fn check_time(at: Timestamp) -> Result<()> {
        if at < Self::EARLIEST || at > Self::LATEST {
            return Err(Error::invalid_request(format!(
                "revocation time {} is outside what a CRL can carry ({} to {})",
                at.unix(),
                Self::EARLIEST,
                Self::LATEST
            )));
        }
        Ok(())
    }

    /// The entry for a serial.
    pub fn get(&self, serial: &Serial) -> Option<&RevokedEntry> {
        self.entries.get(serial)
    }

    /// Every entry, by serial.
    pub fn entries(&self) -> impl Iterator<Item = &RevokedEntry> {
        self.entries.values()
    }

    /// How many serials are revoked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The parameters of the next CRL built from these records: the CRL number after the last
    /// one (recorded here, so a number is never reused), issued at `now`, valid for 7 days.
    /// Save the records after calling this, before publishing the CRL.
    pub fn next_crl_params(&mut self, now: Timestamp) -> CrlParams {
        self.last_crl_number = self.last_crl_number.saturating_add(1);
        CrlParams::new(self.last_crl_number, now)
    }

    /// The records as text (one `serial unix-time reason` line each), for a file the CLI
    /// keeps beside the CA.
    pub fn to_text(&self) -> String {
        let mut s = format!("{RECORDS_HEADER}\ncrl_number {}\n", self.last_crl_number);
        for e in self.entries.values() {
            s.push_str(&format!(
                "{} {} {}\n",
                e.serial,
                e.revoked_at.unix(),
                e.reason
            ));
        }
        s
    }

    /// Parses [`RevocationList::to_text`] output. Every line is checked as
    /// [`revoke`](Self::revoke) checks it (serial, a time a CRL can carry, a known reason),
    /// and the same serial twice is refused: the error names the line number and the line,
    /// so a damaged file stops whoever loads it instead of every later CRL build.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(RECORDS_HEADER) {
            return Err(Error::malformed("not a meshtls revocation records file"));
        }
        let mut list = RevocationList::new();
        for (i, line) in lines.enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let number = i + 2;
            let bad = || Error::malformed(format!("revocation records line {number}: {line:?}"));
            let why = |e: Error| {
                Error::malformed(format!(
                    "revocation records line {number}: {line:?}: {}",
                    e.message()
                ))
            };
            match parts.as_slice() {
                ["crl_number", n] => list.last_crl_number = n.parse().map_err(|_| bad())?,
                [serial, at, reason] => {
                    let serial = Serial::from_hex(serial).map_err(why)?;
                    let at = Timestamp::from_unix(at.parse().map_err(|_| bad())?);
                    let reason = reason.parse().map_err(why)?;
                    if !list.revoke(serial, reason, at).map_err(why)? {
                        return Err(why(Error::malformed("this serial is recorded twice")));
                    }
                }
                _ => return Err(bad()),
            }
        }
        Ok(list)
    }
}

/// How to build a CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlParams {
    /// The CRL number; must grow with each CRL.
    pub number: u64,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate: when verifiers stop trusting this CRL.
    pub next_update: Timestamp,
}

impl CrlParams {
    /// Number `number`, issued at `now`, valid for 7 days.
    pub fn new(number: u64, now: Timestamp) -> Self {
        CrlParams {
            number,
            this_update: now,
            next_update: now.add(Duration::from_secs(7 * 86_400)),
        }
    }
}

/// A parsed CRL.
#[derive(Debug, Clone)]
pub struct Crl {
    der: Vec<u8>,
    /// Issuer distinguished name.
    pub issuer: String,
    /// The CRL number, if present.
    pub number: Option<u64>,
    /// thisUpdate.
    pub this_update: Timestamp,
    /// nextUpdate, if present.
    pub next_update: Option<Timestamp>,
    /// Authority key identifier, if present.
    pub authority_key_id: Option<Vec<u8>>,
    /// How many certificates it revokes.
    pub revoked_count: usize,
    /// The CRLNumber as a big-endian unsigned integer (any size RFC 5280 allows).
    number_bytes: Option<Vec<u8>>,
    /// Whether the CRLNumber extension is marked critical (RFC 5280 says it must not be).
    number_critical: bool,
    list: std::sync::Arc<CertRevocationList<'static>>,
}

fn der_serial(serial: &Serial) -> Vec<u8> {
    let b = serial.as_bytes();
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        let mut v = Vec::with_capacity(b.len() + 1);
        v.push(0);
        v.extend_from_slice(b);
        v
    } else {
        b.to_vec()
    }
}

impl Crl {
    /// Parses a CRL from PEM or DER.
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self> {
        let der = encoding::parse_crl(input)?;
        let owned = OwnedCertRevocationList::from_der(&der).map_err(|e| match e {
            webpki::Error::InvalidCrlNumber => Error::new(
                ErrorCode::InvalidCrl,
                "the CRLNumber is negative or longer than 20 octets",
            ),
            e => Error::malformed(format!("not a usable CRL: {}", crate::error::words_of(&e))),
        })?;
        let (rest, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
                .map_err(|_| Error::malformed("not a CRL (neither PEM nor DER)"))?;
        if !rest.is_empty() {
            return Err(Error::malformed("trailing bytes after the CRL"));
        }
        let number = parsed.crl_number().and_then(|n| u64::try_from(n).ok());
        let number_bytes = parsed.crl_number().map(|n| n.to_bytes_be());
        let mut number_critical = false;
        let mut authority_key_id = None;
        for ext in parsed.extensions() {
            if ext.oid == x509_parser::oid_registry::OID_X509_EXT_CRL_NUMBER {
                number_critical = ext.critical;
            }
            if let x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(aki) =
                ext.parsed_extension()
            {
                authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
        }
        Ok(Crl {
            issuer: parsed.issuer().to_string(),
            number,
            this_update: Timestamp::from_unix(parsed.last_update().timestamp()),
            next_update: parsed
                .next_update()
                .map(|t| Timestamp::from_unix(t.timestamp())),
            authority_key_id,
            revoked_count: parsed.iter_revoked_certificates().count(),
            number_bytes,
            number_critical,
            list: std::sync::Arc::new(CertRevocationList::Owned(owned)),
            der,
        })
    }

    /// Whether the serial is revoked, and when and why.
    pub fn lookup(&self, serial: &Serial) -> Result<Option<RevokedEntry>> {
        let found = self
            .list
            .find_serial(&der_serial(serial))
            .map_err(|e| Error::malformed(format!("CRL entry: {}", crate::error::words_of(&e))))?;
        Ok(found.map(|r| RevokedEntry {
            serial: serial.clone(),
            revoked_at: Timestamp::from_unix(r.revocation_date.as_secs() as i64),
            reason: r
                .reason_code
                .map(RevocationReason::from_webpki)
                .unwrap_or_default(),
        }))
    }

    /// Every entry of the CRL, in the CRL's order (parsed again from the DER on each call).
    pub fn entries(&self) -> Result<Vec<RevokedEntry>> {
        let (_, parsed) =
            x509_parser::revocation_list::CertificateRevocationList::from_der(&self.der)
                .map_err(|_| Error::malformed("not a CRL (neither PEM nor DER)"))?;
        Ok(parsed
            .iter_revoked_certificates()
            .map(|r| RevokedEntry {
                serial: Serial::from_bytes(r.raw_serial()),
                revoked_at: Timestamp::from_unix(r.revocation_date.timestamp()),
                reason: r
                    .reason_code()
                    .and_then(|(_, c)| RevocationReason::from_rfc5280_code(u32::from(c.0)).ok())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Whether the CRL is past its nextUpdate at `at`.
    pub fn is_stale(&self, at: Timestamp) -> bool {
        self.next_update.is_some_and(|n| at > n)
    }

    /// The DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM.
    pub fn to_pem(&self) -> String {
        encoding::crl_pem(&self.der)
    }

    pub(crate) fn webpki(&self) -> &CertRevocationList<'static> {
        &self.list
    }

    pub(crate) fn same_scope(&self, other: &Crl) -> bool {
        self.issuer == other.issuer && self.authority_key_id == other.authority_key_id
    }

    /// The profile a trust bundle asks of a CRL: a CRLNumber, not marked critical
    /// (`invalid_crl` otherwise).
    pub(crate) fn check_profile(&self) -> Result<()> {
        if self.number_bytes.is_none() {
            return Err(Error::new(
                ErrorCode::InvalidCrl,
                format!(
                    "the CRL of {} has no CRLNumber: its order against other CRLs is unknown",
                    self.issuer
                ),
            ));
        }
        if self.number_critical {
            return Err(Error::new(
                ErrorCode::InvalidCrl,
                format!("the CRL of {} marks its CRLNumber critical", self.issuer),
            ));
        }
        Ok(())
    }

    /// How this CRL compares with `held`, a CRL of the same scope: `Greater` replaces it,
    /// `Equal` is the same CRL again; anything else (a lower number, or the same number with
    /// other bytes) is `stale_crl`.
    pub(crate) fn succession(&self, held: &Crl) -> Result<std::cmp::Ordering> {
        use std::cmp::Ordering;
        let num = |c: &Crl| {
            let b = c.number_bytes.as_deref().unwrap_or_default();
            let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
            b[start..].to_vec()
        };
        let (new, old) = (num(self), num(held));
        let order = new.len().cmp(&old.len()).then_with(|| new.cmp(&old));
        match order {
            Ordering::Greater => Ok(Ordering::Greater),
            Ordering::Equal if self.der == held.der => Ok(Ordering::Equal),
            Ordering::Equal => Err(Error::new(
                ErrorCode::StaleCrl,
                format!(
                    "a different CRL of {} with the same CRLNumber {} as the one held: refused, the held one is kept",
                    self.issuer,
                    self.number_text()
                ),
            )),
            Ordering::Less => Err(Error::new(
                ErrorCode::StaleCrl,
                format!(
                    "the CRL of {} has CRLNumber {}, lower than the {} held: refused, the held one is kept",
                    self.issuer,
                    self.number_text(),
                    held.number_text()
                ),
            )),
        }
    }

    fn number_text(&self) -> String {
        match (self.number, &self.number_bytes) {
            (Some(n), _) => n.to_string(),
            (None, Some(b)) => format!("0x{}", encoding::hex_encode(b)),
            (None, None) => "(none)".into(),
        }
    }
}

impl Authority {
    /// Builds and signs a CRL of the records.
    pub fn build_crl(&self, records: &RevocationList, params: &CrlParams) -> Result<Crl> {
        if params.next_update <= params.this_update {
            return Err(Error::invalid_request(
                "a CRL's nextUpdate must be after its thisUpdate",
            ));
        }
        let mut revoked_certs = Vec::with_capacity(records.len());
        for e in records.entries() {
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(e.serial.as_bytes()),
                revocation_time: e.revoked_at.to_offset()?,
                reason_code: Some(e.reason.to_rcgen()),
                invalidity_date: None,
            });
        }
        let key_identifier_method = match &self.certificate().subject_key_id {
            Some(ski) => KeyIdMethod::PreSpecified(ski.clone()),
            None => KeyIdMethod::Sha256,
        };
        let crl_params = CertificateRevocationListParams {
            this_update: params.this_update.to_offset()?,
            next_update: params.next_update.to_offset()?,
            crl_number: SerialNumber::from(params.number),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method,
        };
        let crl = crl_params
            .signed_by(&self.issuer)
            .map_err(|e| Error::internal(format!("signing the CRL failed: {e}")))?;
        Crl::from_pem_or_der(crl.der())
    }
}

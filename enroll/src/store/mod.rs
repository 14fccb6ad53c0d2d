//! The ledger: join tokens, every certificate issued, every revocation, behind one trait.
//!
//! Two implementations: [`SqliteStore`] (embedded, one file in the CA directory, WAL) and
//! [`PostgresStore`] (several CA replicas sharing one ledger). The guarantees the service
//! relies on are the trait's, and both keep them:
//!
//! - a token is consumed at most once, atomically with the recording of the certificate it
//!   bought ([`Store::enroll`]): of two concurrent enrolls with one token exactly one succeeds;
//! - a serial is recorded at most once (primary key), across replicas;
//! - a call that returned `Ok` is durable: the service answers only after it.

mod sqlite;
pub use sqlite::SqliteStore;

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use self::postgres::PostgresStore;

use std::fmt;

/// How a certificate came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// First certificate, bought with a join token.
    Enroll,
    /// Renewal with a still-valid certificate.
    Renew,
    /// The service's own TLS server certificate.
    Service,
}

impl IssueKind {
    /// `enroll` or `renew`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IssueKind::Enroll => "enroll",
            IssueKind::Renew => "renew",
            IssueKind::Service => "service",
        }
    }

    pub(crate) fn parse(s: &str) -> IssueKind {
        match s {
            "renew" => IssueKind::Renew,
            "service" => IssueKind::Service,
            _ => IssueKind::Enroll,
        }
    }
}

/// One certificate in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRecord {
    /// Serial, lowercase hex.
    pub serial: String,
    /// The SPIFFE ID the certificate names.
    pub identity: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the certificate DER, hex.
    pub fingerprint: String,
    /// Enrollment or renewal.
    pub kind: IssueKind,
    /// When the service issued it, Unix seconds.
    pub issued_at: i64,
    /// For a renewal, the serial of the certificate that authenticated it (its predecessor
    /// in the lineage).
    pub previous_serial: Option<String>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, hex: tells a retry with the same
    /// key (answered with this certificate) from another key. `None` for rows written before
    /// the column existed.
    pub spki_sha256: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The revocation reason (core `RevocationReason::as_str`), if revoked.
    pub revocation_reason: Option<String>,
}

/// One join token (only its hash is ever stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// The identity or pattern (core `IdPattern`) the token may enroll.
    pub pattern: String,
    /// Minted at, Unix seconds.
    pub created_at: i64,
    /// Unusable from this time on, Unix seconds.
    pub expires_at: i64,
    /// Who minted it (the admin's SPIFFE ID).
    pub created_by: String,
    /// DNS names a CSR enrolled with this token may carry (none by default).
    pub dns_names: Vec<String>,
    /// When it was used or revoked, if it was.
    pub used_at: Option<i64>,
    /// The certificate it enrolled; `None` while unused, and for a revoked token.
    pub used_serial: Option<String>,
}

impl TokenRecord {
    /// Why it cannot enroll at `now`: used (`used_at` and the serial it enrolled), revoked
    /// (`used_at` without a serial) or expired; `Ok` when it can. The one place these rules
    /// live for both ledgers and the service.
    pub fn check_usable(&self, now: i64) -> Result<(), StoreError> {
        match (self.used_at, &self.used_serial) {
            (Some(_), Some(_)) => Err(StoreError::TokenUsed),
            (Some(_), None) => Err(StoreError::TokenRevoked),
            (None, _) if self.expires_at <= now => Err(StoreError::TokenExpired),
            (None, _) => Ok(()),
        }
    }

    /// `unused`, `used`, `revoked` or `expired` (unused and past `expires_at`) at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        match self.check_usable(now) {
            Ok(()) => "unused",
            Err(StoreError::TokenUsed) => "used",
            Err(StoreError::TokenRevoked) => "revoked",
            Err(_) => "expired",
        }
    }
}

/// A JWT signing key as the ledger holds it: encrypted PKCS#8 PEM (never in clear), shared by
/// every replica of the CA so that each signs with keys the published bundle holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtKeyRecord {
    /// The key ID (its RFC 7638 thumbprint).
    pub kid: String,
    /// The JOSE algorithm (`ES256`...).
    pub algorithm: String,
    /// The private key, encrypted PKCS#8 PEM.
    pub key_pem: String,
    /// Created at, Unix seconds.
    pub created_at: i64,
    /// Neither used nor published from this time on, Unix seconds.
    pub retire_at: i64,
}

/// A JWT-SVID the service minted (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRecord {
    /// The token's `jti`.
    pub jti: String,
    /// Its `sub`: the caller's SPIFFE ID.
    pub subject: String,
    /// Its audiences.
    pub audience: Vec<String>,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// The key that signed it.
    pub kid: String,
    /// The serial of the client certificate that asked for it.
    pub serial: String,
    /// `cnf.x5t#S256` when the token is bound to that certificate.
    pub bound_thumbprint: Option<String>,
}

/// What [`Store::revoke_token`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRevokeOutcome {
    /// It was unused; now it cannot be used.
    Revoked,
    /// It was revoked before.
    AlreadyRevoked,
    /// It enrolled a certificate already (revoke that certificate instead).
    AlreadyUsed,
    /// No token has this hash.
    NotFound,
}

/// Filters of [`Store::certs`]; all set filters must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertFilter {
    /// Exactly this SPIFFE ID.
    pub identity: Option<String>,
    /// notAfter strictly before this Unix time.
    pub expiring_before: Option<i64>,
    /// Only revoked (`true`) or only unrevoked (`false`) certificates.
    pub revoked: Option<bool>,
    /// At most this many rows (newest first).
    pub limit: u32,
}

/// A revocation as the CRL needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Serial, hex.
    pub serial: String,
    /// When, Unix seconds.
    pub revoked_at: i64,
    /// Reason name.
    pub reason: String,
}

/// What [`Store::revoke`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Newly revoked.
    Revoked,
    /// It was revoked before; nothing changed.
    AlreadyRevoked,
    /// No such serial in the ledger.
    NotFound,
}

/// What [`Store::renew`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewOutcome {
    /// The successor is recorded. `superseded` are earlier successors of the same certificate,
    /// issued within the grace period to another key, now revoked (`superseded`) so that one
    /// certificate never has two live successors.
    Recorded {
        /// Serials revoked to keep one live successor (with their own descendants).
        superseded: Vec<String>,
    },
    /// The same key renewed this certificate within the grace period (a retry whose answer
    /// was lost): that successor, recorded nothing.
    Existing(CertRecord),
    /// The certificate has a live successor older than the grace period: it renews no more.
    AlreadyRenewed {
        /// The successor's serial.
        successor: String,
    },
    /// The certificate or one of its predecessors is revoked.
    Revoked {
        /// The serial of the revoked one.
        serial: String,
    },
    /// No such serial in the ledger.
    NotFound,
}

/// What [`Store::revoke_lineage`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageRevocation {
    /// What happened to the certificate named.
    pub outcome: RevokeOutcome,
    /// Its descendants (renewals of renewals...) newly revoked with it.
    pub descendants: Vec<String>,
}

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No token has this hash.
    TokenUnknown,
    /// The token was used already.
    TokenUsed,
    /// The token has expired.
    TokenExpired,
    /// An admin revoked the token before it was used.
    TokenRevoked,
    /// The serial is in the ledger already.
    DuplicateSerial,
    /// The database failed.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::TokenUnknown => f.write_str("unknown join token"),
            StoreError::TokenUsed => f.write_str("the join token was used already"),
            StoreError::TokenExpired => f.write_str("the join token has expired"),
            StoreError::TokenRevoked => f.write_str("the join token was revoked"),
            StoreError::DuplicateSerial => f.write_str("serial already in the ledger"),
            StoreError::Backend(m) => write!(f, "ledger: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The ledger. Calls block; the service runs them on tokio's blocking pool.
pub trait Store: Send + Sync + 'static {
    /// Record a freshly minted token.
    fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// The token with this hash, used or not.
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// The tokens, newest first, at most `limit`.
    fn tokens(&self, limit: u32) -> Result<Vec<TokenRecord>, StoreError>;
    /// Make an unused token unusable (its row stays, `used_at` = `at` and no serial).
    fn revoke_token(&self, hash: &str, at: i64) -> Result<TokenRevokeOutcome, StoreError>;
    /// In one transaction: consume the token (unused, unrevoked, and unexpired at `now`) and
    /// record `cert`. On any error nothing changed.
    fn enroll(&self, token_hash: &str, now: i64, cert: &CertRecord) -> Result<(), StoreError>;
    /// Record a certificate issued without a token (a renewal, the service's own).
    fn record_cert(&self, cert: &CertRecord) -> Result<(), StoreError>;
    /// Mark a certificate revoked.
    fn revoke(&self, serial: &str, reason: &str, at: i64) -> Result<RevokeOutcome, StoreError>;
    /// Mark a certificate and every unrevoked descendant (its renewals, their renewals...)
    /// revoked with `reason`, in one transaction; the descendants also when the certificate
    /// itself was revoked before.
    fn revoke_lineage(
        &self,
        serial: &str,
        reason: &str,
        at: i64,
    ) -> Result<LineageRevocation, StoreError>;
    /// In one transaction, serialised per predecessor (across replicas too): record `cert`
    /// as the successor of `previous` unless `previous` or a predecessor of it is revoked, or
    /// `previous` already has a live successor issued `grace` seconds or more before `now`.
    /// A live successor younger than that with the same key (`spki_sha256`) is returned
    /// instead of recording; younger ones with another key are revoked (`superseded`).
    fn renew(
        &self,
        previous: &str,
        now: i64,
        grace: i64,
        cert: &CertRecord,
    ) -> Result<RenewOutcome, StoreError>;
    /// One certificate by serial.
    fn cert(&self, serial: &str) -> Result<Option<CertRecord>, StoreError>;
    /// The inventory, newest first.
    fn certs(&self, filter: &CertFilter) -> Result<Vec<CertRecord>, StoreError>;
    /// Every revocation (for the CRL).
    fn revocations(&self) -> Result<Vec<Revocation>, StoreError>;
    /// How many certificates are revoked: a counter kept in the revocation's transaction, so
    /// it is one row to read on every CRL request; tells a replica its cached CRL is stale.
    fn revocation_count(&self) -> Result<u64, StoreError>;
    /// The next CRL number (grows across replicas).
    fn next_crl_number(&self) -> Result<u64, StoreError>;
    /// The earliest notAfter of the unrevoked certificates still valid at `now`.
    fn earliest_expiry(&self, now: i64) -> Result<Option<i64>, StoreError>;
    /// A trivial query: is the database there.
    fn ping(&self) -> Result<(), StoreError>;
    /// What the ledger says about itself: its id, its CRL number, how many certificates it
    /// has recorded.
    fn ledger_meta(&self) -> Result<LedgerMeta, StoreError>;
    /// Raise the CRL number to at least `floor` (never lowers it), so the next
    /// [`next_crl_number`](Self::next_crl_number) is above `floor`; returns the number now
    /// held.
    fn raise_crl_number(&self, floor: u64) -> Result<u64, StoreError>;
    /// Record a new JWT signing key; a key ID already held changes nothing.
    fn add_jwt_key(&self, key: &JwtKeyRecord) -> Result<(), StoreError>;
    /// The JWT signing keys not retired at `now`, oldest first.
    fn jwt_keys(&self, now: i64) -> Result<Vec<JwtKeyRecord>, StoreError>;
    /// How many JWT signing keys were ever recorded (the bundle's sequence grows with it).
    fn jwt_key_count(&self) -> Result<u64, StoreError>;
    /// Record a minted JWT-SVID.
    fn record_jwt(&self, jwt: &JwtRecord) -> Result<(), StoreError>;
    /// The minted JWT-SVIDs, newest first, at most `limit`.
    fn jwts(&self, limit: u32) -> Result<Vec<JwtRecord>, StoreError>;
}

/// The ledger's own identity and counters (its `meta` table), which the CA directory
/// remembers too (`enroll::ledger`): a missing, empty, foreign or rolled-back ledger shows
/// against them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerMeta {
    /// A random id given to the ledger when it was created (16 hex digits).
    pub id: String,
    /// The last CRL number handed out.
    pub crl_number: u64,
    /// How many certificates it has recorded (kept by the database on every insert).
    pub issued: u64,
}

/// A stored 64-bit id as 16 hex digits.
pub(crate) fn ledger_id_hex(id: i64) -> String {
    format!("{:016x}", id as u64)
}

/// The part of [`Store::renew`] both ledgers share: given the live successors of the
/// certificate being renewed, the answer that records nothing (`None`: go on, revoking those
/// successors as superseded).
pub(crate) fn lineage_decision(
    successors: &[CertRecord],
    now: i64,
    grace: i64,
    cert: &CertRecord,
) -> Option<RenewOutcome> {
    if let Some(old) = successors
        .iter()
        .find(|s| s.issued_at.saturating_add(grace) <= now)
    {
        return Some(RenewOutcome::AlreadyRenewed {
            successor: old.serial.clone(),
        });
    }
    successors
        .iter()
        .find(|s| s.spki_sha256.is_some() && s.spki_sha256 == cert.spki_sha256)
        .map(|s| RenewOutcome::Existing(s.clone()))
}

/// Audiences as stored (one per line; an audience has no line break, the core checks it).
pub(crate) fn join_lines(items: &[String]) -> String {
    items.join("\n")
}

/// DNS names as stored (one per line).
pub(crate) fn join_dns(names: &[String]) -> String {
    names.join("\n")
}

/// DNS names from their stored form.
pub(crate) fn split_dns(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

//! The JSON bodies of the CA service's HTTP API (`enroll/openapi.yaml`), shared by the
//! service (meshtls-enroll) and this client so both ends speak one definition.

use serde::{Deserialize, Serialize};

/// `POST /v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// A SPIFFE ID or pattern (`spiffe://td/service/*`) the token may enroll.
    pub identity: String,
    /// Lifetime in seconds (default 86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// DNS names the enrolling CSR may carry (none by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
}

/// Answer to `POST /v1/tokens`: the token is shown only here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The secret (64 hex characters).
    pub token: String,
    /// Its id in the ledger (the SHA-256 of the token, hex): for `GET /v1/tokens` and
    /// `POST /v1/tokens/revoke`; it cannot enroll anything.
    #[serde(default)]
    pub id: String,
    /// The identity or pattern it is bound to.
    pub identity: String,
    /// Unusable from then on, Unix seconds.
    pub expires_at: i64,
}

/// `POST /v1/enroll`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The join token.
    pub token: String,
    /// PKCS#10 CSR, PEM, naming exactly one SPIFFE ID.
    pub csr: String,
}

/// `POST /v1/renew` (authenticated by the client certificate).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// PKCS#10 CSR, PEM, for the same SPIFFE ID as the client certificate.
    pub csr: String,
}

/// Answer to enroll and renew.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedResponse {
    /// Serial, hex.
    pub serial: String,
    /// The SPIFFE ID.
    pub identity: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// Leaf then intermediates, PEM: what the node presents.
    pub chain_pem: String,
    /// The CA certificates to trust (several during a CA rotation), PEM.
    pub bundle_pem: String,
}

/// `POST /v1/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Serial, hex.
    pub serial: String,
    /// RFC 5280 reason in snake_case (default `unspecified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Revoke every descendant too (its renewals, their renewals...). Always so for
    /// `key_compromise`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lineage: bool,
}

/// Answer to `POST /v1/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevokeResponse {
    /// Serial, hex.
    pub serial: String,
    /// `false` when it was revoked already.
    pub newly_revoked: bool,
    /// Descendants newly revoked with it (lineage revocation), serials in hex.
    #[serde(default)]
    pub descendants_revoked: Vec<String>,
}

/// One row of `GET /v1/certs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertInfo {
    /// Serial, hex.
    pub serial: String,
    /// SPIFFE ID.
    pub identity: String,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the DER, hex.
    pub fingerprint: String,
    /// `enroll`, `renew` or `service`.
    pub kind: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// The certificate that authenticated a renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_serial: Option<String>,
    /// Unix seconds, when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// Reason, when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
}

/// One row of `GET /v1/tokens` (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token's id (SHA-256 of the token, hex).
    pub id: String,
    /// The identity or pattern it enrolls.
    pub identity: String,
    /// DNS names it grants.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// Minted at, Unix seconds.
    pub created_at: i64,
    /// Unusable from then on, Unix seconds.
    pub expires_at: i64,
    /// The admin who minted it.
    pub created_by: String,
    /// `unused`, `used`, `revoked` or `expired`.
    pub state: String,
    /// When it was used or revoked.
    #[serde(default)]
    pub used_at: Option<i64>,
    /// The certificate it enrolled.
    #[serde(default)]
    pub used_serial: Option<String>,
}

/// Answer to `GET /v1/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenList {
    /// Newest first.
    pub tokens: Vec<TokenInfo>,
}

/// `POST /v1/tokens/revoke`: make an unused token unusable.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevokeRequest {
    /// The token's id (from minting or `GET /v1/tokens`).
    pub id: String,
}

/// Answer to `POST /v1/tokens/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRevokeResponse {
    /// The token's id.
    pub id: String,
    /// `false` when it was revoked already.
    pub newly_revoked: bool,
}

/// Answer to `GET /v1/certs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertList {
    /// Newest first.
    pub certs: Vec<CertInfo>,
}

/// Every error answer: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable snake_case code and a human message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case (see the README's table).
    pub code: String,
    /// For people.
    pub message: String,
}

/// `POST /v1/jwt` (authenticated by the client certificate): a JWT-SVID for the caller's own
/// SPIFFE ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtRequest {
    /// One or more audiences (required).
    pub audience: Vec<String>,
    /// Lifetime in seconds (default 300, at most the service's maximum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<u64>,
    /// Bind the token to the client certificate of this request (`cnf.x5t#S256`).
    #[serde(default)]
    pub bind: bool,
}

/// Answer to `POST /v1/jwt`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwtResponse {
    /// The compact JWT-SVID.
    pub token: String,
    /// Its `sub`.
    pub subject: String,
    /// Its `aud`.
    pub audience: Vec<String>,
    /// Its `exp`, Unix seconds.
    pub expires_at: i64,
    /// Its `iat`, Unix seconds.
    pub issued_at: i64,
    /// Its `jti`.
    pub jti: String,
    /// The signing key's `kid`.
    pub kid: String,
    /// Whether it is bound to the client certificate.
    pub bound: bool,
}

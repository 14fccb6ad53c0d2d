//! The administrator's calls of the CA service: join tokens, revocation, the ledger's
//! certificates.

use hyper::Method;

use super::api::{
    CertList, RevokeRequest, RevokeResponse, TokenList, TokenRequest, TokenResponse,
    TokenRevokeRequest, TokenRevokeResponse,
};
use super::client::decode;
use super::{CaClient, EnrollError};
use crate::IdentityHandle;
use meshtls_core::SpiffeId;

impl CaClient {
    /// `POST /v1/tokens` as the admin `admin`: a one-time join token (shown only here).
    pub async fn mint_token(
        &self,
        admin: &IdentityHandle,
        request: &TokenRequest,
    ) -> Result<TokenResponse, EnrollError> {
        self.call("/v1/tokens", request, Some(admin)).await
    }

    /// `GET /v1/tokens` as the admin `admin`: the newest `limit` tokens (default: the
    /// service's, 1000) with their state, never their secrets.
    pub async fn list_tokens(
        &self,
        admin: &IdentityHandle,
        limit: Option<u32>,
    ) -> Result<TokenList, EnrollError> {
        let path = match limit {
            Some(n) => format!("/v1/tokens?limit={n}"),
            None => "/v1/tokens".to_owned(),
        };
        let (status, bytes) = self.request(Method::GET, &path, None, Some(admin)).await?;
        decode(status, &bytes)
    }

    /// `POST /v1/tokens/revoke` as the admin `admin`: the unused token `id` can no longer
    /// enroll anything (`token_used` when it already did: revoke its certificate instead).
    pub async fn revoke_token(
        &self,
        admin: &IdentityHandle,
        id: &str,
    ) -> Result<TokenRevokeResponse, EnrollError> {
        let request = TokenRevokeRequest { id: id.to_owned() };
        self.call("/v1/tokens/revoke", &request, Some(admin)).await
    }

    /// `POST /v1/revoke` as the admin `admin`; the served CRL is rebuilt before it answers.
    pub async fn revoke(
        &self,
        admin: &IdentityHandle,
        request: &RevokeRequest,
    ) -> Result<RevokeResponse, EnrollError> {
        self.call("/v1/revoke", request, Some(admin)).await
    }

    /// `GET /v1/certs` as the admin `admin`: the ledger's certificates, newest first.
    pub async fn list_certs(
        &self,
        admin: &IdentityHandle,
        filter: &CertFilter,
    ) -> Result<CertList, EnrollError> {
        let path = format!("/v1/certs{}", filter.query());
        let (status, bytes) = self.request(Method::GET, &path, None, Some(admin)).await?;
        decode(status, &bytes)
    }
}

/// The filters of `GET /v1/certs`; all optional.
#[derive(Debug, Clone, Default)]
pub struct CertFilter {
    /// Only this SPIFFE ID.
    pub identity: Option<SpiffeId>,
    /// Only certificates whose notAfter is before this Unix time.
    pub expiring_before: Option<i64>,
    /// Only revoked (`true`) or only unrevoked (`false`) certificates.
    pub revoked: Option<bool>,
    /// At most this many (the service caps it).
    pub limit: Option<u32>,
}

impl CertFilter {
    /// `?identity=…&…`, percent-encoded; empty when no filter is set.
    fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = &self.identity {
            parts.push(format!("identity={}", percent_encode(&id.to_string())));
        }
        if let Some(t) = self.expiring_before {
            parts.push(format!("expiring_before={t}"));
        }
        if let Some(r) = self.revoked {
            parts.push(format!("revoked={r}"));
        }
        if let Some(n) = self.limit {
            parts.push(format!("limit={n}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

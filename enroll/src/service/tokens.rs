//! Join tokens: minted, listed and revoked by admins.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meshtls_core::{Grant, IdPattern, PeerIdentity};

use super::http::{blocking, json, parse_filter, read_json, require_admin, ApiError, HttpResponse};
use super::{now, State, DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL};
use crate::api::{
    TokenInfo, TokenList, TokenRequest, TokenResponse, TokenRevokeRequest, TokenRevokeResponse,
};
use crate::store::{TokenRecord, TokenRevokeOutcome};
use crate::token;

pub(super) async fn mint_token(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let admin = require_admin(state, peer).await?;
    let body: TokenRequest = read_json(req, state.max_body).await?;
    let pattern = IdPattern::parse(body.identity.trim())?;
    if pattern.trust_domain() != state.authority.trust_domain() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "{} is outside this CA's trust domain {}",
                body.identity,
                state.authority.trust_domain()
            ),
        ));
    }
    let ttl = body
        .ttl_seconds
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TOKEN_TTL);
    if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("ttl_seconds must be 1 to {}", MAX_TOKEN_TTL.as_secs()),
        ));
    }
    // The core checks the grant's names (hostnames, lowercased) before it is stored.
    let grant = Grant::join_token(pattern, &body.dns_names)?;
    let secret = token::mint().map_err(|e| ApiError::internal(format!("randomness: {e}")))?;
    let at = now();
    let record = TokenRecord {
        hash: token::hash(&secret),
        pattern: body.identity.trim().to_owned(),
        created_at: at.unix(),
        expires_at: at.add(ttl).unix(),
        created_by: admin,
        dns_names: grant.dns_names().unwrap_or_default().to_vec(),
        used_at: None,
        used_serial: None,
    };
    let expires_at = record.expires_at;
    let id = record.hash.clone();
    let store = state.store.clone();
    blocking(move || Ok(store.add_token(&record)?)).await?;
    state.metrics.token_minted();
    Ok(json(
        StatusCode::CREATED,
        &TokenResponse {
            token: secret,
            id,
            identity: body.identity.trim().to_owned(),
            expires_at,
        },
    ))
}

/// `GET /v1/tokens?limit=N` (admin): the newest tokens with their state, never the secrets.
pub(super) async fn list_tokens(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let limit = parse_filter(query)?;
    if limit.identity.is_some() || limit.expiring_before.is_some() || limit.revoked.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "GET /v1/tokens takes only limit",
        ));
    }
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.tokens(limit.limit)?)).await?;
    let at = now().unix();
    let tokens = rows
        .into_iter()
        .map(|t| TokenInfo {
            state: t.state(at).to_owned(),
            id: t.hash,
            identity: t.pattern,
            dns_names: t.dns_names,
            created_at: t.created_at,
            expires_at: t.expires_at,
            created_by: t.created_by,
            used_at: t.used_at,
            used_serial: t.used_serial,
        })
        .collect();
    Ok(json(StatusCode::OK, &TokenList { tokens }))
}

/// `POST /v1/tokens/revoke` (admin): an unused token can no longer enroll anything.
pub(super) async fn revoke_token(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let body: TokenRevokeRequest = read_json(req, state.max_body).await?;
    let id = body.id.trim().to_ascii_lowercase();
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "a token id is 64 hex characters (the SHA-256 of the token)",
        ));
    }
    let store = state.store.clone();
    let key = id.clone();
    let outcome = blocking(move || Ok(store.revoke_token(&key, now().unix())?)).await?;
    let newly_revoked = match outcome {
        TokenRevokeOutcome::Revoked => true,
        TokenRevokeOutcome::AlreadyRevoked => false,
        TokenRevokeOutcome::AlreadyUsed => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "token_used",
                "the token enrolled a certificate already: revoke the certificate",
            ))
        }
        TokenRevokeOutcome::NotFound => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "token_invalid",
                format!("no token {id} in the ledger"),
            ))
        }
    };
    Ok(json(
        StatusCode::OK,
        &TokenRevokeResponse { id, newly_revoked },
    ))
}

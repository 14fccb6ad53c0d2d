//! Revocation by an admin.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meshtls_core::{PeerIdentity, RevocationReason, Serial};

use super::documents::current_crl;
use super::http::{blocking, json, read_json, require_admin, ApiError, HttpResponse};
use super::{now, State};
use crate::api::{RevokeRequest, RevokeResponse};
use crate::store::RevokeOutcome;

pub(super) fn parse_reason(name: Option<&str>) -> Result<RevocationReason, ApiError> {
    let Some(name) = name else {
        return Ok(RevocationReason::Unspecified);
    };
    RevocationReason::ALL
        .iter()
        .copied()
        .find(|r| r.as_str() == name)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("unknown revocation reason {name:?}"),
            )
        })
}

pub(super) async fn revoke(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let body: RevokeRequest = read_json(req, state.max_body).await?;
    let serial = Serial::from_hex(body.serial.trim())?.to_hex();
    let reason = parse_reason(body.reason.as_deref())?;
    let state = state.clone();
    let response = blocking(move || {
        let outcome = state.store.revoke(&serial, reason.as_str(), now().unix())?;
        match outcome {
            RevokeOutcome::NotFound => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_certificate",
                format!("no certificate {serial} in the ledger"),
            )),
            RevokeOutcome::AlreadyRevoked => Ok(RevokeResponse {
                serial,
                newly_revoked: false,
            }),
            RevokeOutcome::Revoked => {
                state.metrics.revoked();
                // Rebuilt now so the next GET /v1/crl is fast; a failure here only delays it.
                let _ = current_crl(&state);
                Ok(RevokeResponse {
                    serial,
                    newly_revoked: true,
                })
            }
        }
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

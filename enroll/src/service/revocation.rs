//! Revocation by an admin.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meshtls_core::{PeerIdentity, RevocationList, RevocationReason, Serial};

use super::documents::current_crl;
use super::http::{blocking, json, read_json, require_admin, ApiError, HttpResponse};
use super::{now, State};
use crate::api::{RevokeRequest, RevokeResponse};
use crate::store::RevokeOutcome;

pub(super) async fn revoke(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let body: RevokeRequest = read_json(req, state.max_body).await?;
    let parsed = Serial::from_hex(body.serial.trim())?;
    let serial = parsed.to_hex();
    // The core's one spelling of the reasons; absent is `unspecified`.
    let reason = match body.reason.as_deref() {
        None => RevocationReason::Unspecified,
        Some(name) => name.parse::<RevocationReason>()?,
    };
    // A stolen key may have renewed already: everything descending from it goes too.
    let lineage = body.lineage || reason == RevocationReason::KeyCompromise;
    let state = state.clone();
    let response = blocking(move || {
        let at = now();
        // Checked by the core's rule before it is written: a record a CRL cannot carry would
        // make every later CRL impossible to build.
        RevocationList::new().revoke(parsed, reason, at)?;
        let at = at.unix();
        let (outcome, descendants) = if lineage {
            let r = state.store.revoke_lineage(&serial, reason.as_str(), at)?;
            (r.outcome, r.descendants)
        } else {
            (
                state.store.revoke(&serial, reason.as_str(), at)?,
                Vec::new(),
            )
        };
        let newly_revoked = match outcome {
            RevokeOutcome::NotFound => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "unknown_certificate",
                    format!("no certificate {serial} in the ledger"),
                ))
            }
            RevokeOutcome::AlreadyRevoked => false,
            RevokeOutcome::Revoked => true,
        };
        let count = usize::from(newly_revoked) + descendants.len();
        for _ in 0..count {
            state.metrics.revoked();
        }
        if count > 0 {
            // Rebuilt now so the next GET /v1/crl is fast; a failure here only delays it.
            let _ = current_crl(&state);
        }
        Ok(RevokeResponse {
            serial,
            newly_revoked,
            descendants_revoked: descendants,
        })
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

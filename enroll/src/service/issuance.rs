//! Enrollment (a join token and a CSR) and renewal (the current certificate and a CSR), and the
//! certificate inventory.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meshtls_core::{IdPattern, IssueRequest, Issued, PeerIdentity, SpiffeId, Timestamp, Usage};

use super::http::{
    blocking, json, parse_filter, read_json, require_admin, revoked_error, ApiError, HttpResponse,
};
use super::{now, service_id, State};
use crate::api::{CertInfo, CertList, EnrollRequest, IssuedResponse, RenewRequest};
use crate::store::{CertRecord, IssueKind, StoreError};
use crate::token;

pub(super) fn record_of(
    issued: &Issued,
    id: &SpiffeId,
    kind: IssueKind,
    at: Timestamp,
) -> CertRecord {
    CertRecord {
        serial: issued.serial.to_hex(),
        identity: id.to_string(),
        not_before: issued.not_before.unix(),
        not_after: issued.not_after.unix(),
        fingerprint: issued.fingerprint.to_hex(),
        kind,
        issued_at: at.unix(),
        previous_serial: None,
        cert_pem: issued.cert_pem.clone(),
        revoked_at: None,
        revocation_reason: None,
    }
}

/// Reason label of a failed enrollment or renewal for the metrics.
pub(super) fn failure_reason(e: &ApiError) -> &'static str {
    e.code
}

pub(super) async fn enroll(
    state: &Arc<State>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let result = enroll_inner(state, req).await;
    match &result {
        Ok(_) => state.metrics.issued(),
        Err(e) => state.metrics.enroll_failed(failure_reason(e)),
    }
    result
}

pub(super) fn identity_mismatch(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "identity_mismatch", message)
}

pub(super) fn check_dns(requested: &[String], allowed: &[String]) -> Result<(), ApiError> {
    for name in requested {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            return Err(identity_mismatch(format!(
                "the CSR asks for DNS name {name}, which is not granted"
            )));
        }
    }
    Ok(())
}

pub(super) async fn enroll_inner(
    state: &Arc<State>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let body: EnrollRequest = read_json(req, state.max_body).await?;
    let state = state.clone();
    let response = blocking(move || {
        let request = IssueRequest::from_csr(body.csr.as_bytes())?;
        let hash = token::hash(body.token.trim());
        let at = now();
        let token = state.store.token(&hash)?.ok_or(StoreError::TokenUnknown)?;
        token.check_usable(at.unix())?;
        if service_id(&state.authority)? == request.id {
            // Whoever held it could impersonate this service to every client.
            return Err(identity_mismatch(format!(
                "{} is reserved for the CA service",
                request.id
            )));
        }
        let pattern = IdPattern::parse(&token.pattern)?;
        if !pattern.matches(&request.id) {
            return Err(identity_mismatch(format!(
                "the CSR names {}, the token is for {}",
                request.id, token.pattern
            )));
        }
        check_dns(&request.dns_names, &token.dns_names)?;
        let request = request
            .with_usage(Usage::Both)
            .with_lifetime(state.leaf_lifetime);
        // A serial collision (2^-128) would be refused by the ledger's key: issue again.
        for _ in 0..3 {
            let issued = state.authority.issue(&request, at)?;
            let record = record_of(&issued, &request.id, IssueKind::Enroll, at);
            match state.store.enroll(&hash, at.unix(), &record) {
                Ok(()) => return Ok(issued_response(&state, &issued, &request.id)),
                Err(StoreError::DuplicateSerial) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not allocate a unique serial"))
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

pub(super) fn issued_response(state: &State, issued: &Issued, id: &SpiffeId) -> IssuedResponse {
    IssuedResponse {
        serial: issued.serial.to_hex(),
        identity: id.to_string(),
        not_before: issued.not_before.unix(),
        not_after: issued.not_after.unix(),
        chain_pem: issued.chain_pem.clone(),
        bundle_pem: state.bundle.pem.to_string(),
    }
}

pub(super) async fn renew(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let result = renew_inner(state, peer, req).await;
    match &result {
        Ok(_) => state.metrics.renewed(),
        Err(e) => state.metrics.enroll_failed(failure_reason(e)),
    }
    result
}

pub(super) async fn renew_inner(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let peer = peer.cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "client_certificate_required",
            "renewal needs the current certificate as the TLS client certificate",
        )
    })?;
    let body: RenewRequest = read_json(req, state.max_body).await?;
    let state = state.clone();
    let response = blocking(move || {
        let at = now();
        let current_id = peer.spiffe_id.clone().ok_or_else(|| {
            identity_mismatch("the client certificate names no SPIFFE ID".to_owned())
        })?;
        let serial = peer.serial.to_hex();
        let record = state.store.cert(&serial)?.ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "unknown_certificate",
                "the client certificate is not in this CA's ledger",
            )
        })?;
        if record.revoked_at.is_some() || state.offline_revocations.get(&peer.serial).is_some() {
            return Err(revoked_error());
        }
        // The handshake already refused expired certificates; this holds on a clock edge too.
        if peer.not_after.unix() <= at.unix() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "expired",
                "the client certificate has expired",
            ));
        }
        if record.kind == IssueKind::Service {
            return Err(identity_mismatch(
                "the service's own certificate does not renew here".to_owned(),
            ));
        }
        let request = IssueRequest::from_csr(body.csr.as_bytes())?;
        if request.id != current_id {
            return Err(identity_mismatch(format!(
                "the CSR names {}, the client certificate {}",
                request.id, current_id
            )));
        }
        check_dns(&request.dns_names, &peer.dns_names)?;
        let request = request
            .with_usage(Usage::Both)
            .with_lifetime(state.leaf_lifetime);
        for _ in 0..3 {
            let issued = state.authority.issue(&request, at)?;
            let mut rec = record_of(&issued, &request.id, IssueKind::Renew, at);
            rec.previous_serial = Some(serial.clone());
            match state.store.record_cert(&rec) {
                Ok(()) => return Ok(issued_response(&state, &issued, &request.id)),
                Err(StoreError::DuplicateSerial) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not allocate a unique serial"))
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

pub(super) async fn list_certs(
    state: &Arc<State>,
    peer: Option<&PeerIdentity>,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    require_admin(state, peer).await?;
    let filter = parse_filter(query)?;
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.certs(&filter)?)).await?;
    let certs = rows
        .into_iter()
        .map(|r| CertInfo {
            serial: r.serial,
            identity: r.identity,
            not_before: r.not_before,
            not_after: r.not_after,
            fingerprint: r.fingerprint,
            kind: r.kind.as_str().to_owned(),
            issued_at: r.issued_at,
            previous_serial: r.previous_serial,
            revoked_at: r.revoked_at,
            revocation_reason: r.revocation_reason,
        })
        .collect();
    Ok(json(StatusCode::OK, &CertList { certs }))
}

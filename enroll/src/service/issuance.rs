//! Enrollment (a join token and a CSR) and renewal (the current certificate and a CSR), and the
//! certificate inventory.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use meshtls_core::{
    Certificate, Error as CoreError, ErrorCode, Grant, IdPattern, IssueRequest, Issued,
    PeerIdentity, Serial, SpiffeId, Timestamp, Usage,
};

use super::documents::current_crl;

use super::http::{
    blocking, json, parse_filter, read_json, require_admin, revoked_error, ApiError, HttpResponse,
};
use super::{now, State};
use crate::api::{CertInfo, CertList, EnrollRequest, IssuedResponse, RenewRequest};
use crate::store::{CertRecord, IssueKind, RenewOutcome, StoreError, TokenRecord};
use crate::token;

/// The ledger row of a certificate just issued (not yet recorded).
pub(super) fn record_of(
    issued: &Issued,
    id: &SpiffeId,
    kind: IssueKind,
    at: Timestamp,
) -> Result<CertRecord, CoreError> {
    let spki = Certificate::from_der(&issued.cert_der)?.spki_fingerprint;
    Ok(CertRecord {
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
        spki_sha256: Some(spki.to_hex()),
    })
}

/// The one issuance loop of enrollment and renewal: issue `request` at `at`, and record it
/// with `record` (the ledger call, which may also answer with an earlier certificate); on a
/// serial the ledger holds already (a 2^-128 collision, but the ledger's key is the rule)
/// issue again.
fn issue_recorded<T>(
    state: &State,
    request: &IssueRequest,
    at: Timestamp,
    kind: IssueKind,
    previous: Option<&str>,
    mut record: impl FnMut(&CertRecord) -> Result<T, StoreError>,
) -> Result<(Issued, T), ApiError> {
    for _ in 0..3 {
        let issued = state.authority.issue(request, at)?;
        let mut rec = record_of(&issued, &request.id, kind, at)?;
        rec.previous_serial = previous.map(str::to_owned);
        match record(&rec) {
            Ok(t) => return Ok((issued, t)),
            Err(StoreError::DuplicateSerial) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("could not allocate a unique serial"))
}

/// Reason label of a failed enrollment or renewal for the metrics.
pub(super) fn failure_reason(e: &ApiError) -> &'static str {
    e.code
}

pub(super) async fn enroll(
    state: &Arc<State>,
    client: IpAddr,
    req: Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    // An address that guessed wrong too often waits, whatever it sends now.
    if let Err(wait) = state.token_failures.check(client, Instant::now()) {
        state.metrics.token_attempts_limited();
        let secs = wait.as_secs().max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed join-token attempts from {client}: retry in {secs} s"),
        );
        e.retry_after = Some(secs);
        state.metrics.enroll_failed(e.code);
        return Err(e);
    }
    let result = enroll_inner(state, req).await;
    match &result {
        Ok(_) => state.metrics.issued(),
        Err(e) => {
            if e.code == "token_invalid" {
                state.token_failures.failed(client, Instant::now());
            }
            state.metrics.enroll_failed(failure_reason(e))
        }
    }
    result
}

/// The grant of a join token as the ledger holds it: its ID pattern and DNS names, lifetimes up
/// to the service's leaf lifetime.
fn token_grant(state: &State, token: &TokenRecord) -> Result<Grant, CoreError> {
    Grant::join_token(IdPattern::parse(&token.pattern)?, &token.dns_names)?
        .with_max_lifetime(state.leaf_lifetime)
}

/// What a renewal may ask for: the current certificate's SPIFFE ID and DNS names, never a
/// reserved identity (like a join token).
fn renewal_grant(state: &State, id: &SpiffeId, dns: &[String]) -> Result<Grant, CoreError> {
    Grant::join_token(IdPattern::exact(id), dns)?.with_max_lifetime(state.leaf_lifetime)
}

/// The leaf profile of this service: for TLS clients and servers, the configured lifetime.
fn leaf_profile(state: &State, request: IssueRequest) -> IssueRequest {
    request
        .with_usage(Usage::Both)
        .with_lifetime(state.leaf_lifetime)
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
        match token.check_usable(at.unix()) {
            // A used token may be a retry whose answer was lost: decided once issued below.
            Ok(()) | Err(StoreError::TokenUsed) => {}
            Err(e) => return Err(e.into()),
        }
        // The core decides: the token's grant, and never the service's own ID or an
        // administrator's, whatever the token's pattern covers.
        let request = leaf_profile(&state, request);
        token_grant(&state, &token)?.authorizes(&request, &state.reserved)?;
        let (issued, earlier) =
            issue_recorded(&state, &request, at, IssueKind::Enroll, None, |rec| {
                match state.store.enroll(&hash, at.unix(), rec) {
                    Ok(()) => {
                        if state.abort_after_enroll_commit {
                            // Test hook: die between the commit and the answer.
                            std::process::abort();
                        }
                        Ok(None)
                    }
                    Err(StoreError::TokenUsed) => {
                        earlier_enrollment(&state, &hash, rec, at).map(Some)
                    }
                    Err(e) => Err(e),
                }
            })?;
        Ok(match earlier {
            Some(rec) => recorded_response(&state, &rec),
            None => issued_response(&state, &issued, &request.id),
        })
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

/// The certificate a used token enrolled, when `rec` (just issued for the same token) is for
/// the same identity and key and that certificate is still unrevoked and valid: the answer
/// to a retry after a lost reply. Anything else is `token_used`.
fn earlier_enrollment(
    state: &State,
    hash: &str,
    rec: &CertRecord,
    at: Timestamp,
) -> Result<CertRecord, StoreError> {
    let token = state.store.token(hash)?.ok_or(StoreError::TokenUnknown)?;
    let serial = token.used_serial.ok_or(StoreError::TokenUsed)?;
    let earlier = state.store.cert(&serial)?.ok_or(StoreError::TokenUsed)?;
    let same_key = earlier.spki_sha256.is_some() && earlier.spki_sha256 == rec.spki_sha256;
    if same_key
        && earlier.identity == rec.identity
        && earlier.revoked_at.is_none()
        && earlier.not_after > at.unix()
    {
        Ok(earlier)
    } else {
        Err(StoreError::TokenUsed)
    }
}

/// The answer for a certificate already in the ledger (a retried enrollment or renewal).
fn recorded_response(state: &State, rec: &CertRecord) -> IssuedResponse {
    IssuedResponse {
        serial: rec.serial.clone(),
        identity: rec.identity.clone(),
        not_before: rec.not_before,
        not_after: rec.not_after,
        chain_pem: format!("{}{}", rec.cert_pem, state.authority.intermediates_pem()),
        bundle_pem: state.bundle.pem.to_string(),
    }
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
            CoreError::new(
                ErrorCode::NotAuthorized,
                "the client certificate names no SPIFFE ID",
            )
        })?;
        let serial = peer.serial.to_hex();
        let record = state.store.cert(&serial)?.ok_or_else(unknown_certificate)?;
        if record.revoked_at.is_some() || state.offline_revocations.get(&peer.serial).is_some() {
            return Err(revoked_error());
        }
        if let Some(revoked) = offline_revoked_ancestor(&state, &record)? {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "revoked",
                format!("certificate {revoked} of this lineage is revoked"),
            ));
        }
        // The handshake already refused expired certificates; this holds on a clock edge too.
        if peer.not_after.unix() <= at.unix() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "expired",
                "the client certificate has expired",
            ));
        }
        // The same ID and DNS names as the current certificate; the service's own
        // certificate is reserved, so it does not renew here.
        let request = leaf_profile(&state, IssueRequest::from_csr(body.csr.as_bytes())?);
        renewal_grant(&state, &current_id, &peer.dns_names)?
            .authorizes(&request, &state.reserved)?;
        let grace = i64::try_from(state.renew_grace.as_secs()).unwrap_or(i64::MAX);
        let (issued, outcome) = issue_recorded(
            &state,
            &request,
            at,
            IssueKind::Renew,
            Some(&serial),
            |rec| state.store.renew(&serial, at.unix(), grace, rec),
        )?;
        match outcome {
            RenewOutcome::Recorded { superseded } => {
                if !superseded.is_empty() {
                    for _ in &superseded {
                        state.metrics.revoked();
                    }
                    let _ = current_crl(&state);
                }
                Ok(issued_response(&state, &issued, &request.id))
            }
            RenewOutcome::Existing(rec) => Ok(recorded_response(&state, &rec)),
            RenewOutcome::AlreadyRenewed { successor } => Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_renewed",
                format!(
                    "this certificate was renewed (by {successor}) longer than {} s ago: \
                     renew with the newer certificate",
                    state.renew_grace.as_secs()
                ),
            )),
            RenewOutcome::Revoked { serial } => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "revoked",
                format!("certificate {serial} of this lineage is revoked"),
            )),
            RenewOutcome::NotFound => Err(unknown_certificate()),
        }
    })
    .await?;
    Ok(json(StatusCode::OK, &response))
}

fn unknown_certificate() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "unknown_certificate",
        "the client certificate is not in this CA's ledger",
    )
}

/// The first of `serial`'s predecessors revoked offline (`meshtls revoke`): the ledger knows
/// only its own revocations.
fn offline_revoked_ancestor(
    state: &State,
    record: &CertRecord,
) -> Result<Option<String>, ApiError> {
    let mut previous = record.previous_serial.clone();
    // A lineage is a chain of renewals; the bound only stops a corrupted ledger's cycle.
    for _ in 0..100_000 {
        let Some(serial) = previous else {
            return Ok(None);
        };
        if state
            .offline_revocations
            .get(&Serial::from_hex(&serial)?)
            .is_some()
        {
            return Ok(Some(serial));
        }
        previous = state.store.cert(&serial)?.and_then(|r| r.previous_serial);
    }
    Ok(None)
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

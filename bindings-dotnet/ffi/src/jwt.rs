//! JWT-SVIDs: a validator over a SPIFFE bundle (JWKS) and a policy; the claims of a valid
//! token come back as JSON. Every rule is the core's.

use std::ffi::c_char;

use meshtls_core::jwt::{JwtAlgorithm, JwtValidator, SpiffeBundle};
use meshtls_core::{Timestamp, TrustDomain};

use crate::arg::{self, Out};
use crate::buffer::{give_bytes, meshtls_buffer};
use crate::enroll::{block_on, meshtls_enrolled};
use crate::error::meshtls_result;
use crate::panic::{ffi_boundary, ffi_value};
use crate::verify::meshtls_policy;

/// Checks JWT-SVIDs (immutable; several threads may validate with it at once).
#[allow(non_camel_case_types)]
pub struct meshtls_jwt_validator {
    inner: JwtValidator,
}

/// A validator of the JWT keys of the SPIFFE bundle `(bundle_json, json_len)` (for subjects of
/// `trust_domain` only, unless it is NULL), with a copy of `policy`, for tokens addressed to
/// one of the `audience_count` `audiences`. `algorithm_count` 0 allows ES256, ES384 and EdDSA;
/// otherwise only the `algorithms` named. With `require_binding` non-zero an unbound token is
/// refused. A bundle that does not parse is `MESHTLS_MALFORMED`; no audience
/// `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `(bundle_json, json_len)` is readable; `trust_domain` is NULL or NUL-terminated; `policy`
/// is live; `audiences` holds `audience_count` NUL-terminated strings and `algorithms`
/// `algorithm_count` (NULL when the count is 0); `out` is writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn meshtls_jwt_validator_new(
    bundle_json: *const u8,
    json_len: usize,
    trust_domain: *const c_char,
    policy: *const meshtls_policy,
    audiences: *const *const c_char,
    audience_count: usize,
    algorithms: *const *const c_char,
    algorithm_count: usize,
    require_binding: u8,
    out: *mut *mut meshtls_jwt_validator,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (json, td, policy, audiences, algorithms, out) = unsafe {
            (
                arg::bytes(bundle_json, json_len, "bundle_json")?,
                arg::optional_text(trust_domain, "trust_domain")?,
                arg::handle(policy, "policy")?,
                arg::text_list(audiences, audience_count, "audiences")?,
                arg::text_list(algorithms, algorithm_count, "algorithms")?,
                Out::new(out, "out")?,
            )
        };
        let mut bundle = SpiffeBundle::parse(json)?;
        if let Some(td) = td {
            bundle = bundle.with_trust_domain(TrustDomain::new(td)?);
        }
        let mut v = JwtValidator::new(&bundle, policy.inner.clone(), audiences)?
            .require_binding(require_binding != 0);
        if !algorithms.is_empty() {
            let algs = algorithms
                .iter()
                .map(|a| JwtAlgorithm::parse(a))
                .collect::<Result<Vec<_>, _>>()?;
            v = v.allow_algorithms(&algs)?;
        }
        arg::give(out, meshtls_jwt_validator { inner: v });
        Ok(())
    })
}

/// Validates the token `(token, token_len)` at `at` (Unix seconds) for a connection whose peer
/// certificate (DER, or PEM whose first certificate counts) is `(peer_cert, peer_len)`, or
/// none when `peer_cert` is NULL. On success `*out_subject` is the token's `sub` (UTF-8) and
/// `*out_claims_json` its claims as a JSON object, with `kid` and `alg` added; on failure the
/// core's code (`MESHTLS_TOKEN_EXPIRED`, `MESHTLS_TOKEN_BINDING`...) and both untouched.
///
/// # Safety
/// `validator` is live; `(token, token_len)` is readable; `(peer_cert, peer_len)` is readable
/// unless `peer_cert` is NULL; `out_subject` and `out_claims_json` are writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn meshtls_jwt_validator_validate(
    validator: *const meshtls_jwt_validator,
    token: *const u8,
    token_len: usize,
    peer_cert: *const u8,
    peer_len: usize,
    at: i64,
    out_subject: *mut *mut meshtls_buffer,
    out_claims_json: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (validator, token, out_subject, out_claims) = unsafe {
            (
                arg::handle(validator, "validator")?,
                arg::bytes(token, token_len, "token")?,
                Out::new(out_subject, "out_subject")?,
                Out::new(out_claims_json, "out_claims_json")?,
            )
        };
        let peer = if peer_cert.is_null() {
            None
        } else {
            // SAFETY: non-NULL, readable per this function's contract.
            let bytes = unsafe { arg::bytes(peer_cert, peer_len, "peer_cert")? };
            meshtls_core::encoding::parse_certificates(bytes)?
                .into_iter()
                .next()
        };
        let token = std::str::from_utf8(token).map_err(|_| {
            meshtls_core::Error::new(
                meshtls_core::ErrorCode::TokenMalformed,
                "the token is not UTF-8",
            )
        })?;
        let claims = validator
            .inner
            .validate(token, peer.as_deref(), Timestamp::from_unix(at))?;
        let mut json = claims.to_json();
        if let serde_json::Value::Object(m) = &mut json {
            m.insert("kid".into(), claims.key_id.clone().into());
            m.insert("alg".into(), claims.algorithm.as_str().into());
        }
        give_bytes(out_subject, claims.subject.to_string());
        give_bytes(out_claims, json.to_string());
        Ok(())
    })
}

/// Frees a validator. NULL is a no-op.
///
/// # Safety
/// `validator` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_jwt_validator_free(validator: *mut meshtls_jwt_validator) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(validator) })
}

/// JWT-SVIDs of an enrolled identity for one set of audiences, kept fresh (reused until two
/// thirds of their lifetime, minted anew after a renewal when bound).
#[allow(non_camel_case_types)]
pub struct meshtls_jwt_source {
    inner: meshtls_net::enroll::JwtSource,
}

/// A token source of `enrolled` for the `audience_count` `audiences`: tokens for its SPIFFE ID
/// from its CA service (`POST /v1/jwt`), living `ttl_secs` (0: the service's default, 5
/// minutes), bound to its current certificate when `bind` is non-zero.
///
/// # Safety
/// `enrolled` is live; `audiences` holds `audience_count` NUL-terminated strings; `out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_enrolled_jwt_source(
    enrolled: *const meshtls_enrolled,
    audiences: *const *const c_char,
    audience_count: usize,
    ttl_secs: u64,
    bind: u8,
    out: *mut *mut meshtls_jwt_source,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (e, audiences, out) = unsafe {
            (
                arg::handle(enrolled, "enrolled")?,
                arg::text_list(audiences, audience_count, "audiences")?,
                Out::new(out, "out")?,
            )
        };
        let ttl = (ttl_secs > 0).then(|| std::time::Duration::from_secs(ttl_secs));
        let inner = e.inner.jwt_source(audiences, ttl, bind != 0);
        arg::give(out, meshtls_jwt_source { inner });
        Ok(())
    })
}

/// A token with at least a third of its lifetime left: the held one, or a new one from the CA
/// service (blocks until done). Failures as `meshtls_enrolled_renew_now`'s
/// (`MESHTLS_SERVICE_ERROR` with the service's code, `MESHTLS_TRANSPORT`).
///
/// # Safety
/// `source` is live; `out_token` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_jwt_source_token(
    source: *const meshtls_jwt_source,
    out_token: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (s, out) = unsafe {
            (
                arg::handle(source, "source")?,
                Out::new(out_token, "out_token")?,
            )
        };
        let token = block_on(s.inner.token())??;
        give_bytes(out, token);
        Ok(())
    })
}

/// Frees a token source. NULL is a no-op.
///
/// # Safety
/// `source` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_jwt_source_free(source: *mut meshtls_jwt_source) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(source) })
}

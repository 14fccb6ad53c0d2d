//! Verification: trust bundles, identity policies, verifiers and the verified peer.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use meshtls_core::{
    Fingerprint, IdPattern, PeerIdentity, PeerUsage, Policy, PolicyBuilder, RevocationPolicy,
    SpiffeId, Timestamp, TrustBundle, TrustDomain, Verifier, VerifyOptions,
};
use meshtls_net::TrustHandle;

use crate::arg::{self, Out};
use crate::buffer::{give_bytes, give_optional, meshtls_buffer};
use crate::error::{meshtls_result, FfiError};
use crate::panic::{ffi_boundary, ffi_value};

/// The CA certificates a verifier trusts and the CRLs it checks.
#[allow(non_camel_case_types)]
pub struct meshtls_trust_bundle {
    inner: TrustBundle,
}

/// Collects the rules of a policy; `meshtls_policy_builder_build` makes the immutable policy.
#[allow(non_camel_case_types)]
pub struct meshtls_policy_builder {
    inner: PolicyBuilder,
}

/// Who may connect (immutable).
#[allow(non_camel_case_types)]
pub struct meshtls_policy {
    pub(crate) inner: Policy,
}

/// A trust bundle and a policy: decides whether a presented chain is acceptable.
///
/// Fixed (made from a bundle and a policy, or an enrolled identity's snapshot), or live (an
/// enrolled identity's trust: each verification uses the bundle and CRL last fetched, and its
/// refreshes swap them atomically). Several threads may verify with it at once (TLS stacks
/// call validation callbacks from their own threads).
#[allow(non_camel_case_types)]
pub struct meshtls_verifier {
    /// A live trust handle; a fixed verifier is one that nothing replaces.
    trust: TrustHandle,
}

impl meshtls_verifier {
    /// A fixed verifier.
    pub(crate) fn fixed(verifier: Verifier) -> Self {
        meshtls_verifier {
            trust: TrustHandle::new(verifier),
        }
    }

    /// A live verifier: whatever `trust` holds when it is asked.
    pub(crate) fn live(trust: TrustHandle) -> Self {
        meshtls_verifier { trust }
    }

    /// The verifier to ask now (no copy of the bundle or CRL).
    pub(crate) fn current(&self) -> Arc<Verifier> {
        self.trust.current()
    }
}

// The promise above, checked at compile time.
const _: () = {
    const fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<meshtls_verifier>();
};

/// Who the peer is, once verified.
#[allow(non_camel_case_types)]
pub struct meshtls_peer {
    inner: PeerIdentity,
}

/// The role of the peer being verified, passed as `uint32_t`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum meshtls_peer_usage {
    /// The peer is a TLS client (needs clientAuth).
    MESHTLS_PEER_CLIENT = 1,
    /// The peer is a TLS server (needs serverAuth).
    MESHTLS_PEER_SERVER = 2,
}

fn peer_usage(value: u32) -> Result<PeerUsage, FfiError> {
    match value {
        1 => Ok(PeerUsage::Client),
        2 => Ok(PeerUsage::Server),
        n => Err(FfiError::invalid(format!(
            "peer usage {n} is not 1 (client) or 2 (server)"
        ))),
    }
}

/// A new, empty trust bundle (it trusts nothing until a CA is added).
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_new(
    out: *mut *mut meshtls_trust_bundle,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        arg::give(
            out,
            meshtls_trust_bundle {
                inner: TrustBundle::new(),
            },
        );
        Ok(())
    })
}

/// Adds every CA certificate of the PEM (or the one DER certificate) to the bundle. A
/// certificate that is not a CA is `MESHTLS_INVALID_REQUEST`.
///
/// # Safety
/// `bundle` is live and not used by another thread during the call; `(pem, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_add_ca_pem(
    bundle: *mut meshtls_trust_bundle,
    pem: *const u8,
    len: usize,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (bundle, pem) = unsafe {
            (
                arg::handle_mut(bundle, "bundle")?,
                arg::bytes(pem, len, "pem")?,
            )
        };
        bundle.inner.add_ca_pem(pem)?;
        Ok(())
    })
}

/// Adds a CRL (PEM or DER); a newer CRL of the same issuer replaces the older one.
///
/// # Safety
/// `bundle` is live and not used by another thread during the call; `(crl, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_add_crl(
    bundle: *mut meshtls_trust_bundle,
    crl: *const u8,
    len: usize,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (bundle, crl) = unsafe {
            (
                arg::handle_mut(bundle, "bundle")?,
                arg::bytes(crl, len, "crl")?,
            )
        };
        bundle.inner.add_crl(crl)?;
        Ok(())
    })
}

/// The number of CAs in the bundle (0 for NULL).
///
/// # Safety
/// `bundle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_len(bundle: *const meshtls_trust_bundle) -> usize {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(bundle, "bundle") }.map_or(0, |b| b.inner.len())
    })
}

/// The number of CA certificates the bundle was given but skipped because it cannot use them
/// as trust anchors (an unknown critical extension...); 0 for NULL. A skipped CA is not fatal
/// to the bundle: `meshtls_trust_bundle_skipped` says which and why.
///
/// # Safety
/// `bundle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_skipped_count(
    bundle: *const meshtls_trust_bundle,
) -> usize {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(bundle, "bundle") }.map_or(0, |b| b.inner.skipped().len())
    })
}

/// The skipped CA at `index` (below `meshtls_trust_bundle_skipped_count`): why, as a
/// `meshtls_result` number (`MESHTLS_UNKNOWN_CRITICAL_EXTENSION`...) in `out_code`, its
/// subject, the SHA-256 of its DER (lowercase hex) and why in words, each a new buffer. A
/// larger index is `MESHTLS_INVALID_ARGUMENT` and leaves every out-parameter untouched.
///
/// # Safety
/// `bundle` is live; `out_code`, `out_subject`, `out_fingerprint_hex` and `out_message` are
/// writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_skipped(
    bundle: *const meshtls_trust_bundle,
    index: usize,
    out_code: *mut u32,
    out_subject: *mut *mut meshtls_buffer,
    out_fingerprint_hex: *mut *mut meshtls_buffer,
    out_message: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (bundle, code, subject, fingerprint, message) = unsafe {
            (
                arg::handle(bundle, "bundle")?,
                Out::new(out_code, "out_code")?,
                Out::new(out_subject, "out_subject")?,
                Out::new(out_fingerprint_hex, "out_fingerprint_hex")?,
                Out::new(out_message, "out_message")?,
            )
        };
        let skipped = bundle.inner.skipped();
        let s = skipped.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "skipped CA index {index}: the bundle skipped {}",
                skipped.len()
            ))
        })?;
        code.set(s.reason.code().number());
        give_bytes(subject, s.subject.as_bytes());
        give_bytes(fingerprint, s.fingerprint.to_hex().into_bytes());
        give_bytes(message, s.reason.message().as_bytes());
        Ok(())
    })
}

/// Frees a trust bundle. NULL is a no-op.
///
/// # Safety
/// `bundle` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_trust_bundle_free(bundle: *mut meshtls_trust_bundle) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(bundle) })
}

/// A new policy builder with no rules.
///
/// # Safety
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_new(
    out: *mut *mut meshtls_policy_builder,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let out = unsafe { Out::new(out, "out")? };
        arg::give(
            out,
            meshtls_policy_builder {
                inner: Policy::builder(),
            },
        );
        Ok(())
    })
}

/// Adds one rule, parsed from `value` by `parse`, to the builder.
///
/// # Safety
/// `builder` is NULL or live and unshared; `value` is NULL or NUL-terminated.
unsafe fn add_rule<F>(
    builder: *mut meshtls_policy_builder,
    value: *const c_char,
    what: &str,
    rule: F,
) -> meshtls_result
where
    F: FnOnce(PolicyBuilder, &str) -> Result<PolicyBuilder, FfiError>,
{
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (builder, value) = unsafe {
            (
                arg::handle_mut(builder, "builder")?,
                arg::text(value, what)?,
            )
        };
        // The core's builder is by value: a failed rule leaves the builder as it was.
        builder.inner = rule(builder.inner.clone(), value)?;
        Ok(())
    })
}

/// Allows exactly this SPIFFE ID.
///
/// # Safety
/// `builder` is live and unshared; `spiffe_id` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_allow_id(
    builder: *mut meshtls_policy_builder,
    spiffe_id: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        add_rule(builder, spiffe_id, "spiffe_id", |b, v| {
            Ok(b.allow_id(SpiffeId::parse(v)?))
        })
    }
}

/// Allows IDs matching the pattern (`spiffe://mesh.internal/service/*`).
///
/// # Safety
/// `builder` is live and unshared; `pattern` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_allow_pattern(
    builder: *mut meshtls_policy_builder,
    pattern: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        add_rule(builder, pattern, "pattern", |b, v| {
            Ok(b.allow_pattern(IdPattern::parse(v)?))
        })
    }
}

/// Allows every member of the trust domain (`mesh.internal`).
///
/// # Safety
/// `builder` is live and unshared; `trust_domain` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_allow_trust_domain(
    builder: *mut meshtls_policy_builder,
    trust_domain: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        add_rule(builder, trust_domain, "trust_domain", |b, v| {
            Ok(b.allow_trust_domain(TrustDomain::new(v)?))
        })
    }
}

/// Allows a peer whose certificate is valid for this DNS name or IP address (checked when the
/// policy is built).
///
/// # Safety
/// `builder` is live and unshared; `name` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_allow_dns(
    builder: *mut meshtls_policy_builder,
    name: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { add_rule(builder, name, "name", |b, v| Ok(b.allow_dns(v))) }
}

/// Requires the certificate's SHA-256 (hex) to be one of the pins.
///
/// # Safety
/// `builder` is live and unshared; `sha256_hex` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_pin_cert(
    builder: *mut meshtls_policy_builder,
    sha256_hex: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        add_rule(builder, sha256_hex, "sha256_hex", |b, v| {
            Ok(b.pin_cert(Fingerprint::from_hex(v)?))
        })
    }
}

/// Requires the SubjectPublicKeyInfo's SHA-256 (hex) to be one of the pins.
///
/// # Safety
/// `builder` is live and unshared; `sha256_hex` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_pin_spki(
    builder: *mut meshtls_policy_builder,
    sha256_hex: *const c_char,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        add_rule(builder, sha256_hex, "sha256_hex", |b, v| {
            Ok(b.pin_spki(Fingerprint::from_hex(v)?))
        })
    }
}

/// Allows any identity the bundle vouches for.
///
/// # Safety
/// `builder` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_allow_any(
    builder: *mut meshtls_policy_builder,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let builder = unsafe { arg::handle_mut(builder, "builder")? };
        builder.inner = std::mem::take(&mut builder.inner).allow_any();
        Ok(())
    })
}

/// Tolerates `secs` seconds of clock difference at both ends of every certificate's
/// validity (default 0: the rotation margin, not the verifier, absorbs clock drift).
///
/// # Safety
/// `builder` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_clock_leeway(
    builder: *mut meshtls_policy_builder,
    secs: u64,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let builder = unsafe { arg::handle_mut(builder, "builder")? };
        builder.inner = std::mem::take(&mut builder.inner).clock_leeway(Duration::from_secs(secs));
        Ok(())
    })
}

/// Allows at most `n` intermediates between the leaf and the trust anchor (default 4).
///
/// # Safety
/// `builder` is live and unshared.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_max_intermediates(
    builder: *mut meshtls_policy_builder,
    n: u32,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let builder = unsafe { arg::handle_mut(builder, "builder")? };
        let n = usize::try_from(n).map_err(|_| FfiError::invalid("n does not fit"))?;
        builder.inner = std::mem::take(&mut builder.inner).max_intermediates(n);
        Ok(())
    })
}

/// Builds the policy; the builder stays usable. A policy that allows nobody is
/// `MESHTLS_INVALID_REQUEST` (meshtls fails closed).
///
/// # Safety
/// `builder` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_build(
    builder: *const meshtls_policy_builder,
    out: *mut *mut meshtls_policy,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (builder, out) = unsafe { (arg::handle(builder, "builder")?, Out::new(out, "out")?) };
        let inner = builder.inner.clone().build()?;
        arg::give(out, meshtls_policy { inner });
        Ok(())
    })
}

/// Frees a policy builder. NULL is a no-op.
///
/// # Safety
/// `builder` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_builder_free(builder: *mut meshtls_policy_builder) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(builder) })
}

/// Frees a policy. NULL is a no-op.
///
/// # Safety
/// `policy` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_policy_free(policy: *mut meshtls_policy) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(policy) })
}

/// A verifier of a copy of `bundle` and `policy` (both stay owned by the caller), with the
/// core's default options.
///
/// # Safety
/// `bundle` and `policy` are live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_verifier_new(
    bundle: *const meshtls_trust_bundle,
    policy: *const meshtls_policy,
    out: *mut *mut meshtls_verifier,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (bundle, policy, out) = unsafe {
            (
                arg::handle(bundle, "bundle")?,
                arg::handle(policy, "policy")?,
                Out::new(out, "out")?,
            )
        };
        let inner = Verifier::new(bundle.inner.clone(), policy.inner.clone());
        arg::give(out, meshtls_verifier::fixed(inner));
        Ok(())
    })
}

/// Revocation tunables of a verifier (clock leeway and path depth are policy settings:
/// `meshtls_policy_builder_clock_leeway`, `meshtls_policy_builder_max_intermediates`). Start from
/// `meshtls_verify_options_default()` (the core's defaults) and change what you need.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct meshtls_verify_options {
    /// With CRLs in the bundle: reject when no CRL covers a certificate in the path.
    pub require_crl: bool,
    /// With CRLs in the bundle: reject when the covering CRL is past its nextUpdate.
    pub reject_stale_crl: bool,
    /// With CRLs in the bundle: check the leaf only, not the intermediates.
    pub leaf_only: bool,
}

/// The core's default verifier options.
#[no_mangle]
pub extern "C" fn meshtls_verify_options_default() -> meshtls_verify_options {
    let d = VerifyOptions::default();
    meshtls_verify_options {
        require_crl: d.revocation.require_crl,
        reject_stale_crl: d.revocation.reject_stale_crl,
        leaf_only: d.revocation.leaf_only,
    }
}

/// As `meshtls_verifier_new`, with these options.
///
/// # Safety
/// `bundle`, `policy` and `options` are live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_verifier_new_with_options(
    bundle: *const meshtls_trust_bundle,
    policy: *const meshtls_policy,
    options: *const meshtls_verify_options,
    out: *mut *mut meshtls_verifier,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (bundle, policy, options, out) = unsafe {
            (
                arg::handle(bundle, "bundle")?,
                arg::handle(policy, "policy")?,
                arg::handle(options, "options")?,
                Out::new(out, "out")?,
            )
        };
        let options = VerifyOptions {
            revocation: RevocationPolicy {
                require_crl: options.require_crl,
                reject_stale_crl: options.reject_stale_crl,
                leaf_only: options.leaf_only,
            },
        };
        let inner = Verifier::with_options(bundle.inner.clone(), policy.inner.clone(), options);
        arg::give(out, meshtls_verifier::fixed(inner));
        Ok(())
    })
}

/// Verifies a PEM chain (leaf first) for a peer of role `usage` (a `meshtls_peer_usage`) at
/// `at` (Unix seconds). On success `*out` is the peer's identity; otherwise the result says
/// why (`MESHTLS_EXPIRED`, `MESHTLS_REVOKED`, `MESHTLS_UNKNOWN_ISSUER`...).
///
/// # Safety
/// `verifier` is live; `(chain_pem, len)` is readable; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_verifier_verify_pem(
    verifier: *const meshtls_verifier,
    chain_pem: *const u8,
    len: usize,
    usage: u32,
    at: i64,
    out: *mut *mut meshtls_peer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (verifier, chain, out) = unsafe {
            (
                arg::handle(verifier, "verifier")?,
                arg::bytes(chain_pem, len, "chain_pem")?,
                Out::new(out, "out")?,
            )
        };
        let inner =
            verifier
                .current()
                .verify_pem(chain, peer_usage(usage)?, Timestamp::from_unix(at))?;
        arg::give(out, meshtls_peer { inner });
        Ok(())
    })
}

/// Verifies a chain of DER certificates, as a TLS stack presents it: `count` certificates
/// laid end to end in `(data, data_len)`, the i-th `cert_lens[i]` bytes long, leaf first.
/// Lengths that do not add up to `data_len` are `MESHTLS_INVALID_ARGUMENT`.
///
/// # Safety
/// `verifier` is live; `(data, data_len)` is readable; `cert_lens` holds `count` lengths;
/// `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_verifier_verify_der(
    verifier: *const meshtls_verifier,
    data: *const u8,
    data_len: usize,
    cert_lens: *const usize,
    count: usize,
    usage: u32,
    at: i64,
    out: *mut *mut meshtls_peer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (verifier, data, out) = unsafe {
            (
                arg::handle(verifier, "verifier")?,
                arg::bytes(data, data_len, "data")?,
                Out::new(out, "out")?,
            )
        };
        let lens: &[usize] = if count == 0 {
            &[]
        } else if cert_lens.is_null() {
            return Err(FfiError::null("cert_lens"));
        } else {
            // SAFETY: non-NULL and `count` lengths readable per this function's contract.
            unsafe { std::slice::from_raw_parts(cert_lens, count) }
        };
        let mut chain = Vec::with_capacity(lens.len());
        let mut rest = data;
        for (i, n) in lens.iter().enumerate() {
            if *n > rest.len() {
                return Err(FfiError::invalid(format!(
                    "certificate {i} is {n} bytes but only {} remain in data",
                    rest.len()
                )));
            }
            let (der, tail) = rest.split_at(*n);
            chain.push(der);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(FfiError::invalid(format!(
                "{} bytes of data are left after the {count} certificates",
                rest.len()
            )));
        }
        let inner =
            verifier
                .current()
                .verify(&chain, peer_usage(usage)?, Timestamp::from_unix(at))?;
        arg::give(out, meshtls_peer { inner });
        Ok(())
    })
}

/// Frees a verifier. NULL is a no-op.
///
/// # Safety
/// `verifier` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_verifier_free(verifier: *mut meshtls_verifier) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(verifier) })
}

/// Runs `f` on a live peer and hands its bytes (or NULL) to `out`.
///
/// # Safety
/// `peer` is NULL or live; `out` is NULL or writable.
unsafe fn peer_bytes<F>(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
    f: F,
) -> meshtls_result
where
    F: FnOnce(&PeerIdentity) -> Result<Option<Vec<u8>>, FfiError>,
{
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (peer, out) = unsafe { (arg::handle(peer, "peer")?, Out::new(out, "out")?) };
        give_optional(out, f(&peer.inner)?);
        Ok(())
    })
}

/// The peer's SPIFFE ID; `*out` is set to NULL when its certificate has none (allowed by a
/// DNS rule or a pin).
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_spiffe_id(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        peer_bytes(peer, out, |p| {
            Ok(p.spiffe_id.as_ref().map(|id| id.to_string().into_bytes()))
        })
    }
}

/// The subject common name; `*out` is set to NULL when there is none.
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_common_name(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        peer_bytes(peer, out, |p| {
            Ok(p.common_name.clone().map(String::into_bytes))
        })
    }
}

/// The serial number, lowercase hex.
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_serial_hex(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { peer_bytes(peer, out, |p| Ok(Some(p.serial.to_hex().into_bytes()))) }
}

/// The SHA-256 of the leaf DER, lowercase hex.
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_fingerprint_hex(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe { peer_bytes(peer, out, |p| Ok(Some(p.fingerprint.to_hex().into_bytes()))) }
}

/// The SHA-256 of the leaf's SubjectPublicKeyInfo, lowercase hex.
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_spki_fingerprint_hex(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        peer_bytes(peer, out, |p| {
            Ok(Some(p.spki_fingerprint.to_hex().into_bytes()))
        })
    }
}

/// The subject of the trust anchor the path ends at.
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_anchor_subject(
    peer: *const meshtls_peer,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    // SAFETY: forwarded contract.
    unsafe {
        peer_bytes(peer, out, |p| {
            Ok(Some(p.anchor_subject.clone().into_bytes()))
        })
    }
}

/// The number of DNS SANs (0 for NULL).
///
/// # Safety
/// `peer` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_dns_name_count(peer: *const meshtls_peer) -> usize {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(peer, "peer") }.map_or(0, |p| p.inner.dns_names.len())
    })
}

/// The DNS SAN at `index` (below `meshtls_peer_dns_name_count`); a larger index is
/// `MESHTLS_INVALID_ARGUMENT`.
///
/// # Safety
/// `peer` is live; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_dns_name(
    peer: *const meshtls_peer,
    index: usize,
    out: *mut *mut meshtls_buffer,
) -> meshtls_result {
    ffi_boundary(|| {
        // SAFETY: per this function's contract.
        let (peer, out) = unsafe { (arg::handle(peer, "peer")?, Out::new(out, "out")?) };
        let name = peer.inner.dns_names.get(index).ok_or_else(|| {
            FfiError::invalid(format!(
                "DNS name index {index}: the peer has {}",
                peer.inner.dns_names.len()
            ))
        })?;
        give_bytes(out, name.as_bytes());
        Ok(())
    })
}

/// Start of validity, Unix seconds (0 for NULL).
///
/// # Safety
/// `peer` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_not_before(peer: *const meshtls_peer) -> i64 {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(peer, "peer") }.map_or(0, |p| p.inner.not_before.unix())
    })
}

/// End of validity, Unix seconds (0 for NULL).
///
/// # Safety
/// `peer` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_not_after(peer: *const meshtls_peer) -> i64 {
    // SAFETY: per this function's contract.
    ffi_value(0, || {
        unsafe { arg::handle(peer, "peer") }.map_or(0, |p| p.inner.not_after.unix())
    })
}

/// Frees a peer identity. NULL is a no-op.
///
/// # Safety
/// `peer` is NULL or from this library, not freed before and not used after.
#[no_mangle]
pub unsafe extern "C" fn meshtls_peer_free(peer: *mut meshtls_peer) {
    // SAFETY: per this function's contract.
    ffi_value((), || unsafe { arg::free(peer) })
}

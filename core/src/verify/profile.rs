//! The certificate profile the path validator enforces beyond rustls-webpki: RFC 5280 rules
//! that matter for a mesh (key identifiers, critical basicConstraints, serial numbers, name
//! syntax...), and the key and signature strength rules. Each rule answers with the exact code
//! of its family: `invalid_certificate`, `weak_key`, `weak_signature`.

use crate::certificate::Certificate;
use crate::error::{Error, ErrorCode};
use crate::hostname::{self, Wildcard};

/// Where a certificate sits in the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The peer's certificate.
    Leaf,
    /// A CA certificate the peer presented.
    Intermediate,
    /// A CA certificate of the trust bundle.
    Anchor,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Leaf => "the leaf",
            Role::Intermediate => "intermediate",
            Role::Anchor => "trust anchor",
        }
    }
}

fn breach(cert: &Certificate, role: Role, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidCertificate,
        format!("{} {:?}: {why}", role.name(), cert.subject),
    )
}

/// A weak key or signature: `weak_key` / `weak_signature`.
pub(crate) fn strength(cert: &Certificate, role: Role) -> Option<Error> {
    if let Some(why) = &cert.facts.weak_key {
        return Some(Error::new(
            ErrorCode::WeakKey,
            format!("{} {:?} has {why}", role.name(), cert.subject),
        ));
    }
    // An anchor's own signature is never checked (it is trusted as a key and a name).
    if role != Role::Anchor {
        if let Some(why) = &cert.facts.weak_signature {
            return Some(Error::new(
                ErrorCode::WeakSignature,
                format!("{} {:?} is {why}", role.name(), cert.subject),
            ));
        }
    }
    None
}

/// The first profile rule the certificate breaks, if any (`invalid_certificate`).
pub(crate) fn check(cert: &Certificate, role: Role) -> Option<Error> {
    let f = &cert.facts;
    // Serial: positive, non-zero, at most 20 octets (RFC 5280 4.1.2.2).
    let serial = &f.raw_serial;
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        return Some(breach(cert, role, "negative serial number"));
    }
    if serial.iter().all(|b| *b == 0) {
        return Some(breach(cert, role, "serial number zero"));
    }
    if serial.len() > 20 {
        return Some(breach(
            cert,
            role,
            format!("serial number of {} octets (at most 20)", serial.len()),
        ));
    }
    // Key identifiers.
    let self_signed_anchor = role == Role::Anchor && cert.self_issued;
    match &f.aki {
        Some(aki) if aki.critical => {
            return Some(breach(cert, role, "critical authorityKeyIdentifier"))
        }
        Some(aki) if role == Role::Anchor => {
            if aki.issuer_serial {
                return Some(breach(
                    cert,
                    role,
                    "authorityKeyIdentifier names an issuer and serial (only a keyIdentifier is allowed)",
                ));
            }
            if cert.self_issued && aki.key_id.is_some() && aki.key_id != cert.subject_key_id {
                return Some(breach(
                    cert,
                    role,
                    "authorityKeyIdentifier differs from its own subjectKeyIdentifier",
                ));
            }
            if aki.key_id.is_none() {
                return Some(breach(
                    cert,
                    role,
                    "authorityKeyIdentifier without keyIdentifier",
                ));
            }
        }
        Some(_) => {}
        None if !self_signed_anchor => {
            return Some(breach(cert, role, "no authorityKeyIdentifier"));
        }
        None => {}
    }
    if cert.is_ca {
        match f.ski_critical {
            None => {
                return Some(breach(
                    cert,
                    role,
                    "CA certificate without subjectKeyIdentifier",
                ))
            }
            Some(true) => return Some(breach(cert, role, "critical subjectKeyIdentifier")),
            Some(false) => {}
        }
        if f.bc_critical != Some(true) {
            return Some(breach(
                cert,
                role,
                "CA certificate whose basicConstraints is not critical",
            ));
        }
        if cert.key_usage.is_some_and(|ku| !ku.key_cert_sign) {
            return Some(breach(
                cert,
                role,
                "CA certificate whose keyUsage lacks keyCertSign",
            ));
        }
    } else {
        if role != Role::Leaf {
            return Some(breach(cert, role, "not a CA certificate"));
        }
        if f.nc_present {
            return Some(breach(
                cert,
                role,
                "nameConstraints in a certificate that is not a CA",
            ));
        }
    }
    if f.pc_critical == Some(false) {
        return Some(breach(cert, role, "policyConstraints not marked critical"));
    }
    if f.subject_empty && f.san_critical != Some(true) {
        return Some(breach(
            cert,
            role,
            "empty subject without a critical subjectAltName",
        ));
    }
    for name in &cert.dns_names {
        if let Some(why) = hostname::why_invalid(name, Wildcard::Allow) {
            return Some(breach(cert, role, format!("dNSName SAN {name:?}: {why}")));
        }
    }
    for name in &f.nc_dns {
        let bare = name.strip_prefix('.').unwrap_or(name);
        if let Some(why) = hostname::why_invalid(bare, Wildcard::Refuse) {
            return Some(breach(
                cert,
                role,
                format!("name constraint {name:?}: {why}"),
            ));
        }
    }
    None
}

/// Why a bundle cannot use this CA as a trust anchor at all (skipped, not fatal).
pub(crate) fn unusable_anchor(cert: &Certificate) -> Option<Error> {
    if let Some(oid) = cert.facts.unknown_critical.first() {
        return Some(Error::new(
            ErrorCode::UnknownCriticalExtension,
            format!(
                "{:?} has the unknown critical extension {oid}",
                cert.subject
            ),
        ));
    }
    None
}

//! The issuance policy for requester keys and CSR signatures: which keys meshtls certifies and
//! which CSR signature algorithms it accepts. [`crate::issue`] applies it to every CSR before it
//! checks the CSR's signature, so every issuer (CLI, CA service, every binding, wasm) refuses
//! the same requests with the same code.
//!
//! - Signature: SHA-256 or stronger with RSA (PKCS#1 v1.5 or PSS) or ECDSA, or Ed25519. MD2,
//!   MD4, MD5, SHA-1 and SHA-224 are `weak_signature`, decided before the signature is checked.
//!   Any other algorithm is `unsupported`.
//! - Key: RSA of 2048 to 8192 bits with a modulus length that is a multiple of 8, ECDSA P-256 or
//!   P-384, Ed25519. A smaller RSA key or a smaller curve (P-192, P-224) is `weak_key`; anything
//!   else (P-521, secp256k1, brainpool, DSA, Ed448, RSA-PSS-only keys, odd or huge moduli) is
//!   `unsupported`. Never `bad_signature`: that code means the signature itself is wrong.

use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer as _, Oid, Tag};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::error::{Error, ErrorCode, Result};

/// The smallest RSA modulus meshtls certifies, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus meshtls certifies, in bits.
pub const MAX_RSA_BITS: usize = 8192;

fn weak_key(message: String) -> Error {
    Error::new(ErrorCode::WeakKey, message)
}

fn weak_signature(message: String) -> Error {
    Error::new(ErrorCode::WeakSignature, message)
}

/// How strong a hash is, by OID: Some(true) for SHA-256 and stronger, Some(false) for weak
/// hashes, None when unknown.
fn hash_is_strong(oid: &str) -> Option<bool> {
    match oid {
        // SHA-256, SHA-384, SHA-512, SHA-512/256, SHA3-256/384/512
        "2.16.840.1.101.3.4.2.1"
        | "2.16.840.1.101.3.4.2.2"
        | "2.16.840.1.101.3.4.2.3"
        | "2.16.840.1.101.3.4.2.6"
        | "2.16.840.1.101.3.4.2.8"
        | "2.16.840.1.101.3.4.2.9"
        | "2.16.840.1.101.3.4.2.10" => Some(true),
        // MD2, MD5, SHA-1, SHA-224
        "1.2.840.113549.2.2"
        | "1.2.840.113549.2.5"
        | "1.3.14.3.2.26"
        | "2.16.840.1.101.3.4.2.4" => Some(false),
        _ => None,
    }
}

/// The RSASSA-PSS hash algorithm: SHA-1 when the parameters leave it out (RFC 4055).
fn pss_hash(params: Option<&Any<'_>>) -> Result<String> {
    const SHA1: &str = "1.3.14.3.2.26";
    let Some(params) = params else {
        return Ok(SHA1.to_owned());
    };
    let bad = || Error::malformed("the CSR's RSASSA-PSS parameters do not parse");
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, ... }
    if params.tag() != Tag::Sequence {
        return Err(bad());
    }
    if params.data.is_empty() {
        return Ok(SHA1.to_owned());
    }
    let (_, first) = Any::from_der(params.data).map_err(|_| bad())?;
    if first.header.class() != Class::ContextSpecific || first.tag() != Tag(0) {
        return Ok(SHA1.to_owned());
    }
    let (_, alg) = AlgorithmIdentifier::from_der(first.data).map_err(|_| bad())?;
    Ok(alg.algorithm.to_id_string())
}

/// Checks the CSR's signature algorithm (before the signature itself is checked).
pub(crate) fn check_signature_algorithm(alg: &AlgorithmIdentifier<'_>) -> Result<()> {
    let oid = alg.algorithm.to_id_string();
    let (name, strong) = match oid.as_str() {
        "1.2.840.113549.1.1.2" => ("md2WithRSAEncryption", false),
        "1.2.840.113549.1.1.3" => ("md4WithRSAEncryption", false),
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", false),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("sha1WithRSAEncryption", false),
        "1.2.840.113549.1.1.14" => ("sha224WithRSAEncryption", false),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", false),
        "1.2.840.10045.4.3.1" => ("ecdsa-with-SHA224", false),
        "1.2.840.10040.4.3" => ("dsa-with-SHA1", false),
        "2.16.840.1.101.3.4.3.1" => ("dsa-with-SHA224", false),
        "1.2.840.113549.1.1.11" | "1.2.840.113549.1.1.12" | "1.2.840.113549.1.1.13" => {
            ("RSA PKCS#1 v1.5 with SHA-2", true)
        }
        "1.2.840.10045.4.3.2" | "1.2.840.10045.4.3.3" | "1.2.840.10045.4.3.4" => {
            ("ECDSA with SHA-2", true)
        }
        "1.3.101.112" => ("Ed25519", true),
        // DSA with SHA-2: the hash is strong; the key check refuses DSA as unsupported.
        "2.16.840.1.101.3.4.3.2" | "2.16.840.1.101.3.4.3.3" | "2.16.840.1.101.3.4.3.4" => {
            ("DSA with SHA-2", true)
        }
        "1.2.840.113549.1.1.10" => {
            let hash = pss_hash(alg.parameters.as_ref())?;
            match hash_is_strong(&hash) {
                Some(true) => ("RSASSA-PSS", true),
                Some(false) => {
                    return Err(weak_signature(format!(
                        "the CSR is signed with RSASSA-PSS over a weak hash ({hash}): use SHA-256 or stronger"
                    )))
                }
                None => {
                    return Err(Error::unsupported(format!(
                        "the CSR's RSASSA-PSS hash {hash} is not supported"
                    )))
                }
            }
        }
        other => {
            return Err(Error::unsupported(format!(
                "the CSR's signature algorithm {other} is not supported: use ECDSA, Ed25519 or RSA with SHA-256 or stronger"
            )))
        }
    };
    if strong {
        Ok(())
    } else {
        Err(weak_signature(format!(
            "the CSR is signed with {name}: use SHA-256 or stronger (or Ed25519)"
        )))
    }
}

/// The bit length of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let bytes = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    8 * (bytes.len() - 1) + (8 - bytes[0].leading_zeros() as usize)
}

fn oid_param(spki: &SubjectPublicKeyInfo<'_>) -> Option<String> {
    let any = spki.algorithm.parameters.as_ref()?;
    let oid: Oid<'_> = any.as_oid().ok()?;
    Some(oid.to_id_string())
}

/// Checks the requester's public key.
pub(crate) fn check_public_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<()> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" => check_rsa(spki),
        "1.2.840.10045.2.1" => match oid_param(spki).as_deref() {
            Some("1.2.840.10045.3.1.7") | Some("1.3.132.0.34") => Ok(()),
            Some(c @ ("1.2.840.10045.3.1.1" | "1.3.132.0.33")) => Err(weak_key(format!(
                "the CSR's key is on a curve weaker than P-256 ({c}): use P-256, P-384 or Ed25519"
            ))),
            Some("1.3.132.0.35") => Err(Error::unsupported(
                "the CSR's key is on P-521: meshtls certifies P-256, P-384, Ed25519 and RSA 2048-8192",
            )),
            Some("1.3.132.0.10") => Err(Error::unsupported(
                "the CSR's key is on secp256k1: meshtls certifies P-256, P-384, Ed25519 and RSA 2048-8192",
            )),
            Some(c) => Err(Error::unsupported(format!(
                "the CSR's key is on the curve {c}: meshtls certifies P-256, P-384, Ed25519 and RSA 2048-8192"
            ))),
            None => Err(Error::unsupported(
                "the CSR's EC key names no curve: meshtls certifies named curves P-256 and P-384",
            )),
        },
        "1.3.101.112" => Ok(()),
        "1.2.840.10040.4.1" => Err(Error::unsupported(
            "the CSR's key is DSA: meshtls certifies ECDSA P-256/P-384, Ed25519 and RSA 2048-8192",
        )),
        "1.3.101.113" => Err(Error::unsupported(
            "the CSR's key is Ed448: meshtls certifies ECDSA P-256/P-384, Ed25519 and RSA 2048-8192",
        )),
        other => Err(Error::unsupported(format!(
            "the CSR's key algorithm {other} is not supported: meshtls certifies ECDSA P-256/P-384, Ed25519 and RSA 2048-8192"
        ))),
    }
}

fn check_rsa(spki: &SubjectPublicKeyInfo<'_>) -> Result<()> {
    use x509_parser::public_key::PublicKey;
    let key = spki
        .parsed()
        .map_err(|_| Error::malformed("the CSR's RSA public key does not parse"))?;
    let PublicKey::RSA(rsa) = key else {
        return Err(Error::malformed("the CSR's RSA public key does not parse"));
    };
    let bits = bit_length(rsa.modulus);
    if bits < MIN_RSA_BITS {
        return Err(weak_key(format!(
            "the CSR's RSA key has {bits} bits: at least {MIN_RSA_BITS}"
        )));
    }
    if bits > MAX_RSA_BITS || bits % 8 != 0 {
        return Err(Error::unsupported(format!(
            "the CSR's RSA key has {bits} bits: meshtls certifies {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, a multiple of 8"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[0x00, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f, 0xff]), 15);
    }
}

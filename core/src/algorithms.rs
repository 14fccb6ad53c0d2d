//! Which keys and signature algorithms meshtls considers strong, weak or foreign: one
//! classification that issuance ([`crate::issuance_policy`], for CSRs) and the path validator
//! ([`crate::certificate`] facts, checked by `verify`) both apply, so a key or hash refused in
//! one place is refused in the other.
//!
//! - Keys: RSA 2048–8192 bits with a modulus a multiple of 8, ECDSA P-256 and P-384, Ed25519
//!   are accepted. RSA below 2048 bits and curves below P-256 (P-192, P-224 and their Koblitz
//!   twins) are weak. DSA, RSA of an odd or huge size and every other algorithm or curve are
//!   classified apart, so that each caller picks its verdict (issuance: `unsupported`; a path:
//!   `weak_key` for DSA and odd RSA moduli).
//! - Signatures: SHA-256 or stronger with RSA (PKCS#1 v1.5 or PSS), ECDSA or DSA, and Ed25519
//!   are strong; MD2, MD4, MD5, SHA-1 and SHA-224 are weak; anything else is unknown.

use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer as _, Oid, Tag};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// The smallest RSA modulus meshtls accepts, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus meshtls certifies, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// What a public key is, for the key rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// RSA 2048–8192 (a multiple of 8), P-256, P-384 or Ed25519.
    Accepted,
    /// Too small to trust; the text says what it is ("an RSA key of 1024 bits").
    Weak(String),
    /// RSA of at least 2048 bits whose size is not a multiple of 8 or above the maximum.
    OddRsa(usize),
    /// A DSA key.
    Dsa,
    /// Another algorithm or curve; the text says which ("P-521", "secp256k1"...).
    Other(String),
    /// The key's parameters or value do not parse.
    Malformed,
}

/// What a signature algorithm is, for the hash rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignatureClass {
    /// SHA-256 or stronger, or Ed25519.
    Strong,
    /// A weak hash; the text names the algorithm ("sha1WithRSAEncryption").
    Weak(String),
    /// An algorithm meshtls does not know; the text names it.
    Unknown(String),
    /// RSASSA-PSS parameters that do not parse.
    Malformed,
}

const SHA1: &str = "1.3.14.3.2.26";

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
        "1.2.840.113549.2.2" | "1.2.840.113549.2.5" | SHA1 | "2.16.840.1.101.3.4.2.4" => {
            Some(false)
        }
        _ => None,
    }
}

/// The RSASSA-PSS hash algorithm: SHA-1 when the parameters leave it out (RFC 4055).
fn pss_hash(params: Option<&Any<'_>>) -> Option<String> {
    let Some(params) = params else {
        return Some(SHA1.to_owned());
    };
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, ... }
    if params.tag() != Tag::Sequence {
        return None;
    }
    if params.data.is_empty() {
        return Some(SHA1.to_owned());
    }
    let (_, first) = Any::from_der(params.data).ok()?;
    if first.header.class() != Class::ContextSpecific || first.tag() != Tag(0) {
        return Some(SHA1.to_owned());
    }
    let (_, alg) = AlgorithmIdentifier::from_der(first.data).ok()?;
    Some(alg.algorithm.to_id_string())
}

/// 1.2.840.10045.4.3.2, ecdsa-with-SHA256, as DER (the signature on every meshtls
/// certificate: compared as bytes before any OID is spelled out as a string).
pub(crate) const ECDSA_WITH_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// 1.2.840.10045.2.1, id-ecPublicKey, as DER.
pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7, prime256v1 (P-256), as DER.
pub(crate) const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Whether the key is an EC key on P-256 (the default meshtls key), read from the DER.
pub(crate) fn is_p256(spki: &SubjectPublicKeyInfo<'_>) -> bool {
    spki.algorithm.algorithm.as_bytes() == EC_PUBLIC_KEY
        && spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .is_some_and(|c| c.as_bytes() == P256)
}

/// Classifies a signature algorithm (of a CSR, a certificate or a CRL).
pub(crate) fn classify_signature(alg: &AlgorithmIdentifier<'_>) -> SignatureClass {
    if alg.algorithm.as_bytes() == ECDSA_WITH_SHA256 {
        return SignatureClass::Strong;
    }
    let oid = alg.algorithm.to_id_string();
    let weak = |name: &str| SignatureClass::Weak(name.to_owned());
    match oid.as_str() {
        "1.2.840.113549.1.1.2" => weak("md2WithRSAEncryption"),
        "1.2.840.113549.1.1.3" => weak("md4WithRSAEncryption"),
        "1.2.840.113549.1.1.4" => weak("md5WithRSAEncryption"),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => weak("sha1WithRSAEncryption"),
        "1.2.840.113549.1.1.14" => weak("sha224WithRSAEncryption"),
        "1.2.840.10045.4.1" => weak("ecdsa-with-SHA1"),
        "1.2.840.10045.4.3.1" => weak("ecdsa-with-SHA224"),
        "1.2.840.10040.4.3" => weak("dsa-with-SHA1"),
        "2.16.840.1.101.3.4.3.1" => weak("dsa-with-SHA224"),
        // RSA PKCS#1 v1.5, ECDSA and DSA with SHA-256/384/512, and Ed25519. (A DSA signature's
        // hash is strong; the signer's DSA key is what the key rules refuse.)
        "1.2.840.113549.1.1.11"
        | "1.2.840.113549.1.1.12"
        | "1.2.840.113549.1.1.13"
        | "1.2.840.10045.4.3.2"
        | "1.2.840.10045.4.3.3"
        | "1.2.840.10045.4.3.4"
        | "2.16.840.1.101.3.4.3.2"
        | "2.16.840.1.101.3.4.3.3"
        | "2.16.840.1.101.3.4.3.4"
        | "1.3.101.112" => SignatureClass::Strong,
        "1.2.840.113549.1.1.10" => match pss_hash(alg.parameters.as_ref()) {
            None => SignatureClass::Malformed,
            Some(hash) => match hash_is_strong(&hash) {
                Some(true) => SignatureClass::Strong,
                Some(false) => SignatureClass::Weak(format!("RSASSA-PSS over the hash {hash}")),
                None => SignatureClass::Unknown(format!("RSASSA-PSS over the hash {hash}")),
            },
        },
        other => SignatureClass::Unknown(other.to_owned()),
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

fn curve_of(spki: &SubjectPublicKeyInfo<'_>) -> Option<String> {
    let any = spki.algorithm.parameters.as_ref()?;
    let oid: Oid<'_> = any.as_oid().ok()?;
    Some(oid.to_id_string())
}

/// Classifies a public key.
pub(crate) fn classify_key(spki: &SubjectPublicKeyInfo<'_>) -> KeyClass {
    if is_p256(spki) {
        return KeyClass::Accepted;
    }
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" => {
            let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
                return KeyClass::Malformed;
            };
            let bits = bit_length(rsa.modulus);
            if bits < MIN_RSA_BITS {
                KeyClass::Weak(format!(
                    "an RSA key of {bits} bits (at least {MIN_RSA_BITS})"
                ))
            } else if bits > MAX_RSA_BITS || bits % 8 != 0 {
                KeyClass::OddRsa(bits)
            } else {
                KeyClass::Accepted
            }
        }
        "1.2.840.10045.2.1" => match curve_of(spki).as_deref() {
            Some("1.2.840.10045.3.1.7") | Some("1.3.132.0.34") => KeyClass::Accepted,
            Some("1.2.840.10045.3.1.1") => KeyClass::Weak("a P-192 key".into()),
            Some("1.3.132.0.31") => KeyClass::Weak("a secp192k1 key".into()),
            Some("1.3.132.0.33") => KeyClass::Weak("a P-224 key".into()),
            Some("1.3.132.0.32") => KeyClass::Weak("a secp224k1 key".into()),
            Some("1.3.132.0.35") => KeyClass::Other("P-521".into()),
            Some("1.3.132.0.10") => KeyClass::Other("secp256k1".into()),
            Some(c) => KeyClass::Other(format!("the curve {c}")),
            None => KeyClass::Other("an EC key with no named curve".into()),
        },
        "1.3.101.112" => KeyClass::Accepted,
        "1.2.840.10040.4.1" => KeyClass::Dsa,
        "1.3.101.113" => KeyClass::Other("Ed448".into()),
        other => KeyClass::Other(format!("the key algorithm {other}")),
    }
}

#[cfg(test)]
mod tests {
    /// The DER constants of the fast paths are the OIDs the string matches name.
    #[test]
    fn der_constants_are_the_named_oids() {
        use std::str::FromStr as _;
        for (der, dotted) in [
            (super::ECDSA_WITH_SHA256, "1.2.840.10045.4.3.2"),
            (super::EC_PUBLIC_KEY, "1.2.840.10045.2.1"),
            (super::P256, "1.2.840.10045.3.1.7"),
        ] {
            assert_eq!(
                super::Oid::from_str(dotted).unwrap().as_bytes(),
                der,
                "{dotted}"
            );
        }
        // The id-ce extension arcs the certificate parse matches as bytes.
        for arc in [14u8, 17, 19, 30, 36] {
            let dotted = format!("2.5.29.{arc}");
            let oid = super::Oid::from_str(&dotted).unwrap();
            assert_eq!(oid.as_bytes(), &[0x55, 0x1d, arc], "{dotted}");
        }
    }

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

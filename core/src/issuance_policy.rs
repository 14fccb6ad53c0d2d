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
//!
//! What is strong, weak or foreign is classified once in `algorithms`, shared with the path
//! validator; this module turns the classes into the issuance verdicts.

use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

use crate::algorithms::{classify_key, classify_signature, KeyClass, SignatureClass};
pub use crate::algorithms::{MAX_RSA_BITS, MIN_RSA_BITS};
use crate::error::{Error, ErrorCode, Result};

const CERTIFIED: &str = "meshtls certifies ECDSA P-256/P-384, Ed25519 and RSA 2048-8192";

/// Checks the CSR's signature algorithm (before the signature itself is checked).
pub(crate) fn check_signature_algorithm(alg: &AlgorithmIdentifier<'_>) -> Result<()> {
    match classify_signature(alg) {
        SignatureClass::Strong => Ok(()),
        SignatureClass::Weak(name) => Err(Error::new(
            ErrorCode::WeakSignature,
            format!("the CSR is signed with {name}: use SHA-256 or stronger (or Ed25519)"),
        )),
        SignatureClass::Unknown(name) => Err(Error::unsupported(format!(
            "the CSR's signature algorithm {name} is not supported: use ECDSA, Ed25519 or RSA with SHA-256 or stronger"
        ))),
        SignatureClass::Malformed => Err(Error::malformed(
            "the CSR's RSASSA-PSS parameters do not parse",
        )),
    }
}

/// Checks the requester's public key.
pub(crate) fn check_public_key(spki: &SubjectPublicKeyInfo<'_>) -> Result<()> {
    match classify_key(spki) {
        KeyClass::Accepted => Ok(()),
        KeyClass::Weak(what) => Err(Error::new(
            ErrorCode::WeakKey,
            format!("the CSR's key is {what}: use P-256, P-384, Ed25519 or RSA of 2048 bits or more"),
        )),
        KeyClass::OddRsa(bits) => Err(Error::unsupported(format!(
            "the CSR's RSA key has {bits} bits: meshtls certifies {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, a multiple of 8"
        ))),
        KeyClass::Dsa => Err(Error::unsupported(format!(
            "the CSR's key is DSA: {CERTIFIED}"
        ))),
        KeyClass::Other(what) => Err(Error::unsupported(format!(
            "the CSR's key is {what}: {CERTIFIED}"
        ))),
        KeyClass::Malformed => Err(Error::malformed("the CSR's public key does not parse")),
    }
}

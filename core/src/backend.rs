//! The crypto backend seam: the only module that names a crypto provider.
//!
//! Natively the provider is aws-lc-rs (key generation, signing, signature checks). A wasm32
//! build swaps this module's body for a wasm-capable provider; nothing else in the crate
//! changes.

use pki_types::SignatureVerificationAlgorithm;
use rcgen::KeyPair;

use crate::authority::KeyAlgorithm;
use crate::error::{Error, Result};

#[cfg(not(feature = "aws-lc-rs"))]
compile_error!("meshtls-core needs a crypto backend: enable the `aws-lc-rs` feature");

/// Signature algorithms accepted in certificates, CRLs and CSRs.
pub(crate) static SIGNATURE_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// A fresh key pair.
pub(crate) fn generate(alg: KeyAlgorithm) -> Result<KeyPair> {
    let kp = match alg {
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyAlgorithm::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        KeyAlgorithm::Rsa2048 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        }
        KeyAlgorithm::Rsa4096 => {
            KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)
        }
    };
    kp.map_err(|e| Error::internal(format!("key generation failed: {e}")))
}

/// A key pair from PKCS#8, SEC1 or PKCS#1 DER; the algorithm is detected.
pub(crate) fn load_key_any(der: &[u8]) -> Result<KeyPair> {
    KeyPair::try_from(der).map_err(|e| Error::malformed(format!("unusable private key: {e}")))
}

/// Fills the buffer with random bytes from the operating system.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::internal(format!("no randomness: {e}")))
}

/// Checks a CSR's self-signature with its own public key.
pub(crate) fn verify_csr_signature(
    csr: &x509_parser::certification_request::X509CertificationRequest<'_>,
) -> Result<()> {
    csr.verify_signature().map_err(|e| {
        Error::new(
            crate::ErrorCode::BadSignature,
            format!("the CSR's signature does not verify: {e}"),
        )
    })
}

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

/// A freshly generated leaf key: its public half for the certificate and its PKCS#8 for the
/// requester. The CA never signs with it, so it skips the PKCS#8 round trip that a signing
/// key needs (that re-parse costs as much as the key generation itself).
pub(crate) struct GeneratedKey {
    alg: &'static rcgen::SignatureAlgorithm,
    public: Vec<u8>,
    pub(crate) pkcs8: Vec<u8>,
}

impl rcgen::PublicKeyData for GeneratedKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg
    }
}

/// A fresh key for a leaf certificate.
pub(crate) fn generate_leaf_key(alg: KeyAlgorithm) -> Result<GeneratedKey> {
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
    let failed = |_| Error::internal("key generation failed");
    let ecdsa = |signing: &'static signature::EcdsaSigningAlgorithm, alg| -> Result<GeneratedKey> {
        let k = EcdsaKeyPair::generate(signing).map_err(failed)?;
        Ok(GeneratedKey {
            alg,
            public: k.public_key().as_ref().to_vec(),
            pkcs8: k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
        })
    };
    match alg {
        KeyAlgorithm::EcdsaP256 => ecdsa(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rcgen::PKCS_ECDSA_P256_SHA256,
        ),
        KeyAlgorithm::EcdsaP384 => ecdsa(
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &rcgen::PKCS_ECDSA_P384_SHA384,
        ),
        KeyAlgorithm::Ed25519 => {
            let k = Ed25519KeyPair::generate().map_err(failed)?;
            Ok(GeneratedKey {
                alg: &rcgen::PKCS_ED25519,
                public: k.public_key().as_ref().to_vec(),
                pkcs8: k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            })
        }
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
            let k = generate(alg)?;
            Ok(GeneratedKey {
                alg: k.algorithm(),
                public: rcgen::PublicKeyData::der_bytes(&k).to_vec(),
                pkcs8: k.serialize_der(),
            })
        }
    }
}

/// A key pair from PKCS#8, SEC1 or PKCS#1 DER; the algorithm is detected.
pub(crate) fn load_key_any(der: &[u8]) -> Result<KeyPair> {
    KeyPair::try_from(der).map_err(|e| Error::malformed(format!("unusable private key: {e}")))
}

/// SHA-256 of the bytes.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
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

//! The crypto backend seam: the only module that names a crypto provider.
//!
//! Natively the provider is aws-lc-rs (feature `aws-lc-rs`, the default). The wasm32 build
//! uses ring (feature `ring`), which compiles to `wasm32-unknown-unknown`; ring cannot
//! generate RSA keys, so there an RSA key request is `unsupported`. When both features are
//! on, aws-lc-rs is used. Nothing else in the crate names a provider.

use pki_types::SignatureVerificationAlgorithm;
use rcgen::KeyPair;

use crate::authority::KeyAlgorithm;
use crate::error::{Error, Result};

#[cfg(not(any(feature = "aws-lc-rs", feature = "ring")))]
compile_error!(
    "meshtls-core needs a crypto backend: enable the `aws-lc-rs` feature (native) or `ring` (wasm32)"
);

#[cfg(feature = "aws-lc-rs")]
use webpki::aws_lc_rs as algs;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use webpki::ring as algs;

/// Signature algorithms accepted in certificates, CRLs and CSRs.
pub(crate) static SIGNATURE_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    algs::ECDSA_P256_SHA256,
    algs::ECDSA_P256_SHA384,
    algs::ECDSA_P384_SHA256,
    algs::ECDSA_P384_SHA384,
    algs::ED25519,
    algs::RSA_PKCS1_2048_8192_SHA256,
    algs::RSA_PKCS1_2048_8192_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA512,
    algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// A fresh key pair.
pub(crate) fn generate(alg: KeyAlgorithm) -> Result<KeyPair> {
    let kp = match alg {
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyAlgorithm::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => return generate_rsa(alg),
    };
    kp.map_err(|e| Error::internal(format!("key generation failed: {e}")))
}

#[cfg(feature = "aws-lc-rs")]
fn generate_rsa(alg: KeyAlgorithm) -> Result<KeyPair> {
    let size = match alg {
        KeyAlgorithm::Rsa4096 => rcgen::RsaKeySize::_4096,
        _ => rcgen::RsaKeySize::_2048,
    };
    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
        .map_err(|e| Error::internal(format!("key generation failed: {e}")))
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
fn generate_rsa(alg: KeyAlgorithm) -> Result<KeyPair> {
    Err(Error::unsupported(format!(
        "{alg} key generation is not available in this build (ring backend, e.g. wasm): \
         use ecdsa-p256, ecdsa-p384 or ed25519, or bring an RSA key in a CSR"
    )))
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

/// prime256v1 (1.2.840.10045.3.1.7), DER contents.
#[cfg(feature = "aws-lc-rs")]
const P256_OID: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 (1.3.132.0.34), DER contents.
#[cfg(feature = "aws-lc-rs")]
const P384_OID: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// The PKCS#8 v1 of an EC key, byte for byte what aws-lc writes (RFC 5915 ECPrivateKey with
/// the public key and without parameters, inside PrivateKeyInfo): written here from the key's
/// parts because aws-lc's own export recomputes the public point's affine coordinates, a
/// field inversion that costs more than all the certificate's DER writing.
#[cfg(feature = "aws-lc-rs")]
fn ec_pkcs8(curve: &[u8], private: &[u8], public: &[u8]) -> Vec<u8> {
    const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let mut bits = Vec::with_capacity(1 + public.len());
    bits.push(0);
    bits.extend_from_slice(public);
    let mut bit_string = Vec::with_capacity(bits.len() + 3);
    crate::encoding::der_element(&mut bit_string, 0x03, &bits);
    let mut ec = Vec::with_capacity(128);
    crate::encoding::der_element(&mut ec, 0x02, &[1]);
    crate::encoding::der_element(&mut ec, 0x04, private);
    crate::encoding::der_element(&mut ec, 0xa1, &bit_string);
    let mut ec_private_key = Vec::with_capacity(ec.len() + 3);
    crate::encoding::der_element(&mut ec_private_key, 0x30, &ec);
    let mut alg = Vec::with_capacity(24);
    crate::encoding::der_element(&mut alg, 0x06, EC_PUBLIC_KEY);
    crate::encoding::der_element(&mut alg, 0x06, curve);
    let mut info = Vec::with_capacity(ec_private_key.len() + alg.len() + 12);
    crate::encoding::der_element(&mut info, 0x02, &[0]);
    crate::encoding::der_element(&mut info, 0x30, &alg);
    crate::encoding::der_element(&mut info, 0x04, &ec_private_key);
    let mut out = Vec::with_capacity(info.len() + 4);
    crate::encoding::der_element(&mut out, 0x30, &info);
    out
}

/// A fresh key for a leaf certificate.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn generate_leaf_key(alg: KeyAlgorithm) -> Result<GeneratedKey> {
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
    let failed = |_| Error::internal("key generation failed");
    use aws_lc_rs::encoding::AsBigEndian as _;
    let ecdsa = |signing: &'static signature::EcdsaSigningAlgorithm,
                 alg,
                 curve: &[u8]|
     -> Result<GeneratedKey> {
        let k = EcdsaKeyPair::generate(signing).map_err(failed)?;
        let public = k.public_key().as_ref().to_vec();
        let private = k.private_key().as_be_bytes().map_err(failed)?;
        Ok(GeneratedKey {
            alg,
            pkcs8: ec_pkcs8(curve, private.as_ref(), &public),
            public,
        })
    };
    match alg {
        KeyAlgorithm::EcdsaP256 => ecdsa(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rcgen::PKCS_ECDSA_P256_SHA256,
            P256_OID,
        ),
        KeyAlgorithm::EcdsaP384 => ecdsa(
            &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            P384_OID,
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

/// A fresh key for a leaf certificate (ring has no cheaper path than a full key pair).
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) fn generate_leaf_key(alg: KeyAlgorithm) -> Result<GeneratedKey> {
    use rcgen::PublicKeyData as _;
    let k = generate(alg)?;
    Ok(GeneratedKey {
        alg: k.algorithm(),
        public: k.der_bytes().to_vec(),
        pkcs8: k.serialize_der(),
    })
}

/// A key pair from PKCS#8, SEC1 or PKCS#1 DER; the algorithm is detected.
pub(crate) fn load_key_any(der: &[u8]) -> Result<KeyPair> {
    KeyPair::try_from(der).map_err(|e| Error::malformed(format!("unusable private key: {e}")))
}

/// SHA-256 of the bytes.
#[cfg(feature = "aws-lc-rs")]
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// SHA-256 of the bytes.
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Fills the buffer with random bytes from the operating system.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::internal(format!("no randomness: {e}")))
}

/// Checks a CSR's self-signature with its own public key, with the same signature algorithms
/// as certificates ([`SIGNATURE_ALGORITHMS`], identical on both backends). A key and signature
/// algorithm pair outside that set is `unsupported`; a signature that does not verify is
/// `bad_signature`.
pub(crate) fn verify_csr_signature(csr_der: &[u8], spki_der: &[u8]) -> Result<()> {
    use x509_parser::der_parser::asn1_rs::{Any, FromDer as _};
    let bad = || Error::malformed("the CSR's structure does not parse");
    let (_, outer) = Any::from_der(csr_der).map_err(|_| bad())?;
    let body = outer.data;
    let (rest, _) = Any::from_der(body).map_err(|_| bad())?;
    let info = &body[..body.len() - rest.len()];
    let (rest, sig_alg) = Any::from_der(rest).map_err(|_| bad())?;
    let (_, sig) = Any::from_der(rest).map_err(|_| bad())?;
    let (_, spki) = Any::from_der(spki_der).map_err(|_| bad())?;
    let (rest, key_alg) = Any::from_der(spki.data).map_err(|_| bad())?;
    let (_, key) = Any::from_der(rest).map_err(|_| bad())?;
    fn bits<'a>(a: &Any<'a>) -> Option<&'a [u8]> {
        match a.data.split_first() {
            Some((0, bits)) => Some(bits),
            _ => None,
        }
    }
    let (signature, public_key) = (bits(&sig).ok_or_else(bad)?, bits(&key).ok_or_else(bad)?);
    let alg = SIGNATURE_ALGORITHMS
        .iter()
        .find(|a| {
            a.signature_alg_id().as_ref() == sig_alg.data
                && a.public_key_alg_id().as_ref() == key_alg.data
        })
        .ok_or_else(|| {
            Error::unsupported(
                "the CSR's key and signature algorithm are not a pair meshtls verifies \
                 (ECDSA P-256/P-384 with SHA-256/384, Ed25519, RSA PKCS#1 or PSS with SHA-256/384/512)",
            )
        })?;
    alg.verify_signature(public_key, info, signature)
        .map_err(|_| {
            Error::new(
                crate::ErrorCode::BadSignature,
                "the CSR's signature does not verify",
            )
        })
}

#[cfg(all(test, feature = "aws-lc-rs"))]
mod pkcs8_tests {
    use aws_lc_rs::encoding::AsBigEndian as _;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};

    /// The PKCS#8 written from the key's parts is aws-lc's own, byte for byte, and loads back
    /// as the same key.
    #[test]
    fn ec_pkcs8_is_aws_lc_export() {
        for (signing, curve) in [
            (&signature::ECDSA_P256_SHA256_ASN1_SIGNING, super::P256_OID),
            (&signature::ECDSA_P384_SHA384_ASN1_SIGNING, super::P384_OID),
        ] {
            for _ in 0..16 {
                let k = EcdsaKeyPair::generate(signing).unwrap();
                let ours = super::ec_pkcs8(
                    curve,
                    k.private_key().as_be_bytes().unwrap().as_ref(),
                    k.public_key().as_ref(),
                );
                assert_eq!(ours, k.to_pkcs8v1().unwrap().as_ref());
                let back = EcdsaKeyPair::from_pkcs8(signing, &ours).unwrap();
                assert_eq!(back.public_key().as_ref(), k.public_key().as_ref());
            }
        }
    }
}
/// The JWS algorithms of JWT-SVIDs (see [`crate::jwt`]): the key kinds behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwsKind {
    /// ECDSA P-256 with SHA-256, fixed-size r||s signature (ES256).
    Es256,
    /// ECDSA P-384 with SHA-384, fixed-size r||s signature (ES384).
    Es384,
    /// Ed25519 (EdDSA).
    Ed25519,
}

#[cfg(feature = "aws-lc-rs")]
mod jws {
    use super::JwsKind;
    use crate::error::{Error, Result};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

    fn failed<E>(_: E) -> Error {
        Error::internal("JWT key generation or signing failed")
    }

    /// A fresh key: (PKCS#8 DER, raw public key).
    pub(crate) fn generate(kind: JwsKind) -> Result<(Vec<u8>, Vec<u8>)> {
        match kind {
            JwsKind::Es256 | JwsKind::Es384 => {
                let k = EcdsaKeyPair::generate(signing(kind)).map_err(failed)?;
                Ok((
                    k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
                    k.public_key().as_ref().to_vec(),
                ))
            }
            JwsKind::Ed25519 => {
                let k = Ed25519KeyPair::generate().map_err(failed)?;
                Ok((
                    k.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
                    k.public_key().as_ref().to_vec(),
                ))
            }
        }
    }

    fn signing(kind: JwsKind) -> &'static signature::EcdsaSigningAlgorithm {
        match kind {
            JwsKind::Es384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            _ => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        }
    }

    /// The kind and raw public key of a PKCS#8 key, if it is one JWT-SVIDs use.
    pub(crate) fn load(pkcs8: &[u8]) -> Option<(JwsKind, Vec<u8>)> {
        for kind in [JwsKind::Es256, JwsKind::Es384] {
            if let Ok(k) = EcdsaKeyPair::from_pkcs8(signing(kind), pkcs8) {
                return Some((kind, k.public_key().as_ref().to_vec()));
            }
        }
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .ok()
            .map(|k| (JwsKind::Ed25519, k.public_key().as_ref().to_vec()))
    }

    /// Signs with a PKCS#8 key of this kind.
    pub(crate) fn sign(kind: JwsKind, pkcs8: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
        match kind {
            JwsKind::Es256 | JwsKind::Es384 => {
                let k = EcdsaKeyPair::from_pkcs8(signing(kind), pkcs8).map_err(failed)?;
                Ok(k.sign(&SystemRandom::new(), msg)
                    .map_err(failed)?
                    .as_ref()
                    .to_vec())
            }
            JwsKind::Ed25519 => {
                let k = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(failed)?;
                Ok(k.sign(msg).as_ref().to_vec())
            }
        }
    }

    /// Whether the signature verifies with the raw public key.
    pub(crate) fn verify(kind: JwsKind, public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match kind {
            JwsKind::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            JwsKind::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            JwsKind::Ed25519 => &signature::ED25519,
        };
        signature::UnparsedPublicKey::new(alg, public)
            .verify(msg, sig)
            .is_ok()
    }
}

#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
mod jws {
    use super::JwsKind;
    use crate::error::{Error, Result};
    use ring::rand::SystemRandom;
    use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

    fn failed<E>(_: E) -> Error {
        Error::internal("JWT key generation or signing failed")
    }

    fn signing(kind: JwsKind) -> &'static signature::EcdsaSigningAlgorithm {
        match kind {
            JwsKind::Es384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            _ => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        }
    }

    /// A fresh key: (PKCS#8 DER, raw public key).
    pub(crate) fn generate(kind: JwsKind) -> Result<(Vec<u8>, Vec<u8>)> {
        let rng = SystemRandom::new();
        let pkcs8 = match kind {
            JwsKind::Es256 | JwsKind::Es384 => EcdsaKeyPair::generate_pkcs8(signing(kind), &rng)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
            JwsKind::Ed25519 => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(failed)?
                .as_ref()
                .to_vec(),
        };
        let (_, public) = load(&pkcs8).ok_or_else(|| failed(()))?;
        Ok((pkcs8, public))
    }

    /// The kind and raw public key of a PKCS#8 key, if it is one JWT-SVIDs use.
    pub(crate) fn load(pkcs8: &[u8]) -> Option<(JwsKind, Vec<u8>)> {
        let rng = SystemRandom::new();
        for kind in [JwsKind::Es256, JwsKind::Es384] {
            if let Ok(k) = EcdsaKeyPair::from_pkcs8(signing(kind), pkcs8, &rng) {
                return Some((kind, k.public_key().as_ref().to_vec()));
            }
        }
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .ok()
            .map(|k| (JwsKind::Ed25519, k.public_key().as_ref().to_vec()))
    }

    /// Signs with a PKCS#8 key of this kind.
    pub(crate) fn sign(kind: JwsKind, pkcs8: &[u8], msg: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match kind {
            JwsKind::Es256 | JwsKind::Es384 => {
                let k = EcdsaKeyPair::from_pkcs8(signing(kind), pkcs8, &rng).map_err(failed)?;
                Ok(k.sign(&rng, msg).map_err(failed)?.as_ref().to_vec())
            }
            JwsKind::Ed25519 => {
                let k = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(failed)?;
                Ok(k.sign(msg).as_ref().to_vec())
            }
        }
    }

    /// Whether the signature verifies with the raw public key.
    pub(crate) fn verify(kind: JwsKind, public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match kind {
            JwsKind::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            JwsKind::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            JwsKind::Ed25519 => &signature::ED25519,
        };
        signature::UnparsedPublicKey::new(alg, public)
            .verify(msg, sig)
            .is_ok()
    }
}

pub(crate) use jws::{
    generate as jws_generate, load as jws_load, sign as jws_sign, verify as jws_verify,
};

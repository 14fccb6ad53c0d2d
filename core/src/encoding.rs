//! PEM / DER / PKCS#8 (plain and encrypted) / PKCS#12 in and out.

use pkcs8::der::Decode;
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};

use crate::error::{Error, ErrorCode, Result};

const CERT_LABEL: &str = "CERTIFICATE";
const KEY_LABEL: &str = "PRIVATE KEY";
const ENCRYPTED_KEY_LABEL: &str = "ENCRYPTED PRIVATE KEY";
const CRL_LABEL: &str = "X509 CRL";
const CSR_LABEL: &str = "CERTIFICATE REQUEST";

/// Lowercase hex of the bytes (how meshtls prints serials, fingerprints and key IDs).
pub fn hex_encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Bytes of a hex string (either case, colons allowed); None when it is not hex.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// PEM with 64-column lines and LF endings (RFC 7468). Written out here rather than through
/// the `pem` crate's encoder, which allocates per line: issuance writes three PEMs per
/// certificate and this is a measurable share of its cost.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    s.push_str("-----BEGIN ");
    s.push_str(label);
    s.push_str("-----\n");
    for line in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        s.push_str(std::str::from_utf8(line).unwrap_or_default());
        s.push('\n');
    }
    s.push_str("-----END ");
    s.push_str(label);
    s.push_str("-----\n");
    s
}

/// PEM of a DER certificate.
pub fn cert_pem(der: &[u8]) -> String {
    to_pem(CERT_LABEL, der)
}

/// PEM of a DER CRL.
pub fn crl_pem(der: &[u8]) -> String {
    to_pem(CRL_LABEL, der)
}

/// PEM of a DER certificate signing request.
pub fn csr_pem(der: &[u8]) -> String {
    to_pem(CSR_LABEL, der)
}

/// PEM of a plaintext PKCS#8 private key.
pub fn key_pem(pkcs8_der: &[u8]) -> String {
    to_pem(KEY_LABEL, pkcs8_der)
}

fn looks_like_pem(input: &[u8]) -> bool {
    input
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(5)
        .eq(b"-----".iter())
        || std::str::from_utf8(input)
            .map(|s| s.contains("-----BEGIN "))
            .unwrap_or(false)
}

/// Every PEM block with this label, in order. Errors when the input has none.
fn pem_blocks(input: &[u8], labels: &[&str], what: &str) -> Result<Vec<Vec<u8>>> {
    let blocks =
        pem::parse_many(input).map_err(|e| Error::malformed(format!("{what}: bad PEM: {e}")))?;
    let found: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| labels.contains(&b.tag()))
        .map(|b| b.into_contents())
        .collect();
    if found.is_empty() {
        return Err(Error::malformed(format!(
            "{what}: no {} PEM block found",
            labels[0]
        )));
    }
    Ok(found)
}

/// Appends one DER element (tag, definite length, contents) to `out`: the one DER writer of the
/// hand-built encodings (the PKCS#8 of a generated key, the leaf certificate of a P-256 CA).
/// Contents up to 16 MiB; nothing meshtls writes comes near.
pub(crate) fn der_element(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else if len < 0x1_0000 {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    } else {
        out.extend([0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
}

/// Whether input given where certificate, CRL or key *contents* are expected is rather a file
/// path: short, one line of printable UTF-8, neither PEM nor DER (DER starts with a SEQUENCE
/// tag). Bindings that accept "text, bytes or a path" read the file when this is true; the core
/// itself never touches the file system.
pub fn looks_like_path(input: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(input) else {
        return false;
    };
    let text = text.trim();
    !text.is_empty()
        && text.len() <= 4096
        && input.first() != Some(&0x30)
        && !looks_like_pem(input)
        && !text.chars().any(|c| c.is_control())
}

/// Reads one or more certificates from PEM (any number of `CERTIFICATE` blocks) or from a
/// single DER certificate. Empty, truncated or garbage input is `malformed`.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::malformed("certificate input is empty"));
    }
    let ders = if looks_like_pem(input) {
        pem_blocks(
            input,
            &[CERT_LABEL, "X509 CERTIFICATE", "TRUSTED CERTIFICATE"],
            "certificate",
        )?
    } else {
        vec![input.to_vec()]
    };
    for der in &ders {
        check_der_cert(der)?;
    }
    Ok(ders)
}

fn check_der_cert(der: &[u8]) -> Result<()> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    match X509Certificate::from_der(der) {
        Ok(([], _)) => Ok(()),
        Ok(_) => Err(Error::malformed("trailing bytes after the certificate")),
        Err(_) => Err(crate::certificate::not_a_certificate(der)),
    }
}

/// Reads a CRL from PEM or DER (returns DER).
pub fn parse_crl(input: &[u8]) -> Result<Vec<u8>> {
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::malformed("CRL input is empty"));
    }
    if looks_like_pem(input) {
        Ok(pem_blocks(input, &[CRL_LABEL], "CRL")?.remove(0))
    } else {
        Ok(input.to_vec())
    }
}

/// Reads every CRL of a PEM document (several `X509 CRL` blocks, as a CA service serves during
/// a CA rotation), or a single DER CRL.
pub fn parse_crls(input: &[u8]) -> Result<Vec<Vec<u8>>> {
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::malformed("CRL input is empty"));
    }
    if looks_like_pem(input) {
        pem_blocks(input, &[CRL_LABEL], "CRL")
    } else {
        Ok(vec![input.to_vec()])
    }
}

/// Reads a CSR from PEM or DER (returns DER).
pub fn parse_csr(input: &[u8]) -> Result<Vec<u8>> {
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::malformed("CSR input is empty"));
    }
    if looks_like_pem(input) {
        Ok(pem_blocks(input, &[CSR_LABEL, "NEW CERTIFICATE REQUEST"], "CSR")?.remove(0))
    } else {
        Ok(input.to_vec())
    }
}

/// A private key in PEM as meshtls writes it: plain PKCS#8 or encrypted PKCS#8.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(pub String);

impl std::fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKeyPem(..)")
    }
}

/// Reads a plaintext private key (PKCS#8 PEM/DER, or SEC1 `EC PRIVATE KEY` / PKCS#1
/// `RSA PRIVATE KEY` PEM) and returns it as PKCS#8 DER. An encrypted key needs
/// [`decrypt_private_key`].
pub fn parse_private_key(input: &[u8]) -> Result<Vec<u8>> {
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::malformed("private key input is empty"));
    }
    if looks_like_pem(input) {
        let blocks = pem::parse_many(input)
            .map_err(|e| Error::malformed(format!("private key: bad PEM: {e}")))?;
        for b in blocks {
            match b.tag() {
                KEY_LABEL => {
                    PrivateKeyInfoRef::from_der(b.contents())
                        .map_err(|e| Error::malformed(format!("private key is not PKCS#8: {e}")))?;
                    return Ok(b.into_contents());
                }
                ENCRYPTED_KEY_LABEL => {
                    return Err(Error::new(
                        ErrorCode::WrongPassphrase,
                        "the private key is encrypted: a passphrase is needed",
                    ))
                }
                "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
                    let kp = crate::backend::load_key_any(b.contents())?;
                    return Ok(kp.serialize_der());
                }
                _ => {}
            }
        }
        Err(Error::malformed("no PRIVATE KEY PEM block found"))
    } else {
        PrivateKeyInfoRef::from_der(input)
            .map_err(|e| Error::malformed(format!("private key is not PKCS#8 DER: {e}")))?;
        Ok(input.to_vec())
    }
}

/// Encrypts a PKCS#8 key with a passphrase: PBES2 with scrypt (N=2^15, r=8, p=1) and
/// AES-256-CBC, as `ENCRYPTED PRIVATE KEY` PEM (OpenSSL reads it).
pub fn encrypt_private_key(pkcs8_der: &[u8], passphrase: &str) -> Result<PrivateKeyPem> {
    if passphrase.is_empty() {
        return Err(Error::invalid_request("the passphrase must not be empty"));
    }
    let info = PrivateKeyInfoRef::from_der(pkcs8_der)
        .map_err(|e| Error::malformed(format!("private key is not PKCS#8: {e}")))?;
    let doc = info
        .encrypt(passphrase.as_bytes())
        .map_err(|e| Error::internal(format!("key encryption failed: {e}")))?;
    Ok(PrivateKeyPem(to_pem(ENCRYPTED_KEY_LABEL, doc.as_bytes())))
}

/// Decrypts an `ENCRYPTED PRIVATE KEY` (PEM or DER) into PKCS#8 DER. A wrong passphrase is
/// `wrong_passphrase`; a plaintext key is accepted as it is.
pub fn decrypt_private_key(input: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    let der = if looks_like_pem(input) {
        let blocks = pem::parse_many(input)
            .map_err(|e| Error::malformed(format!("private key: bad PEM: {e}")))?;
        let Some(block) = blocks.into_iter().find(|b| b.tag() == ENCRYPTED_KEY_LABEL) else {
            return parse_private_key(input);
        };
        block.into_contents()
    } else {
        input.to_vec()
    };
    let enc = EncryptedPrivateKeyInfoRef::from_der(&der)
        .map_err(|e| Error::malformed(format!("not an encrypted PKCS#8 key: {e}")))?;
    let plain = enc.decrypt(passphrase.as_bytes()).map_err(|_| {
        Error::new(
            ErrorCode::WrongPassphrase,
            "the passphrase does not decrypt the private key",
        )
    })?;
    // A wrong passphrase can, rarely, still unpad correctly: the plaintext must be PKCS#8.
    PrivateKeyInfoRef::from_der(plain.as_bytes()).map_err(|_| {
        Error::new(
            ErrorCode::WrongPassphrase,
            "the passphrase does not decrypt the private key",
        )
    })?;
    Ok(plain.as_bytes().to_vec())
}

/// How a PKCS#12 file is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pkcs12Profile {
    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with an HMAC-SHA256 MAC: OpenSSL 3, .NET 5+, Java.
    #[default]
    Modern,
    /// PBE-SHA1-3DES for keys and certificates with an HMAC-SHA1 MAC: Mono, older Windows
    /// and macOS keychains, which read nothing newer.
    Legacy,
}

impl Pkcs12Profile {
    /// `modern` or `legacy`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pkcs12Profile::Modern => "modern",
            Pkcs12Profile::Legacy => "legacy",
        }
    }
}

impl std::str::FromStr for Pkcs12Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "modern" => Ok(Pkcs12Profile::Modern),
            "legacy" => Ok(Pkcs12Profile::Legacy),
            _ => Err(Error::invalid_request(format!(
                "PKCS#12 profile {s:?}: use modern or legacy"
            ))),
        }
    }
}

/// Builds a PKCS#12 (PFX) file holding the key and its chain (leaf first), with a password.
pub fn to_pkcs12(
    key_pkcs8_der: &[u8],
    chain_der: &[Vec<u8>],
    friendly_name: &str,
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Vec<u8>> {
    use p12_keystore::{
        Certificate as P12Cert, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm,
        PrivateKey, PrivateKeyChain,
    };
    if chain_der.is_empty() {
        return Err(Error::invalid_request(
            "PKCS#12 export needs at least the leaf certificate",
        ));
    }
    let key = PrivateKey::from_der(key_pkcs8_der)
        .map_err(|e| Error::malformed(format!("private key for PKCS#12: {e}")))?;
    let certs = chain_der
        .iter()
        .map(|d| {
            P12Cert::from_der(d)
                .map_err(|e| Error::malformed(format!("certificate for PKCS#12: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let key_id = crate::certificate::Fingerprint::of(&chain_der[0]).0[..20].to_vec();
    let mut store = KeyStore::new();
    store.add_entry(
        friendly_name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(key_id, key, certs)),
    );
    let writer = store.writer(password);
    let writer = match profile {
        Pkcs12Profile::Modern => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(MacAlgorithm::HmacSha256),
        Pkcs12Profile::Legacy => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(MacAlgorithm::HmacSha1),
    };
    writer
        .encryption_iterations(100_000)
        .mac_iterations(100_000)
        .write()
        .map_err(|e| Error::internal(format!("PKCS#12 encoding failed: {e}")))
}

/// A PKCS#12 file from PEM: the chain (leaf first) and its private key (plain, or encrypted
/// with `key_passphrase`), protected with `password`. The friendly name is the leaf's SPIFFE
/// ID (or `meshtls`), as for [`crate::Issued::to_pkcs12`].
pub fn pkcs12_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
    key_passphrase: Option<&str>,
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Vec<u8>> {
    let chain = parse_certificates(chain_pem)?;
    let key = match key_passphrase {
        Some(p) => decrypt_private_key(key_pem, p)?,
        None => parse_private_key(key_pem)?,
    };
    to_pkcs12(
        &key,
        &chain,
        &pkcs12_friendly_name(&chain[0]),
        password,
        profile,
    )
}

pub(crate) fn pkcs12_friendly_name(leaf_der: &[u8]) -> String {
    crate::certificate::Certificate::from_der(leaf_der)
        .ok()
        .and_then(|c| c.spiffe_id)
        .map(|id| id.to_string())
        .unwrap_or_else(|| "meshtls".to_owned())
}

/// Reads a PKCS#12 file: the PKCS#8 key and the chain (leaf first).
pub fn from_pkcs12(pfx: &[u8], password: &str) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
    let store = KeyStore::from_pkcs12(pfx, password, Pkcs12ImportPolicy::Relaxed).map_err(|e| {
        let msg = e.to_string();
        if msg.to_ascii_lowercase().contains("mac") {
            Error::new(
                ErrorCode::WrongPassphrase,
                "the password does not open the PKCS#12 file",
            )
        } else {
            Error::malformed(format!("not a PKCS#12 file: {msg}"))
        }
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| Error::malformed("the PKCS#12 file holds no private key"))?;
    Ok((
        chain.key().as_der().to_vec(),
        chain.certs().iter().map(|c| c.as_der().to_vec()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex_encode(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(hex_decode("00:AB:10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }

    #[test]
    fn garbage_certificates_are_malformed() {
        for input in [
            &b""[..],
            b"   \n",
            b"hello world",
            b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
            b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
            &[0x30, 0x82, 0x01],
        ] {
            let err = parse_certificates(input).unwrap_err();
            assert_eq!(
                err.code(),
                ErrorCode::Malformed,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn garbage_keys_are_malformed() {
        for input in [
            &b""[..],
            b"junk",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            assert_eq!(
                parse_private_key(input).unwrap_err().code(),
                ErrorCode::Malformed
            );
        }
    }
}

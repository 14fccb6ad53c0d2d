//! Inputs (PEM text or DER/PEM bytes) and the core's `encoding` module: PKCS#12 and encrypted
//! PKCS#8 keys. PBKDF2/scrypt are slow on purpose, so these are async.

use meshtls_core::encoding as core_enc;
use meshtls_core::Pkcs12Profile;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use meshtls_core::ErrorCode;

use crate::error::{edge, JsResult};
use crate::tasks::CoreTask;

/// PEM text or bytes (DER, or PEM as bytes): what every meshtls input accepts.
#[napi]
pub type Input = Either<String, Uint8Array>;

/// The bytes of an input.
pub fn bytes(input: &Input) -> Vec<u8> {
    match input {
        Either::A(s) => s.as_bytes().to_vec(),
        Either::B(b) => b.to_vec(),
    }
}

/// The bytes of a bundle (CA certificates, CRLs): PEM text, DER/PEM bytes, or the path of a
/// file holding them, told apart by the core's one rule (`encoding::looks_like_path`). A path
/// that names no file is `malformed`, one that cannot be read `io`, both naming it.
pub fn bundle_bytes(input: &Input) -> JsResult<Vec<u8>> {
    match input {
        Either::A(s) if core_enc::looks_like_path(s.as_bytes()) => read_path(s.trim()),
        other => Ok(bytes(other)),
    }
}

/// A bundle given as text: its contents, or the contents of the file it names.
pub fn bundle_text(input: String) -> JsResult<String> {
    if core_enc::looks_like_path(input.as_bytes()) {
        let data = read_path(input.trim())?;
        String::from_utf8(data).map_err(|_| {
            edge(
                ErrorCode::Malformed,
                format!("{}: the bundle file is not PEM text", input.trim()),
            )
        })
    } else {
        Ok(input)
    }
}

fn read_path(path: &str) -> JsResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        // Neither contents nor an existing file: most likely garbage given as contents.
        std::io::ErrorKind::NotFound => edge(
            ErrorCode::Malformed,
            format!("not a bundle: neither PEM nor DER, and no file named {path:?}"),
        ),
        _ => edge(
            ErrorCode::Io,
            format!("cannot read the bundle file {path:?}: {e}"),
        ),
    })
}

/// The PKCS#12 protection profile from its name.
pub fn pkcs12_profile(name: Option<String>) -> napi::Result<Pkcs12Profile> {
    match name {
        None => Ok(Pkcs12Profile::default()),
        Some(n) => n
            .parse()
            .map_err(|e: meshtls_core::Error| edge(e.code(), e.message())),
    }
}

/// What `fromPkcs12` finds in a PFX file.
#[napi(object)]
pub struct Pkcs12Contents {
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The chain, leaf first, PEM.
    pub chain_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Buffer,
    /// The chain, leaf first, DER.
    pub chain_der: Vec<Buffer>,
}

/// Options of `toPkcs12`.
#[napi(object)]
pub struct Pkcs12Options {
    /// The password protecting the file.
    pub password: String,
    /// `"modern"` (default: AES-256, HMAC-SHA256) or `"legacy"` (3DES, SHA-1: Mono, old keychains).
    pub profile: Option<String>,
    /// The friendly name of the key entry (default `meshtls`).
    pub friendly_name: Option<String>,
}

/// Builds a password-protected PKCS#12 (PFX) file from a private key and its chain (leaf first).
#[napi(ts_return_type = "Promise<Buffer>", catch_unwind)]
pub fn to_pkcs12(
    key: Input,
    chain: Input,
    options: Pkcs12Options,
) -> napi::Result<AsyncTask<CoreTask<Vec<u8>, Buffer>>> {
    let profile = pkcs12_profile(options.profile)?;
    let key = bytes(&key);
    let chain = bytes(&chain);
    let name = options
        .friendly_name
        .unwrap_or_else(|| "meshtls".to_owned());
    Ok(CoreTask::new(
        move || {
            let key = core_enc::parse_private_key(&key)?;
            let chain = core_enc::parse_certificates(&chain)?;
            core_enc::to_pkcs12(&key, &chain, &name, &options.password, profile)
        },
        Buffer::from,
    ))
}

/// Reading a PFX off the event loop: the key and the chain.
pub type Pkcs12Task = CoreTask<(Vec<u8>, Vec<Vec<u8>>), Pkcs12Contents>;

/// Reads a PKCS#12 (PFX) file: the key and chain. A wrong password is `wrong_passphrase`.
#[napi(ts_return_type = "Promise<Pkcs12Contents>", catch_unwind)]
pub fn from_pkcs12(pfx: Uint8Array, password: String) -> AsyncTask<Pkcs12Task> {
    let pfx = pfx.to_vec();
    CoreTask::new(
        move || core_enc::from_pkcs12(&pfx, &password),
        |(key, chain)| Pkcs12Contents {
            key_pem: core_enc::key_pem(&key),
            chain_pem: chain.iter().map(|c| core_enc::cert_pem(c)).collect(),
            key_der: key.into(),
            chain_der: chain.into_iter().map(Buffer::from).collect(),
        },
    )
}

/// Encrypts a PKCS#8 private key (PEM or DER) with a passphrase (scrypt + AES-256-CBC).
#[napi(ts_return_type = "Promise<string>", catch_unwind)]
pub fn encrypt_private_key(key: Input, passphrase: String) -> AsyncTask<CoreTask<String, String>> {
    let key = bytes(&key);
    CoreTask::new(
        move || {
            let der = core_enc::parse_private_key(&key)?;
            Ok(core_enc::encrypt_private_key(&der, &passphrase)?.0)
        },
        |s| s,
    )
}

/// Decrypts an encrypted PKCS#8 PEM key into plain PKCS#8 PEM. A wrong passphrase is
/// `wrong_passphrase`.
#[napi(ts_return_type = "Promise<string>", catch_unwind)]
pub fn decrypt_private_key(key: Input, passphrase: String) -> AsyncTask<CoreTask<String, String>> {
    let key = bytes(&key);
    CoreTask::new(
        move || {
            let der = core_enc::decrypt_private_key(&key, &passphrase)?;
            Ok(core_enc::key_pem(&der))
        },
        |s| s,
    )
}

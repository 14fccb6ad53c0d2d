//! The TLS profile (`meshtls-net` `profile`) in the forms Node's `tls` options take.

use meshtls_net::profile::{TlsProfile as NetProfile, TlsVersion};
use napi_derive::napi;

/// The TLS profile as Node's `tls.createSecureContext` options and as data.
#[napi(object)]
pub struct TlsProfile {
    /// `minVersion`: `TLSv1.3`, or `TLSv1.2` when TLS 1.2 is allowed.
    pub min_version: String,
    /// `maxVersion`: `TLSv1.3`.
    pub max_version: String,
    /// `ciphers`: the TLS 1.3 suites, then (TLS 1.2 allowed) the ECDHE + AEAD suites, by
    /// OpenSSL name, `:`-separated (Node splits the `TLS_` names off for TLS 1.3).
    pub ciphers: String,
    /// `ecdhCurve`: the key-exchange groups OpenSSL knows (`X25519:P-256:P-384`).
    pub ecdh_curve: String,
    /// The cipher suites by IANA name, in order of preference.
    pub cipher_suites: Vec<String>,
    /// Whether TLS 1.2 is allowed.
    pub allow_tls12: bool,
}

fn version(v: TlsVersion) -> String {
    v.openssl_name().to_owned()
}

/// The meshtls TLS profile: TLS 1.3 only, or with `allowTls12` TLS 1.2 too (ECDHE + AEAD
/// suites only). `createServer`, `connect` and the option builders apply it; use it for a
/// hand-built `tls` context.
///
/// ```js
/// const { minVersion, ciphers, ecdhCurve } = tlsProfile(true)
/// ```
#[napi(catch_unwind)]
pub fn tls_profile(allow_tls12: Option<bool>) -> TlsProfile {
    let p = NetProfile::new(allow_tls12.unwrap_or(false));
    let tls13 = p.openssl_ciphersuites();
    let tls12 = p.openssl_cipher_list();
    TlsProfile {
        min_version: version(p.min_version()),
        max_version: version(p.max_version()),
        ciphers: if tls12.is_empty() {
            tls13
        } else {
            format!("{tls13}:{tls12}")
        },
        ecdh_curve: p.openssl_groups(),
        cipher_suites: p.cipher_suites().map(|s| s.iana.to_owned()).collect(),
        allow_tls12: p.allows_tls12(),
    }
}

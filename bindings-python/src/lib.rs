//! `meshtls._native`: the PyO3 extension behind the Python package `meshtls`.
//!
//! One wrapper file per core module (`authority`, `certificate`, `encoding`, `identity`,
//! `issue`, `revocation`, `rotation`, `validity`, `verify`), `net` and `trust` for
//! meshtls-net, `error` for the exception hierarchy and `runtime` for the tokio runtime the
//! binding owns. The binding translates types and errors; every certificate rule is the
//! core's. The GIL is released around every crypto operation (`Python::detach`).
// `unsafe` only in `stdlib` (OpenSSL calls for Python's `ssl`), where it is allowed explicitly.
#![deny(unsafe_code)]

use pyo3::prelude::*;

mod authority;
mod bridge;
mod certificate;
mod encoding;
mod enroll;
mod error;
mod grant;
mod identity;
mod issue;
mod jwt;
mod net;
mod revocation;
mod rotation;
mod runtime;
mod stdlib;
mod trust;
mod validity;
mod verify;

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(m)?;
    bridge::register(m)?;
    m.add_class::<identity::SpiffeId>()?;
    m.add_class::<certificate::Certificate>()?;
    m.add_class::<authority::Authority>()?;
    m.add_class::<issue::Issued>()?;
    m.add_class::<issue::GeneratedCsr>()?;
    m.add_class::<grant::Grant>()?;
    m.add_function(wrap_pyfunction!(issue::create_csr, m)?)?;
    m.add_class::<verify::TrustBundle>()?;
    m.add_class::<verify::Policy>()?;
    m.add_class::<verify::Verifier>()?;
    m.add_class::<verify::PeerIdentity>()?;
    m.add_class::<trust::Trust>()?;
    m.add_class::<revocation::RevocationList>()?;
    m.add_class::<revocation::Revoked>()?;
    m.add_class::<revocation::Crl>()?;
    m.add_class::<rotation::RotationPolicy>()?;
    m.add_class::<rotation::RotationStatus>()?;
    m.add_class::<rotation::RotationEvent>()?;
    m.add_function(wrap_pyfunction!(encoding::read_pkcs12, m)?)?;
    m.add_function(wrap_pyfunction!(encoding::parse_certificates, m)?)?;
    m.add_function(wrap_pyfunction!(encoding::load_private_key, m)?)?;
    m.add_class::<net::Identity>()?;
    m.add_class::<net::WsConnection>()?;
    m.add_class::<net::WsServer>()?;
    m.add_class::<net::TlsStream>()?;
    m.add_class::<net::TlsServer>()?;
    m.add_function(wrap_pyfunction!(net::connect_ws, m)?)?;
    m.add_function(wrap_pyfunction!(net::bind_ws, m)?)?;
    m.add_function(wrap_pyfunction!(net::connect_tls, m)?)?;
    m.add_function(wrap_pyfunction!(net::bind_tls, m)?)?;
    m.add_class::<stdlib::SslHook>()?;
    m.add_function(wrap_pyfunction!(stdlib::tls_profile, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib::_ssl_native_available, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib::_ssl_install, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib::_ssl_load_identity, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib::_ssl_verdict, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib::_ssl_alert_for, m)?)?;
    m.add_class::<enroll::EnrolledIdentity>()?;
    m.add_function(wrap_pyfunction!(enroll::enroll, m)?)?;
    m.add_function(wrap_pyfunction!(enroll::resume, m)?)?;
    m.add_class::<jwt::SpiffeBundle>()?;
    m.add_class::<jwt::JwtSigningKey>()?;
    m.add_class::<jwt::JwtValidator>()?;
    m.add_class::<jwt::TokenClaims>()?;
    m.add_class::<jwt::JwtSource>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

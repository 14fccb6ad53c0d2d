//! Bytes in and out: `str` (PEM) or `bytes` (DER, or PEM as bytes) become the byte strings the
//! core parses; the core decides what they hold. PKCS#12 reading lives here too.

use meshtls_core::encoding as core_encoding;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString, PyTuple};

use crate::error::to_py;

/// The bytes of a `str`, `bytes`, `bytearray` or `memoryview` argument, or of the file an
/// `os.PathLike` names. A `str` or `bytes` that looks like a path (the core's
/// `encoding::looks_like_path`: one short printable line, neither PEM nor DER) and names an
/// existing file is read too; otherwise it is passed on as contents (and the core says what
/// is wrong with it).
pub fn input_bytes(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(s) = value.cast::<PyString>() {
        return path_or_contents(value.py(), s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return path_or_contents(value.py(), b.as_bytes().to_vec());
    }
    if value.hasattr("__fspath__")? {
        let path: std::path::PathBuf = value
            .py()
            .import("os")?
            .call_method1("fspath", (value,))?
            .extract()?;
        return read_file(value.py(), &path);
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if value.get_type().name()? == "memoryview" {
        let b = value.call_method0("tobytes")?;
        return Ok(b.cast::<PyBytes>()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "{what}: expected str (PEM), bytes (DER or PEM) or a path, got {}",
        value.get_type().name()?
    )))
}

fn path_or_contents(py: Python<'_>, input: Vec<u8>) -> PyResult<Vec<u8>> {
    if core_encoding::looks_like_path(&input) {
        if let Ok(text) = std::str::from_utf8(&input) {
            let path = std::path::Path::new(text.trim());
            if path.is_file() {
                return read_file(py, path);
            }
        }
    }
    Ok(input)
}

fn read_file(py: Python<'_>, path: &std::path::Path) -> PyResult<Vec<u8>> {
    py.detach(|| std::fs::read(path)).map_err(|e| {
        to_py(meshtls_core::Error::new(
            meshtls_core::ErrorCode::Io,
            format!("{}: {e}", path.display()),
        ))
    })
}

/// A certificate chain: one PEM string/bytes holding any number of certificates, one DER
/// certificate, or a list/tuple of those, leaf first. Returns DER certificates.
pub fn chain(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Vec<u8>>> {
    let parts: Vec<Bound<'_, PyAny>> =
        if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
            value.try_iter()?.collect::<PyResult<_>>()?
        } else {
            vec![value.clone()]
        };
    let inputs = parts
        .iter()
        .map(|p| input_bytes(p, what))
        .collect::<PyResult<Vec<_>>>()?;
    let py = value.py();
    py.detach(|| {
        let mut out = Vec::new();
        for input in &inputs {
            out.extend(core_encoding::parse_certificates(input)?);
        }
        Ok(out)
    })
    .map_err(to_py)
}

/// Every certificate of `data` (PEM with any number of certificates, one DER certificate, or
/// a list of those) as DER, in order.
#[pyfunction]
pub fn parse_certificates<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    Ok(chain(data, "certificates")?
        .iter()
        .map(|c| to_bytes(py, c))
        .collect())
}

/// `bytes` for Python.
pub fn to_bytes<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, data)
}

/// Reads a PKCS#12 (PFX) file: returns `(key_pkcs8_der, [cert_der, ...])`, leaf first.
#[pyfunction]
pub fn read_pkcs12<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    password: &str,
) -> PyResult<(Bound<'py, PyBytes>, Vec<Bound<'py, PyBytes>>)> {
    let data = input_bytes(data, "pkcs12")?;
    let password = password.to_owned();
    let (key, chain) = py
        .detach(move || core_encoding::from_pkcs12(&data, &password))
        .map_err(to_py)?;
    Ok((
        to_bytes(py, &key),
        chain.iter().map(|c| to_bytes(py, c)).collect(),
    ))
}

/// Parses a PEM or DER private key (plaintext, or encrypted with `passphrase`) and returns it as
/// PKCS#8 DER.
#[pyfunction]
#[pyo3(signature = (data, passphrase=None))]
pub fn load_private_key<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    passphrase: Option<&str>,
) -> PyResult<Bound<'py, PyBytes>> {
    let key = private_key(data, passphrase)?;
    Ok(to_bytes(py, &key))
}

/// A private key argument as PKCS#8 DER.
pub fn private_key(data: &Bound<'_, PyAny>, passphrase: Option<&str>) -> PyResult<Vec<u8>> {
    let input = input_bytes(data, "private key")?;
    let passphrase = passphrase.map(str::to_owned);
    data.py()
        .detach(move || match passphrase {
            Some(p) => core_encoding::decrypt_private_key(&input, &p),
            None => core_encoding::parse_private_key(&input),
        })
        .map_err(to_py)
}

/// The PEM form of a PKCS#8 DER key.
pub fn key_pem(der: &[u8]) -> String {
    core_encoding::key_pem(der)
}

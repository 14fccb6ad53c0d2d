//! The one place core errors become Python exceptions.
//!
//! Every exception is an instance of `meshtls.Error` carrying the core's stable `.code`
//! (`"expired"`, `"unknown_issuer"`...), its `.family` and the human `.message`; the class is
//! chosen by the core's [`ErrorFamily`], so `except meshtls.VerificationError` catches every
//! rejected peer whatever the reason. Nothing here decides a verdict: the code comes from core.

use meshtls_core::{Error as CoreError, ErrorCode, ErrorFamily};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

create_exception!(
    meshtls,
    Error,
    PyException,
    "Base class of every meshtls error. `.code` is the core's stable snake_case code."
);
create_exception!(
    meshtls,
    MalformedInput,
    Error,
    "The input does not parse or uses something unsupported (codes malformed, unsupported)."
);
create_exception!(
    meshtls,
    InvalidRequest,
    Error,
    "The request breaks a rule (code invalid_request)."
);
create_exception!(
    meshtls,
    VerificationError,
    Error,
    "The peer or chain was rejected (expired, unknown_issuer, revoked, identity_not_allowed...)."
);
create_exception!(
    meshtls,
    WrongPassphrase,
    Error,
    "The passphrase or password is wrong (code wrong_passphrase)."
);
create_exception!(
    meshtls,
    IoError,
    Error,
    "A socket or file operation failed (code io)."
);
create_exception!(
    meshtls,
    ConnectionClosed,
    IoError,
    "The connection was closed (code io)."
);
create_exception!(
    meshtls,
    InternalError,
    Error,
    "A bug in meshtls (code internal): please report it."
);

/// The exception class of a core error family.
fn class_of<'py>(py: Python<'py>, family: ErrorFamily) -> Bound<'py, PyType> {
    match family {
        ErrorFamily::Input => py.get_type::<MalformedInput>(),
        ErrorFamily::Request => py.get_type::<InvalidRequest>(),
        ErrorFamily::Verification => py.get_type::<VerificationError>(),
        ErrorFamily::Passphrase => py.get_type::<WrongPassphrase>(),
        ErrorFamily::Io => py.get_type::<IoError>(),
        ErrorFamily::Internal => py.get_type::<InternalError>(),
        // A family added to the core later still reaches Python as a meshtls.Error.
        _ => py.get_type::<Error>(),
    }
}

fn build(py: Python<'_>, class: Bound<'_, PyType>, err: &CoreError) -> PyErr {
    let pyerr = PyErr::from_type(class, err.to_string());
    let value = pyerr.value(py);
    // Setting attributes on a fresh exception instance cannot fail short of memory errors;
    // the exception is raised either way.
    let _ = value.setattr("code", err.code().as_str());
    let _ = value.setattr("family", err.code().family().as_str());
    let _ = value.setattr("message", err.message());
    pyerr
}

/// The Python exception for a core error.
pub fn to_py(err: CoreError) -> PyErr {
    Python::attach(|py| build(py, class_of(py, err.code().family()), &err))
}

/// The core error for a transport error: the core code when the core rejected the peer
/// (found through rustls/tokio/tungstenite wrappers), `io` otherwise.
pub fn io_to_core(err: std::io::Error) -> CoreError {
    let code = meshtls_net::error_code(&err).unwrap_or(ErrorCode::Io);
    let message = match err.get_ref() {
        Some(inner) => inner.to_string(),
        None => err.to_string(),
    };
    CoreError::new(code, message)
}

/// The Python exception for an enrollment client error. `.code` is the stable code the Rust
/// client reports (`EnrollError::code()`: the service's, the core's, or `transport`); the
/// class is the core family when the code is a core code, `IoError` for `transport`,
/// `unavailable` and `timeout` (the service could not be reached or answer), and
/// `InvalidRequest` for every other service refusal (`token_used`, `identity_mismatch`...).
/// A service error also carries `.status` (HTTP).
pub fn enroll_to_py(err: meshtls_net::enroll::EnrollError) -> PyErr {
    use meshtls_net::enroll::EnrollError;
    if let EnrollError::Core(e) = err {
        return to_py(e);
    }
    let code = err.code().to_owned();
    let status = match &err {
        EnrollError::Service { status, .. } => Some(*status),
        _ => None,
    };
    let message = match &err {
        EnrollError::Service { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let family = err.family();
    Python::attach(|py| {
        let pyerr = PyErr::from_type(class_of(py, family), format!("{code}: {message}"));
        let value = pyerr.value(py);
        let _ = value.setattr("code", code.as_str());
        let _ = value.setattr("family", family.as_str());
        let _ = value.setattr("message", message.as_str());
        let _ = value.setattr("status", status);
        pyerr
    })
}

/// `InternalError` (code `internal`) with `message`.
pub fn internal(message: &str) -> PyErr {
    to_py(CoreError::new(ErrorCode::Internal, message))
}

/// `ConnectionClosed` (code `io`).
pub fn closed(message: &str) -> PyErr {
    Python::attach(|py| {
        build(
            py,
            py.get_type::<ConnectionClosed>(),
            &CoreError::new(ErrorCode::Io, message),
        )
    })
}

/// The core's rule for a message that shows Rust syntax (a `Debug` dump) instead of words;
/// the test suite checks every exception message against it.
#[pyfunction]
fn _looks_like_debug_output(message: &str) -> bool {
    meshtls_core::error::looks_like_debug_output(message)
}

/// Registers the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("MalformedInput", py.get_type::<MalformedInput>())?;
    m.add("InvalidRequest", py.get_type::<InvalidRequest>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("WrongPassphrase", py.get_type::<WrongPassphrase>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    m.add("ConnectionClosed", py.get_type::<ConnectionClosed>())?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    m.add("ERROR_CODES", codes)?;
    m.add_function(wrap_pyfunction!(_looks_like_debug_output, m)?)?;
    Ok(())
}

//! Core errors as JavaScript `Error`s whose `code` is the core's stable code string.
//!
//! napi 3 turns an `Error<S>` into `new Error(reason)` with `err.code = S.as_ref()`, so the status
//! type here *is* the code: a caller tells `expired` from `unknown_issuer` by `err.code`, never by
//! parsing the message. The family (`input`, `request`, `verification`...) comes from the core
//! too ([`error_family`]).

use meshtls_core::ErrorCode;
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The `code` of a JavaScript error thrown by meshtls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub ErrorCode);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

/// A napi error carrying a core code.
pub type JsResult<T> = std::result::Result<T, napi::Error<Code>>;

/// Converts a core error.
pub fn to_js(e: meshtls_core::Error) -> napi::Error<Code> {
    napi::Error::new(Code(e.code()), e.message())
}

/// An error of this code raised at the binding edge (an argument that is not of the form the
/// core takes, e.g. a Date that is not a date).
pub fn edge(code: ErrorCode, message: impl Into<String>) -> napi::Error<Code> {
    napi::Error::new(Code(code), message.into())
}

/// Extension: `?` on core results inside binding functions.
pub trait IntoJs<T> {
    /// Maps the core error.
    fn js(self) -> JsResult<T>;
}

impl<T> IntoJs<T> for meshtls_core::error::Result<T> {
    fn js(self) -> JsResult<T> {
        self.map_err(to_js)
    }
}

/// For an async task: a core failure becomes a rejected promise whose error has the core code.
/// `Task::compute` can only fail with `Error<Status>`, so tasks compute a core `Result` and
/// reject here, on the JS thread, with an error object built with the right `code`.
pub fn reject<T>(env: &Env, e: meshtls_core::Error) -> Result<T> {
    let js = JsError::from(to_js(e)).into_unknown(*env);
    Err(napi::Error::from(js))
}

/// The family of a core code: `input`, `request`, `verification`, `passphrase`, `io` or
/// `internal`; `undefined` for a string that is no meshtls code.
#[napi(catch_unwind)]
pub fn error_family(code: String) -> Option<&'static str> {
    ErrorCode::from_name(&code).map(|c| c.family().as_str())
}

/// Every error code meshtls raises, in the core's stable order.
#[napi(catch_unwind)]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_js_code_and_family_are_the_cores() {
        assert_eq!(Code(ErrorCode::NoCertificate).as_ref(), "no_certificate");
        assert_eq!(error_family("revoked".into()), Some("verification"));
        assert_eq!(error_family("nope".into()), None);
        assert_eq!(error_codes().len(), ErrorCode::ALL.len());
    }
}

//! Core errors as JavaScript `Error`s carrying the core's stable `code` and its `family`.
//!
//! Every meshtls error is `new Error(message)` with `err.code` (the core's code: a caller tells
//! `expired` from `unknown_issuer` by it, never by parsing the message) and `err.family`
//! (`input`, `request`, `verification`, `passphrase`, `io`, `internal`), as Python's exceptions
//! carry `.code` and `.family`; enrollment errors add `status` (`enroll.rs`). napi 3 gives an
//! `Error<S>` only a `code`, so the error object is built here, with the env of the module on
//! this thread, and handed to napi as the value to throw.

use std::cell::Cell;

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

/// A napi error carrying a JavaScript error object with the core's code and family.
pub type JsResult<T> = napi::Result<T>;

thread_local! {
    /// The env of this module on this thread (each Node thread loads its own instance).
    static ENV: Cell<Option<napi::sys::napi_env>> = const { Cell::new(None) };
}

/// Records the module's env for this thread: errors built later on it become JS objects.
#[napi(module_exports)]
pub fn init(_exports: Object, env: Env) -> Result<()> {
    ENV.with(|e| e.set(Some(env.raw())));
    Ok(())
}

/// A JavaScript `Error` with `code` and `family`.
pub fn error_object<'e>(
    env: &'e Env,
    code: &str,
    family: Option<&str>,
    message: &str,
) -> Unknown<'e> {
    let err = napi::Error::new(Code(ErrorCode::Internal), message.to_owned());
    let js = JsError::from(err).into_unknown(*env);
    if let Ok(mut obj) = js.coerce_to_object() {
        let _ = obj.set_named_property("code", code);
        if let Some(f) = family {
            let _ = obj.set_named_property("family", f);
        }
    }
    js
}

/// An `Error` with `code` and `family` as a value napi throws (or rejects with) as is.
pub fn js_error(env: &Env, code: &str, family: Option<&str>, message: &str) -> napi::Error {
    napi::Error::from(error_object(env, code, family, message))
}

fn build(code: ErrorCode, message: &str) -> napi::Error {
    match ENV.with(|e| e.get()) {
        Some(raw) => js_error(
            &Env::from_raw(raw),
            code.as_str(),
            Some(code.family().as_str()),
            message,
        ),
        // Off the JS thread (never the case today): the code still travels in the message.
        None => napi::Error::new(
            Status::GenericFailure,
            format!("{}: {message}", code.as_str()),
        ),
    }
}

/// Converts a core error.
pub fn to_js(e: meshtls_core::Error) -> napi::Error {
    build(e.code(), e.message())
}

/// An error of this code raised at the binding edge (an argument that is not of the form the
/// core takes, e.g. a Date that is not a date).
pub fn edge(code: ErrorCode, message: impl Into<String>) -> napi::Error {
    build(code, &message.into())
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

/// For an async task: a core failure becomes a rejected promise whose error has the core's
/// code and family, built on the JS thread.
pub fn reject<T>(env: &Env, e: meshtls_core::Error) -> Result<T> {
    Err(js_error(
        env,
        e.code().as_str(),
        Some(e.code().family().as_str()),
        e.message(),
    ))
}

/// The family of a core code: `input`, `request`, `verification`, `passphrase`, `io` or
/// `internal`; `undefined` for a string that is no meshtls code.
#[napi(catch_unwind)]
pub fn error_family(code: String) -> Option<&'static str> {
    ErrorCode::from_name(&code).map(|c| c.family().as_str())
}

/// Whether a message shows Rust syntax (a `Debug` dump) instead of words: the core's rule, which
/// the test suites of every language check meshtls's messages against.
#[napi(catch_unwind)]
pub fn looks_like_debug_output(message: String) -> bool {
    meshtls_core::error::looks_like_debug_output(&message)
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

//! The one place core errors become JavaScript errors.
//!
//! Every failure reaches JS as a thrown `Error` whose `name` is `MeshTlsError`, whose `code`
//! is the core's stable code string (`expired`, `unknown_issuer`...) and whose `family` is the
//! core's family (`input`, `request`, `verification`, `passphrase`, `io`, `internal`). The
//! message is for people; callers branch on `code`.

use js_sys::Reflect;
use meshtls_core::ErrorCode;
use wasm_bindgen::prelude::*;

/// A core error on its way to JS (`?` converts core errors; wasm-bindgen throws it).
#[derive(Debug)]
pub struct MeshError(meshtls_core::Error);

/// The result type of every export.
pub type Result<T> = std::result::Result<T, MeshError>;

impl MeshError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MeshError(meshtls_core::Error::new(code, message))
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        MeshError::new(ErrorCode::Malformed, message)
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        MeshError::new(ErrorCode::InvalidRequest, message)
    }
}

impl From<meshtls_core::Error> for MeshError {
    fn from(e: meshtls_core::Error) -> Self {
        MeshError(e)
    }
}

impl From<MeshError> for JsValue {
    fn from(e: MeshError) -> JsValue {
        let code = e.0.code();
        let err = js_sys::Error::new(e.0.message());
        err.set_name("MeshTlsError");
        // Setting a property on a fresh Error object cannot fail; if it ever did, the error
        // would still be thrown, only without the property.
        let _ = Reflect::set(&err, &"code".into(), &code.as_str().into());
        let _ = Reflect::set(&err, &"family".into(), &code.family().as_str().into());
        err.into()
    }
}

/// Every error code meshtls can throw, in the order of their stable numbers.
///
/// ```js
/// import { errorCodes } from "meshtls-wasm";
/// errorCodes().includes("unknown_issuer"); // true
/// ```
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

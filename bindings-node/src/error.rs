//! Core errors as JavaScript `Error`s whose `code` is the core's stable code string.
//!
//! napi 3 turns an `Error<S>` into `new Error(reason)` with `err.code = S.as_ref()`, so the status
//! type here *is* the code: a caller tells `expired` from `unknown_issuer` by `err.code`, never by
//! parsing the message. The family (`input`, `request`, `verification`...) comes from the core
//! too ([`error_family`]).

use meshtls_core::{ErrorCode, ErrorFamily};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// The `code` of a JavaScript error thrown by meshtls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code(pub ErrorCode);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        code_str(self.0)
    }
}

/// Every core code onto the string JavaScript sees, written out so that this file is the one
/// place a reader finds the whole JavaScript contract. `ErrorCode` is `#[non_exhaustive]`: a code
/// the core adds later passes through under the core's own name (a test checks that every code
/// the core has today is listed, and that each spelling is the core's).
fn code_str(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Malformed => "malformed",
        ErrorCode::Unsupported => "unsupported",
        ErrorCode::InvalidRequest => "invalid_request",
        ErrorCode::Expired => "expired",
        ErrorCode::NotYetValid => "not_yet_valid",
        ErrorCode::UnknownIssuer => "unknown_issuer",
        ErrorCode::BadSignature => "bad_signature",
        ErrorCode::Revoked => "revoked",
        ErrorCode::WrongUsage => "wrong_usage",
        ErrorCode::IdentityNotAllowed => "identity_not_allowed",
        ErrorCode::NotPinned => "not_pinned",
        ErrorCode::NameConstraintViolation => "name_constraint_violation",
        ErrorCode::WrongPassphrase => "wrong_passphrase",
        ErrorCode::RevocationUnknown => "revocation_unknown",
        ErrorCode::CrlExpired => "crl_expired",
        ErrorCode::ChainTooLong => "chain_too_long",
        ErrorCode::InvalidSvid => "invalid_svid",
        ErrorCode::Io => "io",
        ErrorCode::Internal => "internal",
        other => other.as_str(),
    }
}

fn family_str(family: ErrorFamily) -> &'static str {
    match family {
        ErrorFamily::Input => "input",
        ErrorFamily::Request => "request",
        ErrorFamily::Verification => "verification",
        ErrorFamily::Passphrase => "passphrase",
        ErrorFamily::Io => "io",
        ErrorFamily::Internal => "internal",
        other => other.as_str(),
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
#[napi]
pub fn error_family(code: String) -> Option<&'static str> {
    ErrorCode::from_name(&code).map(|c| family_str(c.family()))
}

/// Every error code meshtls raises, in the core's stable order.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    ErrorCode::ALL.iter().map(|c| code_str(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_and_family_is_spelled_as_the_core_spells_it() {
        for code in ErrorCode::ALL {
            assert_eq!(code_str(*code), code.as_str());
            assert_eq!(family_str(code.family()), code.family().as_str());
        }
    }
}

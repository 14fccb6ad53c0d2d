//! The one error type of meshtls, with a stable code for every failure.
//!
//! Every binding exposes the same codes: a caller tells `expired` from `unknown_issuer` by the
//! code, never by parsing the message.

use std::fmt;

/// Why an operation failed. The string form ([`ErrorCode::as_str`]) and the number
/// ([`ErrorCode::number`]) are stable: codes are added, never renumbered or reused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Input could not be parsed (bad PEM/DER, truncated, empty, garbage).
    Malformed,
    /// Well-formed input using something meshtls does not support.
    Unsupported,
    /// A request that breaks a rule (wrong trust domain, lifetime, outside name constraints...).
    InvalidRequest,
    /// A certificate in the chain has expired at the verification time.
    Expired,
    /// A certificate in the chain is not valid yet at the verification time.
    NotYetValid,
    /// No path from the presented chain to a trusted CA.
    UnknownIssuer,
    /// A signature does not verify (tampered certificate, CSR or CRL).
    BadSignature,
    /// A certificate in the chain is revoked.
    Revoked,
    /// The certificate is not allowed for the requested usage (EKU/KU, CA used as a leaf).
    WrongUsage,
    /// The peer's identity is not allowed by the policy.
    IdentityNotAllowed,
    /// The policy pins certificates and the peer matches none of the pins.
    NotPinned,
    /// A name is outside the name constraints of a CA in the path.
    NameConstraintViolation,
    /// The passphrase does not decrypt the key.
    WrongPassphrase,
    /// CRLs are configured but none covers a certificate in the path.
    RevocationUnknown,
    /// The CRL that covers a certificate is past its nextUpdate.
    CrlExpired,
    /// The path is longer than the configured maximum depth.
    ChainTooLong,
    /// The leaf breaks the X509-SVID rules (several URI SANs, an invalid SPIFFE ID...).
    InvalidSvid,
    /// A file or socket operation failed (used by the edges: CLI, bindings, transport).
    Io,
    /// A bug in meshtls: please report it.
    Internal,
    /// The peer presented no certificate where one is required.
    NoCertificate,
    /// A key is weaker than meshtls accepts (RSA below 2048 bits or with a modulus not a multiple of 8, P-192, DSA).
    WeakKey,
    /// A signature uses a hash meshtls refuses (SHA-1, MD5), in a CSR or anywhere in a path.
    WeakSignature,
    /// The grant (a join token, an administrator) does not allow this request: an ID, name, usage or lifetime outside it, or a reserved identity.
    NotAuthorized,
    /// A certificate in the path breaks the certificate profile (RFC 5280 rules meshtls enforces: critical basicConstraints, key identifiers, serial number, SAN syntax...).
    InvalidCertificate,
    /// A certificate in the path carries a critical extension meshtls does not process.
    UnknownCriticalExtension,
    /// Checking the path's name constraints needs more comparisons than the verifier allows.
    NameConstraintsTooComplex,
    /// A CRL older than the one held for its issuer (lower CRLNumber), or the same number with different content: refused, the held CRL kept.
    StaleCrl,
    /// A CRL that decodes but breaks the profile (no or critical CRLNumber, an issuer without cRLSign).
    InvalidCrl,
    /// A token (JWT-SVID) that does not parse: not three base64url parts, a header or claims
    /// that are not JSON objects, a required claim missing or of the wrong type.
    TokenMalformed,
    /// A token's signature does not verify with the key its `kid` names.
    TokenSignature,
    /// A token signed with an algorithm meshtls refuses: `none`, any HMAC, one outside the
    /// validator's allow-list, or one that does not fit the key its `kid` names (key confusion).
    TokenAlgorithm,
    /// A token's `kid` is missing or names no JWT key of the bundle (for its trust domain).
    TokenUnknownKey,
    /// A token is past its `exp`, or its `iat`/`nbf` is in the future, beyond the policy's leeway.
    TokenExpired,
    /// A token's `aud` names none of the audiences the validator accepts.
    TokenAudience,
    /// A token bound to a certificate (`cnf` with `x5t#S256`) presented on a connection whose
    /// peer certificate does not have that thumbprint (or has none), or an unbound token where
    /// binding is required.
    TokenBinding,
}

impl ErrorCode {
    /// Every code, in number order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::Malformed,
        ErrorCode::Unsupported,
        ErrorCode::InvalidRequest,
        ErrorCode::Expired,
        ErrorCode::NotYetValid,
        ErrorCode::UnknownIssuer,
        ErrorCode::BadSignature,
        ErrorCode::Revoked,
        ErrorCode::WrongUsage,
        ErrorCode::IdentityNotAllowed,
        ErrorCode::NotPinned,
        ErrorCode::NameConstraintViolation,
        ErrorCode::WrongPassphrase,
        ErrorCode::RevocationUnknown,
        ErrorCode::CrlExpired,
        ErrorCode::ChainTooLong,
        ErrorCode::InvalidSvid,
        ErrorCode::Io,
        ErrorCode::Internal,
        ErrorCode::NoCertificate,
        ErrorCode::WeakKey,
        ErrorCode::WeakSignature,
        ErrorCode::NotAuthorized,
        ErrorCode::InvalidCertificate,
        ErrorCode::UnknownCriticalExtension,
        ErrorCode::NameConstraintsTooComplex,
        ErrorCode::StaleCrl,
        ErrorCode::InvalidCrl,
        ErrorCode::TokenMalformed,
        ErrorCode::TokenSignature,
        ErrorCode::TokenAlgorithm,
        ErrorCode::TokenUnknownKey,
        ErrorCode::TokenExpired,
        ErrorCode::TokenAudience,
        ErrorCode::TokenBinding,
    ];

    /// The stable snake_case name of the code, the same in every language.
    pub const fn as_str(self) -> &'static str {
        match self {
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
            ErrorCode::NoCertificate => "no_certificate",
            ErrorCode::WeakKey => "weak_key",
            ErrorCode::WeakSignature => "weak_signature",
            ErrorCode::NotAuthorized => "not_authorized",
            ErrorCode::InvalidCertificate => "invalid_certificate",
            ErrorCode::UnknownCriticalExtension => "unknown_critical_extension",
            ErrorCode::NameConstraintsTooComplex => "name_constraints_too_complex",
            ErrorCode::StaleCrl => "stale_crl",
            ErrorCode::InvalidCrl => "invalid_crl",
            ErrorCode::TokenMalformed => "token_malformed",
            ErrorCode::TokenSignature => "token_signature",
            ErrorCode::TokenAlgorithm => "token_algorithm",
            ErrorCode::TokenUnknownKey => "token_unknown_key",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenAudience => "token_audience",
            ErrorCode::TokenBinding => "token_binding",
        }
    }

    /// The stable number of the code (the C ABI's result code); 0 is reserved for success.
    pub const fn number(self) -> u32 {
        match self {
            ErrorCode::Malformed => 1,
            ErrorCode::Unsupported => 2,
            ErrorCode::InvalidRequest => 3,
            ErrorCode::Expired => 4,
            ErrorCode::NotYetValid => 5,
            ErrorCode::UnknownIssuer => 6,
            ErrorCode::BadSignature => 7,
            ErrorCode::Revoked => 8,
            ErrorCode::WrongUsage => 9,
            ErrorCode::IdentityNotAllowed => 10,
            ErrorCode::NotPinned => 11,
            ErrorCode::NameConstraintViolation => 12,
            ErrorCode::WrongPassphrase => 13,
            ErrorCode::RevocationUnknown => 14,
            ErrorCode::CrlExpired => 15,
            ErrorCode::ChainTooLong => 16,
            ErrorCode::InvalidSvid => 17,
            ErrorCode::Io => 18,
            ErrorCode::Internal => 19,
            ErrorCode::NoCertificate => 20,
            ErrorCode::WeakKey => 21,
            ErrorCode::WeakSignature => 22,
            ErrorCode::NotAuthorized => 23,
            ErrorCode::InvalidCertificate => 24,
            ErrorCode::UnknownCriticalExtension => 25,
            ErrorCode::NameConstraintsTooComplex => 26,
            ErrorCode::StaleCrl => 27,
            ErrorCode::InvalidCrl => 28,
            ErrorCode::TokenMalformed => 29,
            ErrorCode::TokenSignature => 30,
            ErrorCode::TokenAlgorithm => 31,
            ErrorCode::TokenUnknownKey => 32,
            ErrorCode::TokenExpired => 33,
            ErrorCode::TokenAudience => 34,
            ErrorCode::TokenBinding => 35,
        }
    }

    /// The code with this number, if any.
    pub fn from_number(n: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.number() == n)
    }

    /// The code with this name, if any.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// Whether the code is a verification verdict (the peer was rejected) rather than bad input.
    pub const fn is_verification(self) -> bool {
        matches!(
            self,
            ErrorCode::Expired
                | ErrorCode::NotYetValid
                | ErrorCode::UnknownIssuer
                | ErrorCode::BadSignature
                | ErrorCode::Revoked
                | ErrorCode::WrongUsage
                | ErrorCode::IdentityNotAllowed
                | ErrorCode::NotPinned
                | ErrorCode::NameConstraintViolation
                | ErrorCode::RevocationUnknown
                | ErrorCode::CrlExpired
                | ErrorCode::ChainTooLong
                | ErrorCode::InvalidSvid
                | ErrorCode::NoCertificate
                | ErrorCode::InvalidCertificate
                | ErrorCode::UnknownCriticalExtension
                | ErrorCode::NameConstraintsTooComplex
                | ErrorCode::TokenSignature
                | ErrorCode::TokenAlgorithm
                | ErrorCode::TokenUnknownKey
                | ErrorCode::TokenExpired
                | ErrorCode::TokenAudience
                | ErrorCode::TokenBinding
        )
    }
}

/// The families bindings map codes onto (Python exception classes, C# exception kinds...), so
/// that every language groups the codes the same way.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorFamily {
    /// The input does not parse, uses something unsupported or something too weak
    /// (`malformed`, `unsupported`, `weak_key`, `weak_signature`, `stale_crl`, `invalid_crl`,
    /// `token_malformed`).
    Input,
    /// The request breaks a rule or is outside its grant (`invalid_request`, `not_authorized`).
    Request,
    /// The peer or chain was rejected (every code of [`ErrorCode::is_verification`]).
    Verification,
    /// The passphrase or password is wrong (`wrong_passphrase`).
    Passphrase,
    /// A file or socket failed (`io`).
    Io,
    /// A bug (`internal`).
    Internal,
}

impl ErrorFamily {
    /// The stable name: `input`, `request`, `verification`, `passphrase`, `io`, `internal`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorFamily::Input => "input",
            ErrorFamily::Request => "request",
            ErrorFamily::Verification => "verification",
            ErrorFamily::Passphrase => "passphrase",
            ErrorFamily::Io => "io",
            ErrorFamily::Internal => "internal",
        }
    }
}

impl ErrorCode {
    /// The family of the code.
    pub const fn family(self) -> ErrorFamily {
        match self {
            ErrorCode::Malformed
            | ErrorCode::Unsupported
            | ErrorCode::WeakKey
            | ErrorCode::WeakSignature
            | ErrorCode::StaleCrl
            | ErrorCode::InvalidCrl
            | ErrorCode::TokenMalformed => ErrorFamily::Input,
            ErrorCode::InvalidRequest | ErrorCode::NotAuthorized => ErrorFamily::Request,
            ErrorCode::WrongPassphrase => ErrorFamily::Passphrase,
            ErrorCode::Io => ErrorFamily::Io,
            ErrorCode::Internal => ErrorFamily::Internal,
            _ => ErrorFamily::Verification,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A meshtls error: a stable [`ErrorCode`] and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

impl Error {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human message (not stable: do not parse it).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Malformed, message)
    }

    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidRequest, message)
    }

    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Unsupported, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// The words of an error from a library whose `Display` is its `Debug` form (rustls-webpki,
/// nom): the variant's name, split into lowercase words, without fields or nested values —
/// `CertExpired { time: .. }` becomes `cert expired`. No Rust syntax reaches a message.
pub fn words_of(e: &dyn fmt::Debug) -> String {
    let text = format!("{e:?}");
    let name = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    let mut out = String::with_capacity(name.len() + 8);
    for (i, ch) in name.char_indices() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(ch.to_ascii_lowercase());
    }
    if out.is_empty() {
        "unspecified".to_owned()
    } else {
        out
    }
}

/// Whether a message shows Rust syntax (a `Debug` dump) instead of words: what tests of every
/// language check messages against.
pub fn looks_like_debug_output(message: &str) -> bool {
    [
        "Error {",
        "Other(",
        "NomError",
        "Some(",
        "{ code:",
        "OtherError",
        "::",
    ]
    .iter()
    .any(|p| message.contains(p))
}

#[cfg(test)]
mod words_tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum Sample {
        CertExpired { time: u64 },
        UnknownIssuer,
        Nested(Option<u8>),
    }

    #[test]
    fn variant_names_become_words() {
        assert_eq!(words_of(&Sample::CertExpired { time: 3 }), "cert expired");
        assert_eq!(words_of(&Sample::UnknownIssuer), "unknown issuer");
        assert_eq!(words_of(&Sample::Nested(Some(1))), "nested");
        assert!(!looks_like_debug_output(&words_of(&Sample::Nested(None))));
        assert!(looks_like_debug_output(
            "Other(OtherError(Error { code: UnknownIssuer }))"
        ));
    }
}

/// The result type of meshtls.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut names = std::collections::HashSet::new();
        let mut numbers = std::collections::HashSet::new();
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert!(names.insert(code.as_str()));
            assert!(numbers.insert(code.number()));
            assert_eq!(code.number() as usize, i + 1, "numbers follow ALL order");
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(*code));
            assert_eq!(ErrorCode::from_number(code.number()), Some(*code));
        }
        assert_eq!(ErrorCode::from_name("nope"), None);
        assert_eq!(ErrorCode::from_number(0), None);
    }

    #[test]
    fn families_agree_with_is_verification() {
        for code in ErrorCode::ALL {
            assert_eq!(
                code.is_verification(),
                code.family() == ErrorFamily::Verification,
                "{code}"
            );
        }
        assert_eq!(ErrorCode::Unsupported.family(), ErrorFamily::Input);
        assert_eq!(ErrorCode::WrongPassphrase.family().as_str(), "passphrase");
    }

    #[test]
    fn display_has_code_then_message() {
        let e = Error::new(ErrorCode::Expired, "leaf expired");
        assert_eq!(e.to_string(), "expired: leaf expired");
    }
}

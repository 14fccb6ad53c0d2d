//! The one hostname rule of meshtls: what a DNS name in a certificate, a request, a join token
//! or a name constraint may look like. Issuance ([`crate::issue`]), grants and the path validator
//! ([`crate::verify`]) all call it, so a name refused in one place is refused everywhere.
//!
//! A hostname is 1 to 253 bytes of dot-separated labels; each label is 1 to 63 bytes of ASCII
//! letters, digits and hyphens, neither starting nor ending with a hyphen (RFC 1123). No empty
//! label (so no leading, trailing or doubled dot), no underscore, no whitespace or control
//! character. A wildcard is one leading `*.` label, only where the caller allows it, and never
//! directly over a top-level label (`*.com` is refused; `*.mesh.internal` is fine).
//!
//! ```
//! use meshtls_core::hostname::{self, Wildcard};
//! assert_eq!(hostname::normalize("API.Mesh.Internal", Wildcard::Refuse)?, "api.mesh.internal");
//! assert!(hostname::check("*.mesh.internal", Wildcard::Allow).is_ok());
//! assert!(hostname::check("*.mesh.internal", Wildcard::Refuse).is_err());
//! assert!(hostname::check("under_score.internal", Wildcard::Allow).is_err());
//! # Ok::<(), meshtls_core::Error>(())
//! ```

use crate::error::{Error, Result};

/// The longest hostname, in bytes (RFC 1035 presentation form without a trailing dot).
pub const MAX_LEN: usize = 253;
/// The longest label, in bytes.
pub const MAX_LABEL_LEN: usize = 63;

/// Whether a leading `*.` label is acceptable where the name is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wildcard {
    /// One leading `*.` label is allowed (over at least two labels).
    Allow,
    /// No wildcard.
    Refuse,
}

/// Checks `name` against the hostname rule (ASCII case is not significant). The error is
/// `invalid_request` and says which part of the rule the name breaks.
pub fn check(name: &str, wildcard: Wildcard) -> Result<()> {
    why_invalid(name, wildcard).map_or(Ok(()), |why| {
        Err(Error::invalid_request(format!("DNS name {name:?}: {why}")))
    })
}

/// [`check`], then the name in lowercase: the form meshtls writes into certificates.
pub fn normalize(name: &str, wildcard: Wildcard) -> Result<String> {
    check(name, wildcard)?;
    Ok(name.to_ascii_lowercase())
}

/// Why `name` breaks the rule, or `None` when it is a valid hostname.
pub fn why_invalid(name: &str, wildcard: Wildcard) -> Option<String> {
    if name.is_empty() {
        return Some("empty".into());
    }
    if name.len() > MAX_LEN {
        return Some(format!("{} bytes; at most {MAX_LEN}", name.len()));
    }
    let rest = match name.strip_prefix("*.") {
        Some(rest) if wildcard == Wildcard::Allow => {
            if !rest.contains('.') {
                return Some("a wildcard must cover at least two labels".into());
            }
            rest
        }
        Some(_) => return Some("wildcards are not allowed here".into()),
        None => name,
    };
    for label in rest.split('.') {
        if let Some(why) = why_invalid_label(label) {
            return Some(why);
        }
    }
    None
}

fn why_invalid_label(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("empty label (leading, trailing or doubled dot)".into());
    }
    if label.len() > MAX_LABEL_LEN {
        return Some(format!(
            "label of {} bytes; at most {MAX_LABEL_LEN}",
            label.len()
        ));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Some(match c {
            '*' => "a wildcard may only be the whole leftmost label".into(),
            c if c.is_whitespace() || c.is_control() => {
                format!("whitespace or control character {c:?}")
            }
            c => format!("character {c:?} (labels are letters, digits and hyphens)"),
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some(format!("label {label:?} starts or ends with a hyphen"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hostnames() {
        for name in [
            "a",
            "api.mesh.internal",
            "API.Mesh.Internal",
            "x-1.y2.z",
            "123.example",
            &format!("{}.internal", "a".repeat(63)),
        ] {
            assert_eq!(why_invalid(name, Wildcard::Refuse), None, "{name}");
        }
        assert_eq!(why_invalid("*.mesh.internal", Wildcard::Allow), None);
        assert_eq!(
            normalize("Api.MESH.internal", Wildcard::Refuse).unwrap(),
            "api.mesh.internal"
        );
    }

    #[test]
    fn refuses_what_is_not_a_hostname() {
        let long_label = format!("{}.internal", "a".repeat(64));
        let long_name = ["abcdefghi"; 26].join(".");
        assert!(long_name.len() > MAX_LEN);
        for name in [
            "",
            ".mesh.internal",
            "mesh.internal.",
            "mesh..internal",
            "under_score.internal",
            "sp ace.internal",
            "tab\t.internal",
            "nul\0.internal",
            "-lead.internal",
            "trail-.internal",
            "é.internal",
            "*.mesh.internal",
            "a.*.internal",
            "*x.mesh.internal",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(
                why_invalid(name, Wildcard::Refuse).is_some(),
                "{name:?} should be refused"
            );
            assert_eq!(
                check(name, Wildcard::Refuse).unwrap_err().code(),
                crate::ErrorCode::InvalidRequest
            );
        }
        for name in ["*.com", "*.*.mesh.internal", "*.", "*"] {
            assert!(why_invalid(name, Wildcard::Allow).is_some(), "{name:?}");
        }
    }
}

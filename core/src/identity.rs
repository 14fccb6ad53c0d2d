//! SPIFFE-like identities: trust domains, SPIFFE IDs and the patterns a policy allows.
//!
//! Parsing follows the SPIFFE ID specification strictly (as go-spiffe does): scheme `spiffe`,
//! a lowercase trust domain of `[a-z0-9._-]`, path segments of `[a-zA-Z0-9._-]`, no empty, `.`
//! or `..` segments, no trailing slash, no query, fragment, port or user info, at most 2048
//! bytes in all and 255 for the trust domain.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

const SCHEME: &str = "spiffe://";
/// The longest SPIFFE ID, in bytes (SPIFFE ID spec, section 2.3).
pub const MAX_ID_LEN: usize = 2048;
/// The longest trust domain name, in bytes.
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// A SPIFFE trust domain such as `mesh.internal`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Parses a trust domain name (without scheme).
    ///
    /// ```
    /// # use meshtls_core::TrustDomain;
    /// assert!(TrustDomain::new("mesh.internal").is_ok());
    /// assert_eq!(TrustDomain::new("Mesh.Internal").unwrap_err().code().as_str(), "malformed");
    /// ```
    pub fn new(name: &str) -> Result<Self> {
        if name.is_empty() {
            return Err(Error::malformed("trust domain is empty"));
        }
        if name.len() > MAX_TRUST_DOMAIN_LEN {
            return Err(Error::malformed(format!(
                "trust domain is longer than {MAX_TRUST_DOMAIN_LEN} bytes"
            )));
        }
        if let Some(c) = name.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        }) {
            return Err(Error::malformed(format!(
                "trust domain {name:?} has the character {c:?}: only a-z, 0-9, '.', '-' and '_' are allowed"
            )));
        }
        Ok(TrustDomain(name.to_owned()))
    }

    /// The trust domain name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SPIFFE ID of the trust domain itself (`spiffe://mesh.internal`).
    pub fn id_string(&self) -> String {
        format!("{SCHEME}{}", self.0)
    }

    /// Parses either a bare trust domain or its SPIFFE ID form `spiffe://td`.
    pub fn parse_lenient(s: &str) -> Result<Self> {
        match s.strip_prefix(SCHEME) {
            Some(rest) => TrustDomain::new(rest.trim_end_matches('/')),
            None => TrustDomain::new(s),
        }
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TrustDomain {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        TrustDomain::new(s)
    }
}

/// A workload identity: `spiffe://<trust-domain>/<path>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    trust_domain: TrustDomain,
    /// The path including its leading `/`; never empty (a bare trust domain is not a workload).
    path: String,
}

fn split_id(s: &str) -> Result<(&str, &str)> {
    if s.len() > MAX_ID_LEN {
        return Err(Error::malformed(format!(
            "SPIFFE ID is longer than {MAX_ID_LEN} bytes"
        )));
    }
    let rest = s.strip_prefix(SCHEME).ok_or_else(|| {
        Error::malformed(format!(
            "{s:?} is not a SPIFFE ID: it must start with {SCHEME}"
        ))
    })?;
    if let Some(c) = rest.chars().find(|c| matches!(c, '?' | '#')) {
        return Err(Error::malformed(format!(
            "SPIFFE ID {s:?} must not have a query or fragment ({c:?})"
        )));
    }
    let (td, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if td.contains('@') {
        return Err(Error::malformed(format!(
            "SPIFFE ID {s:?} must not have user info"
        )));
    }
    if td.contains(':') {
        return Err(Error::malformed(format!(
            "SPIFFE ID {s:?} must not have a port"
        )));
    }
    Ok((td, path))
}

fn check_segment(seg: &str, whole: &str) -> Result<()> {
    if seg.is_empty() {
        return Err(Error::malformed(format!(
            "SPIFFE ID {whole:?} has an empty path segment (double or trailing slash)"
        )));
    }
    if seg == "." || seg == ".." {
        return Err(Error::malformed(format!(
            "SPIFFE ID {whole:?} has a {seg:?} path segment"
        )));
    }
    if let Some(c) = seg
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(Error::malformed(format!(
            "SPIFFE ID {whole:?} has the character {c:?} in its path: only a-z, A-Z, 0-9, '.', '-' and '_' are allowed"
        )));
    }
    Ok(())
}

impl SpiffeId {
    /// Parses a SPIFFE ID with a non-empty path.
    ///
    /// ```
    /// # use meshtls_core::SpiffeId;
    /// let id = SpiffeId::parse("spiffe://mesh.internal/service/user-svc")?;
    /// assert_eq!(id.trust_domain().as_str(), "mesh.internal");
    /// assert_eq!(id.path(), "/service/user-svc");
    /// assert!(SpiffeId::parse("spiffe://mesh.internal/a/../b").is_err());
    /// # Ok::<(), meshtls_core::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        let (td, path) = split_id(s)?;
        let trust_domain = TrustDomain::new(td)?;
        if path.is_empty() {
            return Err(Error::malformed(format!(
                "SPIFFE ID {s:?} has no path: a workload ID needs one (spiffe://{td}/service/NAME)"
            )));
        }
        for seg in path[1..].split('/') {
            check_segment(seg, s)?;
        }
        Ok(SpiffeId {
            trust_domain,
            path: path.to_owned(),
        })
    }

    /// Builds `spiffe://<td>/<segments joined by '/'>`, checking every segment.
    pub fn from_segments(trust_domain: &TrustDomain, segments: &[&str]) -> Result<Self> {
        let mut path = String::new();
        for seg in segments {
            path.push('/');
            path.push_str(seg);
        }
        SpiffeId::parse(&format!("{SCHEME}{trust_domain}{path}"))
    }

    /// `spiffe://<td>/service/<name>`, the meshtls convention for services.
    pub fn service(trust_domain: &TrustDomain, name: &str) -> Result<Self> {
        SpiffeId::from_segments(trust_domain, &["service", name])
    }

    /// `spiffe://<td>/meshtls/ca`: the CA service's own identity, reserved so that no join
    /// token can obtain it (see [`crate::grant::Reserved`]). Built here and nowhere else.
    ///
    /// ```
    /// # use meshtls_core::{SpiffeId, TrustDomain};
    /// let td = TrustDomain::new("mesh.internal")?;
    /// assert_eq!(SpiffeId::ca_service(&td).to_string(), "spiffe://mesh.internal/meshtls/ca");
    /// # Ok::<(), meshtls_core::Error>(())
    /// ```
    pub fn ca_service(trust_domain: &TrustDomain) -> Self {
        SpiffeId {
            trust_domain: trust_domain.clone(),
            path: "/meshtls/ca".to_owned(),
        }
    }

    /// The trust domain.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The path, with its leading slash.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path[1..].split('/')
    }

    /// Whether this ID belongs to the trust domain.
    pub fn is_member_of(&self, td: &TrustDomain) -> bool {
        &self.trust_domain == td
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}{}", self.trust_domain, self.path)
    }
}

impl FromStr for SpiffeId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SpiffeId::parse(s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**` (last only): one or more segments.
    Rest,
}

/// A pattern of SPIFFE IDs a policy allows.
///
/// - `spiffe://mesh.internal/service/user-svc`: exactly that ID;
/// - `spiffe://mesh.internal/service/*`: `*` stands for exactly one segment, in any position;
/// - `spiffe://mesh.internal/service/**`: `**`, last only, stands for one or more segments;
/// - `spiffe://mesh.internal` (no path): every member of the trust domain.
///
/// ```
/// # use meshtls_core::{IdPattern, SpiffeId};
/// let p = IdPattern::parse("spiffe://mesh.internal/service/*")?;
/// assert!(p.matches(&SpiffeId::parse("spiffe://mesh.internal/service/api")?));
/// assert!(!p.matches(&SpiffeId::parse("spiffe://mesh.internal/service/api/v2")?));
/// assert!(!p.matches(&SpiffeId::parse("spiffe://other.internal/service/api")?));
/// # Ok::<(), meshtls_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdPattern {
    trust_domain: TrustDomain,
    /// None: any member of the trust domain.
    segments: Option<Vec<Segment>>,
    text: String,
}

impl IdPattern {
    /// Parses a pattern (see the type's documentation).
    pub fn parse(s: &str) -> Result<Self> {
        let (td, path) = split_id(s)?;
        let trust_domain = TrustDomain::new(td)?;
        if path.is_empty() || path == "/" {
            return Ok(IdPattern {
                trust_domain,
                segments: None,
                text: s.to_owned(),
            });
        }
        let parts: Vec<&str> = path[1..].split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, seg) in parts.iter().enumerate() {
            segments.push(match *seg {
                "*" => Segment::One,
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => {
                    return Err(Error::malformed(format!(
                        "pattern {s:?}: '**' may only be the last segment"
                    )))
                }
                lit => {
                    check_segment(lit, s)?;
                    Segment::Literal(lit.to_owned())
                }
            });
        }
        Ok(IdPattern {
            trust_domain,
            segments: Some(segments),
            text: s.to_owned(),
        })
    }

    /// A pattern matching every member of the trust domain.
    pub fn trust_domain_member(td: &TrustDomain) -> Self {
        IdPattern {
            trust_domain: td.clone(),
            segments: None,
            text: td.id_string(),
        }
    }

    /// A pattern matching exactly this ID.
    pub fn exact(id: &SpiffeId) -> Self {
        IdPattern {
            trust_domain: id.trust_domain.clone(),
            segments: Some(
                id.segments()
                    .map(|s| Segment::Literal(s.to_owned()))
                    .collect(),
            ),
            text: id.to_string(),
        }
    }

    /// The trust domain the pattern is within.
    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// Whether the ID matches.
    pub fn matches(&self, id: &SpiffeId) -> bool {
        if id.trust_domain != self.trust_domain {
            return false;
        }
        let Some(pattern) = &self.segments else {
            return true;
        };
        let segs: Vec<&str> = id.segments().collect();
        let mut i = 0;
        for p in pattern {
            match p {
                Segment::Rest => return i < segs.len(),
                Segment::One => {
                    if i >= segs.len() {
                        return false;
                    }
                }
                Segment::Literal(l) => {
                    if segs.get(i) != Some(&l.as_str()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == segs.len()
    }
}

impl fmt::Display for IdPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for IdPattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        IdPattern::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids() {
        for s in [
            "spiffe://mesh.internal/service/user-svc",
            "spiffe://example.org/a",
            "spiffe://a_b-c.0/X.Y_z-9/q",
        ] {
            let id = SpiffeId::parse(s).unwrap();
            assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn invalid_ids_are_malformed() {
        for s in [
            "",
            "spiffe://",
            "spiffe:///path",
            "SPIFFE://mesh.internal/a",
            "spiffe://Mesh.internal/a",
            "http://mesh.internal/a",
            "spiffe://mesh.internal",
            "spiffe://mesh.internal/",
            "spiffe://mesh.internal/a/",
            "spiffe://mesh.internal//a",
            "spiffe://mesh.internal/./a",
            "spiffe://mesh.internal/a/..",
            "spiffe://mesh.internal/a?x=1",
            "spiffe://mesh.internal/a#f",
            "spiffe://mesh.internal:8443/a",
            "spiffe://user@mesh.internal/a",
            "spiffe://mesh.internal/a b",
            "spiffe://mesh.internal/a%20b",
        ] {
            let err = SpiffeId::parse(s).unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Malformed, "{s:?}");
        }
    }

    #[test]
    fn length_limits() {
        let td = "a".repeat(255);
        assert!(TrustDomain::new(&td).is_ok());
        assert!(TrustDomain::new(&"a".repeat(256)).is_err());
        let long_path = "b".repeat(MAX_ID_LEN - "spiffe://x/".len());
        assert!(SpiffeId::parse(&format!("spiffe://x/{long_path}")).is_ok());
        assert!(SpiffeId::parse(&format!("spiffe://x/{long_path}c")).is_err());
    }

    #[test]
    fn patterns() {
        let id = |s| SpiffeId::parse(s).unwrap();
        let p = IdPattern::parse("spiffe://mesh.internal/service/**").unwrap();
        assert!(p.matches(&id("spiffe://mesh.internal/service/a")));
        assert!(p.matches(&id("spiffe://mesh.internal/service/a/b")));
        assert!(!p.matches(&id("spiffe://mesh.internal/servicex/a")));
        assert!(!p.matches(&id("spiffe://mesh.internal/other")));
        let p = IdPattern::parse("spiffe://mesh.internal/*/api").unwrap();
        assert!(p.matches(&id("spiffe://mesh.internal/ns1/api")));
        assert!(!p.matches(&id("spiffe://mesh.internal/ns1/web")));
        let p = IdPattern::parse("spiffe://mesh.internal").unwrap();
        assert!(p.matches(&id("spiffe://mesh.internal/anything/at/all")));
        assert!(!p.matches(&id("spiffe://mesh.internalx/a")));
        let p = IdPattern::exact(&id("spiffe://mesh.internal/service/a"));
        assert!(p.matches(&id("spiffe://mesh.internal/service/a")));
        assert!(!p.matches(&id("spiffe://mesh.internal/service/a/b")));
        assert!(IdPattern::parse("spiffe://mesh.internal/**/a").is_err());
        assert!(IdPattern::parse("spiffe://mesh.internal/a*").is_err());
    }
}

//! The one TLS profile of meshtls, as data: protocol versions, cipher suites (by IANA and
//! OpenSSL names), key-exchange groups, and which TLS alert carries which core error code.
//!
//! The rustls configurations of this crate are built from these tables, and the host-stack
//! adapters (Python `ssl`, Node `tls`, .NET `SslStream`) read the same tables through their
//! bindings, so every language offers and accepts the same handshake: TLS 1.3 by default;
//! TLS 1.2 only when asked, and then only ECDHE key exchange with AEAD suites (no CBC, no
//! RSA key transport, no finite-field DHE).
//!
//! ```
//! use meshtls_net::profile::TlsProfile;
//! let strict = TlsProfile::new(false);
//! assert_eq!(strict.openssl_cipher_list(), "");
//! assert!(TlsProfile::new(true).openssl_cipher_list().starts_with("ECDHE-ECDSA-AES128-GCM-SHA256"));
//! ```

use meshtls_core::ErrorCode;

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246), opt-in.
    Tls12,
    /// TLS 1.3 (RFC 8446), the default and the only version unless TLS 1.2 is allowed.
    Tls13,
}

impl TlsVersion {
    /// The version as OpenSSL, Python `ssl` and Node `tls` spell it: `TLSv1.2`, `TLSv1.3`.
    pub fn openssl_name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    /// The version's wire number: `0x0303` for TLS 1.2, `0x0304` for TLS 1.3.
    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Tls12 => 0x0303,
            TlsVersion::Tls13 => 0x0304,
        }
    }
}

/// One cipher suite of the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuite {
    /// The IANA name, e.g. `TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256`.
    pub iana: &'static str,
    /// The OpenSSL name, e.g. `ECDHE-ECDSA-AES128-GCM-SHA256` (TLS 1.3 suites keep their IANA
    /// name in OpenSSL).
    pub openssl: &'static str,
    /// The suite's wire number.
    pub id: u16,
    /// The version the suite belongs to.
    pub version: TlsVersion,
}

/// One key-exchange group of the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// The IANA name, e.g. `secp256r1`.
    pub iana: &'static str,
    /// The OpenSSL name, e.g. `P-256` (what `SSL_CTX_set1_groups_list` and Node's `ecdhCurve`
    /// take).
    pub openssl: &'static str,
    /// The group's wire number.
    pub id: u16,
    /// A post-quantum hybrid: offered first where the TLS stack has it (rustls does; OpenSSL
    /// only from 3.5), skipped by stacks that do not.
    pub hybrid: bool,
}

/// The cipher suites, in order of preference: the TLS 1.3 suites, then the TLS 1.2 ECDHE +
/// AEAD suites that only an opt-in profile offers.
pub const CIPHER_SUITES: &[CipherSuite] = &[
    CipherSuite {
        iana: "TLS_AES_128_GCM_SHA256",
        openssl: "TLS_AES_128_GCM_SHA256",
        id: 0x1301,
        version: TlsVersion::Tls13,
    },
    CipherSuite {
        iana: "TLS_AES_256_GCM_SHA384",
        openssl: "TLS_AES_256_GCM_SHA384",
        id: 0x1302,
        version: TlsVersion::Tls13,
    },
    CipherSuite {
        iana: "TLS_CHACHA20_POLY1305_SHA256",
        openssl: "TLS_CHACHA20_POLY1305_SHA256",
        id: 0x1303,
        version: TlsVersion::Tls13,
    },
    CipherSuite {
        iana: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-ECDSA-AES128-GCM-SHA256",
        id: 0xc02b,
        version: TlsVersion::Tls12,
    },
    CipherSuite {
        iana: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-ECDSA-AES256-GCM-SHA384",
        id: 0xc02c,
        version: TlsVersion::Tls12,
    },
    CipherSuite {
        iana: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-ECDSA-CHACHA20-POLY1305",
        id: 0xcca9,
        version: TlsVersion::Tls12,
    },
    CipherSuite {
        iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        openssl: "ECDHE-RSA-AES128-GCM-SHA256",
        id: 0xc02f,
        version: TlsVersion::Tls12,
    },
    CipherSuite {
        iana: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        openssl: "ECDHE-RSA-AES256-GCM-SHA384",
        id: 0xc030,
        version: TlsVersion::Tls12,
    },
    CipherSuite {
        iana: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        openssl: "ECDHE-RSA-CHACHA20-POLY1305",
        id: 0xcca8,
        version: TlsVersion::Tls12,
    },
];

/// The key-exchange groups, in order of preference.
pub const GROUPS: &[Group] = &[
    Group {
        iana: "X25519MLKEM768",
        openssl: "X25519MLKEM768",
        id: 0x11ec,
        hybrid: true,
    },
    Group {
        iana: "x25519",
        openssl: "X25519",
        id: 0x001d,
        hybrid: false,
    },
    Group {
        iana: "secp256r1",
        openssl: "P-256",
        id: 0x0017,
        hybrid: false,
    },
    Group {
        iana: "secp384r1",
        openssl: "P-384",
        id: 0x0018,
        hybrid: false,
    },
];

/// The TLS profile of a server or client: TLS 1.3 only, or TLS 1.3 and (opt-in) TLS 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsProfile {
    tls12: bool,
}

impl TlsProfile {
    /// The profile; `allow_tls12` adds TLS 1.2 with its ECDHE + AEAD suites.
    pub const fn new(allow_tls12: bool) -> Self {
        TlsProfile { tls12: allow_tls12 }
    }

    /// Whether TLS 1.2 is allowed.
    pub fn allows_tls12(&self) -> bool {
        self.tls12
    }

    /// The lowest version accepted.
    pub fn min_version(&self) -> TlsVersion {
        if self.tls12 {
            TlsVersion::Tls12
        } else {
            TlsVersion::Tls13
        }
    }

    /// The highest version offered: always TLS 1.3.
    pub fn max_version(&self) -> TlsVersion {
        TlsVersion::Tls13
    }

    /// The cipher suites offered and accepted, in order of preference.
    pub fn cipher_suites(&self) -> impl Iterator<Item = &'static CipherSuite> + '_ {
        let min = self.min_version();
        CIPHER_SUITES.iter().filter(move |s| s.version >= min)
    }

    /// The key-exchange groups, in order of preference (hybrids included; see
    /// [`Group::hybrid`]).
    pub fn groups(&self) -> &'static [Group] {
        GROUPS
    }

    /// The TLS 1.3 suites in OpenSSL's `SSL_CTX_set_ciphersuites` form (Python
    /// `SSLContext` has no setter for these: its defaults are the same three suites).
    pub fn openssl_ciphersuites(&self) -> String {
        self.joined(TlsVersion::Tls13)
    }

    /// The TLS 1.2 suites in OpenSSL's cipher-list form (`SSL_CTX_set_cipher_list`, Python
    /// `SSLContext.set_ciphers`, Node `ciphers` after the TLS 1.3 names); empty when TLS 1.2
    /// is not allowed.
    pub fn openssl_cipher_list(&self) -> String {
        if self.tls12 {
            self.joined(TlsVersion::Tls12)
        } else {
            String::new()
        }
    }

    /// The classical groups in OpenSSL's groups-list form (`X25519:P-256:P-384`), what every
    /// OpenSSL from 1.1.1 accepts.
    pub fn openssl_groups(&self) -> String {
        GROUPS
            .iter()
            .filter(|g| !g.hybrid)
            .map(|g| g.openssl)
            .collect::<Vec<_>>()
            .join(":")
    }

    fn joined(&self, version: TlsVersion) -> String {
        self.cipher_suites()
            .filter(|s| s.version == version)
            .map(|s| s.openssl)
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A TLS alert (RFC 8446 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// The alert's name as RFC 8446 spells it, e.g. `certificate_expired`.
    pub name: &'static str,
    /// The alert's wire number.
    pub number: u8,
}

const fn alert(name: &'static str, number: u8) -> Alert {
    Alert { name, number }
}

/// `certificate_unknown`: what a refusal whose reason no alert names is sent as.
pub const CERTIFICATE_UNKNOWN: Alert = alert("certificate_unknown", 46);

/// Which alert carries which core code, both ways. A peer that refuses a certificate sends
/// the alert of the core's code; a peer that receives one of these alerts reads the code back.
/// `not_yet_valid` goes out as `certificate_expired` (no alert tells the two apart), and
/// `not_pinned` as `access_denied` with `identity_not_allowed`, so the first code of each
/// alert is the one read back.
const ALERTS: &[(ErrorCode, Alert)] = &[
    (ErrorCode::Expired, alert("certificate_expired", 45)),
    (ErrorCode::NotYetValid, alert("certificate_expired", 45)),
    (ErrorCode::Revoked, alert("certificate_revoked", 44)),
    (ErrorCode::UnknownIssuer, alert("unknown_ca", 48)),
    (ErrorCode::IdentityNotAllowed, alert("access_denied", 49)),
    (ErrorCode::NotPinned, alert("access_denied", 49)),
    (ErrorCode::WrongUsage, alert("unsupported_certificate", 43)),
    (ErrorCode::BadSignature, alert("decrypt_error", 51)),
    (ErrorCode::NoCertificate, alert("certificate_required", 116)),
];

/// The alert a refusal with `code` is sent as: the alert that names the reason, or
/// [`CERTIFICATE_UNKNOWN`].
pub fn alert_for(code: ErrorCode) -> Alert {
    ALERTS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, a)| *a)
        .unwrap_or(CERTIFICATE_UNKNOWN)
}

/// The core code a received alert names (by wire number), if it names one.
pub fn code_for_alert(number: u8) -> Option<ErrorCode> {
    ALERTS
        .iter()
        .find(|(_, a)| a.number == number)
        .map(|(c, _)| *c)
}

/// For hosts whose TLS is OpenSSL's (Python `ssl`, Node `tls`) with the core as the
/// certificate verifier: the `X509_V_ERR_*` number that makes OpenSSL 3.0 send `alert` when the
/// verify callback fails with it (`ssl_x509err2alert`), by the alert's wire number; `None` for alerts no verification
/// error maps to (`access_denied`, `certificate_required`). `certificate_unknown` is OpenSSL's
/// default for errors its table does not list; `X509_V_ERR_SUBTREE_MINMAX` (49) is one.
pub fn openssl_verify_error(alert_number: u8) -> Option<i32> {
    Some(match alert_number {
        45 => 10, // certificate_expired <- X509_V_ERR_CERT_HAS_EXPIRED
        44 => 23, // certificate_revoked <- X509_V_ERR_CERT_REVOKED
        48 => 20, // unknown_ca <- X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        43 => 26, // unsupported_certificate <- X509_V_ERR_INVALID_PURPOSE
        51 => 7,  // decrypt_error <- X509_V_ERR_CERT_SIGNATURE_FAILURE
        46 => 49, // certificate_unknown <- an unlisted error (X509_V_ERR_SUBTREE_MINMAX)
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls13_only_by_default() {
        let p = TlsProfile::default();
        assert_eq!(p.min_version(), TlsVersion::Tls13);
        assert!(p.cipher_suites().all(|s| s.version == TlsVersion::Tls13));
        assert_eq!(
            p.openssl_ciphersuites(),
            "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
        );
        assert_eq!(p.openssl_cipher_list(), "");
    }

    #[test]
    fn tls12_only_ecdhe_aead() {
        let p = TlsProfile::new(true);
        assert_eq!(p.min_version(), TlsVersion::Tls12);
        let list = p.openssl_cipher_list();
        for name in list.split(':') {
            assert!(name.starts_with("ECDHE-"), "{name}");
            assert!(
                name.ends_with("GCM-SHA256")
                    || name.ends_with("GCM-SHA384")
                    || name.ends_with("CHACHA20-POLY1305"),
                "{name}"
            );
        }
        assert_eq!(list.split(':').count(), 6);
    }

    #[test]
    fn alerts_round_trip() {
        for code in [
            ErrorCode::Expired,
            ErrorCode::Revoked,
            ErrorCode::UnknownIssuer,
            ErrorCode::IdentityNotAllowed,
            ErrorCode::WrongUsage,
            ErrorCode::BadSignature,
            ErrorCode::NoCertificate,
        ] {
            assert_eq!(code_for_alert(alert_for(code).number), Some(code));
        }
        assert_eq!(
            alert_for(ErrorCode::NotYetValid).name,
            "certificate_expired"
        );
        assert_eq!(alert_for(ErrorCode::Malformed), CERTIFICATE_UNKNOWN);
        assert_eq!(code_for_alert(CERTIFICATE_UNKNOWN.number), None);
    }

    #[test]
    fn every_certificate_alert_but_access_denied_has_an_openssl_verify_error() {
        for code in [
            ErrorCode::Expired,
            ErrorCode::Revoked,
            ErrorCode::UnknownIssuer,
            ErrorCode::WrongUsage,
            ErrorCode::BadSignature,
            ErrorCode::Malformed,
        ] {
            assert!(
                openssl_verify_error(alert_for(code).number).is_some(),
                "{code:?}"
            );
        }
        assert_eq!(
            openssl_verify_error(alert_for(ErrorCode::IdentityNotAllowed).number),
            None
        );
    }

    #[test]
    fn groups_classical_for_openssl() {
        assert_eq!(TlsProfile::default().openssl_groups(), "X25519:P-256:P-384");
    }
}

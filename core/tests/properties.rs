//! Property tests: parsers never panic and round-trip what they accept.

use meshtls_core::{encoding, IdPattern, SpiffeId, TrustDomain};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{1,12}".prop_filter("not . or ..", |s| s != "." && s != "..")
}

proptest! {
    #[test]
    fn valid_ids_round_trip(td in "[a-z0-9][a-z0-9._-]{0,30}", segs in prop::collection::vec(segment(), 1..6)) {
        let text = format!("spiffe://{td}/{}", segs.join("/"));
        let id = SpiffeId::parse(&text).unwrap();
        prop_assert_eq!(id.to_string(), text.clone());
        prop_assert_eq!(id.trust_domain(), &TrustDomain::new(&td).unwrap());
        prop_assert_eq!(id.segments().count(), segs.len());
        prop_assert!(IdPattern::exact(&id).matches(&id));
        prop_assert!(IdPattern::trust_domain_member(id.trust_domain()).matches(&id));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,300}") {
        if let Ok(id) = SpiffeId::parse(&s) {
            prop_assert_eq!(SpiffeId::parse(&id.to_string()).unwrap(), id);
        }
        let _ = IdPattern::parse(&s);
        let _ = TrustDomain::new(&s);
    }

    #[test]
    fn invalid_characters_are_rejected(td in "[a-z]{1,8}", bad in "[^a-zA-Z0-9._/-]") {
        let text = format!("spiffe://{td}/svc{bad}x");
        prop_assert!(SpiffeId::parse(&text).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = encoding::parse_certificates(&bytes);
        let _ = encoding::parse_private_key(&bytes);
        let _ = encoding::decrypt_private_key(&bytes, "pw");
        let _ = encoding::parse_crl(&bytes);
        let _ = meshtls_core::Crl::from_pem_or_der(&bytes);
        let _ = meshtls_core::Certificate::from_der(&bytes);
        let _ = meshtls_core::IssueRequest::from_csr(&bytes);
        let _ = meshtls_core::encoding::from_pkcs12(&bytes, "pw");
    }
}

/// PEM round trips over real certificates: (one CA, many leaves) so the test stays quick.
#[test]
fn pem_round_trips() {
    let now = meshtls_core::Timestamp::from_unix(1_790_000_000);
    let ca = meshtls_core::Authority::create_root(
        &meshtls_core::RootParams::new(TrustDomain::new("mesh.internal").unwrap()),
        now,
    )
    .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                segment(),
                prop::collection::vec("[a-z]{1,10}\\.internal", 0..3),
            ),
            |(name, dns)| {
                let id = SpiffeId::service(ca.trust_domain(), &name).unwrap();
                let issued = ca
                    .issue(
                        &meshtls_core::IssueRequest::new(id.clone()).with_dns(dns.clone()),
                        now,
                    )
                    .unwrap();
                let ders = encoding::parse_certificates(issued.chain_pem.as_bytes()).unwrap();
                prop_assert_eq!(&ders, &issued.chain_der);
                prop_assert_eq!(
                    encoding::parse_certificates(&issued.cert_der).unwrap(),
                    vec![issued.cert_der.clone()]
                );
                let cert = meshtls_core::Certificate::from_der(&issued.cert_der).unwrap();
                prop_assert_eq!(cert.to_pem(), issued.cert_pem.clone());
                prop_assert_eq!(cert.spiffe_id, Some(id));
                prop_assert_eq!(cert.dns_names, dns);
                let key = encoding::parse_private_key(issued.key_pem.clone().unwrap().as_bytes())
                    .unwrap();
                prop_assert_eq!(Some(key), issued.key_der.clone());
                Ok(())
            },
        )
        .unwrap();
}

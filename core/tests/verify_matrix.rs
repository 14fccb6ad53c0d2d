//! The security matrix: every way a peer can be wrong, each rejected with its own code.

mod common;

use common::*;
use meshtls_core::{
    Authority, CrlParams, ErrorCode, Fingerprint, IdPattern, IntermediateParams, IssueRequest,
    KeySource, PeerUsage, Policy, RevocationList, RevocationPolicy, RevocationReason, RootParams,
    TrustBundle, TrustDomain, Usage, Verifier, VerifyOptions,
};

fn code_of(r: Result<meshtls_core::PeerIdentity, meshtls_core::Error>) -> ErrorCode {
    match r {
        Ok(p) => panic!("expected a rejection, got {:?}", p.spiffe_id),
        Err(e) => e.code(),
    }
}

#[test]
fn valid_peer_is_accepted_with_its_identity() {
    let ca = root();
    let leaf = ca
        .issue(
            &IssueRequest::new(id("api")).with_dns(["api.mesh.internal"]),
            NOW,
        )
        .unwrap();
    let v = verifier_for(&ca, Policy::builder().allow_id(id("api")).build().unwrap());
    for usage in [PeerUsage::Client, PeerUsage::Server] {
        let peer = v.verify(&leaf.chain_der, usage, NOW).unwrap();
        assert_eq!(peer.spiffe_id, Some(id("api")));
        assert_eq!(peer.dns_names, vec!["api.mesh.internal".to_string()]);
        assert_eq!(peer.common_name.as_deref(), Some("api"));
        assert_eq!(peer.serial, leaf.serial);
        assert_eq!(peer.fingerprint, leaf.fingerprint);
        assert_eq!(peer.not_after, leaf.not_after);
    }
    // The same through PEM.
    let peer = v
        .verify_pem(leaf.chain_pem.as_bytes(), PeerUsage::Client, NOW)
        .unwrap();
    assert_eq!(peer.spiffe_id, Some(id("api")));
}

#[test]
fn expired_and_not_yet_valid() {
    let ca = root();
    let leaf = ca
        .issue(&IssueRequest::new(id("api")).with_lifetime(HOUR), NOW)
        .unwrap();
    let v = verifier_for(&ca, any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW.add(2 * HOUR))),
        ErrorCode::Expired
    );
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW.sub(HOUR))),
        ErrorCode::NotYetValid
    );
    // No hidden leeway: one second past either end is refused by default.
    let secs = std::time::Duration::from_secs;
    assert_eq!(
        code_of(v.verify(
            &leaf.chain_der,
            PeerUsage::Client,
            leaf.not_after.add(secs(1))
        )),
        ErrorCode::Expired
    );
    assert_eq!(
        code_of(v.verify(
            &leaf.chain_der,
            PeerUsage::Client,
            leaf.not_before.sub(secs(1))
        )),
        ErrorCode::NotYetValid
    );
    // An explicit 30 s leeway in the policy tolerates 20 s at both ends...
    let lenient = Policy::builder()
        .allow_trust_domain(td())
        .clock_leeway(secs(30))
        .build()
        .unwrap();
    assert_eq!(lenient.clock_leeway(), secs(30));
    assert_eq!(any_in_domain().clock_leeway(), std::time::Duration::ZERO);
    let v = verifier_for(&ca, lenient);
    assert!(v
        .verify(
            &leaf.chain_der,
            PeerUsage::Client,
            leaf.not_after.add(secs(20))
        )
        .is_ok());
    assert!(v
        .verify(
            &leaf.chain_der,
            PeerUsage::Client,
            leaf.not_before.sub(secs(20))
        )
        .is_ok());
    // ...and not 40 s.
    assert_eq!(
        code_of(v.verify(
            &leaf.chain_der,
            PeerUsage::Client,
            leaf.not_after.add(secs(40))
        )),
        ErrorCode::Expired
    );
    assert_eq!(
        code_of(v.verify(
            &leaf.chain_der,
            PeerUsage::Client,
            leaf.not_before.sub(secs(40))
        )),
        ErrorCode::NotYetValid
    );
}

#[test]
fn revoked_leaf_is_rejected_and_others_pass() {
    let ca = root();
    let bad = issue(&ca, "bad");
    let good = issue(&ca, "good");
    let mut records = RevocationList::new();
    assert!(records
        .revoke(bad.serial.clone(), RevocationReason::KeyCompromise, NOW)
        .unwrap());
    assert!(
        !records
            .revoke(bad.serial.clone(), RevocationReason::KeyCompromise, NOW)
            .unwrap(),
        "revoking twice is a no-op"
    );
    let crl = ca.build_crl(&records, &CrlParams::new(1, NOW)).unwrap();
    let entry = crl.lookup(&bad.serial).unwrap().unwrap();
    assert_eq!(entry.reason, RevocationReason::KeyCompromise);
    assert!(crl.lookup(&good.serial).unwrap().is_none());

    let mut bundle = bundle_of(&ca);
    bundle.add_crl(crl.to_pem().as_bytes()).unwrap();
    let v = Verifier::new(bundle, any_in_domain());
    assert_eq!(
        code_of(v.verify(&bad.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::Revoked
    );
    assert!(v.verify(&good.chain_der, PeerUsage::Client, NOW).is_ok());
}

#[test]
fn stale_or_missing_crl_fails_closed_unless_relaxed() {
    let ca = root();
    let inter = ca
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    let leaf = issue(&inter, "api");
    let crl_root = ca
        .build_crl(&RevocationList::new(), &CrlParams::new(1, NOW))
        .unwrap();
    let crl_inter = inter
        .build_crl(&RevocationList::new(), &CrlParams::new(1, NOW))
        .unwrap();

    // Only the root's CRL: the leaf (issued by the intermediate) is not covered.
    let mut b = bundle_of(&ca);
    b.add_crl(crl_root.der()).unwrap();
    let v = Verifier::new(b.clone(), any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::RevocationUnknown
    );
    // Relaxed policy: a missing CRL is allowed.
    let relaxed = VerifyOptions {
        revocation: RevocationPolicy {
            require_crl: false,
            ..Default::default()
        },
    };
    assert!(Verifier::with_options(b.clone(), any_in_domain(), relaxed)
        .verify(&leaf.chain_der, PeerUsage::Client, NOW)
        .is_ok());

    // Both CRLs: fine now, stale after nextUpdate (7 days).
    b.add_crl(crl_inter.der()).unwrap();
    let v = Verifier::new(b.clone(), any_in_domain());
    assert!(v.verify(&leaf.chain_der, PeerUsage::Client, NOW).is_ok());
    let later = NOW.add(8 * DAY);
    assert!(crl_inter.is_stale(later));
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, later)),
        ErrorCode::CrlExpired
    );
    let lenient = VerifyOptions {
        revocation: RevocationPolicy {
            reject_stale_crl: false,
            ..Default::default()
        },
    };
    assert!(Verifier::with_options(b, any_in_domain(), lenient)
        .verify(&leaf.chain_der, PeerUsage::Client, later)
        .is_ok());
}

#[test]
fn one_pem_with_the_crls_of_two_cas_covers_both() {
    // During a CA rotation the service serves both CAs and both CRLs in one document.
    let old = root();
    let next = root();
    let old_leaf = issue(&old, "api");
    let next_leaf = issue(&next, "web");
    let mut revoked = RevocationList::new();
    revoked
        .revoke(
            next_leaf.serial.clone(),
            RevocationReason::KeyCompromise,
            NOW,
        )
        .unwrap();
    let both = format!(
        "{}{}",
        old.build_crl(&RevocationList::new(), &CrlParams::new(1, NOW))
            .unwrap()
            .to_pem(),
        next.build_crl(&revoked, &CrlParams::new(1, NOW))
            .unwrap()
            .to_pem()
    );
    let mut b = bundle_of(&old);
    b.add_ca_pem(next.certificate_pem().as_bytes()).unwrap();
    b.add_crl(both.as_bytes()).unwrap();
    assert_eq!(b.crls().len(), 2);
    let v = Verifier::new(b, any_in_domain());
    assert!(v
        .verify(&old_leaf.chain_der, PeerUsage::Client, NOW)
        .is_ok());
    assert_eq!(
        code_of(v.verify(&next_leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::Revoked
    );
    // A document with one good and one broken CRL adds nothing.
    let mut b = bundle_of(&old);
    let broken = format!("{both}-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    assert_eq!(
        b.add_crl(broken.as_bytes()).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert!(b.crls().is_empty());
}

#[test]
fn revoked_intermediate_rejects_its_leaves() {
    let ca = root();
    let inter = ca
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    let leaf = issue(&inter, "api");
    let mut records = RevocationList::new();
    records
        .revoke(inter.serial().clone(), RevocationReason::CaCompromise, NOW)
        .unwrap();
    let mut b = bundle_of(&ca);
    b.add_crl(
        ca.build_crl(&records, &CrlParams::new(1, NOW))
            .unwrap()
            .der(),
    )
    .unwrap();
    b.add_crl(
        inter
            .build_crl(&RevocationList::new(), &CrlParams::new(1, NOW))
            .unwrap()
            .der(),
    )
    .unwrap();
    let v = Verifier::new(b, any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::Revoked
    );
}

#[test]
fn newer_crl_replaces_older_one() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let mut records = RevocationList::new();
    let crl1 = ca.build_crl(&records, &CrlParams::new(1, NOW)).unwrap();
    records
        .revoke(leaf.serial.clone(), RevocationReason::Superseded, NOW)
        .unwrap();
    let crl2 = ca.build_crl(&records, &CrlParams::new(2, NOW)).unwrap();
    let mut b = bundle_of(&ca);
    b.add_crl(crl1.der()).unwrap();
    b.add_crl(crl2.der()).unwrap(); // newer: replaces
    assert_eq!(b.crls().len(), 1);
    assert_eq!(b.crls()[0].number, Some(2));
    let v = Verifier::new(b, any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::Revoked
    );
}

#[test]
fn a_bundle_refuses_a_crl_that_steps_back() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let mut records = RevocationList::new();
    let crl1 = ca.build_crl(&records, &CrlParams::new(1, NOW)).unwrap();
    records
        .revoke(leaf.serial.clone(), RevocationReason::KeyCompromise, NOW)
        .unwrap();
    let crl2 = ca.build_crl(&records, &CrlParams::new(2, NOW)).unwrap();
    // The same number 2 with other content (the revocation dropped): a forked CRL.
    let fork = ca
        .build_crl(&RevocationList::new(), &CrlParams::new(2, NOW))
        .unwrap();
    assert_ne!(fork.der(), crl2.der());

    let mut b = bundle_of(&ca);
    b.add_crl(crl2.der()).unwrap();
    let err = b.add_crl(crl1.der()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StaleCrl, "{}", err.message());
    assert!(err.message().contains("lower"), "{}", err.message());
    let err = b.add_crl(fork.der()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::StaleCrl, "{}", err.message());
    // The identical CRL again is a no-op.
    b.add_crl(crl2.to_pem().as_bytes()).unwrap();
    assert_eq!(b.crls().len(), 1);
    assert_eq!(b.crls()[0].der(), crl2.der(), "the held CRL is kept");
    let v = Verifier::new(b.clone(), any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::Revoked,
        "the revocation survives the rollback attempts"
    );

    // A PEM with a good CRL of another CA and a stale one adds nothing.
    let other = Authority::create_root(&RootParams::new(td()), NOW).unwrap();
    let other_crl = other
        .build_crl(&RevocationList::new(), &CrlParams::new(1, NOW))
        .unwrap();
    let mut b2 = b.clone();
    b2.add_ca_der(other.certificate_der()).unwrap();
    let both = format!("{}{}", other_crl.to_pem(), crl1.to_pem());
    assert_eq!(
        b2.add_crl(both.as_bytes()).unwrap_err().code(),
        ErrorCode::StaleCrl
    );
    assert_eq!(b2.crls().len(), 1, "nothing added");

    // merged follows the same rule: the higher number wins, a fork keeps the held one.
    let mut old = bundle_of(&ca);
    old.add_crl(crl1.der()).unwrap();
    assert_eq!(old.merged(&b).crls()[0].der(), crl2.der());
    assert_eq!(b.merged(&old).crls()[0].der(), crl2.der());
    let mut forked = bundle_of(&ca);
    forked.add_crl(fork.der()).unwrap();
    assert_eq!(b.merged(&forked).crls()[0].der(), crl2.der());
    assert_eq!(forked.merged(&b).crls()[0].der(), fork.der());
}

#[test]
fn attacker_ca_with_the_same_name_is_rejected() {
    let ca = root();
    let rogue_params = RootParams {
        common_name: ca.certificate().common_name.clone(),
        ..RootParams::new(td())
    };
    let rogue = Authority::create_root(&rogue_params, NOW.sub(DAY)).unwrap();
    assert_eq!(
        rogue.certificate().subject,
        ca.certificate().subject,
        "the names collide on purpose"
    );
    let forged = issue(&rogue, "api");
    let v = verifier_for(&ca, any_in_domain());
    // The issuer name finds the real CA, whose key does not verify the forged signature.
    assert_eq!(
        code_of(v.verify(&forged.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::BadSignature
    );
    // Presenting the rogue root in the chain does not help: the chain then ends at a
    // self-signed CA the bundle does not hold (not a bad signature of an intermediate).
    let with_root = vec![forged.cert_der.clone(), rogue.certificate_der().to_vec()];
    assert_eq!(
        code_of(v.verify(&with_root, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
    // A self-signed leaf that calls itself the CA is no better.
    assert_eq!(
        code_of(v.verify(&[rogue.certificate_der()], PeerUsage::Client, NOW)),
        ErrorCode::WrongUsage
    );
}

#[test]
fn a_valid_cert_from_another_ca_is_unknown_issuer() {
    let ca = root();
    let other = Authority::create_root(&RootParams::new(td()), NOW.sub(DAY)).unwrap();
    let leaf = issue(&other, "api");
    let v = verifier_for(&ca, any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
}

#[test]
fn wrong_identity_is_not_allowed() {
    let ca = root();
    let leaf = issue(&ca, "billing");
    let v = verifier_for(&ca, Policy::builder().allow_id(id("api")).build().unwrap());
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::IdentityNotAllowed
    );
    let v = verifier_for(
        &ca,
        Policy::builder()
            .allow_pattern(IdPattern::parse("spiffe://mesh.internal/agent/*").unwrap())
            .build()
            .unwrap(),
    );
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::IdentityNotAllowed
    );
    let v = verifier_for(
        &ca,
        Policy::builder()
            .allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*").unwrap())
            .build()
            .unwrap(),
    );
    assert!(v.verify(&leaf.chain_der, PeerUsage::Client, NOW).is_ok());
}

#[test]
fn a_ca_cannot_vouch_for_another_trust_domain() {
    // A CA of trust domain "other.internal" signs a leaf claiming an ID of mesh.internal.
    let other_td = TrustDomain::new("other.internal").unwrap();
    let other = Authority::create_root(&RootParams::new(other_td.clone()), NOW.sub(DAY)).unwrap();
    let forged = forge(
        &other,
        leaf_params(&["spiffe://mesh.internal/service/api"], &[]),
    );
    let mut b = bundle_of(&root());
    b.add_ca_der(other.root_der()).unwrap();
    let v = Verifier::new(b, any_in_domain());
    assert_eq!(
        code_of(v.verify(&[forged], PeerUsage::Client, NOW)),
        ErrorCode::IdentityNotAllowed
    );
    // Its own members pass.
    let own = other
        .issue(
            &IssueRequest::new(meshtls_core::SpiffeId::service(&other_td, "x").unwrap()),
            NOW,
        )
        .unwrap();
    let mut b = TrustBundle::new();
    b.add_ca_der(other.root_der()).unwrap();
    let v = Verifier::new(
        b,
        Policy::builder()
            .allow_trust_domain(other_td)
            .build()
            .unwrap(),
    );
    assert!(v.verify(&own.chain_der, PeerUsage::Client, NOW).is_ok());
    // And meshtls refuses to issue outside the CA's trust domain in the first place.
    let err = other.issue(&IssueRequest::new(id("api")), NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
}

/// Signs arbitrary leaf parameters with the CA's key: for certificates meshtls itself never
/// issues (an attacker's, or another tool's).
fn forge(ca: &Authority, params: rcgen::CertificateParams) -> Vec<u8> {
    let key =
        meshtls_core::encoding::parse_private_key(ca.plaintext_key_pem().0.as_bytes()).unwrap();
    let ca_key = rcgen::KeyPair::try_from(key.as_slice()).unwrap();
    let issuer =
        rcgen::Issuer::from_ca_cert_der(&ca.certificate_der().to_vec().into(), ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    params.signed_by(&leaf_key, &issuer).unwrap().der().to_vec()
}

fn leaf_params(uris: &[&str], dns: &[&str]) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::default();
    for u in uris {
        p.subject_alt_names
            .push(rcgen::SanType::URI((*u).try_into().unwrap()));
    }
    for d in dns {
        p.subject_alt_names
            .push(rcgen::SanType::DnsName((*d).try_into().unwrap()));
    }
    p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    // The profile asks every certificate below an anchor for an authorityKeyIdentifier.
    p.use_authority_key_identifier_extension = true;
    p.not_before = meshtls_time(NOW.sub(HOUR));
    p.not_after = meshtls_time(NOW.add(HOUR));
    p
}

#[test]
fn usage_server_only_cert_cannot_be_a_client() {
    let ca = root();
    let server = ca
        .issue(&IssueRequest::new(id("api")).with_usage(Usage::Server), NOW)
        .unwrap();
    let client = ca
        .issue(&IssueRequest::new(id("cli")).with_usage(Usage::Client), NOW)
        .unwrap();
    let v = verifier_for(&ca, any_in_domain());
    assert_eq!(
        code_of(v.verify(&server.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::WrongUsage
    );
    assert!(v.verify(&server.chain_der, PeerUsage::Server, NOW).is_ok());
    assert_eq!(
        code_of(v.verify(&client.chain_der, PeerUsage::Server, NOW)),
        ErrorCode::WrongUsage
    );
    assert!(v.verify(&client.chain_der, PeerUsage::Client, NOW).is_ok());
}

#[test]
fn tampered_signature_is_bad_signature() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let mut der = leaf.cert_der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let v = verifier_for(&ca, any_in_domain());
    assert_eq!(
        code_of(v.verify(&[der], PeerUsage::Client, NOW)),
        ErrorCode::BadSignature
    );
    // Tampering with the signed part (a byte of the SPIFFE ID) is caught the same way.
    let mut der = leaf.cert_der.clone();
    let pos = der.windows(3).position(|w| w == b"api").unwrap();
    der[pos] = b'x';
    assert_eq!(
        code_of(v.verify(&[der], PeerUsage::Client, NOW)),
        ErrorCode::BadSignature
    );
}

#[test]
fn garbage_truncated_and_empty_input_are_malformed() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let v = verifier_for(&ca, any_in_domain());
    let empty: Vec<Vec<u8>> = vec![];
    assert_eq!(
        code_of(v.verify(&empty, PeerUsage::Client, NOW)),
        ErrorCode::NoCertificate
    );
    assert_eq!(
        code_of(v.verify(&[b"garbage".to_vec()], PeerUsage::Client, NOW)),
        ErrorCode::Malformed
    );
    assert_eq!(
        code_of(v.verify(&[Vec::<u8>::new()], PeerUsage::Client, NOW)),
        ErrorCode::Malformed
    );
    let truncated = leaf.cert_der[..leaf.cert_der.len() / 2].to_vec();
    assert_eq!(
        code_of(v.verify(&[truncated], PeerUsage::Client, NOW)),
        ErrorCode::Malformed
    );
    let half_pem = &leaf.chain_pem[..leaf.chain_pem.len() / 2];
    assert_eq!(
        code_of(v.verify_pem(half_pem.as_bytes(), PeerUsage::Client, NOW)),
        ErrorCode::Malformed
    );
    assert_eq!(
        code_of(v.verify_pem(b"", PeerUsage::Client, NOW)),
        ErrorCode::Malformed
    );
    assert_eq!(
        TrustBundle::from_pem(b"nonsense").unwrap_err().code(),
        ErrorCode::Malformed
    );
    // A leaf is not a trust anchor.
    assert_eq!(
        TrustBundle::from_pem(leaf.cert_pem.as_bytes())
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn intermediate_path_and_depth_limit() {
    let ca = root();
    let i1 = ca
        .create_intermediate(
            &IntermediateParams {
                path_len: Some(1),
                ..IntermediateParams::new()
            },
            NOW,
        )
        .unwrap();
    let i2 = i1
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    let leaf = issue(&i2, "api");
    assert_eq!(leaf.chain_der.len(), 3, "leaf + two intermediates");
    let v = verifier_for(&ca, any_in_domain());
    assert!(v.verify(&leaf.chain_der, PeerUsage::Client, NOW).is_ok());
    // Intermediates in any order.
    let shuffled = vec![
        leaf.chain_der[0].clone(),
        leaf.chain_der[2].clone(),
        leaf.chain_der[1].clone(),
    ];
    assert!(v.verify(&shuffled, PeerUsage::Client, NOW).is_ok());
    // A missing intermediate breaks the path.
    let missing = vec![leaf.chain_der[0].clone(), leaf.chain_der[2].clone()];
    assert_eq!(
        code_of(v.verify(&missing, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
    // A stricter depth limit.
    let strict = Policy::builder()
        .allow_trust_domain(td())
        .max_intermediates(1)
        .build()
        .unwrap();
    assert_eq!(strict.max_intermediates(), 1);
    assert_eq!(any_in_domain().max_intermediates(), 4);
    let v = Verifier::new(bundle_of(&ca), strict);
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::ChainTooLong
    );
    // path_len 0 forbids another level.
    assert_eq!(
        i2.create_intermediate(&IntermediateParams::new(), NOW)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn ca_rotation_overlap_then_drop_old() {
    let old = root();
    let new = Authority::create_root(&RootParams::new(td()), NOW).unwrap();
    let leaf_old = issue(&old, "api");
    let leaf_new = issue(&new, "api");
    let overlap = bundle_of(&old).merged(&bundle_of(&new));
    assert_eq!(overlap.len(), 2);
    let v = Verifier::new(overlap.clone(), any_in_domain());
    assert!(v
        .verify(&leaf_old.chain_der, PeerUsage::Client, NOW)
        .is_ok());
    assert!(v
        .verify(&leaf_new.chain_der, PeerUsage::Client, NOW)
        .is_ok());
    let mut after = overlap;
    assert!(after.remove_ca(&old.certificate().fingerprint));
    assert!(!after.remove_ca(&old.certificate().fingerprint));
    let v = Verifier::new(after, any_in_domain());
    assert_eq!(
        code_of(v.verify(&leaf_old.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
    assert!(v
        .verify(&leaf_new.chain_der, PeerUsage::Client, NOW)
        .is_ok());
}

#[test]
fn prune_expired_drops_only_expired_cas() {
    let short = Authority::create_root(
        &RootParams {
            validity: 2 * DAY,
            ..RootParams::new(td())
        },
        NOW,
    )
    .unwrap();
    let long = root();
    let mut b = bundle_of(&short).merged(&bundle_of(&long));
    assert_eq!(b.prune_expired(NOW), 0);
    assert_eq!(b.prune_expired(NOW.add(3 * DAY)), 1);
    assert_eq!(
        b.cas().next().unwrap().fingerprint,
        long.certificate().fingerprint
    );
}

#[test]
fn pins_on_cert_and_spki() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let other = issue(&ca, "api");
    let cert = meshtls_core::Certificate::from_der(&leaf.cert_der).unwrap();
    let v = verifier_for(
        &ca,
        Policy::builder()
            .allow_id(id("api"))
            .pin_cert(leaf.fingerprint)
            .build()
            .unwrap(),
    );
    assert!(v.verify(&leaf.chain_der, PeerUsage::Server, NOW).is_ok());
    assert_eq!(
        code_of(v.verify(&other.chain_der, PeerUsage::Server, NOW)),
        ErrorCode::NotPinned
    );
    let v = verifier_for(
        &ca,
        Policy::builder()
            .pin_spki(cert.spki_fingerprint)
            .build()
            .unwrap(),
    );
    assert!(v.verify(&leaf.chain_der, PeerUsage::Server, NOW).is_ok());
    assert_eq!(
        code_of(v.verify(&other.chain_der, PeerUsage::Server, NOW)),
        ErrorCode::NotPinned
    );
    let bogus = Fingerprint::from_hex(&"ab".repeat(32)).unwrap();
    let v = verifier_for(
        &ca,
        Policy::builder()
            .allow_any()
            .pin_cert(bogus)
            .build()
            .unwrap(),
    );
    assert_eq!(
        code_of(v.verify(&leaf.chain_der, PeerUsage::Server, NOW)),
        ErrorCode::NotPinned
    );
}

#[test]
fn dns_policy_for_servers() {
    let ca = root();
    let leaf = ca
        .issue(
            &IssueRequest::new(id("api"))
                .with_dns(["api.mesh.internal"])
                .with_ips(["127.0.0.1".parse().unwrap()]),
            NOW,
        )
        .unwrap();
    let ok = verifier_for(
        &ca,
        Policy::builder()
            .allow_dns("api.mesh.internal")
            .build()
            .unwrap(),
    );
    assert!(ok.verify(&leaf.chain_der, PeerUsage::Server, NOW).is_ok());
    let ip = verifier_for(
        &ca,
        Policy::builder().allow_dns("127.0.0.1").build().unwrap(),
    );
    assert!(ip.verify(&leaf.chain_der, PeerUsage::Server, NOW).is_ok());
    let wrong = verifier_for(
        &ca,
        Policy::builder()
            .allow_dns("db.mesh.internal")
            .build()
            .unwrap(),
    );
    assert_eq!(
        code_of(wrong.verify(&leaf.chain_der, PeerUsage::Server, NOW)),
        ErrorCode::IdentityNotAllowed
    );
}

#[test]
fn empty_policy_fails_closed() {
    assert_eq!(
        Policy::builder().build().unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        Policy::builder()
            .allow_dns("not a name")
            .build()
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn name_constraints_are_enforced_at_issuance_and_verification() {
    let params = RootParams {
        permitted_dns: vec!["mesh.internal".into()],
        ..RootParams::new(td())
    };
    let ca = Authority::create_root(&params, NOW.sub(DAY)).unwrap();
    assert_eq!(
        ca.certificate().permitted_dns,
        vec!["mesh.internal".to_string()]
    );
    let ok = ca
        .issue(
            &IssueRequest::new(id("api")).with_dns(["api.mesh.internal"]),
            NOW,
        )
        .unwrap();
    let v = verifier_for(&ca, any_in_domain());
    assert!(
        v.verify(&ok.chain_der, PeerUsage::Server, NOW).is_ok(),
        "URI SANs pass under DNS-only constraints"
    );
    let err = ca
        .issue(
            &IssueRequest::new(id("api")).with_dns(["evil.example.com"]),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    // A suffix that is not a label boundary is outside too.
    let err = ca
        .issue(
            &IssueRequest::new(id("api")).with_dns(["evilmesh.internal"]),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    assert!(ca
        .issue(
            &IssueRequest::new(id("api")).with_dns(["MESH.internal"]),
            NOW
        )
        .is_ok());
    // An intermediate cannot widen its parent's constraints.
    let err = ca
        .create_intermediate(
            &IntermediateParams {
                permitted_dns: vec!["example.com".into()],
                ..IntermediateParams::new()
            },
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    // A leaf forged outside the constraints (meshtls would not issue it) fails verification.
    let outside = forge(
        &ca,
        leaf_params(
            &["spiffe://mesh.internal/service/api"],
            &["evil.example.com"],
        ),
    );
    assert_eq!(
        code_of(v.verify(&[outside], PeerUsage::Server, NOW)),
        ErrorCode::NameConstraintViolation
    );
}

#[test]
fn csr_issuance_keeps_the_key_with_the_requester() {
    let ca = root();
    let csr = meshtls_core::create_csr(
        &id("agent"),
        &["agent.local".into()],
        meshtls_core::KeyAlgorithm::EcdsaP256,
    )
    .unwrap();
    let req = IssueRequest::from_csr(csr.csr_pem.as_bytes()).unwrap();
    assert_eq!(req.id, id("agent"));
    let issued = ca.issue(&req, NOW).unwrap();
    assert!(issued.key_pem.is_none());
    // The certificate carries the CSR's public key.
    let cert = meshtls_core::Certificate::from_der(&issued.cert_der).unwrap();
    let csr_key = rcgen::KeyPair::try_from(csr.key_der.as_slice()).unwrap();
    assert_eq!(
        rcgen::PublicKeyData::subject_public_key_info(&csr_key),
        cert.spki_der
    );
    assert_eq!(cert.dns_names, vec!["agent.local".to_string()]);
    assert!(verifier_for(&ca, any_in_domain())
        .verify(&issued.chain_der, PeerUsage::Client, NOW)
        .is_ok());
    // The request may not rename the CSR's identity.
    let err = ca
        .issue(
            &IssueRequest::new(id("admin")).with_key(KeySource::Csr(csr.csr_der.clone())),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
}

#[test]
fn csr_with_a_bad_signature_is_rejected() {
    let ca = root();
    let csr =
        meshtls_core::create_csr(&id("agent"), &[], meshtls_core::KeyAlgorithm::EcdsaP256).unwrap();
    let mut der = csr.csr_der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let err = ca
        .issue(
            &IssueRequest::new(id("agent")).with_key(KeySource::Csr(der)),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::BadSignature);
    let err = ca
        .issue(
            &IssueRequest::new(id("agent")).with_key(KeySource::Csr(b"junk".to_vec())),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Malformed);
}

#[test]
fn issued_leaf_follows_the_svid_profile() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let c = meshtls_core::Certificate::from_der(&leaf.cert_der).unwrap();
    assert_eq!(c.uris, vec![id("api").to_string()]);
    assert!(!c.is_ca);
    let ku = c.key_usage.unwrap();
    assert!(ku.digital_signature && !ku.key_cert_sign && !ku.crl_sign);
    assert!(c.server_auth && c.client_auth);
    assert!(c.subject_key_id.is_some());
    assert_eq!(c.authority_key_id, ca.certificate().subject_key_id);
    assert_eq!(c.key_algorithm, "ECDSA P-256");
    // 128 random bits, positive: 16 bytes with a non-zero first byte.
    assert_eq!(c.serial.as_bytes().len(), 16);
    assert_eq!(c.not_after, NOW.add(90 * DAY));
    assert_eq!(
        c.lifetime().as_secs(),
        90 * 86_400 + 60,
        "backdated by a minute"
    );
    let other = issue(&ca, "api");
    assert_ne!(other.serial, leaf.serial);
}

#[test]
fn lifetime_rules() {
    let ca = root();
    let err = ca
        .issue(
            &IssueRequest::new(id("api")).with_lifetime(std::time::Duration::from_secs(59)),
            NOW,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    let one_minute = ca
        .issue(
            &IssueRequest::new(id("api")).with_lifetime(std::time::Duration::from_secs(60)),
            NOW,
        )
        .unwrap();
    assert_eq!(
        one_minute.not_after,
        NOW.add(std::time::Duration::from_secs(60))
    );
    // Never outlive the issuer.
    let err = ca
        .issue(&IssueRequest::new(id("api")).with_lifetime(3651 * DAY), NOW)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    // An expired CA issues nothing.
    let err = ca
        .issue(&IssueRequest::new(id("api")), NOW.add(3700 * DAY))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
}

#[test]
fn every_key_algorithm_issues_and_verifies() {
    for alg in meshtls_core::KeyAlgorithm::ALL {
        let ca = Authority::create_root(
            &RootParams {
                key: *alg,
                ..RootParams::new(td())
            },
            NOW.sub(DAY),
        )
        .unwrap();
        let leaf = ca
            .issue(
                &IssueRequest::new(id("api")).with_key(KeySource::Generate(*alg)),
                NOW,
            )
            .unwrap();
        let v = verifier_for(&ca, any_in_domain());
        let peer = v
            .verify(&leaf.chain_der, PeerUsage::Client, NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(peer.spiffe_id, Some(id("api")));
        assert_eq!(ca.key_algorithm(), *alg);
    }
}

#[test]
fn ca_key_encrypted_at_rest() {
    let ca = root();
    let key = ca.encrypted_key_pem("correct horse").unwrap();
    assert!(key.0.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let chain = ca.chain_pem();
    let loaded =
        Authority::from_pem(chain.as_bytes(), key.0.as_bytes(), Some("correct horse")).unwrap();
    assert_eq!(
        loaded.certificate().fingerprint,
        ca.certificate().fingerprint
    );
    assert_eq!(loaded.trust_domain(), ca.trust_domain());
    // The loaded CA issues leaves the original's bundle accepts.
    let leaf = issue(&loaded, "api");
    assert!(verifier_for(&ca, any_in_domain())
        .verify(&leaf.chain_der, PeerUsage::Client, NOW)
        .is_ok());
    let err = Authority::from_pem(chain.as_bytes(), key.0.as_bytes(), Some("wrong")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongPassphrase);
    let err = Authority::from_pem(chain.as_bytes(), key.0.as_bytes(), None).unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::WrongPassphrase,
        "an encrypted key without a passphrase"
    );
    let err = Authority::from_pem(chain.as_bytes(), b"garbage", Some("x")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Malformed);
    // Someone else's key with this certificate.
    let other = root();
    let err = Authority::from_pem(
        chain.as_bytes(),
        other.encrypted_key_pem("p").unwrap().0.as_bytes(),
        Some("p"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    assert_eq!(
        ca.encrypted_key_pem("").unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn intermediate_round_trips_through_pem() {
    let ca = root();
    let inter = ca
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    let key = inter.encrypted_key_pem("pw").unwrap();
    let loaded =
        Authority::from_pem(inter.chain_pem().as_bytes(), key.0.as_bytes(), Some("pw")).unwrap();
    assert!(!loaded.is_root());
    assert_eq!(loaded.root_der(), ca.root_der());
    let leaf = issue(&loaded, "api");
    assert_eq!(leaf.chain_der.len(), 2);
    assert!(verifier_for(&ca, any_in_domain())
        .verify(&leaf.chain_der, PeerUsage::Client, NOW)
        .is_ok());
    // Without the root in the file the intermediate cannot be placed.
    let err = Authority::from_pem(
        inter.certificate_pem().as_bytes(),
        key.0.as_bytes(),
        Some("pw"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    // A leaf is not a CA.
    let l = issue(&ca, "x");
    let err = Authority::from_pem(l.cert_pem.as_bytes(), l.key_pem.unwrap().as_bytes(), None)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
}

#[test]
fn pkcs12_round_trip_both_profiles() {
    let ca = root();
    let leaf = issue(&ca, "api");
    for profile in [
        meshtls_core::Pkcs12Profile::Modern,
        meshtls_core::Pkcs12Profile::Legacy,
    ] {
        let pfx = leaf.to_pkcs12("pfx-pass", profile).unwrap();
        let (key, chain) = meshtls_core::encoding::from_pkcs12(&pfx, "pfx-pass").unwrap();
        assert_eq!(key, leaf.key_der.clone().unwrap());
        assert_eq!(chain[0], leaf.cert_der);
        assert_eq!(
            meshtls_core::encoding::from_pkcs12(&pfx, "nope")
                .unwrap_err()
                .code(),
            ErrorCode::WrongPassphrase
        );
    }
    let csr =
        meshtls_core::create_csr(&id("api"), &[], meshtls_core::KeyAlgorithm::EcdsaP256).unwrap();
    let from_csr = ca
        .issue(&IssueRequest::from_csr(&csr.csr_der).unwrap(), NOW)
        .unwrap();
    assert_eq!(
        from_csr
            .to_pkcs12("x", Default::default())
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn leaves_outside_the_svid_profile_are_rejected() {
    let ca = root();
    let v = verifier_for(&ca, Policy::allow_any());
    let two = forge(
        &ca,
        leaf_params(
            &[
                "spiffe://mesh.internal/service/a",
                "spiffe://mesh.internal/service/b",
            ],
            &[],
        ),
    );
    assert_eq!(
        code_of(v.verify(&[two], PeerUsage::Client, NOW)),
        ErrorCode::InvalidSvid
    );
    let not_spiffe = forge(&ca, leaf_params(&["https://mesh.internal/a"], &[]));
    assert_eq!(
        code_of(v.verify(&[not_spiffe], PeerUsage::Client, NOW)),
        ErrorCode::InvalidSvid
    );
    let mut signer = leaf_params(&["spiffe://mesh.internal/service/a"], &[]);
    signer.key_usages.push(rcgen::KeyUsagePurpose::KeyCertSign);
    assert_eq!(
        code_of(v.verify(&[forge(&ca, signer)], PeerUsage::Client, NOW)),
        ErrorCode::InvalidSvid
    );
    let mut no_sig = leaf_params(&["spiffe://mesh.internal/service/a"], &[]);
    no_sig.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment];
    assert_eq!(
        code_of(v.verify(&[forge(&ca, no_sig)], PeerUsage::Client, NOW)),
        ErrorCode::InvalidSvid
    );
    // The control: the same forge with a proper profile passes.
    let fine = forge(&ca, leaf_params(&["spiffe://mesh.internal/service/a"], &[]));
    assert!(v.verify(&[fine], PeerUsage::Client, NOW).is_ok());
}

fn meshtls_time(t: meshtls_core::Timestamp) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(t.unix()).unwrap()
}

#[test]
fn rotation_policy_schedule() {
    use meshtls_core::rotation::{FixedJitter, RotationStatus};
    let ca = root();
    let leaf = ca
        .issue(&IssueRequest::new(id("api")).with_lifetime(90 * DAY), NOW)
        .unwrap();
    let cert = meshtls_core::Certificate::from_der(&leaf.cert_der).unwrap();
    let p = meshtls_core::RotationPolicy::default();
    let lifetime = cert.lifetime().as_secs() as i64;
    let two_thirds = cert.not_before.unix() + lifetime * 2 / 3;
    match p.status(&cert, NOW) {
        RotationStatus::Fresh { renew_at } => {
            assert!(renew_at.unix() <= two_thirds + 1);
            assert!(
                renew_at.unix() >= two_thirds - lifetime / 20 - 1,
                "jitter is at most 5% of the lifetime"
            );
            assert_eq!(
                p.status(&cert, NOW),
                RotationStatus::Fresh { renew_at },
                "stable for one certificate"
            );
            assert_eq!(p.status(&cert, renew_at), RotationStatus::RenewDue);
            assert_eq!(
                p.next_check(RotationStatus::Fresh { renew_at }, NOW, HOUR),
                renew_at
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.status(&cert, cert.not_after), RotationStatus::Expired);
    let none = p.with_jitter(0.0).unwrap();
    assert_eq!(
        none.status_with(cert.not_before, cert.not_after, NOW, &mut FixedJitter(0.9)),
        RotationStatus::Fresh {
            renew_at: meshtls_core::Timestamp::from_unix(two_thirds)
        }
    );
    let margin = meshtls_core::RotationPolicy::before_expiry(DAY)
        .with_jitter(0.0)
        .unwrap();
    assert_eq!(
        margin.status_with(cert.not_before, cert.not_after, NOW, &mut FixedJitter(0.0)),
        RotationStatus::Fresh {
            renew_at: cert.not_after.sub(DAY)
        }
    );
    assert!(meshtls_core::RotationPolicy::at_fraction(1.5).is_err());
    assert!(p.with_jitter(0.9).is_err());
    // Full jitter moves the time earlier by exactly the jitter window.
    let full = p.status_with(cert.not_before, cert.not_after, NOW, &mut FixedJitter(1.0));
    let RotationStatus::Fresh { renew_at } = full else {
        panic!()
    };
    assert!(renew_at.unix() >= two_thirds - lifetime / 20 - 1 && renew_at.unix() < two_thirds);
}

#[test]
fn renewal_request_keeps_everything_but_the_key() {
    let ca = root();
    let old = ca
        .issue(
            &IssueRequest::new(id("api"))
                .with_dns(["api.mesh.internal"])
                .with_ips(["10.1.2.3".parse().unwrap()])
                .with_common_name("api-1")
                .with_usage(Usage::Server)
                .with_lifetime(2 * DAY)
                .with_key(KeySource::Generate(meshtls_core::KeyAlgorithm::EcdsaP384))
                .with_crl_distribution_point("http://ca.mesh.internal/crl"),
            NOW,
        )
        .unwrap();
    let old_cert = meshtls_core::Certificate::from_der(&old.cert_der).unwrap();
    let req = IssueRequest::renewal_of(&old_cert).unwrap();
    assert_eq!(req.lifetime, 2 * DAY);
    assert_eq!(
        req.key,
        KeySource::Generate(meshtls_core::KeyAlgorithm::EcdsaP384)
    );
    let new = ca.issue(&req, NOW.add(DAY)).unwrap();
    let c = meshtls_core::Certificate::from_der(&new.cert_der).unwrap();
    assert_eq!(c.spiffe_id, old_cert.spiffe_id);
    assert_eq!(c.dns_names, old_cert.dns_names);
    assert_eq!(c.ip_addresses, old_cert.ip_addresses);
    assert_eq!(c.common_name.as_deref(), Some("api-1"));
    assert!(c.server_auth && !c.client_auth);
    assert_eq!(c.crl_distribution_points, old_cert.crl_distribution_points);
    assert_eq!(c.lifetime(), old_cert.lifetime());
    assert_ne!(c.spki_der, old_cert.spki_der, "a new key");
    // A certificate without a SPIFFE ID is not renewed as an SVID.
    let mut no_id = old_cert.clone();
    no_id.spiffe_id = None;
    assert_eq!(
        IssueRequest::renewal_of(&no_id).unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn authority_renew_checks_the_issuer_and_crl_entries_list() {
    let ca = root();
    let other = root();
    let old = issue(&ca, "api");
    let cert = meshtls_core::Certificate::from_der(&old.cert_der).unwrap();
    assert_eq!(cert.usage(), Some(Usage::Both));
    assert_eq!(cert.key_kind(), Some(meshtls_core::KeyAlgorithm::EcdsaP256));
    let renewed = ca.renew(&cert, NOW.add(DAY)).unwrap();
    assert_ne!(renewed.serial, old.serial);
    assert_eq!(
        other.renew(&cert, NOW).unwrap_err().code(),
        ErrorCode::InvalidRequest
    );

    let mut records = RevocationList::new();
    records
        .revoke(old.serial.clone(), RevocationReason::Superseded, NOW)
        .unwrap();
    records
        .revoke(
            renewed.serial.clone(),
            RevocationReason::KeyCompromise,
            NOW.add(DAY),
        )
        .unwrap();
    let crl = ca
        .build_crl(&records, &CrlParams::new(7, NOW.add(DAY)))
        .unwrap();
    let mut entries = crl.entries().unwrap();
    entries.sort_by_key(|e| e.revoked_at);
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0].serial.clone(), entries[0].reason),
        (old.serial.clone(), RevocationReason::Superseded)
    );
    assert_eq!(
        (
            entries[1].serial.clone(),
            entries[1].reason,
            entries[1].revoked_at
        ),
        (
            renewed.serial.clone(),
            RevocationReason::KeyCompromise,
            NOW.add(DAY)
        )
    );
    assert_eq!(crl.number, Some(7));
}

#[test]
fn bundle_trust_domains_policy() {
    let ca = root();
    let other_td = TrustDomain::new("other.internal").unwrap();
    let other = Authority::create_root(&RootParams::new(other_td.clone()), NOW.sub(DAY)).unwrap();
    let b = bundle_of(&ca).merged(&bundle_of(&other));
    assert_eq!(b.trust_domains(), vec![td(), other_td.clone()]);
    let policy = Policy::builder()
        .allow_bundle_trust_domains(&b)
        .build()
        .unwrap();
    let v = Verifier::new(b, policy);
    assert!(v
        .verify(&issue(&ca, "api").chain_der, PeerUsage::Client, NOW)
        .is_ok());
    let theirs = other
        .issue(
            &IssueRequest::new(meshtls_core::SpiffeId::service(&other_td, "x").unwrap()),
            NOW,
        )
        .unwrap();
    assert!(v.verify(&theirs.chain_der, PeerUsage::Client, NOW).is_ok());
    // No trust domain in an empty bundle: the policy fails closed.
    assert_eq!(
        Policy::builder()
            .allow_bundle_trust_domains(&TrustBundle::new())
            .build()
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn csr_for_an_existing_key_and_text_forms() {
    let ca = root();
    let key = meshtls_core::generate_key(meshtls_core::KeyAlgorithm::EcdsaP256).unwrap();
    let a = meshtls_core::create_csr_with_key(&id("agent"), &[], &key).unwrap();
    let pem_key = meshtls_core::encoding::key_pem(&key);
    let b = meshtls_core::create_csr_with_key(&id("agent"), &[], pem_key.as_bytes()).unwrap();
    let ia = ca
        .issue(&IssueRequest::from_csr(&a.csr_der).unwrap(), NOW)
        .unwrap();
    let ib = ca
        .issue(&IssueRequest::from_csr(&b.csr_der).unwrap(), NOW)
        .unwrap();
    let spki = |i: &meshtls_core::Issued| {
        meshtls_core::Certificate::from_der(&i.cert_der)
            .unwrap()
            .spki_der
    };
    assert_eq!(spki(&ia), spki(&ib), "both CSRs carry the one key");
    assert_eq!(
        meshtls_core::create_csr_with_key(&id("agent"), &[], b"junk")
            .unwrap_err()
            .code(),
        ErrorCode::Malformed
    );
    assert_eq!("client".parse::<PeerUsage>().unwrap(), PeerUsage::Client);
    assert_eq!(PeerUsage::Server.as_str(), "server");
    assert!("both".parse::<PeerUsage>().is_err());
    assert_eq!(
        "legacy".parse::<meshtls_core::Pkcs12Profile>().unwrap(),
        meshtls_core::Pkcs12Profile::Legacy
    );
    assert!("pfx".parse::<meshtls_core::Pkcs12Profile>().is_err());
    assert_eq!(
        meshtls_core::encoding::hex_decode(&meshtls_core::encoding::hex_encode(&[1, 255])),
        Some(vec![1, 255])
    );
}

#[test]
fn crl_numbers_grow_with_the_records() {
    let ca = root();
    let mut records = RevocationList::new();
    let first = records.next_crl_params(NOW);
    let second = records.next_crl_params(NOW.add(HOUR));
    assert_eq!((first.number, second.number), (1, 2));
    assert_eq!(second.next_update, NOW.add(HOUR).add(7 * DAY));
    let text = records.to_text();
    let mut back = RevocationList::from_text(&text).unwrap();
    assert_eq!(
        back.next_crl_params(NOW).number,
        3,
        "the counter survives the records file"
    );
    let crl = ca.build_crl(&records, &second).unwrap();
    assert_eq!(crl.number, Some(2));
}

#[test]
fn pkcs12_from_pem_and_reason_numbers() {
    let ca = root();
    let leaf = issue(&ca, "api");
    let pfx = meshtls_core::encoding::pkcs12_from_pem(
        leaf.chain_pem.as_bytes(),
        leaf.key_pem.as_ref().unwrap().as_bytes(),
        None,
        "pw",
        meshtls_core::Pkcs12Profile::Legacy,
    )
    .unwrap();
    let (key, chain) = meshtls_core::encoding::from_pkcs12(&pfx, "pw").unwrap();
    assert_eq!(
        (Some(key), chain),
        (leaf.key_der.clone(), leaf.chain_der.clone())
    );
    let enc =
        meshtls_core::encoding::encrypt_private_key(leaf.key_der.as_ref().unwrap(), "k").unwrap();
    let err = meshtls_core::encoding::pkcs12_from_pem(
        leaf.chain_pem.as_bytes(),
        enc.0.as_bytes(),
        Some("x"),
        "pw",
        Default::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongPassphrase);
    for r in RevocationReason::ALL {
        assert_eq!(
            RevocationReason::from_rfc5280_code(r.rfc5280_code()).unwrap(),
            *r
        );
    }
    assert_eq!(RevocationReason::KeyCompromise.rfc5280_code(), 1);
    assert_eq!(
        RevocationReason::from_rfc5280_code(7).unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
    let peer = verifier_for(&ca, any_in_domain())
        .verify(
            &ca.issue(
                &IssueRequest::new(id("ip")).with_ips(["10.0.0.1".parse().unwrap()]),
                NOW,
            )
            .unwrap()
            .chain_der,
            PeerUsage::Client,
            NOW,
        )
        .unwrap();
    assert_eq!(
        peer.ip_addresses,
        vec!["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
}

/// Presented intermediates are parsed once per verifier; every rule still runs on each
/// verification, whether the intermediate came from that cache or not, and a verifier that
/// has seen more intermediates than it keeps starts over without changing a verdict.
#[test]
fn cached_intermediates_keep_every_rule() {
    let ca = root();
    let inter = ca
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    let api = inter
        .issue(&IssueRequest::new(id("api")).with_usage(Usage::Client), NOW)
        .unwrap();
    let db = issue(&inter, "db");
    let v = verifier_for(&ca, Policy::builder().allow_id(id("api")).build().unwrap());
    let shared = v.clone();
    for round in 0..2 {
        assert!(v.verify(&api.chain_der, PeerUsage::Client, NOW).is_ok());
        assert_eq!(
            code_of(v.verify(&db.chain_der, PeerUsage::Client, NOW)),
            ErrorCode::IdentityNotAllowed,
            "round {round}"
        );
        assert_eq!(
            code_of(v.verify(&api.chain_der, PeerUsage::Server, NOW)),
            ErrorCode::WrongUsage,
            "round {round}"
        );
        // The intermediate's validity (3 years) is checked at each verification's time.
        assert_eq!(
            code_of(v.verify(&api.chain_der, PeerUsage::Client, NOW.add(4 * 365 * DAY))),
            ErrorCode::Expired,
            "round {round}"
        );
        assert!(shared
            .verify(&api.chain_der, PeerUsage::Client, NOW)
            .is_ok());
    }
    // A rogue intermediate of the same trust domain under another root, after ours is cached.
    let rogue = root()
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    let forged = issue(&rogue, "api");
    assert_eq!(
        code_of(v.verify(&forged.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
    // The leaf of our intermediate presented with the rogue one: no path.
    let mixed = vec![api.chain_der[0].clone(), forged.chain_der[1].clone()];
    assert_eq!(
        code_of(v.verify(&mixed, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
    // More distinct intermediates than the verifier keeps parsed: verdicts do not change.
    let any = verifier_for(&ca, any_in_domain());
    let first = issue(&inter, "api");
    assert!(any.verify(&first.chain_der, PeerUsage::Client, NOW).is_ok());
    for n in 0..260 {
        let other = ca
            .create_intermediate(&IntermediateParams::new(), NOW)
            .unwrap();
        let chain = vec![api.chain_der[0].clone(), other.certificate_der().to_vec()];
        assert_eq!(
            code_of(any.verify(&chain, PeerUsage::Client, NOW)),
            ErrorCode::UnknownIssuer,
            "intermediate {n}"
        );
    }
    assert!(any.verify(&first.chain_der, PeerUsage::Client, NOW).is_ok());
    assert_eq!(
        code_of(any.verify(&forged.chain_der, PeerUsage::Client, NOW)),
        ErrorCode::UnknownIssuer
    );
}

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::identity::{IdPattern, TrustDomain};
use crate::verify::Policy;
use crate::{Authority, IssueRequest, RootParams};

const NOW: Timestamp = Timestamp::from_unix(1_790_000_000);

fn sub() -> SpiffeId {
    SpiffeId::parse("spiffe://mesh.internal/service/api").unwrap()
}

fn td() -> TrustDomain {
    TrustDomain::new("mesh.internal").unwrap()
}

fn policy() -> Policy {
    Policy::builder()
        .allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*").unwrap())
        .build()
        .unwrap()
}

fn setup(alg: JwtAlgorithm) -> (JwtSigningKey, JwtValidator) {
    let key = JwtSigningKey::generate(alg).unwrap();
    let mut bundle = SpiffeBundle::new(Some(td()));
    bundle.add_jwt_key(key.public_key().clone()).unwrap();
    let v = JwtValidator::new(&bundle, policy(), ["orders"]).unwrap();
    (key, v)
}

fn code(r: Result<TokenClaims>) -> &'static str {
    r.err().map(|e| e.code().as_str()).unwrap_or("ok")
}

fn later() -> Timestamp {
    NOW.add(Duration::from_secs(10))
}

#[test]
fn every_algorithm_mints_and_validates() {
    for alg in JwtAlgorithm::ALL {
        let (key, v) = setup(*alg);
        let t = key
            .mint(
                &TokenRequest::new(sub(), ["orders", "billing"])
                    .roles(["reader"])
                    .scope("orders:read"),
                NOW,
            )
            .unwrap();
        let claims = v.validate(&t.token, None, later()).unwrap();
        assert_eq!(claims.subject, sub());
        assert_eq!(claims.audience, vec!["orders", "billing"]);
        assert_eq!(claims.expires_at, NOW.add(DEFAULT_TOKEN_TTL));
        assert_eq!(claims.roles, vec!["reader"]);
        assert_eq!(claims.scope.as_deref(), Some("orders:read"));
        assert_eq!(claims.algorithm, *alg);
        assert_eq!(claims.key_id, key.kid());
        assert_eq!(claims, t.claims);
    }
}

#[test]
fn tampered_claims_fail_the_signature() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let t = key
        .mint(&TokenRequest::new(sub(), ["orders"]), NOW)
        .unwrap();
    let parts: Vec<&str> = t.token.split('.').collect();
    let mut claims = t.claims.to_json();
    claims["sub"] = json!("spiffe://mesh.internal/service/admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(code(v.validate(&forged, None, later())), "token_signature");
    let mut sig = b64url_decode(parts[2]).unwrap();
    sig[5] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64url(&sig));
    assert_eq!(code(v.validate(&flipped, None, later())), "token_signature");
}

#[test]
fn expiry_uses_the_policy_leeway() {
    let (key, _) = setup(JwtAlgorithm::Es256);
    let t = key
        .mint(
            &TokenRequest::new(sub(), ["orders"]).ttl(Duration::from_secs(60)),
            NOW,
        )
        .unwrap();
    let mut bundle = SpiffeBundle::new(None);
    bundle.add_jwt_key(key.public_key().clone()).unwrap();
    let strict = JwtValidator::new(&bundle, policy(), ["orders"]).unwrap();
    let exp = NOW.add(Duration::from_secs(60));
    assert_eq!(
        code(strict.validate(&t.token, None, exp.sub(Duration::from_secs(1)))),
        "ok"
    );
    assert_eq!(code(strict.validate(&t.token, None, exp)), "token_expired");
    let lenient_policy = Policy::builder()
        .allow_trust_domain(td())
        .clock_leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    let lenient = JwtValidator::new(&bundle, lenient_policy, ["orders"]).unwrap();
    assert_eq!(
        code(lenient.validate(&t.token, None, exp.add(Duration::from_secs(29)))),
        "ok"
    );
    assert_eq!(
        code(lenient.validate(&t.token, None, exp.add(Duration::from_secs(30)))),
        "token_expired"
    );
    // Issued in the future: not valid yet, unless within the leeway.
    let before = NOW.sub(Duration::from_secs(20));
    assert_eq!(
        code(strict.validate(&t.token, None, before)),
        "token_expired"
    );
    assert_eq!(code(lenient.validate(&t.token, None, before)), "ok");
}

#[test]
fn nbf_in_the_future_is_not_valid_yet() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let header = json!({"alg": "ES256", "kid": key.kid(), "typ": "JWT"});
    let claims = json!({"sub": sub().to_string(), "aud": "orders",
        "exp": NOW.unix() + 300, "nbf": NOW.unix() + 100});
    let t = key.sign_raw(&header, &claims).unwrap();
    assert_eq!(code(v.validate(&t, None, NOW)), "token_expired");
    assert_eq!(
        code(v.validate(&t, None, NOW.add(Duration::from_secs(100)))),
        "ok"
    );
}

#[test]
fn audience_must_match() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let t = key
        .mint(&TokenRequest::new(sub(), ["billing"]), NOW)
        .unwrap();
    assert_eq!(code(v.validate(&t.token, None, later())), "token_audience");
}

#[test]
fn none_hmac_and_unlisted_algorithms_are_refused() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let claims = json!({"sub": sub().to_string(), "aud": "orders", "exp": NOW.unix() + 300});
    let unsigned = format!(
        "{}.{}.",
        b64url(
            json!({"alg": "none", "kid": key.kid()})
                .to_string()
                .as_bytes()
        ),
        b64url(claims.to_string().as_bytes())
    );
    assert_eq!(code(v.validate(&unsigned, None, NOW)), "token_algorithm");
    // HS256 with the published public key as the HMAC secret: the classic confusion attack.
    let input = format!(
        "{}.{}",
        b64url(
            json!({"alg": "HS256", "kid": key.kid()})
                .to_string()
                .as_bytes()
        ),
        b64url(claims.to_string().as_bytes())
    );
    let secret = SpiffeBundle::new(None).to_json().unwrap();
    let mac = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    let hs = format!("{input}.{}", b64url(mac.as_ref()));
    assert_eq!(code(v.validate(&hs, None, NOW)), "token_algorithm");
    for alg in ["RS256", "PS256", "ES512", "hs512", "NONE"] {
        let t = format!(
            "{}.{}.AAAA",
            b64url(json!({"alg": alg, "kid": key.kid()}).to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        assert_eq!(code(v.validate(&t, None, NOW)), "token_algorithm", "{alg}");
    }
    // Allowed by the library but not by this validator.
    let es256_only = v.clone().allow_algorithms(&[JwtAlgorithm::EdDsa]).unwrap();
    let t = key
        .mint(&TokenRequest::new(sub(), ["orders"]), NOW)
        .unwrap();
    assert_eq!(
        code(es256_only.validate(&t.token, None, NOW)),
        "token_algorithm"
    );
    assert_eq!(
        v.allow_algorithms(&[]).unwrap_err().code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn key_confusion_is_refused() {
    let p256 = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let p384 = JwtSigningKey::generate(JwtAlgorithm::Es384).unwrap();
    let ed = JwtSigningKey::generate(JwtAlgorithm::EdDsa).unwrap();
    let mut bundle = SpiffeBundle::new(None);
    bundle.add_jwt_key(p256.public_key().clone()).unwrap();
    let v = JwtValidator::new(&bundle, policy(), ["orders"]).unwrap();
    let claims = json!({"sub": sub().to_string(), "aud": "orders", "exp": NOW.unix() + 300});
    // A P-384 / Ed25519 signature claiming the P-256 key's kid, with a matching alg header.
    for (signer, alg) in [(&p384, "ES384"), (&ed, "EdDSA")] {
        let t = signer
            .sign_raw(&json!({"alg": alg, "kid": p256.kid()}), &claims)
            .unwrap();
        assert_eq!(code(v.validate(&t, None, NOW)), "token_algorithm", "{alg}");
    }
    // An RSA key in the bundle is never usable.
    let rsa = JwtPublicKey::from_material(
        "rsa".into(),
        KeyMaterial::Rsa {
            n: vec![0xc5; 256],
            e: vec![1, 0, 1],
        },
    );
    bundle.add_jwt_key(rsa).unwrap();
    let v = JwtValidator::new(&bundle, policy(), ["orders"]).unwrap();
    let t = p256
        .sign_raw(&json!({"alg": "ES256", "kid": "rsa"}), &claims)
        .unwrap();
    assert_eq!(code(v.validate(&t, None, NOW)), "token_algorithm");
}

#[test]
fn kid_must_name_a_bundle_key_of_the_subject_domain() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let other = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let t = other
        .mint(&TokenRequest::new(sub(), ["orders"]), NOW)
        .unwrap();
    assert_eq!(code(v.validate(&t.token, None, NOW)), "token_unknown_key");
    let claims = json!({"sub": sub().to_string(), "aud": "orders", "exp": NOW.unix() + 300});
    let t = key.sign_raw(&json!({"alg": "ES256"}), &claims).unwrap();
    assert_eq!(code(v.validate(&t, None, NOW)), "token_unknown_key");
    // The key of mesh.internal vouching for a subject of another trust domain.
    let foreign = SpiffeId::parse("spiffe://other.internal/service/api").unwrap();
    let any = Policy::builder().allow_any().build().unwrap();
    let mut bundle = SpiffeBundle::new(Some(td()));
    bundle.add_jwt_key(key.public_key().clone()).unwrap();
    let v = JwtValidator::new(&bundle, any, ["orders"]).unwrap();
    let t = key
        .mint(&TokenRequest::new(foreign, ["orders"]), NOW)
        .unwrap();
    assert_eq!(code(v.validate(&t.token, None, NOW)), "token_unknown_key");
}

#[test]
fn subject_goes_through_the_policy() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let admin = SpiffeId::parse("spiffe://mesh.internal/admin/alice").unwrap();
    let t = key
        .mint(&TokenRequest::new(admin, ["orders"]), NOW)
        .unwrap();
    assert_eq!(
        code(v.validate(&t.token, None, NOW)),
        "identity_not_allowed"
    );
    // A policy of DNS names or pins only allows no token.
    let mut bundle = SpiffeBundle::new(None);
    bundle.add_jwt_key(key.public_key().clone()).unwrap();
    let dns_only = Policy::builder()
        .allow_dns("api.mesh.internal")
        .build()
        .unwrap();
    let v = JwtValidator::new(&bundle, dns_only, ["orders"]).unwrap();
    let t = key
        .mint(&TokenRequest::new(sub(), ["orders"]), NOW)
        .unwrap();
    assert_eq!(
        code(v.validate(&t.token, None, NOW)),
        "identity_not_allowed"
    );
}

#[test]
fn bound_tokens_need_the_matching_certificate() {
    let ca = Authority::create_root(&RootParams::new(td()), NOW).unwrap();
    let mine = ca.issue(&IssueRequest::new(sub()), NOW).unwrap();
    let theirs = ca.issue(&IssueRequest::new(sub()), NOW).unwrap();
    let (key, v) = setup(JwtAlgorithm::Es256);
    let t = key
        .mint(
            &TokenRequest::new(sub(), ["orders"]).bind_to_certificate(&mine.cert_der),
            NOW,
        )
        .unwrap();
    assert_eq!(
        t.claims.bound_thumbprint.as_deref(),
        Some(certificate_thumbprint(&mine.cert_der).as_str())
    );
    assert_eq!(code(v.validate(&t.token, Some(&mine.cert_der), NOW)), "ok");
    let by_fingerprint =
        TokenRequest::new(sub(), ["orders"]).bind_to_fingerprint(&mine.fingerprint);
    assert_eq!(
        key.mint(&by_fingerprint, NOW)
            .unwrap()
            .claims
            .bound_thumbprint,
        t.claims.bound_thumbprint
    );
    assert_eq!(
        code(v.validate(&t.token, Some(&theirs.cert_der), NOW)),
        "token_binding"
    );
    assert_eq!(code(v.validate(&t.token, None, NOW)), "token_binding");
    // An unbound token where binding is required.
    let strict = v.clone().require_binding(true);
    let unbound = key
        .mint(&TokenRequest::new(sub(), ["orders"]), NOW)
        .unwrap();
    assert_eq!(
        code(v.validate(&unbound.token, Some(&mine.cert_der), NOW)),
        "ok"
    );
    assert_eq!(
        code(strict.validate(&unbound.token, Some(&mine.cert_der), NOW)),
        "token_binding"
    );
    assert_eq!(
        code(strict.validate(&t.token, Some(&mine.cert_der), NOW)),
        "ok"
    );
    // A confirmation method meshtls does not check.
    let claims = json!({"sub": sub().to_string(), "aud": "orders", "exp": NOW.unix() + 300,
        "cnf": {"jkt": "abc"}});
    let t = key
        .sign_raw(&json!({"alg": "ES256", "kid": key.kid()}), &claims)
        .unwrap();
    assert_eq!(
        code(v.validate(&t, Some(&mine.cert_der), NOW)),
        "token_binding"
    );
}

#[test]
fn malformed_tokens_have_their_code() {
    let (key, v) = setup(JwtAlgorithm::Es256);
    let h = json!({"alg": "ES256", "kid": key.kid()});
    let exp = NOW.unix() + 300;
    let signed = |claims: serde_json::Value| key.sign_raw(&h, &claims).unwrap();
    let cases = [
        "".to_string(),
        "a.b".to_string(),
        "a.b.c.d".to_string(),
        "!!!.b.c".to_string(),
        format!("{}.e30.", b64url(b"[1]")),
        "x".repeat(MAX_TOKEN_LEN + 1),
        signed(json!([1, 2])),
        signed(json!({"aud": "orders", "exp": exp})),
        signed(json!({"sub": "https://mesh.internal/x", "aud": "orders", "exp": exp})),
        signed(json!({"sub": sub().to_string(), "exp": exp})),
        signed(json!({"sub": sub().to_string(), "aud": [], "exp": exp})),
        signed(json!({"sub": sub().to_string(), "aud": [1], "exp": exp})),
        signed(json!({"sub": sub().to_string(), "aud": "orders"})),
        signed(json!({"sub": sub().to_string(), "aud": "orders", "exp": "soon"})),
        signed(json!({"sub": sub().to_string(), "aud": "orders", "exp": exp, "roles": 3})),
        key.sign_raw(
            &json!({"alg": "ES256", "kid": key.kid(), "typ": "text"}),
            &json!({}),
        )
        .unwrap(),
        key.sign_raw(
            &json!({"alg": "ES256", "kid": key.kid(), "crit": ["x"]}),
            &json!({}),
        )
        .unwrap(),
    ];
    for (i, t) in cases.iter().enumerate() {
        assert_eq!(
            code(v.validate(t, None, NOW)),
            "token_malformed",
            "case {i}"
        );
    }
    assert_eq!(
        ErrorCode::TokenMalformed.family(),
        crate::ErrorFamily::Input
    );
}

#[test]
fn requests_are_checked() {
    let key = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    let bad = [
        TokenRequest::new(sub(), Vec::<String>::new()),
        TokenRequest::new(sub(), [""]),
        TokenRequest::new(sub(), ["a\nb"]),
        TokenRequest::new(sub(), ["x".repeat(MAX_AUDIENCE_LEN + 1)]),
        TokenRequest::new(sub(), (0..=MAX_AUDIENCES).map(|i| i.to_string())),
        TokenRequest::new(sub(), ["a"]).ttl(Duration::ZERO),
        TokenRequest::new(sub(), ["a"]).ttl(MAX_TOKEN_TTL + Duration::from_secs(1)),
        TokenRequest::new(sub(), ["a"])
            .max_ttl(Duration::from_secs(60))
            .ttl(Duration::from_secs(61)),
        TokenRequest::new(sub(), ["a"]).roles([""]),
    ];
    for (i, r) in bad.iter().enumerate() {
        assert_eq!(
            key.mint(r, NOW).unwrap_err().code(),
            ErrorCode::InvalidRequest,
            "case {i}"
        );
    }
    assert!(key
        .mint(&TokenRequest::new(sub(), ["a"]).ttl(MAX_TOKEN_TTL), NOW)
        .is_ok());
    let empty = SpiffeBundle::new(None);
    assert_eq!(
        JwtValidator::new(&empty, policy(), Vec::<String>::new())
            .unwrap_err()
            .code(),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn signing_keys_round_trip_through_pem() {
    for alg in JwtAlgorithm::ALL {
        let key = JwtSigningKey::generate(*alg).unwrap();
        let enc = key.encrypted_pem("pass phrase").unwrap();
        let back = JwtSigningKey::from_pem(enc.0.as_bytes(), Some("pass phrase")).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.algorithm(), *alg);
        assert_eq!(
            JwtSigningKey::from_pem(enc.0.as_bytes(), Some("wrong"))
                .unwrap_err()
                .code(),
            ErrorCode::WrongPassphrase
        );
        let plain = JwtSigningKey::from_pem(key.plaintext_pem().0.as_bytes(), None).unwrap();
        assert_eq!(plain.public_key(), key.public_key());
    }
    let rsa = crate::backend::generate(crate::KeyAlgorithm::Rsa2048).unwrap();
    assert_eq!(
        JwtSigningKey::from_pkcs8_der(&rsa.serialize_der())
            .unwrap_err()
            .code(),
        ErrorCode::Unsupported
    );
}

#[test]
fn bundles_round_trip_in_the_spiffe_format() {
    let ca = Authority::create_root(&RootParams::new(td()), NOW).unwrap();
    let keys: Vec<JwtSigningKey> = JwtAlgorithm::ALL
        .iter()
        .map(|a| JwtSigningKey::generate(*a).unwrap())
        .collect();
    let mut bundle = SpiffeBundle::new(Some(td()));
    bundle.add_x509_authority(ca.certificate_der()).unwrap();
    for k in &keys {
        bundle.add_jwt_key(k.public_key().clone()).unwrap();
    }
    bundle.set_sequence(Some(3));
    bundle.set_refresh_hint(Some(Duration::from_secs(300)));
    let text = bundle.to_json().unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["spiffe_sequence"], 3);
    assert_eq!(doc["spiffe_refresh_hint"], 300);
    assert_eq!(doc["keys"][0]["use"], "x509-svid");
    assert_eq!(doc["keys"][0]["kty"], "EC");
    assert_eq!(doc["keys"][1]["use"], "jwt-svid");
    let back = SpiffeBundle::parse(text.as_bytes()).unwrap();
    assert_eq!(back.x509_authorities(), bundle.x509_authorities());
    assert_eq!(back.jwt_keys(), bundle.jwt_keys());
    assert_eq!(back.trust_bundle().unwrap().trust_domains(), vec![td()]);
    // Tokens of each key validate against the parsed bundle.
    let v = JwtValidator::new(&back.with_trust_domain(td()), policy(), ["orders"]).unwrap();
    for k in &keys {
        let t = k.mint(&TokenRequest::new(sub(), ["orders"]), NOW).unwrap();
        assert_eq!(code(v.validate(&t.token, None, NOW)), "ok");
    }
}

#[test]
fn bundle_parsing_skips_the_unknown_and_refuses_the_wrong() {
    let ok = br#"{"keys":[{"use":"jwt-svid","kid":"a","kty":"EC","crv":"P-521","x":"AA","y":"AA"},
        {"use":"jwt-svid","kid":"b","kty":"oct","k2":"AA"},{"use":"sig","kty":"EC"}]}"#;
    let b = SpiffeBundle::parse(ok).unwrap();
    assert!(b.jwt_keys().is_empty());
    assert_eq!(b.skipped().len(), 3);
    let bad: [&[u8]; 9] = [
        b"",
        b"[]",
        b"{}",
        br#"{"keys":[1]}"#,
        br#"{"keys":[{"kty":"EC"}]}"#,
        br#"{"keys":[{"use":"jwt-svid","kty":"OKP","crv":"Ed25519","x":"AA"}]}"#,
        br#"{"keys":[{"use":"x509-svid","x5c":[]}]}"#,
        br#"{"keys":[{"use":"jwt-svid","kid":"a","kty":"EC","crv":"P-256","d":"AA"}]}"#,
        br#"{"keys":[],"spiffe_sequence":-1}"#,
    ];
    for (i, input) in bad.iter().enumerate() {
        assert_eq!(
            SpiffeBundle::parse(input).unwrap_err().code(),
            ErrorCode::Malformed,
            "case {i}"
        );
    }
    let key = JwtSigningKey::generate(JwtAlgorithm::EdDsa).unwrap();
    let mut one = SpiffeBundle::new(None);
    one.add_jwt_key(key.public_key().clone()).unwrap();
    let text = one.to_json().unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let k = doc["keys"][0].clone();
    let dup = json!({"keys": [k.clone(), {"use": "jwt-svid", "kid": key.kid(), "kty": "EC",
        "crv": "P-256", "x": b64url(&[1; 32]), "y": b64url(&[2; 32])}]});
    assert_eq!(
        SpiffeBundle::parse(dup.to_string().as_bytes())
            .unwrap_err()
            .code(),
        ErrorCode::Malformed
    );
    let same_twice = json!({"keys": [k.clone(), k]});
    assert_eq!(
        SpiffeBundle::parse(same_twice.to_string().as_bytes())
            .unwrap()
            .jwt_keys()
            .len(),
        1
    );
}

#[test]
fn kids_are_rfc7638_thumbprints() {
    // The RFC 7638 section 3.1 example is RSA; this checks the EC form against a value
    // computed by hand from the canonical JSON.
    let key = JwtPublicKey::from_material(
        String::new(),
        KeyMaterial::Ec(
            JwsKind::Es256,
            [vec![4u8], vec![1; 32], vec![2; 32]].concat(),
        ),
    );
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        b64url(&[1; 32]),
        b64url(&[2; 32])
    );
    assert_eq!(
        key.thumbprint(),
        b64url(&crate::backend::sha256(canonical.as_bytes()))
    );
    let k = JwtSigningKey::generate(JwtAlgorithm::Es256).unwrap();
    assert_eq!(k.kid(), k.public_key().thumbprint());
}

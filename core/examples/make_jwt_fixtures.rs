//! Writes the shared JWT-SVID test vectors: `fixtures/jwt/bundle.jwks` (the SPIFFE bundle: the
//! fixture root CA and three JWT keys), the JWT signing keys (plain PKCS#8, so that other JWT
//! libraries can sign with them in interop tests) and `fixtures/jwt.json`, one token case per
//! line with the verdict every language must reach. The verdicts are written here by hand from
//! the rules (README, "Tokens"), never computed by running the validator.
//!
//! Regenerate with `cargo run -p meshtls-core --example make_jwt_fixtures -- fixtures` after
//! `make_fixtures` (it reads `root.pem`, `api.chain.pem` and `web.chain.pem`); the output is
//! committed and `core/tests/jwt_fixtures.rs` replays it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use meshtls_core::jwt::{JwtAlgorithm, JwtSigningKey, SpiffeBundle, TokenRequest};
use meshtls_core::{encoding, Error, ErrorCode, SpiffeId, Timestamp};
use serde_json::{json, Value};

/// Every case is judged at this instant (2026-01-01T00:00:00Z), as in `cases.json`.
const AT: Timestamp = Timestamp::from_unix(1_767_225_600);

fn io(e: std::io::Error) -> Error {
    Error::new(ErrorCode::Io, e.to_string())
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn main() -> Result<(), Error> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fixtures".into()));
    let jwt_dir = dir.join("jwt");
    std::fs::create_dir_all(&jwt_dir).map_err(io)?;
    let read = |name: &str| std::fs::read(dir.join(name)).map_err(io);
    let write = |path: &Path, data: &str| std::fs::write(path, data).map_err(io);

    let es256 = JwtSigningKey::generate(JwtAlgorithm::Es256)?;
    let es384 = JwtSigningKey::generate(JwtAlgorithm::Es384)?;
    let eddsa = JwtSigningKey::generate(JwtAlgorithm::EdDsa)?;
    // A key in no bundle: its tokens name a kid the validator does not know.
    let stranger = JwtSigningKey::generate(JwtAlgorithm::Es256)?;
    for (k, name) in [(&es256, "es256"), (&es384, "es384"), (&eddsa, "eddsa")] {
        write(
            &jwt_dir.join(format!("{name}.key.pem")),
            &k.plaintext_pem().0,
        )?;
    }
    let mut bundle = SpiffeBundle::new(None);
    for der in encoding::parse_certificates(&read("root.pem")?)? {
        bundle.add_x509_authority(&der)?;
    }
    for k in [&es256, &es384, &eddsa] {
        bundle.add_jwt_key(k.public_key().clone())?;
    }
    bundle.set_sequence(Some(1));
    bundle.set_refresh_hint(Some(Duration::from_secs(300)));
    let jwks = bundle.to_json()?;
    write(&jwt_dir.join("bundle.jwks"), &format!("{jwks}\n"))?;

    let api = SpiffeId::parse("spiffe://mesh.internal/service/api")?;
    let admin = SpiffeId::parse("spiffe://mesh.internal/admin/alice")?;
    let api_leaf = encoding::parse_certificates(&read("api.chain.pem")?)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::new(ErrorCode::Malformed, "api.chain.pem is empty"))?;
    let minute = Duration::from_secs(60);
    let issued = AT.sub(minute);
    let req = |sub: &SpiffeId| TokenRequest::new(sub.clone(), ["orders"]).roles(["reader"]);
    let valid = es256.mint(&req(&api), issued)?.token;
    let claims = |extra: Value| {
        let mut c = json!({"sub": api.to_string(), "aud": "orders",
            "exp": AT.unix() + 240, "iat": issued.unix(), "jti": "fixture"});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    };
    let unsigned = |header: Value, claims: &Value| {
        format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        )
    };

    let tampered = {
        let parts: Vec<&str> = valid.split('.').collect();
        let forged = claims(json!({"sub": admin.to_string(), "roles": ["admin"]}));
        format!(
            "{}.{}.{}",
            parts[0],
            b64(forged.to_string().as_bytes()),
            parts[2]
        )
    };
    let none = format!(
        "{}.",
        unsigned(
            json!({"alg": "none", "kid": es256.kid(), "typ": "JWT"}),
            &claims(json!({}))
        )
    );
    // HS256 keyed with the ES256 key's published JWK: the confusion attack on validators
    // that take the public "key" as an HMAC secret.
    let hs256 = {
        let input = unsigned(
            json!({"alg": "HS256", "kid": es256.kid(), "typ": "JWT"}),
            &claims(json!({})),
        );
        let mut one = SpiffeBundle::new(None);
        one.add_jwt_key(es256.public_key().clone())?;
        let doc: Value = serde_json::from_str(&one.to_json()?)
            .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
        let secret = doc["keys"][0].to_string();
        let mac = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
            input.as_bytes(),
        );
        format!("{input}.{}", b64(mac.as_ref()))
    };
    let confusion = es384.sign_raw(
        &json!({"alg": "ES384", "kid": es256.kid(), "typ": "JWT"}),
        &claims(json!({})),
    )?;
    let expired = es256
        .mint(
            &req(&api).ttl(Duration::from_secs(300)),
            AT.sub(Duration::from_secs(600)),
        )?
        .token;
    let just_expired = es256
        .mint(
            &req(&api).ttl(Duration::from_secs(300)),
            AT.sub(Duration::from_secs(310)),
        )?
        .token;
    let future = es256
        .mint(&req(&api), AT.add(Duration::from_secs(120)))?
        .token;
    let bound = es256
        .mint(&req(&api).bind_to_certificate(&api_leaf), issued)?
        .token;
    let case = |name: &str, token: &str, expect: &str, extra: Value| {
        let mut c = json!({"name": name, "token": token, "expect": expect});
        if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
            c.extend(e);
        }
        c
    };
    let cases = vec![
        case("valid-es256", &valid, "ok", json!({})),
        case(
            "valid-es384",
            &es384.mint(&req(&api), issued)?.token,
            "ok",
            json!({}),
        ),
        case(
            "valid-eddsa",
            &eddsa.mint(&req(&api), issued)?.token,
            "ok",
            json!({}),
        ),
        case("tampered", &tampered, "token_signature", json!({})),
        case("expired", &expired, "token_expired", json!({})),
        case(
            "expired-within-leeway",
            &just_expired,
            "ok",
            json!({"leeway": 30}),
        ),
        case("issued-in-the-future", &future, "token_expired", json!({})),
        case(
            "wrong-audience",
            &es256
                .mint(&TokenRequest::new(api.clone(), ["billing"]), issued)?
                .token,
            "token_audience",
            json!({}),
        ),
        case("alg-none", &none, "token_algorithm", json!({})),
        case(
            "hs256-with-public-key",
            &hs256,
            "token_algorithm",
            json!({}),
        ),
        case(
            "key-confusion-es384-on-p256-kid",
            &confusion,
            "token_algorithm",
            json!({}),
        ),
        case(
            "es384-not-in-allow-list",
            &es384.mint(&req(&api), issued)?.token,
            "token_algorithm",
            json!({"algorithms": ["ES256", "EdDSA"]}),
        ),
        case(
            "wrong-kid",
            &stranger.mint(&req(&api), issued)?.token,
            "token_unknown_key",
            json!({}),
        ),
        case(
            "sub-not-allowed",
            &es256.mint(&req(&admin), issued)?.token,
            "identity_not_allowed",
            json!({}),
        ),
        case(
            "bound-right-certificate",
            &bound,
            "ok",
            json!({"peer": "api.chain.pem"}),
        ),
        case(
            "bound-wrong-thumbprint",
            &bound,
            "token_binding",
            json!({"peer": "web.chain.pem"}),
        ),
        case("bound-no-certificate", &bound, "token_binding", json!({})),
        case(
            "unbound-where-binding-required",
            &valid,
            "token_binding",
            json!({"peer": "api.chain.pem", "require_binding": true}),
        ),
        case(
            "malformed-two-parts",
            "e30.e30",
            "token_malformed",
            json!({}),
        ),
        case(
            "malformed-sub-not-spiffe",
            &es256.sign_raw(
                &json!({"alg": "ES256", "kid": es256.kid(), "typ": "JWT"}),
                &claims(json!({"sub": "user-svc"})),
            )?,
            "token_malformed",
            json!({}),
        ),
    ];
    let mut out = String::from("{\n  \"note\": \"written by core/examples/make_jwt_fixtures.rs; see fixtures/README.md\",\n");
    out += &format!(
        "  \"jwks\": \"jwt/bundle.jwks\",\n  \"trust_domain\": \"mesh.internal\",\n  \"at\": {},\n  \"audience\": [\"orders\"],\n  \"allow\": [\"spiffe://mesh.internal/service/*\"],\n  \"cases\": [\n",
        AT.unix()
    );
    let lines: Vec<String> = cases.iter().map(|c| format!("    {c}")).collect();
    out += &lines.join(",\n");
    out += "\n  ]\n}\n";
    write(&dir.join("jwt.json"), &out)?;
    println!("wrote {} token cases", cases.len());
    Ok(())
}

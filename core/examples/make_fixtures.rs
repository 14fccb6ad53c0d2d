//! Writes the shared test vectors every language's tests replay: certificates, keys, CRLs and
//! `cases.json`, the verdict the core gives for each case. Regenerate with
//! `cargo run -p meshtls-core --example make_fixtures -- fixtures` (the output is committed;
//! `core/tests/fixtures.rs` checks the committed verdicts against the core). Last it runs
//! `examples/strict_fixtures.sh`, which drives the OpenSSL CLI (`openssl req/x509/ca/genpkey`,
//! OpenSSL 3 on PATH) for the path-validation chains under `fixtures/strict/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use meshtls_core::{
    Authority, CrlParams, IntermediateParams, IssueRequest, KeyAlgorithm, KeySource,
    RevocationList, RevocationReason, RootParams, SpiffeId, Timestamp, TrustDomain, Usage,
};

/// Every case is judged at this instant (2026-01-01T00:00:00Z).
const AT: Timestamp = Timestamp::from_unix(1_767_225_600);
const DAY: Duration = Duration::from_secs(86_400);

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) {
    std::fs::write(dir.join(name), data).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}

fn main() -> Result<(), meshtls_core::Error> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fixtures".into()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| meshtls_core::Error::new(meshtls_core::ErrorCode::Io, e.to_string()))?;
    let td = TrustDomain::new("mesh.internal")?;
    let made = AT.sub(30 * DAY);
    let root = Authority::create_root(
        &RootParams {
            common_name: Some("mesh.internal fixture root".into()),
            ..RootParams::new(td.clone())
        },
        made,
    )?;
    let inter = root.create_intermediate(
        &IntermediateParams {
            common_name: Some("mesh.internal fixture intermediate".into()),
            ..IntermediateParams::new()
        },
        made,
    )?;
    let rogue = Authority::create_root(
        &RootParams {
            common_name: Some("mesh.internal fixture root".into()),
            ..RootParams::new(td.clone())
        },
        made,
    )?;
    let other = Authority::create_root(
        &RootParams {
            common_name: Some("mesh.internal other root".into()),
            ..RootParams::new(td.clone())
        },
        made,
    )?;
    write(&dir, "root.pem", root.root_pem());
    write(&dir, "intermediate.pem", inter.certificate_pem());
    write(
        &dir,
        "root.key.enc.pem",
        root.encrypted_key_pem("fixture-passphrase")?.0,
    );
    write(&dir, "rogue-root.pem", rogue.root_pem());

    let id = |n: &str| SpiffeId::service(&td, n);
    let life = 700 * DAY;
    let issue = |ca: &Authority,
                 req: IssueRequest,
                 at: Timestamp,
                 name: &str|
     -> Result<meshtls_core::Issued, meshtls_core::Error> {
        let issued = ca.issue(&req, at)?;
        write(&dir, &format!("{name}.chain.pem"), &issued.chain_pem);
        if let Some(k) = &issued.key_pem {
            write(&dir, &format!("{name}.key.pem"), k);
        }
        Ok(issued)
    };
    let api = issue(
        &inter,
        IssueRequest::new(id("api")?)
            .with_dns(["api.mesh.internal"])
            .with_lifetime(life),
        made,
        "api",
    )?;
    issue(
        &inter,
        IssueRequest::new(id("web")?).with_lifetime(life),
        made,
        "web",
    )?;
    issue(
        &inter,
        IssueRequest::new(id("old")?).with_lifetime(DAY),
        made,
        "expired",
    )?;
    issue(
        &inter,
        IssueRequest::new(id("future")?).with_lifetime(life),
        AT.add(10 * DAY),
        "not-yet-valid",
    )?;
    let revoked = issue(
        &inter,
        IssueRequest::new(id("revoked")?).with_lifetime(life),
        made,
        "revoked",
    )?;
    issue(
        &rogue,
        IssueRequest::new(id("api")?).with_lifetime(life),
        made,
        "rogue",
    )?;
    issue(
        &other,
        IssueRequest::new(id("api")?).with_lifetime(life),
        made,
        "other-ca",
    )?;
    issue(
        &inter,
        IssueRequest::new(id("server-only")?)
            .with_usage(Usage::Server)
            .with_lifetime(life),
        made,
        "server-only",
    )?;
    issue(
        &inter,
        IssueRequest::new(id("ed")?)
            .with_key(KeySource::Generate(KeyAlgorithm::Ed25519))
            .with_lifetime(life),
        made,
        "ed25519",
    )?;
    let mut tampered = api.cert_der.clone();
    let n = tampered.len() - 1;
    tampered[n] ^= 1;
    let mut tampered_chain = meshtls_core::encoding::cert_pem(&tampered);
    tampered_chain.push_str(&inter.certificate_pem());
    write(&dir, "tampered.chain.pem", tampered_chain);
    write(
        &dir,
        "garbage.chain.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    );
    write(
        &dir,
        "truncated.chain.pem",
        &api.chain_pem[..api.chain_pem.len() / 3],
    );
    write(&dir, "empty.chain.pem", "");

    let mut records = RevocationList::new();
    records
        .revoke(
            revoked.serial.clone(),
            RevocationReason::KeyCompromise,
            made,
        )
        .expect("a time a CRL can carry");
    write(
        &dir,
        "intermediate.crl.pem",
        inter
            .build_crl(
                &records,
                &CrlParams {
                    number: 1,
                    this_update: made,
                    next_update: AT.add(700 * DAY),
                },
            )?
            .to_pem(),
    );
    write(
        &dir,
        "root.crl.pem",
        root.build_crl(
            &RevocationList::new(),
            &CrlParams {
                number: 1,
                this_update: made,
                next_update: AT.add(700 * DAY),
            },
        )?
        .to_pem(),
    );

    // bundle, crls, policy (patterns), usage, expected code ("ok" when accepted).
    let cases = [
        (
            "valid",
            "api",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "ok",
        ),
        (
            "valid-as-server",
            "api",
            false,
            "spiffe://mesh.internal/service/api",
            "server",
            "ok",
        ),
        (
            "valid-with-crls",
            "api",
            true,
            "spiffe://mesh.internal/service/*",
            "client",
            "ok",
        ),
        (
            "ed25519",
            "ed25519",
            false,
            "spiffe://mesh.internal",
            "client",
            "ok",
        ),
        (
            "expired",
            "expired",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "expired",
        ),
        (
            "not-yet-valid",
            "not-yet-valid",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "not_yet_valid",
        ),
        (
            "revoked",
            "revoked",
            true,
            "spiffe://mesh.internal/service/*",
            "client",
            "revoked",
        ),
        (
            "rogue-same-name",
            "rogue",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "bad_signature",
        ),
        (
            "other-ca",
            "other-ca",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "unknown_issuer",
        ),
        (
            "wrong-identity",
            "web",
            false,
            "spiffe://mesh.internal/service/api",
            "client",
            "identity_not_allowed",
        ),
        (
            "server-only-as-client",
            "server-only",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "wrong_usage",
        ),
        (
            "tampered",
            "tampered",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "bad_signature",
        ),
        (
            "garbage",
            "garbage",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "malformed",
        ),
        (
            "truncated",
            "truncated",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "malformed",
        ),
        (
            "empty",
            "empty",
            false,
            "spiffe://mesh.internal/service/*",
            "client",
            "malformed",
        ),
    ];
    let mut json = String::from("{\n  \"at\": ");
    json.push_str(&AT.unix().to_string());
    json.push_str(",\n  \"bundle\": \"root.pem\",\n  \"crls\": [\"root.crl.pem\", \"intermediate.crl.pem\"],\n  \"cases\": [\n");
    for (i, (name, chain, crls, pattern, usage, expect)) in cases.iter().enumerate() {
        json.push_str(&format!(
            "    {{\"name\": \"{name}\", \"chain\": \"{chain}.chain.pem\", \"with_crls\": {crls}, \"allow\": [\"{pattern}\"], \"usage\": \"{usage}\", \"expect\": \"{expect}\"}}{}\n",
            if i + 1 < cases.len() { "," } else { "" }
        ));
    }
    json.push_str("  ]\n}\n");
    write(&dir, "cases.json", json);
    println!("wrote {} cases to {}", cases.len(), dir.display());
    // The path-validation fixtures (fixtures/strict/ and the `strict-*` cases) break rules
    // meshtls's issuer refuses to break: the OpenSSL CLI makes them (see the script's header).
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/strict_fixtures.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .status()
        .map_err(|e| meshtls_core::Error::new(meshtls_core::ErrorCode::Io, e.to_string()))?;
    if !status.success() {
        return Err(meshtls_core::Error::new(
            meshtls_core::ErrorCode::Io,
            format!("{} failed: {status}", script.display()),
        ));
    }
    Ok(())
}

//! What the CLI writes, OpenSSL 3 reads and judges the same way: certificates, chains, CRLs,
//! the encrypted CA key and PFX files.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn openssl(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new("openssl");
    c.args(args).args(paths);
    c.env("MESHTLS_CA_PASSPHRASE", PASS);
    c.env("MESHTLS_PFX_PASSWORD", "pfx-pass");
    c.output()
        .expect("openssl runs (OpenSSL 3 is required by the interop tests)")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn openssl_verifies_issued_chains_for_the_issued_usage() {
    let pki = Pki::new();
    for alg in ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"] {
        let out = pki.issue(ID, alg, &["--key", alg]);
        let chain = out.join("chain.pem");
        for purpose in ["sslclient", "sslserver"] {
            let o = openssl(
                &["verify", "-purpose", purpose, "-CAfile"],
                &[&pki.bundle(), &chain],
            );
            assert!(o.status.success(), "{alg} {purpose}: {}", text(&o));
        }
    }
    // A server-only certificate is refused as a client by OpenSSL too.
    let srv = pki.issue(ID, "server-only", &["--usage", "server"]);
    let o = openssl(
        &["verify", "-purpose", "sslclient", "-CAfile"],
        &[&pki.bundle(), &srv.join("cert.pem")],
    );
    assert!(!o.status.success(), "{}", text(&o));
}

#[test]
fn openssl_verifies_through_an_intermediate() {
    let pki = Pki::new();
    let int = pki.path("int");
    meshtls()
        .args(["ca", "intermediate", "--parent"])
        .arg(pki.ca())
        .arg("--out")
        .arg(&int)
        .assert()
        .success();
    let out = pki.path("svc");
    meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(&int)
        .args(["--id", ID, "--out"])
        .arg(&out)
        .assert()
        .success();
    let chain = out.join("chain.pem");
    let o = openssl(
        &["verify", "-purpose", "sslclient", "-CAfile"],
        &[
            &pki.bundle(),
            Path::new("-untrusted"),
            &chain,
            &out.join("cert.pem"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn openssl_crl_check_rejects_what_revoke_and_crl_wrote() {
    let pki = Pki::new();
    let bad = pki.issue("spiffe://mesh.internal/service/bad", "bad", &[]);
    let good = pki.issue("spiffe://mesh.internal/service/good", "good", &[]);
    meshtls()
        .arg("revoke")
        .arg("--ca")
        .arg(pki.ca())
        .arg("--cert")
        .arg(bad.join("cert.pem"))
        .assert()
        .success();
    let crl = pki.path("crl.pem");
    meshtls()
        .arg("crl")
        .arg("--ca")
        .arg(pki.ca())
        .arg("--out")
        .arg(&crl)
        .assert()
        .success();
    let o = openssl(
        &["verify", "-crl_check", "-purpose", "sslclient", "-CAfile"],
        &[
            &pki.bundle(),
            Path::new("-CRLfile"),
            &crl,
            &bad.join("cert.pem"),
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("revoked"), "{}", text(&o));
    let o = openssl(
        &["verify", "-crl_check", "-purpose", "sslclient", "-CAfile"],
        &[
            &pki.bundle(),
            Path::new("-CRLfile"),
            &crl,
            &good.join("cert.pem"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = openssl(&["crl", "-noout", "-text", "-in"], &[&crl]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("X509v3 CRL Number"), "{}", text(&o));
}

#[test]
fn openssl_decrypts_the_ca_key_with_the_passphrase_only() {
    let pki = Pki::new();
    let key = pki.path("ca/ca.key");
    let o = openssl(
        &[
            "pkey",
            "-noout",
            "-passin",
            "env:MESHTLS_CA_PASSPHRASE",
            "-in",
        ],
        &[&key],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = openssl(&["pkey", "-noout", "-passin", "pass:wrong", "-in"], &[&key]);
    assert!(
        !o.status.success(),
        "a wrong passphrase must not open the key"
    );
}

#[test]
fn openssl_reads_pfx_modern_and_legacy() {
    let pki = Pki::new();
    let modern = pki.path("modern.pfx");
    let legacy = pki.path("legacy.pfx");
    for (pfx, extra) in [(&modern, &[][..]), (&legacy, &["--pfx-legacy"][..])] {
        meshtls()
            .env("MESHTLS_PFX_PASSWORD", "pfx-pass")
            .arg("issue")
            .arg("--ca")
            .arg(pki.ca())
            .args(["--id", ID, "--pfx"])
            .arg(pfx)
            .args(extra)
            .arg("--out")
            .arg(pki.path(&format!("svc-{}", extra.len())))
            .assert()
            .success();
        assert_eq!(mode(pfx), 0o600);
    }
    let o = openssl(
        &[
            "pkcs12",
            "-nokeys",
            "-passin",
            "env:MESHTLS_PFX_PASSWORD",
            "-in",
        ],
        &[&modern],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("BEGIN CERTIFICATE"));
    // OpenSSL 3 reads the 3DES profile without -legacy (3DES is in its default provider).
    let o = openssl(
        &[
            "pkcs12",
            "-nokeys",
            "-passin",
            "env:MESHTLS_PFX_PASSWORD",
            "-in",
        ],
        &[&legacy],
    );
    assert!(o.status.success(), "{}", text(&o));
    // The key is in there too, under the password.
    let o = openssl(
        &[
            "pkcs12",
            "-nocerts",
            "-nodes",
            "-passin",
            "env:MESHTLS_PFX_PASSWORD",
            "-in",
        ],
        &[&modern],
    );
    assert!(text(&o).contains("PRIVATE KEY"), "{}", text(&o));
    let o = openssl(
        &["pkcs12", "-nokeys", "-passin", "pass:wrong", "-in"],
        &[&modern],
    );
    assert!(!o.status.success());
}

#[test]
fn pfx_needs_a_password_and_a_generated_key() {
    let pki = Pki::new();
    let a = meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--id", ID, "--pfx"])
        .arg(pki.path("x.pfx"))
        .arg("--out")
        .arg(pki.path("svc"))
        .assert()
        .code(2);
    assert_error_line(&a, "invalid_request");
    assert!(stderr(&a).contains("MESHTLS_PFX_PASSWORD"));
    // --pfx-password-file
    let pw = pki.path("pw");
    std::fs::write(&pw, "pfx-pass\n").unwrap();
    meshtls()
        .arg("issue")
        .arg("--ca")
        .arg(pki.ca())
        .args(["--id", ID, "--pfx"])
        .arg(pki.path("x.pfx"))
        .arg("--pfx-password-file")
        .arg(&pw)
        .arg("--out")
        .arg(pki.path("svc"))
        .assert()
        .success();
    let o = openssl(
        &["pkcs12", "-nokeys", "-passin", "pass:pfx-pass", "-in"],
        &[&pki.path("x.pfx")],
    );
    assert!(o.status.success(), "{}", text(&o));
}

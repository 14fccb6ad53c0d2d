//! Cross-checks with a real peer: the OpenSSL command line accepts what meshtls issues and
//! rejects what meshtls revokes, with the CRL meshtls made.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use meshtls_core::{
    CrlParams, IntermediateParams, IssueRequest, KeyAlgorithm, KeySource, RevocationList,
    RevocationReason,
};

fn write(dir: &Path, name: &str, data: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Runs `openssl verify` and returns (success, combined output).
fn openssl_verify(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .arg("verify")
        .args(args)
        .output()
        .expect("the openssl CLI is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// OpenSSL checks validity against the real clock, so these certificates are issued now.
fn now() -> meshtls_core::Timestamp {
    meshtls_core::Timestamp::from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
}

#[test]
fn openssl_accepts_leaves_and_chains_for_both_purposes() {
    let dir = tempfile::tempdir().unwrap();
    let now = now();
    for alg in KeyAlgorithm::ALL {
        let ca = meshtls_core::Authority::create_root(
            &meshtls_core::RootParams {
                key: *alg,
                ..meshtls_core::RootParams::new(td())
            },
            now,
        )
        .unwrap();
        let inter = ca
            .create_intermediate(
                &IntermediateParams {
                    key: *alg,
                    ..IntermediateParams::new()
                },
                now,
            )
            .unwrap();
        let root_file = write(dir.path(), "root.pem", ca.root_pem());
        let direct = ca
            .issue(
                &IssueRequest::new(id("api"))
                    .with_key(KeySource::Generate(*alg))
                    .with_dns(["api.mesh.internal"]),
                now,
            )
            .unwrap();
        let via = inter
            .issue(
                &IssueRequest::new(id("api")).with_key(KeySource::Generate(*alg)),
                now,
            )
            .unwrap();
        let direct_file = write(dir.path(), "direct.pem", &direct.cert_pem);
        let leaf_file = write(dir.path(), "leaf.pem", &via.cert_pem);
        let untrusted = write(dir.path(), "untrusted.pem", inter.certificate_pem());
        for purpose in ["sslclient", "sslserver"] {
            let (ok, out) = openssl_verify(&[
                "-x509_strict",
                "-CAfile",
                &root_file,
                "-purpose",
                purpose,
                &direct_file,
            ]);
            assert!(ok, "{alg} {purpose} direct: {out}");
            let (ok, out) = openssl_verify(&[
                "-x509_strict",
                "-CAfile",
                &root_file,
                "-untrusted",
                &untrusted,
                "-purpose",
                purpose,
                &leaf_file,
            ]);
            assert!(ok, "{alg} {purpose} via intermediate: {out}");
        }
        // The negative control: without the intermediate there is no path.
        let (ok, _) = openssl_verify(&["-CAfile", &root_file, "-purpose", "sslclient", &leaf_file]);
        assert!(
            !ok,
            "{alg}: openssl must not find a path without the intermediate"
        );
    }
}

#[test]
fn openssl_respects_usage_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let now = now();
    let ca =
        meshtls_core::Authority::create_root(&meshtls_core::RootParams::new(td()), now).unwrap();
    let server = ca
        .issue(
            &IssueRequest::new(id("api")).with_usage(meshtls_core::Usage::Server),
            now,
        )
        .unwrap();
    let root_file = write(dir.path(), "root.pem", ca.root_pem());
    let f = write(dir.path(), "server.pem", &server.cert_pem);
    assert!(openssl_verify(&["-CAfile", &root_file, "-purpose", "sslserver", &f]).0);
    let (ok, out) = openssl_verify(&["-CAfile", &root_file, "-purpose", "sslclient", &f]);
    assert!(
        !ok,
        "a server-only certificate must not pass as a client: {out}"
    );
}

#[test]
fn openssl_rejects_a_revoked_leaf_with_the_meshtls_crl() {
    let dir = tempfile::tempdir().unwrap();
    let now = now();
    let ca =
        meshtls_core::Authority::create_root(&meshtls_core::RootParams::new(td()), now).unwrap();
    let bad = ca.issue(&IssueRequest::new(id("bad")), now).unwrap();
    let good = ca.issue(&IssueRequest::new(id("good")), now).unwrap();
    let mut records = RevocationList::new();
    records
        .revoke(bad.serial.clone(), RevocationReason::KeyCompromise, now)
        .unwrap();
    let crl = ca.build_crl(&records, &CrlParams::new(1, now)).unwrap();
    let root_file = write(dir.path(), "root.pem", ca.root_pem());
    let crl_file = write(dir.path(), "crl.pem", crl.to_pem());
    let bad_file = write(dir.path(), "bad.pem", &bad.cert_pem);
    let good_file = write(dir.path(), "good.pem", &good.cert_pem);
    let (ok, out) = openssl_verify(&[
        "-crl_check",
        "-CAfile",
        &root_file,
        "-CRLfile",
        &crl_file,
        &bad_file,
    ]);
    assert!(!ok && out.contains("revoked"), "{out}");
    let (ok, out) = openssl_verify(&[
        "-crl_check",
        "-CAfile",
        &root_file,
        "-CRLfile",
        &crl_file,
        &good_file,
    ]);
    assert!(ok, "{out}");
    // OpenSSL reads the CRL's fields the way meshtls wrote them.
    let out = Command::new("openssl")
        .args(["crl", "-noout", "-text", "-in", &crl_file])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_uppercase();
    assert!(text.contains(&bad.serial.to_hex().to_uppercase()), "{text}");
    assert!(text.contains("KEY COMPROMISE"), "{text}");
}

#[test]
fn openssl_decrypts_the_ca_key_and_reads_the_pfx() {
    let dir = tempfile::tempdir().unwrap();
    let ca = root();
    let key_file = write(
        dir.path(),
        "ca.key",
        ca.encrypted_key_pem("s3cret pass").unwrap().0,
    );
    let out = Command::new("openssl")
        .args([
            "pkey",
            "-in",
            &key_file,
            "-passin",
            "pass:s3cret pass",
            "-pubout",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("openssl")
        .args(["pkey", "-in", &key_file, "-passin", "pass:wrong"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let leaf = issue(&ca, "api");
    for (profile, extra) in [
        (meshtls_core::Pkcs12Profile::Modern, None),
        (meshtls_core::Pkcs12Profile::Legacy, Some("-legacy")),
    ] {
        let pfx = write(
            dir.path(),
            "leaf.pfx",
            leaf.to_pkcs12("pfxpass", profile).unwrap(),
        );
        let mut cmd = Command::new("openssl");
        cmd.args([
            "pkcs12",
            "-in",
            &pfx,
            "-passin",
            "pass:pfxpass",
            "-nodes",
            "-info",
        ]);
        if let Some(flag) = extra {
            cmd.arg(flag);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{profile:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("BEGIN CERTIFICATE") && text.contains("BEGIN PRIVATE KEY"),
            "{profile:?}"
        );
        if profile == meshtls_core::Pkcs12Profile::Legacy {
            let info = String::from_utf8_lossy(&out.stderr);
            assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}");
        }
    }
}

#[test]
fn meshtls_accepts_csrs_made_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let csr = dir.path().join("r.csr");
    let status = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
        ])
        .arg(&key)
        .args([
            "-subj",
            "/CN=agent",
            "-addext",
            "subjectAltName=URI:spiffe://mesh.internal/service/agent",
            "-out",
        ])
        .arg(&csr)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let ca = root();
    let req = IssueRequest::from_csr(&std::fs::read(&csr).unwrap()).unwrap();
    assert_eq!(req.id, id("agent"));
    let issued = ca.issue(&req, NOW).unwrap();
    let peer = verifier_for(&ca, any_in_domain())
        .verify(&issued.chain_der, meshtls_core::PeerUsage::Client, NOW)
        .unwrap();
    assert_eq!(peer.spiffe_id, Some(id("agent")));
}

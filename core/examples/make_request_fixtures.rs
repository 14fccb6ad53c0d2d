//! Writes the shared issuance test vectors: `requests.json` and the CSRs under `requests/`.
//! Every language's suite replays them and must reach the committed verdict. Regenerate with
//! `cargo run -p meshtls-core --example make_request_fixtures -- fixtures` (needs the `openssl`
//! command for the CSRs meshtls cannot make: weak hashes and keys, P-521, secp256k1, DSA, ...;
//! the output is committed, so the suites never need it).
//!
//! The expected verdicts are written here by hand, from the rules (README, "Issuance policy"):
//! they are never computed by running the core.
//!
//! # Schema of `requests.json`
//!
//! ```text
//! { "version": 1,
//!   "cases": [ {
//!     "name": "rsa-1024-csr",          unique
//!     "note": "why this verdict",
//!     "trust_domain": "mesh.internal", the CA's trust domain (a root CA made by the replay)
//!     "id": "spiffe://...",            optional: the SPIFFE ID asked for
//!     "csr": "requests/x.csr.pem",     optional: a CSR (path relative to fixtures/)
//!     "key": "ecdsa-p256",             optional: the key to generate (without a CSR)
//!     "dns": ["..."], "ips": ["..."],  optional: SANs added to the request (IPs as text)
//!     "usage": "both",                 optional: server, client or both
//!     "lifetime_seconds": 86400,       optional (default 90 days)
//!     "grant": {                       optional: issue through this grant
//!       "kind": "join_token" | "administrator",
//!       "ids": "spiffe://...",         the ID pattern
//!       "dns": [...], "ips": [...],    optional: what it allows
//!       "usage": "server",             optional
//!       "max_lifetime_seconds": N },   optional
//!     "admins": ["spiffe://..."],      optional: administrator patterns (reserved identities)
//!     "expect": "ok" | "<error code>" } ] }
//! ```
//!
//! A replay does, in this order, stopping at the first error (whose code is the verdict):
//! 1. create a root CA for `trust_domain` (the default root parameters, at the current time);
//! 2. parse `id` if present; with `csr`, make the request from the CSR and that ID
//!    (`from_csr_with_id`: a CSR naming another ID is refused), else a request for `id`;
//! 3. add `dns`, parse and add `ips`, set `usage`, `lifetime_seconds` and `key`;
//! 4. with `grant`: build it (a join token with its `dns`; an administrator grant, restricted to
//!    `dns` when given), then `ips`, `usage`, `max_lifetime_seconds`; the reserved identities
//!    are the CA's plus every `admins` pattern; issue through the grant (`issue_granted`);
//!    without `grant`, issue directly.

use std::path::{Path, PathBuf};
use std::process::Command;

use meshtls_core::{create_csr, KeyAlgorithm, SpiffeId};
use serde_json::{json, Map, Value};

const TD: &str = "mesh.internal";
const API: &str = "spiffe://mesh.internal/service/api";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CSR made by OpenSSL: `genpkey` arguments for the key, the digest (None for Ed25519/Ed448),
/// and the subjectAltName extension (None for no SAN).
fn openssl_csr(
    tmp: &Path,
    out: &Path,
    name: &str,
    genpkey: &[&str],
    digest: Option<&str>,
    san: Option<&str>,
) {
    let key = format!("{name}.key.pem");
    let mut args = vec!["genpkey", "-out", &key];
    args.extend_from_slice(genpkey);
    openssl(tmp, &args);
    let csr_path = out.join(format!("{name}.csr.pem"));
    let csr = csr_path.to_str().expect("utf-8 path");
    let dgst = digest.map(|d| format!("-{d}"));
    let ext = san.map(|s| format!("subjectAltName={s}"));
    let mut args = vec!["req", "-new", "-key", &key, "-subj", "/CN=api", "-out", csr];
    if let Some(d) = &dgst {
        args.push(d);
    }
    if let Some(e) = &ext {
        args.extend_from_slice(&["-addext", e]);
    }
    openssl(tmp, &args);
}

fn dsa_csr(tmp: &Path, out: &Path, name: &str, digest: &str) {
    let params = format!("{name}.params.pem");
    openssl(
        tmp,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:2048",
            "-out",
            &params,
        ],
    );
    let key = format!("{name}.key.pem");
    openssl(tmp, &["genpkey", "-paramfile", &params, "-out", &key]);
    let csr_path = out.join(format!("{name}.csr.pem"));
    let csr = csr_path.to_str().expect("utf-8 path");
    let dgst = format!("-{digest}");
    let san = format!("subjectAltName=URI:{API}");
    openssl(
        tmp,
        &[
            "req", "-new", "-key", &key, "-subj", "/CN=api", "-out", csr, &dgst, "-addext", &san,
        ],
    );
}

fn meshtls_csr(out: &Path, name: &str, id: &str, dns: &[&str], alg: KeyAlgorithm) {
    let id = SpiffeId::parse(id).expect("fixture ID");
    let dns: Vec<String> = dns.iter().map(|s| (*s).to_owned()).collect();
    let made = create_csr(&id, &dns, alg).expect("fixture CSR");
    std::fs::write(out.join(format!("{name}.csr.pem")), made.csr_pem).expect("write CSR");
}

/// A case builder: `case("name", "expect", "note")` then fields.
struct Case(Map<String, Value>);

fn case(name: &str, expect: &str, note: &str) -> Case {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("note".into(), json!(note));
    m.insert("trust_domain".into(), json!(TD));
    m.insert("expect".into(), json!(expect));
    Case(m)
}

impl Case {
    fn set(mut self, k: &str, v: Value) -> Self {
        self.0.insert(k.into(), v);
        self
    }
    fn id(self, id: &str) -> Self {
        self.set("id", json!(id))
    }
    fn csr(self, name: &str) -> Self {
        self.set("csr", json!(format!("requests/{name}.csr.pem")))
    }
    fn td(self, td: &str) -> Self {
        self.set("trust_domain", json!(td))
    }
    fn dns(self, names: &[&str]) -> Self {
        self.set("dns", json!(names))
    }
    fn ips(self, ips: &[&str]) -> Self {
        self.set("ips", json!(ips))
    }
    fn lifetime(self, s: u64) -> Self {
        self.set("lifetime_seconds", json!(s))
    }
    fn grant(self, g: Value) -> Self {
        self.set("grant", g)
    }
    fn admins(self, a: &[&str]) -> Self {
        self.set("admins", json!(a))
    }
}

fn token(ids: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), json!("join_token"));
    m.insert("ids".into(), json!(ids));
    m
}

fn admin_grant(ids: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), json!("administrator"));
    m.insert("ids".into(), json!(ids));
    m
}

fn with(mut g: Map<String, Value>, k: &str, v: Value) -> Value {
    g.insert(k.into(), v);
    Value::Object(g)
}

fn v(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

fn make_csrs(out: &Path) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let tmp = tmp.path();
    let uri = format!("URI:{API}");
    let rsa = |bits: &str| -> Vec<String> {
        vec![
            "-algorithm".into(),
            "RSA".into(),
            "-pkeyopt".into(),
            format!("rsa_keygen_bits:{bits}"),
        ]
    };
    let ec = |curve: &str| -> Vec<String> {
        vec![
            "-algorithm".into(),
            "EC".into(),
            "-pkeyopt".into(),
            format!("ec_paramgen_curve:{curve}"),
        ]
    };
    let u = Some(uri.as_str());
    // Keys.
    openssl_csr(tmp, out, "rsa-1024", &v(&rsa("1024")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-2040", &v(&rsa("2040")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-2050", &v(&rsa("2050")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-2048", &v(&rsa("2048")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-3072", &v(&rsa("3072")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-4096", &v(&rsa("4096")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-8192", &v(&rsa("8192")), Some("sha256"), u);
    openssl_csr(tmp, out, "rsa-8200", &v(&rsa("8200")), Some("sha256"), u);
    openssl_csr(tmp, out, "p256", &v(&ec("P-256")), Some("sha256"), u);
    openssl_csr(tmp, out, "p384", &v(&ec("P-384")), Some("sha384"), u);
    openssl_csr(tmp, out, "p384-sha256", &v(&ec("P-384")), Some("sha256"), u);
    openssl_csr(tmp, out, "p224", &v(&ec("P-224")), Some("sha256"), u);
    openssl_csr(tmp, out, "p521", &v(&ec("P-521")), Some("sha512"), u);
    openssl_csr(
        tmp,
        out,
        "secp256k1",
        &v(&ec("secp256k1")),
        Some("sha256"),
        u,
    );
    openssl_csr(
        tmp,
        out,
        "brainpool",
        &v(&ec("brainpoolP256r1")),
        Some("sha256"),
        u,
    );
    openssl_csr(tmp, out, "ed25519", &["-algorithm", "ED25519"], None, u);
    openssl_csr(tmp, out, "ed448", &["-algorithm", "ED448"], None, u);
    dsa_csr(tmp, out, "dsa-sha256", "sha256");
    dsa_csr(tmp, out, "dsa-sha1", "sha1");
    // Signature hashes.
    openssl_csr(tmp, out, "rsa-sha1", &v(&rsa("2048")), Some("sha1"), u);
    openssl_csr(tmp, out, "rsa-md5", &v(&rsa("2048")), Some("md5"), u);
    openssl_csr(tmp, out, "rsa-sha224", &v(&rsa("2048")), Some("sha224"), u);
    openssl_csr(tmp, out, "rsa-sha384", &v(&rsa("2048")), Some("sha384"), u);
    openssl_csr(tmp, out, "rsa-sha512", &v(&rsa("2048")), Some("sha512"), u);
    openssl_csr(tmp, out, "p256-sha1", &v(&ec("P-256")), Some("sha1"), u);
    openssl_csr(tmp, out, "p256-sha512", &v(&ec("P-256")), Some("sha512"), u);
    openssl_csr(tmp, out, "rsa-1024-sha1", &v(&rsa("1024")), Some("sha1"), u);
    // RSASSA-PSS signatures (with an ordinary RSA key).
    for (name, md) in [("rsa-pss-sha256", "sha256"), ("rsa-pss-sha1", "sha1")] {
        let key = format!("{name}.key.pem");
        openssl(tmp, &["genpkey", "-algorithm", "RSA", "-out", &key]);
        let csr_path = out.join(format!("{name}.csr.pem"));
        let csr = csr_path.to_str().expect("utf-8 path");
        let md_opt = format!("rsa_mgf1_md:{md}");
        let dgst = format!("-{md}");
        let san = format!("subjectAltName=URI:{API}");
        openssl(
            tmp,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                "/CN=api",
                "-out",
                csr,
                &dgst,
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                &md_opt,
                "-sigopt",
                "rsa_pss_saltlen:digest",
                "-addext",
                &san,
            ],
        );
    }
    // Names in the CSR.
    openssl_csr(tmp, out, "no-uri", &v(&ec("P-256")), Some("sha256"), None);
    let two = format!("URI:{API},URI:spiffe://mesh.internal/service/web");
    openssl_csr(
        tmp,
        out,
        "two-uris",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(&two),
    );
    let dns = format!("URI:{API},DNS:api.mesh.internal,DNS:API.Internal");
    openssl_csr(
        tmp,
        out,
        "dns",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(&dns),
    );
    let bad = format!("URI:{API},DNS:bad_name.mesh.internal");
    openssl_csr(
        tmp,
        out,
        "dns-underscore",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(&bad),
    );
    let wild = format!("URI:{API},DNS:*.mesh.internal");
    openssl_csr(
        tmp,
        out,
        "dns-wildcard",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(&wild),
    );
    let ip = format!("URI:{API},IP:10.0.0.7,IP:fd00::7");
    openssl_csr(tmp, out, "ips", &v(&ec("P-256")), Some("sha256"), Some(&ip));
    let other = "URI:spiffe://other.internal/service/api";
    openssl_csr(
        tmp,
        out,
        "other-td",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(other),
    );
    let admin = "URI:spiffe://mesh.internal/admin/ops";
    openssl_csr(
        tmp,
        out,
        "admin-ops",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(admin),
    );
    let ca = "URI:spiffe://mesh.internal/meshtls/ca";
    openssl_csr(
        tmp,
        out,
        "ca-service",
        &v(&ec("P-256")),
        Some("sha256"),
        Some(ca),
    );
    // meshtls' own CSRs.
    meshtls_csr(
        out,
        "meshtls-p256",
        API,
        &["api.mesh.internal"],
        KeyAlgorithm::EcdsaP256,
    );
    meshtls_csr(out, "meshtls-ed25519", API, &[], KeyAlgorithm::Ed25519);
    meshtls_csr(out, "meshtls-rsa-2048", API, &[], KeyAlgorithm::Rsa2048);
    // A good CSR with one bit of its signature flipped.
    let good = std::fs::read(out.join("p256.csr.pem")).expect("p256 CSR");
    let der = pem::parse(&good).expect("PEM").into_contents();
    let mut der = der;
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", der));
    std::fs::write(out.join("tampered.csr.pem"), tampered).expect("write");
    std::fs::write(
        out.join("garbage.csr.pem"),
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    )
    .expect("write");
}

fn cases() -> Vec<Value> {
    const DAY: u64 = 86_400;
    let all = "spiffe://mesh.internal";
    let services = "spiffe://mesh.internal/service/*";
    let admins = ["spiffe://mesh.internal/admin/*"];
    let c = vec![
        // Identities and trust domains.
        case("id-ok", "ok", "a plain service ID").id(API),
        case("id-deep-path", "ok", "several path segments")
            .id("spiffe://mesh.internal/ns/prod/api"),
        case(
            "id-no-path",
            "malformed",
            "a bare trust domain is not a workload ID",
        )
        .id(all),
        case(
            "id-uppercase-td",
            "malformed",
            "trust domains are lowercase",
        )
        .id("spiffe://Mesh.internal/api"),
        case("id-dot-segment", "malformed", "no '.' or '..' segments")
            .id("spiffe://mesh.internal/a/../b"),
        case("id-empty-segment", "malformed", "no empty segments")
            .id("spiffe://mesh.internal/a//b"),
        case("id-query", "malformed", "no query").id("spiffe://mesh.internal/a?b=c"),
        case("id-port", "malformed", "no port").id("spiffe://mesh.internal:443/a"),
        case("id-http", "malformed", "the scheme is spiffe").id("http://mesh.internal/a"),
        case("id-percent", "malformed", "no percent-encoding").id("spiffe://mesh.internal/a%20b"),
        case(
            "id-other-td",
            "invalid_request",
            "outside the CA's trust domain",
        )
        .id("spiffe://other.internal/service/api"),
        case(
            "td-uppercase",
            "malformed",
            "a CA's trust domain is lowercase",
        )
        .td("Mesh.Internal")
        .id(API),
        case("td-space", "malformed", "no whitespace in a trust domain")
            .td("mesh internal")
            .id(API),
        case("td-empty", "malformed", "a trust domain is not empty")
            .td("")
            .id(API),
        case(
            "td-scheme",
            "malformed",
            "a trust domain is given without its scheme",
        )
        .td("spiffe://mesh.internal")
        .id(API),
        case("td-underscore", "ok", "'_' is allowed in a trust domain")
            .td("mesh_internal")
            .id("spiffe://mesh_internal/service/api"),
        // Keys from CSRs.
        case("csr-rsa-1024", "weak_key", "RSA below 2048 bits").csr("rsa-1024"),
        case("csr-rsa-2040", "weak_key", "RSA below 2048 bits").csr("rsa-2040"),
        case(
            "csr-rsa-2050",
            "unsupported",
            "an RSA modulus not a multiple of 8 bits",
        )
        .csr("rsa-2050"),
        case("csr-rsa-2048", "ok", "RSA 2048").csr("rsa-2048"),
        case("csr-rsa-3072", "ok", "RSA 3072").csr("rsa-3072"),
        case("csr-rsa-4096", "ok", "RSA 4096").csr("rsa-4096"),
        case("csr-rsa-8192", "ok", "RSA 8192, the largest").csr("rsa-8192"),
        case("csr-rsa-8200", "unsupported", "RSA above 8192 bits").csr("rsa-8200"),
        case("csr-p256", "ok", "ECDSA P-256").csr("p256"),
        case("csr-p384", "ok", "ECDSA P-384 with SHA-384").csr("p384"),
        case("csr-p384-sha256", "ok", "ECDSA P-384 with SHA-256").csr("p384-sha256"),
        case("csr-p224", "weak_key", "a curve weaker than P-256").csr("p224"),
        case(
            "csr-p521",
            "unsupported",
            "P-521 is not certified (never bad_signature)",
        )
        .csr("p521"),
        case("csr-secp256k1", "unsupported", "secp256k1 is not certified").csr("secp256k1"),
        case(
            "csr-brainpool",
            "unsupported",
            "brainpool curves are not certified",
        )
        .csr("brainpool"),
        case("csr-ed25519", "ok", "Ed25519").csr("ed25519"),
        case("csr-ed448", "unsupported", "Ed448 is not certified").csr("ed448"),
        case("csr-dsa", "unsupported", "DSA is not certified").csr("dsa-sha256"),
        case(
            "csr-meshtls-p256",
            "ok",
            "a CSR made by meshtls (P-256, a DNS name)",
        )
        .csr("meshtls-p256"),
        case(
            "csr-meshtls-ed25519",
            "ok",
            "a CSR made by meshtls (Ed25519)",
        )
        .csr("meshtls-ed25519"),
        case(
            "csr-meshtls-rsa-2048",
            "ok",
            "a CSR made by meshtls (RSA 2048)",
        )
        .csr("meshtls-rsa-2048"),
        // Signature hashes.
        case("csr-rsa-sha1", "weak_signature", "SHA-1").csr("rsa-sha1"),
        case("csr-rsa-md5", "weak_signature", "MD5").csr("rsa-md5"),
        case(
            "csr-rsa-sha224",
            "weak_signature",
            "SHA-224 is below SHA-256",
        )
        .csr("rsa-sha224"),
        case("csr-rsa-sha384", "ok", "SHA-384").csr("rsa-sha384"),
        case("csr-rsa-sha512", "ok", "SHA-512").csr("rsa-sha512"),
        case("csr-p256-sha1", "weak_signature", "ECDSA with SHA-1").csr("p256-sha1"),
        case(
            "csr-p256-sha512",
            "unsupported",
            "ECDSA with SHA-512 is not a pair meshtls verifies",
        )
        .csr("p256-sha512"),
        case(
            "csr-dsa-sha1",
            "weak_signature",
            "the weak hash is decided before the DSA key",
        )
        .csr("dsa-sha1"),
        case(
            "csr-rsa-1024-sha1",
            "weak_signature",
            "the weak hash is decided before the weak key",
        )
        .csr("rsa-1024-sha1"),
        case("csr-rsa-pss-sha256", "ok", "RSASSA-PSS with SHA-256").csr("rsa-pss-sha256"),
        case(
            "csr-rsa-pss-sha1",
            "weak_signature",
            "RSASSA-PSS with SHA-1",
        )
        .csr("rsa-pss-sha1"),
        case(
            "csr-tampered",
            "bad_signature",
            "one bit of the signature flipped",
        )
        .csr("tampered"),
        case("csr-garbage", "malformed", "not a CSR").csr("garbage"),
        // CSR and explicit IDs.
        case(
            "csr-no-uri-with-id",
            "ok",
            "a CSR naming no ID is issued for the explicit one",
        )
        .csr("no-uri")
        .id(API),
        case("csr-no-uri-no-id", "invalid_request", "no ID at all").csr("no-uri"),
        case("csr-same-id", "ok", "the explicit ID is the CSR's")
            .csr("p256")
            .id(API),
        case(
            "csr-other-id",
            "invalid_request",
            "the explicit ID never replaces the CSR's",
        )
        .csr("p256")
        .id("spiffe://mesh.internal/service/web"),
        case("csr-two-uris", "invalid_request", "an SVID has one URI SAN").csr("two-uris"),
        case(
            "csr-other-td",
            "invalid_request",
            "the CSR's ID is outside the trust domain",
        )
        .csr("other-td"),
        case(
            "csr-dns",
            "ok",
            "the CSR's DNS names are kept (and lowercased)",
        )
        .csr("dns"),
        case(
            "csr-dns-underscore",
            "invalid_request",
            "an underscore is not a hostname",
        )
        .csr("dns-underscore"),
        case(
            "csr-dns-wildcard",
            "invalid_request",
            "the default profile refuses wildcards",
        )
        .csr("dns-wildcard"),
        case("csr-ips", "ok", "the CSR's IP addresses are kept").csr("ips"),
        // DNS and IP names on a request.
        case("dns-ok", "ok", "a hostname")
            .id(API)
            .dns(&["api.mesh.internal"]),
        case(
            "dns-uppercase",
            "ok",
            "case is not significant; written lowercase",
        )
        .id(API)
        .dns(&["API.Mesh.Internal"]),
        case("dns-underscore", "invalid_request", "no underscore")
            .id(API)
            .dns(&["api_v2.mesh.internal"]),
        case("dns-empty-label", "invalid_request", "no empty label")
            .id(API)
            .dns(&["api..internal"]),
        case("dns-trailing-dot", "invalid_request", "no trailing dot")
            .id(API)
            .dns(&["api.internal."]),
        case("dns-empty", "invalid_request", "not empty")
            .id(API)
            .dns(&[""]),
        case("dns-space", "invalid_request", "no whitespace")
            .id(API)
            .dns(&["api .internal"]),
        case("dns-newline", "invalid_request", "no control characters")
            .id(API)
            .dns(&["api\n.internal"]),
        case("dns-long-label", "invalid_request", "a label of 64 bytes")
            .id(API)
            .dns(&[&format!("{}.internal", "a".repeat(64))]),
        case("dns-too-long", "invalid_request", "more than 253 bytes")
            .id(API)
            .dns(&[&["abcdefghi"; 26].join(".")]),
        case("dns-label-63", "ok", "a label of 63 bytes")
            .id(API)
            .dns(&[&format!("{}.internal", "a".repeat(63))]),
        case(
            "dns-wildcard",
            "invalid_request",
            "the default profile refuses wildcards",
        )
        .id(API)
        .dns(&["*.mesh.internal"]),
        case(
            "dns-hyphen",
            "invalid_request",
            "a label does not start with a hyphen",
        )
        .id(API)
        .dns(&["-api.internal"]),
        case("ip-v4", "ok", "an IPv4 address")
            .id(API)
            .ips(&["10.0.0.1"]),
        case("ip-v6", "ok", "an IPv6 address")
            .id(API)
            .ips(&["fd00::1"]),
        case("ip-bad", "invalid_request", "not an address")
            .id(API)
            .ips(&["10.0.0.256"]),
        case(
            "ip-hostname",
            "invalid_request",
            "a hostname is not an address",
        )
        .id(API)
        .ips(&["localhost"]),
        // Lifetimes.
        case("lifetime-59s", "invalid_request", "below one minute")
            .id(API)
            .lifetime(59),
        case("lifetime-60s", "ok", "one minute, the shortest")
            .id(API)
            .lifetime(60),
        case("lifetime-825d", "ok", "825 days, the longest")
            .id(API)
            .lifetime(825 * DAY),
        case("lifetime-826d", "invalid_request", "above 825 days")
            .id(API)
            .lifetime(826 * DAY),
        case("lifetime-36500d", "invalid_request", "a hundred years")
            .id(API)
            .lifetime(36_500 * DAY),
        // Keys meshtls generates.
        case("key-ed25519", "ok", "a generated Ed25519 key")
            .id(API)
            .set("key", json!("ed25519")),
        case("key-p384", "ok", "a generated P-384 key")
            .id(API)
            .set("key", json!("ecdsa-p384")),
        case("key-unknown", "unsupported", "no such algorithm")
            .id(API)
            .set("key", json!("dsa-1024")),
        case("usage-bad", "invalid_request", "server, client or both")
            .id(API)
            .set("usage", json!("admin")),
        // Grants.
        case(
            "grant-pattern-inside",
            "ok",
            "the ID matches the token's pattern",
        )
        .id(API)
        .grant(Value::Object(token(services))),
        case(
            "grant-pattern-outside",
            "not_authorized",
            "the ID is outside the token's pattern",
        )
        .id("spiffe://mesh.internal/jobs/batch")
        .grant(Value::Object(token(services))),
        case(
            "grant-pattern-bad",
            "malformed",
            "the grant's pattern does not parse",
        )
        .id(API)
        .grant(Value::Object(token("spiffe://mesh.internal/**/x"))),
        case("grant-csr-inside", "ok", "a CSR through a token")
            .csr("p256")
            .grant(Value::Object(token(services))),
        case(
            "grant-csr-weak-key",
            "weak_key",
            "the key is judged before the grant",
        )
        .csr("rsa-1024")
        .grant(Value::Object(token(services))),
        case("grant-dns-granted", "ok", "the DNS name is granted")
            .id(API)
            .dns(&["api.mesh.internal"])
            .grant(with(token(services), "dns", json!(["API.mesh.internal"]))),
        case(
            "grant-dns-not-granted",
            "not_authorized",
            "the DNS name is not granted",
        )
        .id(API)
        .dns(&["web.mesh.internal"])
        .grant(with(token(services), "dns", json!(["api.mesh.internal"]))),
        case(
            "grant-dns-none",
            "not_authorized",
            "a token grants no DNS name unless listed",
        )
        .id(API)
        .dns(&["api.mesh.internal"])
        .grant(Value::Object(token(services))),
        case("grant-dns-wildcard", "ok", "*.suffix grants one more label")
            .id(API)
            .dns(&["a.svc.mesh.internal"])
            .grant(with(token(services), "dns", json!(["*.svc.mesh.internal"]))),
        case(
            "grant-dns-wildcard-deep",
            "not_authorized",
            "*.suffix grants exactly one more label",
        )
        .id(API)
        .dns(&["a.b.svc.mesh.internal"])
        .grant(with(token(services), "dns", json!(["*.svc.mesh.internal"]))),
        case(
            "grant-dns-bad-name",
            "invalid_request",
            "a grant's names are hostnames",
        )
        .id(API)
        .grant(with(token(services), "dns", json!(["bad_name.internal"]))),
        case(
            "grant-csr-dns-not-granted",
            "not_authorized",
            "the CSR's DNS names must be granted",
        )
        .csr("dns")
        .grant(Value::Object(token(services))),
        case(
            "grant-ip-not-granted",
            "not_authorized",
            "a token grants no IP address unless listed",
        )
        .id(API)
        .ips(&["10.0.0.1"])
        .grant(Value::Object(token(services))),
        case("grant-ip-granted", "ok", "the IP address is granted")
            .id(API)
            .ips(&["10.0.0.1"])
            .grant(with(token(services), "ips", json!(["10.0.0.1"]))),
        case(
            "grant-usage-outside",
            "not_authorized",
            "the token grants server only",
        )
        .id(API)
        .grant(with(token(services), "usage", json!("server"))),
        case("grant-usage-inside", "ok", "server within server")
            .id(API)
            .set("usage", json!("server"))
            .grant(with(token(services), "usage", json!("server"))),
        case(
            "grant-lifetime-outside",
            "not_authorized",
            "longer than the token's maximum",
        )
        .id(API)
        .lifetime(2 * DAY)
        .grant(with(token(services), "max_lifetime_seconds", json!(DAY))),
        case("grant-lifetime-inside", "ok", "within the token's maximum")
            .id(API)
            .lifetime(DAY)
            .grant(with(token(services), "max_lifetime_seconds", json!(DAY))),
        case(
            "grant-lifetime-bad",
            "invalid_request",
            "a grant's maximum is within the lifetime bounds",
        )
        .id(API)
        .grant(with(token(services), "max_lifetime_seconds", json!(30))),
        case(
            "grant-request-lifetime-bad",
            "invalid_request",
            "the request's own rules come before the grant",
        )
        .id(API)
        .lifetime(30)
        .grant(Value::Object(token(services))),
        case(
            "reserved-ca-via-token",
            "not_authorized",
            "the CA service's ID is never issued through a token",
        )
        .id("spiffe://mesh.internal/meshtls/ca")
        .grant(Value::Object(token(all))),
        case(
            "reserved-ca-exact-token",
            "not_authorized",
            "not even through a token naming it",
        )
        .id("spiffe://mesh.internal/meshtls/ca")
        .grant(Value::Object(token("spiffe://mesh.internal/meshtls/ca"))),
        case(
            "reserved-ca-csr-via-token",
            "not_authorized",
            "a CSR for the CA service's ID",
        )
        .csr("ca-service")
        .grant(Value::Object(token(all))),
        case(
            "reserved-admin-via-token",
            "not_authorized",
            "an administrator ID through a trust-domain token",
        )
        .id("spiffe://mesh.internal/admin/ops")
        .grant(Value::Object(token(all)))
        .admins(&admins),
        case(
            "reserved-admin-csr-via-token",
            "not_authorized",
            "a CSR for an administrator ID",
        )
        .csr("admin-ops")
        .grant(Value::Object(token(all)))
        .admins(&admins),
        case(
            "reserved-admin-not-listed",
            "ok",
            "without that administrator the ID is ordinary",
        )
        .id("spiffe://mesh.internal/admin/ops")
        .grant(Value::Object(token(all))),
        case(
            "reserved-non-admin-via-token",
            "ok",
            "other IDs in the trust domain are fine",
        )
        .id(API)
        .grant(Value::Object(token(all)))
        .admins(&admins),
        case(
            "reserved-admin-via-admin-grant",
            "ok",
            "an administrator grant issues an administrator ID",
        )
        .id("spiffe://mesh.internal/admin/ops")
        .grant(Value::Object(admin_grant(all)))
        .admins(&admins),
        case(
            "reserved-ca-via-admin-grant",
            "ok",
            "an administrator grant issues the CA service's ID",
        )
        .id("spiffe://mesh.internal/meshtls/ca")
        .grant(Value::Object(admin_grant(all)))
        .admins(&admins),
        case(
            "admin-grant-outside",
            "not_authorized",
            "an administrator grant is still bounded by its pattern",
        )
        .id(API)
        .grant(Value::Object(admin_grant("spiffe://mesh.internal/admin/*"))),
        case(
            "admin-grant-dns-any",
            "ok",
            "an administrator grant allows any DNS name by default",
        )
        .id(API)
        .dns(&["anything.example"])
        .grant(Value::Object(admin_grant(all))),
        case(
            "admin-grant-dns-restricted",
            "not_authorized",
            "unless restricted",
        )
        .id(API)
        .dns(&["anything.example"])
        .grant(with(admin_grant(all), "dns", json!(["api.mesh.internal"]))),
    ];
    c.into_iter().map(|c| Value::Object(c.0)).collect()
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fixtures".into()));
    let out = dir.join("requests");
    std::fs::create_dir_all(&out).expect("create fixtures/requests");
    let out = out.canonicalize().expect("fixtures/requests");
    make_csrs(&out);
    let cases = cases();
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(
            names.insert(c["name"].as_str().unwrap_or_default().to_owned()),
            "duplicate {c}"
        );
        if let Some(csr) = c["csr"].as_str() {
            assert!(dir.join(csr).exists(), "{csr} was not made");
        }
    }
    let doc = json!({ "version": 1, "cases": cases });
    let text = serde_json::to_string_pretty(&doc).expect("JSON") + "\n";
    std::fs::write(dir.join("requests.json"), text).expect("write requests.json");
    println!("{} request cases", cases.len());
}

//! `meshtls enroll`, `meshtls renew --url` and `meshtls agent` against a real `meshtls serve`.
//! (The end-to-end suite with nginx, curl and Go is scripts/ci/agent.)
#![cfg(feature = "serve")]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::service::{self, Server, ADMIN};
use common::*;

const WEB: &str = "spiffe://mesh.internal/service/web";

struct Ca {
    pki: Pki,
    server: Server,
}

impl Ca {
    fn new(lifetime: &str) -> Ca {
        let pki = Pki::new();
        pki.issue(ADMIN, "admin", &[]);
        let server = service::serve_with(
            &pki,
            "sqlite",
            "127.0.0.1:0",
            &["--lifetime", lifetime, "--audit-log", "off"],
            &[],
        );
        Ca { pki, server }
    }

    fn url(&self) -> &str {
        &self.server.url
    }

    /// A join token for `id` (with DNS names), written to a file.
    fn token(&self, id: &str, dns: &[&str], file: &str) -> PathBuf {
        let mut c = meshtls();
        c.args(["admin", "token", "--url", self.url(), "--cert"])
            .arg(self.pki.path("admin"))
            .arg("--bundle")
            .arg(self.pki.bundle())
            .args(["--id", id]);
        for d in dns {
            c.args(["--dns", d]);
        }
        let out = c.assert().success().get_output().stdout.clone();
        let token = String::from_utf8(out).unwrap();
        let path = self.pki.path(file);
        std::fs::write(&path, token.lines().next().unwrap()).unwrap();
        path
    }

    fn fingerprint(&self) -> String {
        let v = json(
            &meshtls()
                .arg("inspect")
                .arg(self.pki.bundle())
                .arg("--json")
                .assert()
                .success(),
        );
        v["certificates"][0]["fingerprint_sha256"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn enroll(&self, id: &str, token: &Path, out: &str) -> assert_cmd::assert::Assert {
        meshtls()
            .args(["enroll", "--url", self.url(), "--token-file"])
            .arg(token)
            .args(["--ca-fingerprint", &self.fingerprint(), "--id", id, "--out"])
            .arg(self.pki.path(out))
            .assert()
    }
}

fn serial_of(path: &Path) -> String {
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(path)
            .arg("--json")
            .assert()
            .success(),
    );
    v["certificates"][0]["serial"].as_str().unwrap().to_owned()
}

#[test]
fn enroll_with_a_fingerprint_writes_the_files_and_they_verify() {
    let ca = Ca::new("1h");
    let token = ca.token(WEB, &["web.mesh.internal"], "web.token");
    // Colons and upper case are accepted too.
    let fp = ca.fingerprint().to_uppercase();
    let fp = fp
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let a = meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token)
        .args([
            "--ca-fingerprint",
            &fp,
            "--id",
            WEB,
            "--dns",
            "web.mesh.internal",
        ])
        .arg("--out")
        .arg(ca.pki.path("web"))
        .arg("--json")
        .assert()
        .success();
    let v = json(&a);
    assert_eq!(v["spiffe_id"], WEB);
    assert_eq!(v["dns_names"][0], "web.mesh.internal");
    let dir = ca.pki.path("web");
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    assert_eq!(mode(&dir.join("cert.pem")), 0o644);
    assert_no_temp_files(&dir);
    // The bundle written is the CA's, and the chain verifies against it for the ID.
    assert_eq!(
        std::fs::read(dir.join("ca.pem")).unwrap(),
        std::fs::read(ca.pki.bundle()).unwrap()
    );
    meshtls()
        .args(["verify", "--bundle"])
        .arg(dir.join("ca.pem"))
        .args(["--allow-id", WEB])
        .arg(dir.join("chain.pem"))
        .assert()
        .success();
}

#[test]
fn a_wrong_fingerprint_is_unknown_issuer_and_writes_nothing() {
    let ca = Ca::new("1h");
    let token = ca.token(WEB, &[], "web.token");
    // The fingerprint of another CA.
    let other = Pki::new();
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(other.bundle())
            .arg("--json")
            .assert()
            .success(),
    );
    let wrong = v["certificates"][0]["fingerprint_sha256"].as_str().unwrap();
    let a = meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token)
        .args(["--ca-fingerprint", wrong, "--id", WEB, "--out"])
        .arg(ca.pki.path("web"))
        .assert()
        .code(1);
    assert_error_line(&a, "unknown_issuer");
    assert!(!ca.pki.path("web").exists());
    // The token was not spent: the right fingerprint still enrolls with it.
    ca.enroll(WEB, &token, "web").success();
}

#[test]
fn a_leaf_or_malformed_fingerprint_is_refused() {
    let ca = Ca::new("1h");
    let token = ca.token(WEB, &[], "web.token");
    ca.enroll(WEB, &token, "web").success();
    // The fingerprint of a certificate in no bundle (the leaf) is not a root of the service.
    let v = json(
        &meshtls()
            .arg("inspect")
            .arg(ca.pki.path("web/cert.pem"))
            .arg("--json")
            .assert()
            .success(),
    );
    let leaf_fp = v["certificates"][0]["fingerprint_sha256"].as_str().unwrap();
    let token2 = ca.token("spiffe://mesh.internal/service/b", &[], "b.token");
    let a = meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token2)
        .args([
            "--ca-fingerprint",
            leaf_fp,
            "--id",
            "spiffe://mesh.internal/service/b",
        ])
        .arg("--out")
        .arg(ca.pki.path("b"))
        .assert()
        .code(1);
    assert_error_line(&a, "unknown_issuer");
    // Not hex / not 32 bytes: a flag error (exit 2).
    meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token2)
        .args([
            "--ca-fingerprint",
            "abc",
            "--id",
            "spiffe://mesh.internal/service/b",
        ])
        .arg("--out")
        .arg(ca.pki.path("b"))
        .assert()
        .code(2);
    // Both trusts at once, or neither: exit 2.
    meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token2)
        .arg("--bundle")
        .arg(ca.pki.bundle())
        .args(["--ca-fingerprint", &ca.fingerprint()])
        .args(["--id", "spiffe://mesh.internal/service/b", "--out"])
        .arg(ca.pki.path("b"))
        .assert()
        .code(2);
    meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token2)
        .args(["--id", "spiffe://mesh.internal/service/b", "--out"])
        .arg(ca.pki.path("b"))
        .assert()
        .code(2);
}

#[test]
fn enroll_refusals_keep_the_service_code_and_exit_status() {
    let ca = Ca::new("1h");
    let token = ca.token(WEB, &[], "web.token");
    // An ID the token does not grant.
    let a = meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token)
        .arg("--bundle")
        .arg(ca.pki.bundle())
        .args(["--id", "spiffe://mesh.internal/service/other", "--out"])
        .arg(ca.pki.path("x"))
        .assert()
        .code(2);
    assert_error_line(&a, "not_authorized");
    ca.enroll(WEB, &token, "web").success();
    // The same token again: token_used.
    let a = ca.enroll(WEB, &token, "web2").code(2);
    assert!(stderr(&a).contains("token_used"), "{}", stderr(&a));
    // An existing key.pem is not replaced without --force.
    let token2 = ca.token(WEB, &[], "web2.token");
    let a = ca.enroll(WEB, &token2, "web").code(2);
    assert_error_line(&a, "invalid_request");
    // Nobody listening: io, exit 3.
    let a = meshtls()
        .args(["enroll", "--url", "https://127.0.0.1:1", "--token-file"])
        .arg(&token2)
        .arg("--bundle")
        .arg(ca.pki.bundle())
        .args(["--id", WEB, "--out"])
        .arg(ca.pki.path("z"))
        .assert()
        .code(3);
    assert_error_line(&a, "io");
}

#[test]
fn renew_url_renews_over_mtls_and_a_revoked_certificate_cannot() {
    let ca = Ca::new("1h");
    let token = ca.token(WEB, &["web.mesh.internal"], "web.token");
    let dir = ca.pki.path("web");
    meshtls()
        .args(["enroll", "--url", ca.url(), "--token-file"])
        .arg(&token)
        .arg("--bundle")
        .arg(ca.pki.bundle())
        .args(["--id", WEB, "--dns", "web.mesh.internal", "--out"])
        .arg(&dir)
        .assert()
        .success();
    let before = serial_of(&dir.join("cert.pem"));
    // Not due yet: nothing changes.
    let a = meshtls()
        .args(["renew", "--url", ca.url(), "--cert"])
        .arg(&dir)
        .arg("--json")
        .assert()
        .success();
    assert_eq!(json(&a)["renewed"], false);
    assert_eq!(serial_of(&dir.join("cert.pem")), before);
    let old_key = std::fs::read(dir.join("key.pem")).unwrap();
    let a = meshtls()
        .args(["renew", "--url", ca.url(), "--cert"])
        .arg(&dir)
        .args(["--force", "--json"])
        .assert()
        .success();
    let v = json(&a);
    assert_eq!(v["renewed"], true);
    assert_eq!(v["issued"]["dns_names"][0], "web.mesh.internal");
    let after = serial_of(&dir.join("cert.pem"));
    assert_ne!(after, before);
    assert_ne!(std::fs::read(dir.join("key.pem")).unwrap(), old_key);
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    // Revoked through the service: renewal is refused with the core's code.
    meshtls()
        .args(["admin", "revoke", "--url", ca.url(), "--cert"])
        .arg(ca.pki.path("admin"))
        .arg("--bundle")
        .arg(ca.pki.bundle())
        .args(["--serial", &after])
        .assert()
        .success();
    let a = meshtls()
        .args(["renew", "--url", ca.url(), "--cert"])
        .arg(&dir)
        .arg("--force")
        .assert()
        .code(1);
    assert_error_line(&a, "revoked");
    // --url and --ca together: a flag error.
    meshtls()
        .args(["renew", "--url", ca.url(), "--ca"])
        .arg(ca.pki.ca())
        .arg("--cert")
        .arg(&dir)
        .assert()
        .code(2);
}

fn write_config(ca: &Ca, dir: &Path, extra: &str, identities: &str) -> PathBuf {
    let path = ca.pki.path("agent.toml");
    std::fs::write(
        &path,
        format!(
            "url = \"{}\"\nbundle = \"{}\"\ndir = \"{}\"\n{extra}\n{identities}",
            ca.url(),
            ca.pki.bundle().display(),
            dir.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn agent_once_writes_the_layout_runs_the_hook_and_resumes_without_a_token() {
    let ca = Ca::new("1h");
    let t1 = ca.token(WEB, &["web.mesh.internal"], "web.token");
    let t2 = ca.token("spiffe://mesh.internal/service/api", &[], "api.token");
    let dir = ca.pki.path("shared");
    let marker = ca.pki.path("hook.log");
    let config = write_config(
        &ca,
        &dir,
        "",
        &format!(
            "[[identity]]\nid = \"{WEB}\"\ndns = [\"web.mesh.internal\"]\ntoken_file = \"{}\"\nexec = \"echo web >> {}\"\n\
             [[identity]]\nname = \"api-1\"\nid = \"spiffe://mesh.internal/service/api\"\ntoken_file = \"{}\"\n\
             key_mode = \"0640\"\nchain_file = \"{}\"\n",
            t1.display(),
            marker.display(),
            t2.display(),
            ca.pki.path("elsewhere/api-chain.pem").display()
        ),
    );
    meshtls()
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .assert()
        .success();
    assert_eq!(mode(&dir.join("web/key.pem")), 0o600);
    assert_eq!(mode(&dir.join("api-1/key.pem")), 0o640);
    assert_eq!(mode(&dir.join("ca.pem")), 0o644);
    assert!(ca.pki.path("elsewhere/api-chain.pem").exists());
    assert!(!dir.join("api-1/chain.pem").exists());
    // The CRL is the service's, and openssl accepts the chain with it.
    let crl = std::fs::read_to_string(dir.join("crl.pem")).unwrap();
    assert!(crl.starts_with("-----BEGIN X509 CRL-----"), "{crl}");
    let ok = StdCommand::new("openssl")
        .args(["verify", "-crl_check", "-CAfile"])
        .arg(dir.join("ca.pem"))
        .arg("-CRLfile")
        .arg(dir.join("crl.pem"))
        .arg(dir.join("web/chain.pem"))
        .status()
        .unwrap();
    assert!(ok.success());
    // The hook ran once (not once per file).
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "web\n");
    assert_no_temp_files(&dir.join("web"));
    let serial = serial_of(&dir.join("web/cert.pem"));

    // Again without tokens: resumed from the state, nothing reissued.
    std::fs::remove_file(&t1).unwrap();
    std::fs::remove_file(&t2).unwrap();
    let a = meshtls()
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .assert()
        .success();
    assert!(stderr(&a).contains("resumed from"), "{}", stderr(&a));
    assert_eq!(serial_of(&dir.join("web/cert.pem")), serial);
}

#[test]
fn agent_refuses_bad_configuration_with_stable_codes() {
    let ca = Ca::new("1h");
    let dir = ca.pki.path("shared");
    let cases = [
        ("", "[[identity]]\nid = \"spiffe://mesh.internal/x\"\nbogus = 1\n", "malformed"),
        ("metrics = \"0.0.0.0:9464\"", "[[identity]]\nid = \"spiffe://mesh.internal/x\"\n", "invalid_request"),
        ("", "[[identity]]\nname = \"../up\"\nid = \"spiffe://mesh.internal/x\"\n", "invalid_request"),
        ("", "[[identity]]\nid = \"spiffe://mesh.internal/a/x\"\n[[identity]]\nid = \"spiffe://mesh.internal/b/x\"\n", "invalid_request"),
        ("renew_at_fraction = 1.5", "[[identity]]\nid = \"spiffe://mesh.internal/x\"\n", "invalid_request"),
        ("refresh_every = \"0s\"", "[[identity]]\nid = \"spiffe://mesh.internal/x\"\n", "invalid_request"),
        ("", "", "invalid_request"),
        ("", "[[identity]]\nid = \"not-an-id\"\n", "invalid_request"),
    ];
    for (extra, identities, code) in cases {
        let config = write_config(&ca, &dir, extra, identities);
        let a = meshtls()
            .args(["agent", "--once", "--config"])
            .arg(&config)
            .assert()
            .code(2);
        assert_error_line(&a, code);
    }
    assert!(!dir.exists(), "nothing written on a refused configuration");
    // No token and no state: the enrollment cannot start (invalid_request, exit 2).
    let config = write_config(&ca, &dir, "", &format!("[[identity]]\nid = \"{WEB}\"\n"));
    let a = meshtls()
        .env_remove("MESHTLS_JOIN_TOKEN")
        .args(["agent", "--once", "--config"])
        .arg(&config)
        .assert()
        .code(2);
    assert!(stderr(&a).contains("no join token"), "{}", stderr(&a));
}

/// Kills the agent when dropped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn the_agent_renews_rewrites_reloads_and_counts_it_in_metrics() {
    // 1-minute certificates (backdated a minute by the service), renewed at 55-60% of
    // their lifetime: a renewal about every 10 s.
    let ca = Ca::new("1m");
    let token = ca.token(WEB, &[], "web.token");
    let dir = ca.pki.path("shared");
    let marker = ca.pki.path("hook.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_meshtls"))
        .args(["agent", "--url", ca.url(), "--bundle"])
        .arg(ca.pki.bundle())
        .args(["--id", WEB, "--token-file"])
        .arg(&token)
        .arg("--dir")
        .arg(&dir)
        .args(["--metrics", &metrics, "--refresh-every", "1s"])
        .args(["--renew-at-fraction", "0.6"])
        .arg("--exec")
        .arg(format!("echo reload >> {}; exit 3", marker.display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let _agent = Agent(child);
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(l);
        }
    });
    let first = {
        let start = Instant::now();
        loop {
            if let Ok(b) = std::fs::read(dir.join("web/cert.pem")) {
                if !b.is_empty() {
                    break serial_of(&dir.join("web/cert.pem"));
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{:?}",
                lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let start = Instant::now();
    let body = loop {
        let (status, body) = http_get(&metrics, "/metrics");
        assert_eq!(status, 200);
        let hook_failures = metric(
            &body,
            "meshtls_agent_reload_hook_failures_total{identity=\"web\"} ",
        );
        if metric(
            &body,
            "meshtls_agent_renewals_total{identity=\"web\",result=\"ok\"} ",
        )
        .unwrap_or(0.0)
            >= 1.0
            && hook_failures.unwrap_or(0.0) >= 2.0
            && serial_of(&dir.join("web/cert.pem")) != first
        {
            break body;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no renewal: {body}\n{:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let expiry =
        metric(&body, "meshtls_agent_certificate_expiry_seconds{identity=\"web\",spiffe_id=\"spiffe://mesh.internal/service/web\"} ")
            .expect("expiry metric");
    assert!(expiry > 0.0 && expiry <= 60.0, "{expiry}");
    // The hook failed each time, and every failure is counted and logged.
    let failures = metric(
        &body,
        "meshtls_agent_reload_hook_failures_total{identity=\"web\"} ",
    )
    .unwrap();
    assert!(failures >= 2.0, "{body}");
    assert!(
        metric(
            &body,
            "meshtls_agent_trust_refresh_age_seconds{identity=\"web\"} "
        )
        .unwrap()
            <= 5.0
    );
    assert!(std::fs::read_to_string(&marker).unwrap().lines().count() >= 2);
    let log = lines.lock().unwrap().join("\n");
    assert!(log.contains("reload hook failed"), "{log}");
    assert!(log.contains("renewed: serial"), "{log}");
    let (status, body) = http_get(&metrics, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = http_get(&metrics, "/nope");
    assert_eq!(status, 404);
    // The key and the certificate on disk belong together.
    let chain = std::fs::read(dir.join("web/chain.pem")).unwrap();
    let key = std::fs::read(dir.join("web/key.pem")).unwrap();
    meshtls_net::Identity::from_pem(&chain, &key).expect("the key matches the certificate");
}

#[test]
fn agent_once_signals_the_pid_file_and_a_failed_hook_exits_3() {
    let ca = Ca::new("1h");
    let token = ca.token(WEB, &[], "web.token");
    let dir = ca.pki.path("shared");
    let marker = ca.pki.path("got-usr1");
    // A program that says when it gets SIGUSR1.
    let mut program = StdCommand::new("sh")
        .arg("-c")
        .arg(format!(
            "trap 'echo usr1 > {}; exit 0' USR1; while :; do sleep 0.05; done",
            marker.display()
        ))
        .spawn()
        .unwrap();
    let pid_file = ca.pki.path("program.pid");
    std::fs::write(&pid_file, format!("{}\n", program.id())).unwrap();
    meshtls()
        .args(["agent", "--once", "--url", ca.url(), "--bundle"])
        .arg(ca.pki.bundle())
        .args(["--id", WEB, "--token-file"])
        .arg(&token)
        .arg("--dir")
        .arg(&dir)
        .arg("--pid-file")
        .arg(&pid_file)
        .args(["--signal", "USR1"])
        .assert()
        .success();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no signal arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = program.kill();
    let _ = program.wait();
    // The program is gone now: the PID file names no process. The files are written, the
    // hook failed: exit 3, io, and the log says why.
    let a = meshtls()
        .args(["agent", "--once", "--url", ca.url(), "--bundle"])
        .arg(ca.pki.bundle())
        .args(["--id", WEB, "--dir"])
        .arg(&dir)
        .arg("--pid-file")
        .arg(ca.pki.path("no-such.pid"))
        .assert()
        .code(3);
    let err = stderr(&a);
    assert!(err.contains("reload hook failed"), "{err}");
    assert!(
        err.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("error: io: the reload hook of web failed"),
        "{err}"
    );
}

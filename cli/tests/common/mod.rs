//! Shared helpers of the CLI tests: the binary with a clean environment, a CA per test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub mod service;

pub const PASS: &str = "correct horse battery staple";
pub const TD: &str = "mesh.internal";
pub const ID: &str = "spiffe://mesh.internal/service/user-svc";

/// `meshtls` with the CA passphrase in the environment and nothing else of ours set.
pub fn meshtls() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_meshtls"));
    for var in [
        "MESHTLS_CA_PASSPHRASE",
        "MESHTLS_PARENT_CA_PASSPHRASE",
        "MESHTLS_PFX_PASSWORD",
    ] {
        c.env_remove(var);
    }
    c.env("MESHTLS_CA_PASSPHRASE", PASS);
    c
}

/// A temporary directory with a root CA in `ca/`.
pub struct Pki {
    pub dir: TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        meshtls()
            .args(["ca", "init", "--trust-domain", TD, "--out"])
            .arg(dir.path().join("ca"))
            .assert()
            .success();
        Pki { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca")
    }

    pub fn bundle(&self) -> PathBuf {
        self.path("ca/ca.crt")
    }

    /// Issues `id` into `rel` with extra flags.
    pub fn issue(&self, id: &str, rel: &str, extra: &[&str]) -> PathBuf {
        let out = self.path(rel);
        meshtls()
            .arg("issue")
            .arg("--ca")
            .arg(self.ca())
            .args(["--id", id, "--out"])
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        out
    }

    /// The serial of a certificate file, from `inspect --json`.
    pub fn serial(&self, cert: &Path) -> String {
        let v = json(
            &meshtls()
                .arg("inspect")
                .arg(cert)
                .arg("--json")
                .assert()
                .success(),
        );
        v["certificates"][0]["serial"]
            .as_str()
            .expect("serial")
            .to_owned()
    }
}

/// Parses the stdout of a finished command as JSON.
pub fn json(a: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&a.get_output().stdout).expect("stdout is JSON")
}

/// stderr of a finished command as text.
pub fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// Checks the one-line error contract: one line, `error: <code>: ...`, no panic.
pub fn assert_error_line(a: &assert_cmd::assert::Assert, code: &str) {
    let err = stderr(a);
    assert!(
        err.starts_with(&format!("error: {code}: ")),
        "stderr should start with `error: {code}: `, got {err:?}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(!err.contains("panicked"), "{err:?}");
}

#[cfg(unix)]
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

/// No temporary files left behind in `dir`.
pub fn assert_no_temp_files(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "temp file left: {name}");
    }
}

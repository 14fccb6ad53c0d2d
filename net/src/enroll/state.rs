//! A node's identity kept on disk (`DIR/identity.pem`), so a restarted node can resume
//! without a new token, and the CRL it holds (`DIR/crl.pem`), so a restarted node does not
//! step back to an older CRL either.

use std::io::Write;
use std::path::Path;

use meshtls_core::{Error as CoreError, ErrorCode};

use super::EnrollError;
use crate::Identity;

/// The state file in a state directory.
pub const STATE_FILE: &str = "identity.pem";

/// Write chain + key as one file, mode 0600, atomically (temp file, fsync, rename), so a
/// crash leaves the old pair or the new one, never a chain with the other's key.
pub(super) fn save_state(dir: &Path, chain_pem: &str, key_pem: &str) -> Result<(), EnrollError> {
    let io = |e: std::io::Error| EnrollError::Invalid(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    let mut f = open.open(&tmp).map_err(io)?;
    f.write_all(chain_pem.as_bytes()).map_err(io)?;
    if !chain_pem.ends_with('\n') {
        f.write_all(b"\n").map_err(io)?;
    }
    f.write_all(key_pem.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Read the identity a state directory holds.
pub(super) fn load_state(dir: &Path) -> Result<Identity, EnrollError> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| EnrollError::Invalid(format!("{}: {e}", path.display())))?;
    let at = text.find("-----BEGIN PRIVATE KEY-----").ok_or_else(|| {
        EnrollError::Core(CoreError::new(
            ErrorCode::Malformed,
            format!("{}: no private key", path.display()),
        ))
    })?;
    let (chain, key) = text.split_at(at);
    Ok(Identity::from_pem(chain.as_bytes(), key.as_bytes())?)
}

/// The CRL file in a state directory: the CRL(s) last applied by the trust refresh.
pub const CRL_FILE: &str = "crl.pem";

/// Keep the CRL(s) just applied as `DIR/crl.pem` (temp file, fsync, rename).
pub(super) fn save_crl(dir: &Path, pem: &[u8]) -> Result<(), EnrollError> {
    let io = |e: std::io::Error| EnrollError::Invalid(format!("{}: {e}", dir.display()));
    let tmp = dir.join(format!(".{CRL_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(pem).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, dir.join(CRL_FILE)).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The CRL(s) a state directory holds, if any.
pub(super) fn load_crl(dir: &Path) -> Option<Vec<u8>> {
    std::fs::read(dir.join(CRL_FILE)).ok()
}

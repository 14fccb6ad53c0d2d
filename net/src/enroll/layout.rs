//! Where an enrolled identity is kept for programs that read files (nginx, Go, Java,
//! HAProxy...): the certificate, its chain, its key, the CA bundle and the CRL, each at a path
//! the operator chooses, each replaced atomically with its mode.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use meshtls_core::{encoding, Error as CoreError, ErrorCode};

use super::EnrollError;
use crate::Identity;

/// Mode of private keys (default).
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates, bundles and CRLs (default).
pub const PUBLIC_MODE: u32 = 0o644;

/// The files of one identity and of the trust it was issued under.
///
/// ```
/// use meshtls_net::enroll::FileLayout;
/// let l = FileLayout::standard("/etc/meshtls".as_ref(), "nginx");
/// assert_eq!(l.cert, std::path::Path::new("/etc/meshtls/nginx/cert.pem"));
/// assert_eq!(l.bundle.as_deref(), Some(std::path::Path::new("/etc/meshtls/ca.pem")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLayout {
    /// The leaf certificate alone (PEM).
    pub cert: PathBuf,
    /// The private key (PKCS#8 PEM), written with [`key_mode`](Self::key_mode).
    pub key: PathBuf,
    /// The leaf then its intermediates (PEM): what a TLS server or client presents.
    pub chain: PathBuf,
    /// The CA certificates to trust (PEM), if kept.
    pub bundle: Option<PathBuf>,
    /// The CRL(s) (PEM), if kept.
    pub crl: Option<PathBuf>,
    /// Mode of the key file (default 0600).
    pub key_mode: u32,
    /// Mode of the other files (default 0644).
    pub public_mode: u32,
}

impl FileLayout {
    /// The shared-volume layout: `DIR/ca.pem`, `DIR/crl.pem` and
    /// `DIR/NAME/{cert,chain,key}.pem`.
    pub fn standard(dir: &Path, name: &str) -> Self {
        let own = dir.join(name);
        FileLayout {
            cert: own.join("cert.pem"),
            key: own.join("key.pem"),
            chain: own.join("chain.pem"),
            bundle: Some(dir.join("ca.pem")),
            crl: Some(dir.join("crl.pem")),
            key_mode: KEY_MODE,
            public_mode: PUBLIC_MODE,
        }
    }

    /// Everything in one directory: `DIR/{cert,chain,key,ca,crl}.pem`.
    pub fn flat(dir: &Path) -> Self {
        FileLayout {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            chain: dir.join("chain.pem"),
            bundle: Some(dir.join("ca.pem")),
            crl: Some(dir.join("crl.pem")),
            key_mode: KEY_MODE,
            public_mode: PUBLIC_MODE,
        }
    }

    /// Writes the key, then the chain, then the certificate of `identity`, each atomically;
    /// a file whose content is already the same is left alone. `true` when any changed.
    ///
    /// A reader between two renames can see the new key beside the old certificate: run the
    /// reload only after this returns (the agent does), or load again on a mismatch.
    pub fn write_identity(&self, identity: &Identity) -> Result<bool, EnrollError> {
        let leaf = identity.chain().first().ok_or_else(|| {
            EnrollError::Core(CoreError::new(ErrorCode::Malformed, "an empty chain"))
        })?;
        let key = identity.key_pem();
        let mut changed = write_atomic(&self.key, key.as_bytes(), self.key_mode)?;
        changed |= write_atomic(
            &self.chain,
            identity.chain_pem().as_bytes(),
            self.public_mode,
        )?;
        changed |= write_atomic(
            &self.cert,
            encoding::cert_pem(leaf.as_ref()).as_bytes(),
            self.public_mode,
        )?;
        Ok(changed)
    }

    /// Writes the bundle (if this layout keeps one); `true` when it changed.
    pub fn write_bundle(&self, pem: &[u8]) -> Result<bool, EnrollError> {
        match &self.bundle {
            Some(path) => write_atomic(path, pem, self.public_mode),
            None => Ok(false),
        }
    }

    /// Writes the CRL (if this layout keeps one); `true` when it changed.
    pub fn write_crl(&self, pem: &[u8]) -> Result<bool, EnrollError> {
        match &self.crl {
            Some(path) => write_atomic(path, pem, self.public_mode),
            None => Ok(false),
        }
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> EnrollError {
    EnrollError::Core(CoreError::new(
        ErrorCode::Io,
        format!("{}: {e}", path.display()),
    ))
}

/// Replaces `path` with `data` atomically (a temporary file in the same directory with `mode`
/// set before the first byte, fsync, rename, fsync of the directory), creating missing parent
/// directories (0755). Returns `false`, writing nothing, when the file already holds `data`
/// with `mode`.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<bool, EnrollError> {
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;
    if let (Ok(old), Ok(meta)) = (fs::read(path), fs::metadata(path)) {
        #[cfg(unix)]
        let same_mode = meta.permissions().mode() & 0o7777 == mode;
        #[cfg(not(unix))]
        let same_mode = {
            let _ = meta;
            true
        };
        if old == data && same_mode {
            return Ok(false);
        }
    }
    if path.file_name().is_none() {
        return Err(EnrollError::Invalid(format!(
            "{}: not a file name",
            path.display()
        )));
    }
    let dir = parent_dir(path);
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, &e))?;
    replace_file(path, data, mode).map_err(|e| io_error(path, &e))?;
    Ok(true)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The one atomic file replacement of meshtls (the CLI's files and the agent's layout): a
/// temporary file beside `path` created with `mode` (set exactly, whatever the umask) before
/// the first byte, fsync, rename over `path`, fsync of the directory. On failure the
/// temporary file is removed and `path` is untouched: never a half-written key or certificate.
pub fn replace_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = parent_dir(path);
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut open = OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        open.mode(mode);
        let mut f = open.open(&tmp)?;
        // The umask may have narrowed the mode: set it exactly before the first byte.
        #[cfg(unix)]
        f.set_permissions(Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_with_the_mode_and_skips_what_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/key.pem");
        assert!(write_atomic(&path, b"one", 0o600).unwrap());
        assert_eq!(mode_of(&path), 0o600);
        assert!(!write_atomic(&path, b"one", 0o600).unwrap());
        // Same bytes, another mode: rewritten with the mode.
        assert!(write_atomic(&path, b"one", 0o640).unwrap());
        assert_eq!(mode_of(&path), 0o640);
        assert!(write_atomic(&path, b"two", 0o640).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);
    }

    #[test]
    fn a_failed_write_is_io_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails.
        let path = dir.path().join("cert.pem");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("x"), b"x").unwrap();
        let e = write_atomic(&path, b"data", 0o644).unwrap_err();
        assert_eq!(e.code(), "io");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_identity_files_match_and_the_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = format!("{}/../fixtures", env!("CARGO_MANIFEST_DIR"));
        let identity = Identity::from_pem(
            &fs::read(format!("{fixtures}/web.chain.pem")).unwrap(),
            &fs::read(format!("{fixtures}/web.key.pem")).unwrap(),
        )
        .unwrap();
        let layout = FileLayout::standard(dir.path(), "web");
        assert!(layout.write_identity(&identity).unwrap());
        assert!(!layout.write_identity(&identity).unwrap());
        assert_eq!(mode_of(&layout.key), 0o600);
        assert_eq!(mode_of(&layout.cert), 0o644);
        let again = Identity::from_pem(
            &fs::read(&layout.chain).unwrap(),
            &fs::read(&layout.key).unwrap(),
        )
        .unwrap();
        assert_eq!(again.chain_pem(), identity.chain_pem());
        let leaf =
            meshtls_core::Certificate::from_pem_or_der(&fs::read(&layout.cert).unwrap()).unwrap();
        assert_eq!(leaf.fingerprint, identity.leaf().unwrap().fingerprint);
    }
}

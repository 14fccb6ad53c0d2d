//! Files as the CLI reads and writes them: every read names the file on failure, every write
//! is atomic (a temporary file in the same directory, fsync, rename, fsync of the directory),
//! and secrets come from a file or an environment variable, never from the command line.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use crate::error::CliError;

/// Mode of certificates, CRLs and records.
pub const PUBLIC: u32 = 0o644;
/// Mode of private keys and PFX files.
pub const SECRET: u32 = 0o600;

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    fs::read(path).map_err(|e| CliError::io(path, &e))
}

/// Reads a file if it exists (`None` when it does not).
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, CliError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(path, &e)),
    }
}

/// Reads a UTF-8 text file.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    String::from_utf8(read(path)?).map_err(|_| {
        CliError::new(meshtls_core::ErrorCode::Malformed, "not UTF-8 text").in_file(path)
    })
}

/// A secret (passphrase, password): from `file` when given, else from the environment
/// variable `env`. One trailing line ending of a file is dropped; an empty secret is refused.
pub fn read_secret(file: Option<&Path>, env: &str, what: &str) -> Result<String, CliError> {
    let (value, source) = match file {
        Some(path) => {
            let text = read_text(path)?;
            let text = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text)
                .to_owned();
            (text, path.display().to_string())
        }
        None => match std::env::var(env) {
            Ok(v) => (v, format!("${env}")),
            Err(std::env::VarError::NotPresent) => {
                return Err(CliError::invalid(format!(
                    "no {what}: give a file with the flag, or set {env}"
                )))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(CliError::invalid(format!("{env} is not UTF-8")))
            }
        },
    };
    if value.is_empty() {
        return Err(CliError::invalid(format!(
            "the {what} from {source} is empty"
        )));
    }
    Ok(value)
}

/// Creates a directory (and its parents) if missing; a new directory gets `mode`.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), CliError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| CliError::io(dir, &e))
}

/// Replaces `path` with `data` atomically: readers see the old file or the new one, never a
/// part. The temporary file gets `mode` before any byte is written (meshtls-net's
/// [`replace_file`](meshtls_net::enroll::replace_file), the one atomic write of meshtls).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), CliError> {
    if path.file_name().is_none() {
        return Err(CliError::invalid("not a file name").in_file(path));
    }
    meshtls_net::enroll::replace_file(path, data, mode).map_err(|e| CliError::io(path, &e))
}

/// Refuses to replace an existing file unless `force`.
pub fn check_overwrite(path: &Path, force: bool, hint: &str) -> Result<(), CliError> {
    if !force && path.exists() {
        return Err(
            CliError::invalid(format!("already exists: use --force to replace it{hint}"))
                .in_file(path),
        );
    }
    Ok(())
}

//! The CLI's one error type: a core [`ErrorCode`], a message, the file it concerns, and the
//! exit status the code maps to. Printed as one line: `error: <code>: [<file>: ]<message>`.

use std::fmt;
use std::path::{Path, PathBuf};

use meshtls_core::{Error, ErrorCode, ErrorFamily};
use serde::Serialize;

/// Exit statuses, documented in `meshtls --help` and cli/README.md.
pub mod exit {
    /// Success (for `verify`: the peer is accepted).
    pub const OK: u8 = 0;
    /// Verification rejected the peer (expired, revoked, unknown_issuer, identity_not_allowed...).
    pub const REJECTED: u8 = 1;
    /// Bad usage or bad input: unknown flag, malformed file, invalid request, unsupported.
    pub const USAGE: u8 = 2;
    /// A file or network operation failed (missing file, permission denied, connect failed).
    pub const IO: u8 = 3;
    /// The passphrase or password does not decrypt the key.
    pub const PASSPHRASE: u8 = 4;
    /// A bug in meshtls.
    pub const INTERNAL: u8 = 5;
    /// `serve` refused to start: the ledger is missing, empty, another CA's or older than
    /// the CA directory remembers (code `io`).
    pub const LEDGER_REFUSED: u8 = 6;
}

/// The exit-code table shown at the end of `meshtls --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (verify/probe: the peer is accepted)
  1  verification rejected the peer: expired, not_yet_valid, unknown_issuer, bad_signature,
     revoked, wrong_usage, identity_not_allowed, not_pinned, name_constraint_violation,
     revocation_unknown, crl_expired, chain_too_long, invalid_svid, no_certificate,
     invalid_certificate, unknown_critical_extension, name_constraints_too_complex,
     token_signature, token_algorithm, token_unknown_key, token_expired, token_audience,
     token_binding
  2  usage or bad input: unknown flag, malformed, unsupported, invalid_request, weak_key,
     weak_signature, not_authorized, stale_crl, invalid_crl, token_malformed
  3  io: a file could not be read or written, a connection failed
  4  wrong_passphrase: the passphrase or PFX password does not open the key
  5  internal: a bug in meshtls, please report it
  6  serve refused to start (code io): the ledger is missing, empty, another CA's or older
     than the CA directory remembers; see `meshtls admin restore`
Errors are one line on stderr: `error: <code>: [<file>: ]<message>`; the code is stable.";

/// The exit status of a code: one per core error family, so the CLI groups codes exactly as
/// every binding does.
pub fn exit_status_of(code: ErrorCode) -> u8 {
    match code.family() {
        ErrorFamily::Verification => exit::REJECTED,
        ErrorFamily::Input | ErrorFamily::Request => exit::USAGE,
        ErrorFamily::Io => exit::IO,
        ErrorFamily::Passphrase => exit::PASSPHRASE,
        // A family this CLI does not know yet: never report it as success or as a verdict.
        _ => exit::INTERNAL,
    }
}

/// A failure of a command.
#[derive(Debug, Clone)]
pub struct CliError {
    code: ErrorCode,
    message: String,
    file: Option<PathBuf>,
    exit: Option<u8>,
}

impl CliError {
    /// An error with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            file: None,
            exit: None,
        }
    }

    /// `serve` must not start on this ledger (code `io`, exit 6).
    pub fn ledger_refused(message: impl Into<String>) -> Self {
        CliError {
            exit: Some(exit::LEDGER_REFUSED),
            ..CliError::new(ErrorCode::Io, message)
        }
    }

    /// A bad request from the command line (exit 2).
    pub fn invalid(message: impl Into<String>) -> Self {
        CliError::new(ErrorCode::InvalidRequest, message)
    }

    /// A failed file operation on `path`.
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        let what = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
            _ => err.to_string(),
        };
        CliError::new(ErrorCode::Io, what).in_file(path)
    }

    /// Names the file the error concerns (kept if one is already named).
    pub fn in_file(mut self, path: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(path.to_path_buf());
        }
        self
    }

    /// The exit status for the code.
    pub fn exit_status(&self) -> u8 {
        self.exit.unwrap_or_else(|| exit_status_of(self.code))
    }

    /// The error as the JSON object printed on stdout under `--json`.
    pub fn to_json(&self) -> JsonError {
        JsonError {
            ok: false,
            error: JsonErrorBody {
                code: self.code.as_str(),
                family: self.code.family().as_str(),
                message: self.message.clone(),
                file: self.file.as_ref().map(|p| p.display().to_string()),
                exit_status: self.exit_status(),
            },
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}: ", self.code.as_str())?;
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        // One line, whatever the message holds.
        f.write_str(&self.message.replace(['\n', '\r'], " "))
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::new(e.code(), e.message())
    }
}

/// `--json` form of an error.
#[derive(Debug, Serialize)]
pub struct JsonError {
    ok: bool,
    error: JsonErrorBody,
}

#[derive(Debug, Serialize)]
struct JsonErrorBody {
    code: &'static str,
    family: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    exit_status: u8,
}

/// Attaches a file name to the error of a result.
pub trait InFile<T> {
    /// Names `path` in the error, if any.
    fn in_file(self, path: &Path) -> Result<T, CliError>;
}

impl<T> InFile<T> for Result<T, Error> {
    fn in_file(self, path: &Path) -> Result<T, CliError> {
        self.map_err(|e| CliError::from(e).in_file(path))
    }
}

impl<T> InFile<T> for Result<T, CliError> {
    fn in_file(self, path: &Path) -> Result<T, CliError> {
        self.map_err(|e| e.in_file(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_documented_exit_status() {
        for code in ErrorCode::ALL {
            let status = exit_status_of(*code);
            let line = EXIT_CODES_HELP
                .lines()
                .skip_while(|l| !l.trim_start().starts_with(&status.to_string()))
                .take_while(|l| {
                    !l.trim_start().starts_with(&(status + 1).to_string())
                        && !l.starts_with("Errors")
                })
                .collect::<String>();
            assert!(line.contains(code.as_str()), "{code} -> {status}: {line:?}");
        }
    }

    #[test]
    fn the_line_names_code_file_and_message_on_one_line() {
        let e = CliError::new(ErrorCode::Malformed, "bad\nPEM").in_file(Path::new("x/ca.crt"));
        assert_eq!(e.to_string(), "error: malformed: x/ca.crt: bad PEM");
        assert_eq!(e.exit_status(), exit::USAGE);
    }
}

//! The clock: the CLI is an edge, so it reads the system time and hands core a `Timestamp`.

use std::time::SystemTime;

use meshtls_core::{ErrorCode, Timestamp};

use crate::error::CliError;

/// Now, in whole seconds.
pub fn now() -> Result<Timestamp, CliError> {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| CliError::new(ErrorCode::Internal, "the system clock is before 1970"))?
        .as_secs();
    i64::try_from(secs)
        .map(Timestamp::from_unix)
        .map_err(|_| CliError::new(ErrorCode::Internal, "the system clock is out of range"))
}

/// Parses `--at`: RFC 3339 (`2026-09-21T14:13:20Z`) or seconds since the epoch.
pub fn parse_at(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.message().to_owned())
}

//! The clock: the CLI is an edge, so it reads the system time and hands core a `Timestamp`.

use std::time::SystemTime;

use meshtls_core::{ErrorCode, Timestamp};
use time::format_description::well_known::Rfc3339;

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
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(Timestamp::from_unix(secs));
    }
    time::OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| Timestamp::from_unix(t.unix_timestamp()))
        .map_err(|e| format!("{s:?} is neither RFC 3339 nor a unix time: {e}"))
}

//! Time as meshtls sees it: whole seconds since the Unix epoch, always passed in by the caller.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// A point in time, in whole seconds since 1970-01-01T00:00:00Z (UTC).
///
/// The core never reads the clock; the edges (CLI, bindings, transport) pass `now` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The timestamp of `secs` seconds after the epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This time plus a duration (saturating).
    #[allow(clippy::should_implement_trait)] // saturating, unlike `+`
    pub fn add(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(d.as_secs().min(i64::MAX as u64) as i64),
        )
    }

    /// This time minus a duration (saturating).
    #[allow(clippy::should_implement_trait)] // saturating, unlike `-`
    pub fn sub(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_sub(d.as_secs().min(i64::MAX as u64) as i64),
        )
    }

    /// The duration from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_secs(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// Parses RFC 3339 (`2026-09-21T14:13:20Z`, any offset) or whole seconds since the epoch:
    /// the one time syntax every meshtls front end accepts.
    ///
    /// ```
    /// # use meshtls_core::Timestamp;
    /// assert_eq!(Timestamp::parse("2026-09-21T14:13:20Z")?, Timestamp::from_unix(1_790_000_000));
    /// assert_eq!(Timestamp::parse("1790000000")?, Timestamp::from_unix(1_790_000_000));
    /// # Ok::<(), meshtls_core::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if let Ok(secs) = s.parse::<i64>() {
            return Ok(Timestamp(secs));
        }
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Timestamp(t.unix_timestamp()))
            .map_err(|e| {
                Error::malformed(format!("{s:?} is neither RFC 3339 nor a unix time: {e}"))
            })
    }

    /// RFC 3339 form, e.g. `2026-11-25T16:54:29Z`.
    pub fn to_rfc3339(self) -> String {
        match self.to_offset() {
            Ok(t) => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            Err(_) => format!("@{}", self.0),
        }
    }

    pub(crate) fn to_offset(self) -> Result<time::OffsetDateTime> {
        time::OffsetDateTime::from_unix_timestamp(self.0)
            .map_err(|_| Error::invalid_request(format!("time {} is out of range", self.0)))
    }

    pub(crate) fn to_pki(self) -> pki_types::UnixTime {
        pki_types::UnixTime::since_unix_epoch(Duration::from_secs(self.0.max(0) as u64))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Parses a duration such as `90d`, `12h`, `30m`, `45s`, `2w` or a plain number of seconds.
///
/// ```
/// # use meshtls_core::validity::parse_duration;
/// assert_eq!(parse_duration("90d")?.as_secs(), 90 * 86400);
/// assert_eq!(parse_duration("1h30m")?.as_secs(), 5400);
/// # Ok::<(), meshtls_core::Error>(())
/// ```
pub fn parse_duration(s: &str) -> Result<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Error::malformed("duration is empty"));
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            'y' => 365 * 86400,
            _ => {
                return Err(Error::malformed(format!(
                    "duration {s:?}: unknown unit {c:?}"
                )))
            }
        };
        let n: u64 = num
            .parse()
            .map_err(|_| Error::malformed(format!("duration {s:?}: a unit without a number")))?;
        num.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| Error::malformed(format!("duration {s:?} is too long")))?;
    }
    if !num.is_empty() {
        return Err(Error::malformed(format!(
            "duration {s:?}: number without a unit at the end"
        )));
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration for people: `89d 23h`, `5m 3s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    if days > 0 {
        format!("{days}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(Timestamp::from_unix(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(1_790_000_000).to_rfc3339(),
            "2026-09-21T14:13:20Z"
        );
    }

    #[test]
    fn parse_times() {
        assert_eq!(
            Timestamp::parse("1970-01-01T01:00:00+01:00").unwrap(),
            Timestamp::from_unix(0)
        );
        assert_eq!(Timestamp::parse("-5").unwrap(), Timestamp::from_unix(-5));
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-09-21"] {
            assert_eq!(
                Timestamp::parse(bad).unwrap_err().code(),
                crate::ErrorCode::Malformed,
                "{bad}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60").unwrap().as_secs(), 60);
        assert_eq!(parse_duration("2w1d").unwrap().as_secs(), 15 * 86400);
        for bad in ["", "d", "5x", "10d5", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_duration(Duration::from_secs(90 * 86400 + 3600)),
            "90d 1h"
        );
        assert_eq!(format_duration(Duration::from_secs(61)), "1m 1s");
    }
}

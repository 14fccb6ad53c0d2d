//! Time and durations at the JavaScript edge: `Date` in and out (now when omitted: only the
//! edges read the clock), durations as seconds or the core's duration strings (`"90d"`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use meshtls_core::{ErrorCode, Timestamp};
use napi::bindgen_prelude::Either;

use crate::error::{edge, IntoJs, JsResult};

/// A `Date` (or now) as a core timestamp (whole seconds).
pub fn at(date: Option<DateTime<Utc>>) -> Timestamp {
    Timestamp::from_unix(date.unwrap_or_else(Utc::now).timestamp())
}

/// A core timestamp as a `Date`.
pub fn to_date(ts: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(ts.unix(), 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A duration given as seconds (a number) or as the core's duration text (`"90d"`, `"1h30m"`).
pub fn duration(value: Either<f64, String>) -> JsResult<Duration> {
    match value {
        Either::A(secs) => {
            if !secs.is_finite() || secs < 0.0 || secs > u32::MAX as f64 * 1000.0 {
                return Err(edge(
                    ErrorCode::Malformed,
                    format!("duration {secs} is not a number of seconds from 0"),
                ));
            }
            Ok(Duration::from_secs(secs as u64))
        }
        Either::B(text) => meshtls_core::validity::parse_duration(&text).js(),
    }
}

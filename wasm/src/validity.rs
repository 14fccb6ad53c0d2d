//! Time at the JS edge: milliseconds since the Unix epoch, as `Date.now()` and
//! `date.getTime()` give them. The core never reads the clock (`SystemTime::now()` traps on
//! wasm32), so every function that needs "now" takes it as an argument.

use meshtls_core::Timestamp;
use wasm_bindgen::prelude::*;

use crate::error::{MeshError, Result};

/// JS milliseconds to a core timestamp (whole seconds, rounded down).
pub(crate) fn from_millis(ms: f64) -> Result<Timestamp> {
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Err(MeshError::malformed(format!(
            "time {ms} is not a date: pass milliseconds since the epoch, e.g. Date.now()"
        )));
    }
    Ok(Timestamp::from_unix((ms / 1000.0).floor() as i64))
}

/// A core timestamp as JS milliseconds (use `new Date(ms)`).
pub(crate) fn to_millis(t: Timestamp) -> f64 {
    t.unix() as f64 * 1000.0
}

/// Parses a duration such as `90d`, `12h`, `30m`, `45s`, `2w` or a number of seconds, and
/// returns it in seconds. Throws `malformed` for anything else.
#[wasm_bindgen(js_name = parseDuration)]
pub fn parse_duration(text: &str) -> Result<f64> {
    Ok(meshtls_core::validity::parse_duration(text)?.as_secs() as f64)
}

pub(crate) fn duration(text: &str) -> Result<std::time::Duration> {
    Ok(meshtls_core::validity::parse_duration(text)?)
}

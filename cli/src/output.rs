//! Printing results: text for people, or one JSON document for machines under `--json`.

use std::io::Write;

use meshtls_core::{ErrorCode, Timestamp};
use serde::Serialize;

use crate::error::CliError;

/// Writes text to stdout; a closed pipe (`meshtls inspect x | head -1`) is not an error.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::new(ErrorCode::Io, format!("stdout: {e}"))),
    }
}

/// Prints `value` as pretty JSON.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(ErrorCode::Internal, format!("JSON encoding: {e}")))?;
    s.push('\n');
    print(&s)
}

/// Prints JSON under `--json`, else the text `human` builds.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> Result<(), CliError> {
    if json {
        print_json(value)
    } else {
        print(&human())
    }
}

/// A time for JSON: RFC 3339 and unix seconds.
#[derive(Debug, Clone, Serialize)]
pub struct Time {
    /// `2026-09-21T14:13:20Z`
    pub rfc3339: String,
    /// Seconds since the epoch.
    pub unix: i64,
}

impl From<Timestamp> for Time {
    fn from(t: Timestamp) -> Self {
        Time {
            rfc3339: t.to_rfc3339(),
            unix: t.unix(),
        }
    }
}

/// `name: value` lines aligned for people.
#[derive(Default)]
pub struct Fields {
    rows: Vec<(String, String)>,
}

impl Fields {
    /// A new list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a row.
    pub fn add(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.rows.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a row when the list is not empty (values joined by `, `).
    pub fn add_list(&mut self, name: &str, values: &[String]) -> &mut Self {
        if !values.is_empty() {
            self.add(name, values.join(", "));
        }
        self
    }

    /// The rows, indented by `indent` spaces.
    pub fn render(&self, indent: usize) -> String {
        let width = self.rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 1;
        let mut s = String::new();
        for (n, v) in &self.rows {
            s.push_str(&format!("{:indent$}{:<width$} {v}\n", "", format!("{n}:")));
        }
        s
    }
}

//! The access and audit log: one JSON line per request (time, client address, verified peer
//! SPIFFE ID, method, endpoint, status, error code). Never a token, key, CSR or passphrase:
//! the line is built from these fields only, never from a body.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;

use serde::Serialize;

/// Where the lines go (a file, stderr...).
pub(super) struct AuditLog {
    sink: Mutex<Box<dyn Write + Send>>,
}

/// One request as logged.
#[derive(Debug, Serialize)]
pub(super) struct AuditLine<'a> {
    /// RFC 3339, UTC.
    pub time: String,
    /// The client's address and port.
    pub address: SocketAddr,
    /// The SPIFFE ID of the verified client certificate, if one was presented.
    pub peer: Option<&'a str>,
    /// HTTP method (`-` for a connection refused before any request).
    pub method: &'a str,
    /// The path, without the query.
    pub endpoint: &'a str,
    /// HTTP status (0 for a connection refused before any request).
    pub status: u16,
    /// The error's stable code, `null` on success.
    pub code: Option<&'a str>,
}

impl AuditLog {
    pub(super) fn new(sink: Box<dyn Write + Send>) -> Self {
        AuditLog {
            sink: Mutex::new(sink),
        }
    }

    /// Write one line; a failing sink (full disk) never fails the request.
    pub(super) fn write(&self, line: &AuditLine<'_>) {
        let Ok(mut text) = serde_json::to_vec(line) else {
            return;
        };
        text.push(b'\n');
        let mut sink = match self.sink.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let _ = sink.write_all(&text);
        let _ = sink.flush();
    }
}

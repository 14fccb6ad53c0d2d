//! The tokio runtime the binding owns: started on first use, shared by every connection;
//! asyncio awaits its work through `bridge`.

use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::PyResult;
use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Worker threads: transport work is I/O bound and crypto happens in handshakes; two workers
/// keep a handshake from stalling every other connection without taking over the machine.
const WORKERS: usize = 2;

/// The runtime, started on first use.
pub fn get() -> PyResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("meshtls-tokio")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))?;
    // Another thread may have won the race; either runtime is fine, keep the first.
    let _ = RUNTIME.set(rt);
    RUNTIME
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("tokio runtime missing"))
}

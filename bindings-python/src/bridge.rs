//! Rust futures as asyncio futures, on the binding's tokio runtime.
//!
//! `spawn` creates an asyncio future on the running loop, runs the Rust future on tokio and
//! hands its outcome back with `loop.call_soon_threadsafe`. Cancelling the asyncio future
//! aborts the tokio task. Rust futures produce plain Rust values and [`Failure`]s: Python
//! objects are only made in [`deliver`], under a gate that the interpreter's exit closes
//! (registered with `atexit`), so no tokio thread touches a finalizing interpreter.

use std::future::Future;
use std::sync::RwLock;

use meshtls_core::Error as CoreError;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;
use pyo3::IntoPyObjectExt;

use crate::error::{closed, enroll_to_py, io_to_core, to_py};
use crate::runtime;

/// True once the interpreter is exiting: results are then dropped, not delivered.
static EXITING: RwLock<bool> = RwLock::new(false);

/// Why a transport future failed, kept in Rust until it is delivered.
#[derive(Debug)]
pub enum Failure {
    /// A core error (the peer was rejected, a socket failed...).
    Core(CoreError),
    /// The connection or server is closed: `ConnectionClosed`.
    Closed(&'static str),
    /// The enrollment client failed (the service's code, the core's, or `transport`).
    Enroll(meshtls_net::enroll::EnrollError),
}

impl Failure {
    fn into_py(self) -> PyErr {
        match self {
            Failure::Core(e) => to_py(e),
            Failure::Closed(m) => closed(m),
            Failure::Enroll(e) => enroll_to_py(e),
        }
    }
}

/// A transport error, with the core's code when the core rejected the peer.
pub fn io_failure(err: std::io::Error) -> Failure {
    Failure::Core(io_to_core(err))
}

/// Runs `work` on the tokio runtime; returns an asyncio future of its outcome.
pub fn spawn<'py, F, T>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, Failure>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let rt = runtime::get()?;
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let (loop_ref, future_ref) = (event_loop.unbind(), future.clone().unbind());
    let task = rt.spawn(async move {
        let outcome = work.await;
        deliver(loop_ref, future_ref, outcome);
    });
    let abort = task.abort_handle();
    // Done by result, exception or cancellation: aborting a finished task does nothing.
    let on_done = PyCFunction::new_closure(py, None, None, move |_args, _kwargs| {
        abort.abort();
    })?;
    future.call_method1("add_done_callback", (on_done,))?;
    Ok(future)
}

fn deliver<T>(event_loop: Py<PyAny>, future: Py<PyAny>, outcome: Result<T, Failure>)
where
    T: for<'a> IntoPyObject<'a>,
{
    let Ok(exiting) = EXITING.read() else {
        return;
    };
    if *exiting {
        return; // nobody awaits any more; the Py references are released later
    }
    Python::attach(|py| {
        let (ok, value) = match outcome.map_err(Failure::into_py) {
            Ok(v) => match v.into_bound_py_any(py) {
                Ok(obj) => (true, obj),
                Err(e) => (false, e.into_value(py).into_bound(py).into_any()),
            },
            Err(e) => (false, e.into_value(py).into_bound(py).into_any()),
        };
        let resolved = wrap_pyfunction!(resolve, py).and_then(|resolve| {
            event_loop.bind(py).call_method1(
                "call_soon_threadsafe",
                (resolve, future.bind(py), ok, value),
            )
        });
        // A closed event loop means the awaiting code is gone: nothing to tell.
        drop(resolved);
    });
}

/// Runs `f` with the GIL from a tokio thread, unless the interpreter is exiting (then `f` is
/// skipped): for callbacks into Python that no asyncio future awaits.
pub fn attach_unless_exiting(f: impl FnOnce(Python<'_>)) {
    let Ok(exiting) = EXITING.read() else {
        return;
    };
    if *exiting {
        return;
    }
    Python::attach(f);
}

/// Sets the outcome on the asyncio future unless it was cancelled meanwhile.
#[pyfunction]
fn resolve(future: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    let method = if ok { "set_result" } else { "set_exception" };
    future.call_method1(method, (value,))?;
    Ok(())
}

/// Closes the gate: called by `atexit` before the interpreter finalizes. Waits (without the
/// GIL) for deliveries in progress.
#[pyfunction]
fn shutdown(py: Python<'_>) {
    py.detach(|| {
        if let Ok(mut exiting) = EXITING.write() {
            *exiting = true;
        }
    });
}

/// Registers the exit hook.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let hook = wrap_pyfunction!(shutdown, m)?;
    m.py().import("atexit")?.call_method1("register", (hook,))?;
    Ok(())
}

//! Work that runs off the event loop: key generation, RSA, bulk issuance, PBKDF/scrypt.
//!
//! One generic napi `Task` (as the anchor's `src/tasks/`): the closure runs on the libuv pool
//! and returns a core `Result`; on the JS thread the value is converted, or the promise is
//! rejected with an `Error` whose `code` is the core's. A panic in the closure becomes an
//! `internal` rejection instead of unwinding into Node.

use std::panic::{catch_unwind, AssertUnwindSafe};

use meshtls_core::{Error as CoreError, ErrorCode};
use napi::bindgen_prelude::*;

use crate::error;

type Work<T> = Box<dyn FnOnce() -> meshtls_core::error::Result<T> + Send>;

/// A core computation and the conversion of its result into a JavaScript value.
pub struct CoreTask<T: Send + 'static, J> {
    work: Option<Work<T>>,
    finish: fn(T) -> J,
}

impl<T: Send + 'static, J> CoreTask<T, J> {
    /// Runs `work` on the pool, then `finish` on the JS thread.
    pub fn new(
        work: impl FnOnce() -> meshtls_core::error::Result<T> + Send + 'static,
        finish: fn(T) -> J,
    ) -> AsyncTask<Self>
    where
        J: ToNapiValue + TypeName,
    {
        AsyncTask::new(CoreTask {
            work: Some(Box::new(work)),
            finish,
        })
    }
}

impl<T: Send + 'static, J: ToNapiValue + TypeName> Task for CoreTask<T, J> {
    type Output = meshtls_core::error::Result<T>;
    type JsValue = J;

    fn compute(&mut self) -> Result<Self::Output> {
        let Some(work) = self.work.take() else {
            return Ok(Err(CoreError::new(
                ErrorCode::Internal,
                "task computed twice",
            )));
        };
        Ok(catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
            Err(CoreError::new(
                ErrorCode::Internal,
                "meshtls panicked (a bug: please report it)",
            ))
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<J> {
        match output {
            Ok(v) => Ok((self.finish)(v)),
            Err(e) => error::reject(&env, e),
        }
    }
}

//! meshtls for Node.js: napi-rs bindings over `meshtls-core` and `meshtls-net`.
//!
//! One wrapper module per core module; they translate types and errors and decide nothing.
//! The public package (`index.js` / `index.mjs`) re-exports this native module together with
//! the helpers for Node's own TLS stacks (`lib/tls.js`).
#![deny(clippy::all)]

mod authority;
mod certificate;
mod encoding;
mod error;
mod identity;
mod issue;
mod net;
mod revocation;
mod rotation;
mod tasks;
mod validity;
mod verify;

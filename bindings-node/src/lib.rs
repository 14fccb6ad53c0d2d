//! meshtls for Node.js: napi-rs bindings over `meshtls-core` and `meshtls-net`.
//!
//! One wrapper module per core module; they translate types and errors and decide nothing.
//! The public package (`index.js` / `index.mjs`) re-exports this native module together with
//! the helpers for Node's own TLS stacks (`lib/tls.js`).
#![deny(clippy::all)]

pub mod authority;
pub mod certificate;
pub mod encoding;
pub mod enroll;
pub mod error;
pub mod grant;
pub mod identity;
pub mod issue;
pub mod jwt;
pub mod net;
pub mod openssl;
pub mod profile;
pub mod revocation;
pub mod rotation;
pub mod tasks;
pub mod trust;
pub mod validity;
pub mod verify;

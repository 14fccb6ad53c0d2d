//! meshtls for browsers and edge runtimes: the meshtls core compiled to WebAssembly with
//! wasm-bindgen. Inspect and verify certificates against a trust bundle and policy, make
//! keys and CSRs, run a CA for local meshes and tests, build and read CRLs, and ask when to
//! renew.
//!
//! The binding only translates: every rule lives in `meshtls-core`. Every export returns a
//! `Result`, so a bad input throws a JS `Error` with `.code` (the core's stable code) and
//! never panics (a panic would kill the wasm instance). Time is an argument in milliseconds
//! since the epoch (`Date.now()`): the core never reads a clock, and wasm32 has none.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use wasm_bindgen::prelude::*;

pub mod authority;
pub mod certificate;
pub mod encoding;
pub mod error;
pub mod grant;
pub mod identity;
pub mod issue;
pub mod jwt;
pub mod revocation;
pub mod rotation;
pub mod validity;
pub mod verify;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** PEM text, or DER bytes (a `Uint8Array`; a Node `Buffer` is one). */
export type PemOrDer = string | Uint8Array;

/** Key algorithms meshtls generates. RSA generation is unavailable in wasm (`unsupported`). */
export type KeyAlgorithmName = "ecdsa-p256" | "ecdsa-p384" | "ed25519" | "rsa-2048" | "rsa-4096";

/** What an issued certificate may be used for (its extended key usage). */
export type UsageName = "server" | "client" | "both";

/** The role of the peer being verified: a TLS `client` needs clientAuth, a `server` serverAuth. */
export type PeerUsageName = "client" | "server";

/**
 * The stable error codes, the same in every meshtls language. Codes are added, never removed
 * or renamed; a newer core may throw a code not listed here (`errorCodes()` lists them all).
 */
export type ErrorCode =
  | "malformed" | "unsupported" | "invalid_request" | "expired" | "not_yet_valid"
  | "unknown_issuer" | "bad_signature" | "revoked" | "wrong_usage" | "identity_not_allowed"
  | "not_pinned" | "name_constraint_violation" | "wrong_passphrase" | "revocation_unknown"
  | "crl_expired" | "chain_too_long" | "invalid_svid" | "io" | "internal" | "no_certificate"
  | "weak_key" | "weak_signature" | "not_authorized" | "invalid_certificate"
  | "unknown_critical_extension" | "name_constraints_too_complex" | "stale_crl" | "invalid_crl"
  | "token_malformed" | "token_signature" | "token_algorithm" | "token_unknown_key"
  | "token_expired" | "token_audience" | "token_binding"
  | (string & {});

/** What every meshtls function throws: an `Error` with the core's stable `code`. */
export interface MeshTlsError extends Error {
  name: "MeshTlsError";
  code: ErrorCode;
  family: "input" | "request" | "verification" | "passphrase" | "io" | "internal";
}

/** How to create a root CA. Durations are text: `"3650d"`, `"12h"`, `"90m"`. */
export interface RootOptions {
  trustDomain: string;
  commonName?: string;
  key?: KeyAlgorithmName;
  validity?: string;
  pathLen?: number;
  permittedDns?: string[];
}

/** How to create an intermediate CA (same trust domain as its parent). */
export interface IntermediateOptions {
  commonName?: string;
  key?: KeyAlgorithmName;
  validity?: string;
  pathLen?: number;
  permittedDns?: string[];
}

/** What to issue: `id` with a generated `key`, or a `csr` (its ID and DNS names are used). */
export interface IssueOptions {
  id?: string;
  csr?: PemOrDer;
  key?: KeyAlgorithmName;
  dnsNames?: string[];
  ipAddresses?: string[];
  commonName?: string;
  usage?: UsageName;
  /** Default `"90d"`; at least `"1m"`. */
  lifetime?: string;
  crlDistributionPoints?: string[];
}

/** What a grant allows beyond its ID pattern. A join token allows no DNS name or IP address
 * unless listed; an administrator grant any unless listed. `maxLifetime` is text (`"24h"`). */
export interface GrantOptions {
  dnsNames?: string[];
  ipAddresses?: string[];
  usage?: UsageName;
  maxLifetime?: string;
}

/** How to make a key pair and CSR. */
export interface CsrOptions {
  key?: KeyAlgorithmName;
  dnsNames?: string[];
}

/** How to build a CRL: its `number` must grow; `nextUpdate` in ms (default now + 7 days). */
export interface CrlOptions {
  number: number;
  nextUpdate?: number;
}

/** Verifier tunables (clock leeway and path depth are `PolicyBuilder` settings). */
export interface VerifyOptions {
  /** With CRLs in the bundle, reject a path a CRL does not cover (default true). */
  requireCrl?: boolean;
  /** Reject a CRL past its nextUpdate (default true). */
  rejectStaleCrl?: boolean;
  /** Check only the leaf against the CRLs (default false). */
  leafOnly?: boolean;
}

/** The renewal schedule: `renewAtFraction` (default 2/3) or `renewBefore` (e.g. `"7d"`), and `jitter` (0 to 0.5, default 0.05). */
export interface RotationOptions {
  renewAtFraction?: number;
  renewBefore?: string;
  jitter?: number;
}
"#;

/// The version of this package (the same as the meshtls core it was built from).
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

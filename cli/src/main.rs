//! `meshtls`: the operator command line of meshtls.
//!
//! Every certificate decision is made by `meshtls-core`; this binary parses flags, reads and
//! writes files (atomically, keys mode 0600), reads the clock, and turns core errors into one
//! line on stderr and a documented exit status.
#![forbid(unsafe_code)]

#[cfg(feature = "probe")]
mod admin;
#[cfg(feature = "probe")]
mod agent;
mod ca;
mod clock;
mod completions;
#[cfg(feature = "probe")]
mod enroll;
mod error;
mod files;
mod inspect;
mod issue;
mod jwt;
#[cfg(feature = "serve")]
mod ledger;
mod output;
#[cfg(feature = "probe")]
mod probe;
mod renew;
mod revocation;
#[cfg(feature = "serve")]
mod serve;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::{CliError, EXIT_CODES_HELP};

/// meshtls: one mTLS toolkit. CA, issuance, inspection, verification, revocation, renewal,
/// probing.
#[derive(Debug, Parser)]
#[command(name = "meshtls", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    /// Print the result as JSON on stdout (errors too, as {"ok": false, "error": {...}}).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create certificate authorities (root or intermediate).
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Issue a certificate (X509-SVID) for a SPIFFE ID from a CA directory.
    #[command(after_help = "\
Writes DIR/cert.pem, DIR/chain.pem (leaf + intermediates, what a TLS peer presents) and
DIR/key.pem (PKCS#8, mode 0600), each atomically. Passphrases and passwords come from files
or environment variables, never from the command line.

Exit codes: 0 ok, 2 bad input, 3 I/O, 4 wrong passphrase. See `meshtls --help`.")]
    Issue(issue::IssueArgs),
    /// Show a certificate, chain or CRL: identity, SANs, issuer, validity, key, usages.
    #[command(after_help = "Exit codes: 0 ok, 2 malformed file, 3 I/O. See `meshtls --help`.")]
    Inspect(inspect::InspectArgs),
    /// Verify a certificate chain against a trust bundle and an identity policy.
    Verify(verify::VerifyArgs),
    /// Record the revocation of a certificate in a CA directory.
    Revoke(revocation::RevokeArgs),
    /// Sign a CRL of a CA directory's revocations.
    Crl(revocation::CrlArgs),
    /// JWT-SVIDs: mint one from a CA service, fetch its JWKS, verify a token.
    #[command(subcommand)]
    Jwt(jwt::JwtCommand),
    /// Reissue a certificate directory when renewal is due (or with --force).
    Renew(renew::RenewArgs),
    /// Connect to a server with mTLS (wss:// or tls://) and print its verified identity.
    #[cfg(feature = "probe")]
    Probe(probe::ProbeArgs),
    /// Talk to a running CA service as an admin: mint join tokens, revoke, list the ledger.
    #[cfg(feature = "probe")]
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Enroll at a CA service with a join token: a local key, a CSR, the certificate files.
    #[cfg(feature = "probe")]
    Enroll(enroll::EnrollArgs),
    /// Keep certificate, key, chain, bundle and CRL files current from a CA service, and reload.
    #[cfg(feature = "probe")]
    Agent(agent::AgentArgs),
    /// Run the enrollment CA service (join tokens, enroll, renew, revoke, CRL, bundle) over HTTPS.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// Print the shell completion script for bash, zsh or fish on stdout.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff) on stdout, or write every page with --out-dir.
    Man(completions::ManArgs),
}

fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Ca(c) => ca::run(c, cli.json),
        Command::Issue(a) => issue::run(a, cli.json),
        Command::Inspect(a) => inspect::run(a, cli.json),
        Command::Verify(a) => verify::run(a, cli.json),
        Command::Revoke(a) => revocation::revoke(a, cli.json),
        Command::Crl(a) => revocation::crl(a, cli.json),
        Command::Jwt(c) => jwt::run(c, cli.json),
        Command::Renew(a) => renew::run(a, cli.json),
        #[cfg(feature = "probe")]
        Command::Probe(a) => probe::run(a, cli.json),
        #[cfg(feature = "probe")]
        Command::Admin(c) => admin::run(c, cli.json),
        #[cfg(feature = "probe")]
        Command::Enroll(a) => enroll::run(a, cli.json),
        #[cfg(feature = "probe")]
        Command::Agent(a) => agent::run(a, cli.json),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::run(a, cli.json),
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::from(error::exit::OK),
        Err(e) => {
            if cli.json {
                // Best effort: the stderr line below is the contract.
                let _ = output::print_json(&e.to_json());
            }
            eprintln!("{e}");
            ExitCode::from(e.exit_status())
        }
    }
}

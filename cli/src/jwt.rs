//! `meshtls jwt`: JWT-SVIDs. `mint` asks a CA service for a token for our own SPIFFE ID (mTLS
//! with a certificate directory), `bundle` fetches the service's SPIFFE bundle (JWKS), `verify`
//! checks a token against a JWKS file with the core's validator.

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use meshtls_core::jwt::{JwtAlgorithm, JwtValidator, SpiffeBundle, TokenClaims};
use meshtls_core::validity::parse_duration;
#[cfg(feature = "probe")]
use meshtls_core::SpiffeId;
use meshtls_core::{encoding, ErrorCode, IdPattern, Policy, Timestamp, TrustDomain};
use serde::Serialize;

use crate::clock;
use crate::error::{CliError, InFile};
use crate::files;
use crate::output::{self, Fields, Time};

/// `jwt`
#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Get a JWT-SVID for our own SPIFFE ID from a CA service (POST /v1/jwt over mTLS).
    #[cfg(feature = "probe")]
    #[command(after_help = "\
Prints the token on the first line, then its subject, audiences, expiry and key id. The token
is a bearer secret: keep it out of logs. With --bind the token carries the SHA-256 thumbprint
of our certificate (cnf x5t#S256) and validators accept it only on a connection where we
present that certificate.

Exit codes: 0 ok, 2 refused by the service or bad input, 3 I/O or service unreachable.")]
    Mint(MintArgs),
    /// Fetch a CA service's trust bundle in the SPIFFE format (GET /v1/bundle.jwks).
    #[cfg(feature = "probe")]
    #[command(after_help = "\
Writes the JWKS (x509-svid and jwt-svid keys, spiffe_sequence, spiffe_refresh_hint) to --out
or stdout. No client certificate is needed.

Exit codes: 0 ok, 2 refused by the service or bad input, 3 I/O or service unreachable.")]
    Bundle(BundleArgs),
    /// Check a JWT-SVID against a SPIFFE bundle (JWKS) and an identity policy.
    #[command(after_help = "\
TOKEN `-` reads the token from stdin (a token on the command line is visible to other users
of the machine). Checks, in order: the token's form (token_malformed); alg none, HMAC, an
algorithm outside --algorithm or one that does not fit the key (token_algorithm); the kid
among the bundle's JWT keys of the subject's trust domain (token_unknown_key); the signature
(token_signature); exp, iat, nbf with --leeway (token_expired); the audience (token_audience);
the sub against --allow-id (identity_not_allowed); a cnf binding against --peer-cert
(token_binding). Without --allow-id, any member of the trust domain of the bundle's CAs is
allowed.

Exit codes: 0 valid, 1 rejected (token_* codes, identity_not_allowed), 2 malformed token or
bundle, or bad input, 3 I/O.")]
    Verify(VerifyArgs),
}

/// Where the service is and who we are to it.
#[cfg(feature = "probe")]
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The CA service: https://host:port.
    #[arg(long, value_name = "URL")]
    url: String,
    /// CA certificates that vouch for the service (the CA directory's ca.crt); repeat.
    #[arg(long, value_name = "FILE", required = true)]
    bundle: Vec<PathBuf>,
    /// The SPIFFE ID the service must present (default spiffe://<trust domain>/meshtls/ca).
    #[arg(long, value_name = "SPIFFE_ID", value_parser = parse_spiffe_id)]
    service_id: Option<SpiffeId>,
    /// Give up after this long, e.g. 30s (default).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
}

#[cfg(feature = "probe")]
fn parse_spiffe_id(s: &str) -> Result<SpiffeId, String> {
    SpiffeId::parse(s).map_err(|e| e.message().to_owned())
}

/// `jwt mint`
#[cfg(feature = "probe")]
#[derive(Debug, Args)]
pub struct MintArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Our certificate directory (chain.pem, key.pem): the token is for its SPIFFE ID.
    #[arg(long, value_name = "DIR")]
    cert: PathBuf,
    /// An audience of the token; repeat for several.
    #[arg(long, value_name = "AUDIENCE", required = true)]
    audience: Vec<String>,
    /// Lifetime, e.g. 5m (default: the service's, 5 minutes).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    ttl: Option<Duration>,
    /// Bind the token to our certificate (cnf x5t#S256).
    #[arg(long)]
    bind: bool,
}

/// `jwt bundle`
#[cfg(feature = "probe")]
#[derive(Debug, Args)]
pub struct BundleArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Write the JWKS here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `jwt verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The SPIFFE bundle (JWKS) with the JWT keys, as `meshtls jwt bundle` writes it.
    #[arg(long, value_name = "FILE")]
    jwks: PathBuf,
    /// An audience we serve; the token must name one. Repeat for several.
    #[arg(long, value_name = "AUDIENCE", required = true)]
    audience: Vec<String>,
    /// Allow this SPIFFE ID or pattern (spiffe://td/service/*); repeat.
    #[arg(long, value_name = "PATTERN")]
    allow_id: Vec<IdPattern>,
    /// The bundle's trust domain: its JWT keys vouch only for subjects there (default: the
    /// trust domain of the bundle's CAs, when they name exactly one).
    #[arg(long, value_name = "TD")]
    trust_domain: Option<String>,
    /// Accept only these algorithms (ES256, ES384, EdDSA; default all three); repeat.
    #[arg(long, value_name = "ALG", value_parser = JwtAlgorithm::parse)]
    algorithm: Vec<JwtAlgorithm>,
    /// Tolerate this clock difference for exp, iat and nbf (30s, 2m; default 0).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    leeway: Option<Duration>,
    /// The certificate (PEM; the first of a chain) the token came with: required for a bound
    /// token.
    #[arg(long, value_name = "FILE")]
    peer_cert: Option<PathBuf>,
    /// Refuse a token that is not bound to --peer-cert.
    #[arg(long)]
    require_binding: bool,
    /// Check at this time instead of now: RFC 3339 or unix seconds.
    #[arg(long, value_name = "TIME", value_parser = clock::parse_at)]
    at: Option<Timestamp>,
    /// The token, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN")]
    token: String,
}

/// Runs `jwt`.
pub fn run(c: &JwtCommand, json: bool) -> Result<(), CliError> {
    match c {
        #[cfg(feature = "probe")]
        JwtCommand::Mint(a) => service::mint(a, json),
        #[cfg(feature = "probe")]
        JwtCommand::Bundle(a) => service::bundle(a, json),
        JwtCommand::Verify(a) => verify(a, json),
    }
}

#[derive(Debug, Serialize)]
struct ClaimsOut {
    subject: String,
    audience: Vec<String>,
    expires_at: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    bound: bool,
    kid: String,
    algorithm: &'static str,
}

impl From<&TokenClaims> for ClaimsOut {
    fn from(c: &TokenClaims) -> Self {
        ClaimsOut {
            subject: c.subject.to_string(),
            audience: c.audience.clone(),
            expires_at: c.expires_at.into(),
            issued_at: c.issued_at.map(Time::from),
            jti: c.jti.clone(),
            roles: c.roles.clone(),
            scope: c.scope.clone(),
            bound: c.bound_thumbprint.is_some(),
            kid: c.key_id.clone(),
            algorithm: c.algorithm.as_str(),
        }
    }
}

fn verify(a: &VerifyArgs, json: bool) -> Result<(), CliError> {
    let token = if a.token == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| CliError::new(ErrorCode::Io, format!("stdin: {e}")))?;
        s.trim().to_owned()
    } else {
        a.token.trim().to_owned()
    };
    let mut bundle = SpiffeBundle::parse(&files::read(&a.jwks)?).in_file(&a.jwks)?;
    let cas = bundle.trust_bundle().in_file(&a.jwks)?.trust_domains();
    let td = match &a.trust_domain {
        Some(td) => Some(TrustDomain::new(td)?),
        None => match cas.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
    };
    if let Some(td) = td.clone() {
        bundle = bundle.with_trust_domain(td);
    }
    let mut policy = Policy::builder().clock_leeway(a.leeway.unwrap_or(Duration::ZERO));
    if a.allow_id.is_empty() {
        for td in td.iter().chain(cas.iter()) {
            policy = policy.allow_trust_domain(td.clone());
        }
    }
    for p in &a.allow_id {
        policy = policy.allow_pattern(p.clone());
    }
    let policy = policy.build().map_err(|e| {
        CliError::new(
            e.code(),
            format!(
                "{}: give --allow-id or --trust-domain (the bundle's CAs name no trust domain)",
                e.message()
            ),
        )
    })?;
    let mut validator = JwtValidator::new(&bundle, policy, a.audience.iter().cloned())?
        .require_binding(a.require_binding);
    if !a.algorithm.is_empty() {
        validator = validator.allow_algorithms(&a.algorithm)?;
    }
    let peer = match &a.peer_cert {
        Some(p) => Some(
            encoding::parse_certificates(&files::read(p)?)
                .in_file(p)?
                .into_iter()
                .next()
                .ok_or_else(|| CliError::new(ErrorCode::Malformed, "no certificate").in_file(p))?,
        ),
        None => None,
    };
    let at = match a.at {
        Some(t) => t,
        None => clock::now()?,
    };
    let claims = validator.validate(&token, peer.as_deref(), at)?;
    let out = ClaimsOut::from(&claims);
    output::emit(json, &out, || {
        let mut f = Fields::new();
        f.add("subject", &out.subject)
            .add_list("audience", &out.audience)
            .add("expires", &out.expires_at.rfc3339)
            .add("bound", if out.bound { "yes" } else { "no" })
            .add("kid", &out.kid)
            .add("algorithm", out.algorithm);
        if !out.roles.is_empty() {
            f.add_list("roles", &out.roles);
        }
        if let Some(s) = &out.scope {
            f.add("scope", s);
        }
        format!("valid\n{}", f.render(2))
    })
}

#[cfg(feature = "probe")]
mod service {
    use meshtls_core::TrustBundle;
    use meshtls_net::enroll::api::JwtRequest;
    use meshtls_net::enroll::{CaClient, EnrollError};
    use meshtls_net::IdentityHandle;

    use super::*;
    use crate::probe;

    /// The service's refusals are bad requests (exit 2) and keep its code in the message; an
    /// unreachable service is I/O.
    fn service_error(e: EnrollError) -> CliError {
        match e {
            EnrollError::Core(c) => c.into(),
            EnrollError::Transport(_) => CliError::new(ErrorCode::Io, e.to_string()),
            other => CliError::invalid(other.to_string()),
        }
    }

    fn client(s: &ServiceArgs, default_td: Option<&TrustDomain>) -> Result<CaClient, CliError> {
        let mut bundle = TrustBundle::new();
        for p in &s.bundle {
            bundle.add_ca_pem(&files::read(p)?).in_file(p)?;
        }
        let service = match (&s.service_id, default_td) {
            (Some(id), _) => id.clone(),
            (None, Some(td)) => SpiffeId::ca_service(td),
            (None, None) => match bundle.trust_domains().as_slice() {
                [td] => SpiffeId::ca_service(td),
                _ => {
                    return Err(CliError::invalid(
                        "the bundle names no single trust domain: give --service-id",
                    ))
                }
            },
        };
        CaClient::new(&s.url, bundle, service, s.timeout).map_err(service_error)
    }

    fn block_on<T>(
        work: impl std::future::Future<Output = Result<T, EnrollError>>,
    ) -> Result<T, CliError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::new(ErrorCode::Internal, format!("runtime: {e}")))?
            .block_on(work)
            .map_err(service_error)
    }

    #[derive(Debug, Serialize)]
    struct MintOut {
        token: String,
        subject: String,
        audience: Vec<String>,
        expires_at: Time,
        jti: String,
        kid: String,
        bound: bool,
    }

    pub(super) fn mint(a: &MintArgs, json: bool) -> Result<(), CliError> {
        let identity = probe::load_identity(&a.cert)?;
        let leaf = identity.leaf().in_file(&a.cert)?;
        let td = leaf.spiffe_id.as_ref().map(|id| id.trust_domain().clone());
        let client = client(&a.service, td.as_ref())?;
        let request = JwtRequest {
            audience: a.audience.clone(),
            ttl_seconds: a.ttl.map(|d| d.as_secs()),
            bind: a.bind,
        };
        let handle = IdentityHandle::new(identity);
        let answer = block_on(async move { client.mint_jwt(&handle, &request).await })?;
        let out = MintOut {
            token: answer.token,
            subject: answer.subject,
            audience: answer.audience,
            expires_at: Timestamp::from_unix(answer.expires_at).into(),
            jti: answer.jti,
            kid: answer.kid,
            bound: answer.bound,
        };
        output::emit(json, &out, || {
            let mut f = Fields::new();
            f.add("subject", &out.subject)
                .add_list("audience", &out.audience)
                .add("expires", &out.expires_at.rfc3339)
                .add("bound", if out.bound { "yes" } else { "no" })
                .add("kid", &out.kid)
                .add("jti", &out.jti);
            format!("{}\n{}", out.token, f.render(2))
        })
    }

    pub(super) fn bundle(a: &BundleArgs, json: bool) -> Result<(), CliError> {
        let client = client(&a.service, None)?;
        let text = block_on(async move { client.bundle_jwks().await })?;
        // Parsed by the core first: a service answering garbage writes nothing.
        let parsed = SpiffeBundle::parse(&text)?;
        match &a.out {
            Some(path) => {
                files::write_atomic(path, &text, 0o644)?;
                #[derive(Serialize)]
                struct Written<'a> {
                    file: &'a str,
                    x509_authorities: usize,
                    jwt_keys: usize,
                }
                let file = path.display().to_string();
                let out = Written {
                    file: &file,
                    x509_authorities: parsed.x509_authorities().len(),
                    jwt_keys: parsed.jwt_keys().len(),
                };
                output::emit(json, &out, || {
                    format!(
                        "wrote {file}: {} CA certificate(s), {} JWT key(s)\n",
                        out.x509_authorities, out.jwt_keys
                    )
                })
            }
            None => output::print(&String::from_utf8_lossy(&text)),
        }
    }
}

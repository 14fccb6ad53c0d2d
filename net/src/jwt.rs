//! JWT-SVIDs on the transport: the built-in token check of a `wss://` server
//! ([`JwtAuth`], see [`MtlsServerBuilder::jwt_svids`](crate::MtlsServerBuilder::jwt_svids)),
//! the ways a client presents a token, and the enrolled identity's token source
//! ([`crate::enroll::EnrolledIdentity::jwt_source`]).

use std::sync::Arc;

use arc_swap::ArcSwap;
use meshtls_core::jwt::{JwtValidator, TokenClaims};
use meshtls_core::Error;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{header, HeaderValue};

/// The WebSocket subprotocol a browser offers beside `meshtls.jwt.<token>` (a browser cannot
/// set `Authorization` on a WebSocket): `new WebSocket(url, ["meshtls.jwt", "meshtls.jwt." +
/// token])`. The server selects this one, so the token is never echoed back.
pub const JWT_SUBPROTOCOL: &str = "meshtls.jwt";

/// The built-in JWT-SVID check of a `wss://` server: the core's [`JwtValidator`] (the bundle's
/// JWT keys, the audiences, the policy), swappable when the bundle is refreshed.
///
/// Clones share the validator.
#[derive(Clone)]
pub struct JwtAuth {
    validator: Arc<ArcSwap<JwtValidator>>,
}

impl std::fmt::Debug for JwtAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("audiences", &self.validator.load().audiences())
            .finish_non_exhaustive()
    }
}

impl JwtAuth {
    /// Checks tokens with `validator`.
    pub fn new(validator: JwtValidator) -> Self {
        JwtAuth {
            validator: Arc::new(ArcSwap::from_pointee(validator)),
        }
    }

    /// Checks the next tokens with another validator (a refreshed bundle, new audiences).
    pub fn replace(&self, validator: JwtValidator) {
        self.validator.store(Arc::new(validator));
    }

    /// The validator in force.
    pub fn current(&self) -> Arc<JwtValidator> {
        self.validator.load_full()
    }

    /// Validates `token` now, for a connection whose peer certificate (leaf DER) is
    /// `peer_cert`, if any.
    pub fn check(&self, token: &str, peer_cert: Option<&[u8]>) -> Result<TokenClaims, Error> {
        self.validator.load().validate(token, peer_cert, now())
    }
}

use crate::config::now;

/// The token of an upgrade request: `Authorization: Bearer <token>`, else a
/// `meshtls.jwt.<token>` subprotocol. The second value says whether it came as a subprotocol
/// (the server must then select [`JWT_SUBPROTOCOL`]).
pub(crate) fn token_of(request: &Request) -> Option<(&str, bool)> {
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        return (!token.is_empty()).then_some((token, false));
    }
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|p| p.strip_prefix("meshtls.jwt."))
        .filter(|t| !t.is_empty())
        .map(|t| (t, true))
}

/// Adds `Authorization: Bearer <token>` to a WebSocket request (for
/// [`ws::connect_request`](crate::ws::connect_request)).
pub fn with_bearer(mut request: Request, token: &str) -> Result<Request, Error> {
    let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        Error::new(
            meshtls_core::ErrorCode::InvalidRequest,
            "a token is printable ASCII",
        )
    })?;
    request.headers_mut().insert(header::AUTHORIZATION, value);
    Ok(request)
}

/// Offers the token as the `meshtls.jwt.<token>` subprotocol beside [`JWT_SUBPROTOCOL`], as a
/// browser does.
pub fn with_token_subprotocol(mut request: Request, token: &str) -> Result<Request, Error> {
    let value = HeaderValue::from_str(&format!("{JWT_SUBPROTOCOL}, {JWT_SUBPROTOCOL}.{token}"))
        .map_err(|_| {
            Error::new(
                meshtls_core::ErrorCode::InvalidRequest,
                "a token is printable ASCII",
            )
        })?;
    request
        .headers_mut()
        .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    Ok(request)
}

//! An enrolled identity's JWT-SVIDs for one audience, kept fresh.

use std::time::Duration;

use tokio::sync::Mutex;

use super::api::{JwtRequest, JwtResponse};
use super::{CaClient, EnrollError};
use crate::config::now;
use crate::IdentityHandle;

/// JWT-SVIDs for one set of audiences, minted by the CA service for the identity's own SPIFFE
/// ID and reused while fresh: [`token`](Self::token) mints a new one once two thirds of the
/// held one's lifetime have passed (the rule certificates renew by), and at once after the
/// identity renewed its certificate when the tokens are bound to it. Calls are serialised, so
/// concurrent callers share one request. Made by
/// [`EnrolledIdentity::jwt_source`](super::EnrolledIdentity::jwt_source).
pub struct JwtSource {
    client: CaClient,
    identity: IdentityHandle,
    request: JwtRequest,
    held: Mutex<Option<(u64, JwtResponse)>>,
}

impl std::fmt::Debug for JwtSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSource")
            .field("audience", &self.request.audience)
            .field("bind", &self.request.bind)
            .finish_non_exhaustive()
    }
}

impl JwtSource {
    pub(super) fn new(
        client: CaClient,
        identity: IdentityHandle,
        audience: Vec<String>,
        ttl: Option<Duration>,
        bind: bool,
    ) -> Self {
        JwtSource {
            client,
            identity,
            request: JwtRequest {
                audience,
                ttl_seconds: ttl.map(|d| d.as_secs()),
                bind,
            },
            held: Mutex::new(None),
        }
    }

    /// A token with at least a third of its lifetime left: the held one, or a new one.
    pub async fn token(&self) -> Result<String, EnrollError> {
        Ok(self.fresh().await?.token)
    }

    /// The held answer (token, expiry, kid...) if fresh, else a new one.
    pub async fn fresh(&self) -> Result<JwtResponse, EnrollError> {
        let mut held = self.held.lock().await;
        let generation = self.identity.generation();
        if let Some((g, answer)) = held.as_ref() {
            let life = answer.expires_at.saturating_sub(answer.issued_at);
            let renew_at = answer.issued_at.saturating_add(life.saturating_mul(2) / 3);
            let same_cert = !self.request.bind || *g == generation;
            if same_cert && now().unix() < renew_at {
                return Ok(answer.clone());
            }
        }
        let answer = self.client.mint_jwt(&self.identity, &self.request).await?;
        *held = Some((generation, answer.clone()));
        Ok(answer)
    }

    /// Forget the held token: the next call mints a new one.
    pub async fn invalidate(&self) {
        *self.held.lock().await = None;
    }
}

//! The background refresh of the trust bundle and CRL.

use std::sync::atomic::{AtomicU64, Ordering};

use meshtls_core::{ErrorCode, Policy, TrustBundle, Verifier};

use super::client::PemDocument;
use super::{CaClient, EnrollError};
use crate::trust::WeakTrust;
use crate::TrustHandle;

/// Fetches the bundle and CRL into the trust handles. It sends back the tags of the copies it
/// applied last, so an unchanged document (a CRL can be megabytes) is neither downloaded nor
/// parsed again, and the handles' generations move only when something changed.
pub(super) struct TrustRefresh {
    pub(super) client: CaClient,
    /// The peer trust.
    pub(super) trust: TrustHandle,
    /// The renewal check's trust (our own ID).
    pub(super) own: TrustHandle,
    /// The trusts of [`EnrolledIdentity::trust_for`](super::EnrolledIdentity::trust_for), while someone holds them.
    pub(super) followers: std::sync::Mutex<Vec<WeakTrust>>,
    pub(super) applied: tokio::sync::Mutex<Applied>,
    /// How many fetched CRLs were refused for stepping back (`stale_crl`).
    pub(super) stale_refusals: AtomicU64,
    /// Where the CRL applied last is kept across restarts, if anywhere.
    pub(super) state_dir: Option<std::path::PathBuf>,
    /// Told the outcome of every refresh.
    pub(super) on_trust: Option<TrustCallback>,
}

/// The callback of [`EnrollOptions::on_trust`](super::EnrollOptions::on_trust).
pub type TrustCallback = std::sync::Arc<dyn Fn(TrustEvent) + Send + Sync>;

/// The outcome of one refresh of the bundle and CRL.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TrustEvent {
    /// The service answered `304` for both: nothing changed.
    Unchanged,
    /// Something changed and was applied: the bundle and the CRL now held, as the service
    /// sent them (PEM).
    Changed {
        /// The CA certificates (PEM).
        bundle_pem: bytes::Bytes,
        /// The CRL(s) (PEM); `None` if the service's CRL was refused (`stale_crl`).
        crl_pem: Option<bytes::Bytes>,
    },
    /// The refresh failed; what was held stays.
    Failed {
        /// The code ([`EnrollError::code`]).
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// The bundle and CRL last swapped in.
#[derive(Default)]
pub(super) struct Applied {
    bundle: Option<PemDocument>,
    crl: Option<PemDocument>,
}

impl TrustRefresh {
    /// Fetch what changed; swap the bundle with the CRL into the peer trust and the renewal
    /// check's trust, and the bare bundle into the service check (a CA rotation reaches all
    /// three).
    ///
    /// A fetched CRL that steps back from the one held (a lower number, or the same number
    /// with other content: a rolled-back or forked CA) is refused by the core (`stale_crl`):
    /// the held CRL stays, the refusal is logged and counted, and the call fails with that
    /// code once a changed bundle, if any, is applied.
    pub(super) async fn run(&self) -> Result<(), EnrollError> {
        let result = self.fetch().await;
        if let Some(cb) = &self.on_trust {
            cb(match &result {
                Ok(Some((bundle_pem, crl_pem))) => TrustEvent::Changed {
                    bundle_pem: bundle_pem.clone(),
                    crl_pem: crl_pem.clone(),
                },
                Ok(None) => TrustEvent::Unchanged,
                Err(e) => TrustEvent::Failed {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                },
            });
        }
        result.map(|_| ())
    }

    /// [`run`](Self::run) without the callback: the bundle and CRL applied when something
    /// changed, `None` when nothing did.
    async fn fetch(&self) -> Result<Option<(bytes::Bytes, Option<bytes::Bytes>)>, EnrollError> {
        let mut applied = self.applied.lock().await;
        let bundle = self
            .client
            .get_pem_if_changed("/v1/bundle", applied.bundle.as_ref())
            .await?;
        let crl = self
            .client
            .get_pem_if_changed("/v1/crl", applied.crl.as_ref())
            .await?;
        if bundle.is_none() && crl.is_none() {
            return Ok(None);
        }
        let bundle_unchanged = bundle.is_none();
        let bundle = fresh_or_known(bundle, &applied.bundle)?;
        let crl = fresh_or_known(crl, &applied.crl)?;
        let cas = TrustBundle::from_pem(&bundle.pem)?;
        // The CRLs held now first, then the fetched ones: the core refuses one that steps back.
        let mut held = cas.clone();
        for c in self.trust.current().bundle().crls() {
            held.add_crl(c.der())?;
        }
        let mut with_crl = held.clone();
        let (crl, refused) = match with_crl.add_crl(&crl.pem) {
            Ok(()) => (Some(crl), None),
            Err(e) if e.code() == ErrorCode::StaleCrl => {
                let n = self.stale_refusals.fetch_add(1, Ordering::Relaxed) + 1;
                log::warn!(
                    "meshtls: refused the CRL from {}: {} (kept the CRL held; {n} refused so far)",
                    self.client.endpoint(),
                    e.message()
                );
                with_crl = held;
                (None, Some(e))
            }
            Err(e) => return Err(e.into()),
        };
        if let (true, Some(e)) = (bundle_unchanged, &refused) {
            // Nothing else changed: the trust handles stay as they are.
            return Err(EnrollError::Core(e.clone()));
        }
        let swap = |handle: &TrustHandle| {
            let policy = handle.current().policy().clone();
            handle.replace(Verifier::new(with_crl.clone(), policy));
        };
        swap(&self.trust);
        swap(&self.own);
        {
            let mut followers = self.followers();
            followers.retain(|weak| match weak.upgrade() {
                Some(handle) => {
                    swap(&handle);
                    true
                }
                None => false,
            });
        }
        self.client.set_bundle(cas);
        if let (Some(dir), Some(fresh)) = (&self.state_dir, &crl) {
            if let Err(e) = super::state::save_crl(dir, &fresh.pem) {
                log::warn!("meshtls: could not keep the CRL for a restart: {e}");
            }
        }
        let crl = crl.or_else(|| applied.crl.take());
        let docs = (bundle.pem.clone(), crl.as_ref().map(|c| c.pem.clone()));
        *applied = Applied {
            bundle: Some(bundle),
            crl,
        };
        match refused {
            Some(e) => Err(EnrollError::Core(e)),
            None => Ok(Some(docs)),
        }
    }

    /// How many fetched CRLs were refused for stepping back.
    pub(super) fn stale_refusals(&self) -> u64 {
        self.stale_refusals.load(Ordering::Relaxed)
    }

    /// A new trust with `policy` on the current bundle and CRL, refreshed from now on. (Made
    /// under the followers' lock, so a refresh either happened before it, and it starts on
    /// the new bundle, or swaps it too.)
    pub(super) fn follow(&self, policy: Policy) -> TrustHandle {
        let mut followers = self.followers();
        let bundle = self.trust.current().bundle().clone();
        let handle = TrustHandle::new(Verifier::new(bundle, policy));
        followers.push(handle.downgrade());
        handle
    }

    fn followers(&self) -> std::sync::MutexGuard<'_, Vec<WeakTrust>> {
        match self.followers.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The document just fetched, or the one applied before when the service said "not modified".
fn fresh_or_known(
    fresh: Option<PemDocument>,
    known: &Option<PemDocument>,
) -> Result<PemDocument, EnrollError> {
    fresh.or_else(|| known.clone()).ok_or_else(|| {
        EnrollError::Transport("the service answered 304 for a document never fetched".into())
    })
}

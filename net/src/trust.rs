//! Who we trust, swappable while the server runs.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use meshtls_core::Verifier;

/// A shared, atomically replaceable core [`Verifier`] (trust bundle + policy + CRLs).
///
/// Every handshake verifies the peer with the verifier current at that moment; replacing it
/// (new bundle during a CA rotation, a new CRL, a changed policy) affects new handshakes only.
/// Replacing it also invalidates the session-resumption caches built on it, so a session
/// established under the old trust is not resumed under the new one.
#[derive(Clone)]
pub struct TrustHandle {
    inner: Arc<TrustInner>,
}

struct TrustInner {
    current: ArcSwap<Verifier>,
    generation: AtomicU64,
}

impl fmt::Debug for TrustHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustHandle")
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl TrustHandle {
    /// A handle holding `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        TrustHandle {
            inner: Arc::new(TrustInner {
                current: ArcSwap::from_pointee(verifier),
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// The verifier new handshakes use.
    pub fn current(&self) -> Arc<Verifier> {
        self.inner.current.load_full()
    }

    /// Replace the verifier for every new handshake. Open connections are not touched.
    pub fn replace(&self, verifier: Verifier) {
        self.inner.current.store(Arc::new(verifier));
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Bumped by every [`replace`](Self::replace).
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// A reference that does not keep the handle alive (for whoever refreshes it).
    pub(crate) fn downgrade(&self) -> WeakTrust {
        WeakTrust(Arc::downgrade(&self.inner))
    }
}

/// A [`TrustHandle`] that may have been dropped.
pub(crate) struct WeakTrust(Weak<TrustInner>);

impl WeakTrust {
    /// The handle, if someone still holds it.
    pub(crate) fn upgrade(&self) -> Option<TrustHandle> {
        self.0.upgrade().map(|inner| TrustHandle { inner })
    }
}

//! Session-resumption caches that forget everything when our identity or trust changes.
//!
//! A resumed session skips certificate verification, so a session made under the old trust
//! bundle or with our old certificate must not be resumed after a rotation: it would either be
//! rejected by the post-handshake check (a failed connection) or carry stale material. Each
//! store below holds a plain rustls memory cache tagged with the (identity, trust) generations it
//! was made under, and starts a fresh one as soon as either generation moves.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};
use rustls::NamedGroup;
use rustls_pki_types::ServerName;

use crate::identity::IdentityHandle;
use crate::trust::TrustHandle;

struct Tagged<T> {
    generations: (u64, u64),
    cache: Arc<T>,
}

struct Generational<T> {
    identity: IdentityHandle,
    trust: TrustHandle,
    size: usize,
    current: ArcSwap<Tagged<T>>,
    make: fn(usize) -> Arc<T>,
}

impl<T> Generational<T> {
    fn new(
        identity: IdentityHandle,
        trust: TrustHandle,
        size: usize,
        make: fn(usize) -> Arc<T>,
    ) -> Self {
        let generations = (identity.generation(), trust.generation());
        Generational {
            identity,
            trust,
            size,
            current: ArcSwap::from_pointee(Tagged {
                generations,
                cache: make(size),
            }),
            make,
        }
    }

    fn cache(&self) -> Arc<T> {
        let now = (self.identity.generation(), self.trust.generation());
        let current = self.current.load();
        if current.generations == now {
            return current.cache.clone();
        }
        let fresh = Arc::new(Tagged {
            generations: now,
            cache: (self.make)(self.size),
        });
        let cache = fresh.cache.clone();
        self.current.store(fresh);
        cache
    }
}

/// Server-side resumption store (TLS 1.3 tickets are ids into it).
pub(crate) struct ServerStore(Generational<ServerSessionMemoryCache>);

impl ServerStore {
    pub(crate) fn new(identity: IdentityHandle, trust: TrustHandle, size: usize) -> Self {
        ServerStore(Generational::new(
            identity,
            trust,
            size,
            ServerSessionMemoryCache::new,
        ))
    }
}

impl fmt::Debug for ServerStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerStore")
    }
}

impl StoresServerSessions for ServerStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.cache().put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.cache().get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.cache().take(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// Client-side resumption store.
pub(crate) struct ClientStore(Generational<ClientSessionMemoryCache>);

impl ClientStore {
    pub(crate) fn new(identity: IdentityHandle, trust: TrustHandle, size: usize) -> Self {
        ClientStore(Generational::new(identity, trust, size, |n| {
            Arc::new(ClientSessionMemoryCache::new(n))
        }))
    }
}

impl fmt::Debug for ClientStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientStore")
    }
}

impl ClientSessionStore for ClientStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.0.cache().set_kx_hint(server_name, group)
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.0.cache().kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.0.cache().set_tls12_session(server_name, value)
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.0.cache().tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.cache().remove_tls12_session(server_name)
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.0.cache().insert_tls13_ticket(server_name, value)
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.0.cache().take_tls13_ticket(server_name)
    }
}

//! Per-client limits: open connections and failed join-token attempts (guesses) per address,
//! and JWT-SVIDs minted per SPIFFE ID.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Open connections per client address, at most `max` each.
#[derive(Debug)]
pub(super) struct ConnectionLimit {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection; counted until dropped.
#[derive(Debug)]
pub(super) struct ConnectionSlot {
    limit: Arc<ConnectionLimit>,
    ip: IpAddr,
}

impl ConnectionLimit {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(ConnectionLimit {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, or `None` when it holds `max` already.
    pub(super) fn try_open(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut open = lock(&self.open);
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            limit: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.limit.open);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Events per client (failed join-token attempts per address, minted JWT-SVIDs per SPIFFE
/// ID): at most `max` in a fixed window of `window`; past that, the client waits for the
/// window to end.
#[derive(Debug)]
pub(super) struct FailureLimit<K = IpAddr> {
    max: u32,
    window: Duration,
    failures: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Hash + Eq + Clone> FailureLimit<K> {
    pub(super) fn new(max: u32, window: Duration) -> Self {
        FailureLimit {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` while `ip` has used up its failures in the current window.
    pub(super) fn check(&self, ip: K, now: Instant) -> Result<(), Duration> {
        let mut failures = lock(&self.failures);
        match failures.get(&ip) {
            Some((start, _)) if now.duration_since(*start) >= self.window => {
                failures.remove(&ip);
                Ok(())
            }
            Some((start, n)) if *n >= self.max => {
                Err(self.window.saturating_sub(now.duration_since(*start)))
            }
            _ => Ok(()),
        }
    }

    /// Count one failed attempt from `ip`.
    pub(super) fn failed(&self, ip: K, now: Instant) {
        let mut failures = lock(&self.failures);
        // Forget finished windows now and then, so the map cannot grow without bound.
        if failures.len() > 10_000 {
            let window = self.window;
            failures.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = failures.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_address_and_released() {
        let limit = ConnectionLimit::new(2);
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        let first = limit.try_open(a).unwrap();
        let _second = limit.try_open(a).unwrap();
        assert!(limit.try_open(a).is_none());
        assert!(limit.try_open(b).is_some());
        drop(first);
        assert!(limit.try_open(a).is_some());
    }

    #[test]
    fn failures_are_limited_per_window() {
        let limit = FailureLimit::new(2, Duration::from_secs(60));
        let ip = IpAddr::from([10, 0, 0, 1]);
        let t0 = Instant::now();
        limit.failed(ip, t0);
        assert!(limit.check(ip, t0).is_ok());
        limit.failed(ip, t0);
        let wait = limit.check(ip, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(limit.check(IpAddr::from([10, 0, 0, 2]), t0).is_ok());
        assert!(limit.check(ip, t0 + Duration::from_secs(60)).is_ok());
    }
}

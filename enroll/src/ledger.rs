//! The CA directory and its ledger know each other, so losing the ledger fails closed.
//!
//! Beside the CA key, `ca-state.json` remembers the ledger's id, the highest CRL number this
//! CA ever published and how many certificates and revocations its ledger had recorded. The
//! ledger keeps its id, CRL number and counters in its `meta` table ([`LedgerMeta`], and the
//! revocation counter). [`BoundLedger::bind`] compares them before
//! the service starts and refuses a ledger that is missing, empty, another ledger (foreign)
//! or older than the CA directory remembers (rolled back) once the CA has issued; a backup is
//! brought back only through the explicit [`BoundLedger::restore`].
//!
//! CRL numbers never go backwards: every CRL number handed out is written to the state file
//! before the CRL is served, and the next one is above both the ledger's and the state
//! file's, so neither a restored ledger nor a restarted service reuses a number. Replicas on
//! PostgreSQL share the number in the ledger.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::store::{
    CertFilter, CertRecord, JwtKeyRecord, JwtRecord, LedgerMeta, LineageRevocation, RenewOutcome,
    Revocation, RevokeOutcome, Store, StoreError, TokenRecord, TokenRevokeOutcome,
};

/// The state file in the CA directory.
pub const STATE_FILE: &str = "ca-state.json";

/// What the CA directory remembers of its ledger (`DIR/ca-state.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaState {
    /// The id of the ledger this CA issues into (16 hex digits).
    pub ledger_id: String,
    /// The highest CRL number this CA has handed out.
    pub highest_crl_number: u64,
    /// How many certificates the ledger had recorded, as last seen: the ledger never has
    /// fewer unless it was rolled back.
    pub issued: u64,
    /// How many certificates the ledger had revoked, as last seen (the same rule).
    #[serde(default)]
    pub revoked: u64,
}

impl CaState {
    /// The state of the CA directory `dir`; `None` when it has none yet (a CA that has never
    /// served, or one made before the state file existed).
    pub fn load(dir: &Path) -> Result<Option<CaState>, LedgerError> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                LedgerError::Refused(format!(
                    "{}: unreadable CA state ({e}); restore it from a backup of the CA directory",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LedgerError::Io(format!("{}: {e}", path.display()))),
        }
    }

    /// Write it as `dir/ca-state.json`, mode 0600, atomically (temporary file, fsync, rename,
    /// fsync of the directory): a crash leaves the old state or the new one.
    pub fn save(&self, dir: &Path) -> Result<(), LedgerError> {
        let path = dir.join(STATE_FILE);
        let io = |e: std::io::Error| LedgerError::Io(format!("{}: {e}", path.display()));
        let tmp = dir.join(format!(".{STATE_FILE}.{}.tmp", std::process::id()));
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let mut text = serde_json::to_vec_pretty(self)
            .map_err(|e| LedgerError::Io(format!("{}: {e}", path.display())))?;
        text.push(b'\n');
        let written = open.open(&tmp).and_then(|mut f| {
            f.write_all(&text)?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Why the CA directory and a ledger cannot be used together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// The ledger is missing, empty, foreign or rolled back for a CA that has issued (or the
    /// CA's state file is damaged): the service must not start. One line saying why and what
    /// to do.
    Refused(String),
    /// The state file could not be read or written.
    Io(String),
    /// The ledger failed.
    Store(StoreError),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Refused(m) | LedgerError::Io(m) => f.write_str(m),
            LedgerError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::Store(e)
    }
}

fn restore_hint(dir: &Path) -> String {
    format!(
        "bring it back with `meshtls admin restore --ca {} --from BACKUP`",
        dir.display()
    )
}

/// Before an SQLite ledger file is opened (opening creates it): refuse a missing or empty
/// (0-byte) file when the CA directory `dir` says its CA has issued certificates.
pub fn check_sqlite_file(dir: &Path, ledger: &Path) -> Result<(), LedgerError> {
    let Some(state) = CaState::load(dir)? else {
        return Ok(());
    };
    if state.issued == 0 {
        return Ok(());
    }
    let why = match std::fs::metadata(ledger) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "is missing",
        Err(e) => return Err(LedgerError::Io(format!("{}: {e}", ledger.display()))),
        Ok(m) if m.len() == 0 => "is empty (0 bytes)",
        Ok(_) => return Ok(()),
    };
    Err(LedgerError::Refused(format!(
        "the ledger {} {why}, but this CA has issued {} certificates (ledger {}, {}); {}",
        ledger.display(),
        state.issued,
        state.ledger_id,
        dir.join(STATE_FILE).display(),
        restore_hint(dir)
    )))
}

/// What [`BoundLedger::restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The ledger's id.
    pub ledger_id: String,
    /// Certificates the restored ledger holds.
    pub issued: u64,
    /// Certificates the CA directory had seen issued that the restored ledger does not hold
    /// (issued after the backup): they cannot be listed or revoked by the service; revoke
    /// them with `meshtls revoke` if needed.
    pub missing: u64,
    /// Revocations the CA directory had seen that the restored ledger does not hold (made
    /// after the backup): those certificates are valid again until revoked again.
    pub missing_revocations: u64,
    /// The CRL number the ledger now holds; the next CRL is above it.
    pub crl_number: u64,
}

/// A ledger bound to its CA directory: every [`Store`] call goes to the ledger; certificates
/// recorded raise the state file's count, and every CRL number is written to the state file
/// before it is used.
pub struct BoundLedger {
    inner: Arc<dyn Store>,
    dir: PathBuf,
    state: Mutex<CaState>,
}

impl fmt::Debug for BoundLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundLedger")
            .field("dir", &self.dir)
            .field("state", &*self.state())
            .finish_non_exhaustive()
    }
}

impl BoundLedger {
    /// Bind the CA directory `dir` to `ledger` for a start of the service: refused when the
    /// CA has issued and the ledger is another one (its id differs: a new, empty or foreign
    /// ledger) or older than the directory remembers (fewer certificates: a backup copied in
    /// place without [`restore`](Self::restore)). On success the ledger's CRL number is
    /// raised to the highest the directory remembers and the state file is updated.
    pub fn bind(dir: &Path, ledger: Arc<dyn Store>) -> Result<Arc<BoundLedger>, LedgerError> {
        let meta = ledger.ledger_meta()?;
        let known = CaState::load(dir)?.unwrap_or_default();
        if known.issued > 0 {
            let state_file = dir.join(STATE_FILE);
            if known.ledger_id != meta.id {
                return Err(LedgerError::Refused(format!(
                    "the ledger is not this CA's: its id is {}, {} names {} (which has issued {} \
                     certificates); {}",
                    meta.id,
                    state_file.display(),
                    known.ledger_id,
                    known.issued,
                    restore_hint(dir)
                )));
            }
            let revoked = ledger.revocation_count()?;
            if meta.issued < known.issued || revoked < known.revoked {
                return Err(LedgerError::Refused(format!(
                    "the ledger {} is older than this CA: it holds {} certificates and {} \
                     revocations, {} remembers {} and {}; {}",
                    meta.id,
                    meta.issued,
                    revoked,
                    state_file.display(),
                    known.issued,
                    known.revoked,
                    restore_hint(dir)
                )));
            }
        }
        let highest = known.highest_crl_number.max(meta.crl_number);
        ledger.raise_crl_number(highest)?;
        let state = CaState {
            ledger_id: meta.id,
            highest_crl_number: highest,
            issued: known.issued.max(meta.issued),
            revoked: known.revoked.max(ledger.revocation_count()?),
        };
        state.save(dir)?;
        Ok(Arc::new(BoundLedger {
            inner: ledger,
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
        }))
    }

    /// Accept `ledger` (just restored from a backup, with the service stopped) as the CA
    /// directory `dir`'s ledger although it is older: its CRL number is raised to the highest
    /// the directory remembers, so the next CRL is numbered above every CRL served before,
    /// and the directory's count follows the ledger. Refused when the ledger is another
    /// CA's (its id differs from the one the directory names).
    pub fn restore(dir: &Path, ledger: &dyn Store) -> Result<Restored, LedgerError> {
        let meta = ledger.ledger_meta()?;
        let known = CaState::load(dir)?.unwrap_or_default();
        if known.issued > 0 && known.ledger_id != meta.id {
            return Err(LedgerError::Refused(format!(
                "the backup is of ledger {}, but {} names ledger {}: not a backup of this CA's \
                 ledger",
                meta.id,
                dir.join(STATE_FILE).display(),
                known.ledger_id
            )));
        }
        let highest = known.highest_crl_number.max(meta.crl_number);
        let crl_number = ledger.raise_crl_number(highest)?;
        let revoked = ledger.revocation_count()?;
        let state = CaState {
            ledger_id: meta.id.clone(),
            highest_crl_number: highest,
            issued: meta.issued,
            revoked,
        };
        state.save(dir)?;
        Ok(Restored {
            ledger_id: meta.id,
            issued: meta.issued,
            missing: known.issued.saturating_sub(meta.issued),
            missing_revocations: known.revoked.saturating_sub(revoked),
            crl_number,
        })
    }

    /// What the CA directory remembers now.
    pub fn ca_state(&self) -> CaState {
        self.state().clone()
    }

    fn state(&self) -> MutexGuard<'_, CaState> {
        match self.state.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A certificate was recorded: the directory's count follows the ledger's (read back, so
    /// an answer repeated for a certificate recorded before counts nothing). A failure here is
    /// not the caller's (the certificate is recorded and must be answered): the count stays a
    /// lower bound, which only weakens the rollback check, and the next write catches up.
    fn note_issued(&self) {
        let Ok(meta) = self.inner.ledger_meta() else {
            return;
        };
        let mut state = self.state();
        if meta.issued > state.issued {
            state.issued = meta.issued;
            let _ = state.save(&self.dir);
        }
    }
}

impl BoundLedger {
    /// A revocation was recorded: the directory's count follows the ledger's (same rules as
    /// [`note_issued`](Self::note_issued)).
    fn note_revoked(&self) {
        let Ok(n) = self.inner.revocation_count() else {
            return;
        };
        let mut state = self.state();
        if n > state.revoked {
            state.revoked = n;
            let _ = state.save(&self.dir);
        }
    }
}

impl Store for BoundLedger {
    fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.inner.add_token(token)
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token(hash)
    }
    fn tokens(&self, limit: u32) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.tokens(limit)
    }
    fn revoke_token(&self, hash: &str, at: i64) -> Result<TokenRevokeOutcome, StoreError> {
        self.inner.revoke_token(hash, at)
    }
    fn enroll(&self, token_hash: &str, now: i64, cert: &CertRecord) -> Result<(), StoreError> {
        self.inner.enroll(token_hash, now, cert)?;
        self.note_issued();
        Ok(())
    }
    fn record_cert(&self, cert: &CertRecord) -> Result<(), StoreError> {
        self.inner.record_cert(cert)?;
        self.note_issued();
        Ok(())
    }
    fn revoke(&self, serial: &str, reason: &str, at: i64) -> Result<RevokeOutcome, StoreError> {
        let outcome = self.inner.revoke(serial, reason, at)?;
        if outcome == RevokeOutcome::Revoked {
            self.note_revoked();
        }
        Ok(outcome)
    }
    fn revoke_lineage(
        &self,
        serial: &str,
        reason: &str,
        at: i64,
    ) -> Result<LineageRevocation, StoreError> {
        let r = self.inner.revoke_lineage(serial, reason, at)?;
        if r.outcome == RevokeOutcome::Revoked || !r.descendants.is_empty() {
            self.note_revoked();
        }
        Ok(r)
    }
    fn renew(
        &self,
        previous: &str,
        now: i64,
        grace: i64,
        cert: &CertRecord,
    ) -> Result<RenewOutcome, StoreError> {
        let outcome = self.inner.renew(previous, now, grace, cert)?;
        if let RenewOutcome::Recorded { superseded } = &outcome {
            self.note_issued();
            if !superseded.is_empty() {
                self.note_revoked();
            }
        }
        Ok(outcome)
    }
    fn cert(&self, serial: &str) -> Result<Option<CertRecord>, StoreError> {
        self.inner.cert(serial)
    }
    fn certs(&self, filter: &CertFilter) -> Result<Vec<CertRecord>, StoreError> {
        self.inner.certs(filter)
    }
    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        self.inner.revocations()
    }
    fn revocation_count(&self) -> Result<u64, StoreError> {
        self.inner.revocation_count()
    }
    /// The ledger's next number, above the highest the directory remembers, written to the
    /// state file before it is returned: a number not remembered is never used (fail closed).
    fn next_crl_number(&self) -> Result<u64, StoreError> {
        let mut state = self.state();
        let mut n = self.inner.next_crl_number()?;
        if n <= state.highest_crl_number {
            self.inner.raise_crl_number(state.highest_crl_number)?;
            n = self.inner.next_crl_number()?;
        }
        let mut next = state.clone();
        // Another process on this CA directory (a replica on the same host) may have written
        // a higher number since: never write the remembered number down.
        let on_disk = CaState::load(&self.dir)
            .ok()
            .flatten()
            .filter(|s| s.ledger_id == next.ledger_id)
            .map_or(0, |s| s.highest_crl_number);
        next.highest_crl_number = n.max(on_disk);
        next.save(&self.dir)
            .map_err(|e| StoreError::Backend(format!("CRL number {n} not remembered: {e}")))?;
        *state = next;
        Ok(n)
    }
    fn earliest_expiry(&self, now: i64) -> Result<Option<i64>, StoreError> {
        self.inner.earliest_expiry(now)
    }
    fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping()
    }
    fn ledger_meta(&self) -> Result<LedgerMeta, StoreError> {
        self.inner.ledger_meta()
    }
    fn raise_crl_number(&self, floor: u64) -> Result<u64, StoreError> {
        self.inner.raise_crl_number(floor)
    }
    fn add_jwt_key(&self, key: &JwtKeyRecord) -> Result<(), StoreError> {
        self.inner.add_jwt_key(key)
    }
    fn jwt_keys(&self, now: i64) -> Result<Vec<JwtKeyRecord>, StoreError> {
        self.inner.jwt_keys(now)
    }
    fn jwt_key_count(&self) -> Result<u64, StoreError> {
        self.inner.jwt_key_count()
    }
    fn record_jwt(&self, jwt: &JwtRecord) -> Result<(), StoreError> {
        self.inner.record_jwt(jwt)
    }
    fn jwts(&self, limit: u32) -> Result<Vec<JwtRecord>, StoreError> {
        self.inner.jwts(limit)
    }
}

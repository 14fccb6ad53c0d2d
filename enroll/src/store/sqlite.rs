//! The embedded ledger: SQLite in WAL mode, one connection behind a mutex.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{
    join_dns, join_lines, ledger_id_hex, lineage_decision, split_dns, CertFilter, CertRecord,
    IssueKind, JwtKeyRecord, JwtRecord, LedgerMeta, LineageRevocation, RenewOutcome, Revocation,
    RevokeOutcome, Store, StoreError, TokenRecord, TokenRevokeOutcome,
};

const TOKEN_COLUMNS: &str =
    "hash, pattern, created_at, expires_at, created_by, used_at, dns_names, used_serial";

/// The token with this hash, on `conn` (a connection or a transaction).
fn token_in(conn: &Connection, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"),
        params![hash],
        token_from_row,
    )
    .optional()
    .map_err(backend)
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        hash: r.get(0)?,
        pattern: r.get(1)?,
        created_at: r.get(2)?,
        expires_at: r.get(3)?,
        created_by: r.get(4)?,
        used_at: r.get(5)?,
        dns_names: split_dns(&r.get::<_, String>(6)?),
        used_serial: r.get(7)?,
    })
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    dns_names TEXT NOT NULL DEFAULT '',
    used_at INTEGER,
    used_serial TEXT
);
CREATE TABLE IF NOT EXISTS certs (
    serial TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    previous_serial TEXT,
    cert_pem TEXT NOT NULL,
    revoked_at INTEGER,
    revocation_reason TEXT
);
CREATE INDEX IF NOT EXISTS certs_identity ON certs(identity);
CREATE INDEX IF NOT EXISTS certs_not_after ON certs(not_after);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    serial TEXT NOT NULL,
    identity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('crl_number', 0);
INSERT OR IGNORE INTO meta(key, value)
    SELECT 'revocations', COUNT(*) FROM certs WHERE revoked_at IS NOT NULL;
INSERT OR IGNORE INTO meta(key, value) VALUES ('ledger_id', random());
INSERT OR IGNORE INTO meta(key, value) SELECT 'issued', COUNT(*) FROM certs;
CREATE TRIGGER IF NOT EXISTS meta_issued AFTER INSERT ON certs
    BEGIN UPDATE meta SET value = value + 1 WHERE key = 'issued'; END;
CREATE TABLE IF NOT EXISTS jwt_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retire_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jwts (
    jti TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    audience TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    kid TEXT NOT NULL,
    serial TEXT NOT NULL,
    bound_thumbprint TEXT
);
CREATE INDEX IF NOT EXISTS jwts_subject ON jwts(subject);
";

/// Lineage (added to ledgers made before it): the key of each certificate, and an index to
/// walk from a certificate to its successors.
const LINEAGE_SCHEMA: &str = "
ALTER TABLE certs ADD COLUMN spki_sha256 TEXT;
";
const LINEAGE_INDEX: &str = "
CREATE INDEX IF NOT EXISTS certs_previous_serial ON certs(previous_serial);
";

const CERT_COLUMNS: &str = "serial, identity, not_before, not_after, fingerprint, kind, \
     issued_at, previous_serial, cert_pem, revoked_at, revocation_reason, spki_sha256";

/// The unrevoked descendants of ?1 (renewals of renewals...), `UNION` ending any cycle.
const LIVE_DESCENDANTS: &str = "
WITH RECURSIVE down(serial) AS (
    SELECT serial FROM certs WHERE previous_serial = ?1
    UNION
    SELECT c.serial FROM certs c JOIN down ON c.previous_serial = down.serial
)
SELECT serial FROM certs WHERE serial IN (SELECT serial FROM down) AND revoked_at IS NULL
ORDER BY serial";

/// The first revoked certificate among ?1 and its predecessors.
const REVOKED_ANCESTOR: &str = "
WITH RECURSIVE up(serial, previous_serial, revoked_at) AS (
    SELECT serial, previous_serial, revoked_at FROM certs WHERE serial = ?1
    UNION
    SELECT c.serial, c.previous_serial, c.revoked_at FROM certs c
        JOIN up ON c.serial = up.previous_serial
)
SELECT serial FROM up WHERE revoked_at IS NOT NULL LIMIT 1";

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn insert_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::DuplicateSerial
        }
        _ => backend(e),
    }
}

pub(crate) fn cert_from_row(row: &Row<'_>) -> rusqlite::Result<CertRecord> {
    Ok(CertRecord {
        serial: row.get(0)?,
        identity: row.get(1)?,
        not_before: row.get(2)?,
        not_after: row.get(3)?,
        fingerprint: row.get(4)?,
        kind: IssueKind::parse(&row.get::<_, String>(5)?),
        issued_at: row.get(6)?,
        previous_serial: row.get(7)?,
        cert_pem: row.get(8)?,
        revoked_at: row.get(9)?,
        revocation_reason: row.get(10)?,
        spki_sha256: row.get(11)?,
    })
}

/// SQLite ledger (a file, WAL journal, `synchronous=FULL`: a commit survives a crash of the
/// process and of the machine).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (creating if needed) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// An in-memory ledger (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        let has_spki: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('certs') WHERE name = 'spki_sha256'",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if has_spki == 0 {
            conn.execute_batch(LINEAGE_SCHEMA).map_err(backend)?;
        }
        conn.execute_batch(LINEAGE_INDEX).map_err(backend)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

fn insert_cert(tx: &rusqlite::Transaction<'_>, c: &CertRecord) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO certs ({CERT_COLUMNS}) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,NULL,NULL,?10)"
        ),
        params![
            c.serial,
            c.identity,
            c.not_before,
            c.not_after,
            c.fingerprint,
            c.kind.as_str(),
            c.issued_at,
            c.previous_serial,
            c.cert_pem,
            c.spki_sha256
        ],
    )
    .map_err(insert_error)?;
    tx.execute(
        "INSERT INTO events (at, kind, serial, identity) VALUES (?1, ?2, ?3, ?4)",
        params![c.issued_at, c.kind.as_str(), c.serial, c.identity],
    )
    .map_err(backend)?;
    Ok(())
}

/// Mark `serial` revoked unless it is, in `tx`: the row, its event and the revocation count.
fn revoke_in(
    tx: &rusqlite::Transaction<'_>,
    serial: &str,
    reason: &str,
    at: i64,
) -> Result<RevokeOutcome, StoreError> {
    let row: Option<(String, Option<i64>)> = tx
        .query_row(
            "SELECT identity, revoked_at FROM certs WHERE serial = ?1",
            params![serial],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(backend)?;
    let identity = match row {
        None => return Ok(RevokeOutcome::NotFound),
        Some((_, Some(_))) => return Ok(RevokeOutcome::AlreadyRevoked),
        Some((identity, None)) => identity,
    };
    tx.execute(
        "UPDATE certs SET revoked_at = ?1, revocation_reason = ?2 WHERE serial = ?3",
        params![at, reason, serial],
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO events (at, kind, serial, identity) VALUES (?1, 'revoke', ?2, ?3)",
        params![at, serial, identity],
    )
    .map_err(backend)?;
    tx.execute(
        "UPDATE meta SET value = value + 1 WHERE key = 'revocations'",
        [],
    )
    .map_err(backend)?;
    Ok(RevokeOutcome::Revoked)
}

/// Revoke every unrevoked descendant of `serial` in `tx`; their serials.
fn revoke_descendants_in(
    tx: &rusqlite::Transaction<'_>,
    serial: &str,
    reason: &str,
    at: i64,
) -> Result<Vec<String>, StoreError> {
    let descendants = {
        let mut stmt = tx.prepare_cached(LIVE_DESCENDANTS).map_err(backend)?;
        let rows = stmt
            .query_map(params![serial], |r| r.get::<_, String>(0))
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?
    };
    for d in &descendants {
        revoke_in(tx, d, reason, at)?;
    }
    Ok(descendants)
}

impl Store for SqliteStore {
    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO tokens (hash, pattern, created_at, expires_at, created_by, dns_names) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    t.hash,
                    t.pattern,
                    t.created_at,
                    t.expires_at,
                    t.created_by,
                    join_dns(&t.dns_names)
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        token_in(&self.conn(), hash)
    }

    fn tokens(&self, limit: u32) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at DESC, hash LIMIT ?1"
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![limit], token_from_row)
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn revoke_token(&self, hash: &str, at: i64) -> Result<TokenRevokeOutcome, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let outcome = match token_in(&tx, hash)?.map(|t| t.check_usable(at)) {
            None => TokenRevokeOutcome::NotFound,
            Some(Err(StoreError::TokenUsed)) => TokenRevokeOutcome::AlreadyUsed,
            Some(Err(StoreError::TokenRevoked)) => TokenRevokeOutcome::AlreadyRevoked,
            // Unused, or expired (revoking it still records that an admin withdrew it).
            Some(_) => {
                tx.execute(
                    "UPDATE tokens SET used_at = ?1 WHERE hash = ?2 AND used_at IS NULL",
                    params![at, hash],
                )
                .map_err(backend)?;
                TokenRevokeOutcome::Revoked
            }
        };
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn enroll(&self, token_hash: &str, now: i64, cert: &CertRecord) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        token_in(&tx, token_hash)?
            .ok_or(StoreError::TokenUnknown)?
            .check_usable(now)?;
        let n = tx
            .execute(
                "UPDATE tokens SET used_at = ?1, used_serial = ?2 \
                 WHERE hash = ?3 AND used_at IS NULL",
                params![now, cert.serial, token_hash],
            )
            .map_err(backend)?;
        if n != 1 {
            return Err(StoreError::TokenUsed);
        }
        insert_cert(&tx, cert)?;
        tx.commit().map_err(backend)
    }

    fn record_cert(&self, cert: &CertRecord) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        insert_cert(&tx, cert)?;
        tx.commit().map_err(backend)
    }

    fn revoke(&self, serial: &str, reason: &str, at: i64) -> Result<RevokeOutcome, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let outcome = revoke_in(&tx, serial, reason, at)?;
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn revoke_lineage(
        &self,
        serial: &str,
        reason: &str,
        at: i64,
    ) -> Result<LineageRevocation, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let outcome = revoke_in(&tx, serial, reason, at)?;
        let descendants = if outcome == RevokeOutcome::NotFound {
            Vec::new()
        } else {
            revoke_descendants_in(&tx, serial, reason, at)?
        };
        tx.commit().map_err(backend)?;
        Ok(LineageRevocation {
            outcome,
            descendants,
        })
    }

    fn renew(
        &self,
        previous: &str,
        now: i64,
        grace: i64,
        cert: &CertRecord,
    ) -> Result<RenewOutcome, StoreError> {
        let mut conn = self.conn();
        // IMMEDIATE: one writer at a time, so two renewals of one certificate are serialised.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM certs WHERE serial = ?1",
                params![previous],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if exists.is_none() {
            return Ok(RenewOutcome::NotFound);
        }
        let revoked: Option<String> = tx
            .query_row(REVOKED_ANCESTOR, params![previous], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(serial) = revoked {
            return Ok(RenewOutcome::Revoked { serial });
        }
        let successors = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {CERT_COLUMNS} FROM certs \
                     WHERE previous_serial = ?1 AND revoked_at IS NULL ORDER BY issued_at"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![previous], cert_from_row)
                .map_err(backend)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?
        };
        let outcome = lineage_decision(&successors, now, grace, cert);
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
        let mut superseded = Vec::new();
        for s in &successors {
            revoke_in(&tx, &s.serial, "superseded", now)?;
            superseded.push(s.serial.clone());
            superseded.extend(revoke_descendants_in(&tx, &s.serial, "superseded", now)?);
        }
        insert_cert(&tx, cert)?;
        tx.commit().map_err(backend)?;
        Ok(RenewOutcome::Recorded { superseded })
    }

    fn cert(&self, serial: &str) -> Result<Option<CertRecord>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {CERT_COLUMNS} FROM certs WHERE serial = ?1"),
                params![serial],
                cert_from_row,
            )
            .optional()
            .map_err(backend)
    }

    fn certs(&self, f: &CertFilter) -> Result<Vec<CertRecord>, StoreError> {
        let revoked = f.revoked.map(i64::from);
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {CERT_COLUMNS} FROM certs \
                 WHERE (?1 IS NULL OR identity = ?1) \
                   AND (?2 IS NULL OR not_after < ?2) \
                   AND (?3 IS NULL OR (revoked_at IS NOT NULL) = ?3) \
                 ORDER BY issued_at DESC, serial LIMIT ?4"
            ))
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![f.identity, f.expiring_before, revoked, f.limit],
                cert_from_row,
            )
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT serial, revoked_at, revocation_reason FROM certs \
                 WHERE revoked_at IS NOT NULL",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Revocation {
                    serial: r.get(0)?,
                    revoked_at: r.get(1)?,
                    reason: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn revocation_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row(
                "SELECT value FROM meta WHERE key = 'revocations'",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn next_crl_number(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row(
                "UPDATE meta SET value = value + 1 WHERE key = 'crl_number' RETURNING value",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn earliest_expiry(&self, now: i64) -> Result<Option<i64>, StoreError> {
        self.conn()
            .query_row(
                "SELECT MIN(not_after) FROM certs WHERE revoked_at IS NULL AND not_after > ?1",
                params![now],
                |r| r.get(0),
            )
            .map_err(backend)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.conn()
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .map_err(backend)?;
        Ok(())
    }

    fn ledger_meta(&self) -> Result<LedgerMeta, StoreError> {
        let conn = self.conn();
        let get = |key: &str| -> Result<i64, StoreError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .map_err(backend)
        };
        Ok(LedgerMeta {
            id: ledger_id_hex(get("ledger_id")?),
            crl_number: u64::try_from(get("crl_number")?).unwrap_or(0),
            issued: u64::try_from(get("issued")?).unwrap_or(0),
        })
    }

    fn raise_crl_number(&self, floor: u64) -> Result<u64, StoreError> {
        let floor = i64::try_from(floor)
            .map_err(|_| StoreError::Backend(format!("CRL number {floor} is out of range")))?;
        let n: i64 = self
            .conn()
            .query_row(
                "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'crl_number' RETURNING value",
                params![floor],
                |r| r.get(0),
            )
            .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn add_jwt_key(&self, k: &JwtKeyRecord) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO jwt_keys (kid, algorithm, key_pem, created_at, retire_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![k.kid, k.algorithm, k.key_pem, k.created_at, k.retire_at],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn jwt_keys(&self, now: i64) -> Result<Vec<JwtKeyRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT kid, algorithm, key_pem, created_at, retire_at FROM jwt_keys \
                 WHERE retire_at > ?1 ORDER BY created_at, kid",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now], |r| {
                Ok(JwtKeyRecord {
                    kid: r.get(0)?,
                    algorithm: r.get(1)?,
                    key_pem: r.get(2)?,
                    created_at: r.get(3)?,
                    retire_at: r.get(4)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }

    fn jwt_key_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM jwt_keys", [], |r| r.get(0))
            .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn record_jwt(&self, j: &JwtRecord) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO jwts (jti, subject, audience, issued_at, expires_at, kid, serial, \
                 bound_thumbprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    j.jti,
                    j.subject,
                    join_lines(&j.audience),
                    j.issued_at,
                    j.expires_at,
                    j.kid,
                    j.serial,
                    j.bound_thumbprint
                ],
            )
            .map_err(insert_error)?;
        Ok(())
    }

    fn jwts(&self, limit: u32) -> Result<Vec<JwtRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT jti, subject, audience, issued_at, expires_at, kid, serial, \
                 bound_thumbprint FROM jwts ORDER BY issued_at DESC, jti LIMIT ?1",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![limit], |r| {
                Ok(JwtRecord {
                    jti: r.get(0)?,
                    subject: r.get(1)?,
                    audience: split_dns(&r.get::<_, String>(2)?),
                    issued_at: r.get(3)?,
                    expires_at: r.get(4)?,
                    kid: r.get(5)?,
                    serial: r.get(6)?,
                    bound_thumbprint: r.get(7)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)
    }
}

impl SqliteStore {
    /// A consistent copy of the ledger, taken while the service runs (`VACUUM INTO`: one
    /// read transaction), written to a temporary file beside `out`, synced and renamed, so
    /// `out` is the whole snapshot or is not there. `out` must not exist yet.
    pub fn backup_to(&self, out: &Path) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", out.display()));
        if out.exists() {
            return Err(StoreError::Backend(format!(
                "{}: already exists (a backup never overwrites)",
                out.display()
            )));
        }
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ledger".to_owned());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let tmp_str = tmp
            .to_str()
            .ok_or_else(|| StoreError::Backend(format!("{}: not UTF-8", tmp.display())))?;
        let made = self
            .conn()
            .execute("VACUUM INTO ?1", params![tmp_str])
            .map_err(backend);
        let finish = made.and_then(|_| {
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
            std::fs::rename(&tmp, out).map_err(io)?;
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        });
        if finish.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        finish
    }

    /// Replace the ledger at `ledger` with the backup `from` (made by
    /// [`backup_to`](Self::backup_to)), through SQLite's backup API, so the ledger's journal
    /// stays consistent. The service must be stopped. `from` must be a meshtls ledger.
    pub fn restore(ledger: &Path, from: &Path) -> Result<LedgerMeta, StoreError> {
        // The backup must open as a ledger, read-only: never "restore" from a non-ledger.
        let backup = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", from.display())))?;
        backup
            .query_row("SELECT value FROM meta WHERE key = 'ledger_id'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| {
                StoreError::Backend(format!("{}: not a meshtls ledger: {e}", from.display()))
            })?;
        drop(backup);
        let mut conn = Connection::open(ledger).map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(backend)?;
        conn.restore(
            rusqlite::MAIN_DB,
            from,
            None::<fn(rusqlite::backup::Progress)>,
        )
        .map_err(|e| StoreError::Backend(format!("{}: {e}", ledger.display())))?;
        drop(conn);
        SqliteStore::open(ledger)?.ledger_meta()
    }
}

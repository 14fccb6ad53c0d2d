//! The shared ledger: PostgreSQL, for several CA replicas behind a load balancer.
//!
//! One-time tokens and unique serials hold across replicas because the database enforces
//! them: a token is consumed by `UPDATE ... WHERE used_at IS NULL` (the row lock makes a
//! concurrent second update see the first one's result and match nothing), and `serial` is
//! the primary key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, NoTls, Row};

use super::{
    join_dns, join_lines, ledger_id_hex, lineage_decision, split_dns, CertFilter, CertRecord,
    IssueKind, JwtKeyRecord, JwtRecord, LedgerMeta, LineageRevocation, RenewOutcome, Revocation,
    RevokeOutcome, Store, StoreError, TokenRecord, TokenRevokeOutcome,
};

const TOKEN_COLUMNS: &str =
    "hash, pattern, created_at, expires_at, created_by, used_at, dns_names, used_serial";

fn token_from_row(r: &Row) -> TokenRecord {
    TokenRecord {
        hash: r.get(0),
        pattern: r.get(1),
        created_at: r.get(2),
        expires_at: r.get(3),
        created_by: r.get(4),
        used_at: r.get(5),
        dns_names: split_dns(r.get::<_, &str>(6)),
        used_serial: r.get(7),
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meshtls_tokens (
    hash TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    dns_names TEXT NOT NULL DEFAULT '',
    used_at BIGINT,
    used_serial TEXT
);
CREATE TABLE IF NOT EXISTS meshtls_certs (
    serial TEXT PRIMARY KEY,
    identity TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    previous_serial TEXT,
    cert_pem TEXT NOT NULL,
    revoked_at BIGINT,
    revocation_reason TEXT
);
CREATE INDEX IF NOT EXISTS meshtls_certs_identity ON meshtls_certs(identity);
CREATE INDEX IF NOT EXISTS meshtls_certs_not_after ON meshtls_certs(not_after);
CREATE TABLE IF NOT EXISTS meshtls_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    serial TEXT NOT NULL,
    identity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meshtls_meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meshtls_meta(key, value) VALUES ('crl_number', 0) ON CONFLICT DO NOTHING;
INSERT INTO meshtls_meta(key, value)
    SELECT 'revocations', COUNT(*) FROM meshtls_certs WHERE revoked_at IS NOT NULL
    ON CONFLICT DO NOTHING;
INSERT INTO meshtls_meta(key, value)
    VALUES ('ledger_id', ('x' || md5(random()::text || clock_timestamp()::text))::bit(64)::bigint)
    ON CONFLICT DO NOTHING;
INSERT INTO meshtls_meta(key, value) SELECT 'issued', COUNT(*) FROM meshtls_certs
    ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION meshtls_count_issued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meshtls_meta SET value = value + 1 WHERE key = 'issued';
    RETURN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'meshtls_certs_issued'
                   AND tgrelid = 'meshtls_certs'::regclass) THEN
        CREATE TRIGGER meshtls_certs_issued AFTER INSERT ON meshtls_certs
            FOR EACH ROW EXECUTE FUNCTION meshtls_count_issued();
    END IF;
END $$;
ALTER TABLE meshtls_certs ADD COLUMN IF NOT EXISTS spki_sha256 TEXT;
CREATE INDEX IF NOT EXISTS meshtls_certs_previous_serial ON meshtls_certs(previous_serial);
CREATE TABLE IF NOT EXISTS meshtls_jwt_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retire_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meshtls_jwts (
    jti TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    audience TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    kid TEXT NOT NULL,
    serial TEXT NOT NULL,
    bound_thumbprint TEXT
);
CREATE INDEX IF NOT EXISTS meshtls_jwts_subject ON meshtls_jwts(subject);
";

const CERT_COLUMNS: &str = "serial, identity, not_before, not_after, fingerprint, kind, \
     issued_at, previous_serial, cert_pem, revoked_at, revocation_reason, spki_sha256";

/// The unrevoked descendants of $1 (renewals of renewals...), `UNION` ending any cycle.
const LIVE_DESCENDANTS: &str = "
WITH RECURSIVE down(serial) AS (
    SELECT serial FROM meshtls_certs WHERE previous_serial = $1
    UNION
    SELECT c.serial FROM meshtls_certs c JOIN down ON c.previous_serial = down.serial
)
SELECT serial FROM meshtls_certs
WHERE serial IN (SELECT serial FROM down) AND revoked_at IS NULL ORDER BY serial";

/// The first revoked certificate among $1 and its predecessors.
const REVOKED_ANCESTOR: &str = "
WITH RECURSIVE up(serial, previous_serial, revoked_at) AS (
    SELECT serial, previous_serial, revoked_at FROM meshtls_certs WHERE serial = $1
    UNION
    SELECT c.serial, c.previous_serial, c.revoked_at FROM meshtls_certs c
        JOIN up ON c.serial = up.previous_serial
)
SELECT serial FROM up WHERE revoked_at IS NOT NULL LIMIT 1";

/// Serialises schema creation between replicas starting together.
const SCHEMA_LOCK: i64 = 0x006d_6573_6874_6c73;

fn backend(e: postgres::Error) -> StoreError {
    if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        return StoreError::DuplicateSerial;
    }
    StoreError::Backend(e.to_string())
}

fn cert_from_row(r: &Row) -> CertRecord {
    CertRecord {
        serial: r.get(0),
        identity: r.get(1),
        not_before: r.get(2),
        not_after: r.get(3),
        fingerprint: r.get(4),
        kind: IssueKind::parse(r.get::<_, &str>(5)),
        issued_at: r.get(6),
        previous_serial: r.get(7),
        cert_pem: r.get(8),
        revoked_at: r.get(9),
        revocation_reason: r.get(10),
        spki_sha256: r.get(11),
    }
}

/// PostgreSQL ledger with a small pool of connections.
pub struct PostgresStore {
    url: String,
    pool: Vec<Mutex<Client>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.len())
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // A postgres::Client blocks on its own runtime when dropped, which panics on a thread
        // that drives async tasks (a store is often dropped there): drop them elsewhere.
        let pool = std::mem::take(&mut self.pool);
        let _ = std::thread::spawn(move || drop(pool)).join();
    }
}

impl PostgresStore {
    /// Connect with `url` (`postgres://user@host:port/db`), `connections` connections, and
    /// create the tables if missing. Must not be called from an async context (use
    /// `spawn_blocking`).
    pub fn connect(url: &str, connections: usize) -> Result<Self, StoreError> {
        let mut pool = Vec::new();
        for _ in 0..connections.max(1) {
            pool.push(Mutex::new(Client::connect(url, NoTls).map_err(backend)?));
        }
        let store = PostgresStore {
            url: url.to_owned(),
            pool,
            next: AtomicUsize::new(0),
        };
        {
            let mut c = store.client();
            let mut tx = c.transaction().map_err(backend)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                .map_err(backend)?;
            tx.batch_execute(SCHEMA).map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        Ok(store)
    }

    /// A free connection (or wait for one), reconnected first if the server dropped it (a
    /// database restart must not leave the service answering 503 until it restarts too).
    fn client(&self) -> MutexGuard<'_, Client> {
        let n = self.pool.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let mut guard = (0..n)
            .find_map(|i| self.pool[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| match self.pool[start].lock() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            });
        if guard.is_closed() {
            // On failure the closed client stays; the query fails and says why.
            if let Ok(fresh) = Client::connect(&self.url, NoTls) {
                *guard = fresh;
            }
        }
        guard
    }
}

fn insert_cert(tx: &mut postgres::Transaction<'_>, c: &CertRecord) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO meshtls_certs ({CERT_COLUMNS}) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,NULL,NULL,$10)"
        ),
        &[
            &c.serial,
            &c.identity,
            &c.not_before,
            &c.not_after,
            &c.fingerprint,
            &c.kind.as_str(),
            &c.issued_at,
            &c.previous_serial,
            &c.cert_pem,
            &c.spki_sha256,
        ],
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO meshtls_events (at, kind, serial, identity) VALUES ($1, $2, $3, $4)",
        &[&c.issued_at, &c.kind.as_str(), &c.serial, &c.identity],
    )
    .map_err(backend)?;
    Ok(())
}

/// Mark `serial` revoked unless it is, in `tx`: the row, its event and the revocation count.
fn revoke_in(
    tx: &mut postgres::Transaction<'_>,
    serial: &str,
    reason: &str,
    at: i64,
) -> Result<RevokeOutcome, StoreError> {
    let row = tx
        .query_opt(
            "UPDATE meshtls_certs SET revoked_at = $1, revocation_reason = $2 \
             WHERE serial = $3 AND revoked_at IS NULL RETURNING identity",
            &[&at, &reason, &serial],
        )
        .map_err(backend)?;
    let Some(row) = row else {
        let exists = tx
            .query_opt("SELECT 1 FROM meshtls_certs WHERE serial = $1", &[&serial])
            .map_err(backend)?;
        return Ok(if exists.is_some() {
            RevokeOutcome::AlreadyRevoked
        } else {
            RevokeOutcome::NotFound
        });
    };
    let identity: String = row.get(0);
    tx.execute(
        "INSERT INTO meshtls_events (at, kind, serial, identity) VALUES ($1, 'revoke', $2, $3)",
        &[&at, &serial, &identity],
    )
    .map_err(backend)?;
    tx.execute(
        "UPDATE meshtls_meta SET value = value + 1 WHERE key = 'revocations'",
        &[],
    )
    .map_err(backend)?;
    Ok(RevokeOutcome::Revoked)
}

/// Revoke every unrevoked descendant of `serial` in `tx`; their serials.
fn revoke_descendants_in(
    tx: &mut postgres::Transaction<'_>,
    serial: &str,
    reason: &str,
    at: i64,
) -> Result<Vec<String>, StoreError> {
    let descendants: Vec<String> = tx
        .query(LIVE_DESCENDANTS, &[&serial])
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for d in &descendants {
        revoke_in(tx, d, reason, at)?;
    }
    Ok(descendants)
}

impl Store for PostgresStore {
    fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        self.client()
            .execute(
                "INSERT INTO meshtls_tokens (hash, pattern, created_at, expires_at, created_by, dns_names) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &t.hash,
                    &t.pattern,
                    &t.created_at,
                    &t.expires_at,
                    &t.created_by,
                    &join_dns(&t.dns_names),
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = self
            .client()
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM meshtls_tokens WHERE hash = $1"),
                &[&hash],
            )
            .map_err(backend)?;
        Ok(row.as_ref().map(token_from_row))
    }

    fn tokens(&self, limit: u32) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = self
            .client()
            .query(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM meshtls_tokens \
                     ORDER BY created_at DESC, hash LIMIT $1"
                ),
                &[&i64::from(limit)],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    fn revoke_token(&self, hash: &str, at: i64) -> Result<TokenRevokeOutcome, StoreError> {
        let mut c = self.client();
        let mut tx = c.transaction().map_err(backend)?;
        // The row lock makes this and a concurrent enrollment on another replica exclusive.
        let n = tx
            .execute(
                "UPDATE meshtls_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL",
                &[&at, &hash],
            )
            .map_err(backend)?;
        let outcome = if n == 1 {
            TokenRevokeOutcome::Revoked
        } else {
            let row = tx
                .query_opt(
                    &format!("SELECT {TOKEN_COLUMNS} FROM meshtls_tokens WHERE hash = $1"),
                    &[&hash],
                )
                .map_err(backend)?;
            match row.map(|r| token_from_row(&r).check_usable(at)) {
                None => TokenRevokeOutcome::NotFound,
                Some(Err(StoreError::TokenUsed)) => TokenRevokeOutcome::AlreadyUsed,
                _ => TokenRevokeOutcome::AlreadyRevoked,
            }
        };
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn enroll(&self, token_hash: &str, now: i64, cert: &CertRecord) -> Result<(), StoreError> {
        let mut c = self.client();
        let mut tx = c.transaction().map_err(backend)?;
        let n = tx
            .execute(
                "UPDATE meshtls_tokens SET used_at = $1, used_serial = $2 \
                 WHERE hash = $3 AND used_at IS NULL AND expires_at > $1",
                &[&now, &cert.serial, &token_hash],
            )
            .map_err(backend)?;
        if n != 1 {
            let row = tx
                .query_opt(
                    &format!("SELECT {TOKEN_COLUMNS} FROM meshtls_tokens WHERE hash = $1"),
                    &[&token_hash],
                )
                .map_err(backend)?;
            return Err(match row {
                None => StoreError::TokenUnknown,
                // Usable now means another replica consumed it in between.
                Some(r) => token_from_row(&r)
                    .check_usable(now)
                    .err()
                    .unwrap_or(StoreError::TokenUsed),
            });
        }
        insert_cert(&mut tx, cert)?;
        tx.commit().map_err(backend)
    }

    fn record_cert(&self, cert: &CertRecord) -> Result<(), StoreError> {
        let mut c = self.client();
        let mut tx = c.transaction().map_err(backend)?;
        insert_cert(&mut tx, cert)?;
        tx.commit().map_err(backend)
    }

    fn revoke(&self, serial: &str, reason: &str, at: i64) -> Result<RevokeOutcome, StoreError> {
        let mut c = self.client();
        let mut tx = c.transaction().map_err(backend)?;
        let outcome = revoke_in(&mut tx, serial, reason, at)?;
        tx.commit().map_err(backend)?;
        Ok(outcome)
    }

    fn revoke_lineage(
        &self,
        serial: &str,
        reason: &str,
        at: i64,
    ) -> Result<LineageRevocation, StoreError> {
        let mut c = self.client();
        let mut tx = c.transaction().map_err(backend)?;
        let outcome = revoke_in(&mut tx, serial, reason, at)?;
        let descendants = if outcome == RevokeOutcome::NotFound {
            Vec::new()
        } else {
            revoke_descendants_in(&mut tx, serial, reason, at)?
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
        let mut c = self.client();
        let mut tx = c.transaction().map_err(backend)?;
        // The predecessor's row lock serialises renewals of one certificate across replicas;
        // the statements after it see what the one before committed.
        let locked = tx
            .query_opt(
                "SELECT 1 FROM meshtls_certs WHERE serial = $1 FOR UPDATE",
                &[&previous],
            )
            .map_err(backend)?;
        if locked.is_none() {
            return Ok(RenewOutcome::NotFound);
        }
        let revoked = tx
            .query_opt(REVOKED_ANCESTOR, &[&previous])
            .map_err(backend)?;
        if let Some(row) = revoked {
            return Ok(RenewOutcome::Revoked { serial: row.get(0) });
        }
        let successors: Vec<CertRecord> = tx
            .query(
                &format!(
                    "SELECT {CERT_COLUMNS} FROM meshtls_certs \
                     WHERE previous_serial = $1 AND revoked_at IS NULL ORDER BY issued_at"
                ),
                &[&previous],
            )
            .map_err(backend)?
            .iter()
            .map(cert_from_row)
            .collect();
        if let Some(outcome) = lineage_decision(&successors, now, grace, cert) {
            return Ok(outcome);
        }
        let mut superseded = Vec::new();
        for s in &successors {
            revoke_in(&mut tx, &s.serial, "superseded", now)?;
            superseded.push(s.serial.clone());
            superseded.extend(revoke_descendants_in(
                &mut tx,
                &s.serial,
                "superseded",
                now,
            )?);
        }
        insert_cert(&mut tx, cert)?;
        tx.commit().map_err(backend)?;
        Ok(RenewOutcome::Recorded { superseded })
    }

    fn cert(&self, serial: &str) -> Result<Option<CertRecord>, StoreError> {
        let row = self
            .client()
            .query_opt(
                &format!("SELECT {CERT_COLUMNS} FROM meshtls_certs WHERE serial = $1"),
                &[&serial],
            )
            .map_err(backend)?;
        Ok(row.as_ref().map(cert_from_row))
    }

    fn certs(&self, f: &CertFilter) -> Result<Vec<CertRecord>, StoreError> {
        let limit = i64::from(f.limit);
        let rows = self
            .client()
            .query(
                &format!(
                    "SELECT {CERT_COLUMNS} FROM meshtls_certs \
                     WHERE ($1::TEXT IS NULL OR identity = $1) \
                       AND ($2::BIGINT IS NULL OR not_after < $2) \
                       AND ($3::BOOLEAN IS NULL OR (revoked_at IS NOT NULL) = $3) \
                     ORDER BY issued_at DESC, serial LIMIT $4"
                ),
                &[&f.identity, &f.expiring_before, &f.revoked, &limit],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(cert_from_row).collect())
    }

    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT serial, revoked_at, revocation_reason FROM meshtls_certs \
                 WHERE revoked_at IS NOT NULL",
                &[],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| Revocation {
                serial: r.get(0),
                revoked_at: r.get(1),
                reason: r.get::<_, Option<String>>(2).unwrap_or_default(),
            })
            .collect())
    }

    fn revocation_count(&self) -> Result<u64, StoreError> {
        let row = self
            .client()
            .query_one(
                "SELECT value FROM meshtls_meta WHERE key = 'revocations'",
                &[],
            )
            .map_err(backend)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn next_crl_number(&self) -> Result<u64, StoreError> {
        let row = self
            .client()
            .query_one(
                "UPDATE meshtls_meta SET value = value + 1 WHERE key = 'crl_number' \
                 RETURNING value",
                &[],
            )
            .map_err(backend)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn earliest_expiry(&self, now: i64) -> Result<Option<i64>, StoreError> {
        let row = self
            .client()
            .query_one(
                "SELECT MIN(not_after) FROM meshtls_certs \
                 WHERE revoked_at IS NULL AND not_after > $1",
                &[&now],
            )
            .map_err(backend)?;
        Ok(row.get(0))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.client().query_one("SELECT 1", &[]).map_err(backend)?;
        Ok(())
    }

    fn ledger_meta(&self) -> Result<LedgerMeta, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT key, value FROM meshtls_meta                  WHERE key IN ('ledger_id', 'crl_number', 'issued')",
                &[],
            )
            .map_err(backend)?;
        let get = |key: &str| -> Result<i64, StoreError> {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == key)
                .map(|r| r.get::<_, i64>(1))
                .ok_or_else(|| StoreError::Backend(format!("meshtls_meta has no {key}")))
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
        let row = self
            .client()
            .query_one(
                "UPDATE meshtls_meta SET value = GREATEST(value, $1) WHERE key = 'crl_number' \
                 RETURNING value",
                &[&floor],
            )
            .map_err(backend)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn add_jwt_key(&self, k: &JwtKeyRecord) -> Result<(), StoreError> {
        self.client()
            .execute(
                "INSERT INTO meshtls_jwt_keys (kid, algorithm, key_pem, created_at, retire_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kid) DO NOTHING",
                &[
                    &k.kid,
                    &k.algorithm,
                    &k.key_pem,
                    &k.created_at,
                    &k.retire_at,
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn jwt_keys(&self, now: i64) -> Result<Vec<JwtKeyRecord>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT kid, algorithm, key_pem, created_at, retire_at FROM meshtls_jwt_keys \
                 WHERE retire_at > $1 ORDER BY created_at, kid",
                &[&now],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| JwtKeyRecord {
                kid: r.get(0),
                algorithm: r.get(1),
                key_pem: r.get(2),
                created_at: r.get(3),
                retire_at: r.get(4),
            })
            .collect())
    }

    fn jwt_key_count(&self) -> Result<u64, StoreError> {
        let row = self
            .client()
            .query_one("SELECT COUNT(*) FROM meshtls_jwt_keys", &[])
            .map_err(backend)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn record_jwt(&self, j: &JwtRecord) -> Result<(), StoreError> {
        self.client()
            .execute(
                "INSERT INTO meshtls_jwts (jti, subject, audience, issued_at, expires_at, kid, \
                 serial, bound_thumbprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &j.jti,
                    &j.subject,
                    &join_lines(&j.audience),
                    &j.issued_at,
                    &j.expires_at,
                    &j.kid,
                    &j.serial,
                    &j.bound_thumbprint,
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn jwts(&self, limit: u32) -> Result<Vec<JwtRecord>, StoreError> {
        let rows = self
            .client()
            .query(
                "SELECT jti, subject, audience, issued_at, expires_at, kid, serial, \
                 bound_thumbprint FROM meshtls_jwts ORDER BY issued_at DESC, jti LIMIT $1",
                &[&i64::from(limit)],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| JwtRecord {
                jti: r.get(0),
                subject: r.get(1),
                audience: split_dns(r.get::<_, &str>(2)),
                issued_at: r.get(3),
                expires_at: r.get(4),
                kid: r.get(5),
                serial: r.get(6),
                bound_thumbprint: r.get(7),
            })
            .collect())
    }
}

//! The SQLite ledger's bookkeeping (the PostgreSQL ledger runs the same checks in
//! `postgres.rs`).

mod common;

use common::{check_lineage, check_revocation_counter};
use meshtls_enroll::{SqliteStore, Store};

#[test]
fn the_revocation_counter_counts_each_certificate_once() {
    check_revocation_counter(&SqliteStore::in_memory().unwrap());
}

#[test]
fn a_ledger_without_the_counter_gets_it_from_its_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    check_revocation_counter(&SqliteStore::open(&path).unwrap());
    // A ledger written before the counter existed has no row for it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let removed = conn
        .execute("DELETE FROM meta WHERE key = 'revocations'", [])
        .unwrap();
    assert_eq!(removed, 1);
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.revocation_count().unwrap(), 2);
    assert_eq!(
        store.revoke("0b", "superseded", 120).unwrap(),
        meshtls_enroll::store::RevokeOutcome::Revoked
    );
    assert_eq!(store.revocation_count().unwrap(), 3);
}

#[test]
fn renewal_lineage_one_live_successor_and_revocation_of_descendants() {
    check_lineage(&SqliteStore::in_memory().unwrap());
}

#[test]
fn a_ledger_from_before_the_lineage_columns_gets_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    // The certs table as ledgers were written before the key column and its index existed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE certs (serial TEXT PRIMARY KEY, identity TEXT NOT NULL, \
         not_before INTEGER NOT NULL, not_after INTEGER NOT NULL, fingerprint TEXT NOT NULL, \
         kind TEXT NOT NULL, issued_at INTEGER NOT NULL, previous_serial TEXT, \
         cert_pem TEXT NOT NULL, revoked_at INTEGER, revocation_reason TEXT);
         INSERT INTO certs VALUES ('0a', 'spiffe://mesh.internal/a', 0, 10, '', 'enroll', 0, \
         NULL, '', NULL, NULL);",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    let old = store.cert("0a").unwrap().unwrap();
    assert_eq!(old.spki_sha256, None);
    drop(store);
    // Opening again does not add the column twice.
    check_lineage(&SqliteStore::open(&path).unwrap());
}

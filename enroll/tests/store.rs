//! The SQLite ledger's bookkeeping (the PostgreSQL ledger runs the same checks in
//! `postgres.rs`).

mod common;

use common::check_revocation_counter;
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

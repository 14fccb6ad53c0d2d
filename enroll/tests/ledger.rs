//! The ledger's identity and counters, and its binding to the CA directory: on SQLite, and on
//! a real PostgreSQL server with two replicas when MESHTLS_TEST_PG_URL is set
//! (`scripts/ci/postgres` starts one).

mod common;

use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "postgres")]
use common::fresh_database;
use common::plain_record;
use meshtls_enroll::ledger::{check_sqlite_file, BoundLedger, CaState, LedgerError, STATE_FILE};
use meshtls_enroll::{SqliteStore, Store};

fn refused(r: Result<impl std::fmt::Debug, LedgerError>, why: &str) {
    match r {
        Err(LedgerError::Refused(m)) => assert!(m.contains(why), "{why:?} not in {m:?}"),
        other => panic!("expected a refusal ({why}), got {other:?}"),
    }
}

/// The checks every ledger passes: a stable id, an issued counter kept by the database,
/// a CRL number raised but never lowered.
fn check_meta(store: &dyn Store) {
    let first = store.ledger_meta().unwrap();
    assert_eq!(first.id.len(), 16, "{first:?}");
    assert!(first.id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!((first.issued, first.crl_number), (0, 0));
    store.record_cert(&plain_record("0a")).unwrap();
    store.record_cert(&plain_record("0b")).unwrap();
    // A refused insert (a duplicate serial) counts nothing.
    assert!(store.record_cert(&plain_record("0a")).is_err());
    assert_eq!(store.ledger_meta().unwrap().issued, 2);
    assert_eq!(store.next_crl_number().unwrap(), 1);
    assert_eq!(store.raise_crl_number(40).unwrap(), 40);
    assert_eq!(store.raise_crl_number(7).unwrap(), 40, "never lowered");
    assert_eq!(store.next_crl_number().unwrap(), 41);
    let meta = store.ledger_meta().unwrap();
    assert_eq!(meta.id, first.id);
    assert_eq!(meta.crl_number, 41);
}

#[test]
fn an_sqlite_ledger_keeps_its_id_and_counts_what_it_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let store = SqliteStore::open(&path).unwrap();
    check_meta(&store);
    let id = store.ledger_meta().unwrap().id;
    drop(store);
    let again = SqliteStore::open(&path).unwrap().ledger_meta().unwrap();
    assert_eq!((again.id, again.issued), (id.clone(), 2));
    let other = SqliteStore::open(&dir.path().join("other.db")).unwrap();
    assert_ne!(other.ledger_meta().unwrap().id, id);
}

#[test]
fn a_ledger_from_before_the_counter_gets_it_from_its_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let store = SqliteStore::open(&path).unwrap();
    for s in ["01", "02", "03"] {
        store.record_cert(&plain_record(s)).unwrap();
    }
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DELETE FROM meta WHERE key = 'issued'; DROP TRIGGER meta_issued;")
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.ledger_meta().unwrap().issued, 3);
    store.record_cert(&plain_record("04")).unwrap();
    assert_eq!(store.ledger_meta().unwrap().issued, 4);
}

fn bind(dir: &Path, store: Arc<dyn Store>) -> Result<Arc<BoundLedger>, LedgerError> {
    BoundLedger::bind(dir, store)
}

#[test]
fn a_bound_ledger_remembers_in_the_ca_directory_and_refuses_another() {
    let ca = tempfile::tempdir().unwrap();
    let path = ca.path().join("ledger.db");
    // A CA that never issued accepts a missing ledger (it is created).
    check_sqlite_file(ca.path(), &path).unwrap();
    let bound = bind(ca.path(), Arc::new(SqliteStore::open(&path).unwrap())).unwrap();
    bound.record_cert(&plain_record("01")).unwrap();
    let n = bound.next_crl_number().unwrap();
    let state = CaState::load(ca.path()).unwrap().unwrap();
    assert_eq!(state, bound.ca_state());
    assert_eq!((state.issued, state.highest_crl_number), (1, n));
    bound.revoke("01", "key_compromise", 5).unwrap();
    assert_eq!(CaState::load(ca.path()).unwrap().unwrap().revoked, 1);
    drop(bound);

    // Missing and empty files are refused before they are opened.
    let moved = ca.path().join("moved.db");
    std::fs::rename(&path, &moved).unwrap();
    refused(check_sqlite_file(ca.path(), &path), "is missing");
    std::fs::File::create(&path).unwrap();
    refused(check_sqlite_file(ca.path(), &path), "is empty (0 bytes)");
    // A new ledger in its place has another id.
    std::fs::remove_file(&path).unwrap();
    refused(
        bind(ca.path(), Arc::new(SqliteStore::open(&path).unwrap())),
        "is not this CA's",
    );
    // The real one binds again; the next number is above the last one handed out.
    let back = bind(ca.path(), Arc::new(SqliteStore::open(&moved).unwrap())).unwrap();
    assert!(back.next_crl_number().unwrap() > n);
}

#[test]
fn a_damaged_state_file_refuses_to_bind() {
    let ca = tempfile::tempdir().unwrap();
    std::fs::write(ca.path().join(STATE_FILE), b"{ not json").unwrap();
    refused(
        bind(ca.path(), Arc::new(SqliteStore::in_memory().unwrap())),
        "unreadable CA state",
    );
}

#[test]
fn a_restored_backup_binds_only_through_restore_and_numbers_keep_rising() {
    let ca = tempfile::tempdir().unwrap();
    let path = ca.path().join("ledger.db");
    let bound = bind(ca.path(), Arc::new(SqliteStore::open(&path).unwrap())).unwrap();
    bound.record_cert(&plain_record("01")).unwrap();
    let backup = ca.path().join("backup.db");
    let live = SqliteStore::open(&path).unwrap();
    live.backup_to(&backup).unwrap();
    assert!(
        live.backup_to(&backup).is_err(),
        "a backup never overwrites"
    );
    drop(live);
    bound.record_cert(&plain_record("02")).unwrap();
    bound.revoke("01", "key_compromise", 5).unwrap();
    let mut highest = 0;
    for _ in 0..3 {
        highest = bound.next_crl_number().unwrap();
    }
    drop(bound);

    // The backup is older than the CA directory: bind refuses it.
    let restored_path = ca.path().join("restored.db");
    std::fs::copy(&backup, &restored_path).unwrap();
    refused(
        bind(
            ca.path(),
            Arc::new(SqliteStore::open(&restored_path).unwrap()),
        ),
        "is older than this CA",
    );
    // restore accepts it, through SQLite's backup API, and says what it lacks.
    let meta = SqliteStore::restore(&path, &backup).unwrap();
    assert_eq!(meta.issued, 1);
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let done = BoundLedger::restore(ca.path(), store.as_ref()).unwrap();
    assert_eq!((done.missing, done.missing_revocations), (1, 1));
    assert_eq!(done.crl_number, highest);
    let bound = bind(ca.path(), store).unwrap();
    assert_eq!(bound.next_crl_number().unwrap(), highest + 1);
    assert!(bound.cert("02").unwrap().is_none(), "the backup's content");

    // Restoring something that is not a ledger is refused and changes nothing.
    let junk = ca.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    assert!(SqliteStore::restore(&path, &junk).is_err());
    assert!(bound.cert("01").unwrap().is_some());
}

#[test]
fn restore_refuses_another_ledgers_backup() {
    let ca = tempfile::tempdir().unwrap();
    let bound = bind(ca.path(), Arc::new(SqliteStore::in_memory().unwrap())).unwrap();
    bound.record_cert(&plain_record("01")).unwrap();
    let other = SqliteStore::in_memory().unwrap();
    refused(
        BoundLedger::restore(ca.path(), &other),
        "not a backup of this CA's ledger",
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_postgres_ledger_keeps_its_id_and_counts_what_it_records() {
    let Some(url) = fresh_database() else { return };
    let store = meshtls_enroll::PostgresStore::connect(&url, 2).unwrap();
    check_meta(&store);
    let id = store.ledger_meta().unwrap().id;
    drop(store);
    // A second connect (another replica starting) keeps the id and the counter.
    let again = meshtls_enroll::PostgresStore::connect(&url, 1).unwrap();
    let meta = again.ledger_meta().unwrap();
    assert_eq!((meta.id, meta.issued), (id, 2));
}

#[cfg(feature = "postgres")]
#[test]
fn two_replicas_share_one_rising_crl_number_and_a_new_database_is_refused() {
    let Some(url) = fresh_database() else { return };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pg = || Arc::new(meshtls_enroll::PostgresStore::connect(&url, 2).unwrap());
    let ra = bind(a.path(), pg()).unwrap();
    let rb = bind(b.path(), pg()).unwrap();
    ra.record_cert(&plain_record("01")).unwrap();
    rb.record_cert(&plain_record("02")).unwrap();
    let mut last = 0;
    for i in 0..10 {
        let n = if i % 2 == 0 { &ra } else { &rb }
            .next_crl_number()
            .unwrap();
        assert!(n > last, "{n} after {last}");
        last = n;
    }
    // Each replica's directory remembers the ledger and the numbers it handed out.
    let sa = CaState::load(a.path()).unwrap().unwrap();
    let sb = CaState::load(b.path()).unwrap().unwrap();
    assert_eq!(sa.ledger_id, sb.ledger_id);
    assert_eq!(sa.highest_crl_number.max(sb.highest_crl_number), last);
    drop((ra, rb));
    // A replica pointed at a new, empty database refuses it.
    let Some(other) = fresh_database() else {
        return;
    };
    refused(
        bind(
            a.path(),
            Arc::new(meshtls_enroll::PostgresStore::connect(&other, 1).unwrap()),
        ),
        "is not this CA's",
    );
}

//! The CA service's ledger as the CLI opens it: where it is (`--db`), the start-up binding to
//! the CA directory (meshtls-enroll's `ledger` module decides), `admin backup` and
//! `admin restore`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use meshtls_core::ErrorCode;
use meshtls_enroll::ledger::{self, BoundLedger, LedgerError};
use meshtls_enroll::{SqliteStore, Store};
use serde::Serialize;

use crate::ca;
use crate::error::CliError;
use crate::output;

/// The ledger file in the CA directory when --db is not given.
pub const LEDGER_FILE: &str = "ledger.db";

/// Where a ledger is.
#[derive(Debug, Clone)]
pub enum Location {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

/// `--db` of the CA directory `ca`: `sqlite` (DIR/ledger.db), `sqlite:PATH` or a
/// postgres:// URL.
pub fn location(ca: &Path, db: &str) -> Result<Location, CliError> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return Ok(Location::Postgres(db.to_owned()));
    }
    match db.strip_prefix("sqlite:") {
        Some(p) => Ok(Location::Sqlite(PathBuf::from(p))),
        None if db == "sqlite" => Ok(Location::Sqlite(ca.join(LEDGER_FILE))),
        None => Err(CliError::invalid(format!(
            "--db: sqlite, sqlite:PATH or postgres://..., not {db:?}"
        ))),
    }
}

fn io_error(message: String) -> CliError {
    CliError::new(ErrorCode::Io, message)
}

fn ledger_error(e: LedgerError) -> CliError {
    match e {
        LedgerError::Refused(m) => CliError::ledger_refused(format!("refusing to start: {m}")),
        other => io_error(other.to_string()),
    }
}

fn open(at: &Location) -> Result<Arc<dyn Store>, CliError> {
    match at {
        Location::Postgres(url) => {
            let store = meshtls_enroll::PostgresStore::connect(url, 8)
                .map_err(|e| io_error(format!("{e}")))?;
            Ok(Arc::new(store))
        }
        Location::Sqlite(path) => {
            let store = SqliteStore::open(path)
                .map_err(|e| io_error(format!("{}: {e}", path.display())))?;
            Ok(Arc::new(store))
        }
    }
}

/// The ledger for `meshtls serve`, bound to the CA directory `ca`: refused (exit 6) when it is
/// missing, empty, another CA's or older than the directory remembers, for a CA that has
/// issued.
pub fn open_for_serve(ca: &Path, db: &str) -> Result<Arc<dyn Store>, CliError> {
    let at = location(ca, db)?;
    if let Location::Sqlite(path) = &at {
        // Before opening, which would create an empty ledger in place of a missing one.
        ledger::check_sqlite_file(ca, path).map_err(ledger_error)?;
    }
    let store = open(&at)?;
    let bound = BoundLedger::bind(ca, store).map_err(ledger_error)?;
    Ok(bound)
}

/// `admin backup`
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The CA directory whose ledger to copy.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// The ledger, as `meshtls serve --db` names it (default DIR/ledger.db).
    #[arg(long, value_name = "DB", default_value = "sqlite")]
    db: String,
    /// Where to write the snapshot (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// `admin restore`
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The CA directory whose ledger to bring back.
    #[arg(long, value_name = "DIR")]
    ca: PathBuf,
    /// The ledger, as `meshtls serve --db` names it (default DIR/ledger.db).
    #[arg(long, value_name = "DB", default_value = "sqlite")]
    db: String,
    /// The snapshot `admin backup` wrote (SQLite). Not with PostgreSQL: restore the database
    /// with pg_restore first, then run this without --from.
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct BackupOut {
    ok: bool,
    file: String,
    ledger_id: String,
    issued: u64,
    crl_number: u64,
}

#[derive(Debug, Serialize)]
struct RestoreOut {
    ok: bool,
    ledger_id: String,
    issued: u64,
    missing: u64,
    missing_revocations: u64,
    crl_number: u64,
}

/// PostgreSQL ledgers are backed up with PostgreSQL's own tools.
const PG_GUIDANCE: &str = "a PostgreSQL ledger is backed up with PostgreSQL's tools, not \
     meshtls: `pg_dump --format=custom --table='meshtls_*' --file=FILE URL` takes a consistent \
     snapshot while the service runs; to restore, stop every replica, `pg_restore --clean \
     --dbname=URL FILE`, then `meshtls admin restore --ca DIR --db URL` on each replica's CA \
     directory";

/// `admin backup`: a consistent snapshot of an SQLite ledger while the service runs.
pub fn backup(a: &BackupArgs, json: bool) -> Result<(), CliError> {
    ca::check_dir(&a.ca)?;
    let path = match location(&a.ca, &a.db)? {
        Location::Postgres(_) => {
            return Err(CliError::new(ErrorCode::Unsupported, PG_GUIDANCE));
        }
        Location::Sqlite(path) => path,
    };
    // Never create a ledger to back it up.
    match std::fs::metadata(&path) {
        Ok(m) if m.len() > 0 => {}
        Ok(_) => return Err(io_error("the ledger is empty (0 bytes)".into()).in_file(&path)),
        Err(e) => return Err(CliError::io(&path, &e)),
    }
    let store =
        SqliteStore::open(&path).map_err(|e| io_error(format!("{}: {e}", path.display())))?;
    let meta = store
        .ledger_meta()
        .map_err(|e| io_error(format!("{}: {e}", path.display())))?;
    store
        .backup_to(&a.out)
        .map_err(|e| io_error(e.to_string()))?;
    let out = BackupOut {
        ok: true,
        file: a.out.display().to_string(),
        ledger_id: meta.id,
        issued: meta.issued,
        crl_number: meta.crl_number,
    };
    output::emit(json, &out, || {
        format!(
            "backup of ledger {} ({} certificates, CRL number {}) written to {}\n",
            out.ledger_id, out.issued, out.crl_number, out.file
        )
    })
}

/// `admin restore`: bring a CA's ledger back from a backup (the service stopped); CRL numbers
/// keep rising.
pub fn restore(a: &RestoreArgs, json: bool) -> Result<(), CliError> {
    ca::check_dir(&a.ca)?;
    let at = location(&a.ca, &a.db)?;
    let store: Arc<dyn Store> = match (&at, &a.from) {
        (Location::Sqlite(path), Some(from)) => {
            std::fs::metadata(from).map_err(|e| CliError::io(from, &e))?;
            SqliteStore::restore(path, from).map_err(|e| io_error(e.to_string()))?;
            open(&at)?
        }
        (Location::Sqlite(_), None) => {
            return Err(CliError::invalid(
                "--from FILE: the backup to restore (made with `meshtls admin backup`)",
            ))
        }
        (Location::Postgres(_), Some(_)) => {
            return Err(CliError::new(ErrorCode::Unsupported, PG_GUIDANCE))
        }
        (Location::Postgres(_), None) => open(&at)?,
    };
    let done = BoundLedger::restore(&a.ca, store.as_ref()).map_err(|e| match e {
        LedgerError::Refused(m) => CliError::invalid(m),
        other => io_error(other.to_string()),
    })?;
    let out = RestoreOut {
        ok: true,
        ledger_id: done.ledger_id,
        issued: done.issued,
        missing: done.missing,
        missing_revocations: done.missing_revocations,
        crl_number: done.crl_number,
    };
    output::emit(json, &out, || {
        let mut s = format!(
            "restored ledger {} ({} certificates); the next CRL is numbered above {}\n",
            out.ledger_id, out.issued, out.crl_number
        );
        if out.missing > 0 || out.missing_revocations > 0 {
            s.push_str(&format!(
                "warning: {} certificates issued and {} revocations made after the backup are \
                 not in the ledger: repeat those revocations (`meshtls revoke`)\n",
                out.missing, out.missing_revocations
            ));
        }
        s
    })
}

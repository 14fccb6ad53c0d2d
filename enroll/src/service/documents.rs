//! What the service hands out to anyone: the trust bundle and the CRL (with entity tags), its
//! health and its metrics.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use hyper::{Request, StatusCode};
use meshtls_core::CrlParams;
use meshtls_core::{Error as CoreError, RevocationList, RevocationReason, Serial, Timestamp};

use super::http::{blocking, respond, ApiError, HttpResponse};
use super::{now, State, CRL_REFRESH};
use sha2::{Digest, Sha256};

pub(super) struct CachedCrl {
    pub(super) revocations: u64,
    pub(super) built_at: Timestamp,
    pub(super) crl: Document,
}

/// A PEM document the service hands out, with its entity tag: clients that send it back in
/// `If-None-Match` get `304 Not Modified` instead of the body (a CRL can be megabytes).
#[derive(Clone)]
pub(super) struct Document {
    pub(super) pem: Arc<str>,
    pub(super) etag: String,
}

impl Document {
    pub(super) fn new(pem: impl Into<Arc<str>>) -> Self {
        let pem = pem.into();
        let etag = etag_of(&[pem.as_bytes()]);
        Document { pem, etag }
    }
}

/// A strong entity tag: the first 128 bits of SHA-256 over `parts`, quoted.
pub(super) fn etag_of(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    format!("\"{}\"", hex::encode(&h.finalize()[..16]))
}

/// When a file was last seen changed: modification time and length.
pub(super) type FileStamp = (Option<SystemTime>, u64);

/// Another CA's CRL file, served with ours; re-read when it changes.
pub(super) struct ExtraCrl {
    path: PathBuf,
    cached: Mutex<(FileStamp, Document)>,
}

impl ExtraCrl {
    pub(super) fn open(path: PathBuf) -> Result<Self, CoreError> {
        let (stamp, pem) = Self::read(&path)?;
        Ok(ExtraCrl {
            path,
            cached: Mutex::new((stamp, pem)),
        })
    }

    /// The file's CRLs, checked by the core and written out again as PEM.
    fn read(path: &Path) -> Result<(FileStamp, Document), CoreError> {
        let io = |e: io::Error| {
            CoreError::new(
                meshtls_core::ErrorCode::Io,
                format!("{}: {e}", path.display()),
            )
        };
        let stamp = stamp(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let mut pem = String::new();
        for der in meshtls_core::encoding::parse_crls(&bytes)? {
            let crl = meshtls_core::Crl::from_pem_or_der(&der)?;
            pem.push_str(&crl.to_pem());
        }
        Ok((stamp, Document::new(pem)))
    }

    /// The current PEM: the file again if it changed and still parses, else the last good one.
    fn current(&self) -> Document {
        let mut cached = match self.cached.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        if stamp(&self.path).ok() != Some(cached.0) {
            if let Ok(fresh) = Self::read(&self.path) {
                *cached = fresh;
            }
        }
        cached.1.clone()
    }
}

pub(super) fn stamp(path: &Path) -> io::Result<FileStamp> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.modified().ok(), meta.len()))
}
/// `GET /healthz`: ready when the ledger answers and the CRL can be built (a service that
/// cannot serve its CRL leaves every node failing closed: not ready, 503 with the reason).
pub(super) async fn healthz(state: &Arc<State>) -> Result<HttpResponse, ApiError> {
    let state = state.clone();
    blocking(move || {
        state.store.ping()?;
        current_crl(&state).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                format!("the CRL cannot be built: {}: {}", e.code, e.message),
            )
        })?;
        Ok(())
    })
    .await?;
    Ok(respond(
        StatusCode::OK,
        "application/json",
        r#"{"status":"ok"}"#,
    ))
}

pub(super) async fn metrics(state: &Arc<State>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let earliest = blocking(move || Ok(store.earliest_expiry(now().unix())?)).await?;
    Ok(respond(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.metrics.render(earliest),
    ))
}

/// The cached CRL, rebuilt when the ledger's revocation count changed (on any replica) or
/// it is a day old.
pub(super) fn current_crl(state: &State) -> Result<Document, ApiError> {
    let at = now();
    let count = state.store.revocation_count()?;
    let mut cache = match state.crl.lock() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    if let Some(c) = cache.as_ref() {
        if c.revocations == count && at.since(c.built_at) < CRL_REFRESH {
            return Ok(c.crl.clone());
        }
    }
    let revocations = state.store.revocations()?;
    let count = u64::try_from(revocations.len()).unwrap_or(u64::MAX);
    let mut list = revocation_list(&revocations)?;
    for e in state.offline_revocations.entries() {
        list.revoke(e.serial.clone(), e.reason, e.revoked_at)?;
    }
    let number = state.store.next_crl_number()?;
    let crl = state
        .authority
        .build_crl(&list, &CrlParams::new(number, at))?;
    let crl = Document::new(crl.to_pem());
    *cache = Some(CachedCrl {
        revocations: count,
        built_at: at,
        crl: crl.clone(),
    });
    Ok(crl)
}

/// The core's revocation list from ledger rows.
pub fn revocation_list(rows: &[crate::store::Revocation]) -> Result<RevocationList, CoreError> {
    let mut list = RevocationList::new();
    for r in rows {
        let reason = r.reason.parse::<RevocationReason>().unwrap_or_default();
        list.revoke(
            Serial::from_hex(&r.serial)?,
            reason,
            Timestamp::from_unix(r.revoked_at),
        )?;
    }
    Ok(list)
}

/// `GET /v1/crl`: this CA's CRL, then the `--crl-extra` ones; one entity tag for them all.
pub(super) async fn crl(
    state: &Arc<State>,
    req: &Request<Incoming>,
) -> Result<HttpResponse, ApiError> {
    let state = state.clone();
    let doc = blocking(move || {
        let ours = current_crl(&state)?;
        if state.extra_crls.is_empty() {
            return Ok(ours);
        }
        let mut parts = vec![ours];
        parts.extend(state.extra_crls.iter().map(ExtraCrl::current));
        let tags: Vec<&[u8]> = parts.iter().map(|d| d.etag.as_bytes()).collect();
        let etag = etag_of(&tags);
        let pem: String = parts.iter().map(|d| &*d.pem).collect();
        Ok(Document {
            pem: pem.into(),
            etag,
        })
    })
    .await?;
    Ok(document(req, &doc))
}

/// A PEM document, or `304 Not Modified` when the request's `If-None-Match` names its tag.
pub(super) fn document(req: &Request<Incoming>, doc: &Document) -> HttpResponse {
    let matches = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == doc.etag || t == "*");
    let mut r = if matches {
        respond(
            StatusCode::NOT_MODIFIED,
            "application/x-pem-file",
            Bytes::new(),
        )
    } else {
        let pem: Arc<[u8]> = Arc::from(doc.pem.clone());
        respond(
            StatusCode::OK,
            "application/x-pem-file",
            Bytes::from_owner(pem),
        )
    };
    if let Ok(tag) = HeaderValue::from_str(&doc.etag) {
        r.headers_mut().insert(ETAG, tag);
    }
    // Caches may keep it but must ask again each time: a revocation changes it at once.
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

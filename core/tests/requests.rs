//! The shared issuance vectors (`fixtures/requests.json`, written by
//! `examples/make_request_fixtures.rs`): the core must reach the committed verdict for every
//! case, replayed in the order the file's schema describes. Every binding replays the same file.

use std::path::PathBuf;
use std::time::Duration;

use meshtls_core::{
    parse_ip, Authority, Grant, IdPattern, IssueRequest, KeySource, Reserved, RootParams, SpiffeId,
    Timestamp, TrustDomain,
};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

fn replay(case: &Value, now: Timestamp) -> meshtls_core::error::Result<()> {
    let td = TrustDomain::new(case["trust_domain"].as_str().unwrap())?;
    let ca = Authority::create_root(&RootParams::new(td), now)?;
    let id = case["id"].as_str().map(SpiffeId::parse).transpose()?;
    let mut req = match (case["csr"].as_str(), id) {
        (Some(path), id) => {
            let csr = std::fs::read(dir().join(path)).unwrap();
            IssueRequest::from_csr_with_id(&csr, id.as_ref())?
        }
        (None, Some(id)) => IssueRequest::new(id),
        (None, None) => panic!("a case needs an id or a csr"),
    };
    req = req.with_dns(strings(&case["dns"]));
    let ips = strings(&case["ips"])
        .iter()
        .map(|s| parse_ip(s))
        .collect::<meshtls_core::error::Result<Vec<_>>>()?;
    req = req.with_ips(ips);
    if let Some(u) = case["usage"].as_str() {
        req = req.with_usage(u.parse()?);
    }
    if let Some(s) = case["lifetime_seconds"].as_u64() {
        req = req.with_lifetime(Duration::from_secs(s));
    }
    if let Some(k) = case["key"].as_str() {
        req = req.with_key(KeySource::Generate(k.parse()?));
    }
    let Some(g) = case.get("grant") else {
        return ca.issue(&req, now).map(|_| ());
    };
    let ids = IdPattern::parse(g["ids"].as_str().unwrap())?;
    let mut grant = match g["kind"].as_str().unwrap() {
        "join_token" => Grant::join_token(ids, &strings(&g["dns"]))?,
        "administrator" => {
            let grant = Grant::administrator(ids);
            match g.get("dns") {
                Some(dns) => grant.with_dns(&strings(dns))?,
                None => grant,
            }
        }
        other => panic!("grant kind {other}"),
    };
    if let Some(ips) = g.get("ips") {
        let ips = strings(ips)
            .iter()
            .map(|s| parse_ip(s))
            .collect::<meshtls_core::error::Result<Vec<_>>>()?;
        grant = grant.with_ips(ips);
    }
    if let Some(u) = g["usage"].as_str() {
        grant = grant.with_usage(u.parse()?);
    }
    if let Some(s) = g["max_lifetime_seconds"].as_u64() {
        grant = grant.with_max_lifetime(Duration::from_secs(s))?;
    }
    let mut reserved: Reserved = ca.reserved();
    for a in strings(&case["admins"]) {
        reserved = reserved.with_admin(IdPattern::parse(&a)?);
    }
    ca.issue_granted(&req, &grant, &reserved, now).map(|_| ())
}

#[test]
fn every_request_gets_its_committed_verdict() {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir().join("requests.json")).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 60);
    let now = Timestamp::from_unix(1_790_000_000);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let got = match replay(case, now) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.code().as_str().to_owned(),
        };
        if got != expect {
            let why = replay(case, now).err().map(|e| e.to_string());
            failures.push(format!("{name}: expected {expect}, got {got} ({why:?})"));
        }
    }
    println!("requests.json: {} cases replayed", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Issuance against its floor (one P-256 keygen + one signature over a leaf-sized TBS) in
//! interleaved batches, each timed in this thread's CPU time, so that other load on the
//! machine disturbs both sides alike. Linux only (`/proc/thread-self/schedstat`).
//!
//! ```sh
//! cargo bench -p meshtls-core --bench issue_cpu
//! ```

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair};
use meshtls_core::{
    Authority, IntermediateParams, IssueRequest, RootParams, SpiffeId, Timestamp, TrustDomain,
};

fn cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let now = Timestamp::from_unix(1_780_000_000);
    let td = TrustDomain::new("mesh.internal").unwrap();
    let root =
        Authority::create_root(&RootParams::new(td), now.sub(Duration::from_secs(86_400))).unwrap();
    let ca = root
        .create_intermediate(&IntermediateParams::new(), now)
        .unwrap();
    let req =
        IssueRequest::new(SpiffeId::parse("spiffe://mesh.internal/service/user-svc").unwrap());
    let rng = SystemRandom::new();
    let ca_key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let tbs = vec![0x5au8; 420];
    let (mut a, mut b) = (0u64, 0u64);
    let n: u32 = 200;
    for round in 0..40 {
        let t = cpu_ns();
        for _ in 0..n {
            black_box(ca.issue(&req, now).unwrap());
        }
        let t2 = cpu_ns();
        for _ in 0..n {
            let k = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
            black_box(k);
            black_box(ca_key.sign(&rng, &tbs).unwrap());
        }
        let t3 = cpu_ns();
        if round >= 5 {
            a += t2 - t;
            b += t3 - t2;
        }
    }
    let per = |x: u64| x as f64 / (35.0 * f64::from(n)) / 1e3;
    println!(
        "issue (generated P-256 key) {:.2} µs, keygen + sign {:.2} µs: ratio {:.3} \
         (CPU time, 35 interleaved batches of {n} after 5 warm-up batches)",
        per(a),
        per(b),
        a as f64 / b as f64
    );
}

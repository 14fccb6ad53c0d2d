//! Criterion benchmarks of the core, each next to the baseline its target is measured against.
//!
//! Run: `cargo bench -p meshtls-core --bench core`

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};
use criterion::{criterion_group, criterion_main, Criterion};
use meshtls_core::{
    create_csr, Authority, CrlParams, IdPattern, IntermediateParams, IssueRequest, KeyAlgorithm,
    PeerUsage, Policy, RevocationList, RevocationReason, RootParams, Serial, SpiffeId, Timestamp,
    TrustBundle, TrustDomain, Verifier,
};

const NOW: Timestamp = Timestamp::from_unix(1_790_000_000);

fn setup() -> (Authority, Authority) {
    let td = TrustDomain::new("mesh.internal").unwrap();
    let root =
        Authority::create_root(&RootParams::new(td), NOW.sub(Duration::from_secs(86_400))).unwrap();
    let inter = root
        .create_intermediate(&IntermediateParams::new(), NOW)
        .unwrap();
    (root, inter)
}

fn issuance(c: &mut Criterion) {
    let (_, ca) = setup();
    let id = SpiffeId::parse("spiffe://mesh.internal/service/user-svc").unwrap();
    let req = IssueRequest::new(id.clone());
    let mut g = c.benchmark_group("issue");
    g.bench_function("generated_p256_key", |b| {
        b.iter(|| black_box(ca.issue(&req, NOW).unwrap()))
    });
    let csr = create_csr(&id, &[], KeyAlgorithm::EcdsaP256).unwrap();
    let csr_req = IssueRequest::from_csr(&csr.csr_der).unwrap();
    g.bench_function("from_csr", |b| {
        b.iter(|| black_box(ca.issue(&csr_req, NOW).unwrap()))
    });

    // Baselines: the cryptography alone, on a message the size of a leaf's TBS.
    let rng = SystemRandom::new();
    let ca_key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let tbs = vec![0x5a_u8; 420];
    g.bench_function("baseline_p256_keygen_plus_sign", |b| {
        b.iter(|| {
            let k = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
            black_box(k.public_key());
            black_box(ca_key.sign(&rng, &tbs).unwrap())
        })
    });
    let sig = ca_key.sign(&rng, &tbs).unwrap();
    let pk = UnparsedPublicKey::new(
        &signature::ECDSA_P256_SHA256_ASN1,
        ca_key.public_key().as_ref().to_vec(),
    );
    g.bench_function("baseline_p256_sign_plus_verify", |b| {
        b.iter(|| {
            black_box(ca_key.sign(&rng, &tbs).unwrap());
            pk.verify(&tbs, sig.as_ref()).unwrap();
        })
    });
    g.finish();
}

fn verification(c: &mut Criterion) {
    let (root, inter) = setup();
    let id = SpiffeId::parse("spiffe://mesh.internal/service/user-svc").unwrap();
    let leaf = inter.issue(&IssueRequest::new(id), NOW).unwrap();
    let bundle = TrustBundle::from_pem(root.root_pem().as_bytes()).unwrap();
    let policy = Policy::builder()
        .allow_pattern(IdPattern::parse("spiffe://mesh.internal/service/*").unwrap())
        .build()
        .unwrap();
    let verifier = Verifier::new(bundle, policy);
    let mut g = c.benchmark_group("verify");
    g.bench_function("leaf_intermediate_root_client_spiffe_policy", |b| {
        b.iter(|| {
            black_box(
                verifier
                    .verify(&leaf.chain_der, PeerUsage::Client, NOW)
                    .unwrap(),
            )
        })
    });

    // Baseline: the two P-256 signature checks of that path, nothing else.
    let rng = SystemRandom::new();
    let k1 = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let k2 = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let m1 = vec![1u8; 420];
    let m2 = vec![2u8; 420];
    let s1 = k1.sign(&rng, &m1).unwrap();
    let s2 = k2.sign(&rng, &m2).unwrap();
    let p1 = k1.public_key().as_ref().to_vec();
    let p2 = k2.public_key().as_ref().to_vec();
    g.bench_function("baseline_two_p256_verifies", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &p1)
                .verify(&m1, s1.as_ref())
                .unwrap();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &p2)
                .verify(&m2, s2.as_ref())
                .unwrap();
        })
    });
    g.finish();
}

fn serial(i: u32) -> Serial {
    let mut b = [0x11u8; 16];
    b[12..].copy_from_slice(&i.to_be_bytes());
    Serial::from_bytes(&b)
}

fn crls(c: &mut Criterion) {
    let (root, _) = setup();
    let mut records = RevocationList::new();
    for i in 0..100_000u32 {
        records
            .revoke(serial(i), RevocationReason::KeyCompromise, NOW)
            .unwrap();
    }
    let mut g = c.benchmark_group("crl");
    g.sample_size(10);
    g.bench_function("build_100k_entries", |b| {
        b.iter(|| black_box(root.build_crl(&records, &CrlParams::new(1, NOW)).unwrap()))
    });
    let crl = root.build_crl(&records, &CrlParams::new(1, NOW)).unwrap();
    drop(g);
    let mut g = c.benchmark_group("crl");
    let hit = serial(77_777);
    let miss = serial(200_000);
    g.bench_function("lookup_hit_100k", |b| {
        b.iter(|| black_box(crl.lookup(&hit).unwrap().is_some()))
    });
    g.bench_function("lookup_miss_100k", |b| {
        b.iter(|| black_box(crl.lookup(&miss).unwrap().is_none()))
    });
    // The same lookup in a CRL of 1,000 entries: O(log n) shows as a small difference.
    let mut small = RevocationList::new();
    for i in 0..1_000u32 {
        small
            .revoke(serial(i), RevocationReason::KeyCompromise, NOW)
            .unwrap();
    }
    let small_crl = root.build_crl(&small, &CrlParams::new(1, NOW)).unwrap();
    let hit_small = serial(777);
    g.bench_function("lookup_hit_1k", |b| {
        b.iter(|| black_box(small_crl.lookup(&hit_small).unwrap().is_some()))
    });
    g.finish();
}

criterion_group!(benches, issuance, verification, crls);
criterion_main!(benches);

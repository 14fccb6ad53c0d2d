"""meshtls vs pyca/cryptography on the same work, in one run.

    python bench/bench.py [--seconds 2]

1. Issue a leaf: generate an ECDSA P-256 key, build an X.509 SVID (SPIFFE URI SAN, DNS SAN,
   EKU client+server, KU, SKI/AKI) and sign it with a P-256 CA key.
2. Verify a chain as a server does per handshake: load leaf + intermediate from DER, verify
   the path to a trusted root for a client at a fixed time, check the SPIFFE ID (meshtls: its
   policy; cryptography, which has no SPIFFE policy: the one URI SAN against the pattern).

Both libraries run their Rust/C code with the GIL released (meshtls) or held (cryptography);
this is single-threaded throughput. Build meshtls in release first
(`maturin build --release` + `pip install` the wheel), or the comparison is meaningless.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
from typing import Callable, Tuple

import meshtls
from cryptography import __version__ as crypto_version
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

TD = "mesh.internal"
ID = f"spiffe://{TD}/service/api"


def rate(fn: Callable[[], object], seconds: float) -> Tuple[float, int]:
    fn()  # warm up
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed, n


# ---- cryptography -------------------------------------------------------------------------
def crypto_ca(now: dt.datetime, issuer=None, issuer_key=None, name: str = "root"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{TD} {name}")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"spiffe://{TD}")]), False
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    return builder.sign(issuer_key or key, hashes.SHA256()), key


def crypto_issue(ca_cert, ca_key, now: dt.datetime):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), True
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(ID), x509.DNSName("api.mesh.internal")]
            ),
            False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    # Like meshtls, hand back PEM for the certificate and the PKCS#8 key.
    return cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args()
    now = dt.datetime.now(dt.timezone.utc)

    # meshtls: root -> intermediate -> leaf
    root = meshtls.Authority.create_root(TD, now=now)
    inter = root.create_intermediate(now=now)
    m_leaf = inter.issue(ID, dns_names=["api.mesh.internal"], now=now)
    m_verifier = meshtls.Verifier(root.root_pem, meshtls.Policy(patterns=[f"spiffe://{TD}/service/*"]))
    m_chain = m_leaf.chain_der
    assert m_verifier.verify(m_chain, usage="client", at=now).spiffe_id == ID

    # cryptography: the same shape
    c_root, c_root_key = crypto_ca(now)
    c_inter, c_inter_key = crypto_ca(now, c_root, c_root_key, "intermediate")
    c_leaf_pem, _ = crypto_issue(c_inter, c_inter_key, now)
    c_leaf = x509.load_pem_x509_certificate(c_leaf_pem)
    c_verifier = PolicyBuilder().store(Store([c_root])).time(now).build_client_verifier()
    c_verifier.verify(c_leaf, [c_inter])
    c_chain = [c_leaf.public_bytes(serialization.Encoding.DER), c_inter.public_bytes(serialization.Encoding.DER)]

    def c_verify_like_a_server():
        # What meshtls does per handshake: load the presented DER, verify the path for a
        # client, then check the SPIFFE ID (cryptography has no SPIFFE policy of its own).
        leaf = x509.load_der_x509_certificate(c_chain[0])
        inter = x509.load_der_x509_certificate(c_chain[1])
        c_verifier.verify(leaf, [inter])
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        if len(uris) != 1 or not uris[0].startswith(f"spiffe://{TD}/service/"):
            raise AssertionError("identity")

    rows = [
        ("issue P-256 leaf", "meshtls", rate(lambda: inter.issue(ID, dns_names=["api.mesh.internal"], now=now), args.seconds)),
        ("issue P-256 leaf", "cryptography", rate(lambda: crypto_issue(c_inter, c_inter_key, now), args.seconds)),
        ("verify leaf+intermediate", "meshtls", rate(lambda: m_verifier.verify(m_chain, usage="client", at=now), args.seconds)),
        ("verify leaf+intermediate", "cryptography", rate(c_verify_like_a_server, args.seconds)),
    ]
    print(f"python {platform.python_version()}, meshtls {meshtls.__version__}, cryptography {crypto_version}, {platform.machine()}")
    print(f"{'operation':<26}{'library':<14}{'ops/s':>10}{'us/op':>10}")
    for op, lib, (per_s, _) in rows:
        print(f"{op:<26}{lib:<14}{per_s:>10.0f}{1e6 / per_s:>10.1f}")


if __name__ == "__main__":
    main()

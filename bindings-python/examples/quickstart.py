"""A CA, a workload certificate, and the core's verdict on it."""

import datetime as dt

import meshtls

ca = meshtls.Authority.create_root("mesh.internal")
issued = ca.issue("spiffe://mesh.internal/service/api", dns_names=["api.mesh.internal"])

verifier = meshtls.Verifier(
    meshtls.TrustBundle(ca.root_pem),
    meshtls.Policy(patterns=["spiffe://mesh.internal/service/*"]),
)
peer = verifier.verify(issued.chain_pem, usage="client")  # str PEM, bytes DER or a list
print(peer.spiffe_id, peer.serial, peer.not_after)

try:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365)
    verifier.verify(issued.chain_pem, at=later)
except meshtls.VerificationError as e:
    print("rejected:", e.code)  # "expired": the same code in every meshtls language

# Keep the CA: the key is encrypted at rest (scrypt + AES-256).
chain_pem, key_pem = ca.to_pem(passphrase="correct horse battery staple")
ca = meshtls.Authority.load(chain_pem, key_pem, "correct horse battery staple")

# Revoke, publish a CRL, and verifiers holding it reject the certificate.
revocations = meshtls.RevocationList()
revocations.revoke(issued, "key_compromise")
bundle = meshtls.TrustBundle(ca.root_pem)
bundle.add_crl(ca.build_crl(revocations, number=1))
try:
    meshtls.Verifier(bundle, meshtls.Policy.allow_any()).verify(issued.chain_pem)
except meshtls.VerificationError as e:
    print("rejected:", e.code)  # "revoked"

# When to renew (2/3 of the lifetime with jitter by default), and a PKCS#12 for other stacks.
print(meshtls.RotationPolicy().status(issued).state)  # "fresh"
pfx = issued.to_pkcs12("export password")

"""The Python API end to end: CA, issuance, verification, CSRs, revocation, rotation, PKCS#12."""

from __future__ import annotations

import datetime as dt

import pytest

import meshtls
from _support import TD, issue_identity, utc, verifier_for

API = f"spiffe://{TD}/service/api"


def test_issue_and_verify_end_to_end(ca: meshtls.Authority) -> None:
    issued = ca.issue(API, dns_names=["api.mesh.internal"], ip_addresses=["127.0.0.1"])
    assert issued.key_pem and issued.key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert issued.chain_pem.startswith(issued.cert_pem)
    assert len(issued.fingerprint_sha256) == 64
    assert issued.not_after - issued.not_before >= dt.timedelta(days=90)
    assert issued.not_before.tzinfo is not None
    cert = issued.certificate
    assert cert.spiffe_id == API
    assert cert.dns_names == ["api.mesh.internal"]
    assert cert.ip_addresses == ["127.0.0.1"]
    assert cert.client_auth and cert.server_auth and not cert.is_ca
    assert cert == meshtls.Certificate(issued.cert_der) == meshtls.Certificate(issued.cert_pem)

    verifier = meshtls.Verifier(ca.root_pem, meshtls.Policy(ids=[API]))
    for chain in (issued.chain_pem, issued.chain_pem.encode(), issued.chain_der, issued.cert_der):
        peer = verifier.verify(chain, usage="client")
        assert peer.spiffe_id == API
        assert peer.serial == issued.serial
        assert peer.fingerprint_sha256 == issued.fingerprint_sha256
        assert peer.dns_names == ["api.mesh.internal"]
        assert "root CA" in peer.anchor_subject


def test_intermediate_chain_and_usage(ca: meshtls.Authority) -> None:
    inter = ca.create_intermediate(common_name="mesh issuing CA")
    assert not inter.is_root and inter.trust_domain == TD
    assert inter.certificate.path_len == 0
    server = inter.issue(API, usage="server", lifetime=dt.timedelta(hours=1))
    assert len(server.chain_der) == 2
    verifier = verifier_for(ca)
    assert verifier.verify(server.chain_pem, usage="server").spiffe_id == API
    with pytest.raises(meshtls.VerificationError) as e:
        verifier.verify(server.chain_pem, usage="client")
    assert e.value.code == "wrong_usage"
    with pytest.raises(meshtls.VerificationError) as e:
        verifier.verify(server.cert_pem, usage="server")  # intermediate missing
    assert e.value.code == "unknown_issuer"


def test_time_is_an_argument(ca: meshtls.Authority) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    issued = ca.issue(API, lifetime=dt.timedelta(minutes=5), now=now)
    verifier = verifier_for(ca)
    verifier.verify(issued.chain_pem, at=now + dt.timedelta(minutes=1))
    with pytest.raises(meshtls.VerificationError) as e:
        verifier.verify(issued.chain_pem, at=now + dt.timedelta(hours=1))
    assert e.value.code == "expired"
    with pytest.raises(meshtls.VerificationError) as e:
        verifier.verify(issued.chain_pem, at=now - dt.timedelta(hours=1))
    assert e.value.code == "not_yet_valid"
    # Any timezone works; naive datetimes are refused rather than guessed.
    verifier.verify(issued.chain_pem, at=now.astimezone(dt.timezone(dt.timedelta(hours=-5))))
    with pytest.raises(ValueError):
        verifier.verify(issued.chain_pem, at=dt.datetime.now())
    with pytest.raises(TypeError):
        verifier.verify(issued.chain_pem, at=1767225600)


def test_save_and_load_authority(ca: meshtls.Authority) -> None:
    chain, key = ca.to_pem("correct horse")
    assert "ENCRYPTED PRIVATE KEY" in key
    again = meshtls.Authority.load(chain, key, "correct horse")
    assert again.certificate == ca.certificate
    leaf = again.issue(API)
    verifier_for(ca).verify(leaf.chain_pem)
    chain, plain = ca.to_pem()
    assert "BEGIN PRIVATE KEY" in plain
    assert meshtls.Authority.load(chain.encode(), plain.encode()).serial == ca.serial
    other = meshtls.Authority.create_root(TD)
    with pytest.raises(meshtls.InvalidRequest):
        meshtls.Authority.load(chain, other.to_pem()[1])  # key of another CA


def test_issue_from_csr_keeps_the_key_with_the_requester(ca: meshtls.Authority) -> None:
    csr = meshtls.create_csr(API, ["api.mesh.internal"])
    assert "CERTIFICATE REQUEST" in csr.csr_pem
    issued = ca.issue(csr=csr.csr_pem)
    assert issued.key_pem is None and issued.key_der is None
    assert issued.certificate.spiffe_id == API
    identity = meshtls.Identity(issued.chain_pem, csr.key_pem)
    assert identity.leaf.serial == issued.serial
    issued_der = ca.issue(csr=csr.csr_der)
    assert issued_der.certificate.spiffe_id == API
    with pytest.raises(meshtls.InvalidRequest):
        issued.to_pkcs12("pw")  # no key to export
    with pytest.raises(meshtls.InvalidRequest):
        meshtls.Identity(issued)  # no generated key
    # An explicit ID must be the CSR's: then it is the same request; another is refused.
    assert ca.issue(API, csr=csr.csr_pem).certificate.spiffe_id == API
    with pytest.raises(meshtls.InvalidRequest):
        ca.issue(f"spiffe://{TD}/service/other", csr=csr.csr_pem)
    with pytest.raises(TypeError):
        ca.issue()
    with pytest.raises(meshtls.MalformedInput):
        ca.issue(csr="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")


def test_pkcs12_round_trip(ca: meshtls.Authority) -> None:
    issued = ca.issue(API)
    for legacy in (False, True):
        pfx = issued.to_pkcs12("s3cret", legacy=legacy)
        key, chain = meshtls.read_pkcs12(pfx, "s3cret")
        assert chain[0] == issued.cert_der
        assert key == issued.key_der
        with pytest.raises(meshtls.WrongPassphrase):
            meshtls.read_pkcs12(pfx, "wrong")


def test_revocation_and_crl(ca: meshtls.Authority) -> None:
    good, bad = ca.issue(API), ca.issue(API)
    records = meshtls.RevocationList()
    assert records.revoke(bad, "key_compromise")
    assert not records.revoke(bad.serial)  # already revoked
    assert bad.serial in records and good.serial not in records
    assert records.get(bad).reason == "key_compromise"
    assert len(records) == 1
    text = records.to_text()
    assert meshtls.RevocationList.from_text(text).get(bad.serial).reason == "key_compromise"

    crl = ca.build_crl(records, 1)
    assert crl.number == 1 and crl.revoked_count == 1
    assert crl.lookup(bad.serial) is not None and crl.lookup(good.serial) is None
    assert not crl.is_stale()
    assert crl.is_stale(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))
    assert meshtls.Crl(crl.pem).number == meshtls.Crl(crl.der).number == 1

    bundle = meshtls.TrustBundle(ca.root_pem)
    bundle.add_crl(crl)
    verifier = meshtls.Verifier(bundle, meshtls.Policy(trust_domains=[TD]))
    verifier.verify(good.chain_pem)
    with pytest.raises(meshtls.VerificationError) as e:
        verifier.verify(bad.chain_pem)
    assert e.value.code == "revoked"
    with pytest.raises(meshtls.InvalidRequest):
        records.revoke(good, "not-a-reason")
    # A time no CRL can carry is refused by the core, and nothing is recorded.
    for at in (
        dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),
        dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc),
    ):
        with pytest.raises(meshtls.InvalidRequest) as e:
            records.revoke(good, "key_compromise", at)
        assert e.value.code == "invalid_request"
    assert len(records) == 1


def test_stale_crl_fails_closed(ca: meshtls.Authority) -> None:
    leaf = ca.issue(API)
    now = dt.datetime.now(dt.timezone.utc)
    crl = ca.build_crl(meshtls.RevocationList(), 2, now=now, next_update=now + dt.timedelta(hours=1))
    bundle = meshtls.TrustBundle(ca.root_pem)
    bundle.add_crl(crl.der)
    verifier = meshtls.Verifier(bundle, meshtls.Policy.allow_any())
    with pytest.raises(meshtls.VerificationError) as e:
        verifier.verify(leaf.chain_pem, at=now + dt.timedelta(days=2))
    assert e.value.code == "crl_expired"
    lenient = meshtls.Verifier(bundle, meshtls.Policy.allow_any(), reject_stale_crl=False)
    lenient.verify(leaf.chain_pem, at=now + dt.timedelta(days=2))


def test_policies(ca: meshtls.Authority) -> None:
    api = ca.issue(API, dns_names=["api.mesh.internal"])
    web = ca.issue(f"spiffe://{TD}/web/frontend")
    bundle = meshtls.TrustBundle(ca.root_pem)

    def verdict(policy: meshtls.Policy, issued: meshtls.Issued) -> str:
        try:
            meshtls.Verifier(bundle, policy).verify(issued.chain_pem)
            return "ok"
        except meshtls.VerificationError as e:
            return e.code

    assert verdict(meshtls.Policy(patterns=[f"spiffe://{TD}/service/*"]), api) == "ok"
    assert verdict(meshtls.Policy(patterns=[f"spiffe://{TD}/service/*"]), web) == "identity_not_allowed"
    assert verdict(meshtls.Policy(dns_names=["api.mesh.internal"]), api) == "ok"
    assert verdict(meshtls.Policy(trust_domains=["other.internal"]), api) == "identity_not_allowed"
    assert verdict(meshtls.Policy(cert_pins=[api.fingerprint_sha256]), api) == "ok"
    assert verdict(meshtls.Policy(cert_pins=[api.fingerprint_sha256]), web) == "not_pinned"
    spki = api.certificate.spki_fingerprint_sha256
    assert verdict(meshtls.Policy(allow_any=True, spki_pins=[spki]), api) == "ok"
    assert verdict(meshtls.Policy.allow_any(), web) == "ok"
    with pytest.raises(meshtls.InvalidRequest) as e:
        meshtls.Policy()  # allows nobody: refused, never "allow all"
    assert e.value.code == "invalid_request"
    with pytest.raises(meshtls.MalformedInput):
        meshtls.Policy(ids=["https://not-spiffe"])


def test_rogue_ca_with_the_same_name_is_rejected(ca: meshtls.Authority, rogue_ca: meshtls.Authority) -> None:
    rogue = rogue_ca.issue(API)
    with pytest.raises(meshtls.VerificationError) as e:
        verifier_for(ca).verify(rogue.chain_pem)
    assert e.value.code in ("unknown_issuer", "bad_signature")


def test_trust_bundle_rotation(ca: meshtls.Authority) -> None:
    new_ca = meshtls.Authority.create_root(TD)
    old_bundle = meshtls.TrustBundle(ca.root_pem)
    both = old_bundle.merged(meshtls.TrustBundle(new_ca.root_pem))
    assert len(both) == 2
    leaf = new_ca.issue(API)
    meshtls.Verifier(both, meshtls.Policy.allow_any()).verify(leaf.chain_pem)
    assert both.remove_ca(ca.certificate.fingerprint_sha256)
    assert not both.remove_ca(ca.certificate.fingerprint_sha256)
    assert [c.fingerprint_sha256 for c in both.cas] == [new_ca.certificate.fingerprint_sha256]
    assert both.prune_expired(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365 * 20)) == 1
    assert len(both) == 0
    with pytest.raises(meshtls.InvalidRequest):
        meshtls.TrustBundle(leaf.cert_pem)  # a leaf is not a CA


def test_trust_is_the_verifier_of_the_moment(ca: meshtls.Authority) -> None:
    good, bad = ca.issue(API), ca.issue(API)
    policy = meshtls.Policy(trust_domains=[TD])
    trust = meshtls.Trust(meshtls.Verifier(ca.root_pem, policy))
    assert trust.generation == 0 and len(trust.bundle) == 1 and trust.ca_pem == ca.root_pem
    snapshot = trust.verifier()
    assert trust.verify(bad.chain_pem).serial == bad.serial

    records = meshtls.RevocationList()
    records.revoke(bad)
    bundle = meshtls.TrustBundle(ca.root_pem)
    bundle.add_crl(ca.build_crl(records, 1))
    trust.replace(meshtls.Verifier(bundle, policy))
    assert trust.generation == 1 and len(trust.bundle.crls) == 1
    assert trust.verify(good.chain_pem, usage="client").serial == good.serial
    with pytest.raises(meshtls.VerificationError) as e:
        trust.verify(bad.chain_pem)
    assert e.value.code == "revoked"
    assert snapshot.verify(bad.chain_pem).serial == bad.serial  # a Verifier does not move
    assert repr(trust) == "<Trust generation=1 cas=1 crls=1>"
    with pytest.raises(TypeError):
        meshtls.Trust(policy)  # a Verifier (bundle + policy) is needed


def test_rotation_policy(ca: meshtls.Authority) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    issued = ca.issue(API, lifetime=dt.timedelta(days=30), now=now)
    status = meshtls.RotationPolicy().status(issued, now)
    assert status.state == "fresh" and status.is_fresh
    assert now + dt.timedelta(days=15) < status.renew_at <= now + dt.timedelta(days=21)
    assert meshtls.RotationPolicy().status(issued.certificate, now + dt.timedelta(days=25)).renew_due
    assert meshtls.RotationPolicy().status(issued.cert_pem, now + dt.timedelta(days=31)).expired
    fixed = meshtls.RotationPolicy(renew_before=dt.timedelta(days=7), jitter=0)
    renew_at = fixed.status(issued, now).renew_at
    assert abs((issued.not_after - dt.timedelta(days=7)) - renew_at) <= dt.timedelta(seconds=1)
    assert meshtls.RotationPolicy(renew_at_fraction=0.5, jitter=0).status(issued, now).renew_at < renew_at
    with pytest.raises(meshtls.InvalidRequest):
        meshtls.RotationPolicy(renew_at_fraction=1.5)
    with pytest.raises(meshtls.InvalidRequest):
        meshtls.RotationPolicy(jitter=0.9)
    with pytest.raises(TypeError):
        meshtls.RotationPolicy(renew_at_fraction=0.5, renew_before=dt.timedelta(days=1))


def test_renew_keeps_the_identity(ca: meshtls.Authority) -> None:
    old = ca.issue(API, usage="server", dns_names=["api.mesh.internal"], lifetime=dt.timedelta(days=10))
    new = ca.renew(old)
    assert new.serial != old.serial and new.key_pem != old.key_pem
    assert new.certificate.spiffe_id == API
    assert new.certificate.dns_names == ["api.mesh.internal"]
    assert new.certificate.server_auth and not new.certificate.client_auth


def test_key_algorithms(ca: meshtls.Authority) -> None:
    for key, name in [("ecdsa-p384", "P-384"), ("ed25519", "Ed25519"), ("rsa-2048", "RSA")]:
        issued = ca.issue(API, key=key)
        assert name.lower().replace("-", "") in issued.certificate.key_algorithm.lower().replace("-", "")
        verifier_for(ca).verify(issued.chain_pem)
    with pytest.raises(meshtls.MalformedInput) as e:
        ca.issue(API, key="dsa-1024")
    assert e.value.code == "unsupported"


def test_spiffe_id_type() -> None:
    sid = meshtls.SpiffeId(API)
    assert sid.trust_domain == TD and sid.path == "/service/api" and str(sid) == API
    assert sid.matches(f"spiffe://{TD}/service/*")
    assert sid == meshtls.SpiffeId(API) and len({sid, meshtls.SpiffeId(API)}) == 1
    with pytest.raises(meshtls.MalformedInput):
        meshtls.SpiffeId("spiffe://UPPER.case/x")


def test_identity_from_pem_and_replace(ca: meshtls.Authority) -> None:
    first, identity = issue_identity(ca, "a")
    assert identity.generation == 0 and identity.leaf.serial == first.serial
    second = ca.issue(f"spiffe://{TD}/service/a")
    identity.replace(second.chain_pem, second.key_pem)
    assert identity.generation == 1 and identity.leaf.serial == second.serial
    assert identity.chain_pem == second.chain_pem
    identity.replace(first)
    assert identity.leaf.serial == first.serial
    other = ca.issue(f"spiffe://{TD}/service/b")
    with pytest.raises(meshtls.InvalidRequest):
        identity.replace(first.chain_pem, other.key_pem)  # key of another certificate
    assert identity.leaf.serial == first.serial  # a failed replace changes nothing
    generation, chain_pem, key_pem = identity._ssl_material("pw")  # one generation, for ssl
    assert (generation, chain_pem) == (identity.generation, first.chain_pem)
    encrypted = meshtls.Identity(chain_pem, key_pem, passphrase="pw")
    assert encrypted.leaf.serial == first.serial
    assert meshtls.Identity.from_issued(first).leaf.serial == first.serial
    assert utc(0).year == 1970

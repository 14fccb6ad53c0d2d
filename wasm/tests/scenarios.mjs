// The behaviours of the wasm package, written once and run twice: in Node against the
// `nodejs` build (node.test.mjs) and in headless Chromium against the `web` build
// (browser/run.mjs). Plain JS, no Node APIs: `m` is the loaded module, `fx` the fixtures
// (`fx.cases` is fixtures/cases.json, `fx.text(name)` a fixture file's text).

export const ID = "spiffe://mesh.internal/service/api";

function fail(msg) {
  throw new Error(msg);
}

function ok(cond, msg) {
  if (!cond) fail(msg);
}

function equal(got, want, msg) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) fail(`${msg}: got ${g}, want ${w}`);
}

/** Runs `fn`, which must throw a MeshTlsError with `code` (any code if undefined); returns the error. */
function throwsCode(fn, code, msg) {
  try {
    fn();
  } catch (e) {
    ok(e instanceof Error, `${msg}: threw a non-Error ${e}`);
    if (code !== undefined) equal(e.code, code, `${msg}: error code (message: ${e.message})`);
    equal(e.name, "MeshTlsError", `${msg}: error name`);
    ok(typeof e.family === "string", `${msg}: error family`);
    return e;
  }
  fail(`${msg}: did not throw (wanted ${code})`);
}

/**
 * The verdict of one fixture case: "ok" or the error code, exactly as the core's replay: the
 * code of the first error while building the bundle (the case's or the top-level one), adding
 * the CRLs (the case's list, else the top-level one when with_crls), building the policy
 * (leeway, depth) or verifying (at the case's time).
 */
export function verdict(m, fx, c) {
  try {
    const bundle = m.TrustBundle.fromPem(fx.text(c.bundle ?? fx.cases.bundle));
    for (const crl of c.crls ?? (c.with_crls ? fx.cases.crls : [])) bundle.addCrl(fx.text(crl));
    let builder = m.Policy.builder()
      .clockLeeway(`${c.leeway ?? 0}s`)
      .maxIntermediates(c.max_intermediates ?? 4);
    for (const p of c.allow) builder = builder.allowPattern(p);
    const verifier = new m.Verifier(bundle, builder.build());
    verifier.verify(fx.text(c.chain), c.usage, (c.at ?? fx.cases.at) * 1000);
    return "ok";
  } catch (e) {
    if (typeof e.code !== "string") throw e;
    return e.code;
  }
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function pemToDer(pem) {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
}

function derToPem(der, label) {
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  const lines = btoa(bin).match(/.{1,64}/g).join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

/** Every scenario as [name, async () => void]. */
export function scenarios(m, fx) {
  const at = fx.cases.at * 1000;
  const now = at;
  const list = [];
  const add = (name, fn) => list.push([name, fn]);

  for (const c of fx.cases.cases) {
    add(`fixture case ${c.name} gives ${c.expect}`, () => {
      equal(verdict(m, fx, c), c.expect, `case ${c.name}`);
    });
  }

  add("a CA with an unknown critical extension is skipped, not fatal", () => {
    const bundle = m.TrustBundle.fromPem(fx.text("strict/odd-and-good-roots.pem"));
    equal(bundle.length, 1, "the good root is kept");
    const skipped = bundle.skipped;
    equal(skipped.length, 1, "one CA skipped");
    const [s] = skipped;
    equal(s.subject, "CN=strict odd root", "subject");
    equal(s.code, "unknown_critical_extension", "code");
    ok(/^[0-9a-f]{64}$/.test(s.fingerprint), `fingerprint is SHA-256 hex: ${s.fingerprint}`);
    ok(s.message.includes("1.3.6.1.4.1.55555.1"), `the message names the extension: ${s.message}`);
    equal(m.TrustBundle.fromPem(fx.text("strict/root.pem")).skipped.length, 0, "a good bundle skips nothing");
    equal(m.TrustBundle.fromPem(fx.text("strict/root.pem")).merged(bundle).skipped.length, 1, "merging keeps the list");
  });

  add("inspects a certificate: identity, SANs, validity, usages, fingerprint", async () => {
    const pem = fx.text("api.chain.pem");
    const cert = m.Certificate.parse(pem);
    equal(cert.spiffeId, ID, "spiffeId");
    equal(cert.uris, [ID], "uris");
    equal(cert.dnsNames, ["api.mesh.internal"], "dnsNames");
    equal(cert.commonName, "api", "commonName");
    equal(cert.subject, "CN=api", "subject");
    equal(cert.issuer, "O=meshtls, CN=mesh.internal fixture intermediate", "issuer");
    equal(cert.serial, "b24b2fa0458a90a4eab2537739f500e9", "serial");
    equal(new Date(cert.notBefore).toISOString(), "2025-12-01T23:59:00.000Z", "notBefore");
    equal(new Date(cert.notAfter).toISOString(), "2027-11-02T00:00:00.000Z", "notAfter");
    ok(cert.isValidAt(at), "valid at the fixture time");
    ok(!cert.isValidAt(Date.UTC(2030, 0, 1)), "not valid in 2030");
    equal(cert.keyUsage, ["digitalSignature"], "keyUsage");
    equal(cert.extendedKeyUsage, ["serverAuth", "clientAuth"], "extendedKeyUsage");
    ok(cert.hasExtendedKeyUsage, "has EKU");
    equal(cert.isCa, false, "isCa");
    equal(cert.keyKind, "ecdsa-p256", "keyKind");
    equal(cert.keyAlgorithm, "ECDSA P-256", "keyAlgorithm");
    const der = cert.der;
    ok(der instanceof Uint8Array && der[0] === 0x30, "der is DER");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
    equal(cert.fingerprint, hex(digest), "fingerprint is the SHA-256 of the DER (WebCrypto)");
    equal(cert.fingerprint.length, 64, "fingerprint length");
    equal(cert.spkiFingerprint.length, 64, "spki fingerprint length");
    equal(m.Certificate.parse(der).fingerprint, cert.fingerprint, "DER input parses the same");
    equal(m.Certificate.parse(cert.toPem()).fingerprint, cert.fingerprint, "toPem round trip");
    const chain = m.Certificate.parseChain(pem);
    equal(chain.length, 2, "chain length");
    equal(chain[1].isCa, true, "the intermediate is a CA");
    equal(chain[1].keyUsage.includes("keyCertSign"), true, "CA key usage");
    equal(chain[0].authorityKeyId, chain[1].subjectKeyId, "AKI of the leaf is the SKI of its CA");
    const root = m.Certificate.parse(fx.text("root.pem"));
    ok(root.selfIssued, "root is self-issued");
  });

  add("verify returns the peer identity; verifyDer takes the DER chain", () => {
    const bundle = m.TrustBundle.fromPem(fx.text("root.pem"));
    equal(bundle.length, 1, "bundle length");
    const policy = m.Policy.builder().allowId(ID).build();
    const verifier = new m.Verifier(bundle, policy);
    const peer = verifier.verify(fx.text("api.chain.pem"), "client", at);
    equal(peer.spiffeId, ID, "peer spiffeId");
    equal(peer.dnsNames, ["api.mesh.internal"], "peer dnsNames");
    equal(peer.anchorSubject, "O=meshtls, CN=mesh.internal fixture root", "anchor");
    const chain = m.Certificate.parseChain(fx.text("api.chain.pem"));
    equal(peer.fingerprint, chain[0].fingerprint, "peer fingerprint");
    const peer2 = verifier.verifyDer(chain.map((c) => c.der), "server", at);
    equal(peer2.serial, chain[0].serial, "verifyDer serial");
    throwsCode(() => verifier.verify(fx.text("api.chain.pem"), "peer", at), "invalid_request", "bad usage name");
    throwsCode(() => verifier.verify(fx.text("api.chain.pem"), "client", NaN), "malformed", "NaN time");
    const empty = throwsCode(() => verifier.verifyDer([], "client", at), undefined, "empty DER chain");
    ok(m.errorCodes().includes(empty.code), "empty DER chain: a core code");
  });

  add("rejects a rogue chain that copies the CA names", () => {
    const verifier = new m.Verifier(m.TrustBundle.fromPem(fx.text("root.pem")), m.Policy.allowAny());
    const e = throwsCode(() => verifier.verify(fx.text("rogue.chain.pem"), "client", at), "bad_signature", "rogue");
    equal(e.family, "verification", "family");
  });

  add("policy rules: identities, DNS, pins, and no policy that allows nobody", () => {
    const bundle = m.TrustBundle.fromPem(fx.text("root.pem"));
    const chain = fx.text("api.chain.pem");
    const leaf = m.Certificate.parse(chain);
    throwsCode(() => m.Policy.builder().build(), "invalid_request", "empty policy");
    throwsCode(() => m.Policy.builder().allowId("spiffe://Mesh.Internal/x"), "malformed", "bad ID");
    throwsCode(() => m.Policy.builder().pinCert("abc"), "malformed", "bad pin");
    const builder = m.Policy.builder();
    throwsCode(() => builder.allowTrustDomain("spiffe://mesh.internal"), "malformed", "a SPIFFE ID is not a trust domain");
    throwsCode(() => builder.allowTrustDomain("Mesh.Internal"), "malformed", "trust domains are lowercase");
    const withTd = builder.allowTrustDomain("mesh.internal");
    throwsCode(() => builder.build(), "invalid_request", "the builder is immutable");
    new m.Verifier(bundle, withTd.build()).verify(chain, "client", at);
    new m.Verifier(bundle, m.Policy.builder().allowDns("api.mesh.internal").build()).verify(chain, "server", at);
    const wrongDns = m.Policy.builder().allowDns("web.mesh.internal").build();
    throwsCode(() => new m.Verifier(bundle, wrongDns).verify(chain, "server", at), "identity_not_allowed", "dns");
    const pinned = withTd.pinCert(leaf.fingerprint).build();
    new m.Verifier(bundle, pinned).verify(chain, "client", at);
    const spki = withTd.pinSpki(leaf.spkiFingerprint).build();
    new m.Verifier(bundle, spki).verify(chain, "client", at);
    const other = withTd.pinCert("00".repeat(32)).build();
    throwsCode(() => new m.Verifier(bundle, other).verify(chain, "client", at), "not_pinned", "pin");
  });

  add("verifier options: clock leeway, depth and CRL requirements", () => {
    const bundle = m.TrustBundle.fromPem(fx.text("root.pem"));
    bundle.addCrl(fx.text("intermediate.crl.pem"));
    const policy = m.Policy.allowAny();
    // Only the intermediate's CRL: the intermediate itself is not covered.
    throwsCode(() => new m.Verifier(bundle, policy).verify(fx.text("api.chain.pem"), "client", at),
      "revocation_unknown", "CRL required for the whole path");
    new m.Verifier(bundle, policy, { leafOnly: true }).verify(fx.text("api.chain.pem"), "client", at);
    new m.Verifier(bundle, policy, { requireCrl: false }).verify(fx.text("api.chain.pem"), "client", at);
    throwsCode(() => new m.Verifier(bundle, policy, { leafOnly: "yes" }), "malformed", "option type");
    const leaf = m.Certificate.parse(fx.text("not-yet-valid.chain.pem"));
    const justBefore = leaf.notBefore - 20_000;
    const plain = m.TrustBundle.fromPem(fx.text("root.pem"));
    // No leeway by default; a policy's leeway of 30 s covers 20 s, one of 10 s does not.
    throwsCode(() => new m.Verifier(plain, policy)
      .verify(fx.text("not-yet-valid.chain.pem"), "client", justBefore), "not_yet_valid", "no leeway");
    const lenient = m.Policy.builder().allowAny().clockLeeway("30s").build();
    equal(lenient.clockLeeway, 30_000, "leeway getter");
    equal(policy.clockLeeway, 0, "default leeway");
    equal(policy.maxIntermediates, 4, "default depth");
    new m.Verifier(plain, lenient).verify(fx.text("not-yet-valid.chain.pem"), "client", justBefore);
    throwsCode(() => new m.Verifier(plain, m.Policy.builder().allowAny().clockLeeway("10s").build())
      .verify(fx.text("not-yet-valid.chain.pem"), "client", justBefore), "not_yet_valid", "leeway");
    throwsCode(() => new m.Verifier(plain, policy, { clockSkew: "10s" }), "invalid_request", "moved option");
    const shallow = m.Policy.builder().allowAny().maxIntermediates(0).build();
    throwsCode(() => new m.Verifier(plain, shallow).verify(fx.text("api.chain.pem"), "client", at),
      "chain_too_long", "depth");
  });

  add("errors: MeshTlsError with a stable code, never a crash", () => {
    const codes = m.errorCodes();
    for (const c of fx.cases.cases) {
      if (c.expect !== "ok") ok(codes.includes(c.expect), `errorCodes has ${c.expect}`);
    }
    equal(new Set(codes).size, codes.length, "codes are unique");
    ok(codes.every((c) => /^[a-z_]+$/.test(c)), "codes are snake_case");
    const e = throwsCode(() => m.Certificate.parse("garbage"), "malformed", "garbage PEM");
    equal(e.family, "input", "family");
    throwsCode(() => m.Certificate.parse(""), "malformed", "empty");
    throwsCode(() => m.Certificate.parse(new Uint8Array([0x30, 0x82, 0xff])), "malformed", "truncated DER");
    throwsCode(() => m.Certificate.parse(42), "malformed", "a number");
    throwsCode(() => m.Certificate.parse(null), "malformed", "null");
    throwsCode(() => m.Certificate.parse("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"), "malformed", "bad base64");
    throwsCode(() => m.Crl.parse(fx.text("root.pem")), "malformed", "a certificate is not a CRL");
    throwsCode(() => m.TrustBundle.fromPem(fx.text("api.chain.pem")), "invalid_request", "a leaf is not a CA");
    throwsCode(() => m.SpiffeId.parse("spiffe://mesh.internal/a/../b"), "malformed", "dot segments");
    throwsCode(() => m.parseDuration("5x"), "malformed", "duration");
    const big = "A".repeat(1 << 20);
    throwsCode(() => m.Certificate.parse(big), "malformed", "1 MiB of junk");
    // The instance is still alive after all of that.
    equal(m.version(), "0.1.0", "version after errors");
    equal(m.parseDuration("1h30m"), 5400, "parseDuration");
  });

  add("identities: SpiffeId and IdPattern", () => {
    const id = m.SpiffeId.parse(ID);
    equal(id.trustDomain, "mesh.internal", "trust domain");
    equal(id.path, "/service/api", "path");
    equal(id.toString(), ID, "toString");
    const p = m.IdPattern.parse("spiffe://mesh.internal/service/*");
    ok(p.matches(ID), "pattern matches");
    ok(!p.matches("spiffe://mesh.internal/db/x"), "pattern does not match");
    throwsCode(() => p.matches("not an id"), "malformed", "match a non-ID");
  });

  add("a CA for tests: root, leaf with a generated key, server/client usage", () => {
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    ok(ca.isRoot, "root");
    equal(ca.trustDomain, "mesh.internal", "trust domain");
    equal(ca.keyAlgorithm, "ecdsa-p256", "default key");
    equal(ca.certificate.uris, ["spiffe://mesh.internal"], "CA names its trust domain");
    const issued = ca.issue({ id: ID, dnsNames: ["api.local"], ipAddresses: ["127.0.0.1"], usage: "server", lifetime: "1h" }, now);
    ok(issued.keyPem.startsWith("-----BEGIN PRIVATE KEY-----"), "generated key");
    equal(issued.notAfter - issued.notBefore, 3660_000, "lifetime 1h plus 60 s backdate");
    const cert = issued.certificate;
    equal(cert.ipAddresses, ["127.0.0.1"], "IP SAN");
    equal(cert.extendedKeyUsage, ["serverAuth"], "server only");
    equal(cert.fingerprint, issued.fingerprint, "fingerprint");
    const verifier = new m.Verifier(m.TrustBundle.fromPem(ca.rootPem), m.Policy.builder().allowId(ID).build());
    verifier.verify(issued.chainPem, "server", now + 1000);
    throwsCode(() => verifier.verify(issued.chainPem, "client", now), "wrong_usage", "server-only as client");
    throwsCode(() => verifier.verify(issued.chainPem, "server", now + 2 * 3600_000), "expired", "after the lifetime");
    throwsCode(() => ca.issue({ id: "spiffe://other.internal/service/api" }, now), "invalid_request", "other trust domain");
    throwsCode(() => ca.issue({ id: ID, lifetime: "10s" }, now), "invalid_request", "too short");
    throwsCode(() => ca.issue({ id: ID, usage: "everything" }, now), "invalid_request", "bad usage");
    throwsCode(() => ca.issue({}, now), "invalid_request", "no id");
    throwsCode(() => ca.issue({ id: ID, ipAddresses: ["300.1.1.1"] }, now), "invalid_request", "bad IP");
  });

  add("ed25519 and P-384 keys; RSA generation is unsupported in wasm, not a crash", () => {
    for (const key of ["ed25519", "ecdsa-p384"]) {
      const ca = m.Authority.createRoot({ trustDomain: "mesh.internal", key }, now);
      equal(ca.keyAlgorithm, key, "CA key");
      const issued = ca.issue({ id: ID, key }, now);
      equal(issued.certificate.keyKind, key, "leaf key");
      new m.Verifier(m.TrustBundle.fromPem(ca.rootPem), m.Policy.allowAny()).verify(issued.chainPem, "client", now);
    }
    throwsCode(() => m.Authority.createRoot({ trustDomain: "mesh.internal", key: "rsa-2048" }, now), "unsupported", "RSA root");
    throwsCode(() => m.createCsr(ID, { key: "rsa-4096" }), "unsupported", "RSA CSR");
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    throwsCode(() => ca.issue({ id: ID, key: "rsa-2048" }, now), "unsupported", "RSA leaf");
    throwsCode(() => ca.issue({ id: ID, key: "dsa" }, now), "unsupported", "unknown algorithm");
    equal(ca.issue({ id: ID }, now).certificate.keyKind, "ecdsa-p256", "still works after");
  });

  add("key pair and CSR for a SPIFFE ID, issued by a CA; a tampered CSR is refused", () => {
    const csr = m.createCsr(ID, { dnsNames: ["api.mesh.internal"] });
    ok(csr.csrPem.startsWith("-----BEGIN CERTIFICATE REQUEST-----"), "CSR PEM");
    ok(csr.keyPem.startsWith("-----BEGIN PRIVATE KEY-----"), "key PEM");
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const issued = ca.issue({ csr: csr.csrPem, usage: "client" }, now);
    equal(issued.keyPem, undefined, "no key when issued from a CSR");
    const cert = issued.certificate;
    equal(cert.spiffeId, ID, "ID from the CSR");
    equal(cert.dnsNames, ["api.mesh.internal"], "DNS from the CSR");
    const der = pemToDer(csr.csrPem);
    const fromDer = ca.issue({ csr: der }, now);
    equal(fromDer.certificate.spkiFingerprint, cert.spkiFingerprint, "same key from a DER CSR");
    throwsCode(() => ca.issue({ csr: csr.csrPem, id: "spiffe://mesh.internal/service/web" }, now), "invalid_request", "ID mismatch");
    const tampered = der.slice();
    tampered[tampered.length - 1] ^= 0x01;
    throwsCode(() => ca.issue({ csr: derToPem(tampered, "CERTIFICATE REQUEST") }, now), "bad_signature", "tampered CSR");
    throwsCode(() => m.createCsr("spiffe://mesh.internal"), "malformed", "an ID needs a path");
  });

  add("intermediate CA: chain up to the root verifies", () => {
    const root = m.Authority.createRoot({ trustDomain: "mesh.internal", commonName: "test root" }, now);
    const inter = root.createIntermediate({ commonName: "test intermediate", validity: "365d" }, now);
    ok(!inter.isRoot, "intermediate");
    equal(m.Certificate.parseChain(inter.chainPem).length, 2, "intermediate chain");
    const issued = inter.issue({ id: ID }, now);
    equal(m.Certificate.parseChain(issued.chainPem).length, 2, "leaf + intermediate");
    const peer = new m.Verifier(m.TrustBundle.fromPem(root.rootPem), m.Policy.allowAny()).verify(issued.chainPem, "client", now);
    equal(peer.anchorSubject, "O=meshtls, CN=test root", "anchor");
  });

  add("CA keys at rest: encrypted PEM round trip, wrong passphrase, the fixture root", () => {
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const enc = ca.encryptedKeyPem("s3cret");
    ok(enc.startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "encrypted PEM");
    const back = m.Authority.fromPem(ca.chainPem, enc, "s3cret");
    equal(back.certificate.fingerprint, ca.certificate.fingerprint, "same CA");
    throwsCode(() => m.Authority.fromPem(ca.chainPem, enc, "nope"), "wrong_passphrase", "wrong passphrase");
    const plain = m.Authority.fromPem(ca.chainPem, ca.plaintextKeyPem());
    equal(plain.serial, ca.serial, "plain key");
    const fixture = m.Authority.fromPem(fx.text("root.pem"), fx.text("root.key.enc.pem"), "fixture-passphrase");
    equal(fixture.certificate.subject, "O=meshtls, CN=mesh.internal fixture root", "fixture root");
    throwsCode(() => m.Authority.fromPem(fx.text("root.pem"), fx.text("root.key.enc.pem"), "nope"), "wrong_passphrase", "fixture");
    const other = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    throwsCode(() => m.Authority.fromPem(ca.chainPem, other.plaintextKeyPem()), "invalid_request", "key of another CA");
  });

  add("CRLs: build from a revocation list, read back, and reject a revoked leaf", () => {
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const good = ca.issue({ id: ID }, now);
    const bad = ca.issue({ id: "spiffe://mesh.internal/service/stolen" }, now);
    const list = new m.RevocationList();
    ok(list.revoke(bad.serial, "key_compromise", now), "revoked");
    ok(!list.revoke(bad.serial, "key_compromise", now), "already revoked");
    throwsCode(() => list.revoke(good.serial, "because", now), "invalid_request", "bad reason");
    throwsCode(() => list.revoke("xyz", undefined, now), "malformed", "bad serial");
    throwsCode(() => list.revoke(good.serial, "key_compromise", -62135596800000), "invalid_request", "year 1");
    throwsCode(() => list.revoke(good.serial, "key_compromise", -1000), "invalid_request", "before 1970");
    equal(list.length, 1, "list length");
    equal(m.RevocationList.fromText(list.toText()).length, 1, "text round trip");
    const crl = ca.buildCrl(list, { number: 7 }, now);
    const parsed = m.Crl.parse(crl.toPem());
    equal(parsed.number, 7, "CRL number");
    equal(parsed.revokedCount, 1, "revoked count");
    equal(parsed.nextUpdate - parsed.thisUpdate, 7 * 86400_000, "7 days by default");
    equal(parsed.lookup(bad.serial).reason, "key_compromise", "lookup");
    equal(parsed.lookup(good.serial), undefined, "not revoked");
    ok(parsed.isStale(now + 8 * 86400_000), "stale after nextUpdate");
    equal(m.Crl.parse(crl.der).issuer, parsed.issuer, "DER CRL");
    const bundle = m.TrustBundle.fromPem(ca.rootPem);
    bundle.addCrl(crl.toPem());
    equal(bundle.crls.length, 1, "bundle CRLs");
    const v = new m.Verifier(bundle, m.Policy.allowAny());
    v.verify(good.chainPem, "client", now);
    throwsCode(() => v.verify(bad.chainPem, "client", now), "revoked", "revoked leaf");
    throwsCode(() => v.verify(good.chainPem, "client", now + 8 * 86400_000), "crl_expired", "stale CRL");
    throwsCode(() => ca.buildCrl(list, {}, now), "invalid_request", "CRL number required");
    const fixtureCrl = m.Crl.parse(fx.text("intermediate.crl.pem"));
    const revoked = m.Certificate.parse(fx.text("revoked.chain.pem"));
    equal(fixtureCrl.lookup(revoked.serial).reason, "key_compromise", "fixture CRL entry");
    equal(fixtureCrl.entries().length, fixtureCrl.revokedCount, "fixture CRL entries");
  });

  add("rotation status: fresh, renew due, expired", () => {
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const cert = ca.issue({ id: ID, lifetime: "90d" }, now).certificate;
    const life = cert.notAfter - cert.notBefore;
    const policy = new m.RotationPolicy();
    const fresh = policy.status(cert, now);
    equal(fresh.state, "fresh", "fresh");
    ok(fresh.renewAt <= cert.notBefore + life * 2 / 3 && fresh.renewAt >= cert.notBefore + life * (2 / 3 - 0.05) - 1000, "renewAt within the jitter window");
    equal(policy.status(cert, now).renewAt, fresh.renewAt, "stable jitter");
    equal(policy.nextCheck(fresh, now, "5m"), fresh.renewAt, "next check is renewAt");
    const due = policy.status(cert, cert.notBefore + life * 0.9);
    equal(due.state, "renew_due", "due");
    equal(due.renewAt, undefined, "no renewAt when due");
    equal(policy.nextCheck(due, now, "5m"), now + 300_000, "retry");
    equal(policy.status(cert, cert.notAfter).state, "expired", "expired");
    const before = new m.RotationPolicy({ renewBefore: "7d", jitter: 0 });
    equal(before.status(cert, now).renewAt, cert.notAfter - 7 * 86400_000, "7 days before");
    throwsCode(() => new m.RotationPolicy({ renewAtFraction: 1.5 }), "invalid_request", "fraction");
    throwsCode(() => new m.RotationPolicy({ jitter: 0.9 }), "invalid_request", "jitter");
  });

  add("trust bundle for CA rotation: merge, list, remove, prune", () => {
    const a = m.Authority.createRoot({ trustDomain: "mesh.internal", validity: "2d" }, now);
    const b = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const both = m.TrustBundle.fromPem(a.rootPem).merged(m.TrustBundle.fromPem(b.rootPem));
    equal(both.length, 2, "merged");
    const leafA = a.issue({ id: ID, lifetime: "1d" }, now);
    const leafB = b.issue({ id: ID }, now);
    const policy = m.Policy.allowAny();
    new m.Verifier(both, policy).verify(leafA.chainPem, "client", now);
    new m.Verifier(both, policy).verify(leafB.chainPem, "client", now);
    equal(both.cas.length, 2, "cas");
    equal(m.TrustBundle.fromPem(both.toPem()).length, 2, "toPem");
    equal(both.pruneExpired(now + 3 * 86400_000), 1, "pruned the short-lived CA");
    ok(both.removeCa(b.certificate.fingerprint), "removed");
    equal(both.length, 0, "empty");
    const empty = new m.TrustBundle();
    throwsCode(() => new m.Verifier(empty, policy).verify(leafA.chainPem, "client", now), "unknown_issuer", "empty bundle");
  });

  add("PKCS#12 of an issued identity", () => {
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const issued = ca.issue({ id: ID }, now);
    for (const profile of [undefined, "modern", "legacy"]) {
      const pfx = issued.toPkcs12("pw", profile);
      ok(pfx instanceof Uint8Array && pfx.length > 500 && pfx[0] === 0x30, `PFX ${profile}`);
    }
    throwsCode(() => issued.toPkcs12("pw", "ancient"), "invalid_request", "profile");
    const csr = m.createCsr(ID);
    throwsCode(() => ca.issue({ csr: csr.csrPem }, now).toPkcs12("pw"), "invalid_request", "no key");
  });

  add("mutated certificates, CRLs and CSRs: a code or a result, never a trap", () => {
    // A small deterministic PRNG (xorshift32), so both environments try the same inputs.
    let seed = 0x9e3779b9;
    const rand = (n) => {
      seed ^= seed << 13; seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5; seed >>>= 0;
      return seed % n;
    };
    const codes = new Set(m.errorCodes());
    const verifier = new m.Verifier(m.TrustBundle.fromPem(fx.text("root.pem")), m.Policy.allowAny());
    const inputs = [
      ["certificate", pemToDer(fx.text("api.chain.pem").split("-----END CERTIFICATE-----")[0])],
      ["crl", pemToDer(fx.text("intermediate.crl.pem"))],
      ["csr", pemToDer(m.createCsr(ID).csrPem)],
    ];
    const ca = m.Authority.createRoot({ trustDomain: "mesh.internal" }, now);
    const intermediate = m.Certificate.parseChain(fx.text("api.chain.pem"))[1].der;
    let accepted = 0;
    for (const [kind, der] of inputs) {
      for (let i = 0; i < 150; i++) {
        const bad = der.slice(0, i % 7 === 0 ? rand(der.length) : der.length);
        for (let k = 1 + rand(3); k > 0; k--) bad[rand(bad.length)] ^= 1 << rand(8);
        try {
          if (kind === "certificate") {
            m.Certificate.parse(bad);
            verifier.verifyDer([bad, intermediate], "client", at);
          } else if (kind === "crl") {
            m.Crl.parse(bad).entries();
          } else {
            ca.issue({ csr: bad }, now);
          }
          accepted++;
        } catch (e) {
          ok(codes.has(e.code), `${kind} mutation ${i}: not a meshtls error: ${e}`);
        }
      }
    }
    ok(accepted < 450, "most mutations are refused");
    equal(m.version(), "0.1.0", "the instance is still alive");
  });

  return list;
}

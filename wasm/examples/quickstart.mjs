// A local mesh in a few lines: a CA, a key pair and CSR for a workload, a certificate for
// it, and a verifier that accepts it and rejects what it should. Run: node examples/quickstart.mjs
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
// In an application: import { Authority, ... } from "meshtls-wasm";
const {
  Authority, createCsr, TrustBundle, Policy, Verifier, RevocationList, RotationPolicy,
} = require("../pkg/nodejs/meshtls_wasm.js");

const now = Date.now(); // every call takes the time: the core never reads a clock

// A root CA for the trust domain (for local meshes and tests; keep real CAs offline).
const ca = Authority.createRoot({ trustDomain: "mesh.internal" }, now);

// The workload makes its key pair and CSR; the key never leaves it.
const { csrPem, keyPem } = createCsr("spiffe://mesh.internal/service/api", {
  dnsNames: ["api.mesh.internal"],
});

// The CA issues from the CSR.
const issued = ca.issue({ csr: csrPem, usage: "both", lifetime: "24h" }, now);

// A peer verifies the chain against its bundle and policy.
const bundle = TrustBundle.fromPem(ca.rootPem);
const policy = Policy.builder().allowPattern("spiffe://mesh.internal/service/*").build();
const peer = new Verifier(bundle, policy).verify(issued.chainPem, "client", now);
console.log("verified", peer.spiffeId, "until", new Date(peer.notAfter).toISOString());

// Revoke it and publish a CRL: the same chain is now refused with a stable code.
const revoked = new RevocationList();
revoked.revoke(issued.serial, "key_compromise", now);
bundle.addCrl(ca.buildCrl(revoked, { number: 1 }, now).toPem());
try {
  new Verifier(bundle, policy).verify(issued.chainPem, "client", now);
  throw new Error("a revoked certificate was accepted");
} catch (e) {
  if (e.code !== "revoked") throw e;
  console.log("refused:", e.code);
}

// When should the workload renew?
const status = new RotationPolicy().status(issued.certificate, now);
console.log("rotation:", status.state, "renew at", new Date(status.renewAt).toISOString());
console.log(keyPem.length > 0 ? "ok" : "no key");

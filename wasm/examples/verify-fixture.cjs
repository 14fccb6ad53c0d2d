// Verify a peer chain (the shared test fixtures) from CommonJS. Run: node examples/verify-fixture.cjs
const { readFileSync } = require("node:fs");
const path = require("node:path");
// In an application: require("meshtls-wasm")
const { TrustBundle, Policy, Verifier, Certificate } = require("../pkg/nodejs/meshtls_wasm.js");

const fixtures = path.join(__dirname, "..", "..", "fixtures");
const read = (name) => readFileSync(path.join(fixtures, name), "utf8");
const at = Date.UTC(2026, 0, 1); // the fixtures' reference time

const cert = Certificate.parse(read("api.chain.pem"));
console.log(cert.spiffeId, cert.dnsNames, cert.extendedKeyUsage, cert.fingerprint);

const verifier = new Verifier(
  TrustBundle.fromPem(read("root.pem")),
  Policy.builder().allowTrustDomain("mesh.internal").build(),
);
console.log("api:", verifier.verify(read("api.chain.pem"), "client", at).spiffeId);
for (const chain of ["rogue.chain.pem", "expired.chain.pem", "other-ca.chain.pem"]) {
  try {
    verifier.verify(read(chain), "client", at);
    throw new Error(`${chain} was accepted`);
  } catch (e) {
    if (!e.code) throw e;
    console.log(`${chain}: ${e.code}`); // bad_signature, expired, unknown_issuer
  }
}
console.log("ok");

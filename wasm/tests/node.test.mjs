// The shared scenarios (scenarios.mjs) in Node against the `nodejs` build, plus the README
// examples run as scripts.
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { scenarios } from "./scenarios.mjs";
import { requestScenarios } from "./requests.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "..", "..", "fixtures");
const require = createRequire(import.meta.url);
const m = require("../pkg/nodejs/meshtls_wasm.js");

const fx = {
  cases: JSON.parse(readFileSync(path.join(fixtures, "cases.json"), "utf8")),
  text: (name) => readFileSync(path.join(fixtures, name), "utf8"),
};

for (const [name, fn] of scenarios(m, fx)) {
  test(name, fn);
}

const rx = {
  cases: JSON.parse(readFileSync(path.join(fixtures, "requests.json"), "utf8")).cases,
  text: fx.text,
};
for (const [name, fn] of requestScenarios(m, rx)) {
  test(name, fn);
}

test("every code the .d.ts declares is a core code, in the core's order", () => {
  const dts = readFileSync(path.join(here, "..", "types", "meshtls_wasm.d.ts"), "utf8");
  const union = dts.match(/export type ErrorCode =([^;]+);/);
  if (!union) throw new Error("no ErrorCode type in the .d.ts");
  const declared = [...union[1].matchAll(/"([a-z_]+)"/g)].map((x) => x[1]);
  const actual = m.errorCodes();
  // Codes are only ever added: the declared ones are a prefix of the core's list.
  if (JSON.stringify(declared) !== JSON.stringify(actual.slice(0, declared.length))) {
    throw new Error(`the .d.ts declares ${declared}, the core has ${actual}`);
  }
  if (declared.length < actual.length) {
    console.log(`note: the core has codes the .d.ts does not list yet: ${actual.slice(declared.length)} (TS_TYPES in src/lib.rs)`);
  }
});

test("the bundler build (ES module importing the .wasm) gives the same verdicts", () => {
  const out = execFileSync(
    process.execPath,
    ["--experimental-wasm-modules", "--no-warnings", path.join(here, "bundler-replay.mjs")],
    { encoding: "utf8", timeout: 60_000 },
  );
  const got = JSON.parse(out);
  for (const c of fx.cases.cases) {
    if (got[c.name] !== c.expect) throw new Error(`case ${c.name}: got ${got[c.name]}, want ${c.expect}`);
  }
});

for (const example of ["quickstart.mjs", "verify-fixture.cjs"]) {
  test(`example ${example} runs`, () => {
    const out = execFileSync(process.execPath, [path.join(here, "..", "examples", example)], {
      encoding: "utf8",
      timeout: 60_000,
    });
    if (!out.includes("ok")) throw new Error(`unexpected output: ${out}`);
  });
}

// JWT-SVIDs: fixtures/jwt.json, the same verdicts as the core's replay (core/tests/jwt_fixtures.rs).
const jwt = JSON.parse(readFileSync(path.join(fixtures, "jwt.json"), "utf8"));
for (const c of jwt.cases) {
  test(`token fixture ${c.name}: ${c.expect}`, () => {
    let got;
    try {
      const bundle = m.SpiffeBundle.fromJson(fx.text(jwt.jwks), jwt.trust_domain);
      let builder = m.Policy.builder().clockLeeway(`${c.leeway ?? 0}s`);
      for (const p of jwt.allow) builder = builder.allowPattern(p);
      const v = new m.JwtValidator(bundle, builder.build(), jwt.audience, c.algorithms, c.require_binding ?? false);
      v.validate(c.token, c.peer ? fx.text(c.peer) : undefined, jwt.at * 1000);
      got = "ok";
    } catch (e) {
      if (typeof e.code !== "string") throw e;
      got = e.code;
    }
    if (got !== c.expect) throw new Error(`${c.name}: got ${got}, want ${c.expect}`);
  });
}

test("a token minted at the edge validates, and a bound one needs its certificate", () => {
  const key = m.JwtSigningKey.generate("EdDSA");
  const bundle = m.SpiffeBundle.empty("mesh.internal").withKey(key);
  const policy = m.Policy.builder().allowTrustDomain("mesh.internal").build();
  const v = new m.JwtValidator(bundle, policy, ["edge"]);
  const now = Date.now();
  const claims = v.validate(key.mint("spiffe://mesh.internal/service/api", ["edge"], 60, now), undefined, now);
  if (claims.subject !== "spiffe://mesh.internal/service/api" || claims.keyId !== key.kid) throw new Error("claims");
  try {
    v.validate(key.mint("spiffe://mesh.internal/service/api", ["other"], 60, now), undefined, now);
    throw new Error("accepted another audience");
  } catch (e) {
    if (e.code !== "token_audience" || e.name !== "MeshTlsError") throw e;
  }
});

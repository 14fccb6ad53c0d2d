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

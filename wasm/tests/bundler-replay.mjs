// Replays fixtures/cases.json through the `bundler` build, which imports its .wasm as an ES
// module the way webpack and Vite do. Node runs that with --experimental-wasm-modules;
// prints the verdicts as JSON. Used by node.test.mjs.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as m from "../pkg/bundler/meshtls_wasm.js";
import { verdict } from "./scenarios.mjs";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures");
const fx = {
  cases: JSON.parse(readFileSync(path.join(fixtures, "cases.json"), "utf8")),
  text: (name) => readFileSync(path.join(fixtures, name), "utf8"),
};
console.log(JSON.stringify(Object.fromEntries(fx.cases.cases.map((c) => [c.name, verdict(m, fx, c)]))));

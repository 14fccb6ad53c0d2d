// Serves the `web` build and a test page on 127.0.0.1, loads it in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core) and reports the scenarios' results:
// `wasm-browser: N passed, N failed`. Exits non-zero on any failure.
//   env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT=path.png to keep a picture of the page
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgRoot = path.resolve(here, "..", "..");
const fixtures = path.resolve(pkgRoot, "..", "fixtures");
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".pem": "text/plain; charset=utf-8",
};

// Only these trees are served; anything else is 404.
function resolve(urlPath) {
  const p = decodeURIComponent(urlPath.split("?")[0]);
  const roots = [
    ["/fixtures/", fixtures],
    ["/pkg/web/", path.join(pkgRoot, "pkg", "web")],
    ["/tests/", path.join(pkgRoot, "tests")],
  ];
  if (p === "/" || p === "/index.html") return path.join(here, "index.html");
  for (const [prefix, dir] of roots) {
    if (p.startsWith(prefix)) {
      const file = path.resolve(dir, p.slice(prefix.length));
      if (file.startsWith(dir + path.sep) && existsSync(file)) return file;
    }
  }
  return null;
}

const server = http.createServer((req, res) => {
  const file = resolve(req.url);
  if (!file) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const profile = mkdtempSync(path.join(tmpdir(), "meshtls-chromium-"));
let context;
let passed = 0;
let failed = 0;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    timeout: 60_000,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const crashes = [];
  page.on("pageerror", (e) => crashes.push(String(e)));
  page.on("crash", () => crashes.push("the page crashed"));
  await page.goto(url, { timeout: 60_000 });
  await page.waitForFunction(() => window.__meshtls && window.__meshtls.done, null, { timeout: 180_000 });
  const results = await page.evaluate(() => window.__meshtls.results);
  const demo = await page.locator("#demo").innerText();
  console.log(demo);
  for (const r of results) {
    if (r.ok) {
      passed++;
      console.log(`ok - ${r.name}`);
    } else {
      failed++;
      console.log(`not ok - ${r.name}\n  ${r.error.replace(/\n/g, "\n  ")}`);
    }
  }
  for (const c of crashes) {
    failed++;
    console.log(`not ok - page error: ${c}`);
  }
  if (!demo.includes("api.chain.pem: verified spiffe://mesh.internal/service/api") ||
      !demo.includes("rogue.chain.pem: rejected (bad_signature)")) {
    failed++;
    console.log("not ok - the page shows the fixture chain verified and the rogue one rejected");
  } else {
    passed++;
    console.log("ok - the page shows the fixture chain verified and the rogue one rejected");
  }
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
} catch (e) {
  failed++;
  console.log(`not ok - browser run: ${e && e.stack || e}`);
} finally {
  if (context) await context.close().catch(() => {});
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(`wasm-browser: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

// The wasm package's browser install test: serves an app directory (its index.html and
// node_modules/, where the packed meshtls-wasm is installed) and the fixtures on 127.0.0.1,
// opens the page in headless Chromium (Debian's, driven by wasm/'s playwright-core) and prints
// the page's #out text once the page sets body[data-done].
//   usage: node wasm-browser.mjs APP_DIR FIXTURES_DIR      env: CHROMIUM (default /usr/bin/chromium)
import http from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "wasm", "package.json"));
const { chromium } = require("playwright-core");
const [app, fixtures] = process.argv.slice(2).map((p) => path.resolve(p));
const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".pem": "text/plain" };

function resolve(urlPath) {
  const p = decodeURIComponent(urlPath.split("?")[0]);
  if (p === "/") return path.join(app, "index.html");
  const [base, rel] = p.startsWith("/fixtures/")
    ? [fixtures, p.slice("/fixtures/".length)]
    : p.startsWith("/node_modules/") ? [path.join(app, "node_modules"), p.slice("/node_modules/".length)] : [null];
  if (!base) return null;
  const file = path.resolve(base, rel);
  return file.startsWith(base + path.sep) && existsSync(file) && statSync(file).isFile() ? file : null;
}
const server = http.createServer((req, res) => {
  const file = resolve(req.url);
  if (!file) return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
  res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const profile = mkdtempSync(path.join(tmpdir(), "meshtls-pkg-chromium-"));
let context;
let status = 0;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    timeout: 60_000,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${server.address().port}/`, { timeout: 60_000 });
  await page.waitForSelector("body[data-done]", { timeout: 60_000 }).catch((e) => errors.push(String(e)));
  process.stdout.write(await page.locator("#out").innerText());
  if (errors.length) {
    console.error(errors.join("\n"));
    status = 1;
  }
} finally {
  await context?.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status);

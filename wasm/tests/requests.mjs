// The shared issuance vectors (fixtures/requests.json), written once and run twice like
// scenarios.mjs: in Node (node.test.mjs) and in headless Chromium (browser/index.html).
// `rx.cases` is the file's case list, `rx.text(name)` a fixture file's text. Each case is
// replayed in the order the file describes and must reach the core's verdict.

function grantOf(m, g) {
  const options = {};
  if (g.dns) options.dnsNames = g.dns;
  if (g.ips) options.ipAddresses = g.ips;
  if (g.usage) options.usage = g.usage;
  if (g.max_lifetime_seconds !== undefined) options.maxLifetime = `${g.max_lifetime_seconds}s`;
  return g.kind === "join_token" ? m.Grant.joinToken(g.ids, options) : m.Grant.administrator(g.ids, options);
}

/** The verdict of one request case: "ok" or the error code. */
export function requestVerdict(m, rx, c) {
  const now = Date.now();
  try {
    const ca = m.Authority.createRoot({ trustDomain: c.trust_domain }, now);
    const request = {};
    if (c.id !== undefined) request.id = c.id;
    if (c.csr !== undefined) request.csr = rx.text(c.csr);
    if (c.dns) request.dnsNames = c.dns;
    if (c.ips) request.ipAddresses = c.ips;
    if (c.usage) request.usage = c.usage;
    if (c.lifetime_seconds !== undefined) request.lifetime = `${c.lifetime_seconds}s`;
    if (c.key) request.key = c.key;
    if (c.grant) {
      ca.issueGranted(request, grantOf(m, c.grant), c.admins ?? [], now);
    } else {
      ca.issue(request, now);
    }
    return "ok";
  } catch (e) {
    if (typeof e.code !== "string") throw e;
    return e.code;
  }
}

/** [name, fn] pairs: one per case, plus the count check. */
export function requestScenarios(m, rx) {
  const list = [[`requests.json has ${rx.cases.length} cases (at least 60)`, () => {
    if (rx.cases.length < 60) throw new Error(`only ${rx.cases.length} request cases`);
  }]];
  for (const c of rx.cases) {
    list.push([`request case ${c.name} gives ${c.expect}`, () => {
      const got = requestVerdict(m, rx, c);
      if (got !== c.expect) throw new Error(`request case ${c.name}: got ${got}, want ${c.expect}`);
    }]);
  }
  return list;
}

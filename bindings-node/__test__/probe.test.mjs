// `meshtls probe` against a Node `tls` server that refuses it: the probe must wait for the
// server's verdict after the TLS 1.3 handshake and exit 1 with the refusal's code (read from
// the alert the server sent), never report ok. Needs the CLI (target/debug/meshtls, built by
// scripts/ci/node).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { Authority, Identity, Policy, TrustBundle, Verifier, createServer } from '../index.mjs'
import { TD } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const target = process.env.CARGO_TARGET_DIR || path.resolve(here, '../../target')
const cli = path.join(target, 'debug', 'meshtls')
const skip = existsSync(cli) ? false : `no ${cli} (cargo build -p meshtls-cli)`

function probe(args) {
  return new Promise((resolve) => {
    execFile(cli, ['probe', ...args], { timeout: 20000 }, (err, stdout, stderr) =>
      resolve({ status: err ? err.code : 0, stdout, stderr }),
    )
  })
}

for (const [name, refusal] of [
  ['identity_not_allowed', (ca) => ({ policy: new Policy({ allowIds: [`spiffe://${TD}/service/web`] }), leaf: 'intruder' })],
  ['revoked', null],
]) {
  test(`meshtls probe refused by a Node tls server (${name}) exits 1 with that code`, { skip }, async () => {
    const ca = await Authority.createRoot({ trustDomain: TD })
    const server = await ca.issue({ id: `spiffe://${TD}/service/api`, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
    let policy = Policy.allowAny()
    let bundle = new TrustBundle(ca.rootPem)
    let leafName = 'web'
    let client
    if (refusal) {
      const r = refusal(ca)
      policy = r.policy
      leafName = r.leaf
      client = await ca.issue({ id: `spiffe://${TD}/service/${leafName}` })
    } else {
      const { RevocationList } = await import('../index.mjs')
      client = await ca.issue({ id: `spiffe://${TD}/service/${leafName}` })
      const list = new RevocationList()
      list.revoke(client.serial, 'key_compromise')
      bundle = new TrustBundle(ca.rootPem)
      bundle.addCrl(ca.buildCrl(list, { number: 1 }).der)
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'meshtls-probe-'))
    writeFileSync(path.join(dir, 'chain.pem'), client.chainPem)
    writeFileSync(path.join(dir, 'key.pem'), client.keyPem, { mode: 0o600 })
    writeFileSync(path.join(dir, 'root.pem'), ca.rootPem)
    const refused = []
    const srv = createServer(new Identity(server), new Verifier(bundle, policy), (s) => s.on('error', () => {}))
    srv.on('peerRejected', (err) => refused.push(err.code))
    await new Promise((r) => srv.listen(0, '127.0.0.1', r))
    try {
      const url = `tls://127.0.0.1:${srv.address().port}`
      const r = await probe([url, '--cert', dir, '--bundle', path.join(dir, 'root.pem'), '--allow-id', `spiffe://${TD}/service/api`, '--json'])
      assert.deepEqual(refused, [name])
      assert.equal(r.status, 1, `exit status (stdout ${r.stdout.trim()}, stderr ${r.stderr.trim()})`)
      const out = JSON.parse(r.stdout)
      assert.equal(out.ok, false)
      assert.equal(out.error.code, name)
    } finally {
      srv.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

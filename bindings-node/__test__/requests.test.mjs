// The shared issuance vectors (fixtures/requests.json): the same verdict as the core's own
// replay (core/tests/requests.rs), through the Node binding, in the order the file describes.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

import { Authority, Grant } from '../index.mjs'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures')
const read = (name) => readFileSync(path.join(dir, name))
const cases = JSON.parse(read('requests.json')).cases

function grantOf(g) {
  const options = {}
  if (g.dns) options.dnsNames = g.dns
  if (g.ips) options.ipAddresses = g.ips
  if (g.usage) options.usage = g.usage
  if (g.max_lifetime_seconds !== undefined) options.maxLifetime = g.max_lifetime_seconds
  return g.kind === 'join_token' ? Grant.joinToken(g.ids, options) : Grant.administrator(g.ids, options)
}

async function replay(c) {
  try {
    const ca = await Authority.createRoot({ trustDomain: c.trust_domain })
    const request = {}
    if (c.id !== undefined) request.id = c.id
    if (c.csr !== undefined) request.csr = read(c.csr)
    if (c.dns) request.dnsNames = c.dns
    if (c.ips) request.ipAddresses = c.ips
    if (c.usage) request.usage = c.usage
    if (c.lifetime_seconds !== undefined) request.lifetime = c.lifetime_seconds
    if (c.key) request.key = c.key
    if (c.grant) {
      await ca.issueGranted(request, grantOf(c.grant), c.admins ?? [])
    } else {
      await ca.issue(request)
    }
    return 'ok'
  } catch (err) {
    assert.ok(err instanceof Error)
    return err.code
  }
}

test(`requests.json: ${cases.length} cases`, () => assert.ok(cases.length >= 60))

for (const c of cases) {
  test(`request ${c.name}: ${c.expect}`, async () => {
    assert.equal(await replay(c), c.expect)
  })
}

test('a CSR and an explicit ID: the CSR keeps its DNS names, another ID is refused', async () => {
  const ca = await Authority.createRoot({ trustDomain: 'mesh.internal' })
  const csr = read('requests/dns.csr.pem')
  const issued = await ca.issue({ id: 'spiffe://mesh.internal/service/api', csr })
  assert.deepEqual(issued.certificate.dnsNames, ['api.mesh.internal', 'api.internal'])
  await assert.rejects(async () => ca.issue({ id: 'spiffe://mesh.internal/service/web', csr }), {
    code: 'invalid_request',
  })
})

test('grant properties', () => {
  const g = Grant.joinToken('spiffe://mesh.internal/service/*', { dnsNames: ['API.mesh.internal'], usage: 'server' })
  assert.deepEqual([g.kind, g.ids, g.dnsNames, g.ipAddresses, g.usage], [
    'join_token',
    'spiffe://mesh.internal/service/*',
    ['api.mesh.internal'],
    [],
    'server',
  ])
  const a = Grant.administrator('spiffe://mesh.internal')
  assert.deepEqual([a.kind, a.dnsNames, a.ipAddresses, a.usage], ['administrator', null, null, null])
  assert.throws(() => Grant.joinToken('spiffe://mesh.internal', { dnsNames: ['bad_name.x'] }), {
    code: 'invalid_request',
  })
})

// The shared test vectors (fixtures/cases.json): the same verdict as the core's own replay
// (core/tests/fixtures.rs), through the Node binding.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

import { Authority, Policy, TrustBundle, Verifier } from '../index.mjs'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures')
const read = (name) => readFileSync(path.join(dir, name))
const cases = JSON.parse(read('cases.json'))

for (const c of cases.cases) {
  test(`fixture ${c.name}: ${c.expect}`, () => {
    // The verdict is the code of the first error: building the bundle (the case's or the
    // top-level one), adding the CRLs (the case's list, else the top-level one when
    // with_crls), building the policy (leeway, depth) or verifying (at the case's time).
    let got
    try {
      const bundle = new TrustBundle(read(c.bundle ?? cases.bundle))
      for (const crl of c.crls ?? (c.with_crls ? cases.crls : [])) bundle.addCrl(read(crl))
      const policy = new Policy({
        allowPatterns: c.allow,
        clockLeeway: c.leeway ?? 0,
        maxIntermediates: c.max_intermediates ?? 4,
      })
      const verifier = new Verifier(bundle, policy)
      verifier.verify(read(c.chain), { usage: c.usage, at: new Date((c.at ?? cases.at) * 1000) })
      got = 'ok'
    } catch (err) {
      assert.ok(err instanceof Error)
      got = err.code
    }
    assert.equal(got, c.expect)
  })
}

test('there are at least 15 cases', () => assert.ok(cases.cases.length >= 15))

test('the fixture CA key needs its passphrase', async () => {
  const ca = await Authority.fromPem(read('root.pem'), read('root.key.enc.pem'), 'fixture-passphrase')
  assert.equal(ca.isRoot, true)
  await assert.rejects(Authority.fromPem(read('root.pem'), read('root.key.enc.pem'), 'nope'), {
    code: 'wrong_passphrase',
  })
})

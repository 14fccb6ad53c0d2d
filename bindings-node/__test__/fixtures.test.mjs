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
const at = new Date(cases.at * 1000)

for (const c of cases.cases) {
  test(`fixture ${c.name}: ${c.expect}`, () => {
    const bundle = new TrustBundle(read(cases.bundle))
    if (c.with_crls) for (const crl of cases.crls) bundle.addCrl(read(crl))
    const verifier = new Verifier(bundle, new Policy({ allowPatterns: c.allow }))
    let got
    try {
      verifier.verify(read(c.chain), { usage: c.usage, at })
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

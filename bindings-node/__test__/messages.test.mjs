// Readable errors: every meshtls error carries the core's `code` and `family` (sync or async),
// its message is words, never a Rust Debug dump (checked with the core's own rule over every
// fixture, through every parser), and bundles are accepted as text, bytes or a file path.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import {
  Authority,
  Certificate,
  Crl,
  Identity,
  Policy,
  RevocationList,
  SpiffeId,
  TrustBundle,
  Verifier,
  decryptPrivateKey,
  errorCodes,
  errorFamily,
  fromPkcs12,
  looksLikeDebugOutput,
} from '../index.mjs'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures')
const fixture = (name) => readFileSync(path.join(dir, name))
const cases = JSON.parse(fixture('cases.json'))
const codes = new Set(errorCodes())

/** The error `fn` throws or rejects with, or undefined. */
async function caught(fn) {
  try {
    await fn()
  } catch (err) {
    return err
  }
  return undefined
}

function assertReadable(err, where) {
  assert.ok(err instanceof Error, `${where}: an Error`)
  assert.ok(codes.has(err.code), `${where}: code ${err.code}`)
  assert.equal(err.family, errorFamily(err.code), `${where}: family of ${err.code}`)
  assert.ok(err.message.length > 0, `${where}: a message`)
  assert.equal(looksLikeDebugOutput(err.message), false, `${where}: ${err.message}`)
}

test('the core rule is live: it flags a Debug dump', () => {
  assert.equal(looksLikeDebugOutput('Other(OtherError(Error { code: UnknownIssuer }))'), true)
  assert.equal(looksLikeDebugOutput('NomError(Eof)'), true)
  assert.equal(looksLikeDebugOutput('the certificate expired at 2026-01-01T00:00:00Z'), false)
})

test('no Debug text: every fixture through every parser and the verifier', async () => {
  const inputs = readdirSync(dir).filter((f) => f.endsWith('.pem')).map((f) => [f, fixture(f)])
  inputs.push(['random bytes', randomBytes(300)], ['DER-looking garbage', Buffer.from([0x30, 0x82, 0x01, 0x00, 0x01])])
  let errors = 0
  for (const [name, data] of inputs) {
    for (const [what, fn] of [
      ['TrustBundle', () => new TrustBundle(data)],
      ['Certificate.parse', () => Certificate.parse(data)],
      ['Certificate.parseAll', () => Certificate.parseAll(data)],
      ['Crl.parse', () => Crl.parse(data)],
      ['Identity', () => new Identity(data, data)],
      ['Authority.fromPem', () => Authority.fromPem(data, data)],
      ['decryptPrivateKey', () => decryptPrivateKey(data, 'pw')],
      ['fromPkcs12', () => fromPkcs12(data, 'pw')],
    ]) {
      const err = await caught(fn)
      if (err) {
        assertReadable(err, `${what}(${name})`)
        errors++
      }
    }
  }
  // The shared verification cases: each refusal's message too.
  for (const c of cases.cases) {
    const err = await caught(() => {
      const bundle = new TrustBundle(fixture(c.bundle ?? cases.bundle))
      for (const crl of c.crls ?? (c.with_crls ? cases.crls : [])) bundle.addCrl(fixture(crl))
      const policy = new Policy({ allowPatterns: c.allow, clockLeeway: c.leeway ?? 0, maxIntermediates: c.max_intermediates ?? 4 })
      new Verifier(bundle, policy).verify(fixture(c.chain), { usage: c.usage, at: new Date((c.at ?? cases.at) * 1000) })
    })
    if (c.expect === 'ok') assert.equal(err, undefined, c.name)
    else {
      assertReadable(err, `fixture ${c.name}`)
      assert.equal(err.code, c.expect)
      errors++
    }
  }
  assert.ok(errors > 40, `${errors} errors checked`)
})

test('sync and async errors carry code and family', async () => {
  const sync = await caught(() => SpiffeId.parse('http://x/y'))
  assert.deepEqual([sync.code, sync.family], ['malformed', 'input'])
  const request = await caught(() => new Policy({}))
  assert.deepEqual([request.code, request.family], ['invalid_request', 'request'])
  const async_ = await caught(() => Authority.fromPem('garbage', 'garbage'))
  assert.deepEqual([async_.code, async_.family], ['malformed', 'input'])
  const ca = await Authority.createRoot({ trustDomain: 'mesh.internal' })
  const leaf = await ca.issue({ id: 'spiffe://mesh.internal/service/a' })
  const verdict = await caught(() => new Verifier(new TrustBundle(ca.rootPem), new Policy({ allowIds: ['spiffe://mesh.internal/service/b'] })).verify(leaf.chainPem, { usage: 'client' }))
  assert.deepEqual([verdict.code, verdict.family], ['identity_not_allowed', 'verification'])
  assertReadable(verdict, 'verify')
})

test('a bundle is accepted as text, bytes or a path; a path naming no file says so', async () => {
  const ca = await Authority.createRoot({ trustDomain: 'mesh.internal' })
  const tmp = mkdtempSync(path.join(tmpdir(), 'meshtls-bundle-'))
  try {
    const file = path.join(tmp, 'ca.pem')
    writeFileSync(file, ca.rootPem)
    const der = Certificate.parse(ca.rootPem).der
    const fingerprints = (b) => b.cas.map((c) => c.fingerprint)
    const want = fingerprints(new TrustBundle(ca.rootPem))
    assert.deepEqual(fingerprints(new TrustBundle(Buffer.from(ca.rootPem))), want)
    assert.deepEqual(fingerprints(new TrustBundle(der)), want)
    assert.deepEqual(fingerprints(new TrustBundle(file)), want)
    assert.deepEqual(fingerprints(TrustBundle.fromPem(file)), want)
    const added = new TrustBundle()
    added.addCa(file)
    assert.deepEqual(fingerprints(added), want)
    const crlFile = path.join(tmp, 'ca.crl')
    writeFileSync(crlFile, ca.buildCrl(new RevocationList(), { number: 1 }).der)
    added.addCrl(crlFile)
    assert.equal(added.crls.length, 1)

    const missing = await caught(() => new TrustBundle(path.join(tmp, 'nope.pem')))
    assert.equal(missing.code, 'malformed')
    assert.match(missing.message, /no file named .*nope\.pem/)
    assertReadable(missing, 'missing path')
    const unreadable = await caught(() => new TrustBundle(tmp)) // a directory
    assert.equal(unreadable.code, 'io')
    assertReadable(unreadable, 'directory')
    const garbage = await caught(() => new TrustBundle('not pem at all'))
    assert.equal(garbage.code, 'malformed')
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
})

// Every error family reaches JavaScript as an Error whose .code is the core's code, and
// bad input (wrong types, garbage) is an exception, never a crash.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'

import {
  Authority,
  Certificate,
  Crl,
  Identity,
  IdPattern,
  Policy,
  RevocationList,
  RotationPolicy,
  SpiffeId,
  TrustBundle,
  Verifier,
  createCsr,
  errorCodes,
  errorFamily,
  fromPkcs12,
} from '../index.mjs'
import { pki, TD } from './helpers.mjs'

const isMeshtlsError = (code) => (err) => {
  assert.ok(err instanceof Error, 'an Error')
  assert.equal(err.code, code)
  assert.equal(typeof err.message, 'string')
  assert.ok(err.message.length > 0)
  return true
}

test('codes and families are the core\'s', () => {
  const codes = errorCodes()
  for (const code of [
    'malformed', 'unsupported', 'invalid_request', 'expired', 'not_yet_valid', 'unknown_issuer',
    'bad_signature', 'revoked', 'wrong_usage', 'identity_not_allowed', 'not_pinned',
    'name_constraint_violation', 'wrong_passphrase', 'io', 'weak_key', 'weak_signature',
    'not_authorized', 'invalid_certificate', 'unknown_critical_extension',
    'name_constraints_too_complex', 'stale_crl', 'invalid_crl', 'token_malformed',
    'token_signature', 'token_algorithm', 'token_unknown_key', 'token_expired', 'token_audience',
    'token_binding',
  ]) {
    assert.ok(codes.includes(code), code)
  }
  assert.equal(errorFamily('malformed'), 'input')
  assert.equal(errorFamily('unsupported'), 'input')
  assert.equal(errorFamily('invalid_request'), 'request')
  assert.equal(errorFamily('not_authorized'), 'request')
  assert.equal(errorFamily('weak_key'), 'input')
  assert.equal(errorFamily('invalid_certificate'), 'verification')
  assert.equal(errorFamily('revoked'), 'verification')
  assert.equal(errorFamily('wrong_passphrase'), 'passphrase')
  assert.equal(errorFamily('io'), 'io')
  assert.equal(errorFamily('internal'), 'internal')
  assert.equal(errorFamily('nope'), null)
})

test('input family: malformed and unsupported', async () => {
  assert.throws(() => SpiffeId.parse('http://x/y'), isMeshtlsError('malformed'))
  assert.throws(() => Certificate.parse('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), isMeshtlsError('malformed'))
  assert.throws(() => Crl.parse(Buffer.from([0x30, 0x03, 0x01])), isMeshtlsError('malformed'))
  assert.throws(() => new TrustBundle('not pem at all'), isMeshtlsError('malformed'))
  assert.throws(() => Authority.createRoot({ trustDomain: TD, key: 'dsa-1024' }), isMeshtlsError('unsupported'))
  assert.throws(() => createCsr(`spiffe://${TD}/a`, { key: 'rsa-1' }), isMeshtlsError('unsupported'))
  await assert.rejects(fromPkcs12(Buffer.from('garbage'), 'pw'), isMeshtlsError('malformed'))
  await assert.rejects(Authority.fromPem('garbage', 'garbage'), isMeshtlsError('malformed'))
})

test('request family: invalid_request', async () => {
  const { ca } = await pki()
  await assert.rejects(ca.issue({ id: 'spiffe://elsewhere.internal/service/x' }), isMeshtlsError('invalid_request'))
  await assert.rejects(ca.issue({ id: `spiffe://${TD}/service/x`, lifetime: 5 }), isMeshtlsError('invalid_request'))
  assert.throws(() => ca.issue({}), isMeshtlsError('invalid_request'))
  assert.throws(() => ca.issue({ id: `spiffe://${TD}/a`, usage: 'sideways' }), isMeshtlsError('invalid_request'))
  assert.throws(() => new Policy({}), isMeshtlsError('invalid_request'))
  assert.throws(() => RotationPolicy.atFraction(0), isMeshtlsError('invalid_request'))
  const { verifier } = await pki()
  const issued = await ca.issue({ id: `spiffe://${TD}/service/x` })
  assert.throws(() => verifier.verify(issued.chainPem, { usage: 'peer' }), isMeshtlsError('invalid_request'))
})

test('verification family: each verdict has its code', async () => {
  const { ca, bundle } = await pki()
  const other = await Authority.createRoot({ trustDomain: TD })
  const leaf = await ca.issue({ id: `spiffe://${TD}/service/api`, usage: 'server' })
  const strangers = await other.issue({ id: `spiffe://${TD}/service/api` })
  const v = (policy) => new Verifier(bundle, new Policy(policy))
  const any = { allowAny: true }
  assert.throws(() => v(any).verify(strangers.chainPem, { usage: 'server' }), isMeshtlsError('unknown_issuer'))
  assert.throws(() => v(any).verify(leaf.chainPem, { usage: 'client' }), isMeshtlsError('wrong_usage'))
  assert.throws(
    () => v({ allowIds: [`spiffe://${TD}/service/web`] }).verify(leaf.chainPem, { usage: 'server' }),
    isMeshtlsError('identity_not_allowed'),
  )
  assert.throws(
    () => v({ allowAny: true, pinCerts: ['00'.repeat(32)] }).verify(leaf.chainPem, { usage: 'server' }),
    isMeshtlsError('not_pinned'),
  )
  assert.ok(v({ pinSpkis: [leaf.certificate.spkiFingerprint] }).verify(leaf.chainPem, { usage: 'server' }))
  const future = new Date(Date.now() + 365 * 86400_000)
  assert.throws(() => v(any).verify(leaf.chainPem, { usage: 'server', at: future }), isMeshtlsError('expired'))
  // A CA certificate presented as the peer.
  assert.throws(() => v(any).verify(ca.certificatePem, { usage: 'server' }), (e) => e instanceof Error && errorFamily(e.code) === 'verification')
  // Revocation with a stale CRL.
  const crl = ca.buildCrl(new RevocationList(), { number: 1, nextUpdate: new Date(Date.now() + 3600_000) })
  const withCrl = new TrustBundle(ca.rootPem)
  withCrl.addCrl(crl.der)
  const later = new Date(Date.now() + 2 * 3600_000)
  assert.throws(
    () => new Verifier(withCrl, Policy.allowAny()).verify(leaf.chainPem, { usage: 'server', at: later }),
    isMeshtlsError('crl_expired'),
  )
})

test('passphrase family: wrong_passphrase', async () => {
  const { ca } = await pki()
  const enc = await ca.encryptedKeyPem('right')
  await assert.rejects(Authority.fromPem(ca.chainPem, enc, 'wrong'), (e) => isMeshtlsError('wrong_passphrase')(e) && errorFamily(e.code) === 'passphrase')
})

test('wrong types are exceptions, not crashes', async () => {
  const { ca, verifier } = await pki()
  const calls = [
    () => SpiffeId.parse(42),
    () => IdPattern.parse(null),
    () => new TrustBundle(42),
    () => new TrustBundle({}),
    () => new Verifier('pem', 'policy'),
    () => new Verifier(new TrustBundle(ca.rootPem), {}),
    () => verifier.verify(42, { usage: 'client' }),
    () => verifier.verify([1, 2, 3], { usage: 'client' }),
    () => verifier.verify('x'),
    () => verifier.verify('x', { usage: 7 }),
    () => new Policy({ allowIds: 'spiffe://mesh.internal/a' }),
    () => new Policy({ pinCerts: ['zz'] }),
    () => Authority.createRoot(),
    () => Authority.createRoot({ trustDomain: 7 }),
    () => Authority.createRoot({ trustDomain: 'UPPER.case' }),
    () => Authority.createRoot({ trustDomain: TD, validity: -5 }),
    () => Authority.createRoot({ trustDomain: TD, validity: '5 fortnights' }),
    () => ca.issue({ id: `spiffe://${TD}/a`, ipAddresses: ['not-an-ip'] }),
    () => ca.issue({ id: `spiffe://${TD}/a`, lifetime: Number.NaN }),
    () => ca.issue('spiffe://mesh.internal/a'),
    () => ca.buildCrl({}, { number: 1 }),
    () => new RevocationList().revoke('not hex'),
    () => new RevocationList().revoke('00ff', 'because'),
    () => RevocationList.fromText('garbage'),
    () => new RotationPolicy().status('garbage'),
    () => new Identity('garbage', 'garbage'),
    () => new Identity(42),
    () => new Identity(ca.rootPem),
  ]
  for (const [i, call] of calls.entries()) {
    assert.throws(call, (e) => e instanceof Error, `call ${i} should throw`)
  }
})

test('garbage of every shape is malformed, never a crash', () => {

  const inputs = [
    '', ' ', '\u0000', '-----BEGIN CERTIFICATE-----', '-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----',
    Buffer.alloc(0), Buffer.from([0x30]), Buffer.from([0x30, 0x82, 0xff, 0xff]), new Uint8Array(1000),
  ]
  for (let i = 0; i < 200; i++) inputs.push(randomBytes(1 + (i % 300)))
  for (const input of inputs) {
    assert.throws(() => Certificate.parse(input), isMeshtlsError('malformed'))
    assert.throws(() => Crl.parse(input), (e) => e instanceof Error && errorFamily(e.code) === 'input')
  }
})

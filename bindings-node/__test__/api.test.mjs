// The API end to end: CA, issuance (key and CSR), verification, revocation, PKCS#12, rotation.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import crypto from 'node:crypto'

import {
  Authority,
  Certificate,
  Crl,
  IdPattern,
  Identity,
  Issued,
  Policy,
  RevocationList,
  RotationPolicy,
  SpiffeId,
  TrustBundle,
  Verifier,
  createCsr,
  decryptPrivateKey,
  encryptPrivateKey,
  fromPkcs12,
  toPkcs12,
} from '../index.mjs'
import meshtlsCjs from '../index.js'
import { pki, TD } from './helpers.mjs'

test('the CommonJS and ESM entries are the same module', () => {
  assert.equal(meshtlsCjs.Authority, Authority)
  assert.equal(typeof meshtlsCjs.tlsServerOptions, 'function')
})

test('root, intermediate, issue, verify', async () => {
  const root = await Authority.createRoot({ trustDomain: TD, commonName: 'test root' })
  assert.equal(root.isRoot, true)
  assert.equal(root.trustDomain, TD)
  assert.equal(root.keyAlgorithm, 'ecdsa-p256')
  assert.equal(root.certificate.commonName, 'test root')
  const inter = await root.createIntermediate()
  assert.equal(inter.isRoot, false)
  const issued = await inter.issue({ id: `spiffe://${TD}/service/api`, dnsNames: ['api.local'], usage: 'both', lifetime: '1h' })
  assert.ok(issued instanceof Issued)
  assert.equal(issued.chainDer.length, 2, 'leaf then the intermediate')
  assert.match(issued.keyPem, /BEGIN PRIVATE KEY/)
  assert.ok(issued.notAfter instanceof Date)
  assert.ok(Math.abs(issued.notAfter - Date.now() - 3600_000) < 5_000)
  assert.equal(issued.certificate.spiffeId, `spiffe://${TD}/service/api`)

  const verifier = new Verifier(new TrustBundle(root.rootPem), new Policy({ allowIds: [`spiffe://${TD}/service/api`] }))
  const peer = verifier.verify(issued.chainPem, { usage: 'client' })
  assert.equal(peer.spiffeId, `spiffe://${TD}/service/api`)
  assert.deepEqual(peer.dnsNames, ['api.local'])
  assert.equal(peer.serial, issued.serial)
  assert.equal(peer.fingerprint, issued.fingerprint)
  // The same chain as DER buffers (what Node's getPeerCertificate().raw gives) and as bytes.
  assert.equal(verifier.verify(issued.chainDer, { usage: 'server' }).serial, issued.serial)
  assert.equal(verifier.verify(Buffer.from(issued.chainPem), { usage: 'server' }).serial, issued.serial)
  assert.equal(
    crypto.createHash('sha256').update(issued.certDer).digest('hex'),
    issued.fingerprint,
  )
})

test('time is an argument: verifying in the future says expired', async () => {
  const { ca, verifier } = await pki()
  const issued = await ca.issue({ id: `spiffe://${TD}/service/a`, lifetime: 120 })
  assert.ok(verifier.verify(issued.chainPem, { usage: 'client' }))
  assert.throws(
    () => verifier.verify(issued.chainPem, { usage: 'client', at: new Date(Date.now() + 3600_000) }),
    { code: 'expired' },
  )
  const past = new Date(Date.now() - 3600_000)
  assert.throws(() => verifier.verify(issued.chainPem, { usage: 'client', at: past }), { code: 'not_yet_valid' })
})

test('CSR: the requester keeps its key', async () => {
  const { ca, verifier } = await pki()
  const csr = await createCsr(`spiffe://${TD}/service/csr`, { dnsNames: ['csr.local'], key: 'ed25519' })
  assert.match(csr.csrPem, /CERTIFICATE REQUEST/)
  const issued = await ca.issue({ csr: csr.csrPem })
  assert.equal(issued.keyPem, null)
  assert.equal(issued.certificate.spiffeId, `spiffe://${TD}/service/csr`)
  assert.deepEqual(issued.certificate.dnsNames, ['csr.local'])
  assert.ok(verifier.verify(issued.chainPem, { usage: 'client' }))
  // The CSR as DER bytes works too.
  const again = await ca.issue({ csr: csr.csrDer })
  assert.equal(again.certificate.spiffeId, `spiffe://${TD}/service/csr`)
  await assert.rejects(issued.toPkcs12('pw'), { code: 'invalid_request' })
  const identity = new Identity(issued.chainPem, csr.keyPem)
  assert.equal(identity.certificate.spiffeId, `spiffe://${TD}/service/csr`)
})

test('other key algorithms, RSA included, off the event loop', async () => {
  const root = await Authority.createRoot({ trustDomain: TD, key: 'rsa-2048' })
  assert.equal(root.keyAlgorithm, 'rsa-2048')
  for (const key of ['ecdsa-p384', 'ed25519', 'rsa-2048']) {
    const issued = await root.issue({ id: `spiffe://${TD}/service/${key}`, key })
    const v = new Verifier(new TrustBundle(root.rootPem), Policy.allowAny())
    assert.ok(v.verify(issued.chainPem, { usage: 'server' }), key)
  }
})

test('bulk issuance', async () => {
  const { ca, verifier } = await pki()
  const many = await ca.issueMany(Array.from({ length: 20 }, (_, i) => ({ id: `spiffe://${TD}/service/s${i}` })))
  assert.equal(many.length, 20)
  assert.equal(new Set(many.map((i) => i.serial)).size, 20)
  for (const i of many) assert.ok(verifier.verify(i.chainPem, { usage: 'client' }))
})

test('CA saved encrypted and loaded back; a wrong passphrase is wrong_passphrase', async () => {
  const ca = await Authority.createRoot({ trustDomain: TD })
  const keyPem = await ca.encryptedKeyPem('s3cret')
  assert.match(keyPem, /ENCRYPTED PRIVATE KEY/)
  const loaded = await Authority.fromPem(ca.chainPem, keyPem, 's3cret')
  assert.equal(loaded.certificate.fingerprint, ca.certificate.fingerprint)
  await assert.rejects(Authority.fromPem(ca.chainPem, keyPem, 'nope'), { code: 'wrong_passphrase' })
  const plain = await Authority.fromPem(ca.chainPem, ca.plaintextKeyPem())
  const issued = await plain.issue({ id: `spiffe://${TD}/service/x` })
  const v = new Verifier(new TrustBundle(ca.rootPem), Policy.allowAny())
  assert.ok(v.verify(issued.chainPem, { usage: 'client' }))
  const dec = await decryptPrivateKey(await encryptPrivateKey(ca.plaintextKeyPem(), 'pw'), 'pw')
  assert.equal(dec, ca.plaintextKeyPem())
})

test('revocation: records, a signed CRL, and the verifier refusing the serial', async () => {
  const { ca, bundle } = await pki()
  const good = await ca.issue({ id: `spiffe://${TD}/service/good` })
  const bad = await ca.issue({ id: `spiffe://${TD}/service/bad` })
  const records = new RevocationList()
  assert.equal(records.revoke(bad.serial, 'key_compromise'), true)
  assert.equal(records.revoke(bad.serial), false, 'already revoked')
  // A time no CRL can carry is refused by the core, and nothing is recorded.
  assert.throws(() => records.revoke(good.serial, 'key_compromise', new Date(-62135596800000)), { code: 'invalid_request' })
  assert.throws(() => records.revoke(good.serial, 'key_compromise', new Date(-1000)), { code: 'invalid_request' })
  assert.equal(records.length, 1)
  assert.equal(records.get(bad.serial).reason, 'key_compromise')
  const restored = RevocationList.fromText(records.toText())
  assert.equal(restored.entries[0].serial, bad.serial)

  const crl = ca.buildCrl(records, { number: 1 })
  assert.equal(crl.number, 1)
  assert.equal(crl.revokedCount, 1)
  assert.equal(crl.lookup(bad.serial).reason, 'key_compromise')
  assert.equal(crl.lookup(good.serial), null)
  assert.equal(crl.isStale(), false)
  assert.equal(crl.isStale(new Date(Date.now() + 30 * 86400_000)), true)
  assert.equal(Crl.parse(crl.der).number, 1)

  const withCrl = new TrustBundle(ca.rootPem)
  withCrl.addCrl(crl.toPem())
  assert.equal(withCrl.crls.length, 1)
  const v = new Verifier(withCrl, Policy.allowAny())
  assert.ok(v.verify(good.chainPem, { usage: 'client' }))
  assert.throws(() => v.verify(bad.chainPem, { usage: 'client' }), { code: 'revoked' })
  // Without the CRL the bundle knows nothing of it.
  assert.ok(new Verifier(bundle, Policy.allowAny()).verify(bad.chainPem, { usage: 'client' }))
})

test('PKCS#12 export and import', async () => {
  const { ca } = await pki()
  const issued = await ca.issue({ id: `spiffe://${TD}/service/p12` })
  for (const profile of ['modern', 'legacy']) {
    const pfx = await issued.toPkcs12('pw', profile)
    assert.ok(Buffer.isBuffer(pfx))
    const back = await fromPkcs12(pfx, 'pw')
    assert.equal(back.chainDer.length, 1)
    assert.deepEqual(back.chainDer[0], issued.certDer)
    await assert.rejects(fromPkcs12(pfx, 'wrong'), { code: 'wrong_passphrase' })
  }
  const pfx = await toPkcs12(issued.keyPem, issued.chainPem, { password: 'x' })
  assert.equal((await fromPkcs12(pfx, 'x')).keyPem, issued.keyPem)
  // An unknown profile name is the core's invalid_request, as in every language; it throws at
  // the call, before any work is queued.
  assert.throws(() => issued.toPkcs12('pw', 'fancy'), { code: 'invalid_request' })
})

test('rotation policy: fresh, renew_due, expired', async () => {
  const { ca } = await pki()
  const issued = await ca.issue({ id: `spiffe://${TD}/service/r`, lifetime: '30d' })
  const policy = new RotationPolicy()
  assert.equal(policy.fraction, 2 / 3)
  const now = policy.status(issued.certPem)
  assert.equal(now.state, 'fresh')
  assert.ok(now.renewAt > new Date() && now.renewAt < issued.notAfter)
  assert.equal(policy.status(issued.certDer, new Date(Date.now() + 25 * 86400_000)).state, 'renew_due')
  assert.equal(policy.status(issued.certPem, new Date(Date.now() + 31 * 86400_000)).state, 'expired')
  assert.deepEqual(policy.nextCheck(issued.certPem, undefined, 60), now.renewAt)
  const margin = RotationPolicy.beforeExpiry('7d').withJitter(0)
  assert.equal(margin.beforeExpirySeconds, 7 * 86400)
  assert.equal(margin.status(issued.certPem, new Date(Date.now() + 24 * 86400_000)).state, 'renew_due')
  assert.throws(() => RotationPolicy.atFraction(1.5), { code: 'invalid_request' })
  assert.throws(() => policy.withJitter(0.9), { code: 'invalid_request' })
})

test('identities, patterns and parsed certificates', async () => {
  const id = SpiffeId.parse(`spiffe://${TD}/service/api`)
  assert.equal(id.trustDomain, TD)
  assert.deepEqual(id.segments, ['service', 'api'])
  assert.equal(id.isMemberOf(TD), true)
  assert.equal(`${id}`, `spiffe://${TD}/service/api`)
  assert.equal(IdPattern.parse(`spiffe://${TD}/service/*`).matches(id.toString()), true)
  assert.equal(IdPattern.parse(`spiffe://${TD}/other/**`).matches(id.toString()), false)

  const { ca } = await pki()
  const inter = await ca.createIntermediate()
  const issued = await inter.issue({ id: `spiffe://${TD}/service/api`, ipAddresses: ['127.0.0.1'], usage: 'server' })
  const certs = Certificate.parseAll(issued.chainPem)
  assert.equal(certs.length, 2)
  assert.equal(certs[0].serverAuth, true)
  assert.equal(certs[0].clientAuth, false)
  assert.deepEqual(certs[0].ipAddresses, ['127.0.0.1'])
  assert.equal(certs[1].isCa, true)
  assert.equal(certs[0].isValidAt(), true)
  assert.equal(Certificate.parse(certs[0].der).fingerprint, certs[0].fingerprint)

  const bundle = new TrustBundle()
  assert.equal(bundle.length, 0)
  bundle.addCa(ca.rootPem)
  const other = await Authority.createRoot({ trustDomain: TD })
  const merged = bundle.merged(new TrustBundle(other.rootPem))
  assert.equal(merged.length, 2)
  assert.equal(merged.removeCa(other.certificate.fingerprint), true)
  assert.equal(merged.length, 1)
  assert.match(merged.toPem(), /BEGIN CERTIFICATE/)
})

test('identity update swaps the certificate and bumps the generation', async () => {
  const { ca } = await pki()
  const a = await ca.issue({ id: `spiffe://${TD}/service/a` })
  const b = await ca.issue({ id: `spiffe://${TD}/service/a` })
  const identity = new Identity(a)
  const g = identity.generation
  assert.equal(identity.certificate.serial, a.serial)
  identity.update(b)
  assert.equal(identity.generation, g + 1)
  assert.equal(identity.certificate.serial, b.serial)
  assert.match(identity.chainPem, /BEGIN CERTIFICATE/)
  identity.update(a.chainPem, a.keyPem)
  assert.equal(identity.certificate.serial, a.serial)
  // A key that is not the leaf's is refused and changes nothing.
  assert.throws(() => identity.update(b.chainPem, a.keyPem))
  assert.equal(identity.certificate.serial, a.serial)
})

test('a policy parses trust domains strictly, as every language does', () => {
  for (const td of ['spiffe://mesh.internal', 'Mesh.Internal', '']) {
    assert.throws(() => new Policy({ allowTrustDomains: [td] }), { code: 'malformed' }, td)
  }
  assert.ok(new Policy({ allowTrustDomains: ['mesh.internal'] }))
})

// A refused client learns why: on Node's own tls/https servers the core verifies the chain in
// the handshake (OpenSSL's certificate verifier is the core), and a refusal fails the handshake
// with the TLS alert of the core's code, the same table the Rust transport uses
// (net::profile::alert_for). The server reports it once, with the core's code, and the
// application never sees the socket. Clients here are plain Node `tls` and `openssl s_client`,
// not meshtls.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

import {
  Authority,
  Identity,
  Policy,
  RevocationList,
  Trust,
  TrustBundle,
  Verifier,
  createHttpsServer,
  createServer,
  guardServer,
  peerIdentity,
  serverVerification,
  tlsServerOptions,
} from '../index.mjs'
import { once, TD } from './helpers.mjs'

const HOUR = 3600e3
const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures')
const fixture = (name) => readFileSync(path.join(fixtures, name))

async function leaf(ca, name, request = {}, at = undefined) {
  const issued = await ca.issue({ id: `spiffe://${TD}/service/${name}`, dnsNames: ['localhost'], ...request }, at)
  return { issued, identity: new Identity(issued) }
}

/** A guarded echo server whose trust is `verifier`; `seen` are the sockets the app got. */
async function server(identity, verifier) {
  const seen = []
  const refused = []
  const other = []
  const srv = createServer(identity, verifier, (socket) => {
    seen.push(socket)
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => {})
  })
  srv.on('peerRejected', (err) => refused.push(err))
  srv.on('tlsClientError', (err) => other.push(err))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  return { srv, seen, refused, other, port: srv.address().port }
}

/** A plain Node tls client (no meshtls): what it learned from the server. */
function plainClient(port, caPem, client) {
  return new Promise((resolve) => {
    const options = { host: '127.0.0.1', port, ca: caPem, checkServerIdentity: () => undefined }
    if (client) Object.assign(options, { cert: client.chainPem, key: client.keyPem })
    const socket = tls.connect(options, () => socket.write('hello'))
    let data = ''
    socket.on('data', (d) => {
      data += d
      socket.end()
    })
    socket.on('error', (err) => resolve({ data, error: err.code }))
    socket.on('close', () => resolve({ data }))
    setTimeout(() => {
      socket.destroy()
      resolve({ data, timeout: true })
    }, 5000)
  })
}

async function world() {
  const ca = await Authority.createRoot({ trustDomain: TD })
  const api = await leaf(ca, 'api')
  return { ca, api, bundle: new TrustBundle(ca.rootPem) }
}

const cases = [
  {
    name: 'expired',
    alert: 'certificate_expired',
    client: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
    async make({ bundle }) {
      const old = await Authority.createRoot({ trustDomain: TD, at: new Date(Date.now() - 48 * HOUR) })
      const c = await leaf(old, 'web', { lifetime: '1h' }, new Date(Date.now() - 24 * HOUR))
      return { client: c, trust: new TrustBundle(old.rootPem).merged(bundle) }
    },
  },
  {
    name: 'not_yet_valid',
    alert: 'certificate_expired',
    client: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
    async make({ ca }) {
      return { client: await leaf(ca, 'web', {}, new Date(Date.now() + HOUR)) }
    },
  },
  {
    name: 'revoked',
    alert: 'certificate_revoked',
    client: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
    async make({ ca }) {
      const c = await leaf(ca, 'web')
      const list = new RevocationList()
      list.revoke(c.issued.serial, 'key_compromise')
      const trust = new TrustBundle(ca.rootPem)
      trust.addCrl(ca.buildCrl(list, { number: 1 }).der)
      return { client: c, trust }
    },
  },
  {
    name: 'unknown_issuer',
    alert: 'unknown_ca',
    client: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    async make() {
      // Same trust domain name, another CA.
      return { client: await leaf(await Authority.createRoot({ trustDomain: TD }), 'web') }
    },
  },
  {
    name: 'identity_not_allowed',
    alert: 'access_denied',
    client: 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
    async make({ ca }) {
      return { client: await leaf(ca, 'intruder'), policy: new Policy({ allowIds: [`spiffe://${TD}/service/web`] }) }
    },
  },
  {
    name: 'not_pinned',
    alert: 'access_denied',
    client: 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
    async make({ ca }) {
      return { client: await leaf(ca, 'web'), policy: new Policy({ allowAny: true, pinCerts: ['00'.repeat(32)] }) }
    },
  },
  {
    name: 'wrong_usage',
    alert: 'unsupported_certificate',
    client: 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
    async make({ ca }) {
      return { client: await leaf(ca, 'web', { usage: 'server' }) }
    },
  },
  {
    // The shared fixture whose leaf signature was altered (its key is api's), under the
    // fixtures' root.
    name: 'bad_signature',
    alert: 'decrypt_error',
    client: 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
    otherTrust: true,
    async make() {
      const client = { identity: new Identity(fixture('tampered.chain.pem'), fixture('api.key.pem')) }
      return { client, trust: new TrustBundle(fixture('root.pem')) }
    },
  },
  {
    // A code no alert names goes out as certificate_unknown.
    name: 'chain_too_long',
    alert: 'certificate_unknown',
    client: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
    async make({ ca }) {
      const mid = await ca.createIntermediate()
      return { client: await leaf(mid, 'web'), policy: new Policy({ allowAny: true, maxIntermediates: 0 }) }
    },
  },
]

for (const c of cases) {
  test(`refusal ${c.name}: the client gets ${c.alert}, the server reports ${c.name} once`, async () => {
    const w = await world()
    const made = await c.make(w)
    const verifier = new Verifier(made.trust ?? w.bundle, made.policy ?? Policy.allowAny())
    const { srv, seen, refused, other, port } = await server(w.api.identity, verifier)
    try {
      assert.equal(serverVerification(srv).mode, 'handshake')
      const r = await plainClient(port, w.ca.rootPem, made.client.identity.pem())
      assert.equal(r.error, c.client)
      assert.notEqual(r.data, 'hello')
      assert.equal(seen.length, 0)
      assert.equal(refused.length, 1)
      assert.equal(refused[0].code, c.name)
      assert.equal(refused[0].family, 'verification')
      assert.equal(refused[0].alert, c.alert)
      assert.equal(other.length, 0)
      // The same server still admits a good client, with the core's verdict.
      const good = await leaf(w.ca, 'web')
      const ok = await plainClient(port, w.ca.rootPem, good.identity.pem())
      if (c.name !== 'not_pinned' && !c.otherTrust) {
        assert.equal(ok.data, 'hello')
        assert.equal(peerIdentity(seen[0]).spiffeId, `spiffe://${TD}/service/web`)
      }
    } finally {
      srv.close()
    }
  })
}

test('refusal no_certificate: OpenSSL sends certificate_required, the server reports no_certificate', async () => {
  const w = await world()
  const { srv, seen, refused, port } = await server(w.api.identity, new Verifier(w.bundle, Policy.allowAny()))
  try {
    const r = await plainClient(port, w.ca.rootPem, null)
    assert.equal(r.error, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    assert.equal(seen.length, 0)
    assert.deepEqual(refused.map((e) => [e.code, e.alert]), [['no_certificate', 'certificate_required']])
  } finally {
    srv.close()
  }
})

test('refusal without a peerRejected listener: one warning line with the code, nothing thrown', async () => {
  const w = await world()
  const intruder = await leaf(w.ca, 'intruder')
  const verifier = new Verifier(w.bundle, new Policy({ allowIds: [`spiffe://${TD}/service/web`] }))
  const srv = createServer(w.api.identity, verifier, () => assert.fail('the app saw a refused client'))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const lines = []
  const warn = console.warn
  console.warn = (...args) => lines.push(args.join(' '))
  try {
    const r = await plainClient(srv.address().port, w.ca.rootPem, intruder.identity.pem())
    assert.equal(r.error, 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED')
    await new Promise((r) => setImmediate(r))
    assert.equal(lines.length, 1)
    assert.match(lines[0], /^meshtls: refused .*: identity_not_allowed \(alert access_denied\): /)
    assert.ok(!lines[0].includes('\n'))
  } finally {
    console.warn = warn
    srv.close()
  }
})

test('https: a refused client gets the alert, a member gets its answer', async () => {
  const w = await world()
  const verifier = new Verifier(w.bundle, new Policy({ allowIds: [`spiffe://${TD}/service/web`] }))
  const srv = createHttpsServer(w.api.identity, verifier, (req, res) => res.end(peerIdentity(req.socket).spiffeId))
  const refused = []
  srv.on('peerRejected', (err) => refused.push(err.code))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const get = (client) =>
    new Promise((resolve) => {
      const req = https.request(
        { host: '127.0.0.1', port: srv.address().port, ca: w.ca.rootPem, ...client, agent: false, checkServerIdentity: () => undefined },
        (res) => {
          let b = ''
          res.on('data', (d) => (b += d))
          res.on('end', () => resolve({ body: b }))
        },
      )
      req.on('error', (err) => resolve({ error: err.code }))
      req.end()
    })
  try {
    const web = (await leaf(w.ca, 'web')).identity.pem()
    const intruder = (await leaf(w.ca, 'intruder')).identity.pem()
    assert.deepEqual(await get({ cert: web.chainPem, key: web.keyPem }), { body: `spiffe://${TD}/service/web` })
    assert.deepEqual(await get({ cert: intruder.chainPem, key: intruder.keyPem }), { error: 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED' })
    assert.deepEqual(refused, ['identity_not_allowed'])
  } finally {
    srv.close()
  }
})

test('a resumed session (no certificate in the handshake) is verified by the core again', async () => {
  const w = await world()
  const web = await leaf(w.ca, 'web')
  const verifier = new Verifier(w.bundle, Policy.allowAny())
  const { srv, seen, refused, port } = await server(w.api.identity, verifier)
  try {
    const pem = web.identity.pem()
    const first = tls.connect({ host: '127.0.0.1', port, ca: w.ca.rootPem, cert: pem.chainPem, key: pem.keyPem, checkServerIdentity: () => undefined })
    const { args } = await once(first, 'session')
    first.end()
    const session = args[0]
    const again = tls.connect({ host: '127.0.0.1', port, ca: w.ca.rootPem, cert: pem.chainPem, key: pem.keyPem, session, checkServerIdentity: () => undefined })
    await once(again, 'secureConnect')
    again.write('x')
    await once(again, 'data')
    assert.equal(again.isSessionReused(), true)
    assert.equal(seen.length, 2)
    assert.equal(peerIdentity(seen[1]).spiffeId, `spiffe://${TD}/service/web`)
    again.end()
    assert.equal(refused.length, 0)
  } finally {
    srv.close()
  }
})

test('openssl s_client refused by policy reads alert 49 (access_denied)', async () => {
  const w = await world()
  const dir = mkdtempSync(path.join(tmpdir(), 'meshtls-node-'))
  const intruder = (await leaf(w.ca, 'intruder')).identity.pem()
  writeFileSync(path.join(dir, 'c.pem'), intruder.chainPem)
  writeFileSync(path.join(dir, 'k.pem'), intruder.keyPem)
  const verifier = new Verifier(w.bundle, new Policy({ allowIds: [`spiffe://${TD}/service/web`] }))
  const { srv, refused, port } = await server(w.api.identity, verifier)
  try {
    const out = await new Promise((resolve) => {
      const child = execFile(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-cert', path.join(dir, 'c.pem'), '-key', path.join(dir, 'k.pem'), '-ign_eof'],
        { timeout: 10000 },
        (err, stdout, stderr) => resolve(stdout + stderr),
      )
      child.stdin.end()
    })
    assert.match(out, /alert access denied|SSL alert number 49/)
    assert.deepEqual(refused.map((e) => e.code), ['identity_not_allowed'])
  } finally {
    srv.close()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a context from your own SNICallback is covered too: the refusal still carries its alert', async () => {
  const w = await world()
  const verifier = new Verifier(w.bundle, new Policy({ allowIds: [`spiffe://${TD}/service/web`] }))
  const pem = w.api.identity.pem()
  // The application's own context for `localhost`, not made by meshtls: OpenSSL still asks the
  // verifier of the server's context.
  const own = tls.createSecureContext({ cert: pem.chainPem, key: pem.keyPem, ca: w.ca.rootPem, minVersion: 'TLSv1.3' })
  const seen = []
  const refused = []
  const srv = createServer(w.api.identity, verifier, { SNICallback: (_name, cb) => cb(null, own) }, (socket) => {
    seen.push(socket)
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => {})
  })
  srv.on('peerRejected', (err) => refused.push(err))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const viaSni = (client) =>
    new Promise((resolve) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: srv.address().port, servername: 'localhost', ca: w.ca.rootPem, cert: client.chainPem, key: client.keyPem },
        () => socket.write('hello'),
      )
      let data = ''
      socket.on('data', (d) => {
        data += d
        socket.end()
      })
      socket.on('error', (err) => resolve({ data, error: err.code }))
      socket.on('close', () => resolve({ data }))
    })
  try {
    const intruder = await viaSni((await leaf(w.ca, 'intruder')).identity.pem())
    assert.equal(intruder.error, 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED')
    assert.equal(seen.length, 0)
    assert.deepEqual(refused.map((e) => [e.code, e.alert]), [['identity_not_allowed', 'access_denied']])
    const web = await viaSni((await leaf(w.ca, 'web')).identity.pem())
    assert.equal(web.data, 'hello')
    assert.equal(peerIdentity(seen[0]).spiffeId, `spiffe://${TD}/service/web`)
  } finally {
    srv.close()
  }
})

test('a resumed session of a peer revoked since is refused by the core after the handshake', async () => {
  const w = await world()
  const web = await leaf(w.ca, 'web')
  const trust = new Trust(new Verifier(w.bundle, Policy.allowAny()))
  const { srv, seen, refused, port } = await server(w.api.identity, trust)
  try {
    const pem = web.identity.pem()
    const options = { host: '127.0.0.1', port, ca: w.ca.rootPem, cert: pem.chainPem, key: pem.keyPem, checkServerIdentity: () => undefined }
    const first = tls.connect(options)
    const { args } = await once(first, 'session')
    first.end()
    // Revoked after its first handshake; it comes back with its session (no certificate sent).
    const list = new RevocationList()
    list.revoke(web.issued.serial, 'key_compromise')
    const revoking = new TrustBundle(w.ca.rootPem)
    revoking.addCrl(w.ca.buildCrl(list, { number: 1 }).der)
    trust.replace(new Verifier(revoking, Policy.allowAny()))
    const again = tls.connect({ ...options, session: args[0] })
    let reused
    const r = await new Promise((resolve) => {
      again.on('secureConnect', () => {
        reused = again.isSessionReused()
        again.write('x')
      })
      again.on('data', (d) => resolve({ data: String(d) }))
      again.on('error', (err) => resolve({ error: err.code }))
      again.on('close', () => resolve({ closed: true }))
    })
    assert.equal(reused, true)
    assert.equal(r.data, undefined)
    assert.equal(seen.length, 1)
    assert.deepEqual(refused.map((e) => [e.code, e.alert]), [['revoked', undefined]])
  } finally {
    srv.close()
  }
})

test('TLS 1.2 (allowTls12): the core decides in the handshake too, and its verdict reaches the app', async () => {
  const w = await world()
  const verifier = new Verifier(w.bundle, new Policy({ allowIds: [`spiffe://${TD}/service/web`] }))
  const seen = []
  const refused = []
  const protocols = []
  const srv = createServer(w.api.identity, verifier, { allowTls12: true }, (socket) => {
    seen.push(socket)
    protocols.push(socket.getProtocol())
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => {})
  })
  srv.on('peerRejected', (err) => refused.push(err))
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const tls12 = (client) =>
    new Promise((resolve) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: srv.address().port, maxVersion: 'TLSv1.2', ca: w.ca.rootPem, cert: client.chainPem, key: client.keyPem, checkServerIdentity: () => undefined },
        () => socket.write('hello'),
      )
      let data = ''
      socket.on('data', (d) => {
        data += d
        socket.end()
      })
      socket.on('error', (err) => resolve({ data, error: err.code }))
      socket.on('close', () => resolve({ data }))
    })
  try {
    const intruder = await tls12((await leaf(w.ca, 'intruder')).identity.pem())
    assert.equal(intruder.error, 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED')
    assert.deepEqual(refused.map((e) => e.code), ['identity_not_allowed'])
    const web = await tls12((await leaf(w.ca, 'web')).identity.pem())
    assert.equal(web.data, 'hello')
    assert.deepEqual(protocols, ['TLSv1.2'])
    assert.equal(peerIdentity(seen[0]).spiffeId, `spiffe://${TD}/service/web`)
    assert.equal(seen.length, 1)
  } finally {
    srv.close()
  }
})

test('serverVerification: a server you build and guard is hooked too; an unguarded one is not', async () => {
  const w = await world()
  const verifier = new Verifier(w.bundle, Policy.allowAny())
  const own = guardServer(tls.createServer(tlsServerOptions(w.api.identity, verifier)), w.api.identity, verifier)
  assert.deepEqual(serverVerification(own), { mode: 'handshake', exactAlerts: true, openssl: process.versions.openssl.replace(/[a-z+].*$/, '') })
  assert.equal(serverVerification(tls.createServer({})), undefined)
})

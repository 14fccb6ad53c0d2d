// One TLS profile (net::profile, through tlsProfile()): the Node helpers offer and accept what
// the Rust transport does. Tested against real OpenSSL peers (`openssl s_client` and
// `s_server`) offering one suite each: a CBC suite and a finite-field DHE suite are refused
// even with TLS 1.2 allowed (a plain Node server with the same certificate accepts both, so
// the peers are not refused for another reason), TLS 1.2 ECDHE + AEAD is accepted only when
// opted in.
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { after, before, test } from 'node:test'

import { Authority, Identity, Policy, TrustBundle, Verifier, connect, createServer, tlsProfile } from '../index.mjs'
import { TD } from './helpers.mjs'

const CBC = 'ECDHE-ECDSA-AES128-SHA'
const DHE = 'DHE-RSA-AES128-GCM-SHA256'
const AEAD12 = 'ECDHE-ECDSA-AES128-GCM-SHA256'

let dir
let w
before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'meshtls-profile-'))
  const ca = await Authority.createRoot({ trustDomain: TD })
  const issue = async (name, key) => {
    const issued = await ca.issue({ id: `spiffe://${TD}/service/${name}`, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], key, usage: 'both' })
    const files = { chain: path.join(dir, `${name}.chain.pem`), key: path.join(dir, `${name}.key.pem`) }
    writeFileSync(files.chain, issued.chainPem)
    writeFileSync(files.key, issued.keyPem)
    return { issued, identity: new Identity(issued), files }
  }
  const root = path.join(dir, 'root.pem')
  writeFileSync(root, ca.rootPem)
  w = {
    ca,
    root,
    verifier: new Verifier(new TrustBundle(ca.rootPem), Policy.allowAny()),
    ec: await issue('ec'),
    rsa: await issue('rsa', 'rsa-2048'),
    web: await issue('web'),
  }
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('tlsProfile: TLS 1.3 only by default; TLS 1.2 adds only ECDHE + AEAD suites', () => {
  const strict = tlsProfile()
  assert.equal(strict.minVersion, 'TLSv1.3')
  assert.equal(strict.maxVersion, 'TLSv1.3')
  assert.equal(strict.ciphers, 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256')
  assert.equal(strict.ecdhCurve, 'X25519:P-256:P-384')
  const relaxed = tlsProfile(true)
  assert.equal(relaxed.minVersion, 'TLSv1.2')
  const tls12 = relaxed.ciphers.split(':').filter((c) => !c.startsWith('TLS_'))
  assert.equal(tls12.length, 6)
  for (const c of tls12) assert.match(c, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/)
})

/** `openssl s_client` offering one TLS 1.2 suite; resolves with its output. */
function sClient(port, cipher, who, extra = []) {
  return new Promise((resolve) => {
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', cipher, '-CAfile', w.root, ...extra]
    if (who) args.push('-cert', who.files.chain, '-key', who.files.key)
    const child = execFile('openssl', args, { timeout: 10000 }, (err, stdout, stderr) => resolve(stdout + stderr))
    child.stdin.end()
  })
}

/** A server, its TLS sessions (`[protocol, cipher]`) and handshake failures. */
async function listen(make) {
  const sessions = []
  const failures = []
  const server = make((socket) => {
    sessions.push([socket.getProtocol(), socket.getCipher().standardName])
    socket.on('error', () => {})
    socket.end()
  })
  server.on('tlsClientError', (err) => failures.push(err.code))
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { server, sessions, failures, port: server.address().port }
}

test('control: a plain Node server (TLS 1.2 allowed, DH on) accepts the CBC and the DHE suite', async () => {
  for (const [who, cipher] of [[w.ec, CBC], [w.rsa, DHE]]) {
    const pem = who.identity.pem()
    const s = await listen((l) => tls.createServer({ cert: pem.chainPem, key: pem.keyPem, minVersion: 'TLSv1.2', dhparam: 'auto' }, l))
    try {
      const out = await sClient(s.port, cipher, null)
      assert.match(out, new RegExp(`Cipher is ${cipher}`))
      assert.equal(s.sessions.length, 1)
    } finally {
      s.server.close()
    }
  }
})

test('server with allowTls12 refuses a client offering only a CBC suite or only a DHE suite', async () => {
  for (const [who, cipher] of [[w.ec, CBC], [w.rsa, DHE]]) {
    // dhparam given by the application: the profile's suites still leave DHE out.
    const s = await listen((l) => createServer(who.identity, w.verifier, { allowTls12: true, dhparam: 'auto' }, l))
    try {
      const out = await sClient(s.port, cipher, w.web)
      assert.doesNotMatch(out, new RegExp(`Cipher is ${cipher}`))
      assert.match(out, /handshake failure|no shared cipher|alert number 40/)
      assert.equal(s.sessions.length, 0)
      assert.deepEqual(s.failures, ['ERR_SSL_NO_SHARED_CIPHER'])
    } finally {
      s.server.close()
    }
  }
})

test('server: TLS 1.2 ECDHE-AEAD is accepted with allowTls12 and refused without', async () => {
  const relaxed = await listen((l) => createServer(w.ec.identity, w.verifier, { allowTls12: true }, l))
  try {
    const out = await sClient(relaxed.port, AEAD12, w.web)
    assert.match(out, new RegExp(`Cipher is ${AEAD12}`))
    assert.deepEqual(relaxed.sessions, [['TLSv1.2', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256']])
  } finally {
    relaxed.server.close()
  }
  const strict = await listen((l) => createServer(w.ec.identity, w.verifier, l))
  try {
    const out = await sClient(strict.port, AEAD12, w.web)
    assert.doesNotMatch(out, new RegExp(`Cipher is ${AEAD12}`))
    assert.match(out, /protocol version|alert number 70/)
    assert.equal(strict.sessions.length, 0)
    assert.deepEqual(strict.failures, ['ERR_SSL_UNSUPPORTED_PROTOCOL'])
  } finally {
    strict.server.close()
  }
})

/** `openssl s_server` offering one TLS 1.2 suite, requiring a client certificate. */
async function sServer(who, cipher) {
  const child = spawn('openssl', [
    's_server', '-accept', '127.0.0.1:0', '-tls1_2', '-cipher', cipher, '-cert', who.files.chain, '-key', who.files.key,
    '-Verify', '1', '-CAfile', w.root, '-verify_return_error', '-naccept', '1',
  ])
  const port = await new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`s_server did not start: ${out}`)), 10000)
    child.stdout.on('data', (d) => {
      out += d
      const m = out.match(/ACCEPT 127\.0\.0\.1:(\d+)/)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
  })
  return { port, stop: () => child.kill() }
}

function clientResult(port, options) {
  return new Promise((resolve) => {
    const socket = connect(w.web.identity, w.verifier, { host: '127.0.0.1', port, ...options })
    socket.on('secureConnect', () => {
      const r = { protocol: socket.getProtocol(), cipher: socket.getCipher().name }
      socket.destroy()
      resolve(r)
    })
    socket.on('error', (err) => resolve({ error: err.code }))
  })
}

test('client with allowTls12 refuses a server offering only a CBC suite or only a DHE suite', async () => {
  for (const [who, cipher] of [[w.ec, CBC], [w.rsa, DHE]]) {
    // Control: a plain Node client (TLS 1.2 allowed, Node's default suites) gets that suite.
    const control = await sServer(who, cipher)
    try {
      const pem = w.web.identity.pem()
      const got = await new Promise((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: control.port, minVersion: 'TLSv1.2', ca: w.ca.rootPem, cert: pem.chainPem, key: pem.keyPem, checkServerIdentity: () => undefined }, () => {
          resolve(s.getCipher().name)
          s.destroy()
        })
        s.on('error', (err) => resolve(err.code))
      })
      assert.equal(got, cipher)
    } finally {
      control.stop()
    }
    const s = await sServer(who, cipher)
    try {
      const r = await clientResult(s.port, { allowTls12: true })
      assert.equal(r.protocol, undefined)
      assert.equal(r.error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE')
    } finally {
      s.stop()
    }
  }
})

test('client: TLS 1.2 ECDHE-AEAD from s_server is accepted with allowTls12 and refused without', async () => {
  const a = await sServer(w.ec, AEAD12)
  try {
    assert.deepEqual(await clientResult(a.port, { allowTls12: true }), { protocol: 'TLSv1.2', cipher: AEAD12 })
  } finally {
    a.stop()
  }
  const b = await sServer(w.ec, AEAD12)
  try {
    const r = await clientResult(b.port, {})
    assert.equal(r.protocol, undefined)
    assert.equal(r.error, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION')
  } finally {
    b.stop()
  }
})

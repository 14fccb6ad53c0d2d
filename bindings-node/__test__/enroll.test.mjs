// The enrollment client against a real `meshtls serve` (the CLI binary, a throwaway CA).
import assert from 'node:assert/strict'
import { spawn, execFile, execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as delay } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { createInterface } from 'node:readline'

import {
  Authority,
  Identity,
  Policy,
  RotationPolicy,
  WssServer,
  enroll,
  peerIdentity,
  resume,
  Trust,
  TrustBundle,
  Verifier,
  wssConnect,
} from '../index.mjs'
import { echoServer, exchange } from './helpers.mjs'

const BIN = process.env.MESHTLS_CLI ?? resolve(import.meta.dirname, '../../target/debug/meshtls')
const PASS = 'correct horse battery staple'
const ADMIN = 'spiffe://mesh.internal/admin/ops'
const NODE = 'spiffe://mesh.internal/service/api'
const WEB = 'spiffe://mesh.internal/service/web'
const OTHER = 'spiffe://mesh.internal/service/other'
const env = { ...process.env, MESHTLS_CA_PASSPHRASE: PASS }
const skip = existsSync(BIN) ? false : `${BIN} not built (cargo build -p meshtls-cli)`

let dir, bundle
// `serve` issues 24 h certificates; `short` 60 s ones (the shortest the core issues, +60 s
// backdating), for the renewal schedule. Same CA key, separate CA directories and ledgers.
let serve, short

/** Starts `meshtls serve` on a free port; resolves to { child, port } once it listens. */
function startServe(...extra) {
  return startServeOn('127.0.0.1:0', ...extra)
}

/**
 * The CA directory of a service: `ca`, or for a service with a ledger of its own (`--db`) a
 * copy of its key and certificate, since a CA directory is bound to one ledger (a second
 * ledger for it is refused as foreign).
 */
function caFor(extra) {
  const i = extra.indexOf('--db')
  if (i < 0) return join(dir, 'ca')
  const copy = join(dir, `ca-${basename(extra[i + 1])}`)
  if (!existsSync(copy)) {
    mkdirSync(copy)
    for (const f of ['ca.crt', 'ca.key', 'revocations.txt']) {
      if (existsSync(join(dir, 'ca', f))) copyFileSync(join(dir, 'ca', f), join(copy, f))
    }
  }
  return copy
}

/** Starts `meshtls serve` listening on `listen`; resolves to { child, port } once it listens. */
async function startServeOn(listen, ...extra) {
  const child = spawn(
    BIN,
    ['serve', '--ca', caFor(extra), '--listen', listen, '--admin-id', ADMIN, ...extra],
    { env, stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const line = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('meshtls serve did not start')), 30000)
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer)
      ok(l)
    })
    child.once('exit', (code) => fail(new Error(`meshtls serve exited: ${code}`)))
  })
  assert.match(line, /^listening on /)
  return { child, port: Number(line.trim().split(':').pop()) }
}

before(async () => {
  if (skip) return
  dir = mkdtempSync(join(tmpdir(), 'meshtls-enroll-'))
  const cli = (...args) => execFileSync(BIN, args, { env, stdio: 'pipe', timeout: 30000 })
  cli('ca', 'init', '--trust-domain', 'mesh.internal', '--out', join(dir, 'ca'))
  cli('issue', '--ca', join(dir, 'ca'), '--id', ADMIN, '--usage', 'client', '--out', join(dir, 'admin'))
  bundle = readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8')
  serve = await startServe()
  short = await startServe('--lifetime', '60s', '--db', `sqlite:${join(dir, 'short.db')}`)
})

after(() => {
  serve?.child.kill('SIGKILL')
  short?.child.kill('SIGKILL')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** POST /v1/tokens as the admin, over mTLS with Node's own TLS. */
function mint(identity, port = serve.port) {
  return new Promise((ok, fail) => {
    const req = request(
      {
        host: 'localhost',
        port,
        path: '/v1/tokens',
        method: 'POST',
        ca: bundle,
        cert: readFileSync(join(dir, 'admin', 'chain.pem')),
        key: readFileSync(join(dir, 'admin', 'key.pem')),
        minVersion: 'TLSv1.3',
        headers: { 'content-type': 'application/json' },
        timeout: 30000,
      },
      (res) => {
        let body = ''
        res.on('data', (c) => (body += c))
        res.on('end', () => (res.statusCode === 201 ? ok(JSON.parse(body).token) : fail(new Error(body))))
      },
    )
    req.on('error', fail)
    req.end(JSON.stringify({ identity }))
  })
}

const url = (port = serve.port) => `https://localhost:${port}`

/** `meshtls admin revoke` through the service: the CRL it serves lists `serial` at once. */
async function revoke(serial, port = serve.port) {
  await promisify(execFile)(
    BIN,
    ['admin', 'revoke', '--url', url(port), '--cert', join(dir, 'admin'), '--bundle', join(dir, 'ca', 'ca.crt'), '--serial', serial],
    { env, timeout: 30000 },
  )
}

/** Calls `attempt` until it returns something other than `undefined` (every 100 ms, for at
 * most `ms`); rejects saying what did not happen. */
async function poll(attempt, ms, what) {
  const deadline = Date.now() + ms
  for (;;) {
    const out = await attempt()
    if (out !== undefined) return out
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await delay(100)
  }
}

test('enroll, renew, refresh, and use the identity on native wss', { skip, timeout: 60000 }, async () => {
  const token = await mint(NODE)
  const node = await enroll(url(), token, NODE, { caBundle: bundle })
  assert.equal(node.spiffeId, NODE)
  assert.equal(node.certificate.spiffeId, NODE)
  assert.equal(node.identity.certificate.serial, node.serial)
  assert.match(node.chainPem, /^-----BEGIN CERTIFICATE-----/)
  // The key is handed to Node's TLS on request: the core accepts the pair as one identity.
  assert.match(node.identity.keyPem, /^-----BEGIN PRIVATE KEY-----/)
  const { chainPem, keyPem } = node.identity.pem()
  assert.equal(new Identity(chainPem, keyPem).certificate.serial, node.serial)
  const first = node.serial
  assert.equal(await node.renewNow(), 1)
  assert.notEqual(node.serial, first)
  assert.equal(node.identity.certificate.serial, node.serial)
  await node.refreshTrust()
  assert.equal(node.staleCrlRefusals, 0, "the service's CRLs only move forward")

  const verifier = node.verifier()
  const server = await WssServer.listen(node.identity, verifier, '127.0.0.1:0')
  const accepted = server.accept()
  const conn = await wssConnect(node.identity, verifier, `wss://127.0.0.1:${server.port}/`)
  assert.equal(conn.peer.spiffeId, NODE)
  const remote = await accepted
  await conn.send('hi')
  assert.equal(await remote.recv(), 'hi')
  await conn.close()
  server.close()
  node.close()
})

test('reused, unknown and foreign tokens reject with the service code', { skip, timeout: 60000 }, async () => {
  const token = await mint('spiffe://mesh.internal/worker/*')
  await enroll(url(), token, 'spiffe://mesh.internal/worker/a', { caBundle: bundle })
  await assert.rejects(enroll(url(), token, 'spiffe://mesh.internal/worker/b', { caBundle: bundle }), {
    code: 'token_used',
    family: 'request',
    status: 403,
  })
  await assert.rejects(enroll(url(), '0'.repeat(64), NODE, { caBundle: bundle }), { code: 'token_invalid' })
  const other = await mint('spiffe://mesh.internal/worker/c')
  await assert.rejects(enroll(url(), other, NODE, { caBundle: bundle }), { code: 'not_authorized' })
  // Arguments the core refuses throw before anything is sent.
  assert.throws(() => enroll(url(), other, 'not an id', { caBundle: bundle }), { code: 'malformed' })
})

test('a service outside the bundle is refused without burning the token', { skip, timeout: 60000 }, async () => {
  const rogue = (await Authority.createRoot({ trustDomain: 'mesh.internal' })).rootPem
  const token = await mint(NODE)
  // Not "unreachable": the core refused the service's certificate, and says why.
  await assert.rejects(enroll(url(), token, NODE, { caBundle: rogue, timeoutSeconds: 10 }), (e) => {
    assert.equal(e.code, 'unknown_issuer')
    assert.equal(e.family, 'verification')
    assert.ok(e.status == null, 'no service answered with a status')
    assert.ok(!/unreachable|Error \{|Other\(/.test(e.message), e.message)
    return true
  })
  // The option limits are net's, the same in every binding.
  assert.throws(() => enroll(url(), token, NODE, { caBundle: bundle, timeoutSeconds: 0 }), { code: 'invalid_request' })
  assert.throws(() => enroll(url(), token, NODE, { caBundle: bundle, refreshEverySeconds: 0 }), { code: 'invalid_request' })
  await assert.rejects(enroll('http://localhost:1', token, NODE, { caBundle: bundle }), { code: 'invalid_request' })
  const node = await enroll(url(), token, NODE, { caBundle: bundle })
  assert.equal(node.spiffeId, NODE)
})

// On the `short` service (60 s leaves, backdated 60 s): due 2 s after each issuance.
const SOON = RotationPolicy.beforeExpiry(58).withJitter(0)

/** Resolves with `promise`, or rejects after `ms` saying what did not happen. */
function within(promise, ms, what) {
  let timer
  const timeout = new Promise((_, fail) => {
    timer = setTimeout(() => fail(new Error(`timed out: ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Records `onRotation` events (with the serial the identity presented when each arrived);
 * `until(pred)` resolves with the first recorded event matching `pred`. */
function rotationLog() {
  const events = []
  const waiting = []
  const log = {
    node: null,
    events,
    onRotation(e) {
      events.push({ ...e, presented: log.node?.serial })
      for (const w of waiting.splice(0)) {
        const hit = events.find(w.pred)
        if (hit) w.ok(hit)
        else waiting.push(w)
      }
    },
    until(pred, what, ms = 30000) {
      const hit = events.find(pred)
      if (hit) return Promise.resolve(hit)
      return within(new Promise((ok) => waiting.push({ pred, ok })), ms, what)
    },
  }
  return log
}

test('the driver renews by itself; onRotation and a Node tls server see the new serial', { skip, timeout: 60000 }, async () => {
  const log = rotationLog()
  const token = await mint(NODE, short.port)
  const node = await enroll(url(short.port), token, NODE, { caBundle: bundle, rotation: SOON, onRotation: log.onRotation })
  log.node = node
  const first = node.serial
  const web = await enroll(url(), await mint(WEB), WEB, { caBundle: bundle })
  const { server, port } = await echoServer(node.identity, node.verifier())
  try {
    const renewed = await log.until((e) => e.kind === 'renewed', 'a renewal by the driver')
    assert.notEqual(renewed.serial, first)
    assert.equal(renewed.presented, renewed.serial)
    assert.ok(renewed.notAfter instanceof Date && renewed.notAfter > new Date())
    const expiring = log.events.find((e) => e.kind === 'expiring')
    assert.equal(expiring.serial, first)
    assert.equal(expiring.expired, false)
    assert.ok(log.events.indexOf(expiring) < log.events.indexOf(renewed))
    assert.deepEqual(log.events.filter((e) => e.kind === 'failed'), [])
    // The server was built from the first certificate; the guard refreshed its context.
    const r = await exchange(web.identity, web.verifier(), port)
    assert.equal(r.data, 'hello')
    assert.notEqual(r.peer.serial, first)
    const renewedSerials = log.events.filter((e) => e.kind === 'renewed').map((e) => e.serial)
    assert.ok(renewedSerials.includes(r.peer.serial), `${r.peer.serial} in ${renewedSerials}`)
  } finally {
    server.close()
    node.close()
    web.close()
  }
  assert.equal(node.closed, true)
  assert.throws(() => node.renewNow(), { code: 'invalid_request' })
  assert.throws(() => node.refreshTrust(), { code: 'invalid_request' })
  // Closed: no renewal for more than one period (an observation window, not a sync point).
  const generation = node.generation
  const last = node.serial
  const seen = log.events.length
  await new Promise((ok) => setTimeout(ok, 3500))
  assert.equal(node.generation, generation)
  assert.equal(node.serial, last)
  // An event queued just before close() may still arrive; none may come from a later renewal.
  const late = log.events.slice(seen).filter((e) => e.kind === 'renewed' && e.serial !== last)
  assert.deepEqual(late, [])
})

test('an onRotation that throws does not stop renewals or crash the process', { skip, timeout: 60000 }, async () => {
  let renewals = 0
  let twice
  const renewedTwice = new Promise((ok) => (twice = ok))
  let warned
  const warning = new Promise((ok) => (warned = ok))
  const onWarning = (w) => {
    if (/onRotation threw: boom renewed/.test(w.message)) warned(w)
  }
  process.on('warning', onWarning)
  const token = await mint(NODE, short.port)
  const node = await enroll(url(short.port), token, NODE, {
    caBundle: bundle,
    rotation: SOON,
    onRotation(e) {
      if (e.kind === 'renewed' && ++renewals === 2) twice()
      throw new Error(`boom ${e.kind}`)
    },
  })
  try {
    await within(renewedTwice, 30000, 'two renewals with a throwing onRotation')
    assert.ok(node.generation >= 2)
    const w = await within(warning, 5000, 'the process warning')
    assert.match(w.message, /^meshtls: onRotation threw: boom renewed/)
  } finally {
    node.close()
    process.off('warning', onWarning)
  }
})

test('a failed renewal is reported with its attempt and retry delay, and the identity kept', { skip, timeout: 60000 }, async () => {
  // A service of its own, stopped after enrollment: the driver's renewal cannot reach it.
  const gone = await startServe('--lifetime', '60s', '--db', `sqlite:${join(dir, 'gone.db')}`)
  const log = rotationLog()
  let node
  try {
    const token = await mint(NODE, gone.port)
    node = await enroll(url(gone.port), token, NODE, {
      caBundle: bundle,
      rotation: SOON,
      timeoutSeconds: 5,
      onRotation: log.onRotation,
    })
  } finally {
    gone.child.kill('SIGKILL')
  }
  try {
    const first = node.serial
    const failed = await log.until((e) => e.kind === 'failed', 'a failed renewal')
    assert.equal(failed.attempt, 1)
    assert.equal(failed.code, undefined) // the service was unreachable: no core verdict
    assert.match(failed.message, /^renew failed: CA service unreachable/)
    assert.equal(failed.retryInSeconds, 1)
    assert.equal(failed.serial, undefined)
    assert.equal(node.serial, first)
    assert.equal(node.generation, 0)
    await assert.rejects(node.renewNow(), { code: 'transport' })
  } finally {
    node.close()
  }
})

test('options of the wrong type throw synchronously', { skip, timeout: 60000 }, () => {
  const base = { caBundle: bundle }
  for (const bad of [
    { onRotation: 'not a function' },
    { peerPolicy: { allowIds: [WEB] } }, // a Policy, not its options
    { rotation: 0.5 },
  ]) {
    assert.throws(() => enroll(url(), 'token', NODE, { ...base, ...bad }), { code: 'InvalidArg' })
    assert.throws(() => resume(url(), { ...base, stateDir: dir, ...bad }), { code: 'InvalidArg' })
  }
})

test('resume picks up stateDir without a token, renews, and keeps the file current', { skip, timeout: 60000 }, async () => {
  const state = mkdtempSync(join(dir, 'state-'))
  const first = await enroll(url(), await mint(NODE), NODE, { caBundle: bundle, stateDir: state })
  const serial = first.serial
  assert.equal(statSync(join(state, 'identity.pem')).mode & 0o777, 0o600)
  first.close()

  const again = await resume(url(), { caBundle: bundle, stateDir: state })
  assert.equal(again.spiffeId, NODE)
  assert.equal(again.serial, serial)
  assert.equal(again.generation, 0)
  // Renewal is mTLS with the resumed identity: the service accepts it.
  assert.equal(await again.renewNow(), 1)
  const renewed = again.serial
  assert.notEqual(renewed, serial)
  again.close()

  const third = await resume(url(), { caBundle: bundle, stateDir: state })
  assert.equal(third.serial, renewed)
  third.close()
})

test('resume without a usable stateDir rejects with a code', { skip, timeout: 60000 }, async () => {
  const empty = mkdtempSync(join(dir, 'empty-'))
  await assert.rejects(resume(url(), { caBundle: bundle, stateDir: empty }), {
    code: 'invalid_request',
    message: /identity\.pem/,
  })
  await assert.rejects(resume(url(), { caBundle: bundle }), { code: 'invalid_request' })
  const damaged = mkdtempSync(join(dir, 'damaged-'))
  writeFileSync(join(damaged, 'identity.pem'), 'not a certificate\n')
  await assert.rejects(resume(url(), { caBundle: bundle, stateDir: damaged }), { code: 'malformed' })
})

test('peerPolicy decides whom the enrolled verifier accepts', { skip, timeout: 60000 }, async () => {
  const api = await enroll(url(), await mint(NODE), NODE, {
    caBundle: bundle,
    peerPolicy: new Policy({ allowIds: [WEB] }),
  })
  const web = await enroll(url(), await mint(WEB), WEB, { caBundle: bundle })
  const other = await enroll(url(), await mint(OTHER), OTHER, { caBundle: bundle })
  const { server, seen, rejected, port } = await echoServer(api.identity, api.verifier())
  try {
    assert.equal(api.verifier().verify(web.chainPem, { usage: 'client' }).spiffeId, WEB)
    assert.throws(() => api.verifier().verify(other.chainPem, { usage: 'client' }), {
      code: 'identity_not_allowed',
    })
    // Without peerPolicy the verifier allows the trust domain.
    assert.equal(web.verifier().verify(other.chainPem, { usage: 'client' }).spiffeId, OTHER)
    // Over a handshake: `other` is cut off by the core before the app sees it; `web` gets in.
    const r = await exchange(other.identity, other.verifier(), port)
    assert.notEqual(r.data, 'hello')
    assert.equal(seen.length, 0)
    assert.equal(rejected[0].code, 'identity_not_allowed')
    assert.equal((await exchange(web.identity, web.verifier(), port)).data, 'hello')
    assert.equal(peerIdentity(seen[0]).spiffeId, WEB)
  } finally {
    server.close()
    for (const n of [api, web, other]) n.close()
  }
})

test('trustFor gives a second server its own policy on the refreshed bundle and CRL', { skip, timeout: 60000 }, async () => {
  const api = await enroll(url(), await mint(NODE), NODE, { caBundle: bundle })
  const web = await enroll(url(), await mint(WEB), WEB, { caBundle: bundle })
  const other = await enroll(url(), await mint(OTHER), OTHER, { caBundle: bundle })
  try {
    const onlyWeb = api.trustFor(new Policy({ allowIds: [WEB] }))
    assert.ok(onlyWeb instanceof Trust)
    assert.equal(onlyWeb.verify(web.chainPem, { usage: 'client' }).spiffeId, WEB)
    assert.throws(() => onlyWeb.verify(other.chainPem, { usage: 'client' }), { code: 'identity_not_allowed' })
    assert.equal(api.trust.verify(other.chainPem, { usage: 'client' }).spiffeId, OTHER)

    const generation = onlyWeb.generation
    await revoke(web.serial)
    await api.refreshTrust()
    assert.equal(onlyWeb.generation, generation + 1)
    assert.throws(() => onlyWeb.verify(web.chainPem, { usage: 'client' }), { code: 'revoked' })
    assert.throws(() => api.trustFor({ allowIds: [WEB] }), { code: 'InvalidArg' }) // a Policy, not its options
  } finally {
    for (const n of [api, web, other]) n.close()
  }
  assert.throws(() => api.trustFor(new Policy({ allowIds: [WEB] })), { code: 'invalid_request' })
})

test('an enrolled identity on Node tls: both peers verified, renewNow reaches the next handshake', { skip, timeout: 60000 }, async () => {
  const api = await enroll(url(), await mint(NODE), NODE, { caBundle: bundle })
  const web = await enroll(url(), await mint(WEB), WEB, { caBundle: bundle })
  const { server, seen, port } = await echoServer(api.identity, api.verifier())
  try {
    const first = await exchange(web.identity, web.verifier(), port)
    assert.equal(first.data, 'hello')
    assert.equal(first.peer.spiffeId, NODE)
    assert.equal(first.peer.serial, api.serial)
    assert.equal(peerIdentity(seen[0]).spiffeId, WEB)
    assert.equal(peerIdentity(seen[0]).serial, web.serial)

    const before = { api: api.serial, web: web.serial }
    assert.equal(await api.renewNow(), 1)
    assert.equal(await web.renewNow(), 1)
    const second = await exchange(web.identity, web.verifier(), port)
    assert.equal(second.data, 'hello')
    assert.equal(second.peer.serial, api.serial)
    assert.notEqual(second.peer.serial, before.api)
    assert.equal(peerIdentity(seen[1]).serial, web.serial)
    assert.notEqual(peerIdentity(seen[1]).serial, before.web)
  } finally {
    server.close()
    api.close()
    web.close()
  }
})

test('a renewing identity with onRotation does not keep the process alive', { skip, timeout: 60000 }, async () => {
  const index = pathToFileURL(resolve(import.meta.dirname, '../index.mjs')).href
  const script = `
    import { enroll, RotationPolicy } from ${JSON.stringify(index)}
    const e = process.env
    const node = await enroll(e.MESHTLS_URL, e.MESHTLS_TOKEN, e.MESHTLS_ID, {
      caBundle: e.MESHTLS_BUNDLE,
      rotation: RotationPolicy.beforeExpiry(58).withJitter(0),
      onRotation() {},
    })
    console.log(node.serial)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      MESHTLS_URL: url(short.port),
      MESHTLS_TOKEN: await mint(NODE, short.port),
      MESHTLS_ID: NODE,
      MESHTLS_BUNDLE: bundle,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })))
  try {
    assert.deepEqual(await within(exited, 20000, 'the child process to exit'), { code: 0, signal: null })
  } finally {
    child.kill('SIGKILL')
  }
  assert.match(out.trim(), /^[0-9a-f]+$/)
})

test('a Node tls server built once from node.trust refuses a peer revoked later', { skip, timeout: 60000 }, async () => {
  const api = await enroll(url(), await mint(NODE), NODE, { caBundle: bundle, refreshEverySeconds: 1 })
  const web = await enroll(url(), await mint(WEB), WEB, { caBundle: bundle })
  const other = await enroll(url(), await mint(OTHER), OTHER, { caBundle: bundle })
  const trust = api.trust
  assert.ok(trust instanceof Trust)
  const { server, seen, rejected, port } = await echoServer(api.identity, trust)
  try {
    const first = await exchange(web.identity, web.verifier(), port)
    assert.equal(first.data, 'hello')
    assert.equal(peerIdentity(seen[0]).serial, web.serial)
    const generation = trust.generation

    await revoke(web.serial)
    // The schedule fetches the new CRL within a second or so; until then `web` still gets in.
    const refused = await poll(
      async () => {
        const r = await exchange(web.identity, web.verifier(), port)
        return r.data === 'hello' ? undefined : r
      },
      15000,
      'a handshake of the revoked peer refused',
    )
    assert.equal(refused.timeout, undefined)
    assert.equal(rejected.length, 1)
    assert.equal(rejected[0].code, 'revoked')
    assert.ok(seen.every((s) => peerIdentity(s).serial === web.serial))
    const admitted = seen.length
    assert.ok(trust.generation > generation)
    assert.throws(() => trust.verify(web.chainPem, { usage: 'client' }), { code: 'revoked' })

    // Only the revoked certificate: another peer still gets in, and `web` stays out.
    const r = await exchange(other.identity, other.verifier(), port)
    assert.equal(r.data, 'hello')
    assert.equal(peerIdentity(seen[admitted]).spiffeId, OTHER)
    assert.notEqual((await exchange(web.identity, web.verifier(), port)).data, 'hello')
    assert.equal(rejected.at(-1).code, 'revoked')
    assert.equal(seen.length, admitted + 1)
  } finally {
    server.close()
    for (const n of [api, web, other]) n.close()
  }
})

test('a CA rotation at the service (--bundle-extra) reaches the ca of a running Node tls server', { skip, timeout: 60000 }, async () => {
  const cli = (...args) => execFileSync(BIN, args, { env, stdio: 'pipe', timeout: 30000 })
  cli('ca', 'init', '--trust-domain', 'mesh.internal', '--out', join(dir, 'next'))
  cli('issue', '--ca', join(dir, 'next'), '--id', WEB, '--usage', 'client', '--out', join(dir, 'next-web'))
  const newcomer = new Identity(
    readFileSync(join(dir, 'next-web', 'chain.pem'), 'utf8'),
    readFileSync(join(dir, 'next-web', 'key.pem'), 'utf8'),
  )
  const db = `sqlite:${join(dir, 'rotation.db')}`
  let service = await startServe('--db', db)
  const servicePort = service.port
  const api = await enroll(url(servicePort), await mint(NODE, servicePort), NODE, { caBundle: bundle, refreshEverySeconds: 1 })
  const { server, seen, rejected, port } = await echoServer(api.identity, api.trust)
  const byCore = []
  server.on('peerRejected', (err) => byCore.push(err))
  const clientTrust = new Verifier(new TrustBundle(bundle), Policy.allowAny())
  try {
    assert.equal(api.trust.caPem.match(/BEGIN CERTIFICATE/g).length, 1)
    // Not in the trust yet: the core refuses the next CA's client in the handshake.
    assert.notEqual((await exchange(newcomer, clientTrust, port)).data, 'hello')
    assert.equal(byCore.length, 1)
    assert.equal(byCore[0].code, 'unknown_issuer')
    assert.equal(rejected.length, 1)

    // The operator starts the overlap: same CA, same ledger, same port, /v1/bundle with both.
    const exited = new Promise((ok) => service.child.once('exit', ok))
    service.child.kill('SIGKILL')
    await exited
    service = await startServeOn(`127.0.0.1:${servicePort}`, '--db', db, '--bundle-extra', join(dir, 'next', 'ca.crt'))
    await poll(
      () => (api.trust.caPem.match(/BEGIN CERTIFICATE/g).length === 2 ? true : undefined),
      15000,
      'the schedule fetching the bundle with both CAs',
    )
    // Same server, the next CA now in its trust: the core gets further. The service serves
    // its own CA's CRL only, so a leaf of the next CA has no revocation status and the core
    // fails closed.
    assert.notEqual((await exchange(newcomer, clientTrust, port)).data, 'hello')
    assert.equal(byCore.length, 2)
    assert.equal(byCore[1].code, 'revocation_unknown')
    assert.equal(seen.length, 0)
  } finally {
    server.close()
    api.close()
    service.child.kill('SIGKILL')
  }
})

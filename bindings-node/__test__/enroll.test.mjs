// The enrollment client against a real `meshtls serve` (the CLI binary, a throwaway CA).
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, test } from 'node:test'
import { createInterface } from 'node:readline'

import { Authority, Identity, WssServer, enroll, peerIdentity, wssConnect } from '../index.mjs'
import { echoServer, exchange } from './helpers.mjs'

const BIN = process.env.MESHTLS_CLI ?? resolve(import.meta.dirname, '../../target/debug/meshtls')
const PASS = 'correct horse battery staple'
const ADMIN = 'spiffe://mesh.internal/admin/ops'
const NODE = 'spiffe://mesh.internal/service/api'
const WEB = 'spiffe://mesh.internal/service/web'
const env = { ...process.env, MESHTLS_CA_PASSPHRASE: PASS }
const skip = existsSync(BIN) ? false : `${BIN} not built (cargo build -p meshtls-cli)`

let dir, child, port, bundle

before(async () => {
  if (skip) return
  dir = mkdtempSync(join(tmpdir(), 'meshtls-enroll-'))
  const cli = (...args) => execFileSync(BIN, args, { env, stdio: 'pipe', timeout: 30000 })
  cli('ca', 'init', '--trust-domain', 'mesh.internal', '--out', join(dir, 'ca'))
  cli('issue', '--ca', join(dir, 'ca'), '--id', ADMIN, '--usage', 'client', '--out', join(dir, 'admin'))
  bundle = readFileSync(join(dir, 'ca', 'ca.crt'), 'utf8')
  child = spawn(BIN, ['serve', '--ca', join(dir, 'ca'), '--listen', '127.0.0.1:0', '--admin-id', ADMIN], {
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const line = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('meshtls serve did not start')), 30000)
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer)
      ok(l)
    })
    child.once('exit', (code) => fail(new Error(`meshtls serve exited: ${code}`)))
  })
  assert.match(line, /^listening on /)
  port = Number(line.trim().split(':').pop())
})

after(() => {
  child?.kill('SIGKILL')
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** POST /v1/tokens as the admin, over mTLS with Node's own TLS. */
function mint(identity) {
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

const url = () => `https://localhost:${port}`

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
})

test('reused, unknown and foreign tokens reject with the service code', { skip, timeout: 60000 }, async () => {
  const token = await mint('spiffe://mesh.internal/worker/*')
  await enroll(url(), token, 'spiffe://mesh.internal/worker/a', { caBundle: bundle })
  await assert.rejects(enroll(url(), token, 'spiffe://mesh.internal/worker/b', { caBundle: bundle }), {
    code: 'token_used',
  })
  await assert.rejects(enroll(url(), '0'.repeat(64), NODE, { caBundle: bundle }), { code: 'token_invalid' })
  const other = await mint('spiffe://mesh.internal/worker/c')
  await assert.rejects(enroll(url(), other, NODE, { caBundle: bundle }), { code: 'identity_mismatch' })
  // Arguments the core refuses throw before anything is sent.
  assert.throws(() => enroll(url(), other, 'not an id', { caBundle: bundle }), { code: 'malformed' })
})

test('a service outside the bundle is refused without burning the token', { skip, timeout: 60000 }, async () => {
  const rogue = (await Authority.createRoot({ trustDomain: 'mesh.internal' })).rootPem
  const token = await mint(NODE)
  await assert.rejects(enroll(url(), token, NODE, { caBundle: rogue, timeoutSeconds: 10 }), { code: 'transport' })
  await assert.rejects(enroll('http://localhost:1', token, NODE, { caBundle: bundle }), { code: 'invalid_request' })
  const node = await enroll(url(), token, NODE, { caBundle: bundle })
  assert.equal(node.spiffeId, NODE)
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
  }
})

// Real peers over loopback: the Node gateway (Node stacks + meshtls) against the Rust
// meshtls-net wss echo server (net/examples/wss_echo_server.rs) and a Python wss peer
// (stdlib ssl + websockets), both directions for Python.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { WebSocket, WebSocketServer } from 'ws'

import { Authority, Policy, TrustBundle, Verifier, createHttpsServer, peerIdentity, tlsClientOptions } from '../index.mjs'
import { identity, once, TD } from './helpers.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '../..')
const targetDir = process.env.CARGO_TARGET_DIR || path.join(repo, 'target')
const rustServer = process.env.MESHTLS_WSS_ECHO_SERVER || path.join(targetDir, 'debug/examples/wss_echo_server')
const python = process.env.PYTHON || 'python3'
const hasWebsockets = spawnSync(python, ['-c', 'import websockets']).status === 0

/** Spawns a peer and resolves with it once a stdout line matches `ready`. */
function start(cmd, args, ready) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  const waiters = []
  const rl = readline.createInterface({ input: child.stdout })
  rl.on('line', (line) => {
    lines.push(line)
    for (const w of waiters.splice(0)) w()
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const waitFor = (re, ms = 10000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line ${re} from ${cmd}: ${lines.join('\n')}\n${stderr}`)), ms)
      const check = () => {
        const hit = lines.find((l) => re.test(l))
        if (hit) {
          clearTimeout(timer)
          resolve(hit.match(re))
        } else waiters.push(check)
      }
      check()
    })
  return waitFor(ready).then((m) => ({ child, match: m, waitFor, stderr: () => stderr }))
}

function files(dir, entries) {
  for (const [name, text] of Object.entries(entries)) writeFileSync(path.join(dir, name), text)
}

/** Opens a wss client with Node's ws + meshtls, sends ping, resolves with the reply or error. */
function wsPing(url, options) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options)
    const timer = setTimeout(() => {
      ws.terminate()
      resolve({ timeout: true })
    }, 5000)
    ws.on('open', () => ws.send('ping'))
    ws.on('message', (m) => {
      clearTimeout(timer)
      ws.close()
      resolve({ reply: m.toString() })
    })
    ws.on('error', (err) => {
      clearTimeout(timer)
      resolve({ err })
    })
  })
}

test('Node gateway -> Rust meshtls-net wss server', { skip: !existsSync(rustServer) && `build it: cargo build -p meshtls-net --example wss_echo_server (${rustServer})` }, async () => {
  const ca = await Authority.createRoot({ trustDomain: TD })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshtls-node-rust-'))
  const server = await ca.issue({ id: `spiffe://${TD}/service/echo`, dnsNames: ['localhost'], usage: 'server' })
  files(dir, { 'ca.pem': ca.rootPem, 'server.pem': server.chainPem, 'server.key': server.keyPem })
  const peer = await start(rustServer, [dir, '127.0.0.1:0'], /listening on wss:\/\/127\.0\.0\.1:(\d+)/)
  try {
    const port = peer.match[1]
    const verifier = new Verifier(new TrustBundle(ca.rootPem), new Policy({ allowIds: [`spiffe://${TD}/service/echo`] }))
    // A client the Rust server's policy allows (spiffe://mesh.internal/client/*).
    const good = await identity(ca, 'x', { id: `spiffe://${TD}/client/gateway`, usage: 'client' })
    const ok = await wsPing(`wss://localhost:${port}/`, tlsClientOptions(good.identity, verifier))
    assert.equal(ok.reply, 'ping')
    await peer.waitFor(/^connected: spiffe:\/\/mesh\.internal\/client\/gateway$/)
    // A member the server's policy does not allow.
    const other = await identity(ca, 'x', { id: `spiffe://${TD}/service/intruder`, usage: 'client' })
    assert.equal((await wsPing(`wss://localhost:${port}/`, tlsClientOptions(other.identity, verifier))).reply, undefined)
    // A rogue CA's client.
    const rogueCa = await Authority.createRoot({ trustDomain: TD })
    const rogue = await identity(rogueCa, 'x', { id: `spiffe://${TD}/client/gateway`, usage: 'client' })
    assert.equal((await wsPing(`wss://localhost:${port}/`, tlsClientOptions(rogue.identity, verifier))).reply, undefined)
    // The Node side refuses a Rust server whose identity its policy does not name.
    const picky = new Verifier(new TrustBundle(ca.rootPem), new Policy({ allowIds: [`spiffe://${TD}/service/other`] }))
    const refused = await wsPing(`wss://localhost:${port}/`, tlsClientOptions(good.identity, picky))
    assert.equal(refused.err?.code, 'identity_not_allowed')
  } finally {
    peer.child.kill()
  }
})

test('Python wss client -> Node gateway, and Node -> Python wss server', { skip: !hasWebsockets && 'python3 -m pip install websockets' }, async () => {
  const ca = await Authority.createRoot({ trustDomain: TD })
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshtls-node-py-'))
  const gw = await identity(ca, 'gateway')
  const agent = await identity(ca, 'agent')
  const rogueCa = await Authority.createRoot({ trustDomain: TD })
  const rogue = await identity(rogueCa, 'agent')
  files(dir, {
    'ca.pem': ca.rootPem,
    'agent.pem': agent.issued.chainPem,
    'agent.key': agent.issued.keyPem,
    'rogue.pem': rogue.issued.chainPem,
    'rogue.key': rogue.issued.keyPem,
    'gw.pem': gw.issued.chainPem,
    'gw.key': gw.issued.keyPem,
  })
  const script = path.join(here, 'peers/wss_peer.py')
  const verifier = new Verifier(new TrustBundle(ca.rootPem), new Policy({ allowPatterns: [`spiffe://${TD}/service/*`] }))

  // Python client -> Node gateway.
  const server = createHttpsServer(gw.identity, verifier)
  const rejected = []
  server.on('peerRejected', (e) => rejected.push(e.code))
  server.on('tlsClientError', (e) => rejected.push(e.code))
  const wss = new WebSocketServer({ server })
  const seen = []
  wss.on('connection', (ws, req) => {
    seen.push(peerIdentity(req.socket).spiffeId)
    ws.on('message', (m) => ws.send(`echo:${m}`))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const port = String(server.address().port)
  try {
    // The Python client runs as a child process (asynchronously: the gateway shares this loop).
    const runAsync = (chain, key) =>
      start(python, [script, 'client', port, path.join(dir, chain), path.join(dir, key), path.join(dir, 'ca.pem')], /^(OK|ERR)\b.*/)
    const ok = await runAsync('agent.pem', 'agent.key')
    assert.equal(ok.match[0], 'OK echo:ping')
    assert.deepEqual(seen, [`spiffe://${TD}/service/agent`])
    const bad = await runAsync('rogue.pem', 'rogue.key')
    assert.match(bad.match[0], /^ERR/)
    assert.equal(seen.length, 1)
    assert.ok(rejected.length >= 1)
  } finally {
    wss.close()
    server.close()
  }

  // Node client -> Python server (which verifies with its own ssl against the same CA).
  const py = await start(python, [script, 'server', path.join(dir, 'gw.pem'), path.join(dir, 'gw.key'), path.join(dir, 'ca.pem')], /^READY (\d+)$/)
  try {
    const pyPort = py.match[1]
    const reply = await wsPing(`wss://localhost:${pyPort}/`, tlsClientOptions(agent.identity, verifier))
    assert.equal(reply.reply, 'ping')
    await py.waitFor(/^ACCEPT spiffe:\/\/mesh\.internal\/service\/agent$/)
    const picky = new Verifier(new TrustBundle(ca.rootPem), new Policy({ allowIds: [`spiffe://${TD}/service/api`] }))
    const refused = await wsPing(`wss://localhost:${pyPort}/`, tlsClientOptions(agent.identity, picky))
    assert.equal(refused.err?.code, 'identity_not_allowed')
  } finally {
    py.child.kill()
  }
})

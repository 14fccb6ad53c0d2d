// Node's own TLS stacks (tls, https, ws) with the core deciding: good peers connect, rogue,
// revoked and unexpected ones are cut off before application code sees them, and rotation
// changes new connections only.
import assert from 'node:assert/strict'
import https from 'node:https'
import { test } from 'node:test'
import { WebSocket, WebSocketServer } from 'ws'

import {
  Authority,
  Policy,
  RevocationList,
  Trust,
  TrustBundle,
  Verifier,
  connect,
  createHttpsServer,
  peerIdentity,
  tlsClientOptions,
} from '../index.mjs'
import { echoServer, exchange, identity, once, pki, TD } from './helpers.mjs'

test('tls: a member connects and both sides know who the other is', async () => {
  const { ca, verifier } = await pki()
  const srv = await identity(ca, 'api')
  const cli = await identity(ca, 'web')
  const { server, seen, port } = await echoServer(srv.identity, verifier)
  try {
    const r = await exchange(cli.identity, verifier, port)
    assert.equal(r.data, 'hello')
    assert.equal(r.peer.spiffeId, `spiffe://${TD}/service/api`)
    assert.equal(seen.length, 1)
    assert.equal(peerIdentity(seen[0]).spiffeId, `spiffe://${TD}/service/web`)
    assert.equal(seen[0].getProtocol(), 'TLSv1.3')
  } finally {
    server.close()
  }
})

test('tls: a rogue client (same trust domain name, another CA) never reaches the app', async () => {
  const { ca, verifier } = await pki()
  const rogueCa = await Authority.createRoot({ trustDomain: TD })
  const srv = await identity(ca, 'api')
  const rogue = await identity(rogueCa, 'web')
  const { server, seen, rejected, port } = await echoServer(srv.identity, verifier)
  try {
    // The rogue trusts our server, so only the server side can refuse it.
    const rogueTrust = new Verifier(new TrustBundle(ca.rootPem), Policy.allowAny())
    const r = await exchange(rogue.identity, rogueTrust, port)
    assert.notEqual(r.data, 'hello')
    assert.equal(seen.length, 0)
    assert.ok(rejected.length >= 1)
  } finally {
    server.close()
  }
})

test('tls: a revoked client is refused by the core (code revoked) before the app sees it', async () => {
  const { ca } = await pki()
  const srv = await identity(ca, 'api')
  const revoked = await identity(ca, 'web')
  const records = new RevocationList()
  records.revoke(revoked.issued.serial, 'key_compromise')
  const bundle = new TrustBundle(ca.rootPem)
  bundle.addCrl(ca.buildCrl(records, { number: 1 }).der)
  const verifier = new Verifier(bundle, new Policy({ allowTrustDomains: [TD] }))
  const { server, seen, rejected, port } = await echoServer(srv.identity, verifier)
  try {
    const r = await exchange(revoked.identity, verifier, port)
    assert.notEqual(r.data, 'hello')
    assert.equal(seen.length, 0)
    assert.equal(rejected[0].code, 'revoked')
    // A good client still gets in.
    const good = await identity(ca, 'ok')
    assert.equal((await exchange(good.identity, verifier, port)).data, 'hello')
    assert.equal(seen.length, 1)
  } finally {
    server.close()
  }
})

test('tls: a client not allowed by the policy is refused (identity_not_allowed)', async () => {
  const { ca } = await pki()
  const srv = await identity(ca, 'api')
  const cli = await identity(ca, 'intruder')
  const bundle = new TrustBundle(ca.rootPem)
  const serverTrust = new Verifier(bundle, new Policy({ allowIds: [`spiffe://${TD}/service/web`] }))
  const clientTrust = new Verifier(bundle, Policy.allowAny())
  const { server, seen, rejected, port } = await echoServer(srv.identity, serverTrust)
  try {
    const r = await exchange(cli.identity, clientTrust, port)
    assert.notEqual(r.data, 'hello')
    assert.equal(seen.length, 0)
    assert.equal(rejected[0].code, 'identity_not_allowed')
  } finally {
    server.close()
  }
})

test('tls: the client refuses a server the core rejects, before secureConnect', async () => {
  const { ca, bundle } = await pki()
  const srv = await identity(ca, 'impostor')
  const cli = await identity(ca, 'web')
  const { server, seen, port } = await echoServer(srv.identity, new Verifier(bundle, Policy.allowAny()))
  try {
    const clientTrust = new Verifier(bundle, new Policy({ allowIds: [`spiffe://${TD}/service/api`] }))
    let connected = false
    const socket = connect(cli.identity, clientTrust, { host: '127.0.0.1', port }, () => {
      connected = true
    })
    const { event, args } = await once(socket, ['error', 'close'])
    assert.equal(event, 'error')
    assert.equal(args[0].code, 'identity_not_allowed')
    assert.equal(connected, false)
    assert.equal(seen.length <= 1, true)
  } finally {
    server.close()
  }
})

test('https + ws: a wss:// gateway over Node stacks, verified by the core', async () => {
  const { ca, verifier } = await pki()
  const srv = await identity(ca, 'gateway')
  const cli = await identity(ca, 'agent')
  const server = createHttpsServer(srv.identity, verifier, (req, res) => {
    res.end(`hello ${peerIdentity(req.socket).spiffeId}`)
  })
  const rejected = []
  server.on('peerRejected', (err) => rejected.push(err.code))
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    ws.send(`peer ${peerIdentity(req.socket).spiffeId}`)
    ws.on('message', (m) => ws.send(m))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address()
  try {
    // https
    const body = await new Promise((resolve, reject) => {
      const req = https.request({ ...tlsClientOptions(cli.identity, verifier), host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let b = ''
        res.on('data', (d) => (b += d))
        res.on('end', () => resolve(b))
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(body, `hello spiffe://${TD}/service/agent`)
    // wss
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, tlsClientOptions(cli.identity, verifier))
    const messages = []
    ws.on('message', (m) => messages.push(m.toString()))
    await once(ws, 'open')
    ws.send('ping')
    while (messages.length < 2) await new Promise((r) => setTimeout(r, 10))
    assert.deepEqual(messages, [`peer spiffe://${TD}/service/agent`, 'ping'])
    ws.close()
    // A rogue ws client never opens.
    const rogueCa = await Authority.createRoot({ trustDomain: TD })
    const rogue = await identity(rogueCa, 'agent')
    const bad = new WebSocket(`wss://127.0.0.1:${port}/`, tlsClientOptions(rogue.identity, verifier))
    const r = await once(bad, ['open', 'error'])
    assert.equal(r.event, 'error')
  } finally {
    wss.close()
    server.close()
  }
})

test('rotation: new connections get the new certificate, an open one stays up', async () => {
  const { ca, verifier } = await pki()
  const first = await identity(ca, 'api')
  const cli = await identity(ca, 'web')
  const { server, seen, port } = await echoServer(first.identity, verifier)
  try {
    const a = connect(cli.identity, verifier, { host: '127.0.0.1', port })
    await once(a, 'secureConnect')
    assert.equal(peerIdentity(a).serial, first.issued.serial)

    const renewed = await ca.issue({ id: `spiffe://${TD}/service/api`, dnsNames: ['localhost'] })
    first.identity.update(renewed)

    const b = connect(cli.identity, verifier, { host: '127.0.0.1', port })
    await once(b, 'secureConnect')
    assert.equal(peerIdentity(b).serial, renewed.serial)
    b.end()

    // The first connection still works and still has the old certificate.
    a.write('still here')
    const { args } = await once(a, 'data')
    assert.equal(args[0].toString(), 'still here')
    assert.equal(a.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, ''), first.issued.serial.replace(/^0+/, ''))
    a.end()
    assert.equal(seen.length, 2)
  } finally {
    server.close()
  }
})

test('trust: a server built once from a Trust takes a new CA (its ca) and a new CRL (the core)', async () => {
  const { ca, bundle, policy, verifier } = await pki()
  const next = await Authority.createRoot({ trustDomain: TD })
  const srv = await identity(ca, 'api')
  const web = await identity(ca, 'web')
  const newcomer = await identity(next, 'agent')
  const trust = new Trust(verifier)
  const { server, seen, rejected, port } = await echoServer(srv.identity, trust)
  const byCore = []
  server.on('peerRejected', (err) => byCore.push(err))
  try {
    assert.equal(trust.generation, 0)
    // A client verifies the server with a Trust too.
    assert.equal((await exchange(web.identity, trust, port)).peer.spiffeId, `spiffe://${TD}/service/api`)
    // The next CA is not in the trust yet: the core refuses its client in the handshake.
    assert.notEqual((await exchange(newcomer.identity, trust, port)).data, 'hello')
    assert.equal(byCore.length, 1)
    assert.equal(byCore[0].code, 'unknown_issuer')

    // CA rotation overlap, and a CRL of the old CA that revokes `web`.
    const records = new RevocationList()
    records.revoke(web.issued.serial, 'key_compromise')
    const both = bundle.merged(new TrustBundle(next.rootPem))
    both.addCrl(ca.buildCrl(records, { number: 1 }).der)
    both.addCrl(next.buildCrl(new RevocationList(), { number: 1 }).der)
    trust.replace(new Verifier(both, policy))
    assert.equal(trust.generation, 1)
    assert.equal(trust.caPem.match(/BEGIN CERTIFICATE/g).length, 2)

    const r = await exchange(newcomer.identity, trust, port)
    assert.equal(r.data, 'hello')
    assert.equal(peerIdentity(seen.at(-1)).spiffeId, `spiffe://${TD}/service/agent`)
    const admitted = seen.length
    assert.notEqual((await exchange(web.identity, trust, port)).data, 'hello')
    assert.equal(byCore.length, 2)
    assert.equal(byCore[1].code, 'revoked')
    assert.equal(seen.length, admitted)
  } finally {
    server.close()
  }
})

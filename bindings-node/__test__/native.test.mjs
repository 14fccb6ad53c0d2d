// The native transport: wss:// over mTLS with rustls end to end (meshtls-net), against itself
// and against Node's own stack (ws + tlsClientOptions).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WebSocket } from 'ws'

import {
  Authority,
  Policy,
  RevocationList,
  Trust,
  TrustBundle,
  Verifier,
  WssServer,
  tlsClientOptions,
  wssConnect,
} from '../index.mjs'
import { identity, once, pki, TD } from './helpers.mjs'

async function echo(server) {
  for await (const conn of server) {
    ;(async () => {
      for await (const message of conn) await conn.send(message)
    })().catch(() => {})
  }
}

test('native wss: rustls client <-> rustls server, peers verified by the core', async () => {
  const { ca, verifier } = await pki()
  const srv = await identity(ca, 'api')
  const cli = await identity(ca, 'web')
  const server = await WssServer.listen(srv.identity, verifier, '127.0.0.1:0')
  const accepted = server.accept()
  const conn = await wssConnect(cli.identity, verifier, `wss://localhost:${server.port}/`)
  assert.equal(conn.peer.spiffeId, `spiffe://${TD}/service/api`)
  const remote = await accepted
  assert.equal(remote.peer.spiffeId, `spiffe://${TD}/service/web`)
  await conn.send('hello')
  assert.equal(await remote.recv(), 'hello')
  await remote.send(Buffer.from([1, 2, 3]))
  assert.deepEqual(await conn.recv(), Buffer.from([1, 2, 3]))
  await conn.close()
  assert.equal(await remote.recv(), null)
  server.close()
})

test('native wss server <-> Node ws client (Node stack), with rogue and refused peers', async () => {
  const { ca, verifier } = await pki()
  const srv = await identity(ca, 'api')
  const cli = await identity(ca, 'web')
  const server = await WssServer.listen(srv.identity, verifier, '127.0.0.1:0')
  echo(server)
  const url = `wss://localhost:${server.port}/`
  const ws = new WebSocket(url, tlsClientOptions(cli.identity, verifier))
  await once(ws, 'open')
  ws.send('ping')
  const { args } = await once(ws, 'message')
  assert.equal(args[0].toString(), 'ping')
  ws.close()

  // A rogue client is refused by the rustls server.
  const rogueCa = await Authority.createRoot({ trustDomain: TD })
  const rogue = await identity(rogueCa, 'web')
  const bad = new WebSocket(url, tlsClientOptions(rogue.identity, verifier))
  assert.equal((await once(bad, ['open', 'error'])).event, 'error')
  await assert.rejects(wssConnect(rogue.identity, new Verifier(new TrustBundle(ca.rootPem), Policy.allowAny()), url))

  // The native client refuses a server its policy does not allow, with the core's code.
  const picky = new Verifier(new TrustBundle(ca.rootPem), new Policy({ allowIds: [`spiffe://${TD}/service/other`] }))
  await assert.rejects(wssConnect(cli.identity, picky, url), { code: 'identity_not_allowed' })
  server.close()
})

test('native wss with a Trust: replace() reaches the running server\'s next handshake', async () => {
  const { ca, bundle, policy, verifier } = await pki()
  const srv = await identity(ca, 'api')
  const cli = await identity(ca, 'web')
  const trust = new Trust(verifier)
  const server = await WssServer.listen(srv.identity, trust, '127.0.0.1:0')
  echo(server)
  const url = `wss://localhost:${server.port}/`
  try {
    const conn = await wssConnect(cli.identity, trust, url)
    assert.equal(conn.peer.spiffeId, `spiffe://${TD}/service/api`)
    await conn.send('before')
    assert.equal(await conn.recv(), 'before')

    const records = new RevocationList()
    records.revoke(cli.issued.serial, 'key_compromise')
    const revoking = new TrustBundle(ca.rootPem)
    revoking.addCrl(ca.buildCrl(records, { number: 1 }).der)
    trust.replace(new Verifier(revoking, policy))
    assert.throws(() => trust.verify(cli.issued.chainPem, { usage: 'client' }), { code: 'revoked' })
    await assert.rejects(wssConnect(cli.identity, new Verifier(bundle, Policy.allowAny()), url), { code: 'revoked' })
    // The open connection keeps going; a peer the CRL does not list still gets in.
    await conn.send('after')
    assert.equal(await conn.recv(), 'after')
    const ok = await identity(ca, 'ok')
    const other = await wssConnect(ok.identity, trust, url)
    await other.close()
    await conn.close()
  } finally {
    server.close()
  }
})

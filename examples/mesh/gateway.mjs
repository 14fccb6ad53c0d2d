// `gateway`, the Node service of the polyglot mesh demo (examples/mesh/run.sh).
//
//   MESHTLS_CA_PASSPHRASE=... node gateway.mjs CA_DIR DIRECTORY_PORT [MAX_SECONDS]
//
// Loads the CA with the Node binding, issues its own identity (…/service/gateway), connects to
// the Rust directory over wss:// mTLS (rustls, meshtls-net) and serves wss:// mTLS to the
// Python agent (policy: …/service/agent only). Messages from the agent: `lookup NAME` is
// forwarded to the directory, `rotate` reissues the gateway's certificate (identity.update:
// new handshakes present it, open connections stay), `whoami` answers the serial it verified.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { Authority, Identity, Policy, TrustBundle, Verifier, WssServer, wssConnect } from '../../bindings-node/index.mjs'

const ID = 'spiffe://mesh.internal/service/gateway'
const [caDir, directoryPort, maxSeconds = '120'] = process.argv.slice(2)
setTimeout(() => { console.log(`gateway: time is up (${maxSeconds} s), exiting`); process.exit(0) }, Number(maxSeconds) * 1000)

const caPem = readFileSync(join(caDir, 'ca.crt'))
const ca = await Authority.fromPem(caPem, readFileSync(join(caDir, 'ca.key')), process.env.MESHTLS_CA_PASSPHRASE)
const issue = () => ca.issue({ id: ID, dnsNames: ['localhost'], lifetime: '1h' })
const first = await issue()
const identity = new Identity(first)
console.log(`issued ${ID} serial ${first.serial}`)

const only = (id) => new Verifier(new TrustBundle(caPem), new Policy({ allowIds: [id] }))
const directory = await wssConnect(identity, only('spiffe://mesh.internal/service/directory'), `wss://localhost:${directoryPort}/`)
console.log(`connected directory ${directory.peer.spiffeId} serial ${directory.peer.serial}`)
let upstream = Promise.resolve()
const forward = (message) => {
  const reply = upstream.then(async () => { await directory.send(message); return directory.recv() })
  upstream = reply.catch(() => {})
  return reply
}

const server = await WssServer.listen(identity, only('spiffe://mesh.internal/service/agent'), '127.0.0.1:0')
console.log(`listening wss ${server.port}`)

async function handle(conn) {
  const peer = conn.peer
  console.log(`accepted ${peer.spiffeId} serial ${peer.serial}`)
  for await (const message of conn) {
    const text = message.toString()
    if (text.startsWith('lookup ')) {
      const answer = await forward(text)
      console.log(`forwarded "${text}" for ${peer.spiffeId}: ${answer}`)
      await conn.send(`via gateway: ${answer}`)
    } else if (text === 'rotate') {
      const renewed = await issue()
      identity.update(renewed)
      console.log(`rotated ${ID} serial ${first.serial} -> ${renewed.serial}`)
      await conn.send(`rotated ${renewed.serial}`)
    } else if (text === 'whoami') {
      await conn.send(`${peer.spiffeId} ${peer.serial}`)
    } else {
      await conn.send(`echo ${text}`)
    }
  }
  console.log(`closed ${peer.spiffeId} serial ${peer.serial}`)
}

for (;;) {
  const conn = await server.accept()
  if (!conn) break
  handle(conn).catch((err) => console.log(`connection error: ${err.code ?? ''} ${err.message}`))
}

// `gateway`, the Node service of the polyglot mesh demo (examples/mesh/run.sh).
//
//   MESHTLS_JOIN_TOKEN=... node gateway.mjs CA_URL CA_BUNDLE DIRECTORY_PORT [MAX_SECONDS]
//
// Enrolls …/service/gateway at the CA service CA_URL with a one-time join token (the Node
// binding's `enroll`: the key is made here, only a CSR leaves), trusting the service through
// CA_BUNDLE (the CA's ca.crt; no CA key, no passphrase). Connects to the Rust directory over
// wss:// mTLS (rustls, meshtls-net) and serves wss:// mTLS to the Python agent on the enrolled
// identity and its live trust (peer policy: …/service/agent only). Messages from the agent:
// `lookup NAME` is forwarded to the directory, `rotate` renews the gateway's certificate through
// the CA service (renewNow: new handshakes present it, open connections stay), `whoami` answers
// the serial it verified.
// A client without a certificate (the demo's `admin`, as a browser page) is admitted with a
// JWT-SVID for the audience `gateway` whose subject is an …/admin/* ID, checked by the core
// against the JWT keys the CA service publishes (/v1/bundle.jwks); `whoami` answers its subject.
import { readFileSync } from 'node:fs'
import https from 'node:https'

import {
  JwtValidator,
  Policy,
  SpiffeBundle,
  Verifier,
  WssServer,
  enroll,
  wssConnect,
} from '../../bindings-node/index.mjs'

const ID = 'spiffe://mesh.internal/service/gateway'
const DIRECTORY = 'spiffe://mesh.internal/service/directory'
const AGENT = 'spiffe://mesh.internal/service/agent'
const [caUrl, bundlePath, directoryPort, maxSeconds = '120'] = process.argv.slice(2)
let node
setTimeout(() => {
  console.log(`gateway: time is up (${maxSeconds} s), exiting`)
  node?.close()
  process.exit(0)
}, Number(maxSeconds) * 1000)

try {
  node = await enroll(caUrl, process.env.MESHTLS_JOIN_TOKEN ?? '', ID, {
    caBundle: readFileSync(bundlePath, 'utf8'),
    dnsNames: ['localhost'],
    peerPolicy: new Policy({ allowIds: [AGENT] }),
    refreshEverySeconds: 1,
  })
} catch (err) {
  console.log(`enroll refused: ${err.code} (${err.message})`)
  process.exit(1)
}
const first = node.serial
console.log(`enrolled ${ID} serial ${first}`)

// The one outbound connection checks the directory against the bundle and CRL as fetched now.
const toDirectory = new Verifier(node.trust.verifier().bundle, new Policy({ allowIds: [DIRECTORY] }))
const directory = await wssConnect(node.identity, toDirectory, `wss://localhost:${directoryPort}/`)
console.log(`connected directory ${directory.peer.spiffeId} serial ${directory.peer.serial}`)
let upstream = Promise.resolve()
const forward = (message) => {
  const reply = upstream.then(async () => { await directory.send(message); return directory.recv() })
  upstream = reply.catch(() => {})
  return reply
}

// The CA service's SPIFFE bundle, for the JWT-SVIDs of certificate-less admin clients.
const jwks = await new Promise((resolve, reject) => {
  https
    .get(`${caUrl}/v1/bundle.jwks`, { ca: readFileSync(bundlePath) }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`bundle.jwks: ${res.statusCode}`))))
    })
    .on('error', reject)
})
const tokens = new JwtValidator(
  new SpiffeBundle(jwks, 'mesh.internal'),
  new Policy({ allowPatterns: ['spiffe://mesh.internal/admin/*'] }),
  ['gateway'],
)
const server = await WssServer.listen(node.identity, node.trust, '127.0.0.1:0', tokens)
console.log(`listening wss ${server.port}`)

async function admin(conn) {
  const subject = conn.token.subject
  console.log(`accepted token ${subject}`)
  for await (const message of conn) {
    await conn.send(message.toString() === 'whoami' ? `token ${subject}` : `echo ${message}`)
  }
  console.log(`closed token ${subject}`)
}

async function handle(conn) {
  if (!conn.peer) return admin(conn)
  const peer = conn.peer
  console.log(`accepted ${peer.spiffeId} serial ${peer.serial}`)
  for await (const message of conn) {
    const text = message.toString()
    if (text.startsWith('lookup ')) {
      const answer = await forward(text)
      console.log(`forwarded "${text}" for ${peer.spiffeId}: ${answer}`)
      await conn.send(`via gateway: ${answer}`)
    } else if (text === 'rotate') {
      const before = node.serial
      await node.renewNow()
      console.log(`renewed ${ID} serial ${before} -> ${node.serial} (through the CA service)`)
      await conn.send(`rotated ${node.serial}`)
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

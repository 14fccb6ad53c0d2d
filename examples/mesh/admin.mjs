// `admin`, the certificate-less client of the polyglot mesh demo (examples/mesh/run.sh): what a
// browser admin page does, which cannot present a client certificate.
//
//   node admin.mjs GATEWAY_PORT CA_BUNDLE TOKEN_FILE [CERT_DIR]
//
// Opens wss:// to the gateway trusting CA_BUNDLE, with no client certificate (or, given
// CERT_DIR, with its chain.pem + key.pem: another service's mTLS connection), and presents the
// JWT-SVID of TOKEN_FILE the way a browser can: as the `meshtls.jwt.<token>` subprotocol beside
// `meshtls.jwt`. Prints `RESULT admin <the gateway's answer to whoami>`, or `REFUSED <status>
// <code>` when the gateway refuses the token (its 401 names the core's code).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(new URL('../../bindings-node/package.json', import.meta.url))
const WebSocket = require('ws')

const [port, bundlePath, tokenFile, certDir] = process.argv.slice(2)
const token = readFileSync(tokenFile, 'utf8').trim()
const clientCert = certDir
  ? { cert: readFileSync(`${certDir}/chain.pem`), key: readFileSync(`${certDir}/key.pem`) }
  : {}
const ws = new WebSocket(`wss://localhost:${port}/`, ['meshtls.jwt', `meshtls.jwt.${token}`], {
  ca: readFileSync(bundlePath),
  ...clientCert,
})
ws.on('open', () => ws.send('whoami'))
ws.on('message', (m) => {
  console.log(`RESULT admin ${m}`)
  ws.close()
})
ws.on('unexpected-response', (_req, res) => {
  let body = ''
  res.on('data', (d) => (body += d))
  res.on('end', () => {
    console.log(`REFUSED ${res.statusCode} ${body.trim()}`)
    process.exit(0)
  })
})
ws.on('error', (e) => {
  console.log(`ERROR ${e.message}`)
  process.exit(1)
})

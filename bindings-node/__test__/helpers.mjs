// Shared set-up for the node:test suites: a CA, leaves and verifiers made through the API.
import { Authority, Identity, Policy, TrustBundle, Verifier, connect, createServer, peerIdentity } from '../index.mjs'

export const TD = 'mesh.internal'

/** A root CA, its bundle, and a verifier allowing `spiffe://mesh.internal/service/*`. */
export async function pki(options = {}) {
  const ca = await Authority.createRoot({ trustDomain: TD })
  const bundle = new TrustBundle(ca.rootPem)
  const policy = new Policy({ allowPatterns: [`spiffe://${TD}/service/*`], ...options.policy })
  const verifier = new Verifier(bundle, policy)
  return { ca, bundle, policy, verifier }
}

/** An Identity for `spiffe://mesh.internal/service/<name>`, valid for localhost. */
export async function identity(ca, name, request = {}) {
  const issued = await ca.issue({
    id: `spiffe://${TD}/service/${name}`,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    ...request,
  })
  return { issued, identity: new Identity(issued) }
}

/** Resolves with the first of the events, rejects after `ms`. */
export function once(emitter, events, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${events}`)), ms)
    for (const ev of [].concat(events)) {
      emitter.once(ev, (...args) => {
        clearTimeout(timer)
        resolve({ event: ev, args })
      })
    }
  })
}

/** A guarded echo server; `seen` lists the sockets application code was given. */
export async function echoServer(id, verifier) {
  const seen = []
  const server = createServer(id, verifier, (socket) => {
    seen.push(socket)
    socket.on('data', (d) => socket.write(d))
    socket.on('error', () => {})
  })
  const rejected = []
  server.on('peerRejected', (err) => rejected.push(err))
  server.on('tlsClientError', (err) => rejected.push(err))
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { server, seen, rejected, port: server.address().port }
}

/** Connects, writes `hello`, and resolves with what came back (or the error/close). */
export function exchange(id, verifier, port) {
  return new Promise((resolve) => {
    const socket = connect(id, verifier, { host: '127.0.0.1', port })
    let data = ''
    socket.on('secureConnect', () => socket.write('hello'))
    socket.on('data', (d) => {
      data += d
      if (data === 'hello') {
        const peer = peerIdentity(socket)
        socket.end()
        resolve({ data, peer })
      }
    })
    socket.on('error', (err) => resolve({ data, err }))
    socket.on('close', () => resolve({ data, closed: true }))
    setTimeout(() => {
      socket.destroy()
      resolve({ data, timeout: true })
    }, 5000)
  })
}

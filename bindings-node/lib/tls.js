'use strict'
// meshtls for Node's own TLS stacks (tls, https, and the ws package over them).
//
// Every verdict is the core's: these helpers only hand Node's peer chain (leaf first, DER) to
// `verifier.verify()` and disconnect when it throws. Both directions fail closed:
//
// - client: `ca` (the bundle) + `rejectUnauthorized: true` + `checkServerIdentity`, which Node
//   calls before 'secureConnect' with the server's full chain; an Error returned there
//   destroys the socket, so no application code runs and no data is read.
// - server: `requestCert` + `rejectUnauthorized: true` + `ca` (so a server whose guard was
//   forgotten still refuses certificate-less and unknown clients), and `guardServer()`,
//   which runs the core on every 'secureConnection' before any listener (http's, ws's or
//   yours) sees the socket; a rejected socket is destroyed and never emitted.
// - rotation: the guard compares `identity.generation` on each new TCP connection, before
//   Node builds the TLS socket, and calls `server.setSecureContext()` when it changed: new
//   handshakes present the new certificate; open connections keep theirs. This covers
//   `identity.update()` and the renewals of an enrolled identity alike (same handle).

const tls = require('node:tls')
const https = require('node:https')

const kPeer = Symbol('meshtls.peer')
const kGuarded = Symbol('meshtls.guarded')

function minVersion(options) {
  return options && options.allowTls12 ? 'TLSv1.2' : 'TLSv1.3'
}

function contextOptions(identity, verifier, options) {
  // One read for both: an enrolled identity renews on another thread, and a chain of one
  // generation with the key of the next would not load.
  const { chainPem, keyPem } = identity.pem()
  return {
    cert: chainPem,
    key: keyPem,
    ca: verifier.bundle.toPem(),
    minVersion: minVersion(options),
  }
}

/** The DER chain (leaf first) of a peer certificate object from `getPeerCertificate(true)`. */
function chainOf(cert) {
  const chain = []
  const seen = new Set()
  for (let c = cert; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256)
    chain.push(c.raw)
  }
  return chain
}

function tlsServerOptions(identity, verifier, options = {}) {
  const { allowTls12, ...extra } = options
  return {
    ...extra,
    ...contextOptions(identity, verifier, { allowTls12 }),
    requestCert: true,
    rejectUnauthorized: true,
  }
}

function tlsClientOptions(identity, verifier, options = {}) {
  const { allowTls12, ...extra } = options
  return {
    ...extra,
    ...contextOptions(identity, verifier, { allowTls12 }),
    rejectUnauthorized: true,
    checkServerIdentity(_host, cert) {
      try {
        verifier.verify(chainOf(cert), { usage: 'server' })
        return undefined
      } catch (err) {
        return err
      }
    },
  }
}

function guardServer(server, identity, verifier, options = {}) {
  return guard(server, identity, verifier, options, identity.generation)
}

// `generation` is the one the server's context was built from, read before it was built: a
// renewal in between then refreshes the context on the first connection instead of never.
function guard(server, identity, verifier, options, built) {
  if (server[kGuarded]) throw new Error('meshtls: this server is already guarded')
  server[kGuarded] = true
  let generation = built
  const emit = server.emit
  server.emit = function meshtlsEmit(event, ...args) {
    if (event === 'connection') {
      const now = identity.generation
      if (now !== generation) {
        generation = now
        server.setSecureContext(contextOptions(identity, verifier, options))
      }
    } else if (event === 'secureConnection') {
      const socket = args[0]
      try {
        socket[kPeer] = verifier.verify(chainOf(socket.getPeerCertificate(true)), { usage: 'client' })
      } catch (err) {
        socket.destroy()
        emit.call(this, 'peerRejected', err, socket)
        return false
      }
    }
    return emit.call(this, event, ...args)
  }
  return server
}

function createServer(identity, verifier, options, listener) {
  if (typeof options === 'function') {
    listener = options
    options = {}
  }
  const generation = identity.generation
  const server = tls.createServer(tlsServerOptions(identity, verifier, options), listener)
  return guard(server, identity, verifier, options, generation)
}

function createHttpsServer(identity, verifier, options, listener) {
  if (typeof options === 'function') {
    listener = options
    options = {}
  }
  const generation = identity.generation
  const server = https.createServer(tlsServerOptions(identity, verifier, options), listener)
  return guard(server, identity, verifier, options, generation)
}

function connect(identity, verifier, options, callback) {
  const socket = tls.connect(tlsClientOptions(identity, verifier, options))
  socket.prependOnceListener('secureConnect', () => {
    socket[kPeer] = verifier.verify(chainOf(socket.getPeerCertificate(true)), { usage: 'server' })
  })
  if (callback) socket.once('secureConnect', callback)
  return socket
}

function peerIdentity(socket) {
  return socket[kPeer]
}

module.exports = {
  tlsServerOptions,
  tlsClientOptions,
  guardServer,
  createServer,
  createHttpsServer,
  connect,
  peerIdentity,
}

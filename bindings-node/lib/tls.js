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
// - trust: `verifier` is a `Verifier` (a snapshot) or a `Trust` (an enrolled identity's
//   `trust`, live). Each check calls `verify()` at that moment, so a `Trust` answers with the
//   bundle and CRL the schedule last fetched (a revoked peer is refused at its next
//   handshake). The guard also compares `trust.generation` on each new TCP connection and,
//   when the CA list changed (a CA rotation), calls `server.setSecureContext()` with the new
//   `ca` so that OpenSSL accepts the new CA's peers before the core sees them.

const tls = require('node:tls')
const https = require('node:https')

const kPeer = Symbol('meshtls.peer')
const kGuarded = Symbol('meshtls.guarded')

function minVersion(options) {
  return options && options.allowTls12 ? 'TLSv1.2' : 'TLSv1.3'
}

// A `Trust` has a generation and its CA list without the CRLs; a `Verifier` has neither.
function isLive(verifier) {
  return typeof verifier.generation === 'number'
}

function caPem(verifier) {
  return isLive(verifier) ? verifier.caPem : verifier.bundle.toPem()
}

/** What a server's context was built from: the generations read before the PEM, so that a
 * change in between is seen at the next connection instead of never. */
function stamp(identity, verifier) {
  return { identity: identity.generation, trust: isLive(verifier) ? verifier.generation : undefined }
}

function contextOptions(identity, ca, options) {
  // One read for both: an enrolled identity renews on another thread, and a chain of one
  // generation with the key of the next would not load.
  const { chainPem, keyPem } = identity.pem()
  return {
    cert: chainPem,
    key: keyPem,
    ca,
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
    ...contextOptions(identity, caPem(verifier), { allowTls12 }),
    requestCert: true,
    rejectUnauthorized: true,
  }
}

function tlsClientOptions(identity, verifier, options = {}) {
  const { allowTls12, ...extra } = options
  return {
    ...extra,
    ...contextOptions(identity, caPem(verifier), { allowTls12 }),
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
  return guard(server, identity, verifier, options, { ...stamp(identity, verifier), ca: caPem(verifier) })
}

// `built` is what the server's context holds: the generations read before it was built and
// its `ca`. A refresh of an enrolled trust bumps the generation even when the CA list is the
// same (only the CRL changed, or nothing): the context is rebuilt only when `ca` differs.
function guard(server, identity, verifier, options, built) {
  if (server[kGuarded]) throw new Error('meshtls: this server is already guarded')
  server[kGuarded] = true
  let { identity: generation, trust: trustGeneration, ca } = built
  const emit = server.emit
  server.emit = function meshtlsEmit(event, ...args) {
    if (event === 'connection') {
      const now = stamp(identity, verifier)
      if (now.identity !== generation || now.trust !== trustGeneration) {
        const renewed = now.identity !== generation
        generation = now.identity
        trustGeneration = now.trust
        const nextCa = now.trust === undefined ? ca : caPem(verifier)
        if (renewed || nextCa !== ca) {
          ca = nextCa
          server.setSecureContext(contextOptions(identity, ca, options))
        }
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
  const built = stamp(identity, verifier)
  const serverOptions = tlsServerOptions(identity, verifier, options)
  const server = tls.createServer(serverOptions, listener)
  return guard(server, identity, verifier, options, { ...built, ca: serverOptions.ca })
}

function createHttpsServer(identity, verifier, options, listener) {
  if (typeof options === 'function') {
    listener = options
    options = {}
  }
  const built = stamp(identity, verifier)
  const serverOptions = tlsServerOptions(identity, verifier, options)
  const server = https.createServer(serverOptions, listener)
  return guard(server, identity, verifier, options, { ...built, ca: serverOptions.ca })
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

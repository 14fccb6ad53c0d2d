'use strict'
// meshtls for Node's own TLS stacks (tls, https, and the ws package over them).
//
// Every verdict is the core's, and the TLS profile (versions, suites, groups) is net's
// (`tlsProfile()` from the native module): nothing here lists a suite or decides a peer.
//
// - client: `ca` (the bundle) + `rejectUnauthorized: true` + `checkServerIdentity`, which Node
//   calls before 'secureConnect' with the server's full chain; an Error returned there
//   destroys the socket, so no application code runs and no data is read.
// - server: the core is OpenSSL's certificate verifier, in the handshake
//   (`hookSecureContext`, src/openssl.rs): OpenSSL does not verify the chain itself, and a
//   refused client gets the TLS alert of the core's code (the table the Rust transport
//   uses). The guard then hands the core's verdict to 'secureConnection' (`peerIdentity`),
//   and reports each refusal once, as 'peerRejected' with the core's error (or one log line
//   when nobody listens). Contexts from your own SNICallback are covered too (OpenSSL asks the
//   server context's verifier). Where no verdict was made in the handshake (a resumed session
//   sends no certificate; a runtime whose OpenSSL the addon cannot reach), the guard verifies
//   with the core on 'secureConnection' before any listener (http's, ws's or yours) sees the
//   socket; a rejected socket is destroyed, without an alert, and never emitted. `requestCert` +
//   `rejectUnauthorized: true` + `ca` stay on, so a server whose guard was forgotten still
//   refuses certificate-less and unknown clients.
// - rotation: the guard compares `identity.generation` on each new TCP connection, before
//   Node builds the TLS socket, and calls `server.setSecureContext()` when it changed: new
//   handshakes present the new certificate; open connections keep theirs. This covers
//   `identity.update()` and the renewals of an enrolled identity alike (same handle).
// - trust: `verifier` is a `Verifier` (a snapshot) or a `Trust` (an enrolled identity's
//   `trust`, live). Each check reads the trust at that moment, so a `Trust` answers with the
//   bundle and CRL the schedule last fetched (a revoked peer is refused at its next
//   handshake). The guard also compares `trust.generation` on each new TCP connection and,
//   when the CA list changed (a CA rotation), calls `server.setSecureContext()` with the new
//   `ca` (the CA names a server sends in its CertificateRequest).

const tls = require('node:tls')
const https = require('node:https')

const native = require('../native.js')

const kPeer = Symbol('meshtls.peer')
const kGuarded = Symbol('meshtls.guarded')
const kHook = Symbol('meshtls.hook')

/** Node's options for the profile: versions, `ciphers` (TLS 1.3 names, then the TLS 1.2
 * ECDHE + AEAD list when allowed) and `ecdhCurve`, all from net's profile. */
function profileOptions(options) {
  const p = native.tlsProfile(Boolean(options && options.allowTls12))
  return { minVersion: p.minVersion, maxVersion: p.maxVersion, ciphers: p.ciphers, ecdhCurve: p.ecdhCurve }
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
    ...profileOptions(options),
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

/** An Error as every meshtls error is: `code` and `family` (the core's), plus the alert a
 * refused peer was sent. */
function refusalError(code, message, alert) {
  const err = new Error(message)
  err.code = code
  err.family = native.errorFamily(code) ?? undefined
  if (alert) err.alert = alert
  return err
}

/** Reports a refusal: 'peerRejected' to its listeners, or one line on stderr. */
function reportRefusal(server, emit, err, socket) {
  if (server.listenerCount('peerRejected') > 0) {
    emit.call(server, 'peerRejected', err, socket)
    return
  }
  const who = socket && socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'a client'
  const alert = err.alert ? ` (alert ${err.alert})` : ''
  console.warn(`meshtls: refused ${who}: ${err.code}${alert}: ${err.message}`)
}

/** Makes the core the verifier of the server's current context, when Node's OpenSSL can be
 * reached; the hook (or null) is what 'secureConnection' takes verdicts from. */
function hookContext(server, verifier) {
  // Only a SecureContext Node made: its `context._external` is the SSL_CTX* the addon hooks.
  const creds = server._sharedCreds
  if (!(creds instanceof tls.SecureContext)) return null
  const external = creds.context && creds.context._external
  return external ? native.hookSecureContext(external, verifier) : null
}

// `built` is what the server's context holds: the generations read before it was built and
// its `ca`. A refresh of an enrolled trust bumps the generation even when the CA list is the
// same (only the CRL changed, or nothing): the context is rebuilt only when `ca` differs.
function guard(server, identity, verifier, options, built) {
  if (server[kGuarded]) throw new Error('meshtls: this server is already guarded')
  server[kGuarded] = true
  let { identity: generation, trust: trustGeneration, ca } = built
  // Every context the server gets (ours at rotation, or the application's own
  // setSecureContext) gets the core as its verifier.
  let hook = hookContext(server, verifier)
  const setSecureContext = server.setSecureContext
  server.setSecureContext = function meshtlsSetSecureContext(...args) {
    const out = setSecureContext.apply(this, args)
    hook = hookContext(this, verifier)
    return out
  }
  server[kHook] = () => hook
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
      // The verdict the core gave in this handshake; none for a resumed session or a context
      // without the hook: then the core verifies now.
      // Keyed by the server's Finished (TLS 1.3; cheap) or the leaf certificate (TLS 1.2).
      let peer = null
      if (hook) {
        const finished = socket.getProtocol() === 'TLSv1.3' ? socket.getFinished() : undefined
        const key = finished || socket.getPeerX509Certificate()?.raw
        peer = key ? native.takePeer(hook.id, key) : null
      }
      if (peer) {
        socket[kPeer] = peer
      } else {
        try {
          socket[kPeer] = verifier.verify(chainOf(socket.getPeerCertificate(true)), { usage: 'client' })
        } catch (err) {
          socket.destroy()
          reportRefusal(this, emit, err, socket)
          return false
        }
      }
    } else if (event === 'tlsClientError') {
      const [err, socket] = args
      // A refusal by the core in the handshake (its alert is sent), or a client without a
      // certificate (OpenSSL sends certificate_required): the core's code, reported once.
      const refused = err && err.code === 'ERR_SSL_CERTIFICATE_VERIFY_FAILED' ? native.takeRefusal() : null
      if (refused) {
        reportRefusal(this, emit, refusalError(refused.code, refused.message, refused.alert), socket)
        return true
      }
      if (err && err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') {
        const noCert = refusalError('no_certificate', 'the client sent no certificate', 'certificate_required')
        reportRefusal(this, emit, noCert, socket)
        return true
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

/** How a guarded server verifies clients: `'handshake'` (the core is OpenSSL's verifier, a
 * refused client gets the alert of the core's code) or `'after-handshake'` (Node's OpenSSL
 * could not be reached: the core verifies on 'secureConnection' and a refused client is
 * disconnected without an alert); `exactAlerts` is false where `identity_not_allowed` and
 * `not_pinned` go out as `certificate_unknown`. `undefined` for a server never guarded. */
function serverVerification(server) {
  if (!server[kHook]) return undefined
  const hook = server[kHook]()
  return hook
    ? { mode: 'handshake', exactAlerts: hook.exactAlerts, openssl: hook.openssl }
    : { mode: 'after-handshake', exactAlerts: false, openssl: process.versions.openssl }
}

module.exports = {
  tlsServerOptions,
  tlsClientOptions,
  guardServer,
  createServer,
  createHttpsServer,
  connect,
  peerIdentity,
  serverVerification,
}

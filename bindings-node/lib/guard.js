'use strict'
// meshtls request guard for `http`/`https` servers and Express-style handlers: authenticates a
// request by its mTLS peer (the TLS socket's client certificate), by a certificate forwarded
// by a TLS-terminating proxy (`X-SSL-Client-Cert`, nginx `$ssl_client_escaped_cert`, honoured
// only from `trustedProxies`), and/or a JWT-SVID (`Authorization: Bearer`).
//
// Every verdict is the core's: the chain goes to `verifier.verify()`, the token to
// `validator.validate()` with the request's certificate (a token bound to another certificate
// is refused, `token_binding`). A refusal is `401 {"error": {"code", "message"}}`.

const net = require('node:net')

const FORWARDED_CERT_HEADER = 'x-ssl-client-cert'

class Refused extends Error {
  constructor(code, message) {
    super(message)
    this.code = code
  }
}

function chainOf(cert) {
  const chain = []
  const seen = new Set()
  for (let c = cert; c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256)
    chain.push(c.raw)
  }
  return chain
}

function blockList(proxies) {
  const list = new net.BlockList()
  for (const p of proxies) {
    const [address, prefix] = p.split('/')
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4'
    if (prefix === undefined) list.addAddress(address, family)
    else list.addSubnet(address, Number(prefix), family)
  }
  return list
}

function fromProxy(list, address) {
  if (!address) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  const family = net.isIPv6(v4) ? 'ipv6' : 'ipv4'
  return list.check(v4, family)
}

function bearer(req) {
  const value = req.headers && req.headers.authorization
  if (typeof value !== 'string') return undefined
  const [scheme, ...rest] = value.split(' ')
  const token = rest.join(' ').trim()
  return scheme.toLowerCase() === 'bearer' && token ? token : undefined
}

/**
 * `requestGuard({ verifier, validator, trustedProxies, requireCertificate, requireToken })`
 * returns `guard(req, res, next?)`: on success it sets `req.meshtls = { peer, token,
 * certificateSource }`, calls `next()` when given and returns true; on refusal it answers 401
 * and returns false (without calling `next`).
 */
function requestGuard(options = {}) {
  const { verifier, validator, trustedProxies = [], requireCertificate = false, requireToken = false } = options
  if (!verifier && !validator) throw new TypeError('requestGuard: give a verifier, a validator or both')
  if (requireCertificate && !verifier) throw new TypeError('requestGuard: requireCertificate needs a verifier')
  if (requireToken && !validator) throw new TypeError('requestGuard: requireToken needs a validator')
  const proxies = blockList(trustedProxies)

  function authenticate(req) {
    let chain
    let source = null
    const socket = req.socket
    const cert = socket && typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(true) : null
    if (cert && cert.raw) {
      chain = chainOf(cert)
      source = 'tls'
    } else if (fromProxy(proxies, socket && socket.remoteAddress)) {
      const header = req.headers && req.headers[FORWARDED_CERT_HEADER]
      if (typeof header === 'string' && header) {
        chain = decodeURIComponent(header)
        source = 'proxy'
      }
    }
    let peer = null
    let leaf
    if (chain !== undefined && verifier) {
      try {
        peer = verifier.verify(chain, { usage: 'client' })
      } catch (e) {
        throw new Refused(e.code || 'internal', e.message)
      }
      leaf = Array.isArray(chain) ? chain[0] : chain
    }
    let token = null
    const presented = bearer(req)
    if (presented !== undefined && validator) {
      try {
        token = validator.validate(presented, leaf)
      } catch (e) {
        throw new Refused(e.code || 'internal', e.message)
      }
    }
    if (requireCertificate && !peer) throw new Refused('no_certificate', 'a client certificate is required')
    if (requireToken && !token) throw new Refused('token_malformed', 'a JWT-SVID (Authorization: Bearer) is required')
    if (!peer && !token) throw new Refused('no_certificate', 'a client certificate or a JWT-SVID is required')
    return { peer, token, certificateSource: peer ? source : null }
  }

  return function guard(req, res, next) {
    try {
      req.meshtls = authenticate(req)
    } catch (e) {
      if (!(e instanceof Refused)) throw e
      const body = JSON.stringify({ error: { code: e.code, message: e.message } })
      res.statusCode = 401
      res.setHeader('content-type', 'application/json')
      res.setHeader('www-authenticate', 'Bearer')
      res.end(body)
      return false
    }
    if (typeof next === 'function') next()
    return true
  }
}

module.exports = { requestGuard, FORWARDED_CERT_HEADER }

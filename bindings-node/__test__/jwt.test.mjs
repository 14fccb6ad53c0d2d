// JWT-SVIDs in Node: fixtures/jwt.json replayed (the core's verdicts), interop with `jose` both
// ways, and the request guard on a real http server.
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

import * as jose from 'jose'

import {
  Authority,
  JwtSigningKey,
  JwtValidator,
  Policy,
  SpiffeBundle,
  TrustBundle,
  Verifier,
  errorFamily,
  requestGuard,
} from '../index.mjs'

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures')
const read = (name) => readFileSync(path.join(dir, name))
const file = JSON.parse(read('jwt.json'))
const bundleJson = read(file.jwks).toString()
const at = new Date(file.at * 1000)

function validator(c = {}) {
  const bundle = new SpiffeBundle(bundleJson, file.trust_domain)
  const policy = new Policy({ allowPatterns: file.allow, clockLeeway: c.leeway ?? 0 })
  return new JwtValidator(bundle, policy, file.audience, {
    algorithms: c.algorithms,
    requireBinding: c.require_binding ?? false,
  })
}

for (const c of file.cases) {
  test(`token fixture ${c.name}: ${c.expect}`, () => {
    let got
    try {
      validator(c).validate(c.token, c.peer ? read(c.peer) : undefined, at)
      got = 'ok'
    } catch (e) {
      got = e.code
      assert.equal(errorFamily(e.code), e.code === 'token_malformed' ? 'input' : 'verification')
    }
    assert.equal(got, c.expect)
  })
}

test('the fixture bundle is a SPIFFE bundle', () => {
  const b = new SpiffeBundle(bundleJson)
  assert.equal(b.jwtKeyIds.length, 3)
  assert.equal(b.x509Authorities.length, 1)
  assert.equal(b.sequence, 1)
  assert.equal(b.refreshHint, 300)
  assert.throws(() => new SpiffeBundle('{"keys": 3}'), { code: 'malformed' })
})

/** The JWT-SVID keys of a SPIFFE bundle as a JWKS jose selects from: jose only matches keys
 * whose `use` is absent or `sig`, so the SPIFFE `use: jwt-svid` keys are handed over as such. */
function joseKeySet(json) {
  const keys = JSON.parse(json).keys
    .filter((k) => k.use === 'jwt-svid')
    .map(({ use, ...k }) => ({ ...k, use: 'sig' }))
  return jose.createLocalJWKSet({ keys })
}

for (const alg of ['ES256', 'ES384', 'EdDSA']) {
  test(`jose verifies a meshtls ${alg} token with the published JWKS`, async () => {
    const key = JwtSigningKey.generate(alg)
    const bundle = SpiffeBundle.empty('mesh.internal').withKey(key)
    const token = key.mint('spiffe://mesh.internal/service/api', ['orders'], { ttlSeconds: 120, roles: ['reader'] })
    const { payload, protectedHeader } = await jose.jwtVerify(token, joseKeySet(bundle.toJson()), {
      audience: 'orders',
      algorithms: [alg],
    })
    assert.equal(protectedHeader.kid, key.kid)
    assert.equal(payload.sub, 'spiffe://mesh.internal/service/api')
    assert.deepEqual(payload.roles, ['reader'])
    // Selected by kid and imported directly, as well.
    const jwk = JSON.parse(bundle.toJson()).keys.find((k) => k.kid === key.kid)
    const imported = await jose.importJWK({ ...jwk, use: undefined }, alg)
    await jose.jwtVerify(token, imported, { audience: 'orders' })
    // A tampered token fails in jose as in meshtls.
    const [h, , s] = token.split('.')
    const forged = Buffer.from(JSON.stringify({ ...payload, sub: 'spiffe://mesh.internal/admin/root' })).toString('base64url')
    await assert.rejects(jose.jwtVerify(`${h}.${forged}.${s}`, imported), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' })
  })
}

const claims = (extra = {}) => ({
  sub: 'spiffe://mesh.internal/service/api',
  aud: 'orders',
  exp: file.at + 120,
  iat: file.at - 10,
  ...extra,
})

test('meshtls validates tokens jose signs with a bundle key, and refuses what it must', async () => {
  const kids = new SpiffeBundle(bundleJson).jwtKeyIds
  const v = validator()
  const names = ['es256', 'es384', 'eddsa']
  const algs = ['ES256', 'ES384', 'EdDSA']
  for (let i = 0; i < 3; i++) {
    const key = await jose.importPKCS8(read(`jwt/${names[i]}.key.pem`).toString(), algs[i])
    const token = await new jose.SignJWT(claims()).setProtectedHeader({ alg: algs[i], kid: kids[i] }).sign(key)
    const got = v.validate(token, undefined, at)
    assert.equal(got.keyId, kids[i])
    assert.equal(got.algorithm, algs[i])
  }
  // HS256 keyed with the public JWK, alg none, a P-384 signature under the P-256 kid, another
  // audience.
  const publicJwk = JSON.stringify(JSON.parse(bundleJson).keys[1])
  const hs = await new jose.SignJWT(claims())
    .setProtectedHeader({ alg: 'HS256', kid: kids[0] })
    .sign(new TextEncoder().encode(publicJwk))
  const none = new jose.UnsecuredJWT(claims()).encode()
  const p384 = await jose.importPKCS8(read('jwt/es384.key.pem').toString(), 'ES384')
  const confused = await new jose.SignJWT(claims()).setProtectedHeader({ alg: 'ES384', kid: kids[0] }).sign(p384)
  const p256 = await jose.importPKCS8(read('jwt/es256.key.pem').toString(), 'ES256')
  const billing = await new jose.SignJWT(claims({ aud: 'billing' })).setProtectedHeader({ alg: 'ES256', kid: kids[0] }).sign(p256)
  for (const [token, code] of [[hs, 'token_algorithm'], [none, 'token_algorithm'], [confused, 'token_algorithm'], [billing, 'token_audience']]) {
    assert.throws(() => v.validate(token, undefined, at), { code })
  }
  // The HMAC above is what node:crypto makes too: the refusal is meshtls', not jose's.
  const [h, p] = hs.split('.')
  assert.equal(hs.split('.')[2], createHmac('sha256', publicJwk).update(`${h}.${p}`).digest('base64url'))
})

// --- the request guard ---------------------------------------------------------------------

async function guarded(guard) {
  const server = http.createServer((req, res) => {
    if (!guard(req, res)) return
    res.setHeader('content-type', 'application/json')
    const m = req.meshtls
    res.end(JSON.stringify({ peer: m.peer?.spiffeId ?? null, token: m.token?.subject ?? null, source: m.certificateSource }))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const get = (headers = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.address().port, headers }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }))
      })
      req.on('error', reject)
      req.end()
    })
  return { server, get }
}

test('the request guard: tokens, forwarded certificates from trusted proxies, bindings', async (t) => {
  const ca = await Authority.createRoot({ trustDomain: 'mesh.internal' })
  const api = await ca.issue({ id: 'spiffe://mesh.internal/service/api', usage: 'client' })
  const web = await ca.issue({ id: 'spiffe://mesh.internal/service/web', usage: 'client' })
  const policy = new Policy({ allowTrustDomains: ['mesh.internal'] })
  const verifier = new Verifier(new TrustBundle(ca.certificatePem), policy)
  const key = JwtSigningKey.generate()
  const v = new JwtValidator(SpiffeBundle.empty('mesh.internal').withKey(key), policy, ['gateway'])
  const forward = (pem) => ({ 'x-ssl-client-cert': encodeURIComponent(pem) })
  const bearer = (token) => ({ authorization: `Bearer ${token}` })

  const trusted = await guarded(requestGuard({ verifier, validator: v, trustedProxies: ['127.0.0.0/8'] }))
  const untrusted = await guarded(requestGuard({ verifier, validator: v, trustedProxies: ['10.9.9.9'] }))
  t.after(() => {
    trusted.server.close()
    untrusted.server.close()
  })

  const admin = key.mint('spiffe://mesh.internal/admin/alice', ['gateway'])
  assert.deepEqual(await trusted.get(bearer(admin)), {
    status: 200,
    body: { peer: null, token: 'spiffe://mesh.internal/admin/alice', source: null },
  })
  assert.deepEqual(await trusted.get(forward(api.chainPem)), {
    status: 200,
    body: { peer: 'spiffe://mesh.internal/service/api', token: null, source: 'proxy' },
  })
  // From an address that is not a configured proxy the header is ignored.
  const ignored = await untrusted.get(forward(api.chainPem))
  assert.equal(ignored.status, 401)
  assert.equal(ignored.body.error.code, 'no_certificate')
  // A token bound to api's certificate: with it, fine; with web's, or none, refused.
  const bound = key.mint('spiffe://mesh.internal/service/api', ['gateway'], { bindTo: api.certPem })
  assert.equal((await trusted.get({ ...forward(api.chainPem), ...bearer(bound) })).status, 200)
  for (const headers of [{ ...forward(web.chainPem), ...bearer(bound) }, bearer(bound)]) {
    const r = await trusted.get(headers)
    assert.equal(r.status, 401)
    assert.equal(r.body.error.code, 'token_binding')
  }
  const expired = key.mint('spiffe://mesh.internal/admin/alice', ['gateway'], { ttlSeconds: 60, at: new Date(1_700_000_000_000) })
  assert.equal((await trusted.get(bearer(expired))).body.error.code, 'token_expired')
  assert.throws(() => requestGuard({}), TypeError)
})

test('the request guard as Express-style middleware and on a TLS socket', () => {
  const calls = []
  const guard = requestGuard({ validator: validator() })
  const res = { headers: {}, setHeader(k, v) { this.headers[k] = v }, end(b) { this.body = b } }
  const ok = guard({ headers: { authorization: `Bearer ${file.cases[0].token}` }, socket: {} }, res, () => calls.push('next'))
  // The fixture token is judged now (it expired long ago): refused, next() not called.
  assert.equal(ok, false)
  assert.equal(res.statusCode, 401)
  assert.equal(JSON.parse(res.body).error.code, 'token_expired')
  assert.deepEqual(calls, [])
})

// --- the native wss server with the built-in JWT-SVID check --------------------------------

import WebSocket from 'ws'
import { WssServer, wssConnect } from '../index.mjs'
import { identity as leaf, pki as mkPki } from './helpers.mjs'

/** A certificate-less client (a browser): resolves to 'open' or the HTTP status it got. */
function browser(port, ca, headers = {}, protocols = undefined) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`wss://localhost:${port}/`, protocols, { ca, headers })
    ws.on('open', () => {
      resolve({ outcome: 'open', protocol: ws.protocol })
      ws.close()
    })
    ws.on('unexpected-response', (_req, res) => resolve({ outcome: res.statusCode }))
    ws.on('error', (e) => resolve({ outcome: e.message }))
  })
}

test('WssServer with a JwtValidator admits certificate-less clients with a token only', async (t) => {
  const { ca, verifier } = await mkPki()
  const srv = await leaf(ca, 'gateway')
  const cli = await leaf(ca, 'agent')
  const other = await leaf(ca, 'intruder')
  const key = JwtSigningKey.generate()
  const policy = new Policy({ allowTrustDomains: ['mesh.internal'] })
  const v = new JwtValidator(SpiffeBundle.empty('mesh.internal').withKey(key), policy, ['gateway'])
  const server = await WssServer.listen(srv.identity, verifier, '127.0.0.1:0', v)
  t.after(() => server.close())
  const caPem = ca.rootPem

  // Authorization: Bearer, and the subprotocol a browser can set.
  const admin = key.mint('spiffe://mesh.internal/admin/alice', ['gateway'])
  let accepted = server.accept()
  assert.equal((await browser(server.port, caPem, { authorization: `Bearer ${admin}` })).outcome, 'open')
  const conn = await accepted
  assert.equal(conn.peer, null)
  assert.equal(conn.token.subject, 'spiffe://mesh.internal/admin/alice')
  accepted = server.accept()
  const sub = await browser(server.port, caPem, {}, ['meshtls.jwt', `meshtls.jwt.${admin}`])
  assert.deepEqual(sub, { outcome: 'open', protocol: 'meshtls.jwt' })
  assert.equal((await accepted).token.subject, 'spiffe://mesh.internal/admin/alice')

  // No token, a bound token without its certificate: 401.
  assert.equal((await browser(server.port, caPem)).outcome, 401)
  const bound = key.mint('spiffe://mesh.internal/service/agent', ['gateway'], { bindTo: cli.issued.certPem })
  assert.equal((await browser(server.port, caPem, { authorization: `Bearer ${bound}` })).outcome, 401)

  // mTLS clients: without a token as always; the intruder's replay of agent's bound token is
  // refused (token_binding), so its connection fails.
  accepted = server.accept()
  const mtls = await wssConnect(cli.identity, verifier, `wss://localhost:${server.port}/`)
  const seen = await accepted
  assert.equal(seen.peer.spiffeId, 'spiffe://mesh.internal/service/agent')
  assert.equal(seen.token, null)
  await mtls.close()
  const replay = new Promise((resolve) => {
    const ws = new WebSocket(`wss://localhost:${server.port}/`, {
      ca: caPem,
      cert: other.issued.chainPem,
      key: other.issued.keyPem,
      headers: { authorization: `Bearer ${bound}` },
    })
    ws.on('open', () => resolve('open'))
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode))
    ws.on('error', (e) => resolve(e.message))
  })
  assert.equal(await replay, 401)
})

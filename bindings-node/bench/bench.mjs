// meshtls vs @peculiar/x509 (pure JS on WebCrypto), in one run:
//   1. issuance of a P-256 leaf: key generation + certificate signed by a P-256 CA
//   2. verification of a chain (leaf <- intermediate <- root): parse and check signatures and
//      validity (meshtls also checks the path, EKU, SVID rules and the identity policy), also
//      against Node's own crypto.X509Certificate doing signatures, links, validity and the ID
// Run from bindings-node/ after a release build: npm run build && node bench/bench.mjs
import 'reflect-metadata'
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto'
import * as x509 from '@peculiar/x509'

import { Authority, Policy, TrustBundle, Verifier } from '../index.mjs'

x509.cryptoProvider.set(webcrypto)
const TD = 'mesh.internal'
const ISSUE_N = Number(process.env.BENCH_ISSUE_N || 500)
const VERIFY_N = Number(process.env.BENCH_VERIFY_N || 2000)

async function timed(n, fn) {
  for (let i = 0; i < Math.min(20, n); i++) await fn(i) // warm-up
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn(i)
  const ns = Number(process.hrtime.bigint() - t0)
  return { perOpUs: ns / n / 1000, opsPerSec: (n * 1e9) / ns }
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }

async function peculiarCa(name, issuer) {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])
  const now = new Date()
  const params = {
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(15))).toString('hex'),
    subject: `CN=${name}`,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 365 * 86400_000),
    signingAlgorithm: ecdsa,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  }
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({ ...params, issuer: issuer.cert.subject, publicKey: keys.publicKey, signingKey: issuer.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...params, name: `CN=${name}`, keys })
  return { cert, keys }
}

async function peculiarLeaf(ca, i) {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify'])
  const now = new Date()
  return x509.X509CertificateGenerator.create({
    serialNumber: '01' + Buffer.from(webcrypto.getRandomValues(new Uint8Array(15))).toString('hex'),
    subject: `CN=svc${i}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 90 * 86400_000),
    signingAlgorithm: ecdsa,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${TD}/service/svc${i}` }]),
    ],
  })
}

const rows = []

// 1. Issuance.
const root = await Authority.createRoot({ trustDomain: TD })
rows.push(['issue P-256 leaf (await each)', 'meshtls', await timed(ISSUE_N, (i) => root.issue({ id: `spiffe://${TD}/service/svc${i}` }))])
// The async call's round trip through the libuv pool is paid per await; with several in
// flight (how a gateway issues) it overlaps with the work.
rows.push(['issue P-256 leaf (16 in flight)', 'meshtls', await timed(ISSUE_N / 16, (i) => Promise.all(Array.from({ length: 16 }, (_, j) => root.issue({ id: `spiffe://${TD}/service/b${i}x${j}` }))))])
rows[rows.length - 1][2] = { perOpUs: rows[rows.length - 1][2].perOpUs / 16, opsPerSec: rows[rows.length - 1][2].opsPerSec * 16 }
const pRoot = await peculiarCa('bench root')
rows.push(['issue P-256 leaf (await each)', '@peculiar/x509', await timed(ISSUE_N, (i) => peculiarLeaf(pRoot, i))])

// 2. Verification of leaf <- intermediate <- root.
const inter = await root.createIntermediate()
const issued = await inter.issue({ id: `spiffe://${TD}/service/api` })
const verifier = new Verifier(new TrustBundle(root.rootPem), new Policy({ allowPatterns: [`spiffe://${TD}/service/*`] }))
const chainDer = issued.chainDer
rows.push(['verify 2-link chain', 'meshtls', await timed(VERIFY_N, () => verifier.verify(chainDer, { usage: 'client' }))])

const pInter = await peculiarCa('bench intermediate', pRoot)
const pLeaf = await peculiarLeaf(pInter, 0)
const pChainDer = [pLeaf.rawData, pInter.cert.rawData]
const pRootCert = pRoot.cert
rows.push([
  'verify 2-link chain',
  '@peculiar/x509',
  await timed(VERIFY_N, async () => {
    const leaf = new x509.X509Certificate(pChainDer[0])
    const mid = new x509.X509Certificate(pChainDer[1])
    const date = new Date()
    if (!(await leaf.verify({ publicKey: mid, date }))) throw new Error('leaf')
    if (!(await mid.verify({ publicKey: pRootCert, date }))) throw new Error('intermediate')
  }),
])

// The same meshtls-issued chain checked with Node's own crypto.X509Certificate: parse both,
// two signatures, issuer links, validity, and the SPIFFE ID in the leaf's URI SAN.
const nodeRoot = new NodeX509(root.rootPem)
const wantId = `spiffe://${TD}/service/api`
rows.push([
  'verify 2-link chain',
  'node:crypto X509Certificate',
  await timed(VERIFY_N, () => {
    const leaf = new NodeX509(chainDer[0])
    const mid = new NodeX509(chainDer[1])
    const now = Date.now()
    for (const c of [leaf, mid]) {
      if (now < Date.parse(c.validFrom) || now > Date.parse(c.validTo)) throw new Error('validity')
    }
    if (!leaf.checkIssued(mid) || !leaf.verify(mid.publicKey)) throw new Error('leaf')
    if (!mid.checkIssued(nodeRoot) || !mid.verify(nodeRoot.publicKey)) throw new Error('intermediate')
    if (!(leaf.subjectAltName || '').split(', ').includes(`URI:${wantId}`)) throw new Error('identity')
  }),
])

console.log(`node ${process.version}, ${process.platform}-${process.arch}; issue n=${ISSUE_N}, verify n=${VERIFY_N}`)
console.log('| operation | library | per op | ops/s |')
console.log('|---|---|---:|---:|')
for (const [op, lib, r] of rows) console.log(`| ${op} | ${lib} | ${r.perOpUs.toFixed(1)} µs | ${r.opsPerSec.toFixed(0)} |`)

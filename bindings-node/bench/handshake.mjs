// What a guarded Node `tls` server costs per handshake, against the same server unguarded.
//
// Server and client run as separate processes pinned to separate cores (taskset, when there
// are two); the client is plain Node `tls` (the same for every server): `LOOPS` connection
// loops, a full mTLS handshake each (no resumption), a 1-byte echo, close. Leaf + intermediate
// chains on both sides, P-256. The figure is handshakes per second of the *server's* CPU time
// (process.cpuUsage in the server process), so a slower client does not flatter anyone.
//
// Servers, with the same certificate, key, CA and TLS 1.3 profile:
//   plain         tls.createServer: requestCert, rejectUnauthorized, ca (OpenSSL verifies)
//   after         plain + the core verifying the chain again on 'secureConnection' (what the
//                 helpers did before the core became OpenSSL's verifier: double work)
//   hook-only     plain + the core as OpenSSL's verifier (hookSecureContext), no JS guard:
//                 the cost of the core's verification against OpenSSL's own
//   guarded       meshtls createServer: the core is OpenSSL's verifier, in the handshake,
//                 and the guard hands its verdict to 'secureConnection'
// The last column is wall-clock time inside the core's callback (hookStats()), which a loaded
// machine inflates; the CPU columns are the figures.
//
// Run from bindings-node/ after a release build:
//   npm run build && node bench/handshake.mjs   (BENCH_SECONDS, BENCH_ROUNDS, BENCH_LOOPS, BENCH_MODES)
import { spawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { cpus, loadavg } from 'node:os'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'

const self = fileURLToPath(import.meta.url)
const TD = 'mesh.internal'
const SECONDS = Number(process.env.BENCH_SECONDS || 6)
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3)
const LOOPS = Number(process.env.BENCH_LOOPS || 16)
const MODES = (process.env.BENCH_MODES || 'plain,after,hook-only,guarded').split(',')

async function load() {
  return (await import('../index.js')).default
}

async function pki() {
  const m = await load()
  const root = await m.Authority.createRoot({ trustDomain: TD })
  const mid = await root.createIntermediate()
  const server = await mid.issue({ id: `spiffe://${TD}/service/api`, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  const client = await mid.issue({ id: `spiffe://${TD}/service/web` })
  return {
    root: root.rootPem,
    server: { chain: server.chainPem, key: server.keyPem },
    client: { chain: client.chainPem, key: client.keyPem },
  }
}

// ---- server process -------------------------------------------------------------------
async function server(mode, material) {
  const m = await load()
  const verifier = new m.Verifier(new m.TrustBundle(material.root), new m.Policy({ allowTrustDomains: [TD] }))
  let count = 0
  const onSocket = (socket) => {
    count++
    socket.on('error', () => {})
    socket.once('data', (d) => socket.end(d))
  }
  let srv
  if (mode === 'guarded') {
    const identity = new m.Identity(material.server.chain, material.server.key)
    srv = m.createServer(identity, verifier, onSocket)
    if (m.serverVerification(srv).mode !== 'handshake') throw new Error('the core is not the verifier here')
  } else {
    const p = m.tlsProfile()
    srv = tls.createServer({
      cert: material.server.chain,
      key: material.server.key,
      ca: material.root,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: p.minVersion,
      ciphers: p.ciphers,
      ecdhCurve: p.ecdhCurve,
    })
    if (mode === 'hook-only') {
      m.hookSecureContext(srv._sharedCreds.context._external, verifier)
      srv.on('secureConnection', onSocket)
    } else if (mode === 'after') {
      srv.on('secureConnection', (socket) => {
        const chain = []
        for (let c = socket.getPeerCertificate(true), seen = new Set(); c && c.raw && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
          seen.add(c.fingerprint256)
          chain.push(c.raw)
        }
        verifier.verify(chain, { usage: 'client' })
        onSocket(socket)
      })
    } else {
      srv.on('secureConnection', onSocket)
    }
  }
  let failures = 0
  srv.on('tlsClientError', () => failures++)
  srv.on('peerRejected', () => failures++)
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  process.stdout.write(JSON.stringify({ port: srv.address().port }) + '\n')
  let start
  process.stdin.setEncoding('utf8')
  for await (const line of process.stdin) {
    if (line.startsWith('start')) {
      count = 0
      failures = 0
      start = { cpu: process.cpuUsage(), wall: process.hrtime.bigint() }
    } else if (line.startsWith('stop')) {
      const cpu = process.cpuUsage(start.cpu)
      const wallUs = Number(process.hrtime.bigint() - start.wall) / 1000
      const hook = m.hookStats()
      const perCall = hook.calls ? { callbackUs: hook.callbackMicros / hook.calls, verifyUs: hook.verifyMicros / hook.calls } : {}
      process.stdout.write(JSON.stringify({ count, failures, cpuUs: cpu.user + cpu.system, wallUs, ...perCall }) + '\n')
      srv.close()
      process.exit(0)
    }
  }
}

// ---- client process -------------------------------------------------------------------
async function client(port, seconds, material) {
  let done = 0
  let errors = 0
  const until = Date.now() + seconds * 1000
  const one = () =>
    new Promise((resolve) => {
      const s = tls.connect(
        { host: '127.0.0.1', port, ca: material.root, cert: material.client.chain, key: material.client.key, checkServerIdentity: () => undefined },
        () => s.write('x'),
      )
      s.on('data', () => {
        done++
        s.destroy()
        resolve()
      })
      s.on('error', () => {
        errors++
        resolve()
      })
      s.on('close', resolve)
    })
  const loop = async () => {
    while (Date.now() < until) await one()
  }
  await Promise.all(Array.from({ length: LOOPS }, loop))
  process.stdout.write(JSON.stringify({ done, errors }) + '\n')
}

// ---- orchestration --------------------------------------------------------------------
function pinned(core, args) {
  const two = cpus().length >= 2
  let taskset = false
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    taskset = two
  } catch {}
  return taskset ? spawn('taskset', ['-c', String(core), process.execPath, ...args]) : spawn(process.execPath, args)
}

/** The JSON lines a child prints, one `next()` each. */
function lines(child) {
  const it = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return async () => {
    const { value, done } = await it.next()
    if (done) throw new Error('child exited early')
    return JSON.parse(value)
  }
}

async function round(mode, material) {
  const env = JSON.stringify(material)
  const srv = pinned(0, [self, 'server', mode, env])
  srv.stderr.pipe(process.stderr)
  const fromServer = lines(srv)
  const { port } = await fromServer()
  // Warm-up: one short client run before counting.
  const warm = pinned(1, [self, 'client', String(port), '1', env])
  await lines(warm)()
  srv.stdin.write('start\n')
  const cli = pinned(1, [self, 'client', String(port), String(SECONDS), env])
  cli.stderr.pipe(process.stderr)
  const c = await lines(cli)()
  const reply = fromServer()
  srv.stdin.write('stop\n')
  const s = await reply
  await once(srv, 'exit')
  return { mode, perCpuSecond: s.count / (s.cpuUs / 1e6), perSecond: s.count / (s.wallUs / 1e6), count: s.count, failures: s.failures + c.errors, callbackUs: s.callbackUs, verifyUs: s.verifyUs }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main() {
  const [role, a, b, c] = process.argv.slice(2)
  if (role === 'server') return server(a, JSON.parse(b))
  if (role === 'client') return client(Number(a), Number(b), JSON.parse(c))
  const material = await pki()
  const results = Object.fromEntries(MODES.map((m) => [m, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of MODES) {
      const res = await round(mode, material)
      if (res.failures) throw new Error(`${mode}: ${res.failures} failed handshakes`)
      results[mode].push(res)
    }
  }
  const load1 = loadavg()[0].toFixed(2)
  console.log(`Node ${process.version}, OpenSSL ${process.versions.openssl}, ${cpus().length} CPUs, load ${load1}; ${ROUNDS} rounds of ${SECONDS} s, ${LOOPS} client loops; medians`)
  console.log('| server | handshakes / server CPU s | µs server CPU / handshake | handshakes / s | vs first row (per CPU s) | in the core\'s callback / of which verify (µs) |')
  console.log('|---|---:|---:|---:|---:|---:|')
  const base = median(results[MODES[0]].map((r) => r.perCpuSecond))
  for (const mode of MODES) {
    const cpu = median(results[mode].map((r) => r.perCpuSecond))
    const wall = median(results[mode].map((r) => r.perSecond))
    const cb = results[mode][0].callbackUs === undefined ? '' : `${median(results[mode].map((r) => r.callbackUs)).toFixed(0)} / ${median(results[mode].map((r) => r.verifyUs)).toFixed(0)}`
    console.log(`| ${mode} | ${cpu.toFixed(0)} | ${(1e6 / cpu).toFixed(0)} | ${wall.toFixed(0)} | ${(cpu / base).toFixed(3)} | ${cb} |`)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

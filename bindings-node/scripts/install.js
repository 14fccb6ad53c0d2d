#!/usr/bin/env node
// npm `install` hook: makes sure a native binary for this machine exists.
//
// - A published install finds its binary in the per-platform package (npm/<triple>/, pulled in
//   as an optional dependency: scripts/package adds it when it packs) or beside native.js:
//   nothing to do. A published package has no Rust sources: on a platform without a prebuilt
//   package it says so and leaves `require('meshtls')` to throw the loader's error.
// - `npm install ./bindings-node` from a checkout has no binary yet: build it from source with
//   cargo (release), the same crate `napi build` compiles, and put it where native.js looks.
// - Inside the package itself (`npm ci` in bindings-node/) it does nothing: developers and CI
//   run `npm run build` / `npm run build:debug`, which also regenerate native.js and index.d.ts.
// MESHTLS_SKIP_BUILD=1 skips it everywhere.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const here = path.resolve(__dirname, '..')

function log(msg) {
  process.stderr.write(`meshtls: ${msg}\n`)
}

function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const report = process.report && process.report.getReport && process.report.getReport()
    const glibc = report && report.header && report.header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function nativeLoads() {
  try {
    require(path.join(here, 'native.js'))
    return true
  } catch {
    return false
  }
}

function main() {
  if (process.env.MESHTLS_SKIP_BUILD) return
  const initCwd = process.env.INIT_CWD && path.resolve(process.env.INIT_CWD)
  if (initCwd === here) return
  if (nativeLoads()) return
  if (!fs.existsSync(path.join(here, 'Cargo.toml'))) {
    log(`no prebuilt binary for ${platformSuffix()} (published for: linux-x64-gnu); ` +
      'build from a checkout instead: npm install ./bindings-node (needs Rust)')
    return
  }
  log('no prebuilt binary for this platform: building from source with cargo (release)')
  const out = execFileSync(
    'cargo',
    ['build', '--release', '--message-format=json-render-diagnostics', '--manifest-path', path.join(here, 'Cargo.toml')],
    { cwd: here, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 },
  )
  let lib
  for (const line of out.toString().split('\n')) {
    if (!line.startsWith('{')) continue
    const msg = JSON.parse(line)
    if (msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'meshtls_node') {
      lib = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
    }
  }
  if (!lib) throw new Error('cargo built no meshtls_node library')
  const dest = path.join(here, `meshtls.${platformSuffix()}.node`)
  fs.copyFileSync(lib, dest)
  log(`built ${path.basename(dest)}`)
  if (!nativeLoads()) throw new Error(`${dest} was built but does not load`)
}

main()

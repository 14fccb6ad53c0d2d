// Every JavaScript/TypeScript example of bindings-node/README.md compiles with `tsc --strict`
// (JavaScript blocks through checkJs)
// against the package's own index.d.ts: each fenced block (```js or ```ts) becomes a module,
// the names the prose supplies (`identity`, `verifier`, `token`...) are declared once with
// their meshtls types, and tsc must report nothing. Prints `node-readme: N blocks, N errors`.
//
// Run from the repository root (scripts/ci/node runs it after `npm ci`):
//   node scripts/ci/node-readme.mjs
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const pkg = path.join(root, 'bindings-node')
const readme = readFileSync(path.join(pkg, 'README.md'), 'utf8')

const blocks = []
const fence = /^```(js|ts|javascript|typescript|mjs)\n([\s\S]*?)^```$/gm
for (let m; (m = fence.exec(readme)); ) {
  const line = readme.slice(0, m.index).split('\n').length
  blocks.push({ line, code: m[2], js: !m[1].startsWith('t') })
}

// What the README's prose gives the examples (defined in the text around them).
const prelude = `import type * as meshtls from 'meshtls'
declare global {
  const identity: meshtls.Identity
  const verifier: meshtls.Verifier
  const ca: meshtls.Authority
  const chain: string
  const token: string
  const caBundle: string
}
export {}
`

const dir = path.join(pkg, 'node_modules', '.cache', 'meshtls-readme')
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
writeFileSync(path.join(dir, 'prelude.d.ts'), prelude)
const files = ['prelude.d.ts']
blocks.forEach((b, i) => {
  // JavaScript blocks are checked as JavaScript (checkJs), TypeScript blocks as TypeScript.
  const name = `readme-${String(i + 1).padStart(2, '0')}-line${b.line}.${b.js ? 'js' : 'ts'}`
  writeFileSync(path.join(dir, name), `${b.code}\nexport {}\n`)
  files.push(name)
})
writeFileSync(
  path.join(dir, 'tsconfig.json'),
  JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        allowJs: true,
        checkJs: true,
        noEmit: true,
        target: 'es2022',
        module: 'esnext',
        moduleResolution: 'bundler',
        lib: ['es2022'],
        types: ['node'],
        skipLibCheck: false,
        paths: { meshtls: [path.join(pkg, 'index.d.ts')] },
      },
      files,
    },
    null,
    2,
  ),
)

let output = ''
let failed = false
try {
  output = execFileSync(process.execPath, [path.join(pkg, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
    encoding: 'utf8',
  })
} catch (err) {
  failed = true
  output = String(err.stdout || '') + String(err.stderr || '')
}
const errors = (output.match(/error TS\d+/g) || []).length
if (output.trim()) console.log(output.trim())
console.log(`node-readme: ${blocks.length} blocks, ${errors} errors`)
if (blocks.length === 0 || failed || errors > 0) process.exit(1)
rmSync(dir, { recursive: true, force: true })

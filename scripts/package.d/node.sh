#!/usr/bin/env bash
# The napi-rs layout, as two `npm pack` tarballs in $1:
#   meshtls-<v>.tgz                the loader (native.js), the JS helpers and the types, with the
#                                  platform package as an optional dependency (what napi's
#                                  prepublish step adds at publish time)
#   meshtls-linux-x64-gnu-<v>.tgz  bindings-node/npm/linux-x64-gnu/ plus the stripped addon
# $2 is a scratch directory. Needs the addon built by scripts/package (NATIVE_OUT).
set -euo pipefail
out=$1 stage=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${NATIVE_OUT:?run through scripts/package}"
src=$root/bindings-node
rm -rf "$out" "$stage"
mkdir -p "$out" "$stage/main" "$stage/platform"

# The platform package: its committed package.json + README, and the addon under the name the
# loader requires.
cp "$src/npm/linux-x64-gnu/package.json" "$src/npm/linux-x64-gnu/README.md" "$stage/platform/"
cp "$root/LICENSE" "$stage/platform/"
node_file=$(node -p "require('$src/npm/linux-x64-gnu/package.json').main")
cp "$NATIVE_OUT/libmeshtls_node.so" "$stage/platform/$node_file"

# The main package: the files package.json lists, and package.json with the optional dependency
# on every platform package built here, at this version.
(cd "$src" && node -e '
  const fs = require("fs"), path = require("path")
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"))
  const stage = process.argv[1]
  for (const pattern of pkg.files) {
    if (pattern.includes("*")) continue // *.node: the addon ships in the platform package
    fs.mkdirSync(path.join(stage, path.dirname(pattern)), { recursive: true })
    fs.copyFileSync(pattern, path.join(stage, pattern))
  }
  const platform = JSON.parse(fs.readFileSync("npm/linux-x64-gnu/package.json", "utf8"))
  pkg.optionalDependencies = { [platform.name]: pkg.version }
  delete pkg.devDependencies
  fs.writeFileSync(path.join(stage, "package.json"), JSON.stringify(pkg, null, 2) + "\n")
  fs.copyFileSync("README.md", path.join(stage, "README.md"))
' "$stage/main")
cp "$root/LICENSE" "$stage/main/"

(cd "$stage/platform" && npm pack --silent --pack-destination "$out" >/dev/null)
(cd "$stage/main" && npm pack --silent --pack-destination "$out" >/dev/null)
ls -l "$out"

#!/usr/bin/env bash
# The wasm npm package $1/meshtls-wasm-<v>.tgz: wasm/npm/package.json and the three
# wasm-bindgen outputs of wasm/scripts/build.sh over ONE .wasm at the package root:
#   node.cjs                            Node (require and import): reads the .wasm beside it
#   web.js + web.d.ts                   browsers / workers: `await init()` fetches it
#   meshtls_wasm.js + meshtls_wasm_bg.js  bundlers: import it as an ES module
# The three builds emit the same .wasm (checked), so one copy serves all. $2 is scratch.
set -euo pipefail
out=$1 stage=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${MESHTLS_VERSION:?run through scripts/package}"
pkg=$root/wasm/pkg
if [ "${MESHTLS_WASM_PREBUILT:-0}" != 1 ]; then
    # wasm/ is its own workspace with its own release profile. Without env.sh's zig compiler
    # and linker (they would also rebuild its x86_64 build scripts): the same environment as
    # scripts/ci/wasm, so after that suite this build is already fresh.
    (cd "$root/wasm" && env -u CC_x86_64_unknown_linux_gnu -u CXX_x86_64_unknown_linux_gnu \
        -u AR_x86_64_unknown_linux_gnu -u CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER \
        -u CARGO_ZIGBUILD_RUSTC_VERSION bash scripts/build.sh)
fi
for t in nodejs bundler; do
    cmp "$pkg/web/meshtls_wasm_bg.wasm" "$pkg/$t/meshtls_wasm_bg.wasm" ||
        { echo "wasm: the $t build's .wasm differs from the web build's" >&2; exit 1; }
done
cmp "$pkg/nodejs/meshtls_wasm.d.ts" "$pkg/bundler/meshtls_wasm.d.ts" ||
    { echo "wasm: the nodejs and bundler typings differ" >&2; exit 1; }
v=$(node -p "require('$root/wasm/npm/package.json').version")
[ "$v" = "$MESHTLS_VERSION" ] || { echo "wasm/npm/package.json is at $v, the workspace at $MESHTLS_VERSION" >&2; exit 1; }

rm -rf "$out" "$stage"
mkdir -p "$out" "$stage"
cp "$root/wasm/npm/package.json" "$root/wasm/README.md" "$root/LICENSE" "$stage/"
cp "$pkg/web/meshtls_wasm_bg.wasm" "$pkg/web/meshtls_wasm_bg.wasm.d.ts" "$stage/"
cp "$pkg/bundler/meshtls_wasm.d.ts" "$pkg/bundler/meshtls_wasm.js" "$pkg/bundler/meshtls_wasm_bg.js" "$stage/"
cp "$pkg/nodejs/meshtls_wasm.js" "$stage/node.cjs"
sed 's|@ts-self-types="./meshtls_wasm.d.ts"|@ts-self-types="./web.d.ts"|' "$pkg/web/meshtls_wasm.js" >"$stage/web.js"
cp "$pkg/web/meshtls_wasm.d.ts" "$stage/web.d.ts"
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
tar -tzvf "$out"/*.tgz

#!/usr/bin/env bash
# Builds the wasm package: cargo (release, wasm32-unknown-unknown), then wasm-bindgen for the
# three outputs in pkg/: nodejs (CommonJS), web (ES module + init) and bundler (ES module
# importing the .wasm). Checks that the generated .d.ts matches the committed one.
#
#   env: WASM_TOOLCHAIN  rustup (default: rustup's wasm32-unknown-unknown target) or debian
#                        (Debian's rustc-web with -Zbuild-std; see shared TOOLCHAINS.md)
#        WASM_BINDGEN    the wasm-bindgen CLI (default: /opt/wasm-bindgen-<version>/bin/wasm-bindgen,
#                        version from Cargo.lock)
#        WASM_CC         C compiler for ring's C code (default clang-14)
#        CARGO_TARGET_DIR (default: the repository's target/, as wasm/.cargo/config.toml says)
#        UPDATE_TYPES=1  rewrite the committed types/meshtls_wasm.d.ts instead of checking it
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
WASM_TOOLCHAIN=${WASM_TOOLCHAIN:-rustup}
WASM_CC=${WASM_CC:-clang-14}
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
WASM_BINDGEN=${WASM_BINDGEN:-/opt/wasm-bindgen-$wb_version/bin/wasm-bindgen}
ar=llvm-ar-${WASM_CC#clang-}
command -v "$ar" >/dev/null || ar=llvm-ar

case "$WASM_TOOLCHAIN" in
  rustup)
    target_dir=${CARGO_TARGET_DIR:-$here/../target}
    env CC_wasm32_unknown_unknown="$WASM_CC" AR_wasm32_unknown_unknown="$ar" \
      cargo build --locked --release --target wasm32-unknown-unknown
    ;;
  debian)
    # Debian's 1.96 and rustup's toolchain must not share artifacts: its own target dir.
    target_dir=${CARGO_TARGET_DIR:-$here/../target}/wasm-deb
    llvm=$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
    env PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="wasm-ld-$llvm" \
      CC_wasm32_unknown_unknown="$WASM_CC" AR_wasm32_unknown_unknown="$ar" \
      CARGO_TARGET_DIR="$target_dir" \
      /usr/bin/cargo build --locked --release --target wasm32-unknown-unknown \
        -Zbuild-std=std,panic_abort
    ;;
  *) echo "WASM_TOOLCHAIN must be rustup or debian" >&2; exit 2 ;;
esac

wasm=$target_dir/wasm32-unknown-unknown/release/meshtls_wasm.wasm
rm -rf pkg
for t in nodejs web bundler; do
  "$WASM_BINDGEN" --target "$t" --out-dir "pkg/$t" "$wasm"
done
# The package root is CommonJS; mark the ES-module outputs as such for Node and bundlers.
echo '{ "type": "commonjs" }' > pkg/nodejs/package.json
echo '{ "type": "module" }' > pkg/web/package.json
echo '{ "type": "module", "sideEffects": ["./meshtls_wasm.js"] }' > pkg/bundler/package.json

if [ "${UPDATE_TYPES:-0}" = 1 ]; then
  mkdir -p types && cp pkg/bundler/meshtls_wasm.d.ts types/meshtls_wasm.d.ts
elif ! diff -u types/meshtls_wasm.d.ts pkg/bundler/meshtls_wasm.d.ts; then
  echo "types/meshtls_wasm.d.ts is out of date: run UPDATE_TYPES=1 scripts/build.sh and commit it" >&2
  exit 1
fi

raw=$(stat -c %s pkg/web/meshtls_wasm_bg.wasm)
gz=$(gzip -9 -c pkg/web/meshtls_wasm_bg.wasm | wc -c)
echo "meshtls_wasm_bg.wasm: $raw bytes raw, $gz bytes gzip -9"

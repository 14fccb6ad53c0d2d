#!/usr/bin/env bash
# Regenerates include/meshtls.h from the crate's source with the pinned cbindgen, installing
# it first if this machine lacks that version. `--check` fails (exit 1) when the committed
# header differs from what the source generates, without touching it.
set -euo pipefail
CBINDGEN_VERSION=0.29.4
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if ! cbindgen --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi
if [ "${1:-}" = "--check" ]; then
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    cbindgen --quiet --config cbindgen.toml --crate meshtls-ffi --output "$tmp" .
    if ! diff -u include/meshtls.h "$tmp"; then
        echo "include/meshtls.h is stale: run bindings-dotnet/ffi/gen-header.sh and commit it" >&2
        exit 1
    fi
else
    cbindgen --quiet --config cbindgen.toml --crate meshtls-ffi --output include/meshtls.h .
fi

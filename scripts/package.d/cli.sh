#!/usr/bin/env bash
# The CLI release tarball $1/meshtls-<v>-x86_64-unknown-linux-gnu.tar.gz:
#   meshtls-<v>-x86_64-unknown-linux-gnu/
#     bin/meshtls                                       stripped, glibc 2.17+
#     share/bash-completion/completions/meshtls
#     share/zsh/site-functions/_meshtls
#     share/fish/vendor_completions.d/meshtls.fish
#     share/man/man1/meshtls.1, meshtls-<command>.1 ...
#     README.md LICENSE
# Completions and man pages come from the binary itself (`meshtls completions`, `meshtls man`).
# $2 is scratch.
set -euo pipefail
out=$1 stage=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${NATIVE_OUT:?run through scripts/package}" "${MESHTLS_VERSION:?run through scripts/package}"
name=meshtls-$MESHTLS_VERSION-x86_64-unknown-linux-gnu
d=$stage/$name
rm -rf "$out" "$stage"
mkdir -p "$out" "$d/bin" "$d/share/bash-completion/completions" "$d/share/zsh/site-functions" \
    "$d/share/fish/vendor_completions.d" "$d/share/man/man1"
install -m 0755 "$NATIVE_OUT/meshtls" "$d/bin/meshtls"
"$d/bin/meshtls" completions bash >"$d/share/bash-completion/completions/meshtls"
"$d/bin/meshtls" completions zsh >"$d/share/zsh/site-functions/_meshtls"
"$d/bin/meshtls" completions fish >"$d/share/fish/vendor_completions.d/meshtls.fish"
"$d/bin/meshtls" man --out-dir "$d/share/man/man1"
cp "$root/README.md" "$root/LICENSE" "$d/"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
tar -tzvf "$out/$name.tar.gz"

#!/usr/bin/env bash
# Makes the packaging venv (maturin, ziglang, auditwheel at the versions in requirements.txt)
# when it is missing or stale. Idempotent; prints nothing when there is nothing to do.
#   MESHTLS_PACKAGE_VENV  where (default: <repo>/target/package-venv)
#   PYTHON                the interpreter that makes it (default python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${MESHTLS_PACKAGE_VENV:-$root/target/package-venv}
req=$here/requirements.txt
stamp=$venv/.meshtls-requirements
if [ -x "$venv/bin/python3" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
    exit 0
fi
[ -x "$venv/bin/python3" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$req"
cp "$req" "$stamp"

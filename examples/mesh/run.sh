#!/usr/bin/env bash
# The polyglot mesh demo: one CA for mesh.internal, four services in four languages, each
# issuing its own identity through its own binding, talking wss:// / mTLS, the attacks of the
# security plan refused with the core's code, and live certificate rotation. Ends with a summary
# table and `demo: N passed, N failed`; exits 0 only when every check passed.
#
#   bash examples/mesh/run.sh          (after `bash scripts/ci/install-deps`; scripts/demo does both)
#
# Builds (debug, into the shared target/, as scripts/ci/{python,node,dotnet} do): the CLI, the
# Rust directory, the Python extension (venv at target/ci-python-venv), the Node addon and the
# C ABI + MeshTls.dll + Node.exe (mcs). MESHTLS_DEMO_SKIP_BUILD=1 skips it;
# MESHTLS_DEMO_KEEP=1 keeps the work directory (logs, CA) for inspection.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
venv=${MESHTLS_PY_VENV:-$root/target/ci-python-venv}
bin=$CARGO_TARGET_DIR/debug
work=$(mktemp -d "${TMPDIR:-/tmp}/meshtls-demo.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    if [ -n "${MESHTLS_DEMO_KEEP:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }
die() { echo "demo: $*" >&2; echo "demo: 0 passed, 1 failed"; exit 1; }
# Prints the lines of a log not shown yet, prefixed with the service's name.
declare -A shown
show() {
    local name=$1 file=$2 n
    n=$(wc -l < "$file")
    tail -n +"$(( ${shown[$file]:-0} + 1 ))" "$file" | head -n "$(( n - ${shown[$file]:-0} ))" | sed "s/^/  [$name] /"
    shown[$file]=$n
}
# Waits (at most $3 seconds) until $1 has a line matching the regex $2.
wait_for() {
    local file=$1 pattern=$2 limit=${3:-30} start=$SECONDS
    until grep -qE "$pattern" "$file" 2>/dev/null; do
        [ $(( SECONDS - start )) -lt "$limit" ] || return 1
        sleep 0.2
    done
}

# ---- build ------------------------------------------------------------------------------------
dotnet=$work/dotnet
mkdir -p "$dotnet"
if [ -z "${MESHTLS_DEMO_SKIP_BUILD:-}" ]; then
    say "building (debug, shared target/; log in the work directory)"
    {
        cargo build --locked -p meshtls-cli -p meshtls-mesh-directory -p meshtls-ffi &&
        { [ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"; } &&
        "$venv/bin/python" -m pip install -q --disable-pip-version-check 'maturin>=1.7,<2' &&
        (cd bindings-python && VIRTUAL_ENV=$venv "$venv/bin/maturin" develop --locked -q) &&
        { [ -d bindings-node/node_modules ] || (cd bindings-node && MESHTLS_SKIP_BUILD=1 npm ci --no-audit --no-fund); } &&
        (cd bindings-node && npm run build:debug)
    } > "$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; die "build failed"; }
fi
mcs -langversion:7.2 -warnaserror -target:library -out:"$dotnet/MeshTls.dll" bindings-dotnet/MeshTls/*.cs >> "$work/build.log" 2>&1 &&
    mcs -langversion:7.2 -warnaserror -r:"$dotnet/MeshTls.dll" -out:"$dotnet/Node.exe" "$here/node/Node.cs" >> "$work/build.log" 2>&1 &&
    cp "$bin/libmeshtls_ffi.so" "$dotnet/" || { tail -n 30 "$work/build.log"; die "C# build failed"; }
echo "  built: meshtls CLI, mesh-directory (Rust), meshtls Python extension, Node addon, MeshTls.dll + Node.exe"

py=$venv/bin/python
export MESHTLS_CA_PASSPHRASE
MESHTLS_CA_PASSPHRASE=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
ca=$work/ca
crl=$work/crl.pem

# ---- 1. the CA; each service issues its own identity through its own binding ------------------
say "1. CA for mesh.internal (meshtls CLI); each service issues its own identity when it starts"
"$bin/meshtls" ca init --trust-domain mesh.internal --out "$ca" | sed 's/^/  /' || die "ca init failed"

# ---- 2. services ------------------------------------------------------------------------------
say "2. directory (Rust, meshtls-net) and gateway (Node, WssServer) as wss:// mTLS servers"
timeout 170 "$bin/mesh-directory" "$ca" "$crl" 160 > "$work/directory.log" 2>&1 &
pids+=($!)
wait_for "$work/directory.log" '^listening tls' 30 || { show directory "$work/directory.log"; die "directory did not start"; }
wss_port=$(awk '/^listening wss/{print $3}' "$work/directory.log")
tls_port=$(awk '/^listening tls/{print $3}' "$work/directory.log")
show directory "$work/directory.log"
timeout 170 node "$here/gateway.mjs" "$ca" "$wss_port" 160 > "$work/gateway.log" 2>&1 &
pids+=($!)
wait_for "$work/gateway.log" '^listening wss' 30 || { show gateway "$work/gateway.log"; die "gateway did not start"; }
gateway_port=$(awk '/^listening wss/{print $3}' "$work/gateway.log")
show gateway "$work/gateway.log"

say "2. agent (Python, native asyncio wss) -> gateway -> directory; then rotation (4.)"
timeout 90 "$py" "$here/agent.py" "$ca" "$gateway_port" > "$work/agent.log" 2>&1
agent_rc=$?
show agent "$work/agent.log"
show gateway "$work/gateway.log"
show directory "$work/directory.log"

say "2. node (.NET on Mono, SslStream TLS 1.2 + MeshTls callback) -> directory (line protocol)"
(cd "$dotnet" && timeout 60 mono Node.exe "$ca" "$tls_port") > "$work/node.log" 2>&1
node_rc=$?
show node "$work/node.log"
sleep 0.3
show directory "$work/directory.log"

# ---- 3. attacks -------------------------------------------------------------------------------
declare -A attack_code
# attack NAME PORT: runs attacks.py NAME, then reads the code the directory logged for it.
attack() {
    local name=$1 port=$2 before
    before=$(grep -c '^refused' "$work/directory.log")
    timeout 40 "$py" "$here/attacks.py" "$name" "$ca" "$port" "$work" > "$work/attack-$name.log" 2>&1
    local rc=$?
    show "attacker" "$work/attack-$name.log"
    local start=$SECONDS
    while [ "$(grep -c '^refused' "$work/directory.log")" -le "$before" ] && [ $(( SECONDS - start )) -lt 10 ]; do sleep 0.2; done
    show directory "$work/directory.log"
    local code
    code=$(grep '^refused' "$work/directory.log" | tail -n +"$(( before + 1 ))" | head -1 | awk '{print $3}')
    if [ "$rc" -ne 0 ]; then code="ACCEPTED"; fi
    attack_code[$name]=${code:-none}
    echo "  => the directory refused it: ${attack_code[$name]}"
}
say "3a. a CA of our own whose name equals the real CA's, signing a gateway certificate"
attack same-name-ca "$wss_port"
say "3b. a valid certificate of the wrong service (agent) at the directory, which admits only the gateway"
attack wrong-id "$wss_port"
say "3c. a valid gateway certificate, revoked with \`meshtls revoke\` + \`meshtls crl\`"
timeout 40 "$py" "$here/attacks.py" issue-revoked "$ca" "$wss_port" "$work" > "$work/attack-issue.log" 2>&1
show attacker "$work/attack-issue.log"
{
    "$bin/meshtls" revoke --ca "$ca" --cert "$work/revoked/chain.pem" --reason key_compromise &&
    "$bin/meshtls" crl --ca "$ca" --out "$crl"
} 2>&1 | sed 's/^/  [meshtls] /'
wait_for "$work/directory.log" '^crl loaded' 10
show directory "$work/directory.log"
attack revoked "$wss_port"
say "3d. no client certificate at all (Python ssl, trusting the real CA)"
attack no-cert "$tls_port"

# ---- 5. summary -------------------------------------------------------------------------------
passed=0
failed=0
rows=()
check() {  # check NAME DETAIL CONDITION...
    local name=$1 detail=$2 verdict
    shift 2
    if "$@"; then verdict=ok; passed=$((passed + 1)); else verdict=FAIL; failed=$((failed + 1)); fi
    rows+=("$(printf '%-50s %-5s %s' "$name" "$verdict" "$detail")")
}
has() { grep -qE "$2" "$1"; }
serial_of() { grep -E "$2" "$1" | head -1 | grep -oE 'serial [0-9a-f]+' | head -1 | awk '{print $2}'; }
td=spiffe://mesh.internal/service
check "identity directory (Rust core)" "serial $(serial_of "$work/directory.log" '^issued')" has "$work/directory.log" "^issued $td/directory serial"
check "identity gateway (Node binding)" "serial $(serial_of "$work/gateway.log" '^issued')" has "$work/gateway.log" "^issued $td/gateway serial"
check "identity agent (Python binding)" "serial $(serial_of "$work/agent.log" '^issued')" has "$work/agent.log" "^issued $td/agent serial"
check "identity node (.NET MeshTls)" "serial $(serial_of "$work/node.log" '^issued')" has "$work/node.log" "^issued $td/node serial"
both() { has "$1" "$2" && has "$3" "$4"; }
check "agent -> gateway (Python -> Node, wss)" "each saw the other's SPIFFE ID" \
    both "$work/agent.log" "^RESULT talk agent->gateway $td/gateway$" "$work/gateway.log" "^accepted $td/agent "
forwarded() { both "$work/gateway.log" "^connected directory $td/directory " "$work/directory.log" "^accepted wss $td/gateway " &&
    has "$work/agent.log" '^RESULT talk gateway->directory forwarded'; }
check "gateway -> directory (Node -> Rust, wss)" "each saw the other's SPIFFE ID; agent's lookup forwarded" forwarded
check "node -> directory (.NET -> Rust, mTLS 1.2)" "each saw the other's SPIFFE ID" \
    both "$work/node.log" "^RESULT talk node->directory $td/directory$" "$work/directory.log" "^accepted tls $td/node .*TLSv1_2"
is_code() { local got=${attack_code[$1]}; shift; for want in "$@"; do [ "$got" = "$want" ] && return 0; done; return 1; }
check "attack: same-name CA rejected" "${attack_code[same-name-ca]}" is_code same-name-ca bad_signature unknown_issuer
check "attack: wrong service identity rejected" "${attack_code[wrong-id]}" is_code wrong-id identity_not_allowed
check "attack: revoked certificate rejected" "${attack_code[revoked]}" is_code revoked revoked
check "attack: no client certificate rejected" "${attack_code[no-cert]}" is_code no-cert no_certificate
rot() { grep -E "^RESULT $1" "$work/agent.log" | head -1 | cut -d' ' -f4-; }
check "rotation: gateway, new serial on next handshake" "$(rot 'rotate gateway' | cut -d' ' -f2-)" has "$work/agent.log" '^RESULT rotate gateway ok'
check "rotation: agent, new serial on next handshake" "$(rot 'rotate agent' | cut -d' ' -f2-)" has "$work/agent.log" '^RESULT rotate agent ok'
check "rotation: first connection stayed open" "old certificates, still talking" has "$work/agent.log" '^RESULT open-connection ok'

say "summary"
printf '%-50s %-5s %s\n' "check" "" "detail"
printf '%s\n' "${rows[@]}"
[ "$agent_rc" -eq 0 ] || echo "agent exited with $agent_rc"
[ "$node_rc" -eq 0 ] || echo "node exited with $node_rc"
echo "demo: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$agent_rc" -eq 0 ] && [ "$node_rc" -eq 0 ]

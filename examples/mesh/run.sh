#!/usr/bin/env bash
# The polyglot mesh demo: one CA for mesh.internal behind the enrollment service (`meshtls
# serve`, the only process with the CA key), and four services in four languages that each
# enroll with a one-time join token through their own binding (they get the service's URL, the
# token and the CA bundle, never the CA key or its passphrase), talk wss:// / mTLS, refuse the
# attacks of the security plan with the core's code, and renew through the service while
# connections stay open. Ends with a summary table and `demo: N passed, N failed`; exits 0 only
# when every check passed.
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
# The passphrase lives in one file that only the operator's commands and `meshtls serve` read.
unset MESHTLS_CA_PASSPHRASE
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
td=spiffe://mesh.internal/service
ca=$work/ca                 # the CA directory: ca.crt, the encrypted ca.key, the service's ledger
pass=$work/ca.pass          # its passphrase
admin=$work/admin           # the operator's client certificate (…/admin/ops), for `meshtls admin`
attacker=$work/attacker     # the attacker's own files
bundle=$work/bundle/ca.crt  # what a service gets with its token: the CA certificate, nothing else
(umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$pass")

# launch NAME SECONDS TOKEN COMMAND...: starts COMMAND in the background with a timeout (the
# trap kills it), its join token in MESHTLS_JOIN_TOKEN, output in $work/NAME.log; sets
# $last_pid, and notes the command line in $work/launched (for the "CA key" check).
launch() {
    local name=$1 secs=$2 token=$3
    shift 3
    printf '%s: %s\n' "$name" "$*" >> "$work/launched"
    MESHTLS_JOIN_TOKEN=$token timeout "$secs" "$@" > "$work/$name.log" 2>&1 &
    last_pid=$!
    pids+=("$last_pid")
}

# ---- 1. the CA, the operator, the enrollment service, one join token per service --------------
say "1. CA for mesh.internal, the operator's admin identity, and \`meshtls serve\` (the only holder of the CA key)"
"$bin/meshtls" ca init --trust-domain mesh.internal --passphrase-file "$pass" --out "$ca" | sed 's/^/  /' ||
    die "ca init failed"
"$bin/meshtls" issue --ca "$ca" --passphrase-file "$pass" --id spiffe://mesh.internal/admin/ops --usage client \
    --out "$admin" | sed 's/^/  [operator] /' || die "issuing the admin identity failed"
mkdir -p "$(dirname "$bundle")" "$attacker" && cp "$ca/ca.crt" "$bundle"
# What a compromised agent host would leak: a valid certificate and key of the agent's SPIFFE ID
# (used in 3g to replay a stolen bound token on another service's own mTLS connection).
"$bin/meshtls" issue --ca "$ca" --passphrase-file "$pass" --id spiffe://mesh.internal/service/agent \
    --usage client --out "$attacker/agent-credential" > /dev/null || die "issuing the agent credential failed"
timeout 175 "$bin/meshtls" serve --ca "$ca" --passphrase-file "$pass" --listen 127.0.0.1:0 \
    --admin-id spiffe://mesh.internal/admin/ops --lifetime 1h > "$work/ca.log" 2>&1 &
pids+=($!)
wait_for "$work/ca.log" '^listening on' 30 || { show ca "$work/ca.log"; die "the CA service did not start"; }
ca_url=https://$(awk '/^listening on/{print $3}' "$work/ca.log")
show ca "$work/ca.log"
admin_args=(--url "$ca_url" --cert "$admin" --bundle "$bundle")
# token ID: mints a one-time join token for ID (granting the DNS name localhost, usable for 5
# minutes) as the operator; prints the token, shows what it grants.
token() {
    local out
    out=$("$bin/meshtls" admin token "${admin_args[@]}" --id "$1" --ttl 5m --dns localhost 2>&1) ||
        { echo "$out" | sed 's/^/  [operator] /' >&2; return 1; }
    echo "  [operator] token ${out:0:8}… for $1, $(echo "$out" | awk '/expires:/{print "expires " $2}')" >&2
    echo "$out" | head -1
}
tok_directory=$(token "$td/directory") && tok_gateway=$(token "$td/gateway") &&
    tok_agent=$(token "$td/agent") && tok_node=$(token "$td/node") || die "minting the join tokens failed"

# ---- 2. services ------------------------------------------------------------------------------
say "2. directory (Rust, meshtls-net) and gateway (Node, WssServer) enroll, then serve wss:// mTLS"
launch directory 170 "$tok_directory" "$bin/mesh-directory" "$ca_url" "$bundle" 160
directory_pid=$last_pid
wait_for "$work/directory.log" '^listening tls' 30 || { show directory "$work/directory.log"; die "directory did not start"; }
wss_port=$(awk '/^listening wss/{print $3}' "$work/directory.log")
tls_port=$(awk '/^listening tls/{print $3}' "$work/directory.log")
show directory "$work/directory.log"
launch gateway 170 "$tok_gateway" node "$here/gateway.mjs" "$ca_url" "$bundle" "$wss_port" 160
gateway_pid=$last_pid
wait_for "$work/gateway.log" '^listening wss' 30 || { show gateway "$work/gateway.log"; die "gateway did not start"; }
gateway_port=$(awk '/^listening wss/{print $3}' "$work/gateway.log")
show gateway "$work/gateway.log"
# What the two long-lived services run with, read from the kernel: no passphrase, no CA directory.
for pid in "$directory_pid" "$gateway_pid"; do
    tr '\0' '\n' < "/proc/$pid/environ" | grep -c '^MESHTLS_CA_PASSPHRASE=' >> "$work/environ-check"
    tr '\0' '\n' < "/proc/$pid/cmdline" | grep -cF "$ca" >> "$work/environ-check"
done

say "2. agent (Python, native asyncio wss) enrolls -> gateway -> directory; then rotation (4.)"
launch agent 90 "$tok_agent" "$py" "$here/agent.py" "$ca_url" "$bundle" "$gateway_port"
wait "$last_pid"
agent_rc=$?
show agent "$work/agent.log"
show gateway "$work/gateway.log"
show directory "$work/directory.log"

say "2. admin: a client without a certificate (as a browser page), with the operator's JWT-SVID, -> gateway"
"$bin/meshtls" jwt mint "${admin_args[@]}" --audience gateway --ttl 2m > "$work/admin-mint.txt" 2>&1 ||
    { sed 's/^/  [operator] /' "$work/admin-mint.txt"; die "minting the admin's JWT-SVID failed"; }
(umask 077 && head -1 "$work/admin-mint.txt" > "$work/admin.jwt")
tail -n +2 "$work/admin-mint.txt" | sed 's/^/  [operator] jwt mint: /'
launch admin 30 "" node "$here/admin.mjs" "$gateway_port" "$bundle" "$work/admin.jwt"
wait "$last_pid"
show admin "$work/admin.log"
show gateway "$work/gateway.log"

say "2. node (.NET on Mono) enrolls (MeshTls Enrollment), SslStream TLS 1.2 + MeshTls callback -> directory"
cd "$dotnet" && launch node 60 "$tok_node" mono Node.exe "$ca_url" "$bundle" "$tls_port" && cd "$root"
wait "$last_pid"
node_rc=$?
show node "$work/node.log"
sleep 0.3
show directory "$work/directory.log"

# ---- 3. attacks -------------------------------------------------------------------------------
declare -A attack_code
# attack NAME PORT [TOKEN]: runs attacks.py NAME (with TOKEN, if any), then reads the code the
# directory logged for it.
attack() {
    local name=$1 port=$2 token=${3:-} before rc code
    before=$(grep -c '^refused' "$work/directory.log")
    launch "attack-$name" 40 "$token" "$py" "$here/attacks.py" "$name" "$ca_url" "$bundle" "$port" "$attacker"
    wait "$last_pid"
    rc=$?
    show "attacker" "$work/attack-$name.log"
    local start=$SECONDS
    while [ "$(grep -c '^refused' "$work/directory.log")" -le "$before" ] && [ $(( SECONDS - start )) -lt 10 ]; do sleep 0.2; done
    show directory "$work/directory.log"
    code=$(grep '^refused' "$work/directory.log" | tail -n +"$(( before + 1 ))" | head -1 | awk '{print $3}')
    if [ "$rc" -ne 0 ]; then code="ACCEPTED"; fi
    attack_code[$name]=${code:-none}
    echo "  => the directory refused it: ${attack_code[$name]}"
}
say "3a. a CA of our own whose name equals the real CA's, signing a gateway certificate"
attack same-name-ca "$wss_port"
say "3b. a valid certificate of the wrong service: a second agent, enrolled with its own token, straight to the directory"
tok_wrong=$(token "$td/agent") || die "minting a token failed"
attack wrong-id "$wss_port" "$tok_wrong"
say "3c. a valid gateway certificate (enrolled with a gateway token), revoked with \`meshtls admin revoke\`"
tok_revoked=$(token "$td/gateway") || die "minting a token failed"
launch attack-enroll-revoked 40 "$tok_revoked" "$py" "$here/attacks.py" enroll-revoked "$ca_url" "$bundle" 0 "$attacker"
wait "$last_pid"
show attacker "$work/attack-enroll-revoked.log"
revoked_serial=$(grep -oE 'serial [0-9a-f]+' "$work/attack-enroll-revoked.log" | head -1 | awk '{print $2}')
"$bin/meshtls" admin revoke "${admin_args[@]}" --serial "${revoked_serial:-none}" --reason key_compromise 2>&1 |
    sed 's/^/  [operator] /'
# The directory fetches the CRL every second; it logs the refresh that brought the revocation.
wait_for "$work/directory.log" '^trust refreshed .* [1-9][0-9]* revoked\)$' 10 ||
    echo "  (the directory's trust did not take the revocation within 10 s)"
show directory "$work/directory.log"
attack revoked "$wss_port"
say "3d. no client certificate at all (Python ssl, trusting the real CA)"
attack no-cert "$tls_port"
say "3e. the agent's join token, used already, presented again to the CA service"
launch attack-reused-token 40 "$tok_agent" "$py" "$here/attacks.py" reused-token "$ca_url" "$bundle" 0 "$attacker"
wait "$last_pid"
reuse_rc=$?
show attacker "$work/attack-reused-token.log"
attack_code[reused-token]=$(sed -n 's/^refused by the CA service: \([a-z_]*\).*/\1/p' "$work/attack-reused-token.log")
[ "$reuse_rc" -eq 0 ] || attack_code[reused-token]=ACCEPTED
if command -v curl > /dev/null; then
    curl -s --max-time 5 --cacert "$bundle" "$ca_url/metrics" | grep '^meshtls_ca_enroll_failures_total' | sed 's/^/  [ca] /'
fi
echo "  => the CA service refused it: ${attack_code[reused-token]:-none}"

say "3f. the operator's JWT-SVID bound to its certificate (--bind), stolen and replayed without it"
"$bin/meshtls" jwt mint "${admin_args[@]}" --audience gateway --ttl 2m --bind > "$work/bound-mint.txt" 2>&1 ||
    die "minting the bound JWT-SVID failed"
(umask 077 && head -1 "$work/bound-mint.txt" > "$attacker/stolen.jwt")
launch attack-bound-replay 30 "" node "$here/admin.mjs" "$gateway_port" "$bundle" "$attacker/stolen.jwt"
wait "$last_pid"
show attacker "$work/attack-bound-replay.log"
attack_code[bound-replay]=$(sed -n 's/^REFUSED 401 \([a-z_]*\).*/\1/p' "$work/attack-bound-replay.log")
grep -q '^RESULT' "$work/attack-bound-replay.log" && attack_code[bound-replay]=ACCEPTED
echo "  => the gateway refused it: ${attack_code[bound-replay]:-none}"

say "3g. the same bound JWT-SVID replayed on another service's mTLS connection (the agent's certificate)"
launch attack-bound-mtls 30 "" node "$here/admin.mjs" "$gateway_port" "$bundle" "$attacker/stolen.jwt" "$attacker/agent-credential"
wait "$last_pid"
show attacker "$work/attack-bound-mtls.log"
attack_code[bound-mtls]=$(sed -n 's/^REFUSED 401 \([a-z_]*\).*/\1/p' "$work/attack-bound-mtls.log")
grep -q '^RESULT' "$work/attack-bound-mtls.log" && attack_code[bound-mtls]=ACCEPTED
echo "  => the gateway refused it: ${attack_code[bound-mtls]:-none}"

# ---- 5. summary -------------------------------------------------------------------------------
"$bin/meshtls" admin certs "${admin_args[@]}" > "$work/ledger.txt" 2>&1
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
# enrolled NAME: the service's log says it enrolled, and the CA's ledger has that certificate.
enrolled() {
    local serial
    serial=$(serial_of "$work/$1.log" "^enrolled $td/$1 serial")
    [ -n "$serial" ] && grep -qE "^$serial +enroll +$td/$1 " "$work/ledger.txt"
}
for svc in "directory Rust meshtls-net" "gateway Node binding" "agent Python binding" "node .NET MeshTls"; do
    set -- $svc
    check "identity $1 ($2 $3)" "serial $(serial_of "$work/$1.log" '^enrolled'), in the CA's ledger" enrolled "$1"
done
# Nothing but the operator's commands and `meshtls serve` got the CA directory or its passphrase.
ca_key_only_in_service() {
    ! grep -qF -e "$ca" -e "$pass" "$work/launched" && ! grep -qv '^0$' "$work/environ-check"
}
check "CA key: only in meshtls serve" "services got its URL, a token and ca.crt" ca_key_only_in_service
both() { has "$1" "$2" && has "$3" "$4"; }
check "agent -> gateway (Python -> Node, wss)" "each saw the other's SPIFFE ID" \
    both "$work/agent.log" "^RESULT talk agent->gateway $td/gateway$" "$work/gateway.log" "^accepted $td/agent "
forwarded() { both "$work/gateway.log" "^connected directory $td/directory " "$work/directory.log" "^accepted wss $td/gateway " &&
    has "$work/agent.log" '^RESULT talk gateway->directory forwarded'; }
check "gateway -> directory (Node -> Rust, wss)" "each saw the other's SPIFFE ID; agent's lookup forwarded" forwarded
check "admin -> gateway (no certificate, JWT-SVID, wss)" "the gateway saw the token's subject" \
    both "$work/admin.log" "^RESULT admin token spiffe://mesh.internal/admin/ops$" "$work/gateway.log" "^accepted token spiffe://mesh.internal/admin/ops$"
check "node -> directory (.NET -> Rust, mTLS 1.2)" "each saw the other's SPIFFE ID" \
    both "$work/node.log" "^RESULT talk node->directory $td/directory$" "$work/directory.log" "^accepted tls $td/node .*TLSv1_2"
is_code() { local got=${attack_code[$1]:-none}; shift; for want in "$@"; do [ "$got" = "$want" ] && return 0; done; return 1; }
check "attack: same-name CA rejected" "${attack_code[same-name-ca]}" is_code same-name-ca bad_signature unknown_issuer
check "attack: wrong service identity rejected" "${attack_code[wrong-id]}" is_code wrong-id identity_not_allowed
check "attack: revoked certificate rejected" "${attack_code[revoked]}" is_code revoked revoked
check "attack: no client certificate rejected" "${attack_code[no-cert]}" is_code no-cert no_certificate
check "attack: reused join token refused" "${attack_code[reused-token]:-none}" is_code reused-token token_used
check "attack: stolen bound JWT-SVID refused" "${attack_code[bound-replay]:-none}" is_code bound-replay token_binding
check "attack: bound JWT-SVID replayed over mTLS refused" "${attack_code[bound-mtls]:-none}" is_code bound-mtls token_binding
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

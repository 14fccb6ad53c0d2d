#!/usr/bin/env bash
# Writes the path-validation fixtures under fixtures/strict/ and their cases into
# fixtures/cases.json (replacing any `strict-*` case there). `make_fixtures` runs it last;
# it runs alone too:   bash core/examples/strict_fixtures.sh fixtures
#
# It drives the OpenSSL CLI (`openssl req/x509/ca/genpkey`, OpenSSL 3), because most of these
# certificates break rules meshtls's own issuer refuses to break: SHA-1/MD5 signatures, RSA-1024,
# P-192 and DSA keys, non-critical basicConstraints, zero/negative/21-octet serials, missing key
# identifiers, an empty subject... Every negative chain differs from the good one (`good`) only
# in the rule it breaks, so a case proves that rule and nothing else; most have a positive twin.
# The certificates are valid from the moment they are made, so every strict case carries its
# own `at` (one hour later). The output is committed: replays never need this script.
set -euo pipefail
out=$(cd "${1:-fixtures}" && pwd)
dir=$out/strict
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
work=$(mktemp -d)
trap 'rm -rf "$work" "$dir.tmp"' EXIT
cd "$work"

now=$(date -u +%s)
at=$((now + 3600))

ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ext SECTION-BODY -> a config file with section [x]
ext() {
    printf '[x]\n%b\n' "$1" >"$work/ext.cnf"
}

# csr KEY SUBJECT OUT
csr() { openssl req -new -key "$1" -subj "$2" -out "$3" 2>/dev/null; }

# sign CSR CA_CERT CA_KEY OUT EXT [serial] [days] [digest]
sign() {
    local serial=${6:-0x$(openssl rand -hex 16)} days=${7:-3650} md=${8:-sha256}
    ext "$5"
    openssl x509 -req -in "$1" -CA "$2" -CAkey "$3" -out "$4" -set_serial "$serial" \
        -days "$days" "-$md" -extfile "$work/ext.cnf" -extensions x 2>/dev/null
}

# selfsign KEY SUBJECT OUT EXT [days] [digest] [serial]
selfsign() {
    local days=${5:-3650} md=${6:-sha256} serial=${7:-0x$(openssl rand -hex 16)}
    csr "$1" "$2" "$work/self.csr"
    ext "$4"
    openssl x509 -req -in "$work/self.csr" -signkey "$1" -out "$3" -set_serial "$serial" \
        -days "$days" "-$md" -extfile "$work/ext.cnf" -extensions x 2>/dev/null
}

# (OpenSSL 3 adds key identifiers unless told `none`.)
CA_EXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=none
subjectAltName=URI:spiffe://mesh.internal'
SUB_EXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always'
LEAF_EXT='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth,serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid:always
subjectAltName=URI:spiffe://mesh.internal/service/api'

save() { cp "$1" "$dir.tmp/$2"; }
chain() { cat "$@"; }

# The good hierarchy: root -> intermediate -> leaf.
ec root.key
selfsign root.key "/CN=strict root" root.pem "$CA_EXT"
ec inter.key
csr inter.key "/CN=strict intermediate" inter.csr
sign inter.csr root.pem root.key inter.pem "$SUB_EXT"
ec leaf.key
csr leaf.key "/CN=api" leaf.csr
sign leaf.csr inter.pem inter.key leaf.pem "$LEAF_EXT"
save root.pem root.pem
chain leaf.pem inter.pem >"$dir.tmp/good.chain.pem"

cases=()
# case_ NAME CHAIN EXPECT [extra json fields; a later key wins]
case_() {
    local extra=${4:-}
    cases+=("{\"name\": \"strict-$1\", \"chain\": \"strict/$2\", \"bundle\": \"strict/root.pem\", \"with_crls\": false, \"allow\": [\"spiffe://mesh.internal/service/*\"], \"usage\": \"client\", \"at\": $at, \"expect\": \"$3\"$extra}")
}

# leaf_with NAME EXT [serial] [digest] [key] [subject]: a leaf under the good intermediate.
leaf_with() {
    local key=${5:-leaf.key} subject=${6:-/CN=api}
    csr "$key" "$subject" "$1.csr"
    sign "$1.csr" inter.pem inter.key "$1.pem" "$2" "${3:-}" 3650 "${4:-sha256}"
    chain "$1.pem" inter.pem >"$dir.tmp/$1.chain.pem"
}
# inter_with NAME EXT [serial] [digest] [key]: an intermediate under the good root, and a good
# leaf under it.
inter_with() {
    local key=${5:-$1.key}
    [ -f "$key" ] || ec "$key"
    csr "$key" "/CN=strict $1" "$1.csr"
    sign "$1.csr" root.pem root.key "$1.pem" "$2" "${3:-}" 3650 "${4:-sha256}"
    csr leaf.key "/CN=api" "$1-leaf.csr"
    local lext=$LEAF_EXT
    case "$2" in *subjectKeyIdentifier=none*) lext=${LEAF_EXT/keyid:always/issuer:always} ;; esac
    sign "$1-leaf.csr" "$1.pem" "$key" "$1-leaf.pem" "$lext"
    chain "$1-leaf.pem" "$1.pem" >"$dir.tmp/$1.chain.pem"
}

case_ good good.chain.pem ok
case_ good-as-server good.chain.pem ok ', "usage": "server"'

# 1. Time: no hidden leeway; an anchor outside its validity is not trusted.
sign leaf.csr inter.pem inter.key brief.pem "$LEAF_EXT" "" 1
chain brief.pem inter.pem >"$dir.tmp/brief.chain.pem"
brief_end=$(date -u -d "$(openssl x509 -in brief.pem -noout -enddate | cut -d= -f2)" +%s)
case_ leaf-expired-by-20s brief.chain.pem expired ", \"at\": $((brief_end + 20))"
case_ leaf-expired-by-20s-leeway-30 brief.chain.pem ok ", \"at\": $((brief_end + 20)), \"leeway\": 30"
case_ leaf-expired-by-40s-leeway-30 brief.chain.pem expired ", \"at\": $((brief_end + 40)), \"leeway\": 30"
ec short-root.key
selfsign short-root.key "/CN=strict short root" short-root.pem "$CA_EXT" 2
csr inter.key "/CN=strict intermediate" short-inter.csr
sign short-inter.csr short-root.pem short-root.key short-inter.pem "$SUB_EXT"
sign leaf.csr short-inter.pem inter.key short-leaf.pem "$LEAF_EXT"
save short-root.pem short-root.pem
chain short-leaf.pem short-inter.pem >"$dir.tmp/short.chain.pem"
short_end=$(date -u -d "$(openssl x509 -in short-root.pem -noout -enddate | cut -d= -f2)" +%s)
case_ anchor-in-validity short.chain.pem ok ', "bundle": "strict/short-root.pem"'
case_ anchor-expired short.chain.pem expired ", \"bundle\": \"strict/short-root.pem\", \"at\": $((short_end + 86400))"
# Its mirror: a root whose validity starts two days from now (`openssl ca -startdate`; `x509
# -req` cannot set it), over an intermediate and a leaf valid from now. A second root of the
# same key and name, valid from now, beside it builds the path: the late one is skipped, not
# fatal.
ec late-root.key
csr late-root.key "/CN=strict late root" late-root.csr
late_start=$((now + 2 * 86400))
cat >late.cnf <<'EOF'
[ca]
default_ca = late
[late]
database = late-index.txt
new_certs_dir = .
serial = late-serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
EOF
: >late-index.txt
openssl rand -hex 16 >late-serial
ext "$CA_EXT"
openssl ca -config late.cnf -batch -notext -selfsign -keyfile late-root.key -in late-root.csr \
    -out late-root.pem -startdate "$(date -u -d "@$late_start" +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d "@$((late_start + 3650 * 86400))" +%Y%m%d%H%M%SZ)" \
    -extfile ext.cnf -extensions x 2>/dev/null >/dev/null
selfsign late-root.key "/CN=strict late root" late-root-now.pem "$CA_EXT"
csr inter.key "/CN=strict intermediate" late-inter.csr
sign late-inter.csr late-root-now.pem late-root.key late-inter.pem "$SUB_EXT"
sign leaf.csr late-inter.pem inter.key late-leaf.pem "$LEAF_EXT"
save late-root.pem late-root.pem
cat late-root.pem late-root-now.pem >"$dir.tmp/late-and-current-roots.pem"
chain late-leaf.pem late-inter.pem >"$dir.tmp/late.chain.pem"
case_ anchor-not-yet-valid late.chain.pem not_yet_valid ', "bundle": "strict/late-root.pem"'
case_ anchor-not-yet-valid-later-in-validity late.chain.pem ok \
    ", \"bundle\": \"strict/late-root.pem\", \"at\": $((late_start + 86400))"
case_ anchor-not-yet-valid-beside-a-current-one late.chain.pem ok \
    ', "bundle": "strict/late-and-current-roots.pem"'

# 2. CRLs: CRLNumber present and not critical, no rollback, issuer with cRLSign.
cat >ca.cnf <<'EOF'
[ca]
default_ca = d
[d]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[d0]
database = index.txt
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
[crl_crit]
authorityKeyIdentifier = keyid:always
2.5.29.20 = critical,ASN1:INTEGER:5
EOF
# gencrl CERT KEY OUT [number] [ext section] [revoke cert]
gencrl() {
    : >index.txt
    rm -f crlnumber
    if [ -n "${6:-}" ]; then
        openssl ca -config ca.cnf -cert "$1" -keyfile "$2" -revoke "$6" 2>/dev/null >/dev/null
    fi
    local name=d0
    if [ -n "${4:-}" ]; then
        printf '%02X\n' "$4" >crlnumber
        name=d
    fi
    openssl ca -config ca.cnf -name "$name" -gencrl -cert "$1" -keyfile "$2" \
        -crlexts "${5:-crl_ext}" -out "$3" 2>/dev/null
}
gencrl root.pem root.key root-1.crl.pem 1
gencrl root.pem root.key root-2.crl.pem 2
gencrl root.pem root.key root-2-fork.crl.pem 2 crl_ext inter.pem
gencrl root.pem root.key root-nonumber.crl.pem
gencrl root.pem root.key root-critical-number.crl.pem "" crl_crit
gencrl inter.pem inter.key inter-1.crl.pem 1
for f in root-1 root-2 root-2-fork root-nonumber root-critical-number inter-1; do
    save "$f.crl.pem" "$f.crl.pem"
done
crls() { local s="" f; for f in "$@"; do s+="${s:+, }\"strict/$f.crl.pem\""; done; echo ", \"crls\": [$s]"; }
case_ crls-in-order good.chain.pem ok "$(crls root-1 root-2 inter-1)"
case_ crl-again good.chain.pem ok "$(crls root-2 root-2 inter-1)"
case_ crl-rollback good.chain.pem stale_crl "$(crls root-2 root-1 inter-1)"
case_ crl-fork good.chain.pem stale_crl "$(crls root-2 root-2-fork inter-1)"
case_ crl-fork-revokes good.chain.pem revoked "$(crls root-2-fork inter-1)"
case_ crl-without-number good.chain.pem invalid_crl "$(crls root-nonumber inter-1)"
case_ crl-critical-number good.chain.pem invalid_crl "$(crls root-critical-number inter-1)"
ec nocrlsign-root.key
selfsign nocrlsign-root.key "/CN=strict root without cRLSign" nocrlsign-root.pem \
    "${CA_EXT/keyCertSign,cRLSign/keyCertSign}"
gencrl nocrlsign-root.pem nocrlsign-root.key nocrlsign-root.crl.pem 1
save nocrlsign-root.pem nocrlsign-root.pem
save nocrlsign-root.crl.pem nocrlsign-root.crl.pem
case_ crl-of-anchor-without-crlsign good.chain.pem invalid_crl \
    ", \"bundle\": \"strict/nocrlsign-root.pem\"$(crls nocrlsign-root)"
# An intermediate's CRL: the same intermediate (name and key) without cRLSign signs no CRL a
# verifier may use; with cRLSign (the good one) its CRL is used.
csr inter.key "/CN=strict intermediate" nocrlsign-inter.csr
sign nocrlsign-inter.csr root.pem root.key nocrlsign-inter.pem "${SUB_EXT/keyCertSign,cRLSign/keyCertSign}"
chain leaf.pem nocrlsign-inter.pem >"$dir.tmp/nocrlsign-inter.chain.pem"
case_ crl-of-intermediate-without-crlsign nocrlsign-inter.chain.pem invalid_crl "$(crls root-1 inter-1)"
case_ crl-of-intermediate-with-crlsign good.chain.pem ok "$(crls root-1 inter-1)"

# 3. Key identifiers.
leaf_with leaf-no-aki "${LEAF_EXT/authorityKeyIdentifier=keyid:always/authorityKeyIdentifier=none}"
case_ leaf-no-aki leaf-no-aki.chain.pem invalid_certificate
leaf_with leaf-aki-critical "${LEAF_EXT/authorityKeyIdentifier=keyid:always/authorityKeyIdentifier=critical,keyid:always}"
case_ leaf-aki-critical leaf-aki-critical.chain.pem invalid_certificate
inter_with inter-no-ski "${SUB_EXT/subjectKeyIdentifier=hash/subjectKeyIdentifier=none}"
case_ intermediate-no-ski inter-no-ski.chain.pem invalid_certificate
inter_with inter-no-aki "${SUB_EXT/authorityKeyIdentifier=keyid:always/authorityKeyIdentifier=none}"
case_ intermediate-no-aki inter-no-aki.chain.pem invalid_certificate
selfsign root.key "/CN=strict root" root-aki-other.pem \
    "${CA_EXT/authorityKeyIdentifier=none/}\n2.5.29.35=DER:30:16:80:14:$(openssl rand -hex 20 | sed 's/../&:/g;s/:$//')"
selfsign root.key "/CN=strict root" root-aki-issuer.pem "${CA_EXT/authorityKeyIdentifier=none/authorityKeyIdentifier=keyid:always,issuer:always}"
selfsign root.key "/CN=strict root" root-aki-same.pem "${CA_EXT/authorityKeyIdentifier=none/authorityKeyIdentifier=keyid:always}"
save root-aki-other.pem root-aki-other.pem
save root-aki-issuer.pem root-aki-issuer.pem
save root-aki-same.pem root-aki-same.pem
case_ anchor-aki-matches-ski good.chain.pem ok ', "bundle": "strict/root-aki-same.pem"'
case_ anchor-aki-other-key good.chain.pem invalid_certificate ', "bundle": "strict/root-aki-other.pem"'
case_ anchor-aki-issuer-serial good.chain.pem invalid_certificate ', "bundle": "strict/root-aki-issuer.pem"'
# The flawed anchor beside its good twin (same name and key): the good one anchors the path,
# whichever comes first in the bundle.
cat root-aki-other.pem root.pem >"$dir.tmp/flawed-and-good-roots.pem"
cat root.pem root-aki-other.pem >"$dir.tmp/good-and-flawed-roots.pem"
case_ anchor-flawed-twin-first good.chain.pem ok ', "bundle": "strict/flawed-and-good-roots.pem"'
case_ anchor-flawed-twin-last good.chain.pem ok ', "bundle": "strict/good-and-flawed-roots.pem"'

# 4. Profile.
inter_with inter-bc-noncritical "${SUB_EXT/basicConstraints=critical,CA:TRUE/basicConstraints=CA:TRUE}"
case_ intermediate-bc-not-critical inter-bc-noncritical.chain.pem invalid_certificate
inter_with inter-ku-no-certsign "${SUB_EXT/keyCertSign,cRLSign/digitalSignature,cRLSign}"
case_ intermediate-ku-without-keycertsign inter-ku-no-certsign.chain.pem invalid_certificate
inter_with inter-pc-noncritical "$SUB_EXT\npolicyConstraints=requireExplicitPolicy:5"
case_ intermediate-policyconstraints-not-critical inter-pc-noncritical.chain.pem invalid_certificate
leaf_with leaf-nc "$LEAF_EXT\nnameConstraints=permitted;DNS:mesh.internal"
case_ leaf-with-name-constraints leaf-nc.chain.pem invalid_certificate
inter_with inter-nc-underscore "$SUB_EXT\nnameConstraints=critical,permitted;DNS:bad_name.internal"
case_ name-constraint-not-a-hostname inter-nc-underscore.chain.pem invalid_certificate
inter_with inter-nc-good "$SUB_EXT\nnameConstraints=critical,permitted;DNS:.mesh.internal"
case_ name-constraint-hostname inter-nc-good.chain.pem ok
san="URI:spiffe://mesh.internal/service/api"
leaf_with leaf-empty-subject "$LEAF_EXT" "" sha256 leaf.key /
case_ empty-subject-san-not-critical leaf-empty-subject.chain.pem invalid_certificate
leaf_with leaf-empty-subject-critical-san "${LEAF_EXT/subjectAltName=$san/subjectAltName=critical,$san}" "" sha256 leaf.key /
case_ empty-subject-san-critical leaf-empty-subject-critical-san.chain.pem ok
leaf_with serial-zero "$LEAF_EXT" 0
case_ serial-zero serial-zero.chain.pem invalid_certificate
leaf_with serial-negative "$LEAF_EXT" -5
case_ serial-negative serial-negative.chain.pem invalid_certificate
leaf_with serial-21-octets "$LEAF_EXT" "0x01$(openssl rand -hex 20)"
case_ serial-21-octets serial-21-octets.chain.pem invalid_certificate
leaf_with serial-20-octets "$LEAF_EXT" "0x7f$(openssl rand -hex 19)"
case_ serial-20-octets serial-20-octets.chain.pem ok
leaf_with san-underscore "$LEAF_EXT,DNS:bad_name.mesh.internal"
case_ san-underscore san-underscore.chain.pem invalid_certificate
leaf_with san-leading-dot "$LEAF_EXT,DNS:.api.mesh.internal"
case_ san-leading-period san-leading-dot.chain.pem invalid_certificate
leaf_with san-wildcard-tld "$LEAF_EXT,DNS:*.com"
case_ san-wildcard-over-suffix san-wildcard-tld.chain.pem invalid_certificate
leaf_with san-dns-good "$LEAF_EXT,DNS:api.mesh.internal,DNS:*.api.mesh.internal"
case_ san-hostnames san-dns-good.chain.pem ok
leaf_with leaf-unknown-critical "$LEAF_EXT\n1.3.6.1.4.1.55555.1=critical,ASN1:NULL"
case_ leaf-unknown-critical-extension leaf-unknown-critical.chain.pem unknown_critical_extension
leaf_with leaf-unknown-noncritical "$LEAF_EXT\n1.3.6.1.4.1.55555.1=ASN1:NULL"
case_ leaf-unknown-noncritical-extension leaf-unknown-noncritical.chain.pem ok
ec odd-root.key
selfsign odd-root.key "/CN=strict odd root" odd-root.pem "$CA_EXT\n1.3.6.1.4.1.55555.1=critical,ASN1:NULL"
cat odd-root.pem root.pem >"$dir.tmp/odd-and-good-roots.pem"
save odd-root.pem odd-root.pem
case_ anchor-unknown-critical-skipped good.chain.pem ok ', "bundle": "strict/odd-and-good-roots.pem"'
case_ anchor-unknown-critical-alone good.chain.pem unknown_issuer ', "bundle": "strict/odd-root.pem"'

# 8. Self-issued CAs: a key-rollover intermediate (the root's name, a new key, signed by the
# root) builds a path; a self-signed CA with the root's name is an unknown issuer, not a bad
# signature.
ec rollover.key
csr rollover.key "/CN=strict root" rollover.csr
sign rollover.csr root.pem root.key rollover.pem "$SUB_EXT"
sign leaf.csr rollover.pem rollover.key rollover-leaf.pem "$LEAF_EXT"
chain rollover-leaf.pem rollover.pem >"$dir.tmp/self-issued-intermediate.chain.pem"
case_ self-issued-intermediate self-issued-intermediate.chain.pem ok
selfsign rollover.key "/CN=strict root" impostor-root.pem "$CA_EXT"
chain rollover-leaf.pem impostor-root.pem >"$dir.tmp/self-signed-impostor.chain.pem"
case_ self-signed-ca-with-the-anchor-name self-signed-impostor.chain.pem unknown_issuer

# 5. Keys and signatures anywhere in the path.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2052 -out rsa2052.key 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-192 -out p192.key 2>/dev/null
openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out dsa.param 2>/dev/null
openssl genpkey -paramfile dsa.param -out dsa.key 2>/dev/null
leaf_with leaf-rsa1024 "$LEAF_EXT" "" sha256 rsa1024.key
case_ leaf-rsa-1024 leaf-rsa1024.chain.pem weak_key
leaf_with leaf-rsa2052 "$LEAF_EXT" "" sha256 rsa2052.key
case_ leaf-rsa-modulus-not-multiple-of-8 leaf-rsa2052.chain.pem weak_key
leaf_with leaf-rsa2048 "$LEAF_EXT" "" sha256 rsa2048.key
case_ leaf-rsa-2048 leaf-rsa2048.chain.pem ok
leaf_with leaf-p192 "$LEAF_EXT" "" sha256 p192.key
case_ leaf-p192 leaf-p192.chain.pem weak_key
leaf_with leaf-dsa "$LEAF_EXT" "" sha256 dsa.key
case_ leaf-dsa leaf-dsa.chain.pem weak_key
leaf_with leaf-sha1 "$LEAF_EXT" "" sha1
case_ leaf-sha1-signature leaf-sha1.chain.pem weak_signature
# (OpenSSL signs MD5 with RSA keys only: an RSA-2048 intermediate signs this leaf.)
csr rsa2048.key "/CN=strict rsa intermediate" rsa-inter.csr
sign rsa-inter.csr root.pem root.key rsa-inter.pem "$SUB_EXT"
sign leaf.csr rsa-inter.pem rsa2048.key leaf-md5.pem "$LEAF_EXT" "" 3650 md5
chain leaf-md5.pem rsa-inter.pem >"$dir.tmp/leaf-md5.chain.pem"
case_ leaf-md5-signature leaf-md5.chain.pem weak_signature
sign leaf.csr rsa-inter.pem rsa2048.key leaf-rsa-sha256.pem "$LEAF_EXT"
chain leaf-rsa-sha256.pem rsa-inter.pem >"$dir.tmp/rsa-intermediate.chain.pem"
case_ rsa-intermediate-sha256 rsa-intermediate.chain.pem ok
inter_with inter-sha1 "$SUB_EXT" "" sha1 inter.key
case_ intermediate-sha1-signature inter-sha1.chain.pem weak_signature
selfsign rsa1024.key "/CN=strict weak root" weak-root.pem "$CA_EXT"
csr inter.key "/CN=strict intermediate" weak-inter.csr
sign weak-inter.csr weak-root.pem rsa1024.key weak-inter.pem "$SUB_EXT"
sign leaf.csr weak-inter.pem inter.key weak-leaf.pem "$LEAF_EXT"
save weak-root.pem weak-root.pem
chain weak-leaf.pem weak-inter.pem >"$dir.tmp/weak-root.chain.pem"
case_ anchor-rsa-1024 weak-root.chain.pem weak_key ', "bundle": "strict/weak-root.pem"'

# 6. Leaf purpose.
leaf_with leaf-any-eku "${LEAF_EXT/extendedKeyUsage=clientAuth,serverAuth/extendedKeyUsage=anyExtendedKeyUsage}"
case_ leaf-eku-any-only leaf-any-eku.chain.pem wrong_usage
leaf_with leaf-no-eku "${LEAF_EXT/extendedKeyUsage=clientAuth,serverAuth/}"
case_ leaf-without-eku leaf-no-eku.chain.pem wrong_usage
leaf_with leaf-server-eku "${LEAF_EXT/extendedKeyUsage=clientAuth,serverAuth/extendedKeyUsage=serverAuth}"
case_ leaf-lacks-client-auth leaf-server-eku.chain.pem wrong_usage
case_ leaf-server-only-as-server leaf-server-eku.chain.pem ok ', "usage": "server"'
selfsign root.key "/CN=strict root" root-eku-server.pem "$CA_EXT\nextendedKeyUsage=serverAuth"
save root-eku-server.pem root-eku-server.pem
case_ anchor-eku-does-not-narrow good.chain.pem ok ', "bundle": "strict/root-eku-server.pem"'
case_ anchor-eku-does-not-widen leaf-server-eku.chain.pem wrong_usage ', "bundle": "strict/root-eku-server.pem"'

# 7. Depth: five intermediates; the default allows four.
prev_cert=root.pem prev_key=root.key
deep=()
for i in 1 2 3 4 5; do
    ec "deep$i.key"
    csr "deep$i.key" "/CN=strict deep $i" "deep$i.csr"
    sign "deep$i.csr" "$prev_cert" "$prev_key" "deep$i.pem" "$SUB_EXT"
    deep=("deep$i.pem" "${deep[@]}")
    prev_cert=deep$i.pem prev_key=deep$i.key
done
sign leaf.csr "$prev_cert" "$prev_key" deep-leaf.pem "$LEAF_EXT"
chain deep-leaf.pem "${deep[@]}" >"$dir.tmp/deep.chain.pem"
case_ five-intermediates deep.chain.pem chain_too_long
case_ five-intermediates-allowed deep.chain.pem ok ', "max_intermediates": 5'
case_ one-intermediate-none-allowed good.chain.pem chain_too_long ', "max_intermediates": 0'

# 8. A name-constraint explosion: 600 permitted subtrees against 600 dNSName SANs.
nc="nameConstraints=critical"
for i in $(seq 1 600); do nc+=",permitted;DNS:n$i.mesh.internal"; done
inter_with inter-nc-many "$SUB_EXT\n$nc"
sans="$LEAF_EXT"
for i in $(seq 1 600); do sans+=",DNS:h.n$i.mesh.internal"; done
csr leaf.key "/CN=api" nc-many-leaf.csr
sign nc-many-leaf.csr inter-nc-many.pem inter-nc-many.key nc-many-leaf.pem "$sans"
chain nc-many-leaf.pem inter-nc-many.pem >"$dir.tmp/nc-explosion.chain.pem"
rm -f "$dir.tmp/inter-nc-many.chain.pem"
case_ name-constraint-explosion nc-explosion.chain.pem name_constraints_too_complex

# Publish: the files, then the cases (replacing the strict ones of cases.json).
rm -rf "$dir"
mv "$dir.tmp" "$dir"
mkdir -p "$dir.tmp"
printf '%s\n' "${cases[@]}" >"$work/strict-cases.jsonl"
python3 - "$out/cases.json" "$work/strict-cases.jsonl" <<'PY'
import json, sys
path, new = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
base = [c for c in doc["cases"] if not c["name"].startswith("strict-")]
strict = [json.loads(l) for l in open(new) if l.strip()]
doc["cases"] = base + strict
lines = [json.dumps(c) for c in doc["cases"]]
head = {k: v for k, v in doc.items() if k != "cases"}
text = "{\n" + "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items())
text += '  "cases": [\n    ' + ",\n    ".join(lines) + "\n  ]\n}\n"
open(path, "w").write(text)
print(f"strict fixtures: {len(strict)} cases")
PY

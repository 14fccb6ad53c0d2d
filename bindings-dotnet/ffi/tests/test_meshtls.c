/*
 * The meshtls C ABI end to end: the core's scenario (issue, verify; expired; revoked through a
 * CRL; wrong identity; rogue CA; garbage; wrong passphrase), NULL arguments for every function
 * family, and a replay of the shared fixtures (fixtures/cases.json). Run under valgrind in CI.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -Iinclude tests/test_meshtls.c -Ltarget/debug \
 *       -lmeshtls_ffi -o test_meshtls && ./test_meshtls ../../fixtures
 *
 * The enrollment client's failures that need no CA service (NULL and bad arguments, a bad
 * bundle, a URL that is not https, a refused connection, a service that never answers) are here
 * too; its happy path runs against a real `meshtls serve` in the C# suite (EnrollTests.cs). So
 * are the asynchronous forms' completions (once each, cancellation, a task freed early) and the
 * TLS profile and alert tables.
 *
 * Prints one line per failed check and, last, "c-abi: N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L /* sockets and mkdtemp under -std=c11 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "meshtls.h"

static int passed, failed;

#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (cond) {                                           \
            passed++;                                         \
        } else {                                              \
            failed++;                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                     \
            fprintf(stderr, "\n");                            \
        }                                                     \
    } while (0)

/* Checks a call's result against the expected code, printing the last error if it differs. */
#define EXPECT(call, want)                                                          \
    do {                                                                            \
        meshtls_result got_ = (call);                                               \
        if (got_ == (meshtls_result)(want)) {                                       \
            passed++;                                                               \
        } else {                                                                    \
            failed++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s -> %s (%u), want %s: %s\n", __FILE__, __LINE__, \
                    #call, meshtls_result_name(got_), (unsigned)got_,               \
                    meshtls_result_name(want), last_error());                       \
        }                                                                           \
    } while (0)

static const char *last_error(void) {
    static char buf[512];
    size_t n = 0;
    if (meshtls_last_error(buf, sizeof buf, &n) != MESHTLS_OK) return "(no last error)";
    return buf;
}

static const int64_t NOW = 1790000000; /* 2026-09-21 */
static const char *TD = "mesh.internal";
static const char *API_ID = "spiffe://mesh.internal/service/api";

/* A buffer's bytes as a NUL-terminated string (buffers carry a trailing NUL). */
static const char *str(const meshtls_buffer *b) { return (const char *)meshtls_buffer_data(b); }

static int str_eq(const meshtls_buffer *b, const char *want) {
    return b != NULL && strcmp(str(b), want) == 0 && meshtls_buffer_len(b) == strlen(want);
}

static char *read_file(const char *dir, const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size + 1);
    size_t got = fread(data, 1, (size_t)size, f);
    fclose(f);
    data[got] = 0;
    *len = got;
    return data;
}

/* --- helpers building the scenario's objects; each returns NULL and counts a failure on error */

static meshtls_verifier *verifier_for(const meshtls_buffer *root_pem, const char *const *crls,
                                      size_t ncrls, const char *allow_pattern) {
    meshtls_trust_bundle *bundle = NULL;
    meshtls_policy_builder *pb = NULL;
    meshtls_policy *policy = NULL;
    meshtls_verifier *v = NULL;
    EXPECT(meshtls_trust_bundle_new(&bundle), MESHTLS_OK);
    EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, meshtls_buffer_data(root_pem),
                                           meshtls_buffer_len(root_pem)),
           MESHTLS_OK);
    for (size_t i = 0; i < ncrls; i++)
        EXPECT(meshtls_trust_bundle_add_crl(bundle, (const uint8_t *)crls[i], strlen(crls[i])),
               MESHTLS_OK);
    EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_allow_pattern(pb, allow_pattern), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_build(pb, &policy), MESHTLS_OK);
    EXPECT(meshtls_verifier_new(bundle, policy, &v), MESHTLS_OK);
    meshtls_policy_free(policy);
    meshtls_policy_builder_free(pb);
    meshtls_trust_bundle_free(bundle);
    return v;
}

static meshtls_result verify_issued(const meshtls_verifier *v, const meshtls_issued *issued,
                                    uint32_t usage, int64_t at) {
    meshtls_buffer *chain = NULL;
    meshtls_peer *peer = NULL;
    meshtls_result r = meshtls_issued_chain_pem(issued, &chain);
    if (r != MESHTLS_OK) return r;
    r = meshtls_verifier_verify_pem(v, meshtls_buffer_data(chain), meshtls_buffer_len(chain),
                                    usage, at, &peer);
    CHECK((r == MESHTLS_OK) == (peer != NULL), "peer set exactly on success");
    meshtls_peer_free(peer);
    meshtls_buffer_free(chain);
    return r;
}

static meshtls_issued *issue(const meshtls_authority *ca, const char *id, uint64_t lifetime) {
    meshtls_issued *out = NULL;
    const char *dns[] = {"api.mesh.internal"};
    EXPECT(meshtls_authority_issue(ca, id, dns, 1, MESHTLS_USAGE_BOTH, lifetime,
                                   MESHTLS_KEY_DEFAULT, NOW, &out),
           MESHTLS_OK);
    return out;
}

/* --- the scenario */

static void test_scenario(void) {
    meshtls_authority *root = NULL, *inter = NULL, *rogue = NULL;
    EXPECT(meshtls_authority_create_root(TD, "c-abi test root", MESHTLS_KEY_DEFAULT, 0,
                                         MESHTLS_PATH_LEN_DEFAULT, NULL, 0, NOW - 60, &root),
           MESHTLS_OK);
    EXPECT(meshtls_authority_create_intermediate(root, NULL, MESHTLS_KEY_ECDSA_P256, 0,
                                                 MESHTLS_PATH_LEN_DEFAULT, NULL, 0, NOW - 60,
                                                 &inter),
           MESHTLS_OK);
    EXPECT(meshtls_authority_create_root(TD, "c-abi test root", MESHTLS_KEY_DEFAULT, 0,
                                         MESHTLS_PATH_LEN_DEFAULT, NULL, 0, NOW - 60, &rogue),
           MESHTLS_OK);
    CHECK(meshtls_authority_is_root(root) && !meshtls_authority_is_root(inter), "is_root");

    meshtls_buffer *root_pem = NULL, *td = NULL;
    EXPECT(meshtls_authority_root_pem(inter, &root_pem), MESHTLS_OK);
    EXPECT(meshtls_authority_trust_domain(inter, &td), MESHTLS_OK);
    CHECK(str_eq(td, TD), "trust domain %s", str(td));
    meshtls_buffer_free(td);

    /* issue, verify ok, with the peer's facts */
    meshtls_issued *leaf = issue(inter, API_ID, 3600);
    meshtls_verifier *v = verifier_for(root_pem, NULL, 0, "spiffe://mesh.internal/service/*");
    meshtls_buffer *chain = NULL, *serial = NULL, *fp = NULL, *key = NULL;
    EXPECT(meshtls_issued_chain_pem(leaf, &chain), MESHTLS_OK);
    EXPECT(meshtls_issued_serial_hex(leaf, &serial), MESHTLS_OK);
    EXPECT(meshtls_issued_fingerprint_hex(leaf, &fp), MESHTLS_OK);
    EXPECT(meshtls_issued_key_pem(leaf, &key), MESHTLS_OK);
    CHECK(key != NULL && strstr(str(key), "BEGIN PRIVATE KEY") != NULL, "generated key PEM");
    CHECK(meshtls_issued_not_after(leaf) == NOW + 3600, "not_after %lld",
          (long long)meshtls_issued_not_after(leaf));
    CHECK(meshtls_issued_not_before(leaf) == NOW - 60, "not_before backdated a minute");

    meshtls_peer *peer = NULL;
    EXPECT(meshtls_verifier_verify_pem(v, meshtls_buffer_data(chain), meshtls_buffer_len(chain),
                                       MESHTLS_PEER_CLIENT, NOW, &peer),
           MESHTLS_OK);
    if (peer) {
        meshtls_buffer *id = NULL, *pserial = NULL, *pfp = NULL, *dns = NULL, *cn = NULL,
                       *spki = NULL, *anchor = NULL;
        EXPECT(meshtls_peer_spiffe_id(peer, &id), MESHTLS_OK);
        CHECK(str_eq(id, API_ID), "spiffe id %s", id ? str(id) : "(null)");
        EXPECT(meshtls_peer_serial_hex(peer, &pserial), MESHTLS_OK);
        CHECK(pserial && strcmp(str(pserial), str(serial)) == 0, "serial matches the issued one");
        EXPECT(meshtls_peer_fingerprint_hex(peer, &pfp), MESHTLS_OK);
        CHECK(pfp && strcmp(str(pfp), str(fp)) == 0 && meshtls_buffer_len(pfp) == 64,
              "fingerprint");
        EXPECT(meshtls_peer_spki_fingerprint_hex(peer, &spki), MESHTLS_OK);
        CHECK(spki && meshtls_buffer_len(spki) == 64, "spki fingerprint");
        EXPECT(meshtls_peer_common_name(peer, &cn), MESHTLS_OK);
        CHECK(str_eq(cn, "api"), "common name");
        EXPECT(meshtls_peer_anchor_subject(peer, &anchor), MESHTLS_OK);
        CHECK(anchor && strstr(str(anchor), "c-abi test root") != NULL, "anchor %s",
              anchor ? str(anchor) : "(null)");
        CHECK(meshtls_peer_dns_name_count(peer) == 1, "one DNS name");
        EXPECT(meshtls_peer_dns_name(peer, 0, &dns), MESHTLS_OK);
        CHECK(str_eq(dns, "api.mesh.internal"), "dns name");
        meshtls_buffer *sentinel = (meshtls_buffer *)&passed;
        meshtls_buffer *keep = sentinel;
        EXPECT(meshtls_peer_dns_name(peer, 1, &keep), MESHTLS_INVALID_ARGUMENT);
        CHECK(keep == sentinel, "out untouched on failure");
        CHECK(meshtls_peer_not_after(peer) == NOW + 3600, "peer not_after");
        CHECK(meshtls_peer_not_before(peer) == NOW - 60, "peer not_before");
        meshtls_buffer_free(id);
        meshtls_buffer_free(pserial);
        meshtls_buffer_free(pfp);
        meshtls_buffer_free(spki);
        meshtls_buffer_free(cn);
        meshtls_buffer_free(anchor);
        meshtls_buffer_free(dns);
        meshtls_peer_free(peer);
    }
    EXPECT(verify_issued(v, leaf, MESHTLS_PEER_SERVER, NOW), MESHTLS_OK);
    EXPECT(verify_issued(v, leaf, 7, NOW), MESHTLS_INVALID_ARGUMENT);

    /* expired, and not yet valid (past the 30 s clock skew) */
    EXPECT(verify_issued(v, leaf, MESHTLS_PEER_CLIENT, NOW + 7200), MESHTLS_EXPIRED);
    CHECK(strncmp(last_error(), "expired: ", 9) == 0, "message names the code: %s",
          last_error());
    EXPECT(verify_issued(v, leaf, MESHTLS_PEER_CLIENT, NOW - 3600), MESHTLS_NOT_YET_VALID);

    /* wrong identity */
    meshtls_verifier *only_web = verifier_for(root_pem, NULL, 0, "spiffe://mesh.internal/service/web");
    EXPECT(verify_issued(only_web, leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_IDENTITY_NOT_ALLOWED);
    meshtls_verifier_free(only_web);

    /* rogue CA with the same name and trust domain */
    meshtls_issued *rogue_leaf = issue(rogue, API_ID, 3600);
    EXPECT(verify_issued(v, rogue_leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_BAD_SIGNATURE);
    meshtls_issued_free(rogue_leaf);

    /* a CA of another trust domain: outside the request's trust domain, then unknown issuer */
    meshtls_authority *other = NULL;
    EXPECT(meshtls_authority_create_root("other.internal", NULL, 0, 0, MESHTLS_PATH_LEN_DEFAULT,
                                         NULL, 0, NOW - 60, &other),
           MESHTLS_OK);
    meshtls_issued *nope = NULL;
    EXPECT(meshtls_authority_issue(other, API_ID, NULL, 0, 0, 0, 0, NOW, &nope),
           MESHTLS_INVALID_REQUEST);
    CHECK(nope == NULL, "no issued on failure");
    meshtls_issued *other_leaf = issue(other, "spiffe://other.internal/service/api", 3600);
    EXPECT(verify_issued(v, other_leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_UNKNOWN_ISSUER);
    meshtls_issued_free(other_leaf);
    meshtls_authority_free(other);

    /* revoked through a CRL (the root's CRL covers the intermediate, which is not revoked) */
    meshtls_revocation_list *revoked = NULL, *none = NULL;
    bool added = false;
    EXPECT(meshtls_revocation_list_new(&revoked), MESHTLS_OK);
    EXPECT(meshtls_revocation_list_new(&none), MESHTLS_OK);
    EXPECT(meshtls_revocation_list_revoke(revoked, str(serial), MESHTLS_REASON_KEY_COMPROMISE,
                                          NOW, &added),
           MESHTLS_OK);
    CHECK(added, "first revocation is new");
    EXPECT(meshtls_revocation_list_revoke(revoked, str(serial), 0, NOW, &added), MESHTLS_OK);
    CHECK(!added, "second revocation changes nothing");
    EXPECT(meshtls_revocation_list_revoke(revoked, "zz", 0, NOW, &added), MESHTLS_MALFORMED);
    EXPECT(meshtls_revocation_list_revoke(revoked, str(serial), 7, NOW, &added),
           MESHTLS_INVALID_ARGUMENT);
    /* A time no CRL can carry is refused by the core; nothing is recorded, so later CRL
       builds still work. */
    added = true;
    EXPECT(meshtls_revocation_list_revoke(revoked, "0b", 0, INT64_MIN, &added),
           MESHTLS_INVALID_REQUEST);
    CHECK(added, "added untouched on failure");
    EXPECT(meshtls_revocation_list_revoke(revoked, "0b", 0, INT64_MAX, &added),
           MESHTLS_INVALID_REQUEST);
    EXPECT(meshtls_revocation_list_revoke(revoked, "0b", 0, -1, &added), MESHTLS_INVALID_REQUEST);
    CHECK(meshtls_revocation_list_len(revoked) == 1, "one record");
    meshtls_buffer *text = NULL;
    meshtls_revocation_list *reread = NULL;
    EXPECT(meshtls_revocation_list_to_text(revoked, &text), MESHTLS_OK);
    EXPECT(meshtls_revocation_list_from_text(meshtls_buffer_data(text), meshtls_buffer_len(text),
                                             &reread),
           MESHTLS_OK);
    CHECK(meshtls_revocation_list_len(reread) == 1, "records round-trip");
    EXPECT(meshtls_revocation_list_from_text((const uint8_t *)"nope", 4, &reread),
           MESHTLS_MALFORMED);
    meshtls_revocation_list_free(reread);
    meshtls_buffer_free(text);

    meshtls_buffer *inter_crl = NULL, *root_crl = NULL;
    EXPECT(meshtls_authority_build_crl(inter, revoked, 1, NOW - 10, 0, &inter_crl), MESHTLS_OK);
    EXPECT(meshtls_authority_build_crl(root, none, 1, NOW - 10, NOW + 86400, &root_crl),
           MESHTLS_OK);
    meshtls_buffer *bad_crl = NULL;
    EXPECT(meshtls_authority_build_crl(root, none, 2, NOW, NOW - 10, &bad_crl),
           MESHTLS_INVALID_REQUEST);
    const char *crls[] = {str(inter_crl), str(root_crl)};
    meshtls_verifier *with_crls =
        verifier_for(root_pem, crls, 2, "spiffe://mesh.internal/service/*");
    EXPECT(verify_issued(with_crls, leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_REVOKED);
    meshtls_issued *fresh = issue(inter, API_ID, 3600);
    EXPECT(verify_issued(with_crls, fresh, MESHTLS_PEER_CLIENT, NOW), MESHTLS_OK);
    /* the CRL is stale after 7 days; the leaf outlives it in this check */
    meshtls_issued *long_lived = issue(inter, API_ID, 30 * 86400);
    EXPECT(verify_issued(with_crls, long_lived, MESHTLS_PEER_CLIENT, NOW + 8 * 86400),
           MESHTLS_CRL_EXPIRED);
    /* only the leaf's CRL: the intermediate's status is unknown, failing closed */
    const char *only_inter[] = {str(inter_crl)};
    meshtls_verifier *half = verifier_for(root_pem, only_inter, 1, "spiffe://mesh.internal/*");
    EXPECT(verify_issued(half, fresh, MESHTLS_PEER_CLIENT, NOW), MESHTLS_REVOCATION_UNKNOWN);
    meshtls_verifier_free(half);

    /* verifier options: the core's defaults, then each one changed; clock leeway and path
       depth are policy settings */
    {
        meshtls_verify_options o = meshtls_verify_options_default();
        CHECK(o.require_crl && o.reject_stale_crl && !o.leaf_only, "default options");
        meshtls_trust_bundle *bundle = NULL;
        meshtls_policy_builder *pb = NULL;
        meshtls_policy *policy = NULL;
        meshtls_policy *lenient = NULL;
        meshtls_policy *shallow = NULL;
        meshtls_verifier *ov = NULL;
        EXPECT(meshtls_trust_bundle_new(&bundle), MESHTLS_OK);
        EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, meshtls_buffer_data(root_pem),
                                               meshtls_buffer_len(root_pem)),
               MESHTLS_OK);
        EXPECT(meshtls_trust_bundle_add_crl(bundle, meshtls_buffer_data(inter_crl),
                                            meshtls_buffer_len(inter_crl)),
               MESHTLS_OK);
        EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_allow_any(pb), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &policy), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_clock_leeway(pb, 30), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &lenient), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_clock_leeway(pb, 0), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_max_intermediates(pb, 0), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &shallow), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_clock_leeway(NULL, 1), MESHTLS_NULL_ARGUMENT);
        EXPECT(meshtls_policy_builder_max_intermediates(NULL, 1), MESHTLS_NULL_ARGUMENT);
        /* only the leaf's CRL is there: checking the leaf alone is enough to pass */
        o.leaf_only = true;
        EXPECT(meshtls_verifier_new_with_options(bundle, policy, &o, &ov), MESHTLS_OK);
        EXPECT(verify_issued(ov, fresh, MESHTLS_PEER_CLIENT, NOW), MESHTLS_OK);
        EXPECT(verify_issued(ov, leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_REVOKED);
        /* ten seconds past the end: no leeway by default */
        EXPECT(verify_issued(ov, fresh, MESHTLS_PEER_CLIENT, NOW + 3610), MESHTLS_EXPIRED);
        meshtls_verifier_free(ov);
        ov = NULL;
        /* inside a policy's 30 s leeway */
        EXPECT(meshtls_verifier_new_with_options(bundle, lenient, &o, &ov), MESHTLS_OK);
        EXPECT(verify_issued(ov, fresh, MESHTLS_PEER_CLIENT, NOW + 3610), MESHTLS_OK);
        meshtls_verifier_free(ov);
        ov = NULL;
        /* a policy allowing no intermediate */
        EXPECT(meshtls_verifier_new_with_options(bundle, shallow, &o, &ov), MESHTLS_OK);
        EXPECT(verify_issued(ov, fresh, MESHTLS_PEER_CLIENT, NOW), MESHTLS_CHAIN_TOO_LONG);
        meshtls_verifier_free(ov);
        meshtls_policy_free(lenient);
        meshtls_policy_free(shallow);
        ov = (meshtls_verifier *)&passed;
        EXPECT(meshtls_verifier_new_with_options(bundle, policy, NULL, &ov), MESHTLS_NULL_ARGUMENT);
        EXPECT(meshtls_verifier_new_with_options(NULL, policy, &o, &ov), MESHTLS_NULL_ARGUMENT);
        EXPECT(meshtls_verifier_new_with_options(bundle, NULL, &o, &ov), MESHTLS_NULL_ARGUMENT);
        EXPECT(meshtls_verifier_new_with_options(bundle, policy, &o, NULL), MESHTLS_NULL_ARGUMENT);
        CHECK(ov == (meshtls_verifier *)&passed, "out untouched");
        meshtls_policy_free(policy);
        meshtls_policy_builder_free(pb);
        meshtls_trust_bundle_free(bundle);
    }
    meshtls_issued_free(long_lived);
    meshtls_issued_free(fresh);
    meshtls_verifier_free(with_crls);
    meshtls_buffer_free(inter_crl);
    meshtls_buffer_free(root_crl);
    meshtls_revocation_list_free(revoked);
    meshtls_revocation_list_free(none);

    /* pins */
    {
        meshtls_policy_builder *pb = NULL;
        meshtls_policy *pinned = NULL, *other_pin = NULL, *empty = NULL;
        meshtls_trust_bundle *bundle = NULL;
        meshtls_verifier *pv = NULL, *ov = NULL;
        EXPECT(meshtls_trust_bundle_new(&bundle), MESHTLS_OK);
        EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, meshtls_buffer_data(root_pem),
                                               meshtls_buffer_len(root_pem)),
               MESHTLS_OK);
        CHECK(meshtls_trust_bundle_len(bundle) == 1, "bundle has one CA");
        EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, (const uint8_t *)"garbage", 7),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, meshtls_buffer_data(chain),
                                               meshtls_buffer_len(chain)),
               MESHTLS_INVALID_REQUEST); /* a leaf is not a CA */
        EXPECT(meshtls_trust_bundle_add_crl(bundle, (const uint8_t *)"garbage", 7),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &empty), MESHTLS_INVALID_REQUEST);
        CHECK(empty == NULL, "a policy allowing nobody is refused");
        EXPECT(meshtls_policy_builder_pin_cert(pb, "not hex"), MESHTLS_MALFORMED);
        EXPECT(meshtls_policy_builder_allow_id(pb, "http://nope"), MESHTLS_MALFORMED);
        EXPECT(meshtls_policy_builder_allow_trust_domain(pb, "UPPER.case"), MESHTLS_MALFORMED);
        EXPECT(meshtls_policy_builder_allow_any(pb), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_pin_cert(pb, str(fp)), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &pinned), MESHTLS_OK);
        EXPECT(meshtls_verifier_new(bundle, pinned, &pv), MESHTLS_OK);
        EXPECT(verify_issued(pv, leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_OK);
        meshtls_policy_builder_free(pb);
        pb = NULL;
        EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_allow_trust_domain(pb, TD), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_allow_id(pb, API_ID), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_allow_dns(pb, "api.mesh.internal"), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_pin_spki(
                   pb, "0000000000000000000000000000000000000000000000000000000000000000"),
               MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &other_pin), MESHTLS_OK);
        EXPECT(meshtls_verifier_new(bundle, other_pin, &ov), MESHTLS_OK);
        EXPECT(verify_issued(ov, leaf, MESHTLS_PEER_CLIENT, NOW), MESHTLS_NOT_PINNED);
        meshtls_policy_builder_free(pb);
        pb = NULL;
        EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_allow_dns(pb, "not a name!"), MESHTLS_OK);
        EXPECT(meshtls_policy_builder_build(pb, &empty), MESHTLS_INVALID_REQUEST);
        meshtls_policy_builder_free(pb);
        meshtls_verifier_free(pv);
        meshtls_verifier_free(ov);
        meshtls_policy_free(pinned);
        meshtls_policy_free(other_pin);
        meshtls_trust_bundle_free(bundle);
    }

    /* DER chains: lengths that do not add up are refused before the core sees them */
    {
        meshtls_peer *p = NULL;
        size_t lens[] = {10, 10};
        EXPECT(meshtls_verifier_verify_der(v, (const uint8_t *)"0123456789", 10, lens, 2,
                                           MESHTLS_PEER_CLIENT, NOW, &p),
               MESHTLS_INVALID_ARGUMENT);
        EXPECT(meshtls_verifier_verify_der(v, (const uint8_t *)"0123456789", 10, lens, 1,
                                           MESHTLS_PEER_CLIENT, NOW, &p),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_verifier_verify_der(v, NULL, 0, NULL, 0, MESHTLS_PEER_CLIENT, NOW, &p),
               MESHTLS_NO_CERTIFICATE);
        CHECK(p == NULL, "no peer");
    }

    /* garbage everywhere */
    {
        meshtls_peer *p = NULL;
        meshtls_authority *a = NULL;
        const uint8_t junk[] = {0x30, 0x82, 0xff, 0x00, 'x', 'y'};
        EXPECT(meshtls_verifier_verify_pem(v, junk, sizeof junk, MESHTLS_PEER_CLIENT, NOW, &p),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_verifier_verify_pem(v, (const uint8_t *)"", 0, MESHTLS_PEER_CLIENT, NOW,
                                           &p),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_authority_load(junk, sizeof junk, junk, sizeof junk, NULL, &a),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_authority_create_root("Not A Domain", NULL, 0, 0, -1, NULL, 0, NOW, &a),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_authority_create_root(TD, NULL, 9, 0, -1, NULL, 0, NOW, &a),
               MESHTLS_INVALID_ARGUMENT);
        EXPECT(meshtls_authority_create_root(TD, NULL, 0, 0, 300, NULL, 0, NOW, &a),
               MESHTLS_INVALID_ARGUMENT);
        EXPECT(meshtls_authority_create_root(TD, NULL, 0, 3600, -1, NULL, 0, NOW, &a),
               MESHTLS_INVALID_REQUEST); /* a root lives at least a day */
        CHECK(a == NULL && p == NULL, "nothing made from garbage");
        const char bad_utf8[] = {'s', (char)0xff, 0};
        EXPECT(meshtls_authority_create_root(bad_utf8, NULL, 0, 0, -1, NULL, 0, NOW, &a),
               MESHTLS_INVALID_ARGUMENT);
    }

    /* save and load: the key is encrypted, and a wrong passphrase is its own code */
    {
        meshtls_buffer *saved_chain = NULL, *saved_key = NULL, *cert = NULL;
        meshtls_authority *loaded = NULL, *no = NULL;
        EXPECT(meshtls_authority_chain_pem(inter, &saved_chain), MESHTLS_OK);
        EXPECT(meshtls_authority_certificate_pem(inter, &cert), MESHTLS_OK);
        CHECK(meshtls_buffer_len(saved_chain) > meshtls_buffer_len(cert), "chain holds the root");
        EXPECT(meshtls_authority_encrypted_key_pem(inter, "", &saved_key), MESHTLS_INVALID_REQUEST);
        EXPECT(meshtls_authority_encrypted_key_pem(inter, "correct horse", &saved_key), MESHTLS_OK);
        CHECK(saved_key && strstr(str(saved_key), "ENCRYPTED PRIVATE KEY"), "encrypted PEM");
        EXPECT(meshtls_authority_load(meshtls_buffer_data(saved_chain),
                                      meshtls_buffer_len(saved_chain),
                                      meshtls_buffer_data(saved_key), meshtls_buffer_len(saved_key),
                                      "wrong horse", &no),
               MESHTLS_WRONG_PASSPHRASE);
        EXPECT(meshtls_authority_load(meshtls_buffer_data(saved_chain),
                                      meshtls_buffer_len(saved_chain),
                                      meshtls_buffer_data(saved_key), meshtls_buffer_len(saved_key),
                                      NULL, &no),
               MESHTLS_WRONG_PASSPHRASE);
        CHECK(no == NULL, "nothing loaded with a wrong passphrase");
        EXPECT(meshtls_authority_load(meshtls_buffer_data(saved_chain),
                                      meshtls_buffer_len(saved_chain),
                                      meshtls_buffer_data(saved_key), meshtls_buffer_len(saved_key),
                                      "correct horse", &loaded),
               MESHTLS_OK);
        CHECK(loaded && !meshtls_authority_is_root(loaded), "the intermediate came back");
        meshtls_issued *again = issue(loaded, API_ID, 3600);
        EXPECT(verify_issued(v, again, MESHTLS_PEER_CLIENT, NOW), MESHTLS_OK);
        meshtls_issued_free(again);
        meshtls_authority_free(loaded);
        meshtls_buffer_free(saved_chain);
        meshtls_buffer_free(saved_key);
        meshtls_buffer_free(cert);
    }

    /* CSR: the key never leaves the requester */
    {
        meshtls_buffer *csr = NULL, *csr_key = NULL, *no_key = (meshtls_buffer *)&passed;
        meshtls_issued *from_csr = NULL;
        const char *dns[] = {"web.mesh.internal"};
        EXPECT(meshtls_create_csr("spiffe://mesh.internal/service/web", dns, 1,
                                  MESHTLS_KEY_ECDSA_P384, &csr, &csr_key),
               MESHTLS_OK);
        EXPECT(meshtls_authority_issue_csr(inter, meshtls_buffer_data(csr), meshtls_buffer_len(csr),
                                           MESHTLS_USAGE_CLIENT, 0, NOW, &from_csr),
               MESHTLS_OK);
        EXPECT(meshtls_issued_key_pem(from_csr, &no_key), MESHTLS_OK);
        CHECK(no_key == NULL, "no key for a CSR");
        EXPECT(verify_issued(v, from_csr, MESHTLS_PEER_CLIENT, NOW), MESHTLS_OK);
        EXPECT(verify_issued(v, from_csr, MESHTLS_PEER_SERVER, NOW), MESHTLS_WRONG_USAGE);
        CHECK(meshtls_issued_not_after(from_csr) == NOW + 90 * 86400, "default lifetime 90 days");
        meshtls_buffer *pfx = NULL;
        EXPECT(meshtls_issued_to_pkcs12(from_csr, "pw", MESHTLS_PKCS12_LEGACY, &pfx),
               MESHTLS_INVALID_REQUEST);
        meshtls_buffer *tampered = NULL;
        meshtls_issued *bad = NULL;
        uint8_t *copy = malloc(meshtls_buffer_len(csr));
        memcpy(copy, meshtls_buffer_data(csr), meshtls_buffer_len(csr));
        copy[meshtls_buffer_len(csr) / 2] ^= 0x01; /* flip a base64 character */
        meshtls_result r = meshtls_authority_issue_csr(inter, copy, meshtls_buffer_len(csr), 0, 0,
                                                       NOW, &bad);
        CHECK(r == MESHTLS_BAD_SIGNATURE || r == MESHTLS_MALFORMED,
              "tampered CSR refused: %s", meshtls_result_name(r));
        CHECK(bad == NULL, "nothing issued from a tampered CSR");
        free(copy);
        meshtls_buffer_free(tampered);
        meshtls_issued_free(from_csr);
        meshtls_buffer_free(csr);
        meshtls_buffer_free(csr_key);
    }

    /* PKCS#12, both profiles, from an issued certificate and from PEM files */
    {
        meshtls_buffer *modern = NULL, *legacy = NULL, *bad = NULL;
        /* Each PFX costs 100k PBKDF2 rounds (slow under valgrind): one per profile. */
        EXPECT(meshtls_issued_to_pkcs12(leaf, "pw", MESHTLS_PKCS12_MODERN, &modern), MESHTLS_OK);
        EXPECT(meshtls_issued_to_pkcs12(leaf, "pw", 3, &bad), MESHTLS_INVALID_ARGUMENT);
        EXPECT(meshtls_pkcs12_from_pem(meshtls_buffer_data(chain), meshtls_buffer_len(chain),
                                       meshtls_buffer_data(key), meshtls_buffer_len(key), NULL,
                                       "pw", MESHTLS_PKCS12_LEGACY, &legacy),
               MESHTLS_OK);
        CHECK(meshtls_buffer_len(modern) > 500 && meshtls_buffer_len(legacy) > 500,
              "PFX files made");
        CHECK(meshtls_buffer_data(modern)[0] == 0x30 && meshtls_buffer_data(legacy)[0] == 0x30,
              "PFX is DER");
        EXPECT(meshtls_pkcs12_from_pem(meshtls_buffer_data(chain), meshtls_buffer_len(chain),
                                       (const uint8_t *)"x", 1, NULL, "pw", 0, &bad),
               MESHTLS_MALFORMED);
        CHECK(bad == NULL, "no PFX from garbage");
        meshtls_buffer_free(modern);
        meshtls_buffer_free(legacy);
    }

    /* rotation status */
    {
        meshtls_rotation_policy *rp = NULL, *bad = NULL;
        meshtls_buffer *cert = NULL;
        uint32_t status = 0;
        int64_t renew_at = -1;
        EXPECT(meshtls_issued_cert_pem(leaf, &cert), MESHTLS_OK);
        EXPECT(meshtls_rotation_policy_new(&rp), MESHTLS_OK);
        EXPECT(meshtls_rotation_policy_status(rp, meshtls_buffer_data(cert), meshtls_buffer_len(cert),
                                              NOW, &status, &renew_at),
               MESHTLS_OK);
        CHECK(status == MESHTLS_ROTATION_FRESH, "fresh");
        CHECK(renew_at > NOW && renew_at < NOW + 3600, "renew_at within the lifetime");
        EXPECT(meshtls_rotation_policy_status(rp, meshtls_buffer_data(cert), meshtls_buffer_len(cert),
                                              NOW + 3599, &status, &renew_at),
               MESHTLS_OK);
        CHECK(status == MESHTLS_ROTATION_RENEW_DUE, "renew due");
        EXPECT(meshtls_rotation_policy_status(rp, meshtls_buffer_data(cert), meshtls_buffer_len(cert),
                                              NOW + 3600, &status, &renew_at),
               MESHTLS_OK);
        CHECK(status == MESHTLS_ROTATION_EXPIRED, "expired");
        EXPECT(meshtls_rotation_policy_status(rp, (const uint8_t *)"x", 1, NOW, &status, &renew_at),
               MESHTLS_MALFORMED);
        EXPECT(meshtls_rotation_policy_set_jitter(rp, 0.9), MESHTLS_INVALID_REQUEST);
        EXPECT(meshtls_rotation_policy_set_jitter(rp, 0.0), MESHTLS_OK);
        meshtls_rotation_policy_free(rp);
        rp = NULL;
        EXPECT(meshtls_rotation_policy_at_fraction(1.5, &bad), MESHTLS_INVALID_REQUEST);
        CHECK(bad == NULL, "no policy from a bad fraction");
        EXPECT(meshtls_rotation_policy_at_fraction(0.5, &rp), MESHTLS_OK);
        EXPECT(meshtls_rotation_policy_set_jitter(rp, 0.0), MESHTLS_OK);
        EXPECT(meshtls_rotation_policy_status(rp, meshtls_buffer_data(cert), meshtls_buffer_len(cert),
                                              NOW, &status, &renew_at),
               MESHTLS_OK);
        CHECK(status == MESHTLS_ROTATION_FRESH && renew_at == NOW - 60 + 1830, "half-life %lld",
              (long long)renew_at);
        meshtls_rotation_policy_free(rp);
        rp = NULL;
        EXPECT(meshtls_rotation_policy_before_expiry(600, &rp), MESHTLS_OK);
        EXPECT(meshtls_rotation_policy_set_jitter(rp, 0.0), MESHTLS_OK);
        EXPECT(meshtls_rotation_policy_status(rp, meshtls_buffer_data(cert), meshtls_buffer_len(cert),
                                              NOW, &status, &renew_at),
               MESHTLS_OK);
        CHECK(renew_at == NOW + 3000, "ten minutes before expiry");
        meshtls_rotation_policy_free(rp);
        meshtls_buffer_free(cert);
    }

    meshtls_buffer_free(chain);
    meshtls_buffer_free(serial);
    meshtls_buffer_free(fp);
    meshtls_buffer_free(key);
    meshtls_verifier_free(v);
    meshtls_issued_free(leaf);
    meshtls_buffer_free(root_pem);
    meshtls_authority_free(root);
    meshtls_authority_free(inter);
    meshtls_authority_free(rogue);
}

/* --- NULL arguments: every family refuses them with MESHTLS_NULL_ARGUMENT, out untouched */

#define SENTINEL ((void *)&passed)

static void test_null_arguments(void) {
    meshtls_authority *ca = NULL;
    meshtls_issued *issued = NULL;
    EXPECT(meshtls_authority_create_root(TD, NULL, 0, 0, -1, NULL, 0, NOW, &ca), MESHTLS_OK);
    issued = issue(ca, API_ID, 3600);

    void *out = SENTINEL;
    meshtls_buffer *b = SENTINEL;
    uint32_t status = 99;
    int64_t renew_at = 99;
    bool added = true;
    const char *names[] = {"a.example"};

    /* authority */
    EXPECT(meshtls_authority_create_root(NULL, NULL, 0, 0, -1, NULL, 0, NOW, (meshtls_authority **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_create_root(TD, NULL, 0, 0, -1, NULL, 0, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_create_root(TD, NULL, 0, 0, -1, NULL, 1, NOW, (meshtls_authority **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_create_intermediate(NULL, NULL, 0, 0, -1, NULL, 0, NOW, (meshtls_authority **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_create_intermediate(ca, NULL, 0, 0, -1, NULL, 0, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_load(NULL, 5, (const uint8_t *)"x", 1, NULL, (meshtls_authority **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_load((const uint8_t *)"x", 1, NULL, 5, NULL, (meshtls_authority **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_load((const uint8_t *)"x", 1, (const uint8_t *)"x", 1, NULL, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_chain_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_chain_pem(ca, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_certificate_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_root_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_trust_domain(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_encrypted_key_pem(NULL, "pw", &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_encrypted_key_pem(ca, NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_encrypted_key_pem(ca, "pw", NULL), MESHTLS_NULL_ARGUMENT);
    CHECK(!meshtls_authority_is_root(NULL), "is_root(NULL) is false");

    /* issue */
    EXPECT(meshtls_authority_issue(NULL, API_ID, NULL, 0, 0, 0, 0, NOW, (meshtls_issued **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_issue(ca, NULL, NULL, 0, 0, 0, 0, NOW, (meshtls_issued **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_issue(ca, API_ID, NULL, 2, 0, 0, 0, NOW, (meshtls_issued **)&out), MESHTLS_NULL_ARGUMENT);
    const char *with_null[] = {"a.example", NULL};
    EXPECT(meshtls_authority_issue(ca, API_ID, with_null, 2, 0, 0, 0, NOW, (meshtls_issued **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_issue(ca, API_ID, names, 1, 0, 0, 0, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_issue_csr(NULL, (const uint8_t *)"x", 1, 0, 0, NOW, (meshtls_issued **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_issue_csr(ca, NULL, 1, 0, 0, NOW, (meshtls_issued **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_issue_csr(ca, (const uint8_t *)"x", 1, 0, 0, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_create_csr(NULL, NULL, 0, 0, &b, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_create_csr(API_ID, NULL, 0, 0, NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_create_csr(API_ID, NULL, 0, 0, &b, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_cert_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_chain_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_key_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_serial_hex(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_fingerprint_hex(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_cert_pem(issued, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_to_pkcs12(NULL, "pw", 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_to_pkcs12(issued, NULL, 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_issued_to_pkcs12(issued, "pw", 0, NULL), MESHTLS_NULL_ARGUMENT);
    CHECK(meshtls_issued_not_before(NULL) == 0 && meshtls_issued_not_after(NULL) == 0,
          "issued times of NULL are 0");
    EXPECT(meshtls_pkcs12_from_pem(NULL, 1, (const uint8_t *)"x", 1, NULL, "pw", 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_pkcs12_from_pem((const uint8_t *)"x", 1, NULL, 1, NULL, "pw", 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_pkcs12_from_pem((const uint8_t *)"x", 1, (const uint8_t *)"x", 1, NULL, NULL, 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_pkcs12_from_pem((const uint8_t *)"x", 1, (const uint8_t *)"x", 1, NULL, "pw", 0, NULL), MESHTLS_NULL_ARGUMENT);

    /* trust bundle, policy, verifier, peer */
    EXPECT(meshtls_trust_bundle_new(NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_trust_bundle_add_ca_pem(NULL, (const uint8_t *)"x", 1), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_trust_bundle_add_crl(NULL, (const uint8_t *)"x", 1), MESHTLS_NULL_ARGUMENT);
    CHECK(meshtls_trust_bundle_len(NULL) == 0, "bundle len of NULL");
    CHECK(meshtls_trust_bundle_skipped_count(NULL) == 0, "skipped count of NULL");
    meshtls_trust_bundle *bundle = NULL;
    EXPECT(meshtls_trust_bundle_new(&bundle), MESHTLS_OK);
    EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, NULL, 3), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_trust_bundle_add_crl(bundle, NULL, 3), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_new(NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_id(NULL, API_ID), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_pattern(NULL, API_ID), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_trust_domain(NULL, TD), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_dns(NULL, "a.example"), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_pin_cert(NULL, "00"), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_pin_spki(NULL, "00"), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_any(NULL), MESHTLS_NULL_ARGUMENT);
    meshtls_policy_builder *pb = NULL;
    meshtls_policy *policy = NULL;
    EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_allow_id(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_pattern(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_trust_domain(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_dns(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_pin_cert(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_pin_spki(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_build(NULL, (meshtls_policy **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_allow_any(pb), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_build(pb, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_policy_builder_build(pb, &policy), MESHTLS_OK);
    EXPECT(meshtls_verifier_new(NULL, policy, (meshtls_verifier **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_new(bundle, NULL, (meshtls_verifier **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_new(bundle, policy, NULL), MESHTLS_NULL_ARGUMENT);
    meshtls_verifier *v = NULL;
    EXPECT(meshtls_verifier_new(bundle, policy, &v), MESHTLS_OK);
    EXPECT(meshtls_verifier_verify_pem(NULL, (const uint8_t *)"x", 1, 1, NOW, (meshtls_peer **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_verify_pem(v, NULL, 1, 1, NOW, (meshtls_peer **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_verify_pem(v, (const uint8_t *)"x", 1, 1, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    size_t one = 1;
    EXPECT(meshtls_verifier_verify_der(NULL, (const uint8_t *)"x", 1, &one, 1, 1, NOW, (meshtls_peer **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_verify_der(v, NULL, 1, &one, 1, 1, NOW, (meshtls_peer **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_verify_der(v, (const uint8_t *)"x", 1, NULL, 1, 1, NOW, (meshtls_peer **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_verifier_verify_der(v, (const uint8_t *)"x", 1, &one, 1, 1, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_spiffe_id(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_common_name(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_serial_hex(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_fingerprint_hex(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_spki_fingerprint_hex(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_anchor_subject(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_peer_dns_name(NULL, 0, &b), MESHTLS_NULL_ARGUMENT);
    CHECK(meshtls_peer_dns_name_count(NULL) == 0 && meshtls_peer_not_after(NULL) == 0 &&
              meshtls_peer_not_before(NULL) == 0,
          "peer getters of NULL are 0");
    {
        meshtls_buffer *chain = NULL;
        meshtls_buffer *root = NULL;
        meshtls_peer *peer = NULL;
        EXPECT(meshtls_authority_root_pem(ca, &root), MESHTLS_OK);
        EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, meshtls_buffer_data(root), meshtls_buffer_len(root)), MESHTLS_OK);
        meshtls_verifier *v2 = NULL;
        EXPECT(meshtls_verifier_new(bundle, policy, &v2), MESHTLS_OK);
        EXPECT(meshtls_issued_chain_pem(issued, &chain), MESHTLS_OK);
        EXPECT(meshtls_verifier_verify_pem(v2, meshtls_buffer_data(chain), meshtls_buffer_len(chain), 1, NOW, &peer), MESHTLS_OK);
        EXPECT(meshtls_peer_spiffe_id(peer, NULL), MESHTLS_NULL_ARGUMENT);
        EXPECT(meshtls_peer_dns_name(peer, 0, NULL), MESHTLS_NULL_ARGUMENT);
        meshtls_peer_free(peer);
        meshtls_verifier_free(v2);
        meshtls_buffer_free(chain);
        meshtls_buffer_free(root);
    }

    /* rotation */
    EXPECT(meshtls_rotation_policy_new(NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_rotation_policy_at_fraction(0.5, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_rotation_policy_before_expiry(60, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_rotation_policy_set_jitter(NULL, 0.1), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_rotation_policy_status(NULL, (const uint8_t *)"x", 1, NOW, &status, &renew_at), MESHTLS_NULL_ARGUMENT);
    meshtls_rotation_policy *rp = NULL;
    EXPECT(meshtls_rotation_policy_new(&rp), MESHTLS_OK);
    EXPECT(meshtls_rotation_policy_status(rp, NULL, 1, NOW, &status, &renew_at), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_rotation_policy_status(rp, (const uint8_t *)"x", 1, NOW, NULL, &renew_at), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_rotation_policy_status(rp, (const uint8_t *)"x", 1, NOW, &status, NULL), MESHTLS_NULL_ARGUMENT);
    CHECK(status == 99 && renew_at == 99, "rotation outs untouched on failure");

    /* revocation */
    EXPECT(meshtls_revocation_list_new(NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_revocation_list_from_text(NULL, 3, (meshtls_revocation_list **)&out), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_revocation_list_from_text((const uint8_t *)"x", 1, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_revocation_list_to_text(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_revocation_list_revoke(NULL, "01", 0, NOW, &added), MESHTLS_NULL_ARGUMENT);
    CHECK(meshtls_revocation_list_len(NULL) == 0, "records len of NULL");
    meshtls_revocation_list *rl = NULL;
    EXPECT(meshtls_revocation_list_new(&rl), MESHTLS_OK);
    EXPECT(meshtls_revocation_list_revoke(rl, NULL, 0, NOW, &added), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_revocation_list_revoke(rl, "01", 0, NOW, NULL), MESHTLS_NULL_ARGUMENT);
    CHECK(added, "added untouched on failure");
    CHECK(meshtls_revocation_list_len(rl) == 0, "nothing recorded by a failed call");
    EXPECT(meshtls_authority_build_crl(NULL, rl, 1, NOW, 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_build_crl(ca, NULL, 1, NOW, 0, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_build_crl(ca, rl, 1, NOW, 0, NULL), MESHTLS_NULL_ARGUMENT);

    /* buffers and the last error */
    CHECK(meshtls_buffer_data(NULL) == NULL && meshtls_buffer_len(NULL) == 0, "NULL buffer");
    size_t n = 0;
    char small[8];
    EXPECT(meshtls_last_error(NULL, 0, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_last_error(NULL, 8, &n), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_authority_chain_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_last_error(small, sizeof small, &n), MESHTLS_OK);
    CHECK(n > sizeof small && strlen(small) == sizeof small - 1, "message cut to the buffer");
    CHECK(strncmp(small, "null_ar", 7) == 0, "cut message %s", small);
    EXPECT(meshtls_authority_chain_pem(ca, &b), MESHTLS_OK);
    meshtls_buffer_free(b);
    EXPECT(meshtls_last_error(small, sizeof small, &n), MESHTLS_OK);
    CHECK(n == 0 && small[0] == 0, "success clears the last error");

    CHECK(out == SENTINEL, "handle outs untouched on failure");

    /* free functions accept NULL */
    meshtls_authority_free(NULL);
    meshtls_issued_free(NULL);
    meshtls_buffer_free(NULL);
    meshtls_trust_bundle_free(NULL);
    meshtls_policy_builder_free(NULL);
    meshtls_policy_free(NULL);
    meshtls_verifier_free(NULL);
    meshtls_peer_free(NULL);
    meshtls_rotation_policy_free(NULL);
    meshtls_revocation_list_free(NULL);

    meshtls_revocation_list_free(rl);
    meshtls_rotation_policy_free(rp);
    meshtls_verifier_free(v);
    meshtls_policy_free(policy);
    meshtls_policy_builder_free(pb);
    meshtls_trust_bundle_free(bundle);
    meshtls_issued_free(issued);
    meshtls_authority_free(ca);
}

static void test_names(void) {
    CHECK(strcmp(meshtls_result_name(0), "ok") == 0, "ok");
    CHECK(strcmp(meshtls_result_name(MESHTLS_EXPIRED), "expired") == 0, "expired");
    CHECK(strcmp(meshtls_result_name(MESHTLS_IDENTITY_NOT_ALLOWED), "identity_not_allowed") == 0, "identity_not_allowed");
    CHECK(strcmp(meshtls_result_name(MESHTLS_NULL_ARGUMENT), "null_argument") == 0, "null_argument");
    CHECK(strcmp(meshtls_result_name(MESHTLS_PANIC), "panic") == 0, "panic");
    CHECK(strcmp(meshtls_result_name(12345), "unknown") == 0, "unknown");
    CHECK(strcmp(meshtls_result_family(MESHTLS_REVOKED), "verification") == 0, "family revoked");
    CHECK(strcmp(meshtls_result_name(MESHTLS_NO_CERTIFICATE), "no_certificate") == 0, "no_certificate");
    CHECK(strcmp(meshtls_result_family(MESHTLS_NO_CERTIFICATE), "verification") == 0, "family no_certificate");
    CHECK(strcmp(meshtls_result_family(MESHTLS_MALFORMED), "input") == 0, "family malformed");
    CHECK(strcmp(meshtls_result_family(MESHTLS_INVALID_REQUEST), "request") == 0, "family request");
    CHECK(strcmp(meshtls_result_family(MESHTLS_WRONG_PASSPHRASE), "passphrase") == 0, "family passphrase");
    CHECK(strcmp(meshtls_result_family(MESHTLS_IO), "io") == 0, "family io");
    CHECK(strcmp(meshtls_result_family(MESHTLS_INTERNAL), "internal") == 0, "family internal");
    CHECK(strcmp(meshtls_result_family(MESHTLS_NULL_ARGUMENT), "argument") == 0, "family argument");
    CHECK(strcmp(meshtls_version(), "0.1.0") == 0, "version %s", meshtls_version());
}

/* --- fixtures/cases.json: one case per line, as make_fixtures writes it; a case may carry its
   own bundle, crls, leeway, max_intermediates and at */

/* Copies the string value of "key" in line into out; returns 0 when absent. */
static int json_string(const char *line, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    const char *p = strstr(line, pat);
    if (!p) return 0;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= cap) return 0;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = 0;
    return 1;
}

/* The integer value of "key" in line, or dflt when absent. */
static int64_t json_int(const char *line, const char *key, int64_t dflt) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(line, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : dflt;
}

/* Adds every CRL file of the case's "crls" list to bundle; the first error, or MESHTLS_OK. */
static meshtls_result add_case_crls(const char *dir, const char *line, meshtls_trust_bundle *bundle) {
    const char *p = strstr(line, "\"crls\": [") + 9;
    const char *close = strchr(p, ']');
    while (p && close && p < close) {
        const char *s = strchr(p, '"');
        if (!s || s > close) break;
        const char *e = strchr(s + 1, '"');
        char file[256];
        snprintf(file, sizeof file, "%.*s", (int)(e - s - 1), s + 1);
        size_t n = 0;
        char *crl = read_file(dir, file, &n);
        meshtls_result r = meshtls_trust_bundle_add_crl(bundle, (const uint8_t *)crl, n);
        free(crl);
        if (r != MESHTLS_OK) return r;
        p = e + 1;
    }
    return MESHTLS_OK;
}

static void test_fixtures(const char *dir) {
    size_t len = 0;
    char *cases = read_file(dir, "cases.json", &len);
    char bundle_name[128], crl_names[2][128];
    const char *at_p = strstr(cases, "\"at\": ");
    CHECK(at_p != NULL, "cases.json has at");
    if (!at_p) {
        free(cases);
        return;
    }
    int64_t at = strtoll(at_p + 6, NULL, 10);
    CHECK(json_string(cases, "bundle", bundle_name, sizeof bundle_name), "bundle");
    const char *crls_p = strstr(cases, "\"crls\": [\"");
    CHECK(crls_p != NULL, "crls");
    if (!crls_p) {
        free(cases);
        return;
    }
    crls_p += 10;
    const char *q = strchr(crls_p, '"');
    snprintf(crl_names[0], sizeof crl_names[0], "%.*s", (int)(q - crls_p), crls_p);
    crls_p = q + 4; /* past `", "` */
    q = strchr(crls_p, '"');
    snprintf(crl_names[1], sizeof crl_names[1], "%.*s", (int)(q - crls_p), crls_p);

    size_t blen = 0, c0len = 0, c1len = 0;
    char *bundle_pem = read_file(dir, bundle_name, &blen);
    char *crl0 = read_file(dir, crl_names[0], &c0len);
    char *crl1 = read_file(dir, crl_names[1], &c1len);

    int replayed = 0;
    for (char *line = strtok(cases, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], chain_name[128], usage[16], expect[64];
        if (!json_string(line, "name", name, sizeof name)) continue;
        if (!json_string(line, "chain", chain_name, sizeof chain_name) ||
            !json_string(line, "usage", usage, sizeof usage) ||
            !json_string(line, "expect", expect, sizeof expect) ||
            !strstr(line, "\"allow\": [")) {
            CHECK(0, "case %s: cannot parse", name);
            continue;
        }
        int with_crls = strstr(line, "\"with_crls\": true") != NULL;
        int64_t case_at = json_int(line, "at", at);
        int64_t leeway = json_int(line, "leeway", 0);
        int64_t max_inter = json_int(line, "max_intermediates", 4);
        char case_bundle[128];
        int own_bundle = json_string(line, "bundle", case_bundle, sizeof case_bundle);

        /* The verdict is the code of the first error: building the bundle, adding the CRLs,
           building the policy or verifying. */
        meshtls_trust_bundle *bundle = NULL;
        meshtls_policy_builder *pb = NULL;
        meshtls_policy *policy = NULL;
        meshtls_verifier *v = NULL;
        meshtls_peer *peer = NULL;
        char *chain = NULL;
        meshtls_result r = meshtls_trust_bundle_new(&bundle);
        if (r == MESHTLS_OK) {
            if (own_bundle) {
                size_t n = 0;
                char *pem = read_file(dir, case_bundle, &n);
                r = meshtls_trust_bundle_add_ca_pem(bundle, (const uint8_t *)pem, n);
                free(pem);
            } else {
                r = meshtls_trust_bundle_add_ca_pem(bundle, (const uint8_t *)bundle_pem, blen);
            }
        }
        if (r == MESHTLS_OK && strstr(line, "\"crls\": [")) {
            r = add_case_crls(dir, line, bundle);
        } else if (r == MESHTLS_OK && with_crls) {
            r = meshtls_trust_bundle_add_crl(bundle, (const uint8_t *)crl0, c0len);
            if (r == MESHTLS_OK) r = meshtls_trust_bundle_add_crl(bundle, (const uint8_t *)crl1, c1len);
        }
        if (r == MESHTLS_OK) r = meshtls_policy_builder_new(&pb);
        /* every pattern of the case */
        for (const char *p = strstr(line, "\"allow\": [") + 10; r == MESHTLS_OK && *p && *p != ']';) {
            const char *s = strchr(p, '"');
            if (!s || s > strchr(p, ']')) break;
            const char *e = strchr(s + 1, '"');
            char pat[256];
            snprintf(pat, sizeof pat, "%.*s", (int)(e - s - 1), s + 1);
            r = meshtls_policy_builder_allow_pattern(pb, pat);
            p = e + 1;
        }
        if (r == MESHTLS_OK) r = meshtls_policy_builder_clock_leeway(pb, (uint64_t)leeway);
        if (r == MESHTLS_OK) r = meshtls_policy_builder_max_intermediates(pb, (uint32_t)max_inter);
        if (r == MESHTLS_OK) r = meshtls_policy_builder_build(pb, &policy);
        if (r == MESHTLS_OK) r = meshtls_verifier_new(bundle, policy, &v);
        if (r == MESHTLS_OK) {
            size_t clen = 0;
            chain = read_file(dir, chain_name, &clen);
            r = meshtls_verifier_verify_pem(
                v, (const uint8_t *)chain, clen,
                strcmp(usage, "client") == 0 ? MESHTLS_PEER_CLIENT : MESHTLS_PEER_SERVER, case_at,
                &peer);
        }
        const char *got = meshtls_result_name(r);
        CHECK(strcmp(got, expect) == 0, "fixture %s: got %s, want %s (%s)", name, got, expect,
              last_error());
        replayed++;
        free(chain);
        meshtls_peer_free(peer);
        meshtls_verifier_free(v);
        meshtls_policy_free(policy);
        meshtls_policy_builder_free(pb);
        meshtls_trust_bundle_free(bundle);
    }
    CHECK(replayed >= 15, "replayed %d fixture cases", replayed);

    /* the fixture CA key opens with its passphrase (a wrong one is tested in the scenario:
       each attempt costs a scrypt, slow under valgrind) */
    size_t klen = 0;
    char *key = read_file(dir, "root.key.enc.pem", &klen);
    meshtls_authority *ca = NULL;
    EXPECT(meshtls_authority_load((const uint8_t *)bundle_pem, blen, (const uint8_t *)key, klen,
                                  NULL, &ca),
           MESHTLS_WRONG_PASSPHRASE); /* encrypted, and no passphrase given */
    EXPECT(meshtls_authority_load((const uint8_t *)bundle_pem, blen, (const uint8_t *)key, klen,
                                  "fixture-passphrase", &ca),
           MESHTLS_OK);
    meshtls_authority_free(ca);
    free(key);
    free(bundle_pem);
    free(crl0);
    free(crl1);
    free(cases);
}

/* --- the enrollment client, without a service */

/* The calling thread's last error code (meshtls_last_error_code). */
static const char *last_code(void) {
    static char buf[128];
    size_t n = 0;
    if (meshtls_last_error_code(buf, sizeof buf, &n) != MESHTLS_OK) return "(no code)";
    return buf;
}

/* A loopback TCP listener that accepts into its backlog but never answers; its port in *port. */
static int silent_listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int rotation_calls;

static void count_rotation(void *user_data, const meshtls_rotation_event *event) {
    (void)event;
    (*(int *)user_data)++;
}

static void test_enroll_offline(const char *dir) {
    size_t blen = 0;
    char *bundle = read_file(dir, "root.pem", &blen);
    const char *garbage = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
    meshtls_enroll_options *opts = NULL;
    meshtls_enrolled *node = NULL;

    /* options: the bundle is parsed at once; every setter checks its arguments */
    EXPECT(meshtls_enroll_options_new((const uint8_t *)bundle, blen, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_new(NULL, 5, &opts), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_new((const uint8_t *)garbage, strlen(garbage), &opts),
           MESHTLS_MALFORMED);
    CHECK(strcmp(last_code(), "malformed") == 0, "bad bundle code %s", last_code());
    EXPECT(meshtls_enroll_options_new((const uint8_t *)"", 0, &opts), MESHTLS_MALFORMED);
    CHECK(opts == NULL, "options untouched on failure");
    EXPECT(meshtls_enroll_options_new((const uint8_t *)bundle, blen, &opts), MESHTLS_OK);
    CHECK(strcmp(last_code(), "") == 0, "no code after a success: %s", last_code());
    EXPECT(meshtls_enroll_options_add_dns_name(NULL, "api.mesh.internal"), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_add_dns_name(opts, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_add_dns_name(opts, "localhost"), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_key_algorithm(opts, 99), MESHTLS_INVALID_ARGUMENT);
    EXPECT(meshtls_enroll_options_set_key_algorithm(opts, MESHTLS_KEY_ECDSA_P256), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_service_id(opts, "not a spiffe id"), MESHTLS_MALFORMED);
    EXPECT(meshtls_enroll_options_set_service_id(opts, "spiffe://mesh.internal/meshtls/ca"), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_service_id(opts, NULL), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_refresh_interval(opts, 0), MESHTLS_INVALID_REQUEST);
    EXPECT(meshtls_enroll_options_set_refresh_interval(opts, 8 * 86400), MESHTLS_INVALID_REQUEST);
    EXPECT(meshtls_enroll_options_set_refresh_interval(opts, 60), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_timeout_ms(opts, 0), MESHTLS_INVALID_REQUEST);
    EXPECT(meshtls_enroll_options_set_timeout_ms(opts, 500), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_rotation_policy(NULL, NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_set_rotation_policy(opts, NULL), MESHTLS_OK);
    meshtls_rotation_policy *rp = NULL;
    EXPECT(meshtls_rotation_policy_at_fraction(0.5, &rp), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_rotation_policy(opts, rp), MESHTLS_OK);
    meshtls_rotation_policy_free(rp);
    meshtls_policy_builder *pb = NULL;
    meshtls_policy *peers = NULL;
    EXPECT(meshtls_policy_builder_new(&pb), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_allow_id(pb, API_ID), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_build(pb, &peers), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_peer_policy(NULL, peers), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_set_peer_policy(opts, peers), MESHTLS_OK);
    meshtls_policy_free(peers); /* the options keep a copy */
    meshtls_policy_builder_free(pb);
    EXPECT(meshtls_enroll_options_set_state_dir(NULL, "/tmp"), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_options_set_rotation_callback(NULL, NULL, NULL), MESHTLS_NULL_ARGUMENT);

    /* enroll: NULL arguments, a bad ID, a URL that is not https */
    const char *url = "https://localhost:1";
    const char *token = "0000000000000000000000000000000000000000000000000000000000000000";
    EXPECT(meshtls_enroll(NULL, token, API_ID, opts, &node), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll(url, NULL, API_ID, opts, &node), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll(url, token, NULL, opts, &node), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll(url, token, API_ID, NULL, &node), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll(url, token, API_ID, opts, NULL), MESHTLS_NULL_ARGUMENT);
    CHECK(strcmp(last_code(), "null_argument") == 0, "null code %s", last_code());
    EXPECT(meshtls_enroll(url, token, "spiffe://Mesh..internal/x", opts, &node), MESHTLS_MALFORMED);
    EXPECT(meshtls_enroll("http://localhost:1", token, API_ID, opts, &node),
           MESHTLS_INVALID_REQUEST);
    CHECK(strcmp(last_code(), "invalid_request") == 0, "http code %s", last_code());
    EXPECT(meshtls_enroll("ca.mesh.internal", token, API_ID, opts, &node), MESHTLS_INVALID_REQUEST);

    /* nobody listening: refused at once; with a callback set, its event thread is started and
       ended within the call (valgrind sees no thread nor leak left) and never called */
    EXPECT(meshtls_enroll_options_set_rotation_callback(opts, count_rotation, &rotation_calls),
           MESHTLS_OK);
    EXPECT(meshtls_enroll("https://127.0.0.1:1", token, API_ID, opts, &node), MESHTLS_TRANSPORT);
    CHECK(strcmp(last_code(), "transport") == 0, "refused code %s", last_code());
    CHECK(rotation_calls == 0, "no rotation event without an identity");
    EXPECT(meshtls_enroll_options_set_rotation_callback(opts, NULL, NULL), MESHTLS_OK);
    CHECK(strcmp(meshtls_result_name(MESHTLS_TRANSPORT), "transport") == 0, "transport name");
    CHECK(strcmp(meshtls_result_family(MESHTLS_TRANSPORT), "io") == 0, "transport family");
    CHECK(strcmp(meshtls_result_name(MESHTLS_SERVICE_ERROR), "service_error") == 0, "service name");
    CHECK(strcmp(meshtls_result_family(MESHTLS_SERVICE_ERROR), "request") == 0, "service family");

    /* a listener that never answers: the 500 ms timeout ends the call */
    int port = 0;
    int fd = silent_listener(&port);
    CHECK(fd >= 0, "silent listener");
    if (fd >= 0) {
        char silent[64];
        snprintf(silent, sizeof silent, "https://127.0.0.1:%d", port);
        EXPECT(meshtls_enroll(silent, token, API_ID, opts, &node), MESHTLS_TRANSPORT);
        CHECK(strcmp(last_code(), "transport") == 0, "timeout code %s", last_code());
        CHECK(strstr(last_error(), "timed out") != NULL, "timeout message: %s", last_error());
        close(fd);
    }
    CHECK(node == NULL, "out untouched by every failed enroll");

    /* resume: needs a state directory holding an identity */
    EXPECT(meshtls_enroll_resume(url, NULL, &node), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_resume(url, opts, &node), MESHTLS_INVALID_REQUEST);
    char state[] = "/tmp/meshtls-c-test-XXXXXX";
    CHECK(mkdtemp(state) != NULL, "mkdtemp");
    EXPECT(meshtls_enroll_options_set_state_dir(opts, state), MESHTLS_OK);
    EXPECT(meshtls_enroll_resume(url, opts, &node), MESHTLS_INVALID_REQUEST);
    CHECK(strcmp(last_code(), "invalid_request") == 0, "resume code %s", last_code());
    rmdir(state);
    CHECK(node == NULL, "out untouched by every failed resume");

    /* the enrolled identity's functions refuse NULL */
    meshtls_buffer *b = NULL;
    meshtls_verifier *v = NULL;
    EXPECT(meshtls_enrolled_spiffe_id(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_serial_hex(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_chain_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_key_pem(NULL, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_to_pkcs12(NULL, "pw", MESHTLS_PKCS12_LEGACY, &b), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_verifier(NULL, &v), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_trust(NULL, &v), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_trust_for(NULL, NULL, &v), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_renew_now(NULL), MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_refresh_trust(NULL), MESHTLS_NULL_ARGUMENT);
    CHECK(meshtls_enrolled_generation(NULL) == 0, "generation of NULL");
    CHECK(meshtls_enrolled_stale_crl_refusals(NULL) == 0, "stale CRL refusals of NULL");
    CHECK(b == NULL && v == NULL, "outs untouched");
    meshtls_enrolled_free(NULL);
    meshtls_enroll_options_free(NULL);

    /* meshtls_last_error_code checks its own arguments */
    size_t n = 0;
    CHECK(meshtls_last_error_code(NULL, 0, NULL) == MESHTLS_NULL_ARGUMENT, "code: NULL out_n");
    CHECK(meshtls_last_error_code(NULL, 4, &n) == MESHTLS_NULL_ARGUMENT, "code: NULL buf");

    meshtls_enroll_options_free(opts);
    free(bundle);
}

/* --- fixtures/requests.json: one case per line, the grant its only nested object */

/* The JSON string starting at p (just after its opening quote), unescaped into out; returns
 * the position after the closing quote, or NULL. */
static const char *req_unescape(const char *p, char *out, size_t cap) {
    size_t n = 0;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            c = *p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'u': {
                unsigned v = 0;
                if (sscanf(p, "%4x", &v) != 1) return NULL;
                p += 4;
                c = (char)v; /* the fixtures escape only control characters this way */
                break;
            }
            default: break;
            }
        }
        if (n + 1 >= cap) return NULL;
        out[n++] = c;
    }
    if (*p != '"') return NULL;
    out[n] = 0;
    return p + 1;
}

/* "key":"value" in obj (compact JSON) into out; 0 when absent. */
static int req_string(const char *obj, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(obj, pat);
    return p && req_unescape(p + strlen(pat), out, cap) != NULL;
}

/* "key":N in obj; 0 when absent. */
static int req_number(const char *obj, const char *key, unsigned long long *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(obj, pat);
    return p && sscanf(p + strlen(pat), "%llu", out) == 1;
}

#define REQ_MAX_ITEMS 8
typedef struct {
    int present;
    size_t n;
    char items[REQ_MAX_ITEMS][300];
    const char *ptrs[REQ_MAX_ITEMS];
} req_list;

/* "key":["a","b"] in obj. */
static void req_strings(const char *obj, const char *key, req_list *l) {
    char pat[64];
    memset(l, 0, sizeof *l);
    snprintf(pat, sizeof pat, "\"%s\":[", key);
    const char *p = strstr(obj, pat);
    if (!p) return;
    l->present = 1;
    p += strlen(pat);
    while (*p == '"' && l->n < REQ_MAX_ITEMS) {
        p = req_unescape(p + 1, l->items[l->n], sizeof l->items[0]);
        if (!p) return;
        l->ptrs[l->n] = l->items[l->n];
        l->n++;
        if (*p == ',') p++;
    }
}

/* Replays one case in the order requests.json describes; the verdict's name. */
static const char *replay_request(const char *dir, const char *top, const char *grant_obj) {
    char td[300] = "", id[300], csr_name[300], text[300];
    unsigned long long num = 0;
    meshtls_authority *ca = NULL;
    meshtls_issue_request *req = NULL;
    meshtls_grant *grant = NULL;
    meshtls_issued *issued = NULL;
    req_list list;
    meshtls_result r;
    req_string(top, "trust_domain", td, sizeof td);
    r = meshtls_authority_create_root(td, NULL, 0, 0, MESHTLS_PATH_LEN_DEFAULT, NULL, 0, NOW, &ca);
    if (r != MESHTLS_OK) goto done;
    {
        int has_id = req_string(top, "id", id, sizeof id);
        size_t csr_len = 0;
        char *csr = NULL;
        if (req_string(top, "csr", csr_name, sizeof csr_name)) csr = read_file(dir, csr_name, &csr_len);
        r = meshtls_issue_request_new(has_id ? id : NULL, (const uint8_t *)csr, csr_len, &req);
        free(csr);
        if (r != MESHTLS_OK) goto done;
    }
    req_strings(top, "dns", &list);
    for (size_t i = 0; i < list.n && r == MESHTLS_OK; i++) r = meshtls_issue_request_add_dns_name(req, list.ptrs[i]);
    if (r != MESHTLS_OK) goto done;
    req_strings(top, "ips", &list);
    for (size_t i = 0; i < list.n && r == MESHTLS_OK; i++) r = meshtls_issue_request_add_ip_address(req, list.ptrs[i]);
    if (r != MESHTLS_OK) goto done;
    if (req_string(top, "usage", text, sizeof text) && (r = meshtls_issue_request_set_usage(req, text)) != MESHTLS_OK) goto done;
    if (req_number(top, "lifetime_seconds", &num) && (r = meshtls_issue_request_set_lifetime(req, num)) != MESHTLS_OK) goto done;
    if (req_string(top, "key", text, sizeof text) && (r = meshtls_issue_request_set_key(req, text)) != MESHTLS_OK) goto done;
    if (grant_obj) {
        char ids[300], kind[64];
        req_string(grant_obj, "ids", ids, sizeof ids);
        req_string(grant_obj, "kind", kind, sizeof kind);
        req_strings(grant_obj, "dns", &list);
        if (strcmp(kind, "join_token") == 0) {
            r = meshtls_grant_join_token(ids, list.ptrs, list.n, &grant);
        } else {
            r = meshtls_grant_administrator(ids, &grant);
            if (r == MESHTLS_OK && list.present) r = meshtls_grant_set_dns_names(grant, list.ptrs, list.n);
        }
        if (r != MESHTLS_OK) goto done;
        req_strings(grant_obj, "ips", &list);
        if (list.present && (r = meshtls_grant_set_ip_addresses(grant, list.ptrs, list.n)) != MESHTLS_OK) goto done;
        if (req_string(grant_obj, "usage", text, sizeof text) && (r = meshtls_grant_set_usage(grant, text)) != MESHTLS_OK) goto done;
        if (req_number(grant_obj, "max_lifetime_seconds", &num) && (r = meshtls_grant_set_max_lifetime(grant, num)) != MESHTLS_OK) goto done;
    }
    req_strings(top, "admins", &list);
    r = meshtls_authority_issue_request(ca, req, grant, list.ptrs, list.n, NOW, &issued);
done:
    meshtls_issued_free(issued);
    meshtls_grant_free(grant);
    meshtls_issue_request_free(req);
    meshtls_authority_free(ca);
    return meshtls_result_name(r);
}

/* A bundle given a CA with an unknown critical extension skips it, keeps the good one, and
   says which it skipped and why. */
static void test_skipped(const char *dir) {
    size_t n = 0;
    char *pem = read_file(dir, "strict/odd-and-good-roots.pem", &n);
    meshtls_trust_bundle *bundle = NULL;
    EXPECT(meshtls_trust_bundle_new(&bundle), MESHTLS_OK);
    EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, (const uint8_t *)pem, n), MESHTLS_OK);
    free(pem);
    CHECK(meshtls_trust_bundle_len(bundle) == 1, "the good root is kept");
    CHECK(meshtls_trust_bundle_skipped_count(bundle) == 1, "one CA skipped");
    uint32_t code = 0;
    meshtls_buffer *subject = NULL, *fp = NULL, *message = NULL;
    EXPECT(meshtls_trust_bundle_skipped(bundle, 0, &code, &subject, &fp, &message), MESHTLS_OK);
    CHECK(code == MESHTLS_UNKNOWN_CRITICAL_EXTENSION, "why: code %u", (unsigned)code);
    CHECK(subject && strcmp(str(subject), "CN=strict odd root") == 0, "subject");
    CHECK(fp && meshtls_buffer_len(fp) == 64, "fingerprint is SHA-256 hex");
    CHECK(message && strstr(str(message), "1.3.6.1.4.1.55555.1") != NULL, "the message names the extension");
    meshtls_buffer_free(subject);
    meshtls_buffer_free(fp);
    meshtls_buffer_free(message);
    /* Past the end, or a NULL out-parameter: an error, and nothing is handed out. */
    meshtls_buffer *keep = NULL;
    code = 77;
    EXPECT(meshtls_trust_bundle_skipped(bundle, 1, &code, &keep, &keep, &keep),
           MESHTLS_INVALID_ARGUMENT);
    CHECK(keep == NULL && code == 77, "a failed call leaves its out-parameters untouched");
    EXPECT(meshtls_trust_bundle_skipped(bundle, 0, &code, &keep, NULL, &keep),
           MESHTLS_NULL_ARGUMENT);
    CHECK(keep == NULL, "nothing handed out with a NULL out-parameter");
    EXPECT(meshtls_trust_bundle_skipped(NULL, 0, &code, &keep, &keep, &keep),
           MESHTLS_NULL_ARGUMENT);
    meshtls_trust_bundle_free(bundle);

    pem = read_file(dir, "strict/root.pem", &n);
    EXPECT(meshtls_trust_bundle_new(&bundle), MESHTLS_OK);
    EXPECT(meshtls_trust_bundle_add_ca_pem(bundle, (const uint8_t *)pem, n), MESHTLS_OK);
    free(pem);
    CHECK(meshtls_trust_bundle_skipped_count(bundle) == 0, "a good bundle skips nothing");
    meshtls_trust_bundle_free(bundle);
}

static void test_requests(const char *dir) {
    size_t len = 0;
    char *text = read_file(dir, "requests.json", &len);
    CHECK(text != NULL, "requests.json is readable");
    if (!text) return;
    int replayed = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], expect[64];
        if (!req_string(line, "name", name, sizeof name) || !req_string(line, "expect", expect, sizeof expect)) continue;
        /* The grant is cut out of the line so that its keys (dns, ips, usage) are not read as the request's. */
        char *grant = strstr(line, "\"grant\":{");
        char grant_obj[1024] = "";
        if (grant) {
            char *end = strchr(grant, '}');
            if (!end || (size_t)(end - grant) >= sizeof grant_obj) {
                CHECK(0, "request case %s: grant too long", name);
                continue;
            }
            memcpy(grant_obj, grant, (size_t)(end - grant + 1));
            grant_obj[end - grant + 1] = 0;
            memset(grant, ' ', (size_t)(end - grant + 1));
        }
        const char *got = replay_request(dir, line, grant ? grant_obj : NULL);
        CHECK(strcmp(got, expect) == 0, "request case %s: got %s, want %s (%s)", name, got, expect, last_error());
        replayed++;
    }
    CHECK(replayed >= 60, "replayed %d request cases", replayed);
    printf("requests.json: %d cases replayed\n", replayed);
    free(text);
}

/* --- asynchronous calls: one completion each, cancellation */

struct completion_seen {
    atomic_int calls;
    uint32_t result;
    bool cancelled;
    bool had_value;
    char code[64];
};

static void on_completion(void *user_data, const meshtls_completion *c) {
    struct completion_seen *seen = user_data;
    seen->result = c->result;
    seen->cancelled = c->cancelled;
    seen->had_value = c->enrolled != NULL;
    if (c->enrolled) meshtls_enrolled_free(c->enrolled);
    snprintf(seen->code, sizeof seen->code, "%s", c->code ? c->code : "");
    atomic_fetch_add(&seen->calls, 1);
}

/* Waits (at most `seconds`) for the completion; true when it came. */
static bool wait_completion(struct completion_seen *seen, int seconds) {
    const struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < seconds * 100 && atomic_load(&seen->calls) == 0; i++) nanosleep(&tick, NULL);
    return atomic_load(&seen->calls) > 0;
}

static void test_enroll_async(const char *dir) {
    size_t blen = 0;
    char *bundle = read_file(dir, "root.pem", &blen);
    meshtls_enroll_options *opts = NULL;
    EXPECT(meshtls_enroll_options_new((const uint8_t *)bundle, blen, &opts), MESHTLS_OK);
    EXPECT(meshtls_enroll_options_set_timeout_ms(opts, 30000), MESHTLS_OK);
    const char *token = "0000000000000000000000000000000000000000000000000000000000000000";
    meshtls_task *task = NULL;

    /* refused before starting: no callback, task untouched */
    struct completion_seen early = {0};
    EXPECT(meshtls_enroll_async("https://127.0.0.1:1", token, API_ID, opts, NULL, &early, &task),
           MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_async("https://127.0.0.1:1", token, API_ID, opts, on_completion, &early,
                                NULL),
           MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_async("https://127.0.0.1:1", token, "spiffe://Mesh..internal/x", opts,
                                on_completion, &early, &task),
           MESHTLS_MALFORMED);
    EXPECT(meshtls_enrolled_renew_now_async(NULL, on_completion, &early, &task),
           MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enrolled_refresh_trust_async(NULL, on_completion, &early, &task),
           MESHTLS_NULL_ARGUMENT);
    EXPECT(meshtls_enroll_resume_async(NULL, opts, on_completion, &early, &task),
           MESHTLS_NULL_ARGUMENT);
    CHECK(task == NULL, "task untouched by refused calls");
    CHECK(atomic_load(&early.calls) == 0, "no callback for a refused call");

    /* nobody listening: one completion with the blocking call's code; the task freed first */
    struct completion_seen refused = {0};
    EXPECT(meshtls_enroll_async("https://127.0.0.1:1", token, API_ID, opts, on_completion,
                                &refused, &task),
           MESHTLS_OK);
    CHECK(task != NULL, "a task");
    meshtls_task_free(task);
    task = NULL;
    CHECK(wait_completion(&refused, 30), "completion of a refused connection");
    CHECK(refused.result == MESHTLS_TRANSPORT, "refused result %u", refused.result);
    CHECK(strcmp(refused.code, "transport") == 0, "refused code %s", refused.code);
    CHECK(!refused.cancelled && !refused.had_value, "refused: not cancelled, no value");

    /* resume without a state directory: the completion says invalid_request */
    struct completion_seen resumed = {0};
    EXPECT(meshtls_enroll_resume_async("https://127.0.0.1:1", opts, on_completion, &resumed, &task),
           MESHTLS_OK);
    CHECK(wait_completion(&resumed, 30), "completion of resume");
    CHECK(resumed.result == MESHTLS_INVALID_REQUEST, "resume result %u", resumed.result);
    meshtls_task_free(task);
    task = NULL;

    /* a service that never answers: cancelling completes it at once, flagged */
    int port = 0;
    int fd = silent_listener(&port);
    CHECK(fd >= 0, "silent listener");
    if (fd >= 0) {
        char silent[64];
        snprintf(silent, sizeof silent, "https://127.0.0.1:%d", port);
        struct completion_seen cancelled = {0};
        EXPECT(meshtls_enroll_async(silent, token, API_ID, opts, on_completion, &cancelled, &task),
               MESHTLS_OK);
        CHECK(!wait_completion(&cancelled, 1), "still waiting for the silent service");
        meshtls_task_cancel(task);
        meshtls_task_cancel(task); /* again: nothing more */
        CHECK(wait_completion(&cancelled, 5), "completion soon after cancel");
        CHECK(cancelled.cancelled, "flagged cancelled");
        CHECK(cancelled.result == MESHTLS_TRANSPORT, "cancelled result %u", cancelled.result);
        CHECK(strcmp(cancelled.code, "cancelled") == 0, "cancelled code %s", cancelled.code);
        meshtls_task_free(task);
        task = NULL;
        close(fd);
        const struct timespec settle = {0, 200 * 1000 * 1000};
        nanosleep(&settle, NULL);
        CHECK(atomic_load(&cancelled.calls) == 1, "exactly one completion: %d",
              atomic_load(&cancelled.calls));
    }
    CHECK(atomic_load(&refused.calls) == 1, "exactly one completion: %d",
          atomic_load(&refused.calls));
    meshtls_task_cancel(NULL);
    meshtls_task_free(NULL);
    meshtls_enroll_options_free(opts);
    free(bundle);
}

/* --- the TLS profile and alert tables (net's) */

static void test_profile(void) {
    CHECK(meshtls_tls_profile_min_version(false) == 0x0304, "TLS 1.3 only by default");
    CHECK(meshtls_tls_profile_min_version(true) == 0x0303, "TLS 1.2 opted in");
    CHECK(meshtls_tls_profile_max_version(true) == 0x0304, "max TLS 1.3");
    size_t strict = meshtls_tls_profile_suite_count(false);
    size_t opted = meshtls_tls_profile_suite_count(true);
    CHECK(strict == 3 && opted == 9, "suites %zu %zu", strict, opted);
    for (size_t i = 0; i < opted; i++) {
        meshtls_tls_suite s;
        EXPECT(meshtls_tls_profile_suite(true, i, &s), MESHTLS_OK);
        if (s.version == 0x0303) {
            CHECK(strncmp(s.iana, "TLS_ECDHE_", 10) == 0 &&
                      (strstr(s.iana, "_GCM_") || strstr(s.iana, "CHACHA20_POLY1305")),
                  "TLS 1.2 suite %s is ECDHE + AEAD", s.iana);
            CHECK(strncmp(s.openssl, "ECDHE-", 6) == 0, "OpenSSL name %s", s.openssl);
        }
    }
    meshtls_tls_suite none;
    EXPECT(meshtls_tls_profile_suite(false, strict, &none), MESHTLS_INVALID_ARGUMENT);
    EXPECT(meshtls_tls_profile_suite(false, 0, NULL), MESHTLS_NULL_ARGUMENT);
    meshtls_tls_group g;
    EXPECT(meshtls_tls_profile_group(0, &g), MESHTLS_OK);
    EXPECT(meshtls_tls_profile_group(meshtls_tls_profile_group_count(), &g),
           MESHTLS_INVALID_ARGUMENT);
    CHECK(meshtls_tls_alert_for(MESHTLS_REVOKED) == 44, "revoked -> certificate_revoked");
    CHECK(meshtls_tls_alert_code(48) == MESHTLS_UNKNOWN_ISSUER, "unknown_ca -> unknown_issuer");
    CHECK(meshtls_tls_alert_code(40) == 0, "handshake_failure names no code");
    CHECK(meshtls_tls_alert_code_by_name("access_denied") == MESHTLS_IDENTITY_NOT_ALLOWED,
          "access_denied by name");
    CHECK(meshtls_tls_alert_code_by_name(NULL) == 0, "NULL name");
    CHECK(meshtls_looks_like_debug_output("Other(OtherError(Error { code: UnknownIssuer }))"),
          "a Debug dump");
    CHECK(!meshtls_looks_like_debug_output("unknown_issuer: no path"), "words");
    CHECK(!meshtls_looks_like_debug_output(NULL), "NULL message");
    const char *path = "/etc/meshtls/ca.pem";
    CHECK(meshtls_looks_like_path((const uint8_t *)path, strlen(path)), "a path");
    const char *pem = "-----BEGIN CERTIFICATE-----\n";
    CHECK(!meshtls_looks_like_path((const uint8_t *)pem, strlen(pem)), "PEM is no path");
}

/* --- fixtures/jwt.json: one token case per line (compact JSON), the top-level fields on their
   own lines ("key": value) */

/* The one string of the top-level list "key": ["..."] into out; 0 when absent. */
static int jwt_top_first(const char *text, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": [\"", key);
    const char *p = strstr(text, pat);
    return p && req_unescape(p + strlen(pat), out, cap) != NULL;
}

static void test_jwt(const char *dir) {
    size_t len = 0;
    char *text = read_file(dir, "jwt.json", &len);
    CHECK(text != NULL, "jwt.json is readable");
    if (!text) return;
    char jwks_name[128], td[64], allow[256], audience[64];
    CHECK(json_string(text, "jwks", jwks_name, sizeof jwks_name), "jwt.json has jwks");
    CHECK(json_string(text, "trust_domain", td, sizeof td), "jwt.json has trust_domain");
    CHECK(jwt_top_first(text, "allow", allow, sizeof allow), "jwt.json has allow");
    CHECK(jwt_top_first(text, "audience", audience, sizeof audience), "jwt.json has audience");
    int64_t at = json_int(text, "at", 0);
    size_t jwks_len = 0;
    char *jwks = read_file(dir, jwks_name, &jwks_len);
    CHECK(jwks != NULL, "the bundle is readable");
    int replayed = 0;
    for (char *line = strtok(text, "\n"); line && jwks; line = strtok(NULL, "\n")) {
        if (!strstr(line, "\"token\":\"")) continue;
        static char token[8192];
        char name[128] = "", expect[64] = "", peer_name[128] = "";
        req_string(line, "name", name, sizeof name);
        req_string(line, "expect", expect, sizeof expect);
        CHECK(req_string(line, "token", token, sizeof token), "%s: token", name);
        unsigned long long leeway = 0;
        req_number(line, "leeway", &leeway);
        req_list algs;
        req_strings(line, "algorithms", &algs);
        int bind = strstr(line, "\"require_binding\":true") != NULL;
        size_t peer_len = 0;
        char *peer = req_string(line, "peer", peer_name, sizeof peer_name) ? read_file(dir, peer_name, &peer_len) : NULL;

        meshtls_policy_builder *b = NULL;
        meshtls_policy *policy = NULL;
        meshtls_jwt_validator *v = NULL;
        meshtls_buffer *subject = NULL, *claims = NULL;
        const char *audiences[1] = {audience};
        meshtls_result r = meshtls_policy_builder_new(&b);
        if (r == MESHTLS_OK) r = meshtls_policy_builder_allow_pattern(b, allow);
        if (r == MESHTLS_OK) r = meshtls_policy_builder_clock_leeway(b, leeway);
        if (r == MESHTLS_OK) r = meshtls_policy_builder_build(b, &policy);
        if (r == MESHTLS_OK)
            r = meshtls_jwt_validator_new((const uint8_t *)jwks, jwks_len, td, policy, audiences, 1,
                                          algs.present ? algs.ptrs : NULL, algs.n, (uint8_t)bind, &v);
        if (r == MESHTLS_OK)
            r = meshtls_jwt_validator_validate(v, (const uint8_t *)token, strlen(token), (const uint8_t *)peer,
                                               peer_len, at, &subject, &claims);
        const char *got = meshtls_result_name(r);
        CHECK(strcmp(got, expect) == 0, "jwt %s: expected %s, got %s (%s)", name, expect, got,
              r == MESHTLS_OK ? "" : last_error());
        if (r == MESHTLS_OK) {
            CHECK(strncmp(str(subject), "spiffe://mesh.internal/", 23) == 0, "jwt %s: subject", name);
            CHECK(strstr(str(claims), "\"kid\":") != NULL, "jwt %s: claims carry the kid", name);
        } else {
            CHECK(subject == NULL && claims == NULL, "jwt %s: outputs untouched on failure", name);
        }
        meshtls_buffer_free(subject);
        meshtls_buffer_free(claims);
        meshtls_jwt_validator_free(v);
        meshtls_policy_free(policy);
        meshtls_policy_builder_free(b);
        free(peer);
        replayed++;
    }
    CHECK(replayed >= 20, "jwt.json: %d token cases", replayed);
    printf("jwt.json: %d token cases replayed\n", replayed);
    /* Bad input: a bundle that does not parse, no audience. */
    meshtls_policy_builder *b = NULL;
    meshtls_policy *policy = NULL;
    meshtls_jwt_validator *v = NULL;
    EXPECT(meshtls_policy_builder_new(&b), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_allow_any(b), MESHTLS_OK);
    EXPECT(meshtls_policy_builder_build(b, &policy), MESHTLS_OK);
    const char *aud[1] = {"orders"};
    EXPECT(meshtls_jwt_validator_new((const uint8_t *)"{}", 2, NULL, policy, aud, 1, NULL, 0, 0, &v), MESHTLS_MALFORMED);
    EXPECT(meshtls_jwt_validator_new((const uint8_t *)jwks, jwks_len, NULL, policy, NULL, 0, NULL, 0, 0, &v), MESHTLS_INVALID_REQUEST);
    CHECK(v == NULL, "out untouched on failure");
    EXPECT(meshtls_jwt_validator_new(NULL, 5, NULL, policy, aud, 1, NULL, 0, 0, &v), MESHTLS_NULL_ARGUMENT);
    meshtls_policy_free(policy);
    meshtls_policy_builder_free(b);
    free(jwks);
    free(text);
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 1 ? argv[1] : "../../fixtures";
    test_names();
    test_scenario();
    test_null_arguments();
    test_fixtures(fixtures);
    test_skipped(fixtures);
    test_requests(fixtures);
    test_jwt(fixtures);
    test_enroll_offline(fixtures);
    test_enroll_async(fixtures);
    test_profile();
    printf("c-abi: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

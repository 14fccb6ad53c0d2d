/* tslint:disable */
/* eslint-disable */

/** PEM text, or DER bytes (a `Uint8Array`; a Node `Buffer` is one). */
export type PemOrDer = string | Uint8Array;

/** Key algorithms meshtls generates. RSA generation is unavailable in wasm (`unsupported`). */
export type KeyAlgorithmName = "ecdsa-p256" | "ecdsa-p384" | "ed25519" | "rsa-2048" | "rsa-4096";

/** What an issued certificate may be used for (its extended key usage). */
export type UsageName = "server" | "client" | "both";

/** The role of the peer being verified: a TLS `client` needs clientAuth, a `server` serverAuth. */
export type PeerUsageName = "client" | "server";

/**
 * The stable error codes, the same in every meshtls language. Codes are added, never removed
 * or renamed; a newer core may throw a code not listed here (`errorCodes()` lists them all).
 */
export type ErrorCode =
| "malformed" | "unsupported" | "invalid_request" | "expired" | "not_yet_valid"
| "unknown_issuer" | "bad_signature" | "revoked" | "wrong_usage" | "identity_not_allowed"
| "not_pinned" | "name_constraint_violation" | "wrong_passphrase" | "revocation_unknown"
| "crl_expired" | "chain_too_long" | "invalid_svid" | "io" | "internal" | "no_certificate"
| "weak_key" | "weak_signature" | "not_authorized" | "invalid_certificate"
| "unknown_critical_extension" | "name_constraints_too_complex" | "stale_crl" | "invalid_crl"
| "token_malformed" | "token_signature" | "token_algorithm" | "token_unknown_key"
| "token_expired" | "token_audience" | "token_binding"
| (string & {});

/** What every meshtls function throws: an `Error` with the core's stable `code`. */
export interface MeshTlsError extends Error {
    name: "MeshTlsError";
    code: ErrorCode;
    family: "input" | "request" | "verification" | "passphrase" | "io" | "internal";
}

/** How to create a root CA. Durations are text: `"3650d"`, `"12h"`, `"90m"`. */
export interface RootOptions {
    trustDomain: string;
    commonName?: string;
    key?: KeyAlgorithmName;
    validity?: string;
    pathLen?: number;
    permittedDns?: string[];
}

/** How to create an intermediate CA (same trust domain as its parent). */
export interface IntermediateOptions {
    commonName?: string;
    key?: KeyAlgorithmName;
    validity?: string;
    pathLen?: number;
    permittedDns?: string[];
}

/** What to issue: `id` with a generated `key`, or a `csr` (its ID and DNS names are used). */
export interface IssueOptions {
    id?: string;
    csr?: PemOrDer;
    key?: KeyAlgorithmName;
    dnsNames?: string[];
    ipAddresses?: string[];
    commonName?: string;
    usage?: UsageName;
    /** Default `"90d"`; at least `"1m"`. */
    lifetime?: string;
    crlDistributionPoints?: string[];
}

/** What a grant allows beyond its ID pattern. A join token allows no DNS name or IP address
 * unless listed; an administrator grant any unless listed. `maxLifetime` is text (`"24h"`). */
export interface GrantOptions {
    dnsNames?: string[];
    ipAddresses?: string[];
    usage?: UsageName;
    maxLifetime?: string;
}

/** How to make a key pair and CSR. */
export interface CsrOptions {
    key?: KeyAlgorithmName;
    dnsNames?: string[];
}

/** How to build a CRL: its `number` must grow; `nextUpdate` in ms (default now + 7 days). */
export interface CrlOptions {
    number: number;
    nextUpdate?: number;
}

/** Verifier tunables (clock leeway and path depth are `PolicyBuilder` settings). */
export interface VerifyOptions {
    /** With CRLs in the bundle, reject a path a CRL does not cover (default true). */
    requireCrl?: boolean;
    /** Reject a CRL past its nextUpdate (default true). */
    rejectStaleCrl?: boolean;
    /** Check only the leaf against the CRLs (default false). */
    leafOnly?: boolean;
}

/** The renewal schedule: `renewAtFraction` (default 2/3) or `renewBefore` (e.g. `"7d"`), and `jitter` (0 to 0.5, default 0.05). */
export interface RotationOptions {
    renewAtFraction?: number;
    renewBefore?: string;
    jitter?: number;
}



/**
 * A certificate authority (root or intermediate) with its private key.
 *
 * ```js
 * const now = Date.now();
 * const ca = Authority.createRoot({ trustDomain: "mesh.internal" }, now);
 * const leaf = ca.issue({ id: "spiffe://mesh.internal/service/api" }, now);
 * ```
 */
export class Authority {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Builds a CRL signed by this CA from the revocation list, issued at `now`
     * (milliseconds). `options.number` (required) must grow with each CRL;
     * `options.nextUpdate` (milliseconds) defaults to 7 days after `now`.
     */
    buildCrl(list: RevocationList, options: CrlOptions, now: number): Crl;
    /**
     * Creates an intermediate CA signed by this one (same trust domain), valid from `now`.
     */
    createIntermediate(options: IntermediateOptions | null | undefined, now: number): Authority;
    /**
     * Creates a self-signed root CA valid from `now` (milliseconds; backdated one minute).
     * `options.trustDomain` is required; `key` defaults to `ecdsa-p256`, `validity` to
     * `"3650d"`. RSA keys cannot be generated in wasm: `rsa-2048`/`rsa-4096` throw
     * `unsupported`.
     */
    static createRoot(options: RootOptions, now: number): Authority;
    /**
     * The private key as encrypted PKCS#8 PEM (the form to store).
     */
    encryptedKeyPem(passphrase: string): string;
    /**
     * Loads a CA from its certificate chain (this CA first, up to the root) and its
     * private key: encrypted PKCS#8 with `passphrase` (throws `wrong_passphrase` when it
     * does not decrypt), or plain PKCS#8 when `passphrase` is omitted.
     */
    static fromPem(chain: PemOrDer, key: PemOrDer, passphrase?: string | null): Authority;
    /**
     * Issues `request` at `now` (milliseconds) if `grant` allows it: the request's own rules
     * (`invalid_request`), then the grant (`not_authorized`), then issuance. `admins` are the
     * administrator ID patterns no join-token grant may issue (the CA service's own ID is
     * always reserved).
     */
    issueGranted(request: IssueOptions, grant: Grant, admins: string[], now: number): Issued;
    /**
     * Issues an X509-SVID at `now` (milliseconds): from a generated key (`key`, default
     * `ecdsa-p256`; the key comes back in `keyPem`) or from a CSR (`csr`; the requester
     * keeps its key). Throws `invalid_request` for an ID outside the CA's trust domain or
     * name constraints, `bad_signature` for a tampered CSR.
     */
    issue(request: IssueOptions, now: number): Issued;
    /**
     * The private key as plain PKCS#8 PEM (handle with care).
     */
    plaintextKeyPem(): string;
    /**
     * This CA's certificate as PEM.
     */
    readonly certificatePem: string;
    /**
     * This CA's certificate, parsed.
     */
    readonly certificate: Certificate;
    /**
     * This CA's chain as PEM: this CA, its parents, then the root.
     */
    readonly chainPem: string;
    /**
     * Whether it is a root (self-signed) CA.
     */
    readonly isRoot: boolean;
    /**
     * Its key algorithm (`ecdsa-p256`...).
     */
    readonly keyAlgorithm: string;
    /**
     * The root certificate as PEM (what verifiers put in their trust bundle).
     */
    readonly rootPem: string;
    /**
     * Its serial number, hex.
     */
    readonly serial: string;
    /**
     * The trust domain it vouches for.
     */
    readonly trustDomain: string;
}

/**
 * A parsed certificate. Times are milliseconds since the epoch (`new Date(cert.notAfter)`);
 * serials and fingerprints are lowercase hex without separators.
 *
 * ```js
 * const cert = Certificate.parse(pem);
 * cert.spiffeId;     // "spiffe://mesh.internal/service/api"
 * cert.fingerprint;  // SHA-256 of the DER, 64 hex digits
 * cert.isValidAt(Date.now());
 * ```
 */
export class Certificate {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Whether `at` (milliseconds since the epoch) falls within the validity period.
     */
    isValidAt(at: number): boolean;
    /**
     * Parses every certificate of a PEM chain (or the one DER certificate), in order.
     */
    static parseChain(input: PemOrDer): Certificate[];
    /**
     * Parses the first certificate of PEM text or DER bytes. Throws `malformed` for
     * anything that is not a certificate (empty, truncated, garbage).
     */
    static parse(input: PemOrDer): Certificate;
    /**
     * The certificate as PEM.
     */
    toPem(): string;
    /**
     * The authority key identifier, hex, if present.
     */
    readonly authorityKeyId: string | undefined;
    /**
     * The subject common name, if any.
     */
    readonly commonName: string | undefined;
    /**
     * CRL distribution point URIs.
     */
    readonly crlDistributionPoints: string[];
    /**
     * The certificate's DER bytes.
     */
    readonly der: Uint8Array;
    /**
     * DNS SANs.
     */
    readonly dnsNames: string[];
    /**
     * The TLS extended key usages (`serverAuth`, `clientAuth`); empty when the extension
     * is absent (see `hasExtendedKeyUsage`).
     */
    readonly extendedKeyUsage: string[];
    /**
     * SHA-256 of the certificate's DER, lowercase hex.
     */
    readonly fingerprint: string;
    /**
     * Whether the certificate has an extended key usage extension at all.
     */
    readonly hasExtendedKeyUsage: boolean;
    /**
     * IP address SANs, as text.
     */
    readonly ipAddresses: string[];
    /**
     * Whether this is a CA certificate (basicConstraints cA=true).
     */
    readonly isCa: boolean;
    /**
     * The issuer distinguished name.
     */
    readonly issuer: string;
    /**
     * The key algorithm for people, e.g. `ECDSA P-256`, `Ed25519`, `RSA 2048`.
     */
    readonly keyAlgorithm: string;
    /**
     * The key algorithm as a meshtls name (`ecdsa-p256`...), if it is one meshtls makes.
     */
    readonly keyKind: string | undefined;
    /**
     * The key usage bits that are set (`digitalSignature`, `keyEncipherment`,
     * `keyCertSign`, `cRLSign`), or `undefined` when the extension is absent.
     */
    readonly keyUsage: string[] | undefined;
    /**
     * The lifetime (notAfter - notBefore) in seconds.
     */
    readonly lifetimeSeconds: number;
    /**
     * End of validity, milliseconds since the epoch.
     */
    readonly notAfter: number;
    /**
     * Start of validity, milliseconds since the epoch.
     */
    readonly notBefore: number;
    /**
     * The CA's path length constraint, if any.
     */
    readonly pathLen: number | undefined;
    /**
     * Permitted DNS name constraints of a CA.
     */
    readonly permittedDns: string[];
    /**
     * Whether subject and issuer are the same (a root, or a self-issued certificate).
     */
    readonly selfIssued: boolean;
    /**
     * The serial number, lowercase hex.
     */
    readonly serial: string;
    /**
     * The SPIFFE ID (the one valid `spiffe://` URI SAN), if any.
     */
    readonly spiffeId: string | undefined;
    /**
     * SHA-256 of the SubjectPublicKeyInfo, lowercase hex (a pin that survives re-issuance
     * with the same key).
     */
    readonly spkiFingerprint: string;
    /**
     * The subject key identifier, hex, if present.
     */
    readonly subjectKeyId: string | undefined;
    /**
     * The subject distinguished name, e.g. `CN=api`.
     */
    readonly subject: string;
    /**
     * Every URI SAN.
     */
    readonly uris: string[];
}

/**
 * A parsed CRL.
 */
export class Crl {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Every entry.
     */
    entries(): RevokedEntry[];
    /**
     * Whether the CRL is past its nextUpdate at `at` (milliseconds).
     */
    isStale(at: number): boolean;
    /**
     * Whether the serial (hex) is revoked: its entry, or `undefined`.
     */
    lookup(serial: string): RevokedEntry | undefined;
    /**
     * Parses a CRL from PEM or DER; throws `malformed` when it is not one.
     */
    static parse(input: PemOrDer): Crl;
    /**
     * The CRL as PEM.
     */
    toPem(): string;
    /**
     * Authority key identifier, hex, if present.
     */
    readonly authorityKeyId: string | undefined;
    /**
     * The CRL's DER bytes.
     */
    readonly der: Uint8Array;
    /**
     * Issuer distinguished name.
     */
    readonly issuer: string;
    /**
     * nextUpdate, milliseconds since the epoch, if present.
     */
    readonly nextUpdate: number | undefined;
    /**
     * The CRL number, if present.
     */
    readonly number: number | undefined;
    /**
     * How many certificates it revokes.
     */
    readonly revokedCount: number;
    /**
     * thisUpdate, milliseconds since the epoch.
     */
    readonly thisUpdate: number;
}

/**
 * A new key pair and a CSR naming a SPIFFE ID, signed by the new key. The key stays with
 * the requester; the CSR goes to the CA.
 */
export class GeneratedCsr {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The CSR, PEM.
     */
    readonly csrPem: string;
    /**
     * The private key, PKCS#8 PEM.
     */
    readonly keyPem: string;
}

/**
 * What a join token or an administrator allows: an ID pattern, DNS names, IP addresses, a
 * usage and a longest lifetime. Pass it to `authority.issueGranted`.
 */
export class Grant {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * An operator's administrator grant: IDs matching `ids`, reserved ones included; any DNS
     * name and IP address unless the options list them.
     */
    static administrator(ids: string, options?: GrantOptions | null): Grant;
    /**
     * A join token's grant: IDs matching `ids`; only the DNS names and IP addresses listed
     * (`*.suffix` covers one more label); never a reserved identity.
     */
    static joinToken(ids: string, options?: GrantOptions | null): Grant;
    /**
     * The DNS names allowed (lowercase), or `undefined` for any.
     */
    readonly dnsNames: string[] | undefined;
    /**
     * The ID pattern.
     */
    readonly ids: string;
    /**
     * The IP addresses allowed, or `undefined` for any.
     */
    readonly ipAddresses: string[] | undefined;
    /**
     * `"join_token"` or `"administrator"`.
     */
    readonly kind: string;
    /**
     * The longest lifetime, in seconds.
     */
    readonly maxLifetimeSeconds: number;
    /**
     * The usage allowed, or `undefined` for any.
     */
    readonly usage: string | undefined;
}

/**
 * A pattern of SPIFFE IDs: an exact ID, `spiffe://td` (any member of the trust domain),
 * `*` for one path segment, `**` (last) for one or more.
 *
 * ```js
 * IdPattern.parse("spiffe://mesh.internal/service/*").matches("spiffe://mesh.internal/service/api"); // true
 * ```
 */
export class IdPattern {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Whether the SPIFFE ID matches; throws `malformed` when `id` is not a SPIFFE ID.
     */
    matches(id: string): boolean;
    /**
     * Parses a pattern; throws `malformed` when it is not one.
     */
    static parse(text: string): IdPattern;
    /**
     * The pattern as text.
     */
    toString(): string;
}

/**
 * An issued certificate: PEM, chain, the generated key (if meshtls made it), serial,
 * validity and fingerprint.
 */
export class Issued {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * A PKCS#12 (PFX) file with the generated key and the chain, protected by `password`.
     * `profile`: `"modern"` (default; AES-256, PBKDF2) or `"legacy"` (3DES, SHA-1 MAC) for
     * old readers. Throws `invalid_request` when the key was not generated here.
     */
    toPkcs12(password: string, profile?: string | null): Uint8Array;
    /**
     * The leaf certificate, PEM.
     */
    readonly certPem: string;
    /**
     * The leaf certificate, parsed.
     */
    readonly certificate: Certificate;
    /**
     * The leaf and its intermediates (not the root), PEM: what a TLS peer presents.
     */
    readonly chainPem: string;
    /**
     * SHA-256 of the leaf DER, hex.
     */
    readonly fingerprint: string;
    /**
     * The generated private key as PKCS#8 PEM; `undefined` when issued from a CSR.
     */
    readonly keyPem: string | undefined;
    /**
     * End of validity, milliseconds since the epoch.
     */
    readonly notAfter: number;
    /**
     * Start of validity, milliseconds since the epoch.
     */
    readonly notBefore: number;
    /**
     * Serial number, lowercase hex.
     */
    readonly serial: string;
}

/**
 * A JWT signing key (`"ES256"`, `"ES384"`, `"EdDSA"`).
 */
export class JwtSigningKey {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * A fresh key; its kid is its RFC 7638 thumbprint.
     */
    static generate(algorithm?: string | null): JwtSigningKey;
    /**
     * Mints a JWT-SVID issued at `at` (ms), living `ttlSeconds` (default 300).
     */
    mint(subject: string, audience: string[], ttl_seconds: number | null | undefined, at: number): string;
    /**
     * The key ID.
     */
    readonly kid: string;
}

/**
 * Checks JWT-SVIDs with the core (signature, algorithm, kid, expiry with the policy's leeway,
 * audience, subject against the policy, certificate binding).
 */
export class JwtValidator {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * A validator for tokens addressed to one of `audiences`; `algorithms` is the allow-list
     * (default all three).
     */
    constructor(bundle: SpiffeBundle, policy: Policy, audiences: string[], algorithms?: string[] | null, require_binding?: boolean | null);
    /**
     * The claims of a valid token at `at` (ms); `peerCert` is the certificate of the
     * connection it came on (required for a bound token). Throws with the core's code.
     */
    validate(token: string, peer_cert: PemOrDer | null | undefined, at: number): TokenClaims;
}

/**
 * Who the peer is, once verified.
 */
export class PeerIdentity {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Subject of the trust anchor the path ends at.
     */
    readonly anchorSubject: string;
    /**
     * Subject common name.
     */
    readonly commonName: string | undefined;
    /**
     * DNS SANs.
     */
    readonly dnsNames: string[];
    /**
     * SHA-256 of the leaf DER, hex.
     */
    readonly fingerprint: string;
    /**
     * End of validity, milliseconds since the epoch.
     */
    readonly notAfter: number;
    /**
     * Start of validity, milliseconds since the epoch.
     */
    readonly notBefore: number;
    /**
     * Serial number, lowercase hex.
     */
    readonly serial: string;
    /**
     * The SPIFFE ID, if the leaf has one.
     */
    readonly spiffeId: string | undefined;
    /**
     * SHA-256 of the leaf SubjectPublicKeyInfo, hex.
     */
    readonly spkiFingerprint: string;
}

/**
 * Who may connect. Build one with `Policy.builder()`; a policy that allows nobody cannot
 * be built (`invalid_request`): meshtls fails closed.
 *
 * ```js
 * const policy = Policy.builder()
 *   .allowPattern("spiffe://mesh.internal/service/*")
 *   .build();
 * ```
 */
export class Policy {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Any peer the bundle vouches for (still subject to the X509-SVID rules).
     */
    static allowAny(): Policy;
    /**
     * A new, empty builder.
     */
    static builder(): PolicyBuilder;
    /**
     * The clock leeway, in milliseconds (default 0).
     */
    readonly clockLeeway: number;
    /**
     * The most intermediates a path may hold (default 4).
     */
    readonly maxIntermediates: number;
}

/**
 * An immutable policy builder: every method returns a new builder and leaves this one as
 * it was. A peer passes when it matches at least one identity rule (ID, pattern, trust
 * domain or DNS name) and, if pins are set, one of the pins.
 */
export class PolicyBuilder {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Allows any identity the bundle vouches for.
     */
    allowAny(): PolicyBuilder;
    /**
     * Allows a peer whose certificate is valid for this DNS name or IP address.
     */
    allowDns(name: string): PolicyBuilder;
    /**
     * Allows exactly this SPIFFE ID (throws `malformed` if it is not one).
     */
    allowId(id: string): PolicyBuilder;
    /**
     * Allows the IDs matching a pattern such as `spiffe://mesh.internal/service/*`.
     */
    allowPattern(pattern: string): PolicyBuilder;
    /**
     * Allows every member of the trust domain (`mesh.internal`; the same strict syntax as
     * every meshtls language).
     */
    allowTrustDomain(trust_domain: string): PolicyBuilder;
    /**
     * The policy. Throws `invalid_request` when it would allow nobody or a DNS rule is not
     * a DNS name.
     */
    build(): Policy;
    /**
     * Tolerates this clock difference (a duration such as `"30s"`) at both ends of every
     * certificate's validity. Default none: the rotation margin absorbs clock drift.
     */
    clockLeeway(leeway: string): PolicyBuilder;
    /**
     * The most intermediates between the leaf and the trust anchor (default 4).
     */
    maxIntermediates(n: number): PolicyBuilder;
    /**
     * Requires the certificate's SHA-256 (hex) to be one of the pins.
     */
    pinCert(fingerprint: string): PolicyBuilder;
    /**
     * Requires the SubjectPublicKeyInfo's SHA-256 (hex) to be one of the pins.
     */
    pinSpki(fingerprint: string): PolicyBuilder;
}

/**
 * A CA's records of revoked serials, from which `Authority.buildCrl` makes a signed CRL.
 *
 * ```js
 * const list = new RevocationList();
 * list.revoke(cert.serial, "key_compromise", Date.now());
 * const crl = ca.buildCrl(list, { number: 1 }, Date.now());
 * ```
 */
export class RevocationList {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Parses the text form; throws `malformed` on a bad line.
     */
    static fromText(text: string): RevocationList;
    /**
     * The entry for a serial (hex), or `undefined`.
     */
    get(serial: string): RevokedEntry | undefined;
    /**
     * An empty list.
     */
    constructor();
    /**
     * Revokes a serial (hex) at `at` (milliseconds) for `reason` (default `unspecified`);
     * returns false when it was already revoked. Throws `malformed` for a bad serial and
     * `invalid_request` for an unknown reason or a time a CRL cannot carry (before 1970,
     * after 9999).
     */
    revoke(serial: string, reason: string | null | undefined, at: number): boolean;
    /**
     * The list in meshtls's text form (what the CLI stores).
     */
    toText(): string;
    /**
     * Every entry.
     */
    readonly entries: RevokedEntry[];
    /**
     * The number of the last CRL built from this list.
     */
    readonly lastCrlNumber: number;
    /**
     * How many serials are revoked.
     */
    readonly length: number;
}

/**
 * One revoked certificate: serial (hex), when and why.
 */
export class RevokedEntry {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The reason, snake_case (`key_compromise`, `superseded`, `unspecified`...).
     */
    readonly reason: string;
    /**
     * When it was revoked, milliseconds since the epoch.
     */
    readonly revokedAt: number;
    /**
     * Serial number, lowercase hex.
     */
    readonly serial: string;
}

/**
 * The renewal schedule.
 *
 * ```js
 * const status = new RotationPolicy().status(cert, Date.now());
 * if (status.state === "renew_due") { ... }
 * ```
 */
export class RotationPolicy {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The default (renew at 2/3 of the lifetime, jitter 5% of it), or `options`:
     * `renewAtFraction` (0 < f < 1) or `renewBefore` (a duration such as `"7d"`), and
     * `jitter` (0 to 0.5 of the lifetime). Throws `invalid_request` for values out of range.
     */
    constructor(options?: RotationOptions | null);
    /**
     * When to look again, in milliseconds: `renewAt` for a fresh certificate, otherwise
     * `now` plus `retry` (a duration such as `"5m"`).
     */
    nextCheck(status: RotationStatus, now: number, retry: string): number;
    /**
     * Where the certificate stands at `now` (milliseconds). The jitter comes from the
     * certificate's fingerprint, so asking twice gives the same answer.
     */
    status(cert: Certificate, now: number): RotationStatus;
}

/**
 * Where a certificate stands: `state` is `"fresh"` (with `renewAt`), `"renew_due"` or
 * `"expired"`.
 */
export class RotationStatus {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * When renewal becomes due (milliseconds), for a fresh certificate.
     */
    readonly renewAt: number | undefined;
    /**
     * `"fresh"`, `"renew_due"` or `"expired"`.
     */
    readonly state: string;
}

/**
 * A CA certificate a trust bundle skipped (it cannot anchor a path), and why.
 */
export class SkippedCa {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Why, as an error code (`unknown_critical_extension`...).
     */
    readonly code: string;
    /**
     * SHA-256 of its DER, lowercase hex.
     */
    readonly fingerprint: string;
    /**
     * Why, in words.
     */
    readonly message: string;
    /**
     * Its subject.
     */
    readonly subject: string;
}

/**
 * A SPIFFE trust bundle (JWKS): X.509 authorities and JWT keys of a trust domain.
 *
 * ```js
 * const bundle = SpiffeBundle.fromJson(await (await fetch(url + "/v1/bundle.jwks")).text(), "mesh.internal");
 * ```
 */
export class SpiffeBundle {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * An empty bundle; add keys with `withKey`.
     */
    static empty(trust_domain?: string | null): SpiffeBundle;
    /**
     * Parses SPIFFE bundle JSON; `trustDomain` limits its JWT keys to subjects of that domain.
     */
    static fromJson(json: string, trust_domain?: string | null): SpiffeBundle;
    /**
     * The SPIFFE bundle JSON.
     */
    toJson(): string;
    /**
     * A bundle with one more JWT key (the public half of `key`).
     */
    withKey(key: JwtSigningKey): SpiffeBundle;
    /**
     * The key IDs of the JWT keys.
     */
    readonly jwtKeyIds: string[];
}

/**
 * A workload identity, `spiffe://<trust-domain>/<path>`, parsed by the SPIFFE ID rules.
 *
 * ```js
 * const id = SpiffeId.parse("spiffe://mesh.internal/service/api");
 * id.trustDomain; // "mesh.internal"
 * id.path;        // "/service/api"
 * ```
 */
export class SpiffeId {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Parses a SPIFFE ID; throws `malformed` for anything the SPIFFE spec rejects
     * (uppercase trust domain, empty or `..` segments, query, port...).
     */
    static parse(text: string): SpiffeId;
    /**
     * The whole ID.
     */
    toString(): string;
    /**
     * The path with its leading slash, e.g. `/service/api`.
     */
    readonly path: string;
    /**
     * The trust domain, e.g. `mesh.internal`.
     */
    readonly trustDomain: string;
}

/**
 * What a valid JWT-SVID says.
 */
export class TokenClaims {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * `aud`.
     */
    readonly audience: string[];
    /**
     * `cnf.x5t#S256` when bound.
     */
    readonly boundThumbprint: string | undefined;
    /**
     * `exp`, ms.
     */
    readonly expiresAt: number;
    /**
     * The header's `kid`.
     */
    readonly keyId: string;
    /**
     * `roles`.
     */
    readonly roles: string[];
    /**
     * `sub`.
     */
    readonly subject: string;
}

/**
 * The CA certificates a verifier trusts (several during a CA rotation) and the CRLs it
 * checks. Methods that change it change this object; `merged` returns a new one.
 *
 * ```js
 * const bundle = TrustBundle.fromPem(rootPem);
 * bundle.addCrl(crlPem);
 * ```
 */
export class TrustBundle {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Adds every CA certificate of the PEM (or the one DER certificate).
     */
    addCaPem(input: PemOrDer): void;
    /**
     * Adds a CRL (PEM or DER). Once a bundle holds CRLs, every certificate in a verified
     * path must be covered by one (fail closed: `revocation_unknown`).
     */
    addCrl(input: PemOrDer): void;
    /**
     * A bundle of every CA certificate in the PEM (or the one DER certificate). Throws
     * `malformed` for bad input and `invalid_request` for a certificate that is not a CA.
     */
    static fromPem(input: PemOrDer): TrustBundle;
    /**
     * A new bundle with the CAs and CRLs of both (CA rotation: old and new side by side).
     */
    merged(other: TrustBundle): TrustBundle;
    /**
     * An empty bundle (it trusts nothing until a CA is added).
     */
    constructor();
    /**
     * Removes the CAs expired at `at` (milliseconds); returns how many were removed.
     */
    pruneExpired(at: number): number;
    /**
     * Removes the CA with this SHA-256 fingerprint (hex); returns whether it was there.
     */
    removeCa(fingerprint: string): boolean;
    /**
     * The CA certificates as PEM.
     */
    toPem(): string;
    /**
     * The CA certificates.
     */
    readonly cas: Certificate[];
    /**
     * The CRLs.
     */
    readonly crls: Crl[];
    /**
     * How many CA certificates it holds.
     */
    readonly length: number;
    /**
     * The CA certificates given to the bundle that it cannot use as trust anchors (an
     * unknown critical extension...), with why: skipped, not fatal to the bundle.
     */
    readonly skipped: SkippedCa[];
}

/**
 * A trust bundle, a policy and options: decides whether a presented chain is acceptable.
 * The verifier keeps its own copies; changing the bundle afterwards does not change it.
 *
 * ```js
 * const verifier = new Verifier(bundle, policy);
 * try {
 *   const peer = verifier.verify(chainPem, "client", Date.now());
 *   console.log(peer.spiffeId);
 * } catch (e) {
 *   if (e.code === "expired") { ... }
 * }
 * ```
 */
export class Verifier {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * A verifier for the bundle and policy. `options`: `requireCrl` (default true),
     * `rejectStaleCrl` (default true), `leafOnly` (default false). Clock leeway and path
     * depth are policy settings (`Policy.builder().clockLeeway("30s").maxIntermediates(2)`).
     */
    constructor(bundle: TrustBundle, policy: Policy, options?: VerifyOptions | null);
    /**
     * Verifies a chain of DER certificates (leaf first), as a TLS stack presents them.
     */
    verifyDer(chain: Uint8Array[], usage: PeerUsageName, at: number): PeerIdentity;
    /**
     * Verifies a PEM chain (leaf first; or one DER certificate) for a peer acting as
     * `usage` (`"client"` or `"server"`) at `at` (milliseconds since the epoch). Returns
     * the peer's identity or throws an error whose `code` says why (`expired`,
     * `unknown_issuer`, `bad_signature`, `revoked`, `wrong_usage`, `identity_not_allowed`...).
     */
    verify(chain: PemOrDer, usage: PeerUsageName, at: number): PeerIdentity;
}

/**
 * Generates a key pair (`options.key`, default `ecdsa-p256`; RSA throws `unsupported` in
 * wasm) and a CSR for the SPIFFE ID `id`, with optional `options.dnsNames`.
 *
 * ```js
 * const { csrPem, keyPem } = createCsr("spiffe://mesh.internal/service/api");
 * ```
 */
export function createCsr(id: string, options?: CsrOptions | null): GeneratedCsr;

/**
 * Every error code meshtls can throw, in the order of their stable numbers.
 *
 * ```js
 * import { errorCodes } from "meshtls-wasm";
 * errorCodes().includes("unknown_issuer"); // true
 * ```
 */
export function errorCodes(): string[];

/**
 * Parses a duration such as `90d`, `12h`, `30m`, `45s`, `2w` or a number of seconds, and
 * returns it in seconds. Throws `malformed` for anything else.
 */
export function parseDuration(text: string): number;

/**
 * The version of this package (the same as the meshtls core it was built from).
 */
export function version(): string;

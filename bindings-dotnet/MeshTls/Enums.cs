namespace MeshTls
{
    /// <summary>Key algorithms meshtls generates.</summary>
    public enum KeyAlgorithm : uint
    {
        /// <summary>The core's default (ECDSA P-256).</summary>
        Default = 0,
        /// <summary>ECDSA P-256 with SHA-256.</summary>
        EcdsaP256 = 1,
        /// <summary>ECDSA P-384 with SHA-384.</summary>
        EcdsaP384 = 2,
        /// <summary>Ed25519.</summary>
        Ed25519 = 3,
        /// <summary>RSA 2048.</summary>
        Rsa2048 = 4,
        /// <summary>RSA 4096.</summary>
        Rsa4096 = 5,
    }

    /// <summary>What an issued certificate may be used for (its extended key usage).</summary>
    public enum Usage : uint
    {
        /// <summary>The core's default (both).</summary>
        Default = 0,
        /// <summary>TLS server only.</summary>
        Server = 1,
        /// <summary>TLS client only.</summary>
        Client = 2,
        /// <summary>Both client and server.</summary>
        Both = 3,
    }

    /// <summary>The role of the peer being verified, which decides the usage it needs.</summary>
    public enum PeerUsage : uint
    {
        /// <summary>The peer is a TLS client (needs clientAuth): use on servers.</summary>
        Client = 1,
        /// <summary>The peer is a TLS server (needs serverAuth): use on clients.</summary>
        Server = 2,
    }

    /// <summary>How a PKCS#12 (PFX) file is protected.</summary>
    public enum Pkcs12Profile : uint
    {
        /// <summary>The core's default (modern).</summary>
        Default = 0,
        /// <summary>PBES2 / AES-256 / HMAC-SHA256: OpenSSL 3, .NET 5+, Java.</summary>
        Modern = 1,
        /// <summary>PBE-SHA1-3DES / HMAC-SHA1: Mono, older Windows and macOS.</summary>
        Legacy = 2,
    }

    /// <summary>Why a certificate was revoked: the RFC 5280 CRLReason numbers.</summary>
    public enum RevocationReason : uint
    {
        /// <summary>unspecified</summary>
        Unspecified = 0,
        /// <summary>keyCompromise</summary>
        KeyCompromise = 1,
        /// <summary>cACompromise</summary>
        CaCompromise = 2,
        /// <summary>affiliationChanged</summary>
        AffiliationChanged = 3,
        /// <summary>superseded</summary>
        Superseded = 4,
        /// <summary>cessationOfOperation</summary>
        CessationOfOperation = 5,
        /// <summary>certificateHold</summary>
        CertificateHold = 6,
        /// <summary>privilegeWithdrawn</summary>
        PrivilegeWithdrawn = 9,
        /// <summary>aACompromise</summary>
        AaCompromise = 10,
    }
}

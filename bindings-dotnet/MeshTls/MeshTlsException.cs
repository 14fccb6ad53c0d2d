using System;
using System.Runtime.InteropServices;
using System.Text;

namespace MeshTls
{
    /// <summary>
    /// Why a meshtls operation failed. The names and numbers are the core's (<c>expired</c> = 4,
    /// <c>revoked</c> = 8...), the same in every meshtls language; 1000 and up are failures of
    /// the C ABI itself. Codes are added, never renumbered.
    /// </summary>
    public enum ErrorCode : uint
    {
        /// <summary>Input could not be parsed (bad PEM/DER, truncated, empty, garbage).</summary>
        Malformed = 1,
        /// <summary>Well-formed input using something meshtls does not support.</summary>
        Unsupported = 2,
        /// <summary>A request that breaks a rule (wrong trust domain, lifetime, name constraints...).</summary>
        InvalidRequest = 3,
        /// <summary>A certificate in the chain has expired.</summary>
        Expired = 4,
        /// <summary>A certificate in the chain is not valid yet.</summary>
        NotYetValid = 5,
        /// <summary>No path from the presented chain to a trusted CA.</summary>
        UnknownIssuer = 6,
        /// <summary>A signature does not verify (tampered certificate, CSR or CRL).</summary>
        BadSignature = 7,
        /// <summary>A certificate in the chain is revoked.</summary>
        Revoked = 8,
        /// <summary>The certificate is not allowed for the requested usage.</summary>
        WrongUsage = 9,
        /// <summary>The peer's identity is not allowed by the policy.</summary>
        IdentityNotAllowed = 10,
        /// <summary>The policy pins certificates and the peer matches none of the pins.</summary>
        NotPinned = 11,
        /// <summary>A name is outside the name constraints of a CA in the path.</summary>
        NameConstraintViolation = 12,
        /// <summary>The passphrase does not decrypt the key.</summary>
        WrongPassphrase = 13,
        /// <summary>CRLs are configured but none covers a certificate in the path.</summary>
        RevocationUnknown = 14,
        /// <summary>The CRL that covers a certificate is past its nextUpdate.</summary>
        CrlExpired = 15,
        /// <summary>The path is longer than allowed.</summary>
        ChainTooLong = 16,
        /// <summary>The leaf breaks the X509-SVID rules.</summary>
        InvalidSvid = 17,
        /// <summary>A file or socket operation failed.</summary>
        Io = 18,
        /// <summary>A bug in meshtls.</summary>
        Internal = 19,
        /// <summary>The peer presented no certificate where one is required.</summary>
        NoCertificate = 20,
        /// <summary>A key is weaker than meshtls accepts (RSA below 2048 bits or with a modulus not a multiple of 8, P-192, DSA).</summary>
        WeakKey = 21,
        /// <summary>A signature uses a hash meshtls refuses (SHA-1, MD5), in a CSR or anywhere in a path.</summary>
        WeakSignature = 22,
        /// <summary>The grant (a join token, an administrator) does not allow this request: an ID, name, usage or lifetime outside it, or a reserved identity.</summary>
        NotAuthorized = 23,
        /// <summary>A certificate in the path breaks the certificate profile (RFC 5280 rules meshtls enforces: critical basicConstraints, key identifiers, serial number, SAN syntax...).</summary>
        InvalidCertificate = 24,
        /// <summary>A certificate in the path carries a critical extension meshtls does not process.</summary>
        UnknownCriticalExtension = 25,
        /// <summary>Checking the path's name constraints needs more comparisons than the verifier allows.</summary>
        NameConstraintsTooComplex = 26,
        /// <summary>A CRL older than the one held for its issuer (lower CRLNumber), or the same number with different content: refused, the held CRL kept.</summary>
        StaleCrl = 27,
        /// <summary>A CRL that decodes but breaks the profile (no or critical CRLNumber, an issuer without cRLSign).</summary>
        InvalidCrl = 28,
        /// <summary>A token (JWT-SVID) that does not parse: not three base64url parts, a header or claims that are not JSON objects, a required claim missing or of the wrong type.</summary>
        TokenMalformed = 29,
        /// <summary>A token's signature does not verify with the key its kid names.</summary>
        TokenSignature = 30,
        /// <summary>A token signed with an algorithm meshtls refuses: none, any HMAC, one outside the allow-list, or one that does not fit the key its kid names (key confusion).</summary>
        TokenAlgorithm = 31,
        /// <summary>A token's kid is missing or names no JWT key of the bundle (for its trust domain).</summary>
        TokenUnknownKey = 32,
        /// <summary>A token is past its exp, or its iat/nbf is in the future, beyond the policy's leeway.</summary>
        TokenExpired = 33,
        /// <summary>A token's aud names none of the audiences the validator accepts.</summary>
        TokenAudience = 34,
        /// <summary>A token bound to a certificate (cnf x5t#S256) on a connection whose peer certificate differs or is absent, or an unbound token where binding is required.</summary>
        TokenBinding = 35,
        /// <summary>C ABI: a required argument was null.</summary>
        NullArgument = 1000,
        /// <summary>C ABI: the native library panicked; the call was abandoned.</summary>
        Panic = 1001,
        /// <summary>C ABI: an argument is out of range (unknown enum value, inconsistent lengths).</summary>
        InvalidArgument = 1002,
        /// <summary>
        /// Enrollment: the CA service refused the request; <see cref="MeshTlsException.CodeName"/>
        /// is the service's code (<c>token_used</c>, <c>token_invalid</c>, <c>identity_mismatch</c>,
        /// <c>revoked</c>...).
        /// </summary>
        ServiceError = 1003,
        /// <summary>
        /// Enrollment: the CA service could not be reached, or its certificate was not vouched for
        /// by the bundle, or it did not answer in time; <see cref="MeshTlsException.CodeName"/> is
        /// <c>transport</c> (or the service's <c>unavailable</c>/<c>timeout</c>).
        /// </summary>
        Transport = 1004,
    }

    /// <summary>
    /// How the codes group, the same in every meshtls language: catch a family when the exact
    /// code does not matter.
    /// </summary>
    public enum ErrorFamily
    {
        /// <summary>The input does not parse or is unsupported (<c>malformed</c>, <c>unsupported</c>).</summary>
        Input,
        /// <summary>The request breaks a rule (<c>invalid_request</c>).</summary>
        Request,
        /// <summary>The peer or chain was rejected (<c>expired</c>, <c>revoked</c>, <c>unknown_issuer</c>...).</summary>
        Verification,
        /// <summary>The passphrase or password is wrong (<c>wrong_passphrase</c>).</summary>
        Passphrase,
        /// <summary>A file or socket failed (<c>io</c>).</summary>
        Io,
        /// <summary>A bug (<c>internal</c>, <c>panic</c>).</summary>
        Internal,
        /// <summary>The caller passed a bad argument (<c>null_argument</c>, <c>invalid_argument</c>).</summary>
        Argument,
    }

    /// <summary>
    /// A meshtls failure: the stable <see cref="Code"/>, its string form <see cref="CodeName"/>
    /// (the same string in every meshtls language), its <see cref="Family"/>, and the native
    /// message. Tell <c>Expired</c> from <c>UnknownIssuer</c> (or <c>token_used</c> from
    /// <c>token_invalid</c>) by the code, never by the text.
    /// </summary>
    /// <example>
    /// <code>
    /// try { verifier.Verify(chainPem, PeerUsage.Client, DateTimeOffset.UtcNow); }
    /// catch (MeshTlsException e) when (e.Code == ErrorCode.Expired) { /* renew */ }
    ///
    /// try { await Enrollment.EnrollAsync(url, token, id, options); }
    /// catch (MeshTlsException e) when (e.CodeName == "token_used") { /* ask for a new token */ }
    /// </code>
    /// </example>
    public sealed class MeshTlsException : Exception
    {
        /// <summary>Creates an exception (the library builds them from native results).</summary>
        public MeshTlsException(ErrorCode code, string message) : this(code, NameOf(code), message)
        {
        }

        /// <summary>
        /// Creates an exception whose string code says more than <paramref name="code"/> (a CA
        /// service's refusal: <see cref="ErrorCode.ServiceError"/> with <c>token_used</c>).
        /// </summary>
        public MeshTlsException(ErrorCode code, string codeName, string message) : base(message)
        {
            Code = code;
            CodeName = string.IsNullOrEmpty(codeName) ? NameOf(code) : codeName;
        }

        /// <summary>The stable code.</summary>
        public ErrorCode Code { get; }

        /// <summary>
        /// The stable snake_case code, as in every meshtls language: the name of <see cref="Code"/>
        /// (<c>identity_not_allowed</c>), or for <see cref="ErrorCode.ServiceError"/> and
        /// <see cref="ErrorCode.Transport"/> the enrollment client's own code (<c>token_used</c>,
        /// <c>token_invalid</c>, <c>identity_mismatch</c>, <c>revoked</c>, <c>transport</c>...).
        /// </summary>
        public string CodeName { get; }

        /// <summary>The family of the code.</summary>
        public ErrorFamily Family => FamilyOf(Code);

        /// <summary>The snake_case name of a code, from the native library.</summary>
        public static string NameOf(ErrorCode code)
        {
            return Marshal.PtrToStringAnsi(Native.meshtls_result_name((uint)code));
        }

        /// <summary>The family of a code, from the native library.</summary>
        public static ErrorFamily FamilyOf(ErrorCode code)
        {
            var name = Marshal.PtrToStringAnsi(Native.meshtls_result_family((uint)code));
            switch (name)
            {
                case "input": return ErrorFamily.Input;
                case "request": return ErrorFamily.Request;
                case "verification": return ErrorFamily.Verification;
                case "passphrase": return ErrorFamily.Passphrase;
                case "io": return ErrorFamily.Io;
                case "argument": return ErrorFamily.Argument;
                default: return ErrorFamily.Internal;
            }
        }

        /// <summary>Throws the exception for a failed native result (does nothing for 0).</summary>
        internal static void Check(uint result)
        {
            if (result != 0)
            {
                throw FromLastError(result);
            }
        }

        private static MeshTlsException FromLastError(uint result)
        {
            var message = Read(Native.meshtls_last_error) ?? "meshtls failed without a message";
            return new MeshTlsException((ErrorCode)result, Read(Native.meshtls_last_error_code), message);
        }

        private delegate uint LastErrorText(byte[] buf, UIntPtr len, out UIntPtr outN);

        /// <summary>The calling thread's last error message or code, or null when it cannot be read.</summary>
        private static string Read(LastErrorText getter)
        {
            UIntPtr n;
            if (getter(null, UIntPtr.Zero, out n) != 0)
            {
                return null;
            }
            var buf = new byte[(int)n.ToUInt32() + 1];
            getter(buf, (UIntPtr)buf.Length, out n);
            return Encoding.UTF8.GetString(buf, 0, buf.Length - 1);
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_last_error(byte[] buf, UIntPtr len, out UIntPtr outN);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_last_error_code(byte[] buf, UIntPtr len, out UIntPtr outN);

            [DllImport("meshtls_ffi")]
            public static extern IntPtr meshtls_result_name(uint code);

            [DllImport("meshtls_ffi")]
            public static extern IntPtr meshtls_result_family(uint code);
        }
    }
}

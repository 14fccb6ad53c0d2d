using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>
    /// Checks JWT-SVIDs with the core: signature by a JWT key of the SPIFFE bundle (by
    /// <c>kid</c>), the algorithm allow-list (never <c>none</c> or HMAC), expiry with the
    /// policy's clock leeway, the audience, the subject against the same <see cref="Policy"/>
    /// as certificates, and the certificate binding (<c>cnf.x5t#S256</c>). A refusal is a
    /// <see cref="MeshTlsException"/> with the core's code (<see cref="ErrorCode.TokenExpired"/>,
    /// <see cref="ErrorCode.TokenBinding"/>...).
    /// </summary>
    /// <example>
    /// <code>
    /// using (var v = new JwtValidator(jwksJson, "mesh.internal", policy, new[] { "orders" }))
    /// {
    ///     var claims = v.Validate(token, clientCertificateDer, DateTimeOffset.UtcNow);
    /// }
    /// </code>
    /// </example>
    public sealed class JwtValidator : IDisposable
    {
        private readonly Handle handle;

        /// <summary>
        /// A validator of the JWT keys of the SPIFFE bundle <paramref name="bundleJson"/> (for
        /// subjects of <paramref name="trustDomain"/> only, unless null), for tokens addressed to
        /// one of <paramref name="audiences"/>; <paramref name="algorithms"/> null or empty allows
        /// ES256, ES384 and EdDSA.
        /// </summary>
        public JwtValidator(string bundleJson, string trustDomain, Policy policy, IEnumerable<string> audiences, IEnumerable<string> algorithms = null, bool requireBinding = false)
        {
            if (policy == null)
            {
                throw new ArgumentNullException(nameof(policy));
            }
            var json = NativeBuffer.Text(bundleJson);
            using (var auds = new NativeBuffer.StringArray(audiences))
            using (var algs = new NativeBuffer.StringArray(algorithms ?? Enumerable.Empty<string>()))
            {
                MeshTlsException.Check(Native.meshtls_jwt_validator_new(
                    json, (UIntPtr)json.Length, NativeBuffer.Utf8(trustDomain), policy.NativeHandle,
                    auds.Pointers, auds.Count, algs.Pointers, algs.Count, requireBinding ? (byte)1 : (byte)0,
                    out handle));
            }
        }

        /// <summary>
        /// The claims of a valid token at <paramref name="at"/>; <paramref name="peerCertificate"/>
        /// (DER or PEM bytes, null for none) is the certificate of the connection the token came
        /// on: a bound token requires it.
        /// </summary>
        public TokenClaims Validate(string token, byte[] peerCertificate, DateTimeOffset at)
        {
            var t = NativeBuffer.Text(token);
            NativeBuffer.Handle subject;
            NativeBuffer.Handle json;
            MeshTlsException.Check(Native.meshtls_jwt_validator_validate(
                handle, t, (UIntPtr)t.Length, peerCertificate,
                (UIntPtr)(peerCertificate == null ? 0 : peerCertificate.Length), UnixTime.Of(at),
                out subject, out json));
            return new TokenClaims(NativeBuffer.TakeString(subject), NativeBuffer.TakeString(json));
        }

        /// <summary>Releases the native validator.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_jwt_validator_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_jwt_validator_new(byte[] bundleJson, UIntPtr jsonLen, byte[] trustDomain, Policy.Handle policy, IntPtr[] audiences, UIntPtr audienceCount, IntPtr[] algorithms, UIntPtr algorithmCount, byte requireBinding, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_jwt_validator_validate(Handle v, byte[] token, UIntPtr tokenLen, byte[] peerCert, UIntPtr peerLen, long at, out NativeBuffer.Handle subject, out NativeBuffer.Handle claimsJson);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_jwt_validator_free(IntPtr v);
        }
    }

    /// <summary>What a valid JWT-SVID says: its subject, and every claim as JSON.</summary>
    public sealed class TokenClaims
    {
        internal TokenClaims(string subject, string json)
        {
            Subject = subject;
            Json = json;
        }

        /// <summary>The token's <c>sub</c>: a SPIFFE ID.</summary>
        public string Subject { get; }

        /// <summary>The claims (<c>sub</c>, <c>aud</c>, <c>exp</c>, <c>iat</c>, <c>jti</c>, <c>roles</c>, <c>scope</c>, <c>cnf</c>) with the header's <c>kid</c> and <c>alg</c>, as a JSON object.</summary>
        public string Json { get; }
    }

    /// <summary>
    /// JWT-SVIDs of an <see cref="EnrolledIdentity"/> for one set of audiences, from its CA
    /// service, for its SPIFFE ID, kept fresh: <see cref="Token"/> reuses the held token until two
    /// thirds of its lifetime have passed (and, when bound, until the identity renews).
    /// </summary>
    public sealed class JwtSource : IDisposable
    {
        private readonly Handle handle;

        /// <summary>A source of <paramref name="identity"/>'s tokens for <paramref name="audiences"/>.</summary>
        public JwtSource(EnrolledIdentity identity, IEnumerable<string> audiences, TimeSpan? ttl = null, bool bind = false)
        {
            if (identity == null)
            {
                throw new ArgumentNullException(nameof(identity));
            }
            using (var auds = new NativeBuffer.StringArray(audiences))
            {
                var secs = ttl.HasValue ? (ulong)Math.Max(1, ttl.Value.TotalSeconds) : 0UL;
                MeshTlsException.Check(Native.meshtls_enrolled_jwt_source(identity.NativeHandle, auds.Pointers, auds.Count, secs, bind ? (byte)1 : (byte)0, out handle));
            }
        }

        /// <summary>A token with at least a third of its lifetime left (blocks while one is minted).</summary>
        public string Token()
        {
            NativeBuffer.Handle token;
            MeshTlsException.Check(Native.meshtls_jwt_source_token(handle, out token));
            return NativeBuffer.TakeString(token);
        }

        /// <summary>Releases the native source.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_jwt_source_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_jwt_source(EnrolledIdentity.Handle e, IntPtr[] audiences, UIntPtr count, ulong ttlSecs, byte bind, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_jwt_source_token(Handle s, out NativeBuffer.Handle token);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_jwt_source_free(IntPtr s);
        }
    }
}

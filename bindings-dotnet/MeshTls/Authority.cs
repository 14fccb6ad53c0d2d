using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>How to create a root CA. Unset values take the core's defaults.</summary>
    public sealed class RootParams
    {
        /// <summary>A root for this trust domain (<c>mesh.internal</c>).</summary>
        public RootParams(string trustDomain)
        {
            TrustDomain = trustDomain ?? throw new ArgumentNullException(nameof(trustDomain));
        }

        /// <summary>The trust domain the CA vouches for.</summary>
        public string TrustDomain { get; }

        /// <summary>Subject common name (null: the core's default, distinct per CA).</summary>
        public string CommonName { get; set; }

        /// <summary>Key algorithm.</summary>
        public KeyAlgorithm Key { get; set; }

        /// <summary>Lifetime (null: the core's default, 10 years).</summary>
        public TimeSpan? Validity { get; set; }

        /// <summary>Path length constraint: 0..255, <see cref="Authority.PathLengthDefault"/> or <see cref="Authority.PathLengthNone"/>.</summary>
        public int PathLength { get; set; } = Authority.PathLengthDefault;

        /// <summary>DNS name constraints (permitted subtrees); empty for none.</summary>
        public IList<string> PermittedDns { get; } = new List<string>();
    }

    /// <summary>How to create an intermediate CA. Unset values take the core's defaults.</summary>
    public sealed class IntermediateParams
    {
        /// <summary>Subject common name (null: the core's default).</summary>
        public string CommonName { get; set; }

        /// <summary>Key algorithm.</summary>
        public KeyAlgorithm Key { get; set; }

        /// <summary>Lifetime (null: the core's default, 3 years, never past the parent).</summary>
        public TimeSpan? Validity { get; set; }

        /// <summary>Path length constraint: 0..255, <see cref="Authority.PathLengthDefault"/> (0 for an intermediate) or <see cref="Authority.PathLengthNone"/>.</summary>
        public int PathLength { get; set; } = Authority.PathLengthDefault;

        /// <summary>DNS name constraints (permitted subtrees); empty for none.</summary>
        public IList<string> PermittedDns { get; } = new List<string>();
    }

    /// <summary>
    /// A certificate authority (root or intermediate) with its private key: issues certificates
    /// and CRLs. Dispose it to release the native key.
    /// </summary>
    /// <example>
    /// <code>
    /// using (var root = Authority.CreateRoot(new RootParams("mesh.internal"), DateTimeOffset.UtcNow))
    /// using (var issued = root.Issue(new IssueRequest("spiffe://mesh.internal/service/api"), DateTimeOffset.UtcNow))
    /// {
    ///     File.WriteAllText("api.chain.pem", issued.ChainPem);
    /// }
    /// </code>
    /// </example>
    public sealed class Authority : IDisposable
    {
        /// <summary><see cref="RootParams.PathLength"/>: the core's default for the kind of CA.</summary>
        public const int PathLengthDefault = -1;

        /// <summary><see cref="RootParams.PathLength"/>: no path length constraint.</summary>
        public const int PathLengthNone = -2;

        private readonly Handle handle;

        private Authority(Handle handle)
        {
            this.handle = handle;
        }

        /// <summary>Creates a self-signed root CA valid from <paramref name="now"/>.</summary>
        /// <exception cref="MeshTlsException">A bad trust domain (<c>Malformed</c>), a too short validity (<c>InvalidRequest</c>)...</exception>
        public static Authority CreateRoot(RootParams parameters, DateTimeOffset now)
        {
            if (parameters == null)
            {
                throw new ArgumentNullException(nameof(parameters));
            }
            using (var dns = new NativeBuffer.StringArray(parameters.PermittedDns))
            {
                Handle h;
                MeshTlsException.Check(Native.meshtls_authority_create_root(
                    NativeBuffer.Utf8(parameters.TrustDomain), NativeBuffer.Utf8(parameters.CommonName),
                    (uint)parameters.Key, Seconds(parameters.Validity), parameters.PathLength,
                    dns.Pointers, dns.Count, UnixTime.Of(now), out h));
                return new Authority(h);
            }
        }

        /// <summary>Creates an intermediate CA signed by this one, in its trust domain.</summary>
        /// <exception cref="MeshTlsException">The parent may not sign it (<c>InvalidRequest</c>)...</exception>
        public Authority CreateIntermediate(IntermediateParams parameters, DateTimeOffset now)
        {
            parameters = parameters ?? new IntermediateParams();
            using (var dns = new NativeBuffer.StringArray(parameters.PermittedDns))
            {
                Handle h;
                MeshTlsException.Check(Native.meshtls_authority_create_intermediate(
                    handle, NativeBuffer.Utf8(parameters.CommonName), (uint)parameters.Key,
                    Seconds(parameters.Validity), parameters.PathLength, dns.Pointers, dns.Count,
                    UnixTime.Of(now), out h));
                return new Authority(h);
            }
        }

        /// <summary>
        /// Loads a CA from its certificate chain PEM (this CA first, up to the root) and its key
        /// PEM, encrypted (give the passphrase) or plain (null).
        /// </summary>
        /// <exception cref="MeshTlsException"><c>WrongPassphrase</c>, <c>Malformed</c>, <c>InvalidRequest</c> (not a CA)...</exception>
        public static Authority Load(string chainPem, string keyPem, string passphrase = null)
        {
            return Load(NativeBuffer.Text(chainPem), NativeBuffer.Text(keyPem), passphrase);
        }

        /// <summary>As <see cref="Load(string, string, string)"/>, from bytes (PEM).</summary>
        public static Authority Load(byte[] chainPem, byte[] keyPem, string passphrase = null)
        {
            if (chainPem == null)
            {
                throw new ArgumentNullException(nameof(chainPem));
            }
            if (keyPem == null)
            {
                throw new ArgumentNullException(nameof(keyPem));
            }
            Handle h;
            MeshTlsException.Check(Native.meshtls_authority_load(
                chainPem, (UIntPtr)chainPem.Length, keyPem, (UIntPtr)keyPem.Length,
                NativeBuffer.Utf8(passphrase), out h));
            return new Authority(h);
        }

        /// <summary>The certificate chain as PEM (this CA, its parents, the root): save it beside the key.</summary>
        public string ChainPem => Text(Native.meshtls_authority_chain_pem);

        /// <summary>This CA's certificate as PEM.</summary>
        public string CertificatePem => Text(Native.meshtls_authority_certificate_pem);

        /// <summary>The root certificate above this CA (itself for a root): what a trust bundle holds.</summary>
        public string RootPem => Text(Native.meshtls_authority_root_pem);

        /// <summary>The trust domain (<c>mesh.internal</c>).</summary>
        public string TrustDomain => Text(Native.meshtls_authority_trust_domain);

        /// <summary>Whether this is a self-signed root.</summary>
        public bool IsRoot => Native.meshtls_authority_is_root(handle);

        /// <summary>The private key as encrypted PKCS#8 PEM, to save at rest.</summary>
        /// <exception cref="MeshTlsException">An empty passphrase (<c>InvalidRequest</c>).</exception>
        public string EncryptedKeyPem(string passphrase)
        {
            if (passphrase == null)
            {
                throw new ArgumentNullException(nameof(passphrase));
            }
            NativeBuffer.Handle b;
            MeshTlsException.Check(Native.meshtls_authority_encrypted_key_pem(handle, NativeBuffer.Utf8(passphrase), out b));
            return NativeBuffer.TakeString(b);
        }

        /// <summary>Issues a certificate at <paramref name="now"/>: with a generated key, or for the request's CSR.</summary>
        /// <exception cref="MeshTlsException">Outside the trust domain or name constraints (<c>InvalidRequest</c>), a bad ID (<c>Malformed</c>), a weak CSR (<c>WeakKey</c>, <c>WeakSignature</c>)...</exception>
        public Issued Issue(IssueRequest request, DateTimeOffset now) => IssueRequestWith(request, null, null, now);

        /// <summary>
        /// Issues a certificate if <paramref name="grant"/> allows it: the request's own rules
        /// (<c>InvalidRequest</c>), then the grant (<c>NotAuthorized</c>), then issuance.
        /// <paramref name="admins"/> are the administrator ID patterns no join-token grant may issue
        /// (the CA service's own ID is always reserved).
        /// </summary>
        public Issued IssueGranted(IssueRequest request, Grant grant, IEnumerable<string> admins, DateTimeOffset now)
        {
            if (grant == null)
            {
                throw new ArgumentNullException(nameof(grant));
            }
            return IssueRequestWith(request, grant, admins, now);
        }

        private Issued IssueRequestWith(IssueRequest request, Grant grant, IEnumerable<string> admins, DateTimeOffset now)
        {
            if (request == null)
            {
                throw new ArgumentNullException(nameof(request));
            }
            RequestHandle r;
            var csr = request.Csr;
            MeshTlsException.Check(Native.meshtls_issue_request_new(
                NativeBuffer.Utf8(request.SpiffeId), csr, (UIntPtr)(csr == null ? 0 : csr.Length), out r));
            using (r)
            using (var list = new NativeBuffer.StringArray(admins))
            {
                foreach (var name in request.DnsNames)
                {
                    MeshTlsException.Check(Native.meshtls_issue_request_add_dns_name(r, NativeBuffer.Utf8(name ?? throw new ArgumentNullException(nameof(request), "a DNS name is null"))));
                }
                foreach (var ip in request.IpAddresses)
                {
                    MeshTlsException.Check(Native.meshtls_issue_request_add_ip_address(r, NativeBuffer.Utf8(ip ?? throw new ArgumentNullException(nameof(request), "an IP address is null"))));
                }
                if (request.Usage != Usage.Default)
                {
                    MeshTlsException.Check(Native.meshtls_issue_request_set_usage(r, NativeBuffer.Utf8(Names.Of(request.Usage))));
                }
                if (request.Lifetime.HasValue)
                {
                    MeshTlsException.Check(Native.meshtls_issue_request_set_lifetime(r, Seconds(request.Lifetime)));
                }
                if (request.Key != KeyAlgorithm.Default)
                {
                    MeshTlsException.Check(Native.meshtls_issue_request_set_key(r, NativeBuffer.Utf8(Names.Of(request.Key))));
                }
                Issued.Handle h;
                MeshTlsException.Check(Native.meshtls_authority_issue_request(
                    handle, r, grant == null ? IntPtr.Zero : grant.NativeHandle.DangerousGetHandle(),
                    list.Pointers, list.Count, UnixTime.Of(now), out h));
                GC.KeepAlive(grant);
                return new Issued(h);
            }
        }

        /// <summary>A native <c>meshtls_issue_request*</c>, freed with <c>meshtls_issue_request_free</c>.</summary>
        internal sealed class RequestHandle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public RequestHandle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_issue_request_free(handle);
                return true;
            }
        }

        /// <summary>
        /// Issues a certificate for a PKCS#10 CSR (PEM or DER): the identity and DNS names are
        /// the CSR's, its signature is checked, and the key stays with the requester.
        /// </summary>
        /// <exception cref="MeshTlsException">A tampered CSR (<c>BadSignature</c>), garbage (<c>Malformed</c>)...</exception>
        public Issued IssueFromCsr(byte[] csr, Usage usage, TimeSpan? lifetime, DateTimeOffset now)
        {
            if (csr == null)
            {
                throw new ArgumentNullException(nameof(csr));
            }
            Issued.Handle h;
            MeshTlsException.Check(Native.meshtls_authority_issue_csr(
                handle, csr, (UIntPtr)csr.Length, (uint)usage, Seconds(lifetime), UnixTime.Of(now), out h));
            return new Issued(h);
        }

        /// <summary>As <see cref="IssueFromCsr(byte[], Usage, TimeSpan?, DateTimeOffset)"/>, from PEM text.</summary>
        public Issued IssueFromCsr(string csrPem, Usage usage, TimeSpan? lifetime, DateTimeOffset now)
        {
            return IssueFromCsr(NativeBuffer.Text(csrPem), usage, lifetime, now);
        }

        /// <summary>
        /// Builds and signs a CRL (PEM) of the records: <paramref name="number"/> must grow with
        /// each CRL; <paramref name="nextUpdate"/> null means the core's default (7 days).
        /// </summary>
        public string BuildCrl(RevocationList records, ulong number, DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate = null)
        {
            if (records == null)
            {
                throw new ArgumentNullException(nameof(records));
            }
            NativeBuffer.Handle b;
            MeshTlsException.Check(Native.meshtls_authority_build_crl(
                handle, records.NativeHandle, number, UnixTime.Of(thisUpdate),
                nextUpdate.HasValue ? UnixTime.Of(nextUpdate.Value) : 0, out b));
            return NativeBuffer.TakeString(b);
        }

        /// <summary>Releases the native authority and its key.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        private static ulong Seconds(TimeSpan? span)
        {
            if (!span.HasValue)
            {
                return 0;
            }
            if (span.Value <= TimeSpan.Zero)
            {
                // Zero would mean "the default" to the C ABI: refuse it here instead.
                throw new ArgumentOutOfRangeException(nameof(span), "a lifetime must be positive");
            }
            return (ulong)Math.Ceiling(span.Value.TotalSeconds);
        }

        private string Text(NativeBuffer.Getter<Handle> getter) => NativeBuffer.TextOf(handle, getter);

        /// <summary>A native <c>meshtls_authority*</c>, freed with <c>meshtls_authority_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_authority_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_create_root(byte[] trustDomain, byte[] commonName, uint key, ulong validitySecs, int pathLen, IntPtr[] permittedDns, UIntPtr permittedDnsLen, long now, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_create_intermediate(Handle parent, byte[] commonName, uint key, ulong validitySecs, int pathLen, IntPtr[] permittedDns, UIntPtr permittedDnsLen, long now, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_load(byte[] chainPem, UIntPtr chainLen, byte[] keyPem, UIntPtr keyLen, byte[] passphrase, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_chain_pem(Handle ca, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_certificate_pem(Handle ca, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_root_pem(Handle ca, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_trust_domain(Handle ca, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_encrypted_key_pem(Handle ca, byte[] passphrase, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            [return: MarshalAs(UnmanagedType.I1)]
            public static extern bool meshtls_authority_is_root(Handle ca);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_issue(Handle ca, byte[] spiffeId, IntPtr[] dnsNames, UIntPtr dnsNamesLen, uint usage, ulong lifetimeSecs, uint key, long now, out Issued.Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issue_request_new(byte[] spiffeId, byte[] csr, UIntPtr csrLen, out RequestHandle r);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issue_request_add_dns_name(RequestHandle r, byte[] name);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issue_request_add_ip_address(RequestHandle r, byte[] ip);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issue_request_set_usage(RequestHandle r, byte[] usage);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issue_request_set_lifetime(RequestHandle r, ulong lifetimeSecs);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issue_request_set_key(RequestHandle r, byte[] key);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_issue_request_free(IntPtr r);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_issue_request(Handle ca, RequestHandle r, IntPtr grant, IntPtr[] admins, UIntPtr adminsLen, long now, out Issued.Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_issue_csr(Handle ca, byte[] csr, UIntPtr csrLen, uint usage, ulong lifetimeSecs, long now, out Issued.Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_authority_build_crl(Handle ca, RevocationList.Handle list, ulong number, long thisUpdate, long nextUpdate, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_authority_free(IntPtr ca);
        }
    }
}

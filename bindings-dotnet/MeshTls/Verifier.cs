using System;
using System.Collections.Generic;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>The CA certificates a verifier trusts (several during a CA rotation) and the CRLs it checks.</summary>
    public sealed class TrustBundle : IDisposable
    {
        private readonly Handle handle;

        /// <summary>An empty bundle: it trusts nothing until a CA is added.</summary>
        public TrustBundle()
        {
            MeshTlsException.Check(Native.meshtls_trust_bundle_new(out handle));
        }

        /// <summary>
        /// A bundle of every CA certificate in <paramref name="caPemOrPath"/>: PEM text, or the
        /// path of a PEM (or DER) file (told apart by the core's rule).
        /// </summary>
        /// <exception cref="MeshTlsException"><c>Io</c> for a file that cannot be read; as <see cref="AddCaPem(string)"/>.</exception>
        public TrustBundle(string caPemOrPath) : this()
        {
            AddCaPem(caPemOrPath);
        }

        /// <summary>A bundle of every CA certificate in the bytes (PEM, or one DER certificate).</summary>
        public TrustBundle(byte[] caPem) : this()
        {
            AddCaPem(caPem);
        }

        internal Handle NativeHandle => handle;

        /// <summary>
        /// Adds every CA certificate of <paramref name="pemOrPath"/>: PEM text, or the path of a
        /// PEM (or DER) file. Returns this bundle.
        /// </summary>
        /// <exception cref="MeshTlsException">Garbage (<c>Malformed</c>), a leaf (<c>InvalidRequest</c>), an unreadable file (<c>Io</c>).</exception>
        public TrustBundle AddCaPem(string pemOrPath)
        {
            return AddCaPem(Contents(pemOrPath, "trust bundle"));
        }

        /// <summary>
        /// The bytes of <paramref name="textOrPath"/>: the file's when the core's rule says it is
        /// a path (a PEM or DER file) and the file exists or the text names a directory, else
        /// the text itself (which the core then refuses as <c>malformed</c>, saying it looks like
        /// a path when it does).
        /// </summary>
        internal static byte[] Contents(string textOrPath, string what)
        {
            var bytes = NativeBuffer.Text(textOrPath);
            if (!Native.meshtls_looks_like_path(bytes, (UIntPtr)bytes.Length))
            {
                return bytes;
            }
            var path = textOrPath.Trim();
            if (!System.IO.File.Exists(path) && path.IndexOf('/') < 0 && path.IndexOf('\\') < 0)
            {
                return bytes;
            }
            try
            {
                return System.IO.File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is System.IO.IOException || e is UnauthorizedAccessException || e is ArgumentException || e is NotSupportedException)
            {
                throw new MeshTlsException(ErrorCode.Io, $"io: cannot read the {what} file {path}: {e.Message}");
            }
        }

        /// <summary>Adds every CA certificate of the PEM (or the one DER certificate). Returns this bundle.</summary>
        public TrustBundle AddCaPem(byte[] pem)
        {
            if (pem == null)
            {
                throw new ArgumentNullException(nameof(pem));
            }
            MeshTlsException.Check(Native.meshtls_trust_bundle_add_ca_pem(handle, pem, (UIntPtr)pem.Length));
            return this;
        }

        /// <summary>Adds a CRL (PEM); a newer CRL of the same issuer replaces the older. Returns this bundle.</summary>
        public TrustBundle AddCrl(string pem)
        {
            return AddCrl(NativeBuffer.Text(pem));
        }

        /// <summary>Adds a CRL (PEM or DER). Returns this bundle.</summary>
        public TrustBundle AddCrl(byte[] crl)
        {
            if (crl == null)
            {
                throw new ArgumentNullException(nameof(crl));
            }
            MeshTlsException.Check(Native.meshtls_trust_bundle_add_crl(handle, crl, (UIntPtr)crl.Length));
            return this;
        }

        /// <summary>The number of CAs.</summary>
        public int Count => (int)Native.meshtls_trust_bundle_len(handle).ToUInt64();

        /// <summary>
        /// The CA certificates given to the bundle that it cannot use as trust anchors (an
        /// unknown critical extension...), with why: skipped, not fatal to the bundle. Empty when
        /// every CA is usable. A new list on each read.
        /// </summary>
        public IReadOnlyList<SkippedCa> Skipped
        {
            get
            {
                var count = (int)Native.meshtls_trust_bundle_skipped_count(handle).ToUInt64();
                var list = new List<SkippedCa>(count);
                for (var i = 0; i < count; i++)
                {
                    uint code;
                    NativeBuffer.Handle subject, fingerprint, message;
                    MeshTlsException.Check(Native.meshtls_trust_bundle_skipped(handle, (UIntPtr)i, out code, out subject, out fingerprint, out message));
                    list.Add(new SkippedCa(
                        NativeBuffer.TakeString(subject),
                        NativeBuffer.TakeString(fingerprint),
                        (ErrorCode)code,
                        NativeBuffer.TakeString(message)));
                }
                return list.AsReadOnly();
            }
        }

        /// <summary>Releases the native bundle.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>A native <c>meshtls_trust_bundle*</c>, freed with <c>meshtls_trust_bundle_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_trust_bundle_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_trust_bundle_new(out Handle h);

            [DllImport("meshtls_ffi")]
            [return: MarshalAs(UnmanagedType.I1)]
            public static extern bool meshtls_looks_like_path(byte[] input, UIntPtr len);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_trust_bundle_add_ca_pem(Handle b, byte[] pem, UIntPtr len);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_trust_bundle_add_crl(Handle b, byte[] crl, UIntPtr len);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_trust_bundle_len(Handle b);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_trust_bundle_skipped_count(Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_trust_bundle_skipped(Handle b, UIntPtr index, out uint code, out NativeBuffer.Handle subject, out NativeBuffer.Handle fingerprintHex, out NativeBuffer.Handle message);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_trust_bundle_free(IntPtr b);
        }
    }

    /// <summary>A CA certificate a <see cref="TrustBundle"/> skipped because it cannot anchor a path, and why.</summary>
    public sealed class SkippedCa
    {
        internal SkippedCa(string subject, string fingerprintHex, ErrorCode code, string message)
        {
            Subject = subject;
            FingerprintHex = fingerprintHex;
            Code = code;
            Message = message;
        }

        /// <summary>Its subject.</summary>
        public string Subject { get; }

        /// <summary>SHA-256 of its DER, lowercase hex.</summary>
        public string FingerprintHex { get; }

        /// <summary>Why, as a code (<see cref="ErrorCode.UnknownCriticalExtension"/>...).</summary>
        public ErrorCode Code { get; }

        /// <summary>Why, as the stable snake_case code (<c>unknown_critical_extension</c>...).</summary>
        public string CodeName => MeshTlsException.NameOf(Code);

        /// <summary>Why, in words.</summary>
        public string Message { get; }
    }

    /// <summary>
    /// Collects the rules of a <see cref="Policy"/>: exact IDs, ID patterns, trust domains,
    /// DNS names, pins. A peer passes when it matches one identity rule (or any is allowed)
    /// and, when pins are set, one pin.
    /// </summary>
    /// <example>
    /// <code>
    /// using (var builder = new PolicyBuilder().AllowPattern("spiffe://mesh.internal/service/*"))
    /// using (var policy = builder.Build()) { ... }
    /// </code>
    /// </example>
    public sealed class PolicyBuilder : IDisposable
    {
        private readonly Handle handle;

        /// <summary>A builder with no rules.</summary>
        public PolicyBuilder()
        {
            MeshTlsException.Check(Native.meshtls_policy_builder_new(out handle));
        }

        /// <summary>Allows exactly this SPIFFE ID.</summary>
        public PolicyBuilder AllowId(string spiffeId) => Add(Native.meshtls_policy_builder_allow_id, spiffeId);

        /// <summary>Allows IDs matching the pattern (<c>spiffe://mesh.internal/service/*</c>).</summary>
        public PolicyBuilder AllowPattern(string pattern) => Add(Native.meshtls_policy_builder_allow_pattern, pattern);

        /// <summary>Allows every member of the trust domain.</summary>
        public PolicyBuilder AllowTrustDomain(string trustDomain) => Add(Native.meshtls_policy_builder_allow_trust_domain, trustDomain);

        /// <summary>Allows a peer whose certificate is valid for this DNS name or IP address.</summary>
        public PolicyBuilder AllowDns(string name) => Add(Native.meshtls_policy_builder_allow_dns, name);

        /// <summary>Requires the certificate's SHA-256 (hex) to be one of the pins.</summary>
        public PolicyBuilder PinCert(string sha256Hex) => Add(Native.meshtls_policy_builder_pin_cert, sha256Hex);

        /// <summary>Requires the public key's (SPKI) SHA-256 (hex) to be one of the pins.</summary>
        public PolicyBuilder PinSpki(string sha256Hex) => Add(Native.meshtls_policy_builder_pin_spki, sha256Hex);

        /// <summary>Allows any identity the trust bundle vouches for.</summary>
        public PolicyBuilder AllowAny()
        {
            MeshTlsException.Check(Native.meshtls_policy_builder_allow_any(handle));
            return this;
        }

        /// <summary>
        /// Tolerates this much clock difference at both ends of every certificate's validity
        /// (default zero: the rotation margin, not the verifier, absorbs clock drift).
        /// </summary>
        public PolicyBuilder ClockLeeway(TimeSpan leeway)
        {
            if (leeway < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(leeway), "leeway must not be negative");
            }
            MeshTlsException.Check(Native.meshtls_policy_builder_clock_leeway(handle, (ulong)leeway.TotalSeconds));
            return this;
        }

        /// <summary>The most intermediates between the leaf and the trust anchor (default 4).</summary>
        public PolicyBuilder MaxIntermediates(int n)
        {
            if (n < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(n), "must not be negative");
            }
            MeshTlsException.Check(Native.meshtls_policy_builder_max_intermediates(handle, (uint)n));
            return this;
        }

        /// <summary>The immutable policy; the builder stays usable.</summary>
        /// <exception cref="MeshTlsException">A policy allowing nobody (<c>InvalidRequest</c>): meshtls fails closed.</exception>
        public Policy Build()
        {
            Policy.Handle h;
            MeshTlsException.Check(Native.meshtls_policy_builder_build(handle, out h));
            return new Policy(h);
        }

        /// <summary>Releases the native builder.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        private PolicyBuilder Add(Func<Handle, byte[], uint> rule, string value)
        {
            if (value == null)
            {
                throw new ArgumentNullException(nameof(value));
            }
            MeshTlsException.Check(rule(handle, NativeBuffer.Utf8(value)));
            return this;
        }

        /// <summary>A native <c>meshtls_policy_builder*</c>, freed with <c>meshtls_policy_builder_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_policy_builder_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_new(out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_allow_id(Handle b, byte[] value);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_allow_pattern(Handle b, byte[] value);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_allow_trust_domain(Handle b, byte[] value);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_allow_dns(Handle b, byte[] value);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_pin_cert(Handle b, byte[] value);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_pin_spki(Handle b, byte[] value);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_allow_any(Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_clock_leeway(Handle b, ulong secs);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_max_intermediates(Handle b, uint n);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_policy_builder_build(Handle b, out Policy.Handle p);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_policy_builder_free(IntPtr b);
        }
    }

    /// <summary>Who may connect (immutable). Made by <see cref="PolicyBuilder.Build"/>.</summary>
    public sealed class Policy : IDisposable
    {
        private readonly Handle handle;

        internal Policy(Handle handle)
        {
            this.handle = handle;
        }

        internal Handle NativeHandle => handle;

        /// <summary>Releases the native policy.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>A native <c>meshtls_policy*</c>, freed with <c>meshtls_policy_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_policy_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern void meshtls_policy_free(IntPtr p);
        }
    }

    /// <summary>Who the peer is, once verified.</summary>
    public sealed class PeerIdentity
    {
        internal PeerIdentity(string spiffeId, string commonName, IReadOnlyList<string> dnsNames, string serialHex, string fingerprintHex, string spkiFingerprintHex, string anchorSubject, DateTimeOffset notBefore, DateTimeOffset notAfter)
        {
            SpiffeId = spiffeId;
            CommonName = commonName;
            DnsNames = dnsNames;
            SerialHex = serialHex;
            FingerprintHex = fingerprintHex;
            SpkiFingerprintHex = spkiFingerprintHex;
            AnchorSubject = anchorSubject;
            NotBefore = notBefore;
            NotAfter = notAfter;
        }

        /// <summary>The SPIFFE ID; null for a peer without one (allowed by a DNS rule or a pin).</summary>
        public string SpiffeId { get; }

        /// <summary>Subject common name, or null.</summary>
        public string CommonName { get; }

        /// <summary>DNS SANs.</summary>
        public IReadOnlyList<string> DnsNames { get; }

        /// <summary>Serial number, lowercase hex.</summary>
        public string SerialHex { get; }

        /// <summary>SHA-256 of the leaf DER, lowercase hex.</summary>
        public string FingerprintHex { get; }

        /// <summary>SHA-256 of the leaf's public key (SPKI), lowercase hex.</summary>
        public string SpkiFingerprintHex { get; }

        /// <summary>Subject of the trust anchor the path ends at.</summary>
        public string AnchorSubject { get; }

        /// <summary>Start of validity.</summary>
        public DateTimeOffset NotBefore { get; }

        /// <summary>End of validity.</summary>
        public DateTimeOffset NotAfter { get; }
    }

    /// <summary>
    /// Revocation tunables of a <see cref="Verifier"/>; <see cref="Default"/> holds the core's
    /// defaults. Clock leeway and path depth are <see cref="PolicyBuilder"/> settings.
    /// </summary>
    public sealed class VerifyOptions
    {
        /// <summary>With CRLs in the bundle: reject when no CRL covers a certificate in the path.</summary>
        public bool RequireCrl { get; set; }

        /// <summary>With CRLs in the bundle: reject when the covering CRL is past its nextUpdate.</summary>
        public bool RejectStaleCrl { get; set; }

        /// <summary>With CRLs in the bundle: check the leaf only, not the intermediates.</summary>
        public bool LeafOnly { get; set; }

        /// <summary>The core's defaults (a new object each time).</summary>
        public static VerifyOptions Default()
        {
            var n = Native.meshtls_verify_options_default();
            return new VerifyOptions
            {
                RequireCrl = n.RequireCrl,
                RejectStaleCrl = n.RejectStaleCrl,
                LeafOnly = n.LeafOnly,
            };
        }

        internal Raw ToNative()
        {
            return new Raw
            {
                RequireCrl = RequireCrl,
                RejectStaleCrl = RejectStaleCrl,
                LeafOnly = LeafOnly,
            };
        }

        /// <summary>The C struct <c>meshtls_verify_options</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct Raw
        {
            [MarshalAs(UnmanagedType.I1)] public bool RequireCrl;
            [MarshalAs(UnmanagedType.I1)] public bool RejectStaleCrl;
            [MarshalAs(UnmanagedType.I1)] public bool LeafOnly;
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern Raw meshtls_verify_options_default();
        }
    }

    /// <summary>
    /// A trust bundle and a policy: decides whether a presented chain is acceptable. Every
    /// rule (chain, validity, usage, SPIFFE identity, revocation, pins) is the core's. Fixed
    /// when made from a bundle and a policy; live when it is an enrolled identity's trust
    /// (<see cref="EnrolledIdentity.Trust"/>): then each verification uses the bundle and CRL
    /// last fetched from the CA service.
    /// </summary>
    /// <example>
    /// <code>
    /// var peer = verifier.Verify(chainPem, PeerUsage.Client, DateTimeOffset.UtcNow);
    /// Console.WriteLine(peer.SpiffeId);
    /// </code>
    /// </example>
    public sealed class Verifier : IDisposable
    {
        private readonly Handle handle;

        /// <summary>A verifier made by the native library (an enrolled identity's snapshot or live trust).</summary>
        internal Verifier(Handle handle)
        {
            this.handle = handle;
        }

        /// <summary>A verifier of copies of the bundle and policy (the caller still owns and disposes both).</summary>
        public Verifier(TrustBundle bundle, Policy policy)
        {
            if (bundle == null)
            {
                throw new ArgumentNullException(nameof(bundle));
            }
            if (policy == null)
            {
                throw new ArgumentNullException(nameof(policy));
            }
            MeshTlsException.Check(Native.meshtls_verifier_new(bundle.NativeHandle, policy.NativeHandle, out handle));
        }

        /// <summary>As <see cref="Verifier(TrustBundle, Policy)"/>, with these options.</summary>
        public Verifier(TrustBundle bundle, Policy policy, VerifyOptions options)
        {
            if (bundle == null)
            {
                throw new ArgumentNullException(nameof(bundle));
            }
            if (policy == null)
            {
                throw new ArgumentNullException(nameof(policy));
            }
            if (options == null)
            {
                throw new ArgumentNullException(nameof(options));
            }
            var raw = options.ToNative();
            MeshTlsException.Check(Native.meshtls_verifier_new_with_options(bundle.NativeHandle, policy.NativeHandle, ref raw, out handle));
        }

        /// <summary>Verifies a PEM chain (leaf first) for a peer of this role at time <paramref name="at"/>.</summary>
        /// <exception cref="MeshTlsException">Why the peer is rejected: <c>Expired</c>, <c>Revoked</c>, <c>UnknownIssuer</c>, <c>IdentityNotAllowed</c>...</exception>
        public PeerIdentity Verify(string chainPem, PeerUsage usage, DateTimeOffset at)
        {
            var pem = NativeBuffer.Text(chainPem);
            Peer h;
            MeshTlsException.Check(Native.meshtls_verifier_verify_pem(handle, pem, (UIntPtr)pem.Length, (uint)usage, UnixTime.Of(at), out h));
            return Read(h);
        }

        /// <summary>Verifies a chain of DER certificates (leaf first), as a TLS stack presents it.</summary>
        /// <exception cref="MeshTlsException">Why the peer is rejected.</exception>
        public PeerIdentity Verify(IList<byte[]> derChain, PeerUsage usage, DateTimeOffset at)
        {
            if (derChain == null)
            {
                throw new ArgumentNullException(nameof(derChain));
            }
            var total = 0;
            var lens = new UIntPtr[derChain.Count];
            for (var i = 0; i < derChain.Count; i++)
            {
                if (derChain[i] == null)
                {
                    throw new ArgumentNullException(nameof(derChain), "a certificate in the chain is null");
                }
                lens[i] = (UIntPtr)derChain[i].Length;
                total += derChain[i].Length;
            }
            var data = new byte[total];
            var offset = 0;
            foreach (var der in derChain)
            {
                System.Buffer.BlockCopy(der, 0, data, offset, der.Length);
                offset += der.Length;
            }
            Peer h;
            MeshTlsException.Check(Native.meshtls_verifier_verify_der(handle, data, (UIntPtr)data.Length, lens, (UIntPtr)lens.Length, (uint)usage, UnixTime.Of(at), out h));
            return Read(h);
        }

        /// <summary>
        /// A callback for <see cref="SslStream"/> (and <c>ClientWebSocket.Options</c>) that
        /// accepts the remote end only when the core verifies its whole presented chain for
        /// <paramref name="peerRole"/> (<c>Server</c> on a client, <c>Client</c> on a server).
        /// The platform's own chain verdict is ignored (a private CA always fails it); any
        /// exception means rejection. <paramref name="onVerified"/> sees the accepted peer;
        /// <paramref name="clock"/> defaults to the system clock.
        /// </summary>
        public RemoteCertificateValidationCallback CreateValidationCallback(PeerUsage peerRole, Action<PeerIdentity> onVerified = null, Func<DateTimeOffset> clock = null)
        {
            return (sender, certificate, chain, errors) => Accepts(certificate, chain, peerRole, onVerified, clock);
        }

        /// <summary>
        /// The Kestrel <c>HttpsConnectionAdapterOptions.ClientCertificateValidation</c> shape:
        /// accepts a client certificate only when the core verifies its whole presented chain
        /// as a client. Any exception means rejection.
        /// </summary>
        public Func<X509Certificate2, X509Chain, SslPolicyErrors, bool> CreateClientCertificateValidation(Action<PeerIdentity> onVerified = null, Func<DateTimeOffset> clock = null)
        {
            return (certificate, chain, errors) => Accepts(certificate, chain, PeerUsage.Client, onVerified, clock);
        }

        /// <summary>Releases the native verifier; callbacks made from it then reject everything.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>The presented chain as DER, leaf first (the platform's chain may repeat the leaf).</summary>
        internal static List<byte[]> PresentedChain(X509Certificate certificate, X509Chain chain)
        {
            var leaf = certificate.GetRawCertData();
            var ders = new List<byte[]> { leaf };
            if (chain != null)
            {
                for (var i = 0; i < chain.ChainElements.Count; i++)
                {
                    var der = chain.ChainElements[i].Certificate.RawData;
                    if (!Same(der, leaf))
                    {
                        ders.Add(der);
                    }
                }
            }
            return ders;
        }

        private bool Accepts(X509Certificate certificate, X509Chain chain, PeerUsage role, Action<PeerIdentity> onVerified, Func<DateTimeOffset> clock)
        {
            try
            {
                if (certificate == null)
                {
                    return false;
                }
                var at = clock == null ? DateTimeOffset.UtcNow : clock();
                var peer = Verify(PresentedChain(certificate, chain), role, at);
                onVerified?.Invoke(peer);
                return true;
            }
            catch (Exception)
            {
                // Fail closed: a rejected chain, a disposed verifier, a callback that threw.
                return false;
            }
        }

        private static bool Same(byte[] a, byte[] b)
        {
            if (a.Length != b.Length)
            {
                return false;
            }
            for (var i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i])
                {
                    return false;
                }
            }
            return true;
        }

        private static PeerIdentity Read(Peer peer)
        {
            using (peer)
            {
                var count = (int)Native.meshtls_peer_dns_name_count(peer).ToUInt64();
                var dns = new List<string>(count);
                for (var i = 0; i < count; i++)
                {
                    NativeBuffer.Handle b;
                    MeshTlsException.Check(Native.meshtls_peer_dns_name(peer, (UIntPtr)i, out b));
                    dns.Add(NativeBuffer.TakeString(b));
                }
                return new PeerIdentity(
                    NativeBuffer.TextOf(peer, Native.meshtls_peer_spiffe_id),
                    NativeBuffer.TextOf(peer, Native.meshtls_peer_common_name),
                    dns.AsReadOnly(),
                    NativeBuffer.TextOf(peer, Native.meshtls_peer_serial_hex),
                    NativeBuffer.TextOf(peer, Native.meshtls_peer_fingerprint_hex),
                    NativeBuffer.TextOf(peer, Native.meshtls_peer_spki_fingerprint_hex),
                    NativeBuffer.TextOf(peer, Native.meshtls_peer_anchor_subject),
                    UnixTime.From(Native.meshtls_peer_not_before(peer)),
                    UnixTime.From(Native.meshtls_peer_not_after(peer)));
            }
        }

        /// <summary>A native <c>meshtls_verifier*</c>, freed with <c>meshtls_verifier_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_verifier_free(handle);
                return true;
            }
        }

        /// <summary>A native <c>meshtls_peer*</c>, freed with <c>meshtls_peer_free</c>.</summary>
        internal sealed class Peer : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Peer() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_peer_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_verifier_new(TrustBundle.Handle bundle, Policy.Handle policy, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_verifier_new_with_options(TrustBundle.Handle bundle, Policy.Handle policy, ref VerifyOptions.Raw options, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_verifier_verify_pem(Handle v, byte[] chainPem, UIntPtr len, uint usage, long at, out Peer p);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_verifier_verify_der(Handle v, byte[] data, UIntPtr dataLen, UIntPtr[] certLens, UIntPtr count, uint usage, long at, out Peer p);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_verifier_free(IntPtr v);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_spiffe_id(Peer p, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_common_name(Peer p, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_serial_hex(Peer p, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_fingerprint_hex(Peer p, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_spki_fingerprint_hex(Peer p, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_anchor_subject(Peer p, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_peer_dns_name_count(Peer p);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_peer_dns_name(Peer p, UIntPtr index, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern long meshtls_peer_not_before(Peer p);

            [DllImport("meshtls_ffi")]
            public static extern long meshtls_peer_not_after(Peer p);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_peer_free(IntPtr p);
        }
    }
}

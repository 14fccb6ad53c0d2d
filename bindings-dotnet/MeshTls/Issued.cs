using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>What to issue: a SPIFFE ID, DNS names, usage, lifetime, key algorithm.</summary>
    public sealed class IssueRequest
    {
        /// <summary>A request for this SPIFFE ID (<c>spiffe://mesh.internal/service/api</c>) with the core's defaults.</summary>
        public IssueRequest(string spiffeId)
        {
            SpiffeId = spiffeId ?? throw new ArgumentNullException(nameof(spiffeId));
        }

        private IssueRequest(byte[] csr, string spiffeId)
        {
            Csr = csr ?? throw new ArgumentNullException(nameof(csr));
            SpiffeId = spiffeId;
        }

        /// <summary>
        /// A request for a PKCS#10 CSR (PEM or DER): its ID, DNS and IP names are used and its key
        /// stays with the requester. With <paramref name="spiffeId"/>, the CSR must name that ID
        /// or none (<c>InvalidRequest</c> otherwise: the ID is never replaced).
        /// </summary>
        public static IssueRequest FromCsr(byte[] csr, string spiffeId = null) => new IssueRequest(csr, spiffeId);

        /// <summary>The SPIFFE ID (the certificate's one URI SAN); null for a CSR's own.</summary>
        public string SpiffeId { get; }

        /// <summary>The CSR, when the requester keeps its key; null to generate a key.</summary>
        public byte[] Csr { get; }

        /// <summary>DNS SANs.</summary>
        public IList<string> DnsNames { get; } = new List<string>();

        /// <summary>IP address SANs, as text (parsed by the core).</summary>
        public IList<string> IpAddresses { get; } = new List<string>();

        /// <summary>Usage (default both).</summary>
        public Usage Usage { get; set; }

        /// <summary>Lifetime from now (null: the core's default, 90 days).</summary>
        public TimeSpan? Lifetime { get; set; }

        /// <summary>The key algorithm meshtls generates.</summary>
        public KeyAlgorithm Key { get; set; }
    }

    /// <summary>
    /// An issued certificate: the leaf, the chain to present, the generated key (null when
    /// issued from a CSR) and its facts. Dispose it to release the native key.
    /// </summary>
    public sealed class Issued : IDisposable
    {
        private readonly Handle handle;

        internal Issued(Handle handle)
        {
            this.handle = handle;
        }

        /// <summary>The leaf certificate, PEM.</summary>
        public string CertPem => Text(Native.meshtls_issued_cert_pem);

        /// <summary>The chain to present (leaf, then intermediates; no root), PEM.</summary>
        public string ChainPem => Text(Native.meshtls_issued_chain_pem);

        /// <summary>The generated private key, PKCS#8 PEM; null when issued from a CSR.</summary>
        public string KeyPem => Text(Native.meshtls_issued_key_pem);

        /// <summary>The serial number, lowercase hex.</summary>
        public string SerialHex => Text(Native.meshtls_issued_serial_hex);

        /// <summary>SHA-256 of the leaf DER, lowercase hex.</summary>
        public string FingerprintHex => Text(Native.meshtls_issued_fingerprint_hex);

        /// <summary>Start of validity.</summary>
        public DateTimeOffset NotBefore => UnixTime.From(Native.meshtls_issued_not_before(handle));

        /// <summary>End of validity.</summary>
        public DateTimeOffset NotAfter => UnixTime.From(Native.meshtls_issued_not_after(handle));

        /// <summary>A password-protected PKCS#12 (PFX) with the key and chain.</summary>
        /// <exception cref="MeshTlsException">Issued from a CSR: there is no key (<c>InvalidRequest</c>).</exception>
        public byte[] ToPkcs12(string password, Pkcs12Profile profile = Pkcs12Profile.Default)
        {
            if (password == null)
            {
                throw new ArgumentNullException(nameof(password));
            }
            NativeBuffer.Handle b;
            MeshTlsException.Check(Native.meshtls_issued_to_pkcs12(handle, NativeBuffer.Utf8(password), (uint)profile, out b));
            return NativeBuffer.TakeBytes(b);
        }

        /// <summary>
        /// The leaf with its private key, for <c>SslStream.AuthenticateAsServer</c>/<c>AsClient</c>
        /// or Kestrel. It goes through a legacy-profile PKCS#12, the form every .NET runtime
        /// (Mono included) reads; the chain's intermediates are in <see cref="ChainPem"/>.
        /// </summary>
        /// <exception cref="MeshTlsException">Issued from a CSR (<c>InvalidRequest</c>).</exception>
        public X509Certificate2 ToX509Certificate2()
        {
            var password = Pkcs12.RandomPassword();
            return Pkcs12.Load(ToPkcs12(password, Pkcs12Profile.Legacy), password);
        }

        /// <summary>Releases the native certificate and key.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        private string Text(NativeBuffer.Getter<Handle> getter) => NativeBuffer.TextOf(handle, getter);

        /// <summary>A native <c>meshtls_issued*</c>, freed with <c>meshtls_issued_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_issued_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issued_cert_pem(Handle issued, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issued_chain_pem(Handle issued, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issued_key_pem(Handle issued, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issued_serial_hex(Handle issued, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issued_fingerprint_hex(Handle issued, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_issued_to_pkcs12(Handle issued, byte[] password, uint profile, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern long meshtls_issued_not_before(Handle issued);

            [DllImport("meshtls_ffi")]
            public static extern long meshtls_issued_not_after(Handle issued);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_issued_free(IntPtr issued);
        }
    }

    /// <summary>A key pair and a CSR made for it: send the CSR, keep the key.</summary>
    public sealed class GeneratedCsr
    {
        internal GeneratedCsr(string csrPem, string keyPem)
        {
            CsrPem = csrPem;
            KeyPem = keyPem;
        }

        /// <summary>The CSR, PEM.</summary>
        public string CsrPem { get; }

        /// <summary>The private key, PKCS#8 PEM (it never leaves the requester).</summary>
        public string KeyPem { get; }

        /// <summary>Generates a key and a CSR naming the SPIFFE ID and DNS names.</summary>
        /// <exception cref="MeshTlsException">A bad ID (<c>Malformed</c>) or DNS name (<c>InvalidRequest</c>).</exception>
        public static GeneratedCsr Create(string spiffeId, IEnumerable<string> dnsNames = null, KeyAlgorithm key = KeyAlgorithm.Default)
        {
            if (spiffeId == null)
            {
                throw new ArgumentNullException(nameof(spiffeId));
            }
            using (var dns = new NativeBuffer.StringArray(dnsNames))
            {
                NativeBuffer.Handle csr, pem;
                MeshTlsException.Check(Native.meshtls_create_csr(NativeBuffer.Utf8(spiffeId), dns.Pointers, dns.Count, (uint)key, out csr, out pem));
                return new GeneratedCsr(NativeBuffer.TakeString(csr), NativeBuffer.TakeString(pem));
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_create_csr(byte[] spiffeId, IntPtr[] dnsNames, UIntPtr dnsNamesLen, uint key, out NativeBuffer.Handle csr, out NativeBuffer.Handle keyPem);
        }
    }

    /// <summary>PKCS#12 (PFX) files: how a certificate with its key enters .NET.</summary>
    public static class Pkcs12
    {
        /// <summary>
        /// A password-protected PKCS#12 from a certificate chain PEM (leaf first) and its key PEM
        /// (encrypted under <paramref name="keyPassphrase"/>, or plain when null).
        /// </summary>
        /// <exception cref="MeshTlsException"><c>Malformed</c> input, <c>WrongPassphrase</c>.</exception>
        public static byte[] FromPem(string chainPem, string keyPem, string keyPassphrase, string password, Pkcs12Profile profile = Pkcs12Profile.Default)
        {
            var chain = NativeBuffer.Text(chainPem);
            var key = NativeBuffer.Text(keyPem);
            if (password == null)
            {
                throw new ArgumentNullException(nameof(password));
            }
            NativeBuffer.Handle b;
            MeshTlsException.Check(Native.meshtls_pkcs12_from_pem(
                chain, (UIntPtr)chain.Length, key, (UIntPtr)key.Length, NativeBuffer.Utf8(keyPassphrase),
                NativeBuffer.Utf8(password), (uint)profile, out b));
            return NativeBuffer.TakeBytes(b);
        }

        /// <summary>
        /// The leaf of a chain PEM with its key, as an <see cref="X509Certificate2"/> with a
        /// private key (through a legacy-profile PKCS#12, which every .NET runtime reads).
        /// </summary>
        public static X509Certificate2 ToX509Certificate2(string chainPem, string keyPem, string keyPassphrase = null)
        {
            var password = RandomPassword();
            return Load(FromPem(chainPem, keyPem, keyPassphrase, password, Pkcs12Profile.Legacy), password);
        }

        internal static X509Certificate2 Load(byte[] pfx, string password)
        {
            return new X509Certificate2(pfx, password, X509KeyStorageFlags.Exportable);
        }

        internal static string RandomPassword()
        {
            var bytes = new byte[18];
            using (var rng = RandomNumberGenerator.Create())
            {
                rng.GetBytes(bytes);
            }
            return Convert.ToBase64String(bytes);
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_pkcs12_from_pem(byte[] chainPem, UIntPtr chainLen, byte[] keyPem, UIntPtr keyLen, byte[] keyPassphrase, byte[] password, uint profile, out NativeBuffer.Handle b);
        }
    }
}

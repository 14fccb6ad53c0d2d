using System;
using System.Collections.Generic;
using System.Net.Security;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Authentication;

namespace MeshTls
{
    /// <summary>One cipher suite of the meshtls TLS profile.</summary>
    public sealed class TlsCipherSuite
    {
        internal TlsCipherSuite(int id, int version, string iana, string openSsl)
        {
            Id = id;
            Version = version;
            IanaName = iana;
            OpenSslName = openSsl;
        }

        /// <summary>The wire number (<c>0xc02b</c>), the value of .NET's <c>TlsCipherSuite</c> enum.</summary>
        public int Id { get; }

        /// <summary>The protocol version it belongs to, as a wire number (<c>0x0303</c> TLS 1.2, <c>0x0304</c> TLS 1.3).</summary>
        public int Version { get; }

        /// <summary>The IANA name (<c>TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256</c>).</summary>
        public string IanaName { get; }

        /// <summary>The OpenSSL name (<c>ECDHE-ECDSA-AES128-GCM-SHA256</c>).</summary>
        public string OpenSslName { get; }

        /// <inheritdoc />
        public override string ToString() => IanaName;
    }

    /// <summary>One key-exchange group of the meshtls TLS profile.</summary>
    public sealed class TlsGroup
    {
        internal TlsGroup(int id, bool hybrid, string iana, string openSsl)
        {
            Id = id;
            Hybrid = hybrid;
            IanaName = iana;
            OpenSslName = openSsl;
        }

        /// <summary>The wire number (<c>0x001d</c> for x25519).</summary>
        public int Id { get; }

        /// <summary>A post-quantum hybrid, offered first where the TLS stack has it.</summary>
        public bool Hybrid { get; }

        /// <summary>The IANA name (<c>x25519</c>, <c>secp256r1</c>).</summary>
        public string IanaName { get; }

        /// <summary>The OpenSSL name (<c>X25519</c>, <c>P-256</c>).</summary>
        public string OpenSslName { get; }
    }

    /// <summary>
    /// The one TLS profile of meshtls, read from the native library (the Rust transport's own
    /// tables): TLS 1.3 only by default; with TLS 1.2 opted in, only ECDHE key exchange with
    /// AEAD suites. <see cref="Apply"/> restricts an <see cref="SslStream"/> before its
    /// handshake as far as the platform lets it, and <see cref="Check"/> refuses a negotiated
    /// connection outside the profile after it. <see cref="TlsClient"/> and
    /// <see cref="TlsServer"/> do both.
    /// </summary>
    /// <remarks>
    /// What each platform allows: on Mono (BoringSSL) <see cref="Apply"/> sets the stream's own
    /// list of enabled suites, so a server offering only CBC or DHE suites is refused in the
    /// handshake (<c>no shared cipher</c>), and <see cref="Check"/> reads the exact negotiated
    /// suite; Mono has no TLS 1.3. On .NET Core 3.0+ <see cref="Check"/> reads
    /// <c>SslStream.NegotiatedCipherSuite</c>; enforcing suites before the handshake there needs
    /// <c>SslClientAuthenticationOptions.CipherSuitesPolicy</c> (Linux), outside netstandard2.0.
    /// Where the platform says neither, a TLS 1.2 connection is refused (its suite cannot be
    /// vouched for); TLS 1.3 suites are all ECDHE + AEAD.
    /// </remarks>
    public sealed class TlsProfile
    {
        private const int Tls12 = 0x0303;
        /// <summary><c>SslProtocols.Tls13</c>, absent from netstandard2.0's enum.</summary>
        private const SslProtocols SslProtocolsTls13 = (SslProtocols)12288;

        private TlsProfile(bool allowTls12)
        {
            AllowsTls12 = allowTls12;
            MinVersion = Native.meshtls_tls_profile_min_version(allowTls12);
            MaxVersion = Native.meshtls_tls_profile_max_version(allowTls12);
            var suites = new List<TlsCipherSuite>();
            var count = (int)Native.meshtls_tls_profile_suite_count(allowTls12).ToUInt64();
            for (var i = 0; i < count; i++)
            {
                RawSuite s;
                MeshTlsException.Check(Native.meshtls_tls_profile_suite(allowTls12, (UIntPtr)i, out s));
                suites.Add(new TlsCipherSuite(s.Id, s.Version, NativeBuffer.StringAt(s.Iana), NativeBuffer.StringAt(s.OpenSsl)));
            }
            CipherSuites = suites.AsReadOnly();
            var groups = new List<TlsGroup>();
            var n = (int)Native.meshtls_tls_profile_group_count().ToUInt64();
            for (var i = 0; i < n; i++)
            {
                RawGroup g;
                MeshTlsException.Check(Native.meshtls_tls_profile_group((UIntPtr)i, out g));
                groups.Add(new TlsGroup(g.Id, g.Hybrid, NativeBuffer.StringAt(g.Iana), NativeBuffer.StringAt(g.OpenSsl)));
            }
            Groups = groups.AsReadOnly();
        }

        private static readonly Lazy<TlsProfile> Strict = new Lazy<TlsProfile>(() => new TlsProfile(false));
        private static readonly Lazy<TlsProfile> Opted = new Lazy<TlsProfile>(() => new TlsProfile(true));

        /// <summary>The default: TLS 1.3 only.</summary>
        public static TlsProfile Default => Strict.Value;

        /// <summary>TLS 1.3, and TLS 1.2 with ECDHE + AEAD suites only (what a Mono peer needs).</summary>
        public static TlsProfile WithTls12 => Opted.Value;

        /// <summary>Whether TLS 1.2 is allowed.</summary>
        public bool AllowsTls12 { get; }

        /// <summary>The lowest version accepted, as a wire number (<c>0x0304</c>, or <c>0x0303</c> with TLS 1.2).</summary>
        public int MinVersion { get; }

        /// <summary>The highest version offered, as a wire number (<c>0x0304</c>).</summary>
        public int MaxVersion { get; }

        /// <summary>The cipher suites offered and accepted, in order of preference.</summary>
        public IReadOnlyList<TlsCipherSuite> CipherSuites { get; }

        /// <summary>The key-exchange groups, in order of preference.</summary>
        public IReadOnlyList<TlsGroup> Groups { get; }

        /// <summary>The <see cref="SslProtocols"/> to authenticate with: TLS 1.3, and TLS 1.2 when allowed.</summary>
        public SslProtocols Protocols => AllowsTls12 ? SslProtocolsTls13 | SslProtocols.Tls12 : SslProtocolsTls13;

        /// <summary>Whether the suite with this wire number is in the profile.</summary>
        public bool Allows(int cipherSuite)
        {
            foreach (var s in CipherSuites)
            {
                if (s.Id == cipherSuite)
                {
                    return true;
                }
            }
            return false;
        }

        /// <summary>
        /// Restricts a new, not yet authenticated <paramref name="stream"/> to the profile's
        /// TLS 1.2 suites where the platform lets a stream be restricted (Mono: yes; every
        /// TLS 1.3 suite is in the profile). Returns whether it did (false for a TLS 1.3-only
        /// profile: there is no TLS 1.2 suite to allow, and <see cref="Check"/> refuses a
        /// TLS 1.2 connection); either way call <see cref="Check"/> after the handshake.
        /// </summary>
        public bool Apply(SslStream stream)
        {
            if (stream == null)
            {
                throw new ArgumentNullException(nameof(stream));
            }
            try
            {
                // Mono keeps per-stream MonoTlsSettings whose EnabledCiphers BoringSSL honours.
                var field = typeof(SslStream).GetField("settings", BindingFlags.Instance | BindingFlags.NonPublic);
                var settings = field?.GetValue(stream);
                var property = settings?.GetType().GetProperty("EnabledCiphers");
                var type = property?.PropertyType.GetElementType();
                if (type == null || !type.IsEnum)
                {
                    return false;
                }
                var tls12 = new List<TlsCipherSuite>();
                foreach (var suite in CipherSuites)
                {
                    if (suite.Version == Tls12)
                    {
                        tls12.Add(suite);
                    }
                }
                if (tls12.Count == 0)
                {
                    // BoringSSL refuses an empty list (and does not take TLS 1.3 suites in it).
                    return false;
                }
                var ids = Array.CreateInstance(type, tls12.Count);
                for (var i = 0; i < tls12.Count; i++)
                {
                    ids.SetValue(Enum.ToObject(type, (ushort)tls12[i].Id), i);
                }
                property.SetValue(settings, ids);
                return true;
            }
            catch (Exception)
            {
                // A platform without those internals: the check after the handshake remains.
                return false;
            }
        }

        /// <summary>
        /// Refuses an authenticated <paramref name="stream"/> whose version or cipher suite is
        /// outside the profile (a CBC or DHE suite, TLS 1.2 without the opt-in).
        /// </summary>
        /// <exception cref="MeshTlsException">
        /// <see cref="ErrorCode.Unsupported"/>, naming what was negotiated.
        /// </exception>
        public void Check(SslStream stream)
        {
            if (stream == null)
            {
                throw new ArgumentNullException(nameof(stream));
            }
            var protocol = stream.SslProtocol;
            if (protocol == SslProtocolsTls13)
            {
                return;
            }
            if (protocol != SslProtocols.Tls12 || !AllowsTls12)
            {
                throw Refusal($"the connection negotiated {protocol}, outside the meshtls TLS profile (TLS 1.3{(AllowsTls12 ? " or 1.2" : " only; TLS 1.2 is opt-in")})");
            }
            var suite = NegotiatedCipherSuite(stream);
            if (!suite.HasValue)
            {
                throw Refusal("the connection negotiated TLS 1.2 and this platform does not say which cipher suite: it cannot be checked against the meshtls TLS profile");
            }
            if (!Allows(suite.Value))
            {
                throw Refusal($"the connection negotiated cipher suite {SuiteName(stream, suite.Value)}, outside the meshtls TLS profile (ECDHE key exchange with AEAD suites only)");
            }
        }

        /// <summary>
        /// The wire number of the suite an authenticated <paramref name="stream"/> negotiated,
        /// or null when the platform does not say (<c>NegotiatedCipherSuite</c> on .NET Core
        /// 3.0+, the connection information of Mono's TLS provider).
        /// </summary>
        public static int? NegotiatedCipherSuite(SslStream stream)
        {
            if (stream == null)
            {
                throw new ArgumentNullException(nameof(stream));
            }
            try
            {
                var core = typeof(SslStream).GetProperty("NegotiatedCipherSuite");
                if (core != null)
                {
                    return Convert.ToInt32(core.GetValue(stream));
                }
                var info = MonoConnectionInfo(stream);
                var code = info?.GetType().GetProperty("CipherSuiteCode")?.GetValue(info);
                return code == null ? (int?)null : Convert.ToInt32(code);
            }
            catch (Exception)
            {
                return null;
            }
        }

        private static object MonoConnectionInfo(SslStream stream)
        {
            var impl = typeof(SslStream).GetProperty("Impl", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(stream);
            return impl?.GetType().GetMethod("GetConnectionInfo", Type.EmptyTypes)?.Invoke(impl, null);
        }

        private static string SuiteName(SslStream stream, int id)
        {
            string name = null;
            try
            {
                var core = typeof(SslStream).GetProperty("NegotiatedCipherSuite");
                object value = core != null ? core.GetValue(stream) : MonoConnectionInfo(stream)?.GetType().GetProperty("CipherSuiteCode")?.GetValue(MonoConnectionInfo(stream));
                name = value?.ToString();
            }
            catch (Exception)
            {
            }
            return $"{name ?? "?"} (0x{id:x4})";
        }

        private static MeshTlsException Refusal(string why)
        {
            return new MeshTlsException(ErrorCode.Unsupported, "unsupported: " + why);
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct RawSuite
        {
            public ushort Id;
            public ushort Version;
            public IntPtr Iana;
            public IntPtr OpenSsl;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct RawGroup
        {
            public ushort Id;
            [MarshalAs(UnmanagedType.I1)] public bool Hybrid;
            public IntPtr Iana;
            public IntPtr OpenSsl;
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern ushort meshtls_tls_profile_min_version([MarshalAs(UnmanagedType.I1)] bool allowTls12);

            [DllImport("meshtls_ffi")]
            public static extern ushort meshtls_tls_profile_max_version([MarshalAs(UnmanagedType.I1)] bool allowTls12);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_tls_profile_suite_count([MarshalAs(UnmanagedType.I1)] bool allowTls12);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_tls_profile_suite([MarshalAs(UnmanagedType.I1)] bool allowTls12, UIntPtr index, out RawSuite suite);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_tls_profile_group_count();

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_tls_profile_group(UIntPtr index, out RawGroup group);
        }
    }
}

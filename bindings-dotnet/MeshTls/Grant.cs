using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>
    /// What a join token or an administrator allows: an ID pattern, DNS names, IP addresses, a
    /// usage and a longest lifetime. The core decides (<see cref="Authority.IssueGranted"/>):
    /// a request outside the grant is <c>NotAuthorized</c>, a reserved identity (the CA
    /// service's own ID, an administrator's) is never issued through a join token.
    /// </summary>
    public sealed class Grant : IDisposable
    {
        private readonly Handle handle;

        private Grant(Handle handle)
        {
            this.handle = handle;
        }

        /// <summary>
        /// A join token's grant: IDs matching <paramref name="ids"/>, only the DNS names listed
        /// (exact, or <c>*.suffix</c> for one more label), no IP address, any usage.
        /// </summary>
        /// <exception cref="MeshTlsException">A bad pattern (<c>Malformed</c>) or a name that is not a hostname (<c>InvalidRequest</c>).</exception>
        public static Grant JoinToken(string ids, IEnumerable<string> dnsNames = null)
        {
            if (ids == null)
            {
                throw new ArgumentNullException(nameof(ids));
            }
            using (var dns = new NativeBuffer.StringArray(dnsNames))
            {
                Handle h;
                MeshTlsException.Check(Native.meshtls_grant_join_token(NativeBuffer.Utf8(ids), dns.Pointers, dns.Count, out h));
                return new Grant(h);
            }
        }

        /// <summary>An operator's administrator grant: IDs matching <paramref name="ids"/>, reserved ones included; any name and usage until restricted.</summary>
        /// <exception cref="MeshTlsException">A bad pattern (<c>Malformed</c>).</exception>
        public static Grant Administrator(string ids)
        {
            if (ids == null)
            {
                throw new ArgumentNullException(nameof(ids));
            }
            Handle h;
            MeshTlsException.Check(Native.meshtls_grant_administrator(NativeBuffer.Utf8(ids), out h));
            return new Grant(h);
        }

        /// <summary>Allows exactly these DNS names; returns this grant.</summary>
        public Grant WithDnsNames(IEnumerable<string> dnsNames)
        {
            using (var dns = new NativeBuffer.StringArray(dnsNames))
            {
                MeshTlsException.Check(Native.meshtls_grant_set_dns_names(handle, dns.Pointers, dns.Count));
            }
            return this;
        }

        /// <summary>Allows exactly these IP addresses (text); returns this grant.</summary>
        public Grant WithIpAddresses(IEnumerable<string> ipAddresses)
        {
            using (var ips = new NativeBuffer.StringArray(ipAddresses))
            {
                MeshTlsException.Check(Native.meshtls_grant_set_ip_addresses(handle, ips.Pointers, ips.Count));
            }
            return this;
        }

        /// <summary>Allows only this usage; returns this grant.</summary>
        public Grant WithUsage(Usage usage)
        {
            MeshTlsException.Check(Native.meshtls_grant_set_usage(handle, NativeBuffer.Utf8(Names.Of(usage))));
            return this;
        }

        /// <summary>Caps the lifetime (within the core's bounds); returns this grant.</summary>
        public Grant WithMaxLifetime(TimeSpan maxLifetime)
        {
            var secs = maxLifetime <= TimeSpan.Zero ? 0UL : (ulong)Math.Ceiling(maxLifetime.TotalSeconds);
            MeshTlsException.Check(Native.meshtls_grant_set_max_lifetime(handle, secs));
            return this;
        }

        internal Handle NativeHandle => handle;

        /// <summary>Frees the native grant.</summary>
        public void Dispose() => handle.Dispose();

        /// <summary>A native <c>meshtls_grant*</c>, freed with <c>meshtls_grant_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_grant_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_grant_join_token(byte[] ids, IntPtr[] dnsNames, UIntPtr dnsNamesLen, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_grant_administrator(byte[] ids, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_grant_set_dns_names(Handle grant, IntPtr[] dnsNames, UIntPtr dnsNamesLen);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_grant_set_ip_addresses(Handle grant, IntPtr[] ipAddresses, UIntPtr ipAddressesLen);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_grant_set_usage(Handle grant, byte[] usage);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_grant_set_max_lifetime(Handle grant, ulong maxLifetimeSecs);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_grant_free(IntPtr grant);
        }
    }

    /// <summary>The core's names of the enums the C ABI takes as text.</summary>
    internal static class Names
    {
        /// <summary><c>server</c>, <c>client</c>, <c>both</c>; a value outside the enum goes to the core as its number, which refuses it.</summary>
        public static string Of(Usage usage)
        {
            switch (usage)
            {
                case Usage.Server: return "server";
                case Usage.Client: return "client";
                case Usage.Both: return "both";
                default: return ((uint)usage).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        /// <summary>The key algorithm's core name; a value outside the enum goes as its number (<c>Unsupported</c>).</summary>
        public static string Of(KeyAlgorithm key)
        {
            switch (key)
            {
                case KeyAlgorithm.EcdsaP256: return "ecdsa-p256";
                case KeyAlgorithm.EcdsaP384: return "ecdsa-p384";
                case KeyAlgorithm.Ed25519: return "ed25519";
                case KeyAlgorithm.Rsa2048: return "rsa-2048";
                case KeyAlgorithm.Rsa4096: return "rsa-4096";
                default: return ((uint)key).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }
}

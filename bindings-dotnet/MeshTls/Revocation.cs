using System;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>
    /// A CA's revocation records: the source of its CRLs (<see cref="Authority.BuildCrl"/>).
    /// </summary>
    public sealed class RevocationList : IDisposable
    {
        private readonly Handle handle;

        /// <summary>No revocations.</summary>
        public RevocationList()
        {
            MeshTlsException.Check(Native.meshtls_revocation_list_new(out handle));
        }

        private RevocationList(Handle handle)
        {
            this.handle = handle;
        }

        internal Handle NativeHandle => handle;

        /// <summary>Parses records written by <see cref="ToText"/> (the CLI's records file).</summary>
        /// <exception cref="MeshTlsException">Not a records file (<c>Malformed</c>).</exception>
        public static RevocationList FromText(string text)
        {
            var bytes = NativeBuffer.Text(text);
            Handle h;
            MeshTlsException.Check(Native.meshtls_revocation_list_from_text(bytes, (UIntPtr)bytes.Length, out h));
            return new RevocationList(h);
        }

        /// <summary>The records as text, to keep beside the CA.</summary>
        public string ToText()
        {
            NativeBuffer.Handle b;
            MeshTlsException.Check(Native.meshtls_revocation_list_to_text(handle, out b));
            return NativeBuffer.TakeString(b);
        }

        /// <summary>
        /// Records a revocation of the serial (hex) at <paramref name="at"/>; false when it was
        /// already revoked (nothing changes then).
        /// </summary>
        /// <exception cref="MeshTlsException">A serial that is not hex (<c>Malformed</c>); a time
        /// a CRL cannot carry, before 1970 or after 9999 (<c>InvalidRequest</c>).</exception>
        public bool Revoke(string serialHex, RevocationReason reason, DateTimeOffset at)
        {
            if (serialHex == null)
            {
                throw new ArgumentNullException(nameof(serialHex));
            }
            bool added;
            MeshTlsException.Check(Native.meshtls_revocation_list_revoke(handle, NativeBuffer.Utf8(serialHex), (uint)reason, UnixTime.Of(at), out added));
            return added;
        }

        /// <summary>How many serials are revoked.</summary>
        public int Count => (int)Native.meshtls_revocation_list_len(handle).ToUInt64();

        /// <summary>Releases the native records.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>A native <c>meshtls_revocation_list*</c>, freed with <c>meshtls_revocation_list_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_revocation_list_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_revocation_list_new(out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_revocation_list_from_text(byte[] text, UIntPtr len, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_revocation_list_to_text(Handle l, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_revocation_list_revoke(Handle l, byte[] serialHex, uint reason, long at, [MarshalAs(UnmanagedType.I1)] out bool added);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_revocation_list_len(Handle l);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_revocation_list_free(IntPtr l);
        }
    }
}

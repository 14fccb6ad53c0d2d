using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>
    /// Bytes and strings across the C ABI: UTF-8 in as NUL-terminated byte arrays, owned native
    /// buffers out, copied into managed memory and freed at once.
    /// </summary>
    internal static class NativeBuffer
    {
        /// <summary>A native <c>meshtls_buffer*</c>, freed with <c>meshtls_buffer_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_buffer_free(handle);
                return true;
            }
        }

        /// <summary>The bytes of a buffer (null when the native side returned NULL), then frees it.</summary>
        internal static byte[] TakeBytes(Handle buf)
        {
            using (buf)
            {
                if (buf.IsInvalid)
                {
                    return null;
                }
                var len = (int)Native.meshtls_buffer_len(buf).ToUInt64();
                var data = new byte[len];
                if (len > 0)
                {
                    Marshal.Copy(Native.meshtls_buffer_data(buf), data, 0, len);
                }
                return data;
            }
        }

        /// <summary>The UTF-8 text of a buffer (null for NULL), then frees it.</summary>
        internal static string TakeString(Handle buf)
        {
            var bytes = TakeBytes(buf);
            return bytes == null ? null : Encoding.UTF8.GetString(bytes);
        }

        /// <summary>A native getter that hands out a buffer for a handle of type <typeparamref name="T"/>.</summary>
        internal delegate uint Getter<T>(T handle, out Handle buf);

        /// <summary>Calls <paramref name="getter"/> on <paramref name="handle"/>, throws on its code,
        /// and returns the buffer's text (freed).</summary>
        internal static string TextOf<T>(T handle, Getter<T> getter)
        {
            Handle b;
            MeshTlsException.Check(getter(handle, out b));
            return TakeString(b);
        }

        /// <summary>A NUL-terminated UTF-8 string from native memory (null for NULL).</summary>
        internal static string StringAt(IntPtr p)
        {
            if (p == IntPtr.Zero)
            {
                return null;
            }
            var n = 0;
            while (Marshal.ReadByte(p, n) != 0)
            {
                n++;
            }
            var bytes = new byte[n];
            Marshal.Copy(p, bytes, 0, n);
            return System.Text.Encoding.UTF8.GetString(bytes);
        }

        /// <summary>A NUL-terminated UTF-8 copy of a string (null stays null: a NULL pointer).</summary>
        internal static byte[] Utf8(string s)
        {
            if (s == null)
            {
                return null;
            }
            var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// <summary>UTF-8 bytes of PEM text, without a NUL (passed with a length).</summary>
        internal static byte[] Text(string s)
        {
            if (s == null)
            {
                throw new ArgumentNullException(nameof(s));
            }
            return Encoding.UTF8.GetBytes(s);
        }

        /// <summary>
        /// A native array of NUL-terminated UTF-8 strings (<c>const char *const *</c>), freed by
        /// disposing it.
        /// </summary>
        internal sealed class StringArray : IDisposable
        {
            private readonly IntPtr[] items;

            public StringArray(IEnumerable<string> strings)
            {
                var list = new List<IntPtr>();
                try
                {
                    foreach (var s in strings ?? new string[0])
                    {
                        if (s == null)
                        {
                            throw new ArgumentNullException(nameof(strings), "a name in the list is null");
                        }
                        var bytes = Utf8(s);
                        var p = Marshal.AllocHGlobal(bytes.Length);
                        Marshal.Copy(bytes, 0, p, bytes.Length);
                        list.Add(p);
                    }
                }
                catch
                {
                    list.ForEach(Marshal.FreeHGlobal);
                    throw;
                }
                items = list.ToArray();
            }

            /// <summary>The pointers (an empty array for no strings).</summary>
            public IntPtr[] Pointers => items;

            /// <summary>How many strings.</summary>
            public UIntPtr Count => (UIntPtr)items.Length;

            public void Dispose()
            {
                foreach (var p in items)
                {
                    Marshal.FreeHGlobal(p);
                }
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern IntPtr meshtls_buffer_data(Handle buf);

            [DllImport("meshtls_ffi")]
            public static extern UIntPtr meshtls_buffer_len(Handle buf);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_buffer_free(IntPtr buf);
        }
    }

    /// <summary>Conversions between <see cref="DateTimeOffset"/> and the ABI's Unix seconds.</summary>
    internal static class UnixTime
    {
        internal static long Of(DateTimeOffset t) => t.ToUnixTimeSeconds();

        internal static DateTimeOffset From(long seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds);
    }
}

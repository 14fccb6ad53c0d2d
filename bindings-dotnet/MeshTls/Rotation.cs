using System;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>Where a certificate stands in its renewal schedule.</summary>
    public enum RotationState
    {
        /// <summary>No action before <see cref="RotationStatus.RenewAt"/>.</summary>
        Fresh = 1,
        /// <summary>Renew now.</summary>
        RenewDue = 2,
        /// <summary>Expired: it can no longer be used.</summary>
        Expired = 3,
    }

    /// <summary>A certificate's rotation status.</summary>
    public struct RotationStatus
    {
        internal RotationStatus(RotationState state, DateTimeOffset? renewAt)
        {
            State = state;
            RenewAt = renewAt;
        }

        /// <summary>Fresh, renew due, or expired.</summary>
        public RotationState State { get; }

        /// <summary>When renewal becomes due (only for <see cref="RotationState.Fresh"/>).</summary>
        public DateTimeOffset? RenewAt { get; }
    }

    /// <summary>
    /// When to renew: at a fraction of the lifetime (default 2/3) or a margin before expiry,
    /// moved earlier by a jitter so that a fleet does not renew at once.
    /// </summary>
    public sealed class RotationPolicy : IDisposable
    {
        private readonly Handle handle;

        private RotationPolicy(Handle handle)
        {
            this.handle = handle;
        }

        internal Handle NativeHandle => handle;

        /// <summary>The core's default schedule.</summary>
        public static RotationPolicy Default()
        {
            Handle h;
            MeshTlsException.Check(Native.meshtls_rotation_policy_new(out h));
            return new RotationPolicy(h);
        }

        /// <summary>Renew at this fraction of the lifetime (strictly between 0 and 1).</summary>
        /// <exception cref="MeshTlsException">Out of range (<c>InvalidRequest</c>).</exception>
        public static RotationPolicy AtFraction(double fraction)
        {
            Handle h;
            MeshTlsException.Check(Native.meshtls_rotation_policy_at_fraction(fraction, out h));
            return new RotationPolicy(h);
        }

        /// <summary>Renew this long before expiry.</summary>
        public static RotationPolicy BeforeExpiry(TimeSpan margin)
        {
            if (margin < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(margin));
            }
            Handle h;
            MeshTlsException.Check(Native.meshtls_rotation_policy_before_expiry((ulong)margin.TotalSeconds, out h));
            return new RotationPolicy(h);
        }

        /// <summary>Sets the jitter (0 to 0.5 of the lifetime). Returns this policy.</summary>
        /// <exception cref="MeshTlsException">Out of range (<c>InvalidRequest</c>).</exception>
        public RotationPolicy WithJitter(double jitter)
        {
            MeshTlsException.Check(Native.meshtls_rotation_policy_set_jitter(handle, jitter));
            return this;
        }

        /// <summary>The status at <paramref name="now"/> of a certificate (PEM; the first of a chain).</summary>
        /// <exception cref="MeshTlsException">Garbage (<c>Malformed</c>).</exception>
        public RotationStatus Status(string certPem, DateTimeOffset now)
        {
            var pem = NativeBuffer.Text(certPem);
            uint state;
            long renewAt = 0;
            MeshTlsException.Check(Native.meshtls_rotation_policy_status(handle, pem, (UIntPtr)pem.Length, UnixTime.Of(now), out state, ref renewAt));
            var s = (RotationState)state;
            return new RotationStatus(s, s == RotationState.Fresh ? UnixTime.From(renewAt) : (DateTimeOffset?)null);
        }

        /// <summary>Releases the native policy.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }

        /// <summary>A native <c>meshtls_rotation_policy*</c>, freed with <c>meshtls_rotation_policy_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_rotation_policy_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_rotation_policy_new(out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_rotation_policy_at_fraction(double fraction, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_rotation_policy_before_expiry(ulong marginSecs, out Handle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_rotation_policy_set_jitter(Handle p, double jitter);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_rotation_policy_status(Handle p, byte[] cert, UIntPtr len, long now, out uint status, ref long renewAt);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_rotation_policy_free(IntPtr p);
        }
    }
}

using System;
using System.Collections.Generic;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Win32.SafeHandles;

namespace MeshTls
{
    /// <summary>
    /// The enrollment client of the meshtls CA service (<c>meshtls serve</c>): enroll with a join
    /// token, then hold an <see cref="EnrolledIdentity"/> that renews itself and keeps its trust
    /// bundle and CRL fresh. The key is made in this process and never leaves it; the service
    /// only sees a CSR. The work is the Rust client's, on the native library's own threads: the
    /// calls are asynchronous end to end (no thread waits for the network) and honour a
    /// <see cref="CancellationToken"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// var options = new EnrollOptions(File.ReadAllText("ca-bundle.pem")) { StateDirectory = "/var/lib/node" };
    /// using (var node = await Enrollment.EnrollAsync("https://ca.mesh.internal:8443", token,
    ///                                                "spiffe://mesh.internal/service/api", options))
    /// using (var verifier = node.Verifier())
    /// using (var cert = node.Certificate)
    /// {
    ///     var tls = new SslStream(tcp.GetStream(), false, verifier.CreateValidationCallback(PeerUsage.Server));
    ///     tls.AuthenticateAsClient("api", new X509CertificateCollection { cert }, SslProtocols.Tls12, false);
    /// }
    /// </code>
    /// </example>
    public static class Enrollment
    {
        /// <summary>
        /// Enrolls <paramref name="spiffeId"/> at the CA service <paramref name="url"/>
        /// (<c>https://host:port</c>) with a join <paramref name="token"/>.
        /// </summary>
        /// <exception cref="MeshTlsException">
        /// <see cref="MeshTlsException.CodeName"/> says why: <c>token_used</c>, <c>token_invalid</c>,
        /// <c>token_expired</c>, <c>identity_mismatch</c> (the service refused:
        /// <see cref="ErrorCode.ServiceError"/>); <c>transport</c> (unreachable, or its certificate
        /// is not vouched for by the bundle: <see cref="ErrorCode.Transport"/>);
        /// <c>invalid_request</c> (not an https URL); <c>malformed</c> (bundle, SPIFFE ID).
        /// </exception>
        /// <exception cref="OperationCanceledException">
        /// <paramref name="cancellationToken"/> fired first: the native work is stopped, and an
        /// identity it had made already is freed.
        /// </exception>
        public static Task<EnrolledIdentity> EnrollAsync(string url, string token, string spiffeId, EnrollOptions options, CancellationToken cancellationToken = default)
        {
            if (url == null)
            {
                throw new ArgumentNullException(nameof(url));
            }
            if (token == null)
            {
                throw new ArgumentNullException(nameof(token));
            }
            if (spiffeId == null)
            {
                throw new ArgumentNullException(nameof(spiffeId));
            }
            if (options == null)
            {
                throw new ArgumentNullException(nameof(options));
            }
            var u = NativeBuffer.Utf8(url);
            var t = NativeBuffer.Utf8(token);
            var id = NativeBuffer.Utf8(spiffeId);
            return StartAsync(options, cancellationToken, opts => (NativeTask.CompletionCallback cb, IntPtr ud, out NativeTask.Handle task) =>
                Native.meshtls_enroll_async(u, t, id, opts, cb, ud, out task));
        }

        /// <summary>
        /// Picks up the identity an earlier <see cref="EnrollAsync"/> kept in
        /// <see cref="EnrollOptions.StateDirectory"/> (after a restart): no token is needed while
        /// its certificate is valid. The options need the same bundle and a state directory.
        /// </summary>
        /// <exception cref="MeshTlsException">
        /// <c>invalid_request</c> when there is no state directory or no identity in it; the
        /// other codes as <see cref="EnrollAsync"/>.
        /// </exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
        public static Task<EnrolledIdentity> ResumeAsync(string url, EnrollOptions options, CancellationToken cancellationToken = default)
        {
            if (url == null)
            {
                throw new ArgumentNullException(nameof(url));
            }
            if (options == null)
            {
                throw new ArgumentNullException(nameof(options));
            }
            var u = NativeBuffer.Utf8(url);
            return StartAsync(options, cancellationToken, opts => (NativeTask.CompletionCallback cb, IntPtr ud, out NativeTask.Handle task) =>
                Native.meshtls_enroll_resume_async(u, opts, cb, ud, out task));
        }

        /// <summary>
        /// Makes the native options, starts the asynchronous call, and wraps the identity it
        /// delivers. The rotation callback's GCHandle goes with the native identity (released
        /// when it is freed), or is released once the completion says none was made.
        /// </summary>
        private static async Task<EnrolledIdentity> StartAsync(EnrollOptions options, CancellationToken cancellationToken, Func<EnrollOptions.OptionsHandle, NativeTask.Start> call)
        {
            var events = new EnrolledIdentity.Events();
            Task<IntPtr> pending;
            try
            {
                using (var native = options.ToNative(events.UserData))
                {
                    pending = NativeTask.Run(
                        call(native),
                        cancellationToken,
                        orphan => EnrolledIdentity.Handle.Adopt(orphan, events).Dispose(),
                        delivered =>
                        {
                            if (!delivered)
                            {
                                // No identity reached us: none calls the rotation callback.
                                events.Release();
                            }
                        });
                }
            }
            catch
            {
                events.Release();
                throw;
            }
            var h = EnrolledIdentity.Handle.Adopt(await pending.ConfigureAwait(false), events);
            return new EnrolledIdentity(h, events);
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_async(byte[] url, byte[] token, byte[] spiffeId, EnrollOptions.OptionsHandle options, NativeTask.CompletionCallback callback, IntPtr userData, out NativeTask.Handle task);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_resume_async(byte[] url, EnrollOptions.OptionsHandle options, NativeTask.CompletionCallback callback, IntPtr userData, out NativeTask.Handle task);
        }
    }

    /// <summary>
    /// The settings of <see cref="Enrollment.EnrollAsync"/> and
    /// <see cref="Enrollment.ResumeAsync"/>: the CA bundle that vouches for the service (given to
    /// the node with its token), and optional settings whose defaults are the client's.
    /// </summary>
    public sealed class EnrollOptions
    {
        /// <summary>
        /// Options trusting the CA certificates of <paramref name="caBundlePemOrPath"/> (PEM
        /// text, or the path of a PEM file, read when the call starts) to vouch for the service.
        /// </summary>
        public EnrollOptions(string caBundlePemOrPath)
        {
            CaBundlePem = caBundlePemOrPath ?? throw new ArgumentNullException(nameof(caBundlePemOrPath));
        }

        /// <summary>Options trusting the CA certificates of the PEM bytes to vouch for the service.</summary>
        public EnrollOptions(byte[] caBundlePem)
        {
            if (caBundlePem == null)
            {
                throw new ArgumentNullException(nameof(caBundlePem));
            }
            CaBundlePem = System.Text.Encoding.UTF8.GetString(caBundlePem);
        }

        /// <summary>The CA certificates (PEM, or the path of a PEM file) that vouch for the service.</summary>
        public string CaBundlePem { get; }

        /// <summary>DNS names to ask for (the token must grant them).</summary>
        public IList<string> DnsNames { get; } = new List<string>();

        /// <summary>The algorithm of the node's keys (default ECDSA P-256).</summary>
        public KeyAlgorithm KeyAlgorithm { get; set; } = KeyAlgorithm.Default;

        /// <summary>The SPIFFE ID the service must present (default <c>spiffe://&lt;trust domain&gt;/meshtls/ca</c>).</summary>
        public string ServiceId { get; set; }

        /// <summary>When to renew (default: the core's, 2/3 of the lifetime with jitter). Copied when the call starts.</summary>
        public RotationPolicy Rotation { get; set; }

        /// <summary>
        /// Who <see cref="EnrolledIdentity.Verifier()"/> accepts as a peer (default: every member of
        /// the identity's trust domain). Copied when the call starts.
        /// </summary>
        public Policy PeerPolicy { get; set; }

        /// <summary>How often the bundle and CRL are fetched again (default 5 minutes; whole seconds).</summary>
        public TimeSpan? RefreshInterval { get; set; }

        /// <summary>The timeout of each request to the service (default 30 seconds).</summary>
        public TimeSpan? Timeout { get; set; }

        /// <summary>
        /// Where the chain and key are kept (<c>identity.pem</c>, mode 0600, replaced on each
        /// renewal) so that <see cref="Enrollment.ResumeAsync"/> works after a restart (default:
        /// nowhere).
        /// </summary>
        public string StateDirectory { get; set; }

        /// <summary>The native options, with the rotation callback bound to <paramref name="userData"/>.</summary>
        internal OptionsHandle ToNative(IntPtr userData)
        {
            var bundle = TrustBundle.Contents(CaBundlePem, "CA bundle");
            OptionsHandle h;
            MeshTlsException.Check(Native.meshtls_enroll_options_new(bundle, (UIntPtr)bundle.Length, out h));
            try
            {
                foreach (var name in DnsNames)
                {
                    if (name == null)
                    {
                        throw new ArgumentException("a DNS name is null", nameof(DnsNames));
                    }
                    MeshTlsException.Check(Native.meshtls_enroll_options_add_dns_name(h, NativeBuffer.Utf8(name)));
                }
                MeshTlsException.Check(Native.meshtls_enroll_options_set_key_algorithm(h, (uint)KeyAlgorithm));
                MeshTlsException.Check(Native.meshtls_enroll_options_set_service_id(h, NativeBuffer.Utf8(ServiceId)));
                if (Rotation != null)
                {
                    MeshTlsException.Check(Native.meshtls_enroll_options_set_rotation_policy(h, Rotation.NativeHandle));
                }
                if (PeerPolicy != null)
                {
                    MeshTlsException.Check(Native.meshtls_enroll_options_set_peer_policy(h, PeerPolicy.NativeHandle));
                }
                if (RefreshInterval.HasValue)
                {
                    MeshTlsException.Check(Native.meshtls_enroll_options_set_refresh_interval(h, Seconds(RefreshInterval.Value, nameof(RefreshInterval))));
                }
                if (Timeout.HasValue)
                {
                    MeshTlsException.Check(Native.meshtls_enroll_options_set_timeout_ms(h, Milliseconds(Timeout.Value, nameof(Timeout))));
                }
                MeshTlsException.Check(Native.meshtls_enroll_options_set_state_dir(h, NativeBuffer.Utf8(StateDirectory)));
                MeshTlsException.Check(Native.meshtls_enroll_options_set_rotation_callback(h, EnrolledIdentity.Events.Callback, userData));
                return h;
            }
            catch
            {
                h.Dispose();
                throw;
            }
        }

        private static ulong Seconds(TimeSpan t, string what)
        {
            if (t < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(what, "negative");
            }
            return (ulong)t.TotalSeconds;
        }

        private static ulong Milliseconds(TimeSpan t, string what)
        {
            if (t < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(what, "negative");
            }
            return (ulong)t.TotalMilliseconds;
        }

        /// <summary>A native <c>meshtls_enroll_options*</c>, freed with <c>meshtls_enroll_options_free</c>.</summary>
        internal sealed class OptionsHandle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public OptionsHandle() : base(true)
            {
            }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_enroll_options_free(handle);
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_new(byte[] pem, UIntPtr len, out OptionsHandle h);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_add_dns_name(OptionsHandle o, byte[] name);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_key_algorithm(OptionsHandle o, uint key);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_service_id(OptionsHandle o, byte[] spiffeId);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_rotation_policy(OptionsHandle o, RotationPolicy.Handle policy);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_peer_policy(OptionsHandle o, Policy.Handle policy);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_refresh_interval(OptionsHandle o, ulong seconds);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_timeout_ms(OptionsHandle o, ulong milliseconds);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_state_dir(OptionsHandle o, byte[] dir);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enroll_options_set_rotation_callback(OptionsHandle o, EnrolledIdentity.RotationCallback callback, IntPtr userData);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_enroll_options_free(IntPtr o);
        }
    }

    /// <summary>What happened in the renewal schedule of an <see cref="EnrolledIdentity"/>.</summary>
    public enum RotationEventKind
    {
        /// <summary>A new certificate and key were checked and swapped in.</summary>
        Renewed = 1,
        /// <summary>A renewal attempt failed; the current identity is kept and the attempt repeated later.</summary>
        Failed = 2,
        /// <summary>The current certificate is due for renewal, or has expired.</summary>
        Expiring = 3,
    }

    /// <summary>One event of the renewal schedule (<see cref="EnrolledIdentity.Rotated"/>).</summary>
    public sealed class RotationEventArgs : EventArgs
    {
        internal RotationEventArgs(RotationEventKind kind, long generation, string serial, DateTimeOffset? notAfter, bool expired, int attempt, TimeSpan retryIn, string code, string message)
        {
            Kind = kind;
            Generation = generation;
            Serial = serial;
            NotAfter = notAfter;
            Expired = expired;
            Attempt = attempt;
            RetryIn = retryIn;
            Code = code;
            Message = message;
        }

        /// <summary>What happened.</summary>
        public RotationEventKind Kind { get; }

        /// <summary>The identity's generation when it happened (a renewal's new generation).</summary>
        public long Generation { get; }

        /// <summary>Serial (lowercase hex) of the new certificate (<c>Renewed</c>) or the current one (<c>Expiring</c>); null for <c>Failed</c>.</summary>
        public string Serial { get; }

        /// <summary>When that certificate expires; null for <c>Failed</c>.</summary>
        public DateTimeOffset? NotAfter { get; }

        /// <summary><c>Expiring</c>: whether the certificate has expired already.</summary>
        public bool Expired { get; }

        /// <summary><c>Failed</c>: 1 for the first failure since the last success.</summary>
        public int Attempt { get; }

        /// <summary><c>Failed</c>: the delay before the next attempt.</summary>
        public TimeSpan RetryIn { get; }

        /// <summary>
        /// <c>Failed</c>: the core's code when the core rejected the new certificate
        /// (<c>unknown_issuer</c>...) or the CA service refused with a core code (<c>revoked</c>);
        /// null when the service could not be reached or refused with a code of its own (see
        /// <see cref="Message"/>), and for the other kinds.
        /// </summary>
        public string Code { get; }

        /// <summary><c>Failed</c>: what went wrong; null for the other kinds.</summary>
        public string Message { get; }
    }

    /// <summary>
    /// An identity from the CA service: renews itself before it expires (a new key each time) and
    /// keeps its trust bundle and CRL fresh, on the native library's threads, until disposed.
    /// Its members may be used from several threads.
    /// </summary>
    public sealed class EnrolledIdentity : IDisposable
    {
        private readonly Handle handle;
        // The certificate objects of the current and the previous generation (the lock).
        private readonly object certificates = new object();
        private X509Certificate2 current;
        private X509Certificate2 previous;
        private long currentGeneration = -1;
        private bool disposed;

        internal Handle NativeHandle => handle;

        internal EnrolledIdentity(Handle handle, Events events)
        {
            this.handle = handle;
            try
            {
                SpiffeId = Text(Native.meshtls_enrolled_spiffe_id);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
            events.Attach(this);
        }

        /// <summary>
        /// Raised for every event of the renewal schedule (renewed, failed, expiring), in order, on
        /// a thread-pool thread (never the native library's). An exception thrown by a handler is
        /// caught and dropped: it cannot reach the native library nor end the schedule.
        /// </summary>
        public event EventHandler<RotationEventArgs> Rotated;

        /// <summary>The SPIFFE ID.</summary>
        public string SpiffeId { get; }

        /// <summary>The serial (lowercase hex) of the current certificate.</summary>
        public string Serial => Text(Native.meshtls_enrolled_serial_hex);

        /// <summary>0 after enrolling (or resuming), one more after each renewal.</summary>
        public long Generation => (long)Native.meshtls_enrolled_generation(handle);

        /// <summary>
        /// How many CRLs fetched from the service were refused for stepping back (a lower CRL
        /// number than the one held, or the same number with other content): the held CRL
        /// stays, and <see cref="RefreshTrustAsync"/> fails with <c>StaleCrl</c>.
        /// </summary>
        public long StaleCrlRefusals => (long)Native.meshtls_enrolled_stale_crl_refusals(handle);

        /// <summary>The current chain, PEM, leaf first.</summary>
        public string ChainPem => Text(Native.meshtls_enrolled_chain_pem);

        /// <summary>
        /// The current certificate with its private key, for <c>SslStream</c> or Kestrel: the
        /// same object on every read until the identity renews, then one for the new
        /// generation (chain and key always of one generation). The identity owns it: do not
        /// dispose it. A superseded certificate stays usable until the certificate after its
        /// successor is made (a handshake that picked it up just before a renewal completes),
        /// then is disposed; all are disposed with the identity. Cheap to read on every handshake, as
        /// Kestrel's <c>ServerCertificateSelector</c> does.
        /// </summary>
        /// <exception cref="ObjectDisposedException">The identity was disposed.</exception>
        public X509Certificate2 Certificate
        {
            get
            {
                lock (certificates)
                {
                    if (disposed)
                    {
                        throw new ObjectDisposedException(nameof(EnrolledIdentity));
                    }
                    var generation = Generation;
                    // A caller who disposed it anyway gets a fresh one rather than a dead object.
                    if (current != null && currentGeneration == generation && current.Handle != IntPtr.Zero)
                    {
                        return current;
                    }
                    X509Certificate2 cert;
                    while (true)
                    {
                        var before = Generation;
                        cert = Export();
                        generation = Generation;
                        if (before == generation)
                        {
                            break;
                        }
                        // A renewal landed during the export: the chain may be the older one.
                        cert.Dispose();
                    }
                    if (current != null && currentGeneration != generation)
                    {
                        previous?.Dispose();
                        previous = current;
                    }
                    else
                    {
                        current?.Dispose();
                    }
                    current = cert;
                    currentGeneration = generation;
                    return cert;
                }
            }
        }

        /// <summary>
        /// A <see cref="LocalCertificateSelectionCallback"/> for an <c>SslStream</c> client that
        /// presents this identity's current <see cref="Certificate"/> whenever the server asks,
        /// whatever CAs it names (Mono's default selection sends nothing to a server that names
        /// acceptable CAs). <see cref="TlsClient"/> does the same for an identity it is given.
        /// </summary>
        public LocalCertificateSelectionCallback CreateCertificateSelectionCallback()
        {
            return (sender, host, local, remote, acceptable) => Certificate;
        }

        /// <summary>
        /// Kestrel's <c>HttpsConnectionAdapterOptions.ServerCertificateSelector</c> shape (by
        /// delegate variance it is assignable there): each handshake gets the current
        /// <see cref="Certificate"/>, so a renewal reaches new connections with no restart.
        /// </summary>
        /// <example><code>options.ServerCertificateSelector = node.CreateServerCertificateSelector();</code></example>
        public Func<object, string, X509Certificate2> CreateServerCertificateSelector()
        {
            return (connection, serverName) => Certificate;
        }

        /// <summary>The current chain and key as a new certificate object.</summary>
        private X509Certificate2 Export()
        {
            var password = Pkcs12.RandomPassword();
            NativeBuffer.Handle b;
            MeshTlsException.Check(Native.meshtls_enrolled_to_pkcs12(handle, NativeBuffer.Utf8(password), (uint)Pkcs12Profile.Legacy, out b));
            return Pkcs12.Load(NativeBuffer.TakeBytes(b), password);
        }

        /// <summary>
        /// The peer verifier as of now: the CA bundle and CRL last fetched from the service, with
        /// <see cref="EnrollOptions.PeerPolicy"/> (default: the members of this identity's trust
        /// domain). A snapshot that later refreshes do not reach (<see cref="Trust"/> does).
        /// Dispose it.
        /// </summary>
        public Verifier Verifier()
        {
            Verifier.Handle h;
            MeshTlsException.Check(Native.meshtls_enrolled_verifier(handle, out h));
            return new Verifier(h);
        }

        /// <summary>
        /// The peer trust, live: a <see cref="MeshTls.Verifier"/> that always uses the CA bundle and
        /// CRL last fetched from the service, with <see cref="EnrollOptions.PeerPolicy"/>. A
        /// validation callback made from it once refuses a certificate revoked through the
        /// service after the next refresh (<see cref="RefreshTrustAsync"/> or the schedule), and
        /// takes the new CA of a CA rotation. After <see cref="Dispose"/> it keeps what it last
        /// had. Dispose it.
        /// </summary>
        public Verifier Trust()
        {
            Verifier.Handle h;
            MeshTlsException.Check(Native.meshtls_enrolled_trust(handle, out h));
            return new Verifier(h);
        }

        /// <summary>
        /// Another live trust on the same CA bundle and CRL with its own
        /// <paramref name="policy"/>, for a second listener that admits other peers than
        /// <see cref="EnrollOptions.PeerPolicy"/> does; refreshed with <see cref="Trust"/> while
        /// it is held. Dispose it.
        /// </summary>
        /// <param name="policy">Who the verifier accepts (copied).</param>
        /// <exception cref="ArgumentNullException"><paramref name="policy"/> is null.</exception>
        public Verifier TrustFor(Policy policy)
        {
            if (policy == null)
            {
                throw new ArgumentNullException(nameof(policy));
            }
            Verifier.Handle h;
            MeshTlsException.Check(Native.meshtls_enrolled_trust_for(handle, policy.NativeHandle, out h));
            return new Verifier(h);
        }

        /// <summary>Renews now (a new key and certificate; the schedule does it by itself).</summary>
        /// <exception cref="MeshTlsException">As enrolling (<c>revoked</c> when the service refuses a revoked identity).</exception>
        /// <exception cref="OperationCanceledException">
        /// <paramref name="cancellationToken"/> fired first: the renewal is abandoned and the
        /// current certificate kept.
        /// </exception>
        public Task RenewNowAsync(CancellationToken cancellationToken = default)
        {
            return NativeTask.Run((NativeTask.CompletionCallback cb, IntPtr ud, out NativeTask.Handle task) =>
                Native.meshtls_enrolled_renew_now_async(handle, cb, ud, out task), cancellationToken, null, null);
        }

        /// <summary>Fetches the CA bundle and CRL now (the schedule does it every refresh interval).</summary>
        /// <exception cref="MeshTlsException">As enrolling.</exception>
        /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired first.</exception>
        public Task RefreshTrustAsync(CancellationToken cancellationToken = default)
        {
            return NativeTask.Run((NativeTask.CompletionCallback cb, IntPtr ud, out NativeTask.Handle task) =>
                Native.meshtls_enrolled_refresh_trust_async(handle, cb, ud, out task), cancellationToken, null, null);
        }

        /// <summary>Stops the renewals and refreshes; no <see cref="Rotated"/> event starts afterwards.</summary>
        public void Dispose()
        {
            lock (certificates)
            {
                disposed = true;
                current?.Dispose();
                previous?.Dispose();
                current = previous = null;
            }
            // The native identity is freed now, or when the last call in flight (a renewal) ends.
            handle.Dispose();
        }

        private string Text(NativeBuffer.Getter<Handle> getter) => NativeBuffer.TextOf(handle, getter);

        private void Raise(RotationEventArgs args)
        {
            var handlers = Rotated;
            if (handlers == null)
            {
                return;
            }
            foreach (EventHandler<RotationEventArgs> h in handlers.GetInvocationList())
            {
                try
                {
                    h(this, args);
                }
                catch (Exception)
                {
                    // A handler's failure is its own; the schedule and the other handlers go on.
                }
            }
        }

        /// <summary>The native rotation callback's signature.</summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void RotationCallback(IntPtr userData, IntPtr ev);

        /// <summary>
        /// Receives the native callback for one identity (found through a GCHandle passed as the
        /// user data) and raises <see cref="Rotated"/> in order on the thread pool.
        /// </summary>
        internal sealed class Events
        {
            /// <summary>One static delegate for every identity, so the GC never collects it.</summary>
            internal static readonly RotationCallback Callback = OnNative;

            private readonly object gate = new object();
            private GCHandle self;
            // Weak: an identity nobody holds is collected, and its handle's finalizer stops it.
            private WeakReference<EnrolledIdentity> owner;
            private Task queue = Task.FromResult(0);

            internal Events()
            {
                self = GCHandle.Alloc(this);
            }

            internal IntPtr UserData => GCHandle.ToIntPtr(self);

            internal void Attach(EnrolledIdentity identity)
            {
                lock (gate)
                {
                    owner = new WeakReference<EnrolledIdentity>(identity);
                }
            }

            /// <summary>Once no native call can come any more.</summary>
            internal void Release()
            {
                lock (gate)
                {
                    owner = null;
                    if (self.IsAllocated)
                    {
                        self.Free();
                    }
                }
            }

            private static void OnNative(IntPtr userData, IntPtr ev)
            {
                // Runs on a native thread: nothing may escape.
                try
                {
                    var events = GCHandle.FromIntPtr(userData).Target as Events;
                    if (events == null || ev == IntPtr.Zero)
                    {
                        return;
                    }
                    var raw = (RawEvent)Marshal.PtrToStructure(ev, typeof(RawEvent));
                    var kind = (RotationEventKind)raw.Kind;
                    var args = new RotationEventArgs(
                        kind,
                        (long)raw.Generation,
                        NativeBuffer.StringAt(raw.SerialHex),
                        kind == RotationEventKind.Failed ? (DateTimeOffset?)null : UnixTime.From(raw.NotAfter),
                        raw.Expired != 0,
                        (int)raw.Attempt,
                        TimeSpan.FromMilliseconds(raw.RetryInMs),
                        NativeBuffer.StringAt(raw.Code),
                        NativeBuffer.StringAt(raw.Message));
                    events.Enqueue(args);
                }
                catch (Exception)
                {
                    // An event we could not read is dropped rather than let into native code.
                }
            }

            private void Enqueue(RotationEventArgs args)
            {
                lock (gate)
                {
                    queue = queue.ContinueWith(_ =>
                    {
                        WeakReference<EnrolledIdentity> w;
                        lock (gate)
                        {
                            w = owner;
                        }
                        EnrolledIdentity o;
                        if (w != null && w.TryGetTarget(out o))
                        {
                            o.Raise(args);
                        }
                    }, TaskScheduler.Default);
                }
            }
        }

        /// <summary>The C <c>meshtls_rotation_event</c>.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct RawEvent
        {
            public uint Kind;
            public ulong Generation;
            public IntPtr SerialHex;
            public long NotAfter;
            public byte Expired;
            public uint Attempt;
            public ulong RetryInMs;
            public IntPtr Code;
            public IntPtr Message;
        }

        /// <summary>A native <c>meshtls_enrolled*</c>, freed with <c>meshtls_enrolled_free</c>.</summary>
        internal sealed class Handle : SafeHandleZeroOrMinusOneIsInvalid
        {
            /// <summary>Made by the marshaller for out-parameters.</summary>
            public Handle() : base(true)
            {
            }

            /// <summary>Takes ownership of a native identity delivered by an asynchronous call.</summary>
            internal static Handle Adopt(IntPtr enrolled, Events events)
            {
                var h = new Handle { Events = events };
                h.SetHandle(enrolled);
                return h;
            }

            /// <summary>The callback's receiver, released once the native identity is freed.</summary>
            internal Events Events { get; set; }

            protected override bool ReleaseHandle()
            {
                Native.meshtls_enrolled_free(handle);
                // meshtls_enrolled_free has returned: the callback is not running and will not
                // be called again, so its GCHandle may go.
                Events?.Release();
                return true;
            }
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_spiffe_id(Handle e, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_serial_hex(Handle e, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_chain_pem(Handle e, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_to_pkcs12(Handle e, byte[] password, uint profile, out NativeBuffer.Handle b);

            [DllImport("meshtls_ffi")]
            public static extern ulong meshtls_enrolled_generation(Handle e);

            [DllImport("meshtls_ffi")]
            public static extern ulong meshtls_enrolled_stale_crl_refusals(Handle e);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_verifier(Handle e, out Verifier.Handle v);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_trust(Handle e, out Verifier.Handle v);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_trust_for(Handle e, Policy.Handle policy, out Verifier.Handle v);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_renew_now_async(Handle e, NativeTask.CompletionCallback callback, IntPtr userData, out NativeTask.Handle task);

            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_enrolled_refresh_trust_async(Handle e, NativeTask.CompletionCallback callback, IntPtr userData, out NativeTask.Handle task);

            [DllImport("meshtls_ffi")]
            public static extern void meshtls_enrolled_free(IntPtr e);
        }
    }
}

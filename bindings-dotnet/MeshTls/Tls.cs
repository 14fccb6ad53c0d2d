using System;
using System.IO;
using System.Net.Security;
using System.Runtime.InteropServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace MeshTls
{
    /// <summary>
    /// An authenticated <see cref="SslStream"/> from <see cref="TlsClient"/> or
    /// <see cref="TlsServer"/>, with the peer the core verified. Disposing it closes the stream.
    /// </summary>
    public sealed class TlsConnection : IDisposable
    {
        internal TlsConnection(SslStream stream, PeerIdentity peer)
        {
            Stream = stream;
            Peer = peer;
            CipherSuite = TlsProfile.NegotiatedCipherSuite(stream);
        }

        /// <summary>The stream, authenticated and checked against the profile.</summary>
        public SslStream Stream { get; }

        /// <summary>The peer, as the core verified it.</summary>
        public PeerIdentity Peer { get; }

        /// <summary>The negotiated protocol.</summary>
        public SslProtocols Protocol => Stream.SslProtocol;

        /// <summary>The negotiated cipher suite's wire number, when the platform says.</summary>
        public int? CipherSuite { get; }

        /// <summary>Closes the stream (and the inner stream).</summary>
        public void Dispose()
        {
            Stream.Dispose();
        }
    }

    /// <summary>
    /// The client side of an mTLS connection over <see cref="SslStream"/>, the meshtls way: the
    /// server verified by the core, this side's certificate presented whenever the server
    /// asks (a <see cref="LocalCertificateSelectionCallback"/>, whatever CAs the server names),
    /// the <see cref="TlsProfile"/> applied before and checked after the handshake. A failure is
    /// a <see cref="MeshTlsException"/> with a meshtls code, never a bare handshake failure:
    /// the core's code when this side refused the server; the code of the server's TLS alert
    /// when it refused this client (<c>identity_not_allowed</c> for <c>access_denied</c>,
    /// <c>unknown_issuer</c> for <c>unknown_ca</c>...); <c>no_certificate</c> when it refused a
    /// client that had no certificate to present; <c>unsupported</c> for a version or suite
    /// outside the profile; <c>io</c> for the rest.
    /// </summary>
    /// <example>
    /// <code>
    /// using (var conn = await TlsClient.AuthenticateAsync(tcp.GetStream(), "api", node.Trust(), node, TlsProfile.WithTls12))
    /// {
    ///     Console.WriteLine(conn.Peer.SpiffeId);
    ///     await conn.Stream.WriteAsync(request, 0, request.Length);
    /// }
    /// </code>
    /// </example>
    public static class TlsClient
    {
        /// <summary>
        /// Authenticates as a client presenting <paramref name="identity"/>'s current
        /// certificate (read at each request of the server, so a renewal is picked up).
        /// </summary>
        public static Task<TlsConnection> AuthenticateAsync(Stream inner, string targetHost, Verifier verifier, EnrolledIdentity identity, TlsProfile profile, CancellationToken cancellationToken = default)
        {
            if (identity == null)
            {
                throw new ArgumentNullException(nameof(identity));
            }
            return Run(inner, targetHost, verifier, () => identity.Certificate, profile, cancellationToken);
        }

        /// <summary>
        /// Authenticates as a client presenting <paramref name="certificate"/> (with its
        /// private key), or none when it is null.
        /// </summary>
        public static Task<TlsConnection> AuthenticateAsync(Stream inner, string targetHost, Verifier verifier, X509Certificate2 certificate, TlsProfile profile, CancellationToken cancellationToken = default)
        {
            return Run(inner, targetHost, verifier, certificate == null ? (Func<X509Certificate2>)null : () => certificate, profile, cancellationToken);
        }

        /// <summary>
        /// A selection callback for an <see cref="SslStream"/> of one's own that presents
        /// <paramref name="certificate"/> whenever the server asks. Without one, Mono sends
        /// nothing to a server that names acceptable CAs (OpenSSL's <c>-Verify</c>).
        /// </summary>
        public static LocalCertificateSelectionCallback CertificateSelection(X509Certificate2 certificate)
        {
            if (certificate == null)
            {
                throw new ArgumentNullException(nameof(certificate));
            }
            return (sender, host, local, remote, acceptable) => certificate;
        }

        private static async Task<TlsConnection> Run(Stream inner, string targetHost, Verifier verifier, Func<X509Certificate2> certificate, TlsProfile profile, CancellationToken cancellationToken)
        {
            if (inner == null)
            {
                throw new ArgumentNullException(nameof(inner));
            }
            if (targetHost == null)
            {
                throw new ArgumentNullException(nameof(targetHost));
            }
            if (verifier == null)
            {
                throw new ArgumentNullException(nameof(verifier));
            }
            if (profile == null)
            {
                throw new ArgumentNullException(nameof(profile));
            }
            cancellationToken.ThrowIfCancellationRequested();
            var check = new PeerCheck(verifier, PeerUsage.Server);
            var stream = new SslStream(inner, false, check.Callback,
                (sender, host, local, remote, acceptable) => certificate?.Invoke());
            try
            {
                profile.Apply(stream);
                var first = certificate?.Invoke();
                var offered = first == null ? new X509CertificateCollection() : new X509CertificateCollection { first };
                using (cancellationToken.Register(stream.Dispose))
                {
                    try
                    {
                        await stream.AuthenticateAsClientAsync(targetHost, offered, profile.Protocols, false).ConfigureAwait(false);
                    }
                    catch (Exception e) when (!(e is MeshTlsException))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        throw Handshake.Explain(e, check.Refusal, first == null, "server");
                    }
                }
                profile.Check(stream);
                return new TlsConnection(stream, check.Peer);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }
    }

    /// <summary>
    /// The server side of an mTLS connection over <see cref="SslStream"/>: a client
    /// certificate required and verified by the core, the <see cref="TlsProfile"/> applied
    /// before and checked after the handshake; failures as <see cref="TlsClient"/>'s (the
    /// core's code when this side refused the client, <c>no_certificate</c> when it sent none).
    /// </summary>
    public static class TlsServer
    {
        /// <summary>Authenticates as a server presenting <paramref name="identity"/>'s current certificate.</summary>
        public static Task<TlsConnection> AuthenticateAsync(Stream inner, Verifier verifier, EnrolledIdentity identity, TlsProfile profile, CancellationToken cancellationToken = default)
        {
            if (identity == null)
            {
                throw new ArgumentNullException(nameof(identity));
            }
            return AuthenticateAsync(inner, verifier, identity.Certificate, profile, cancellationToken);
        }

        /// <summary>Authenticates as a server presenting <paramref name="certificate"/> (with its private key).</summary>
        public static async Task<TlsConnection> AuthenticateAsync(Stream inner, Verifier verifier, X509Certificate2 certificate, TlsProfile profile, CancellationToken cancellationToken = default)
        {
            if (inner == null)
            {
                throw new ArgumentNullException(nameof(inner));
            }
            if (verifier == null)
            {
                throw new ArgumentNullException(nameof(verifier));
            }
            if (certificate == null)
            {
                throw new ArgumentNullException(nameof(certificate));
            }
            if (profile == null)
            {
                throw new ArgumentNullException(nameof(profile));
            }
            cancellationToken.ThrowIfCancellationRequested();
            var check = new PeerCheck(verifier, PeerUsage.Client);
            var stream = new SslStream(inner, false, check.Callback);
            try
            {
                profile.Apply(stream);
                using (cancellationToken.Register(stream.Dispose))
                {
                    try
                    {
                        await stream.AuthenticateAsServerAsync(certificate, true, profile.Protocols, false).ConfigureAwait(false);
                    }
                    catch (Exception e) when (!(e is MeshTlsException))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        throw Handshake.Explain(e, check.Refusal, false, "client");
                    }
                }
                if (check.Peer == null)
                {
                    // A platform that completed the handshake without asking the callback.
                    throw check.Refusal ?? new MeshTlsException(ErrorCode.NoCertificate, "no_certificate: the client presented no certificate");
                }
                profile.Check(stream);
                return new TlsConnection(stream, check.Peer);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }
    }

    /// <summary>The validation callback of one handshake, keeping the core's verdict.</summary>
    internal sealed class PeerCheck
    {
        private readonly Verifier verifier;
        private readonly PeerUsage role;

        internal PeerCheck(Verifier verifier, PeerUsage role)
        {
            this.verifier = verifier;
            this.role = role;
        }

        internal PeerIdentity Peer { get; private set; }

        internal MeshTlsException Refusal { get; private set; }

        internal bool Callback(object sender, X509Certificate certificate, X509Chain chain, SslPolicyErrors errors)
        {
            try
            {
                if (certificate == null)
                {
                    Refusal = new MeshTlsException(ErrorCode.NoCertificate, $"no_certificate: the {(role == PeerUsage.Client ? "client" : "server")} presented no certificate");
                    return false;
                }
                Peer = verifier.Verify(Verifier.PresentedChain(certificate, chain), role, DateTimeOffset.UtcNow);
                return true;
            }
            catch (MeshTlsException e)
            {
                Refusal = e;
                return false;
            }
            catch (Exception e)
            {
                Refusal = new MeshTlsException(ErrorCode.Internal, "internal: the peer could not be verified: " + e.Message);
                return false;
            }
        }
    }

    /// <summary>Turns a failed handshake into a <see cref="MeshTlsException"/> with a meshtls code.</summary>
    internal static class Handshake
    {
        // BoringSSL (Mono) and OpenSSL name a received alert SSLV3_ALERT_X / TLSV1_ALERT_X.
        private static readonly Regex AlertName = new Regex(@"(?:SSLV3|TLSV1)_(?:ALERT_)?([A-Z_]+)", RegexOptions.CultureInvariant);

        internal static MeshTlsException Explain(Exception e, MeshTlsException ours, bool presentedNothing, string peer)
        {
            if (ours != null)
            {
                // This side refused the peer: the core's verdict, in its words.
                return new MeshTlsException(ours.Code, ours.CodeName, $"{ours.Message} (the {peer}'s certificate was refused)");
            }
            var text = Messages(e);
            if (text.Contains("NO_SHARED_CIPHER"))
            {
                // BoringSSL (Mono) as a server: the peer offered none of the profile's suites.
                return new MeshTlsException(ErrorCode.Unsupported,
                    $"unsupported: the {peer} offers no cipher suite of the meshtls TLS profile (ECDHE key exchange with AEAD suites only)");
            }
            var m = AlertName.Match(text);
            if (m.Success)
            {
                var alert = m.Groups[1].Value.ToLowerInvariant();
                var code = Native.meshtls_tls_alert_code_by_name(NativeBuffer.Utf8(alert));
                if (code != 0)
                {
                    var name = MeshTlsException.NameOf((ErrorCode)code);
                    return new MeshTlsException((ErrorCode)code, $"{name}: the {peer} refused this side with the TLS alert {alert}");
                }
                if (presentedNothing)
                {
                    return NoCertificate(peer, alert);
                }
                return new MeshTlsException(ErrorCode.Io, $"io: the TLS handshake failed: the {peer} sent the alert {alert}");
            }
            if (presentedNothing)
            {
                return NoCertificate(peer, null);
            }
            return new MeshTlsException(ErrorCode.Io, "io: the TLS handshake failed: " + text);
        }

        private static MeshTlsException NoCertificate(string peer, string alert)
        {
            return new MeshTlsException(ErrorCode.NoCertificate,
                $"no_certificate: the {peer} refused the handshake{(alert == null ? "" : " (alert " + alert + ")")} and this side had no certificate to present: give TlsClient a certificate or an enrolled identity");
        }

        private static string Messages(Exception e)
        {
            var parts = new System.Collections.Generic.List<string>();
            for (var x = e; x != null; x = x.InnerException)
            {
                // One line each: BoringSSL appends its source location on the next.
                var line = x.Message.Split('\n')[0].Trim();
                if (line.Length > 0)
                {
                    parts.Add(line);
                }
            }
            return string.Join(": ", parts);
        }

        private static class Native
        {
            [DllImport("meshtls_ffi")]
            public static extern uint meshtls_tls_alert_code_by_name(byte[] name);
        }
    }
}

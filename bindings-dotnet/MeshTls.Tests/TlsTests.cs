using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>
    /// Real TLS 1.2 handshakes over loopback (Mono has no TLS 1.3): Mono SslStream at both ends,
    /// and a Mono client against OpenSSL's s_server. The validation callbacks hand the whole
    /// presented chain to the core; the right peer is accepted, a rogue one rejected.
    /// </summary>
    [TestFixture]
    public class TlsTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

        private Authority root;
        private Authority intermediate;
        private Authority rogue;

        [SetUp]
        public void MakeCas()
        {
            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            root = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "dotnet tls root" }, now);
            intermediate = root.CreateIntermediate(new IntermediateParams(), now);
            rogue = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "dotnet tls root" }, now);
        }

        [TearDown]
        public void DisposeCas()
        {
            rogue.Dispose();
            intermediate.Dispose();
            root.Dispose();
        }

        private static Issued Leaf(Authority ca, string name)
        {
            var req = new IssueRequest("spiffe://mesh.internal/service/" + name) { Lifetime = TimeSpan.FromHours(1) };
            req.DnsNames.Add("localhost");
            return ca.Issue(req, DateTimeOffset.UtcNow);
        }

        private Verifier VerifierAllowing(string spiffeId)
        {
            using (var bundle = new TrustBundle(root.RootPem))
            using (var builder = new PolicyBuilder().AllowId(spiffeId))
            using (var policy = builder.Build())
            {
                return new Verifier(bundle, policy);
            }
        }

        /// <summary>What each end saw: the verified peer, or the exception that ended its handshake.</summary>
        private sealed class Outcome
        {
            public PeerIdentity ServerSaw;
            public PeerIdentity ClientSaw;
            public Exception ServerError;
            public Exception ClientError;
        }

        private Outcome Handshake(Issued serverLeaf, Issued clientLeaf)
        {
            var outcome = new Outcome();
            using (var serverVerifier = VerifierAllowing("spiffe://mesh.internal/service/client"))
            using (var clientVerifier = VerifierAllowing("spiffe://mesh.internal/service/server"))
            using (var serverCert = serverLeaf.ToX509Certificate2())
            using (var clientCert = clientLeaf.ToX509Certificate2())
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                var server = Task.Run(() =>
                {
                    try
                    {
                        using (var tcp = listener.AcceptTcpClient())
                        using (var tls = new SslStream(tcp.GetStream(), false, serverVerifier.CreateValidationCallback(PeerUsage.Client, p => outcome.ServerSaw = p)))
                        {
                            tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                            tls.AuthenticateAsServer(serverCert, true, SslProtocols.Tls12, false);
                            tls.WriteByte(42);
                            tls.Flush();
                        }
                    }
                    catch (Exception e)
                    {
                        outcome.ServerError = e;
                    }
                });
                try
                {
                    using (var tcp = new TcpClient())
                    {
                        tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                        tcp.Connect(IPAddress.Loopback, port);
                        using (var tls = new SslStream(tcp.GetStream(), false, clientVerifier.CreateValidationCallback(PeerUsage.Server, p => outcome.ClientSaw = p)))
                        {
                            tls.AuthenticateAsClient("localhost", new X509CertificateCollection { clientCert }, SslProtocols.Tls12, false);
                            Assert.AreEqual(42, tls.ReadByte());
                        }
                    }
                }
                catch (Exception e) when (!(e is AssertionException))
                {
                    outcome.ClientError = e;
                }
                Assert.IsTrue(server.Wait(Timeout), "the server ended within the timeout");
                listener.Stop();
            }
            return outcome;
        }

        [Test]
        public void MonoPeersAcceptEachOther()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            {
                var o = Handshake(serverLeaf, clientLeaf);
                Assert.IsNull(o.ServerError, "server: " + o.ServerError);
                Assert.IsNull(o.ClientError, "client: " + o.ClientError);
                Assert.AreEqual("spiffe://mesh.internal/service/client", o.ServerSaw.SpiffeId);
                Assert.AreEqual("spiffe://mesh.internal/service/server", o.ClientSaw.SpiffeId);
                Assert.AreEqual(clientLeaf.SerialHex, o.ServerSaw.SerialHex);
            }
        }

        [Test]
        public void ServerRejectsARogueClient()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var rogueClient = Leaf(rogue, "client"))
            {
                var o = Handshake(serverLeaf, rogueClient);
                Assert.IsNull(o.ServerSaw);
                Assert.IsInstanceOf<AuthenticationException>(o.ServerError, "server: " + o.ServerError);
                Assert.IsNotNull(o.ClientError, "the client's handshake or read failed too");
            }
        }

        [Test]
        public void ClientRejectsARogueServer()
        {
            using (var rogueServer = Leaf(rogue, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            {
                var o = Handshake(rogueServer, clientLeaf);
                Assert.IsNull(o.ClientSaw);
                Assert.IsInstanceOf<AuthenticationException>(o.ClientError, "client: " + o.ClientError);
                Assert.IsNull(o.ServerSaw);
            }
        }

        [Test]
        public void ClientRejectsTheRightCaWithTheWrongIdentity()
        {
            using (var impostor = Leaf(intermediate, "billing"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            {
                var o = Handshake(impostor, clientLeaf);
                Assert.IsNull(o.ClientSaw);
                Assert.IsInstanceOf<AuthenticationException>(o.ClientError, "client: " + o.ClientError);
            }
        }

        [Test]
        public void KestrelStyleValidationFailsClosed()
        {
            using (var clientLeaf = Leaf(intermediate, "client"))
            using (var rogueClient = Leaf(rogue, "client"))
            using (var verifier = VerifierAllowing("spiffe://mesh.internal/service/client"))
            using (var good = clientLeaf.ToX509Certificate2())
            using (var bad = rogueClient.ToX509Certificate2())
            {
                PeerIdentity seen = null;
                var validate = verifier.CreateClientCertificateValidation(p => seen = p);
                using (var chain = new X509Chain())
                {
                    chain.ChainPolicy.ExtraStore.Add(new X509Certificate2(System.Text.Encoding.ASCII.GetBytes(intermediate.CertificatePem)));
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    try
                    {
                        chain.Build(good);
                    }
                    catch (Exception)
                    {
                        // Mono cannot build chains of EC certificates; the elements may be partial.
                    }
                    var accepted = validate(good, chain, SslPolicyErrors.RemoteCertificateChainErrors);
                    Assert.AreEqual(accepted, seen != null);
                }
                // The leaf alone lacks the intermediate: the core finds no path and it is refused.
                Assert.IsFalse(validate(good, null, SslPolicyErrors.None));
                Assert.IsFalse(validate(bad, null, SslPolicyErrors.None));
                Assert.IsFalse(validate(null, null, SslPolicyErrors.None));
                verifier.Dispose();
                Assert.IsFalse(validate(good, null, SslPolicyErrors.None), "a disposed verifier rejects");
            }
        }

        private static int FreePort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            var port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        /// <summary>Runs openssl s_server (TLS 1.2, client certificate required) with this leaf.</summary>
        private static Process StartOpenSsl(string dir, Issued serverLeaf, Authority intermediateCa, Authority rootCa, int port)
        {
            File.WriteAllText(Path.Combine(dir, "server.pem"), serverLeaf.CertPem);
            File.WriteAllText(Path.Combine(dir, "server.key"), serverLeaf.KeyPem);
            File.WriteAllText(Path.Combine(dir, "chain.pem"), intermediateCa.CertificatePem);
            // OpenSSL verifies the Mono client against the root alone: Mono sends the PFX's intermediate.
            File.WriteAllText(Path.Combine(dir, "ca.pem"), rootCa.RootPem);
            var psi = new ProcessStartInfo("openssl",
                "s_server -accept 127.0.0.1:" + port + " -tls1_2 -Verify 2 -verify_return_error -naccept 1" +
                " -cert server.pem -key server.key -cert_chain chain.pem -CAfile ca.pem")
            {
                WorkingDirectory = dir,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
            };
            var p = Process.Start(psi);
            var ready = Task.Run(() =>
            {
                string line;
                while ((line = p.StandardOutput.ReadLine()) != null)
                {
                    if (line.StartsWith("ACCEPT", StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
                return false;
            });
            if (!ready.Wait(Timeout) || !ready.Result)
            {
                p.Kill();
                Assert.Fail("openssl s_server did not start: " + p.StandardError.ReadToEnd());
            }
            return p;
        }

        private Exception ConnectTo(int port, Verifier verifier, X509Certificate2 clientCert, Action<PeerIdentity> onVerified)
        {
            try
            {
                using (var tcp = new TcpClient())
                {
                    tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                    tcp.Connect(IPAddress.Loopback, port);
                    // s_server names acceptable CAs, and Mono's default selection then sends no
                    // certificate: choose ours explicitly.
                    using (var tls = new SslStream(tcp.GetStream(), false, verifier.CreateValidationCallback(PeerUsage.Server, onVerified), TlsClient.CertificateSelection(clientCert)))
                    {
                        tls.AuthenticateAsClient("localhost", new X509CertificateCollection { clientCert }, SslProtocols.Tls12, false);
                        var hello = System.Text.Encoding.ASCII.GetBytes("hello from mono\n");
                        tls.Write(hello, 0, hello.Length);
                        tls.Flush();
                    }
                }
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }

        [Test]
        public void MonoClientAgainstOpenSslServer()
        {
            var dir = Path.Combine(Path.GetTempPath(), "meshtls-dotnet-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                using (var serverLeaf = Leaf(intermediate, "server"))
                using (var rogueServer = Leaf(rogue, "server"))
                using (var clientLeaf = Leaf(intermediate, "client"))
                using (var clientCert = clientLeaf.ToX509Certificate2())
                using (var verifier = VerifierAllowing("spiffe://mesh.internal/service/server"))
                {
                    var port = FreePort();
                    using (var openssl = StartOpenSsl(dir, serverLeaf, intermediate, root, port))
                    {
                        PeerIdentity seen = null;
                        var error = ConnectTo(port, verifier, clientCert, p => seen = p);
                        if (error != null)
                        {
                            openssl.WaitForExit((int)Timeout.TotalMilliseconds);
                            Assert.Fail("handshake with s_server: " + error.Message + "; s_server said: " + openssl.StandardError.ReadToEnd() + openssl.StandardOutput.ReadToEnd());
                        }
                        Assert.AreEqual("spiffe://mesh.internal/service/server", seen.SpiffeId);
                        Assert.IsTrue(openssl.WaitForExit((int)Timeout.TotalMilliseconds), "s_server ends after one connection");
                    }
                    port = FreePort();
                    using (var openssl = StartOpenSsl(dir, rogueServer, intermediate, root, port))
                    {
                        PeerIdentity seen = null;
                        var error = ConnectTo(port, verifier, clientCert, p => seen = p);
                        Assert.IsInstanceOf<AuthenticationException>(error, "rogue s_server: " + error);
                        Assert.IsNull(seen);
                        if (!openssl.WaitForExit((int)Timeout.TotalMilliseconds))
                        {
                            openssl.Kill();
                        }
                    }
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
    }
}

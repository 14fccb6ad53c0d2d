using System;
using System.Diagnostics;
using System.Linq;
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
    /// The meshtls TLS profile on SslStream, against a real peer: <c>openssl s_server</c>
    /// offering one TLS 1.2 suite (a CBC suite, a DHE suite, an ECDHE + AEAD suite) and
    /// requiring a client certificate. The profile comes from the native library (net's
    /// tables); <see cref="TlsClient"/> applies it before the handshake and checks it after, and
    /// every refusal is a <see cref="MeshTlsException"/> with a meshtls code.
    /// </summary>
    [TestFixture]
    public class ProfileTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
        private const string ServerId = "spiffe://mesh.internal/service/server";

        private string dir;
        private Authority root;
        private Authority rogue;
        private Issued ecServer;
        private Issued rsaServer;
        private Issued client;
        private Issued rogueClient;
        private X509Certificate2 clientCert;
        private X509Certificate2 rogueCert;
        private Verifier verifier;

        [TestFixtureSetUp]
        public void MakePki()
        {
            dir = Path.Combine(Path.GetTempPath(), "meshtls-profile-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            root = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "profile root" }, now);
            rogue = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "profile root" }, now);
            ecServer = Leaf(root, "server", KeyAlgorithm.EcdsaP256);
            rsaServer = Leaf(root, "server", KeyAlgorithm.Rsa2048);
            client = Leaf(root, "client", KeyAlgorithm.EcdsaP256);
            rogueClient = Leaf(rogue, "client", KeyAlgorithm.EcdsaP256);
            clientCert = client.ToX509Certificate2();
            rogueCert = rogueClient.ToX509Certificate2();
            File.WriteAllText(Path.Combine(dir, "ca.pem"), root.RootPem);
            File.WriteAllText(Path.Combine(dir, "client.pem"), client.ChainPem);
            File.WriteAllText(Path.Combine(dir, "client.key"), client.KeyPem);
            foreach (var leaf in new[] { Tuple.Create("ec", ecServer), Tuple.Create("rsa", rsaServer) })
            {
                File.WriteAllText(Path.Combine(dir, leaf.Item1 + ".pem"), leaf.Item2.CertPem);
                File.WriteAllText(Path.Combine(dir, leaf.Item1 + ".key"), leaf.Item2.KeyPem);
            }
            using (var bundle = new TrustBundle(root.RootPem))
            using (var builder = new PolicyBuilder().AllowId(ServerId))
            using (var policy = builder.Build())
            {
                verifier = new Verifier(bundle, policy);
            }
        }

        [TestFixtureTearDown]
        public void DisposePki()
        {
            verifier.Dispose();
            clientCert.Dispose();
            rogueCert.Dispose();
            foreach (var d in new IDisposable[] { ecServer, rsaServer, client, rogueClient, rogue, root })
            {
                d.Dispose();
            }
            Directory.Delete(dir, true);
        }

        /// <summary>
        /// Whether this platform's SslStream takes the profile's suites before the handshake
        /// (Mono: yes); elsewhere the check after the handshake is what refuses.
        /// </summary>
        private static bool RestrictsBeforeHandshake
        {
            get
            {
                using (var probe = new SslStream(new MemoryStream()))
                {
                    return TlsProfile.WithTls12.Apply(probe);
                }
            }
        }

        private static Issued Leaf(Authority ca, string name, KeyAlgorithm key)
        {
            var req = new IssueRequest("spiffe://mesh.internal/service/" + name) { Lifetime = TimeSpan.FromHours(1), Key = key };
            req.DnsNames.Add("localhost");
            return ca.Issue(req, DateTimeOffset.UtcNow.AddMinutes(-1));
        }

        /// <summary>openssl s_server, TLS 1.2 with the one suite <paramref name="cipher"/>, client certificate required.</summary>
        private sealed class OpenSslServer : IDisposable
        {
            private readonly Process process;
            private readonly System.Text.StringBuilder output = new System.Text.StringBuilder();

            public OpenSslServer(string dir, string key, string cipher)
            {
                var probe = new TcpListener(IPAddress.Loopback, 0);
                probe.Start();
                Port = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
                var psi = new ProcessStartInfo("openssl",
                    "s_server -accept 127.0.0.1:" + Port + " -tls1_2 -cipher " + cipher + " -Verify 2 -verify_return_error -naccept 1" +
                    " -cert " + key + ".pem -key " + key + ".key -CAfile ca.pem")
                {
                    WorkingDirectory = dir,
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    RedirectStandardInput = true,
                };
                process = Process.Start(psi);
                process.ErrorDataReceived += (s, e) => { lock (output) { output.AppendLine(e.Data); } };
                process.BeginErrorReadLine();
                var ready = Task.Run(() =>
                {
                    string line;
                    while ((line = process.StandardOutput.ReadLine()) != null)
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
                    Dispose();
                    Assert.Fail("openssl s_server did not start: " + Said);
                }
                // Drained so that s_server never blocks on a full pipe.
                Task.Run(() => process.StandardOutput.ReadToEnd());
            }

            public int Port { get; }

            /// <summary>What s_server wrote on stderr.</summary>
            public string Said
            {
                get
                {
                    lock (output)
                    {
                        return output.ToString();
                    }
                }
            }

            /// <summary>
            /// What s_server wrote on stderr once it has ended (it serves one connection): its
            /// stderr is read as it comes, and only the end makes sure all of it was.
            /// </summary>
            public string SaidAtExit()
            {
                Assert.IsTrue(process.WaitForExit((int)Timeout.TotalMilliseconds), "s_server ended after its one connection");
                process.WaitForExit();
                return Said;
            }

            public void Dispose()
            {
                try
                {
                    if (!process.WaitForExit(2000))
                    {
                        process.Kill();
                        process.WaitForExit(5000);
                    }
                }
                catch (InvalidOperationException)
                {
                }
                process.Dispose();
            }
        }

        private static TcpClient Connect(int port)
        {
            var tcp = new TcpClient();
            tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
            tcp.Connect(IPAddress.Loopback, port);
            return tcp;
        }

        /// <summary>TlsClient against s_server: the connection, or the MeshTlsException that refused it.</summary>
        private MeshTlsException ConnectWith(OpenSslServer server, TlsProfile profile, X509Certificate2 cert, out TlsConnection connection)
        {
            connection = null;
            using (var tcp = Connect(server.Port))
            {
                var task = TlsClient.AuthenticateAsync(tcp.GetStream(), "localhost", verifier, cert, profile);
                try
                {
                    Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout), "the handshake ended within the timeout");
                    connection = task.Result;
                    return null;
                }
                catch (AggregateException e) when (e.InnerException is MeshTlsException)
                {
                    return (MeshTlsException)e.InnerException;
                }
            }
        }

        [Test]
        public void TheProfileIsNets()
        {
            var strict = TlsProfile.Default;
            Assert.IsFalse(strict.AllowsTls12);
            Assert.AreEqual(0x0304, strict.MinVersion);
            Assert.AreEqual(0x0304, strict.MaxVersion);
            CollectionAssert.AreEqual(
                new[] { "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256" },
                strict.CipherSuites.Select(s => s.IanaName));
            Assert.AreEqual((SslProtocols)12288, strict.Protocols);

            var opted = TlsProfile.WithTls12;
            Assert.AreEqual(0x0303, opted.MinVersion);
            Assert.AreEqual(SslProtocols.Tls12 | (SslProtocols)12288, opted.Protocols);
            var tls12 = opted.CipherSuites.Where(s => s.Version == 0x0303).ToList();
            Assert.AreEqual(6, tls12.Count);
            foreach (var s in tls12)
            {
                StringAssert.StartsWith("TLS_ECDHE_", s.IanaName);
                Assert.IsTrue(s.IanaName.Contains("_GCM_") || s.IanaName.Contains("CHACHA20_POLY1305"), s.IanaName);
                StringAssert.StartsWith("ECDHE-", s.OpenSslName);
            }
            Assert.IsTrue(opted.Allows(0xc02b));
            Assert.IsFalse(opted.Allows(0xc009), "ECDHE-ECDSA-AES128-SHA (CBC)");
            Assert.IsFalse(opted.Allows(0x009e), "DHE-RSA-AES128-GCM-SHA256");
            Assert.IsFalse(strict.Allows(0xc02b));
            if (Type.GetType("Mono.Runtime") != null)
            {
                // What the Mono-specific assertions below rest on.
                Assert.IsTrue(RestrictsBeforeHandshake, "Mono's SslStream takes the profile's suites before the handshake");
            }
            CollectionAssert.Contains(opted.Groups.Select(g => g.OpenSslName), "P-256");
            Assert.IsTrue(opted.Groups.Any(g => g.Hybrid));
        }

        [Test]
        public void Tls12EcdheAeadIsAcceptedWhenOptedIn()
        {
            using (var server = new OpenSslServer(dir, "ec", "ECDHE-ECDSA-AES128-GCM-SHA256"))
            {
                TlsConnection conn;
                var error = ConnectWith(server, TlsProfile.WithTls12, clientCert, out conn);
                Assert.IsNull(error, error?.Message + "; s_server: " + server.Said);
                using (conn)
                {
                    Assert.AreEqual(SslProtocols.Tls12, conn.Protocol);
                    Assert.AreEqual(0xc02b, conn.CipherSuite);
                    Assert.AreEqual(ServerId, conn.Peer.SpiffeId);
                }
            }
        }

        [Test]
        public void ACbcSuiteIsRefused()
        {
            using (var server = new OpenSslServer(dir, "ec", "ECDHE-ECDSA-AES128-SHA"))
            {
                TlsConnection conn;
                var error = ConnectWith(server, TlsProfile.WithTls12, clientCert, out conn);
                Assert.IsNotNull(error, "a CBC suite was accepted");
                if (RestrictsBeforeHandshake)
                {
                    // Applied before the handshake (Mono): the suite is never offered.
                    StringAssert.Contains("no shared cipher", server.SaidAtExit());
                    Assert.AreEqual(ErrorCode.Io, error.Code, error.Message);
                    StringAssert.Contains("handshake_failure", error.Message);
                }
                else
                {
                    Assert.AreEqual(ErrorCode.Unsupported, error.Code, error.Message);
                }
            }
        }

        [Test]
        public void ADheSuiteIsRefused()
        {
            using (var server = new OpenSslServer(dir, "rsa", "DHE-RSA-AES128-GCM-SHA256"))
            {
                TlsConnection conn;
                var error = ConnectWith(server, TlsProfile.WithTls12, clientCert, out conn);
                Assert.IsNotNull(error, "a DHE suite was accepted");
                if (RestrictsBeforeHandshake)
                {
                    StringAssert.Contains("no shared cipher", server.SaidAtExit());
                    Assert.AreEqual(ErrorCode.Io, error.Code, error.Message);
                }
                else
                {
                    Assert.AreEqual(ErrorCode.Unsupported, error.Code, error.Message);
                }
            }
        }

        /// <summary>
        /// Without <see cref="TlsProfile.Apply"/> Mono offers CBC and DHE suites; the check after
        /// the handshake still refuses them, naming the suite.
        /// </summary>
        [TestCase("ec", "ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA")]
        [TestCase("rsa", "DHE-RSA-AES128-GCM-SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256")]
        public void TheCheckAfterTheHandshakeRefusesWhatAPlainStreamNegotiated(string key, string cipher, string iana)
        {
            using (var server = new OpenSslServer(dir, key, cipher))
            using (var tcp = Connect(server.Port))
            using (var tls = new SslStream(tcp.GetStream(), false, verifier.CreateValidationCallback(PeerUsage.Server), TlsClient.CertificateSelection(clientCert)))
            {
                tls.AuthenticateAsClient("localhost", new X509CertificateCollection { clientCert }, SslProtocols.Tls12, false);
                var e = Assert.Throws<MeshTlsException>(() => TlsProfile.WithTls12.Check(tls));
                Assert.AreEqual(ErrorCode.Unsupported, e.Code);
                StringAssert.Contains(iana, e.Message);
            }
        }

        /// <summary>
        /// TlsServer against <c>openssl s_client</c> offering one TLS 1.2 suite: a CBC suite is
        /// refused, ECDHE + AEAD accepted (with TLS 1.2 opted in).
        /// </summary>
        [TestCase("ECDHE-ECDSA-AES128-SHA", false)]
        [TestCase("ECDHE-ECDSA-AES256-SHA384", false)]
        [TestCase("ECDHE-ECDSA-AES128-GCM-SHA256", true)]
        [TestCase("ECDHE-ECDSA-CHACHA20-POLY1305", true)]
        public void TheServerSideAppliesTheProfileToAnOpenSslClient(string cipher, bool accepted)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                var psi = new ProcessStartInfo("openssl",
                    "s_client -connect 127.0.0.1:" + port + " -tls1_2 -cipher " + cipher +
                    " -cert client.pem -key client.key -CAfile ca.pem -servername localhost")
                {
                    WorkingDirectory = dir,
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    RedirectStandardInput = true,
                };
                using (var openssl = Process.Start(psi))
                {
                    var said = Task.Run(() => openssl.StandardOutput.ReadToEnd() + openssl.StandardError.ReadToEnd());
                    using (var tcp = listener.AcceptTcpClient())
                    using (var serverCert = ecServer.ToX509Certificate2())
                    using (var bundle = new TrustBundle(root.RootPem))
                    using (var builder = new PolicyBuilder().AllowId("spiffe://mesh.internal/service/client"))
                    using (var policy = builder.Build())
                    using (var clients = new Verifier(bundle, policy))
                    {
                        tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                        var task = TlsServer.AuthenticateAsync(tcp.GetStream(), clients, serverCert, TlsProfile.WithTls12);
                        Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout), "the handshake ended within the timeout");
                        if (accepted)
                        {
                            Assert.AreEqual(TaskStatus.RanToCompletion, task.Status, task.Exception?.InnerException?.Message);
                            using (var conn = task.Result)
                            {
                                Assert.AreEqual("spiffe://mesh.internal/service/client", conn.Peer.SpiffeId);
                                Assert.IsTrue(TlsProfile.WithTls12.Allows(conn.CipherSuite.Value));
                            }
                        }
                        else
                        {
                            Assert.IsTrue(task.IsFaulted, "a " + cipher + " client was accepted");
                            Assert.IsInstanceOf<MeshTlsException>(task.Exception.InnerException);
                            Assert.AreEqual(ErrorCode.Unsupported, ((MeshTlsException)task.Exception.InnerException).Code);
                            Console.WriteLine("TlsServer refused a {0} client: {1}", cipher, task.Exception.InnerException.Message);
                        }
                    }
                    openssl.StandardInput.Close();
                    if (!openssl.WaitForExit((int)Timeout.TotalMilliseconds))
                    {
                        openssl.Kill();
                    }
                    if (!accepted && RestrictsBeforeHandshake)
                    {
                        // Mono's server closes without a ServerHello (and without an alert).
                        Assert.IsTrue(said.Wait(Timeout));
                        StringAssert.Contains("Cipher is (NONE)", said.Result);
                    }
                }
            }
            finally
            {
                listener.Stop();
            }
        }

        [Test]
        public void Tls12WithoutTheOptInIsRefused()
        {
            // Mono has no TLS 1.3: asked for 1.3 only it still negotiates 1.2, which the check refuses.
            using (var server = new OpenSslServer(dir, "ec", "ECDHE-ECDSA-AES128-GCM-SHA256"))
            {
                TlsConnection conn;
                var error = ConnectWith(server, TlsProfile.Default, clientCert, out conn);
                Assert.IsNotNull(error, "TLS 1.2 was accepted without the opt-in");
                Console.WriteLine("TLS 1.3-only profile against a TLS 1.2 server: " + error.Message);
                if (RestrictsBeforeHandshake)
                {
                    // Mono: the handshake completes at TLS 1.2 and the check refuses it.
                    Assert.AreEqual(ErrorCode.Unsupported, error.Code, error.Message);
                    StringAssert.Contains("Tls12", error.Message);
                }
                else
                {
                    // A stack with TLS 1.3 offers only it, and the TLS 1.2 server ends the handshake.
                    Assert.IsTrue(error.Code == ErrorCode.Unsupported || error.Code == ErrorCode.Io, error.Code + ": " + error.Message);
                }
            }
        }

        [Test]
        public void AClientWithoutACertificateGetsNoCertificate()
        {
            using (var server = new OpenSslServer(dir, "ec", "ECDHE-ECDSA-AES128-GCM-SHA256"))
            {
                TlsConnection conn;
                var error = ConnectWith(server, TlsProfile.WithTls12, null, out conn);
                Assert.IsNotNull(error, "s_server accepted a client without a certificate");
                Assert.AreEqual(ErrorCode.NoCertificate, error.Code, error.Message);
                Assert.AreEqual("no_certificate", error.CodeName);
            }
        }

        [Test]
        public void ARogueClientLearnsTheServersAlertAsACode()
        {
            using (var server = new OpenSslServer(dir, "ec", "ECDHE-ECDSA-AES128-GCM-SHA256"))
            {
                TlsConnection conn;
                var error = ConnectWith(server, TlsProfile.WithTls12, rogueCert, out conn);
                Assert.IsNotNull(error, "s_server accepted a rogue client");
                // -verify_return_error: OpenSSL refuses an unknown CA's certificate with unknown_ca.
                Assert.AreEqual(ErrorCode.UnknownIssuer, error.Code, error.Message + "; s_server: " + server.Said);
                StringAssert.Contains("unknown_ca", error.Message);
            }
        }

        [Test]
        public void AServerOutsideThePolicyIsTheCoresCode()
        {
            using (var server = new OpenSslServer(dir, "ec", "ECDHE-ECDSA-AES128-GCM-SHA256"))
            using (var bundle = new TrustBundle(root.RootPem))
            using (var builder = new PolicyBuilder().AllowId("spiffe://mesh.internal/service/other"))
            using (var policy = builder.Build())
            using (var other = new Verifier(bundle, policy))
            using (var tcp = Connect(server.Port))
            {
                var task = TlsClient.AuthenticateAsync(tcp.GetStream(), "localhost", other, clientCert, TlsProfile.WithTls12);
                var e = Assert.Throws<AggregateException>(() => task.Wait(Timeout)).InnerException as MeshTlsException;
                Assert.IsNotNull(e);
                Assert.AreEqual(ErrorCode.IdentityNotAllowed, e.Code, e.Message);
                Assert.IsFalse(MeshTlsMessages.LookLikeDebugOutput(e.Message), e.Message);
            }
        }
    }
}

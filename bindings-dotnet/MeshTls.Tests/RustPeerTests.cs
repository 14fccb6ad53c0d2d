using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>
    /// Mono's SslStream against a Rust meshtls-net peer (<c>net/examples/tls12_peer.rs</c>, run as
    /// a process; its path comes from MESHTLS_TLS12_PEER, set by scripts/ci/dotnet). Mono has no
    /// TLS 1.3, so the Rust side opts in with <c>allow_tls12(true)</c> and every handshake here
    /// must come out as TLS 1.2. Rogue client certificates are refused by the core: through the
    /// C# validation callback when Mono is the server, by meshtls-net's verifier when Rust is.
    /// </summary>
    [TestFixture]
    public class RustPeerTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
        private const string ServerId = "spiffe://mesh.internal/service/server";
        private const string ClientId = "spiffe://mesh.internal/service/client";

        private Authority root;
        private Authority intermediate;
        private Authority rogue;
        private string dir;

        [SetUp]
        public void MakeCas()
        {
            var now = DateTimeOffset.UtcNow.AddMinutes(-1);
            root = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "dotnet rust-peer root" }, now);
            intermediate = root.CreateIntermediate(new IntermediateParams(), now);
            rogue = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "dotnet rust-peer root" }, now);
            dir = Path.Combine(Path.GetTempPath(), "meshtls-rustpeer-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "ca.pem"), root.RootPem);
        }

        [TearDown]
        public void DisposeCas()
        {
            Directory.Delete(dir, true);
            rogue.Dispose();
            intermediate.Dispose();
            root.Dispose();
        }

        private static string PeerBinary()
        {
            var path = Environment.GetEnvironmentVariable("MESHTLS_TLS12_PEER");
            if (string.IsNullOrEmpty(path) || !File.Exists(path))
            {
                Assert.Ignore("MESHTLS_TLS12_PEER does not name the tls12_peer example (scripts/ci/dotnet builds it)");
            }
            return path;
        }

        private static Issued Leaf(Authority ca, string name)
        {
            var req = new IssueRequest("spiffe://mesh.internal/service/" + name) { Lifetime = TimeSpan.FromHours(1) };
            req.DnsNames.Add("localhost");
            return ca.Issue(req, DateTimeOffset.UtcNow);
        }

        /// <summary>Writes the leaf as DIR/name.pem (chain) and DIR/name.key, as tls12_peer reads them.</summary>
        private void Write(string name, Issued leaf)
        {
            File.WriteAllText(Path.Combine(dir, name + ".pem"), leaf.ChainPem);
            File.WriteAllText(Path.Combine(dir, name + ".key"), leaf.KeyPem);
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

        /// <summary>A running tls12_peer: its stdout line by line, its stderr for diagnostics; killed on Dispose.</summary>
        private sealed class Peer : IDisposable
        {
            private readonly Process process;
            private readonly BlockingCollection<string> lines = new BlockingCollection<string>();
            private readonly StringBuilder stderr = new StringBuilder();
            private readonly Thread errReader;

            public Peer(string args)
            {
                var psi = new ProcessStartInfo(PeerBinary(), args)
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                process = Process.Start(psi);
                new Thread(() =>
                {
                    string line;
                    while ((line = process.StandardOutput.ReadLine()) != null)
                    {
                        lines.Add(line);
                    }
                    lines.CompleteAdding();
                }) { IsBackground = true }.Start();
                errReader = new Thread(() =>
                {
                    string line;
                    while ((line = process.StandardError.ReadLine()) != null)
                    {
                        lock (stderr)
                        {
                            stderr.AppendLine(line);
                        }
                    }
                }) { IsBackground = true };
                errReader.Start();
            }

            public string Stderr
            {
                get
                {
                    lock (stderr)
                    {
                        return stderr.ToString();
                    }
                }
            }

            /// <summary>The next stdout line, or a failed assertion after the timeout or at end of output.</summary>
            public string NextLine()
            {
                string line;
                if (!lines.TryTake(out line, Timeout))
                {
                    Assert.Fail("tls12_peer printed nothing more within " + Timeout + "; stderr: " + Stderr);
                }
                return line;
            }

            public int WaitForExit()
            {
                Assert.IsTrue(process.WaitForExit((int)Timeout.TotalMilliseconds), "tls12_peer ended within the timeout");
                errReader.Join(Timeout);
                return process.ExitCode;
            }

            public void Dispose()
            {
                try
                {
                    if (!process.HasExited)
                    {
                        process.Kill();
                        process.WaitForExit((int)Timeout.TotalMilliseconds);
                    }
                }
                finally
                {
                    process.Dispose();
                }
            }
        }

        /// <summary>What the Mono client got: the verified server, the echo, the version, or the error.</summary>
        private sealed class ClientOutcome
        {
            public PeerIdentity ServerSaw;
            public string Echo;
            public SslProtocols Protocol;
            public Exception Error;
        }

        private ClientOutcome MonoClient(int port, X509Certificate2 clientCert)
        {
            var outcome = new ClientOutcome();
            using (var verifier = VerifierAllowing(ServerId))
            {
                try
                {
                    using (var tcp = new TcpClient())
                    {
                        tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                        tcp.Connect(IPAddress.Loopback, port);
                        using (var tls = new SslStream(tcp.GetStream(), false,
                                   verifier.CreateValidationCallback(PeerUsage.Server, p => outcome.ServerSaw = p),
                                   (sender, host, local, remote, issuers) => clientCert))
                        {
                            tls.AuthenticateAsClient("localhost", new X509CertificateCollection { clientCert }, SslProtocols.Tls12, false);
                            outcome.Protocol = tls.SslProtocol;
                            var hello = Encoding.ASCII.GetBytes("hello from mono\n");
                            tls.Write(hello, 0, hello.Length);
                            tls.Flush();
                            using (var reader = new StreamReader(tls, Encoding.ASCII))
                            {
                                outcome.Echo = reader.ReadLine();
                            }
                        }
                    }
                }
                catch (Exception e)
                {
                    outcome.Error = e;
                }
            }
            return outcome;
        }

        [Test]
        public void MonoClientAgainstRustServer()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            using (var rogueClient = Leaf(rogue, "client"))
            using (var impostor = Leaf(intermediate, "billing"))
            using (var clientCert = clientLeaf.ToX509Certificate2())
            using (var rogueCert = rogueClient.ToX509Certificate2())
            using (var impostorCert = impostor.ToX509Certificate2())
            {
                Write("server", serverLeaf);
                using (var rust = new Peer("server " + dir + " 127.0.0.1:0 " + ClientId))
                {
                    var listening = rust.NextLine();
                    StringAssert.StartsWith("listening ", listening);
                    var port = int.Parse(listening.Substring("listening ".Length));

                    var good = MonoClient(port, clientCert);
                    Assert.IsNull(good.Error, "mono client: " + good.Error + "; rust: " + rust.Stderr);
                    Assert.AreEqual(ServerId, good.ServerSaw.SpiffeId);
                    Assert.AreEqual(SslProtocols.Tls12, good.Protocol);
                    Console.WriteLine("MonoClientAgainstRustServer: negotiated " + good.Protocol);
                    Assert.AreEqual("hello from mono", good.Echo);
                    Assert.AreEqual("accepted " + ClientId + " TLSv1_2", rust.NextLine());
                    Assert.AreEqual("echoed hello from mono", rust.NextLine());

                    // A rogue CA's client: the Rust server's core verifier refuses it. The rogue
                    // root copies the real root's name, so the core finds the issuer by name and
                    // the signature does not check: bad_signature, not unknown_issuer.
                    var bad = MonoClient(port, rogueCert);
                    Assert.IsNotNull(bad.Error, "the rogue client's handshake or read failed");
                    Assert.IsNull(bad.Echo);
                    Assert.AreEqual("refused bad_signature", rust.NextLine());

                    // The right CA, the wrong identity.
                    var wrong = MonoClient(port, impostorCert);
                    Assert.IsNotNull(wrong.Error, "the impostor's handshake or read failed");
                    Assert.AreEqual("refused identity_not_allowed", rust.NextLine());
                }
            }
        }

        /// <summary>TlsClient against the Rust server: the connection, or the MeshTlsException that ended it.</summary>
        private MeshTlsException TlsClientTo(int port, X509Certificate2 clientCert, out PeerIdentity server, out int? suite)
        {
            server = null;
            suite = null;
            using (var verifier = VerifierAllowing(ServerId))
            using (var tcp = new TcpClient())
            {
                tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                tcp.Connect(IPAddress.Loopback, port);
                var task = TlsClient.AuthenticateAsync(tcp.GetStream(), "localhost", verifier, clientCert, TlsProfile.WithTls12);
                try
                {
                    Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout), "the handshake ended within the timeout");
                    using (var conn = task.Result)
                    {
                        server = conn.Peer;
                        suite = conn.CipherSuite;
                        var hello = Encoding.ASCII.GetBytes("hello from TlsClient\n");
                        conn.Stream.Write(hello, 0, hello.Length);
                        conn.Stream.Flush();
                        using (var reader = new StreamReader(conn.Stream, Encoding.ASCII))
                        {
                            Assert.AreEqual("hello from TlsClient", reader.ReadLine());
                        }
                    }
                    return null;
                }
                catch (AggregateException e) when (e.InnerException is MeshTlsException)
                {
                    return (MeshTlsException)e.InnerException;
                }
            }
        }

        /// <summary>
        /// The Rust server refuses with the alert of the core's code (net's table); TlsClient reads
        /// it back through the same table: the refused Mono client learns why, as a code.
        /// </summary>
        [Test]
        public void TlsClientLearnsTheRustServersVerdict()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            using (var rogueClient = Leaf(rogue, "client"))
            using (var impostor = Leaf(intermediate, "billing"))
            using (var clientCert = clientLeaf.ToX509Certificate2())
            using (var rogueCert = rogueClient.ToX509Certificate2())
            using (var impostorCert = impostor.ToX509Certificate2())
            {
                Write("server", serverLeaf);
                using (var rust = new Peer("server " + dir + " 127.0.0.1:0 " + ClientId))
                {
                    var listening = rust.NextLine();
                    StringAssert.StartsWith("listening ", listening);
                    var port = int.Parse(listening.Substring("listening ".Length));
                    PeerIdentity seen;
                    int? suite;

                    var ok = TlsClientTo(port, clientCert, out seen, out suite);
                    Assert.IsNull(ok, ok?.Message + "; rust: " + rust.Stderr);
                    Assert.AreEqual(ServerId, seen.SpiffeId);
                    Assert.IsTrue(TlsProfile.WithTls12.Allows(suite.Value), "suite 0x" + suite.Value.ToString("x4"));
                    Assert.AreEqual("accepted " + ClientId + " TLSv1_2", rust.NextLine());
                    Assert.AreEqual("echoed hello from TlsClient", rust.NextLine());

                    var wrong = TlsClientTo(port, impostorCert, out seen, out suite);
                    Assert.IsNotNull(wrong, "the impostor was accepted");
                    Assert.AreEqual("refused identity_not_allowed", rust.NextLine());
                    Assert.AreEqual(ErrorCode.IdentityNotAllowed, wrong.Code, wrong.Message);
                    StringAssert.Contains("access_denied", wrong.Message);

                    var bad = TlsClientTo(port, rogueCert, out seen, out suite);
                    Assert.IsNotNull(bad, "the rogue client was accepted");
                    Assert.AreEqual("refused bad_signature", rust.NextLine());
                    Assert.AreEqual(ErrorCode.BadSignature, bad.Code, bad.Message);

                    var none = TlsClientTo(port, null, out seen, out suite);
                    Assert.IsNotNull(none, "a client without a certificate was accepted");
                    Assert.AreEqual(ErrorCode.NoCertificate, none.Code, none.Message);
                    Console.WriteLine("TlsClient refused by the Rust server: {0} | {1} | {2}", wrong.Message, bad.Message, none.Message);
                }
            }
        }

        /// <summary>What the Mono server saw of one Rust client.</summary>
        private sealed class ServerOutcome
        {
            public PeerIdentity ClientSaw;
            public SslProtocols Protocol;
            public string Line;
            public Exception Error;
        }

        /// <summary>Serves one connection with SslStream (client certificate required) while tls12_peer connects.</summary>
        private ServerOutcome RustClientAgainst(Issued serverLeaf, Issued clientLeaf, out int exitCode, out string[] output, bool viaTlsServer = false)
        {
            var outcome = new ServerOutcome();
            Write("client", clientLeaf);
            using (var verifier = VerifierAllowing(ClientId))
            using (var serverCert = serverLeaf.ToX509Certificate2())
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                try
                {
                    var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                    var server = Task.Run(() =>
                    {
                        try
                        {
                            using (var tcp = listener.AcceptTcpClient())
                            using (var tls = viaTlsServer
                                ? Authenticated(tcp, verifier, serverCert, outcome)
                                : new SslStream(tcp.GetStream(), false, verifier.CreateValidationCallback(PeerUsage.Client, p => outcome.ClientSaw = p)))
                            {
                                tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                                if (!viaTlsServer)
                                {
                                    tls.AuthenticateAsServer(serverCert, true, SslProtocols.Tls12, false);
                                }
                                outcome.Protocol = tls.SslProtocol;
                                var reader = new StreamReader(tls, Encoding.ASCII);
                                outcome.Line = reader.ReadLine();
                                var echo = Encoding.ASCII.GetBytes(outcome.Line + "\n");
                                tls.Write(echo, 0, echo.Length);
                                tls.Flush();
                            }
                        }
                        catch (Exception e)
                        {
                            outcome.Error = e;
                        }
                    });
                    using (var rust = new Peer("client " + dir + " 127.0.0.1:" + port + " " + ServerId + " hello-from-rust"))
                    {
                        exitCode = rust.WaitForExit();
                        var lines = new System.Collections.Generic.List<string>();
                        string line;
                        while ((line = NextOrNull(rust)) != null)
                        {
                            lines.Add(line);
                        }
                        output = lines.ToArray();
                    }
                    Assert.IsTrue(server.Wait(Timeout), "the Mono server ended within the timeout");
                }
                finally
                {
                    listener.Stop();
                }
            }
            return outcome;
        }

        /// <summary>TlsServer's stream (its MeshTlsException unwrapped from the task).</summary>
        private static SslStream Authenticated(TcpClient tcp, Verifier verifier, X509Certificate2 cert, ServerOutcome outcome)
        {
            try
            {
                var conn = TlsServer.AuthenticateAsync(tcp.GetStream(), verifier, cert, TlsProfile.WithTls12).Result;
                outcome.ClientSaw = conn.Peer;
                return conn.Stream;
            }
            catch (AggregateException e)
            {
                throw e.InnerException;
            }
        }

        private static string NextOrNull(Peer p)
        {
            try
            {
                return p.NextLine();
            }
            catch (AssertionException)
            {
                return null;
            }
        }

        [Test]
        public void RustClientAgainstMonoServer()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            {
                int exit;
                string[] output;
                var o = RustClientAgainst(serverLeaf, clientLeaf, out exit, out output);
                Assert.IsNull(o.Error, "mono server: " + o.Error + "; rust said: " + string.Join(" | ", output));
                Assert.AreEqual(0, exit);
                Assert.AreEqual(ClientId, o.ClientSaw.SpiffeId);
                Assert.AreEqual(clientLeaf.SerialHex, o.ClientSaw.SerialHex);
                Assert.AreEqual(SslProtocols.Tls12, o.Protocol);
                Console.WriteLine("RustClientAgainstMonoServer: negotiated " + o.Protocol);
                Assert.AreEqual("hello-from-rust", o.Line);
                CollectionAssert.AreEqual(new[] { "connected " + ServerId + " TLSv1_2", "echo hello-from-rust" }, output);
            }
        }

        [Test]
        public void MonoServerRejectsARogueRustClient()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var rogueClient = Leaf(rogue, "client"))
            {
                int exit;
                string[] output;
                var o = RustClientAgainst(serverLeaf, rogueClient, out exit, out output);
                Assert.IsNull(o.ClientSaw);
                Assert.IsInstanceOf<AuthenticationException>(o.Error, "mono server: " + o.Error);
                Assert.IsNull(o.Line);
                Assert.AreNotEqual(0, exit, "rust client: " + string.Join(" | ", output));
            }
        }

        /// <summary>
        /// TlsServer (the profile, a client certificate required, the core's verdict) serves the
        /// Rust client, and refuses a rogue one with the core's code. What the refused Rust client
        /// learns is what Mono's BoringSSL sends: a generic alert (Mono lets no callback choose it).
        /// </summary>
        [Test]
        public void TlsServerServesARustClientAndRefusesARogueOneWithTheCoresCode()
        {
            using (var serverLeaf = Leaf(intermediate, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            using (var rogueClient = Leaf(rogue, "client"))
            {
                int exit;
                string[] output;
                var good = RustClientAgainst(serverLeaf, clientLeaf, out exit, out output, true);
                Assert.IsNull(good.Error, "TlsServer: " + good.Error + "; rust said: " + string.Join(" | ", output));
                Assert.AreEqual(0, exit);
                Assert.AreEqual(ClientId, good.ClientSaw.SpiffeId);
                Assert.AreEqual("hello-from-rust", good.Line);

                var bad = RustClientAgainst(serverLeaf, rogueClient, out exit, out output, true);
                Assert.IsInstanceOf<MeshTlsException>(bad.Error, "TlsServer: " + bad.Error);
                Assert.AreEqual(ErrorCode.BadSignature, ((MeshTlsException)bad.Error).Code, bad.Error.Message);
                StringAssert.Contains("client's certificate was refused", bad.Error.Message);
                Assert.IsNull(bad.ClientSaw);
                Assert.AreNotEqual(0, exit);
                Console.WriteLine("TlsServer refused a rogue Rust client: {0}; the Rust client said: {1}", bad.Error.Message, string.Join(" | ", output));
            }
        }

        [Test]
        public void RustClientRejectsARogueMonoServer()
        {
            using (var rogueServer = Leaf(rogue, "server"))
            using (var clientLeaf = Leaf(intermediate, "client"))
            {
                int exit;
                string[] output;
                var o = RustClientAgainst(rogueServer, clientLeaf, out exit, out output);
                Assert.AreEqual(1, exit);
                // The rogue root copies the real root's name: the core reports the forged signature.
                CollectionAssert.AreEqual(new[] { "refused bad_signature" }, output);
                Assert.IsNull(o.Line);
                Assert.IsNotNull(o.Error, "the Mono server's handshake failed too");
            }
        }
    }
}

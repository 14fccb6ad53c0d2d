using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>
    /// The enrollment client against a real <c>meshtls serve</c> (the CLI binary named by
    /// MESHTLS_CLI, set by scripts/ci/dotnet) on a throwaway CA made by <c>meshtls ca init</c>.
    /// Tokens are minted by an admin identity (<c>meshtls issue --usage client</c>) over mTLS with
    /// Python's ssl module: the service speaks TLS 1.3 only, which Mono's HTTP stack lacks.
    /// </summary>
    [TestFixture]
    public class EnrollTests
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
        private const string Passphrase = "correct horse battery staple";
        private const string Admin = "spiffe://mesh.internal/admin/ops";
        private const string Node = "spiffe://mesh.internal/service/api";
        private const string Client = "spiffe://mesh.internal/service/client";

        private string dir;
        private Service service;
        private Service shortLived;

        /// <summary>A running <c>meshtls serve</c>.</summary>
        private sealed class Service : IDisposable
        {
            private readonly Process process;

            public Service(string caDir, string adminDir, params string[] extra)
            {
                CaDir = caDir;
                AdminDir = adminDir;
                var args = new List<string> { "serve", "--ca", caDir, "--listen", "127.0.0.1:0", "--admin-id", Admin, "--db", "sqlite:" + Path.Combine(caDir, "ledger-" + Guid.NewGuid().ToString("N") + ".db") };
                args.AddRange(extra);
                process = Cli.Start(args, true);
                var line = process.StandardOutput.ReadLineAsync();
                if (!line.Wait(Timeout) || line.Result == null || !line.Result.StartsWith("listening on ", StringComparison.Ordinal))
                {
                    Dispose();
                    Assert.Fail("meshtls serve did not start: " + (line.IsCompleted ? line.Result : "(no output)"));
                }
                Port = int.Parse(line.Result.Substring(line.Result.LastIndexOf(':') + 1));
                Bundle = File.ReadAllText(Path.Combine(caDir, "ca.crt"));
            }

            public string CaDir { get; }
            public string AdminDir { get; }
            public int Port { get; }
            public string Bundle { get; }
            public string Url => "https://localhost:" + Port;

            /// <summary>A join token for <paramref name="identity"/> (<c>meshtls admin token</c>).</summary>
            public string Mint(string identity)
            {
                var output = RunAdmin("token", "--id", identity);
                return output.Split('\n')[0].Trim();
            }

            /// <summary>Revokes a certificate through the service (<c>meshtls admin revoke</c>).</summary>
            public void Revoke(string serialHex)
            {
                RunAdmin("revoke", "--serial", serialHex, "--reason", "key_compromise");
            }

            private string RunAdmin(string command, params string[] args)
            {
                var all = new List<string> { "admin", command, "--url", Url, "--cert", AdminDir, "--bundle", Path.Combine(CaDir, "ca.crt") };
                all.AddRange(args);
                return Cli.Run(all.ToArray());
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
                catch (InvalidOperationException)
                {
                    // Already gone.
                }
                process.Dispose();
            }
        }

        /// <summary>Arguments as one command line (Mono splits it as a POSIX shell would, without expanding).</summary>
        private static string CommandLine(IEnumerable<string> args)
        {
            var quoted = new List<string>();
            foreach (var a in args)
            {
                quoted.Add("\"" + a.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("$", "\\$").Replace("`", "\\`") + "\"");
            }
            return string.Join(" ", quoted);
        }

        /// <summary>The meshtls CLI.</summary>
        private static class Cli
        {
            public static string Binary
            {
                get
                {
                    var path = Environment.GetEnvironmentVariable("MESHTLS_CLI");
                    Assert.IsFalse(string.IsNullOrEmpty(path), "MESHTLS_CLI is not set (scripts/ci/dotnet sets it)");
                    Assert.IsTrue(File.Exists(path), "MESHTLS_CLI: no file " + path + " (cargo build -p meshtls-cli)");
                    return path;
                }
            }

            public static Process Start(IEnumerable<string> args, bool redirectOut)
            {
                var psi = new ProcessStartInfo(Binary, CommandLine(args))
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = redirectOut,
                    RedirectStandardError = true,
                };
                psi.EnvironmentVariables["MESHTLS_CA_PASSPHRASE"] = Passphrase;
                var p = Process.Start(psi);
                // Drained so that a chatty service never blocks on a full pipe.
                p.ErrorDataReceived += (s, e) => { };
                p.BeginErrorReadLine();
                return p;
            }

            /// <summary>Runs the CLI to completion; returns its standard output.</summary>
            public static string Run(params string[] args)
            {
                using (var p = Start(args, true))
                {
                    var stdout = p.StandardOutput.ReadToEndAsync();
                    Assert.IsTrue(p.WaitForExit((int)Timeout.TotalMilliseconds), "meshtls " + args[0] + " timed out");
                    Assert.AreEqual(0, p.ExitCode, "meshtls " + string.Join(" ", args) + ": " + stdout.Result);
                    return stdout.Result;
                }
            }
        }

        [TestFixtureSetUp]
        public void StartServices()
        {
            dir = Path.Combine(Path.GetTempPath(), "meshtls-enroll-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            var ca = Path.Combine(dir, "ca");
            var admin = Path.Combine(dir, "admin");
            Cli.Run("ca", "init", "--trust-domain", TestData.TrustDomain, "--out", ca);
            Cli.Run("issue", "--ca", ca, "--id", Admin, "--usage", "client", "--out", admin);
            service = new Service(ca, admin);
            // The shortest lifetime the core issues (one minute, plus its one-minute backdate):
            // the default schedule renews at 2/3 of it, some 15 to 20 seconds after issuance.
            // Its own CA directory (the same key): a CA directory is bound to one ledger.
            var caShort = Path.Combine(dir, "ca-short");
            Directory.CreateDirectory(caShort);
            foreach (var f in new[] { "ca.crt", "ca.key", "revocations.txt" })
            {
                if (File.Exists(Path.Combine(ca, f)))
                {
                    File.Copy(Path.Combine(ca, f), Path.Combine(caShort, f));
                }
            }
            shortLived = new Service(caShort, admin, "--lifetime", "1m");
        }

        [TestFixtureTearDown]
        public void StopServices()
        {
            shortLived?.Dispose();
            service?.Dispose();
            if (dir != null)
            {
                Directory.Delete(dir, true);
            }
        }

        private EnrollOptions Options()
        {
            return new EnrollOptions(service.Bundle) { Timeout = TimeSpan.FromSeconds(20) };
        }

        private static T Await<T>(Task<T> task)
        {
            Assert.IsTrue(task.Wait(Timeout) || task.IsFaulted, "timed out");
            return task.Result;
        }

        private static void Await(Task task)
        {
            Assert.IsTrue(task.Wait(Timeout), "timed out");
        }

        /// <summary>The exception a failed enrollment raised (unwrapped from the task).</summary>
        private static MeshTlsException Failure(Func<Task<EnrolledIdentity>> start)
        {
            try
            {
                var task = start();
                Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout), "timed out");
                task.Result.Dispose();
            }
            catch (AggregateException e) when (e.InnerException is MeshTlsException)
            {
                return (MeshTlsException)e.InnerException;
            }
            Assert.Fail("the enrollment succeeded");
            return null;
        }

        /// <summary>X509Certificate's serial (uppercase, big-endian hex) in meshtls's form.</summary>
        private static string SerialOf(X509Certificate2 cert)
        {
            return cert.SerialNumber.ToLowerInvariant().TrimStart('0');
        }

        [Test]
        public void AnEnrolledIdentityFetchesFreshTokensTheServiceBundleValidates()
        {
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options())))
            using (var source = new JwtSource(node, new[] { "orders" }, null, true))
            {
                var first = source.Token();
                Assert.AreEqual(first, source.Token(), "a fresh token is reused");
                var jwks = Cli.Run("jwt", "bundle", "--url", service.Url, "--bundle", Path.Combine(dir, "ca", "ca.crt"));
                using (var builder = new PolicyBuilder().AllowTrustDomain(TestData.TrustDomain))
                using (var policy = builder.Build())
                using (var validator = new JwtValidator(jwks, TestData.TrustDomain, policy, new[] { "orders" }))
                {
                    var oldCert = System.Text.Encoding.ASCII.GetBytes(node.ChainPem);
                    Assert.AreEqual(Node, validator.Validate(first, oldCert, DateTimeOffset.UtcNow).Subject);
                    Await(node.RenewNowAsync());
                    var renewed = source.Token();
                    Assert.AreNotEqual(first, renewed, "a bound token follows the renewal");
                    var newCert = System.Text.Encoding.ASCII.GetBytes(node.ChainPem);
                    Assert.AreEqual(Node, validator.Validate(renewed, newCert, DateTimeOffset.UtcNow).Subject);
                    var e = Assert.Throws<MeshTlsException>(() => validator.Validate(first, newCert, DateTimeOffset.UtcNow));
                    Assert.AreEqual(ErrorCode.TokenBinding, e.Code);
                }
            }
        }

        [Test]
        public void EnrollRenewAndHandshakeWithTheEnrolledIdentities()
        {
            // The client accepts only the node as its peer; the node, the default (the trust domain).
            var clientOptions = Options();
            using (var builder = new PolicyBuilder().AllowId(Node))
            {
                clientOptions.PeerPolicy = builder.Build();
            }
            using (clientOptions.PeerPolicy)
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options())))
            using (var client = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Client), Client, clientOptions)))
            {
                Assert.AreEqual(Node, node.SpiffeId);
                Assert.AreEqual(0, node.Generation);
                StringAssert.StartsWith("-----BEGIN CERTIFICATE-----", node.ChainPem);
                var first = node.Serial;
                StringAssert.IsMatch("^[0-9a-f]+$", first);
                var cert = node.Certificate;
                Assert.IsTrue(cert.HasPrivateKey, "the certificate carries its key");
                Assert.AreEqual(first.TrimStart('0'), SerialOf(cert));

                Await(node.RenewNowAsync());
                Assert.AreEqual(1, node.Generation);
                Assert.AreNotEqual(first, node.Serial);
                Await(node.RefreshTrustAsync());
                Assert.AreEqual(0, node.StaleCrlRefusals, "the service's CRLs only move forward");

                // The renewed identity serves TLS to the other enrolled identity; each side
                // verifies the other with its enrolled verifier (the service's bundle and CRL).
                PeerIdentity serverSaw = null, clientSaw = null;
                using (var serverVerifier = node.Verifier())
                using (var clientVerifier = client.Verifier())
                {
                    // Owned by the identities: not disposed here.
                    var serverCert = node.Certificate;
                    var clientCert = client.Certificate;
                    Assert.AreEqual(node.Serial.TrimStart('0'), SerialOf(serverCert), "the certificate is the renewed one");
                    var listener = new TcpListener(IPAddress.Loopback, 0);
                    listener.Start();
                    var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                    var server = Task.Run(() =>
                    {
                        using (var tcp = listener.AcceptTcpClient())
                        using (var tls = new SslStream(tcp.GetStream(), false, serverVerifier.CreateValidationCallback(PeerUsage.Client, p => serverSaw = p)))
                        {
                            tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                            tls.AuthenticateAsServer(serverCert, true, SslProtocols.Tls12, false);
                            tls.WriteByte(42);
                            tls.Flush();
                        }
                    });
                    using (var tcp = new TcpClient())
                    {
                        tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                        tcp.Connect(IPAddress.Loopback, port);
                        using (var tls = new SslStream(tcp.GetStream(), false, clientVerifier.CreateValidationCallback(PeerUsage.Server, p => clientSaw = p)))
                        {
                            tls.AuthenticateAsClient("localhost", new X509CertificateCollection { clientCert }, SslProtocols.Tls12, false);
                            Assert.AreEqual(42, tls.ReadByte());
                        }
                    }
                    Assert.IsTrue(server.Wait(Timeout), "the server ended within the timeout");
                    listener.Stop();
                }
                Assert.AreEqual(Node, clientSaw.SpiffeId);
                Assert.AreEqual(node.Serial, clientSaw.SerialHex);
                Assert.AreEqual(Client, serverSaw.SpiffeId);
                Assert.AreEqual(client.Serial, serverSaw.SerialHex);

                // The peer policies: the client's verifier refuses anyone but the node.
                using (var v = client.Verifier())
                {
                    var e = Assert.Throws<MeshTlsException>(() => v.Verify(client.ChainPem, PeerUsage.Server, DateTimeOffset.UtcNow));
                    Assert.AreEqual("identity_not_allowed", e.CodeName);
                    Assert.AreEqual(Node, v.Verify(node.ChainPem, PeerUsage.Server, DateTimeOffset.UtcNow).SpiffeId);
                }
                using (var v = node.Verifier())
                {
                    Assert.AreEqual(Client, v.Verify(client.ChainPem, PeerUsage.Client, DateTimeOffset.UtcNow).SpiffeId);
                }
                // A second listener of the client's with its own policy: the client itself only.
                using (var builder = new PolicyBuilder().AllowId(Client))
                using (var onlyClient = builder.Build())
                using (var v = client.TrustFor(onlyClient))
                {
                    Assert.AreEqual(Client, v.Verify(client.ChainPem, PeerUsage.Client, DateTimeOffset.UtcNow).SpiffeId);
                    var e = Assert.Throws<MeshTlsException>(() => v.Verify(node.ChainPem, PeerUsage.Server, DateTimeOffset.UtcNow));
                    Assert.AreEqual("identity_not_allowed", e.CodeName);
                }
                Assert.Throws<ArgumentNullException>(() => client.TrustFor(null));
            }
        }

        [Test]
        public void TheCertificateIsOneObjectPerGeneration()
        {
            X509Certificate2 first, second, third;
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options())))
            {
                first = node.Certificate;
                Assert.AreSame(first, node.Certificate, "the same object while the identity does not renew");
                // Many handshakes at once (Kestrel's selector): all get that one object.
                var reads = Enumerable.Range(0, 16).Select(_ => Task.Run(() => node.Certificate)).ToArray();
                Assert.IsTrue(Task.WaitAll(reads, Timeout));
                foreach (var r in reads)
                {
                    Assert.AreSame(first, r.Result);
                }
                Assert.AreSame(first, node.CreateCertificateSelectionCallback()(null, "localhost", null, null, new string[0]));

                var selector = node.CreateServerCertificateSelector();
                Assert.AreSame(first, selector(null, "localhost"));

                Await(node.RenewNowAsync());
                second = node.Certificate;
                Assert.AreNotSame(first, second);
                Assert.AreSame(second, selector(null, "localhost"), "the selector follows the renewal");
                Assert.AreEqual(node.Serial.TrimStart('0'), SerialOf(second));
                Assert.AreSame(second, node.Certificate);
                Assert.AreNotEqual(IntPtr.Zero, first.Handle, "a superseded certificate stays usable through one renewal");

                Await(node.RenewNowAsync());
                third = node.Certificate;
                Assert.AreEqual(IntPtr.Zero, first.Handle, "disposed at the next renewal");
                Assert.AreNotEqual(IntPtr.Zero, second.Handle);

                // A caller who disposed it anyway gets a live one, not a dead object.
                third.Dispose();
                third = node.Certificate;
                Assert.AreNotEqual(IntPtr.Zero, third.Handle);
                Assert.AreEqual(node.Serial.TrimStart('0'), SerialOf(third));
            }
            Assert.AreEqual(IntPtr.Zero, second.Handle, "disposed with the identity");
            Assert.AreEqual(IntPtr.Zero, third.Handle, "disposed with the identity");
        }

        [Test]
        public void ADisposedIdentityHasNoCertificate()
        {
            var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options()));
            node.Dispose();
            Assert.Throws<ObjectDisposedException>(() => { var unused = node.Certificate; });
        }

        [Test]
        public void CancellationStopsAnEnrollmentInFlight()
        {
            // A listener that accepts into its backlog and never answers: only cancelling ends it early.
            var silent = new TcpListener(IPAddress.Loopback, 0);
            silent.Start();
            try
            {
                var port = ((IPEndPoint)silent.LocalEndpoint).Port;
                var options = new EnrollOptions(service.Bundle) { Timeout = TimeSpan.FromSeconds(50) };
                using (var cts = new CancellationTokenSource())
                {
                    var watch = Stopwatch.StartNew();
                    var task = Enrollment.EnrollAsync("https://127.0.0.1:" + port, new string('0', 64), Node, options, cts.Token);
                    Thread.Sleep(200);
                    Assert.IsFalse(task.IsCompleted, "still waiting for the silent service");
                    cts.Cancel();
                    Assert.IsTrue(((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "cancelled within seconds");
                    Assert.IsTrue(task.IsCanceled, "the task is cancelled: " + task.Status);
                    Assert.Less(watch.Elapsed, TimeSpan.FromSeconds(10), "long before the 50 s timeout");
                }
                using (var cancelled = new CancellationTokenSource())
                {
                    cancelled.Cancel();
                    var task = Enrollment.EnrollAsync(service.Url, new string('0', 64), Node, Options(), cancelled.Token);
                    Assert.IsTrue(task.IsCanceled, "an already cancelled token starts nothing");
                }
            }
            finally
            {
                silent.Stop();
            }
        }

        [Test]
        public void RenewalsAreCancellableAndCompleteOnThePool()
        {
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options())))
            {
                using (var cancelled = new CancellationTokenSource())
                {
                    cancelled.Cancel();
                    Assert.IsTrue(node.RenewNowAsync(cancelled.Token).IsCanceled);
                    Assert.IsTrue(node.RefreshTrustAsync(cancelled.Token).IsCanceled);
                    Assert.AreEqual(0, node.Generation, "a renewal cancelled before it started changed nothing");
                }
                // The native completion thread only completes the task: continuations run on the pool.
                var onPool = node.RenewNowAsync().ContinueWith(t =>
                {
                    t.Wait();
                    return Thread.CurrentThread.IsThreadPoolThread && Thread.CurrentThread.Name != "meshtls-completion";
                }, TaskContinuationOptions.ExecuteSynchronously);
                Assert.IsTrue(Await(onPool));
                Assert.AreEqual(1, node.Generation);
                // A renewal still running when its identity is disposed completes all the same.
                var late = node.RenewNowAsync();
                node.Dispose();
                Assert.IsTrue(((IAsyncResult)late).AsyncWaitHandle.WaitOne(Timeout), "the renewal completes");
                Assert.IsFalse(late.IsCanceled);
            }
        }

        [Test]
        public void TlsClientAndServerBetweenEnrolledIdentities()
        {
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options())))
            using (var client = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Client), Client, Options())))
            using (var nodeTrust = node.Trust())
            using (var clientTrust = client.Trust())
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                try
                {
                    var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                    Func<X509Certificate2, Tuple<TlsConnection, Exception, TlsConnection, Exception>> round = presented =>
                    {
                        var server = Task.Run(async () =>
                        {
                            var tcp = await listener.AcceptTcpClientAsync();
                            return await TlsServer.AuthenticateAsync(tcp.GetStream(), nodeTrust, node, TlsProfile.WithTls12);
                        });
                        var tcpClient = new TcpClient();
                        tcpClient.Connect(IPAddress.Loopback, port);
                        var clientTask = presented == null
                            ? TlsClient.AuthenticateAsync(tcpClient.GetStream(), "localhost", clientTrust, (X509Certificate2)null, TlsProfile.WithTls12)
                            : TlsClient.AuthenticateAsync(tcpClient.GetStream(), "localhost", clientTrust, client, TlsProfile.WithTls12);
                        ((IAsyncResult)server).AsyncWaitHandle.WaitOne(Timeout);
                        ((IAsyncResult)clientTask).AsyncWaitHandle.WaitOne(Timeout);
                        Func<Task<TlsConnection>, Exception> error = t => t.IsFaulted ? t.Exception.InnerException : null;
                        return Tuple.Create(server.Status == TaskStatus.RanToCompletion ? server.Result : null, error(server),
                                            clientTask.Status == TaskStatus.RanToCompletion ? clientTask.Result : null, error(clientTask));
                    };

                    var ok = round(client.Certificate);
                    Assert.IsNull(ok.Item2, "server: " + ok.Item2);
                    Assert.IsNull(ok.Item4, "client: " + ok.Item4);
                    using (var serverSide = ok.Item1)
                    using (var clientSide = ok.Item3)
                    {
                        Assert.AreEqual(Client, serverSide.Peer.SpiffeId);
                        Assert.AreEqual(Node, clientSide.Peer.SpiffeId);
                        Assert.AreEqual(SslProtocols.Tls12, clientSide.Protocol);
                        Assert.IsTrue(TlsProfile.WithTls12.Allows(clientSide.CipherSuite.Value), "suite 0x" + clientSide.CipherSuite.Value.ToString("x4"));
                        clientSide.Stream.WriteByte(7);
                        clientSide.Stream.Flush();
                        Assert.AreEqual(7, serverSide.Stream.ReadByte());
                    }

                    // A client with no certificate: both ends say no_certificate.
                    var none = round(null);
                    Assert.IsInstanceOf<MeshTlsException>(none.Item2, "server: " + none.Item2);
                    Assert.AreEqual(ErrorCode.NoCertificate, ((MeshTlsException)none.Item2).Code, none.Item2.Message);
                    Assert.IsInstanceOf<MeshTlsException>(none.Item4, "client: " + none.Item4);
                    Assert.AreEqual(ErrorCode.NoCertificate, ((MeshTlsException)none.Item4).Code, none.Item4.Message);
                }
                finally
                {
                    listener.Stop();
                }
            }
        }

        [Test]
        public void TheLiveTrustRefusesAPeerRevokedSinceAndTrustForKeepsItsPolicy()
        {
            const string Web = "spiffe://mesh.internal/service/web";
            const string Other = "spiffe://mesh.internal/service/other";
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, Options())))
            using (var web = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Web), Web, Options())))
            using (var other = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Other), Other, Options())))
            using (var live = node.Trust())
            using (var snapshot = node.Verifier())
            using (var builder = new PolicyBuilder().AllowId(Web))
            using (var onlyWebPolicy = builder.Build())
            using (var onlyWeb = node.TrustFor(onlyWebPolicy))
            {
                Func<Verifier, string, string> verdict = (v, chain) =>
                {
                    try
                    {
                        return v.Verify(chain, PeerUsage.Client, DateTimeOffset.UtcNow).SpiffeId;
                    }
                    catch (MeshTlsException e)
                    {
                        return e.CodeName;
                    }
                };
                foreach (var v in new[] { live, snapshot, onlyWeb })
                {
                    Assert.AreEqual(Web, verdict(v, web.ChainPem));
                }
                Assert.AreEqual("identity_not_allowed", verdict(onlyWeb, other.ChainPem));
                Assert.AreEqual(Other, verdict(live, other.ChainPem));

                service.Revoke(web.Serial);
                Await(node.RefreshTrustAsync());
                Assert.AreEqual("revoked", verdict(live, web.ChainPem), "the live trust has the new CRL");
                Assert.AreEqual("revoked", verdict(onlyWeb, web.ChainPem), "so has the second one");
                Assert.AreEqual("identity_not_allowed", verdict(onlyWeb, other.ChainPem), "with its own policy");
                Assert.AreEqual(Web, verdict(snapshot, web.ChainPem), "a snapshot keeps the old CRL");
                Assert.AreEqual(Other, verdict(live, other.ChainPem));
            }
        }

        [Test]
        public void AReusedTokenIsTokenUsed()
        {
            var token = service.Mint("spiffe://mesh.internal/worker/*");
            using (var first = Await(Enrollment.EnrollAsync(service.Url, token, "spiffe://mesh.internal/worker/a", Options())))
            {
                Assert.AreEqual("spiffe://mesh.internal/worker/a", first.SpiffeId);
            }
            var e = Failure(() => Enrollment.EnrollAsync(service.Url, token, "spiffe://mesh.internal/worker/b", Options()));
            Assert.AreEqual("token_used", e.CodeName);
            Assert.AreEqual(ErrorCode.ServiceError, e.Code);
            Assert.AreEqual(ErrorFamily.Request, e.Family);
            StringAssert.StartsWith("token_used: ", e.Message);
        }

        [Test]
        public void ATokenForAnotherIdentityIsNotAuthorized()
        {
            var token = service.Mint("spiffe://mesh.internal/worker/c");
            var e = Failure(() => Enrollment.EnrollAsync(service.Url, token, Node, Options()));
            Assert.AreEqual("not_authorized", e.CodeName);
            Assert.AreEqual(ErrorCode.ServiceError, e.Code);
            // A refused CSR does not consume the token: the right identity still enrolls.
            using (var worker = Await(Enrollment.EnrollAsync(service.Url, token, "spiffe://mesh.internal/worker/c", Options())))
            {
                Assert.AreEqual("spiffe://mesh.internal/worker/c", worker.SpiffeId);
            }
        }

        [Test]
        public void AnUnknownTokenIsTokenInvalid()
        {
            var e = Failure(() => Enrollment.EnrollAsync(service.Url, new string('0', 64), Node, Options()));
            Assert.AreEqual("token_invalid", e.CodeName);
            Assert.AreEqual(ErrorCode.ServiceError, e.Code);
        }

        [Test]
        public void AServiceOutsideTheBundleIsUnknownIssuer()
        {
            var token = service.Mint(Node);
            string rogue;
            using (var other = Authority.CreateRoot(new RootParams(TestData.TrustDomain), DateTimeOffset.UtcNow.AddMinutes(-1)))
            {
                rogue = other.RootPem;
            }
            var e = Failure(() => Enrollment.EnrollAsync(service.Url, token, Node, new EnrollOptions(rogue) { Timeout = TimeSpan.FromSeconds(10) }));
            // Not "unreachable": the core refused the service's certificate, and says why.
            Assert.AreEqual("unknown_issuer", e.CodeName);
            Assert.AreEqual(ErrorCode.UnknownIssuer, e.Code);
            Assert.AreEqual(ErrorFamily.Verification, e.Family);
            StringAssert.DoesNotContain("unreachable", e.Message);
            StringAssert.DoesNotContain("Error {", e.Message);
            var http = Failure(() => Enrollment.EnrollAsync("http://localhost:" + service.Port, token, Node, Options()));
            Assert.AreEqual("invalid_request", http.CodeName);
            Assert.AreEqual(ErrorCode.InvalidRequest, http.Code);
            // Neither refusal used the token.
            using (var node = Await(Enrollment.EnrollAsync(service.Url, token, Node, Options())))
            {
                Assert.AreEqual(Node, node.SpiffeId);
            }
        }

        [Test]
        public void BadArgumentsFailBeforeAnyRequest()
        {
            Assert.Throws<ArgumentNullException>(() => Enrollment.EnrollAsync(null, "t", Node, Options()));
            Assert.Throws<ArgumentNullException>(() => Enrollment.EnrollAsync(service.Url, "t", Node, null));
            Assert.Throws<ArgumentNullException>(() => Enrollment.ResumeAsync(service.Url, null));
            Assert.Throws<ArgumentNullException>(() => new EnrollOptions((string)null));
            Assert.Throws<ArgumentNullException>(() => new EnrollOptions((byte[])null));
            var garbage = Failure(() => Enrollment.EnrollAsync(service.Url, "t", Node, new EnrollOptions("not a certificate")));
            Assert.AreEqual("malformed", garbage.CodeName);
            Assert.AreEqual(ErrorCode.Malformed, garbage.Code);
            var id = Failure(() => Enrollment.EnrollAsync(service.Url, "t", "spiffe://Mesh..internal/x", Options()));
            Assert.AreEqual("malformed", id.CodeName);
            var options = Options();
            options.KeyAlgorithm = (KeyAlgorithm)99;
            Assert.AreEqual("invalid_argument", Failure(() => Enrollment.EnrollAsync(service.Url, "t", Node, options)).CodeName);
        }

        [Test]
        public void NobodyListeningIsTransportWithinTheTimeout()
        {
            // A listener that accepts into its backlog and never answers: the timeout ends it.
            var silent = new TcpListener(IPAddress.Loopback, 0);
            silent.Start();
            try
            {
                var port = ((IPEndPoint)silent.LocalEndpoint).Port;
                var options = new EnrollOptions(service.Bundle) { Timeout = TimeSpan.FromMilliseconds(500) };
                var watch = Stopwatch.StartNew();
                var e = Failure(() => Enrollment.EnrollAsync("https://127.0.0.1:" + port, new string('0', 64), Node, options));
                Assert.AreEqual("transport", e.CodeName);
                Assert.AreEqual(ErrorCode.Transport, e.Code);
                StringAssert.Contains("timed out", e.Message);
                Assert.Less(watch.Elapsed, TimeSpan.FromSeconds(10));
            }
            finally
            {
                silent.Stop();
            }
        }

        [Test]
        public void TheScheduleRenewsByItselfAndRaisesRotated()
        {
            var events = new List<RotationEventArgs>();
            var renewed = new ManualResetEventSlim();
            var options = new EnrollOptions(shortLived.Bundle) { Timeout = TimeSpan.FromSeconds(20) };
            using (var node = Await(Enrollment.EnrollAsync(shortLived.Url, shortLived.Mint(Node), Node, options)))
            {
                var first = node.Serial;
                node.Rotated += (s, e) =>
                {
                    lock (events)
                    {
                        events.Add(e);
                    }
                    if (e.Kind == RotationEventKind.Renewed)
                    {
                        renewed.Set();
                    }
                };
                // A throwing handler must not stop the others nor reach the native library.
                node.Rotated += (s, e) => { throw new InvalidOperationException("a handler's own bug"); };
                Assert.IsTrue(renewed.Wait(Timeout), "no automatic renewal within " + Timeout);
                Assert.GreaterOrEqual(node.Generation, 1);
                Assert.AreNotEqual(first, node.Serial);
                RotationEventArgs expiring, renewal;
                lock (events)
                {
                    expiring = events.Find(e => e.Kind == RotationEventKind.Expiring);
                    renewal = events.Find(e => e.Kind == RotationEventKind.Renewed);
                    Assert.IsFalse(events.Exists(e => e.Kind == RotationEventKind.Failed), "no failed renewal");
                }
                Assert.IsNotNull(expiring, "an Expiring event came before the renewal");
                Assert.AreEqual(first, expiring.Serial);
                Assert.IsFalse(expiring.Expired);
                Assert.AreNotEqual(first, renewal.Serial);
                Assert.AreEqual(1, renewal.Generation);
                Assert.IsTrue(renewal.NotAfter > DateTimeOffset.UtcNow, "the new certificate is valid");
                Assert.IsNull(renewal.Code);
            }
        }

        [Test]
        public void ResumeFromTheStateDirectoryAfterDisposing()
        {
            var state = Path.Combine(dir, "state-" + Guid.NewGuid().ToString("N"));
            var options = Options();
            options.StateDirectory = state;
            string serial;
            using (var node = Await(Enrollment.EnrollAsync(service.Url, service.Mint(Node), Node, options)))
            {
                serial = node.Serial;
            }
            Assert.IsTrue(File.Exists(Path.Combine(state, "identity.pem")), "the identity was kept");
            using (var again = Await(Enrollment.ResumeAsync(service.Url, options)))
            {
                Assert.AreEqual(Node, again.SpiffeId);
                Assert.AreEqual(serial, again.Serial);
                Assert.AreEqual(0, again.Generation);
                // The resumed identity authenticates its renewal.
                Await(again.RenewNowAsync());
                Assert.AreNotEqual(serial, again.Serial);
            }
            var empty = Options();
            empty.StateDirectory = Path.Combine(dir, "never-enrolled");
            var e = Failure(() => Enrollment.ResumeAsync(service.Url, empty));
            Assert.AreEqual("invalid_request", e.CodeName);
            var none = Failure(() => Enrollment.ResumeAsync(service.Url, Options()));
            Assert.AreEqual("invalid_request", none.CodeName);
        }
    }
}

// `node`, the .NET service of the polyglot mesh demo (examples/mesh/run.sh), on Mono.
//
//   MESHTLS_CA_PASSPHRASE=... mono Node.exe CA_DIR DIRECTORY_TLS_PORT
//
// Loads the CA with the MeshTls binding (C ABI over the Rust core), issues its own identity
// (spiffe://mesh.internal/service/node), and connects to the Rust directory with SslStream over
// TLS 1.2 (Mono has no TLS 1.3), mutual TLS, the directory checked by the core through
// Verifier.CreateValidationCallback. Mono's ClientWebSocket cannot present client certificates,
// so the node speaks a line protocol on the directory's second (plain mTLS) listener.
using System;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using MeshTls;

static class MeshNode
{
    const string Id = "spiffe://mesh.internal/service/node";
    const string Directory = "spiffe://mesh.internal/service/directory";

    static int Main(string[] args)
    {
        var caDir = args[0];
        var port = int.Parse(args[1]);
        var caPem = File.ReadAllText(Path.Combine(caDir, "ca.crt"));
        using (var ca = Authority.Load(caPem, File.ReadAllText(Path.Combine(caDir, "ca.key")),
                                       Environment.GetEnvironmentVariable("MESHTLS_CA_PASSPHRASE")))
        {
            var request = new IssueRequest(Id) { Lifetime = TimeSpan.FromHours(1) };
            request.DnsNames.Add("localhost");
            using (var issued = ca.Issue(request, DateTimeOffset.UtcNow))
            using (var bundle = new TrustBundle(caPem))
            using (var policy = new PolicyBuilder().AllowId(Directory).Build())
            using (var verifier = new Verifier(bundle, policy))
            {
                Console.WriteLine("issued {0} serial {1}", Id, issued.SerialHex);
                var cert = issued.ToX509Certificate2();
                PeerIdentity directory = null;
                using (var tcp = new TcpClient())
                {
                    tcp.ReceiveTimeout = tcp.SendTimeout = 10000;
                    tcp.Connect("127.0.0.1", port);
                    using (var tls = new SslStream(tcp.GetStream(), false,
                               verifier.CreateValidationCallback(PeerUsage.Server, p => directory = p),
                               (sender, host, local, remote, acceptable) => cert))
                    {
                        tls.AuthenticateAsClient("localhost", new X509CertificateCollection { cert },
                                                 SslProtocols.Tls12, false);
                        Console.WriteLine("connected directory {0} serial {1} {2}",
                                          directory.SpiffeId, directory.SerialHex, tls.SslProtocol);
                        var writer = new StreamWriter(tls) { AutoFlush = true, NewLine = "\n" };
                        var reader = new StreamReader(tls);
                        writer.WriteLine("lookup gateway");
                        var answer = reader.ReadLine();
                        Console.WriteLine("answer: {0}", answer);
                        var ok = directory.SpiffeId == Directory && answer != null && answer.Contains(Id);
                        Console.WriteLine("RESULT talk node->directory {0}", ok ? directory.SpiffeId : "FAILED");
                        return ok ? 0 : 1;
                    }
                }
            }
        }
    }
}

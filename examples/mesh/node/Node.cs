// `node`, the .NET service of the polyglot mesh demo (examples/mesh/run.sh), on Mono.
//
//   MESHTLS_JOIN_TOKEN=... mono Node.exe CA_URL CA_BUNDLE DIRECTORY_TLS_PORT
//
// Enrolls spiffe://mesh.internal/service/node at the CA service CA_URL with a one-time join token
// (MeshTls Enrollment.EnrollAsync, the Rust client over the C ABI: the key is made here, only a
// CSR leaves), trusting the service through CA_BUNDLE (the CA's ca.crt; no CA key, no passphrase).
// Then connects to the Rust directory with SslStream over TLS 1.2 (Mono has no TLS 1.3), mutual
// TLS, presenting the enrolled certificate, the directory checked by the core through
// node.Trust().CreateValidationCallback (live: the bundle and CRL last fetched; peer policy:
// the directory only). Mono's ClientWebSocket cannot present client certificates,
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
        var caUrl = args[0];
        var bundlePem = File.ReadAllText(args[1]);
        var port = int.Parse(args[2]);
        EnrolledIdentity node;
        using (var onlyDirectory = new PolicyBuilder().AllowId(Directory).Build())
        {
            var options = new EnrollOptions(bundlePem) { PeerPolicy = onlyDirectory };
            options.DnsNames.Add("localhost");
            try
            {
                node = Enrollment.EnrollAsync(caUrl, Environment.GetEnvironmentVariable("MESHTLS_JOIN_TOKEN") ?? "", Id, options)
                    .GetAwaiter().GetResult();
            }
            catch (MeshTlsException e)
            {
                Console.WriteLine("enroll refused: {0} ({1})", e.CodeName, e.Message);
                return 1;
            }
        }
        // node.Trust(): live, the bundle and CRL last fetched from the service, with the peer policy.
        using (node)
        using (var verifier = node.Trust())
        {
            // The identity owns its certificate (one object per generation): not disposed here.
            var cert = node.Certificate;
            Console.WriteLine("enrolled {0} serial {1}", Id, node.Serial);
            PeerIdentity directory = null;
            using (var tcp = new TcpClient())
            {
                tcp.ReceiveTimeout = tcp.SendTimeout = 10000;
                tcp.Connect("127.0.0.1", port);
                using (var tls = new SslStream(tcp.GetStream(), false,
                           verifier.CreateValidationCallback(PeerUsage.Server, p => directory = p),
                           node.CreateCertificateSelectionCallback()))
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

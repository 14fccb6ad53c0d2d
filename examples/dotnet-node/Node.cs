// A Conduit-style mesh node on .NET: it loads its identity from PEM files (`meshtls issue` or the
// core), serves mTLS with SslStream and connects to a peer, and lets meshtls-core decide every
// certificate (chain, validity, usage, SPIFFE ID policy) through MeshTls's validation callback,
// where such nodes used to compare `cert.Issuer == "CN=ConduitCA"`. C# 7.2 (Mono's mcs).
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using MeshTls;

namespace MeshTls.Examples
{
    public static class Node
    {
        private const string Usage =
            "usage: node.exe serve   --ca CA.pem --cert CHAIN.pem --key KEY.pem --allow PATTERN [--listen ADDR:PORT] [--once]\n" +
            "       node.exe connect --ca CA.pem --cert CHAIN.pem --key KEY.pem --allow PATTERN --peer ADDR:PORT [--message TEXT]";

        private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

        // Mono has no TLS 1.3; on .NET 8 use SslProtocols.None (the OS default: 1.2 and 1.3).
        private const SslProtocols Protocols = SslProtocols.Tls12;

        public static int Main(string[] args)
        {
            try
            {
                if (args.Length == 0)
                {
                    Console.Error.WriteLine(Usage);
                    return 2;
                }
                var opts = Options(args);
                using (var identity = Pkcs12.ToX509Certificate2(File.ReadAllText(Need(opts, "--cert")), File.ReadAllText(Need(opts, "--key"))))
                using (var bundle = new TrustBundle(File.ReadAllText(Need(opts, "--ca"))))
                using (var builder = new PolicyBuilder().AllowPattern(Need(opts, "--allow")))
                using (var policy = builder.Build())
                using (var verifier = new Verifier(bundle, policy))
                {
                    switch (args[0])
                    {
                        case "serve":
                            Serve(identity, verifier, opts.ContainsKey("--listen") ? opts["--listen"] : "127.0.0.1:0", opts.ContainsKey("--once"));
                            return 0;
                        case "connect":
                            return Connect(identity, verifier, Need(opts, "--peer"), opts.ContainsKey("--message") ? opts["--message"] : "hello from the .NET node");
                        default:
                            Console.Error.WriteLine(Usage);
                            return 2;
                    }
                }
            }
            catch (MeshTlsException e)
            {
                Console.Error.WriteLine("meshtls: " + e.CodeName + ": " + e.Message);
                return 2;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message + "\n" + Usage);
                return 2;
            }
        }

        private static void Serve(X509Certificate2 identity, Verifier verifier, string listen, bool once)
        {
            var listener = new TcpListener(Endpoint(listen));
            listener.Start();
            Console.WriteLine("listening " + ((IPEndPoint)listener.LocalEndpoint).Port);
            do
            {
                using (var tcp = listener.AcceptTcpClient())
                {
                    tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                    PeerIdentity peer = null;
                    try
                    {
                        using (var tls = new SslStream(tcp.GetStream(), false, verifier.CreateValidationCallback(PeerUsage.Client, p => peer = p)))
                        {
                            tls.AuthenticateAsServer(identity, true, Protocols, false);
                            Console.WriteLine("peer " + peer.SpiffeId + " " + tls.SslProtocol);
                            var reader = new StreamReader(tls, Encoding.UTF8);
                            var line = reader.ReadLine();
                            if (line != null)
                            {
                                var echo = Encoding.UTF8.GetBytes(line + "\n");
                                tls.Write(echo, 0, echo.Length);
                                tls.Flush();
                            }
                        }
                    }
                    catch (Exception e) when (e is AuthenticationException || e is IOException)
                    {
                        // The validation callback said no (the core's verdict), or the peer hung up.
                        Console.WriteLine("refused " + e.Message);
                    }
                }
            }
            while (!once);
            listener.Stop();
        }

        private static int Connect(X509Certificate2 identity, Verifier verifier, string peerAddress, string message)
        {
            PeerIdentity peer = null;
            try
            {
                using (var tcp = new TcpClient())
                {
                    tcp.ReceiveTimeout = tcp.SendTimeout = (int)Timeout.TotalMilliseconds;
                    var ep = Endpoint(peerAddress);
                    tcp.Connect(ep.Address, ep.Port);
                    // Servers that name acceptable CAs make Mono's default selection send nothing:
                    // always present our identity.
                    using (var tls = new SslStream(tcp.GetStream(), false, verifier.CreateValidationCallback(PeerUsage.Server, p => peer = p), (s, host, local, remote, issuers) => identity))
                    {
                        tls.AuthenticateAsClient("localhost", new X509CertificateCollection { identity }, Protocols, false);
                        Console.WriteLine("peer " + peer.SpiffeId + " " + tls.SslProtocol);
                        var bytes = Encoding.UTF8.GetBytes(message + "\n");
                        tls.Write(bytes, 0, bytes.Length);
                        tls.Flush();
                        Console.WriteLine("echo " + new StreamReader(tls, Encoding.UTF8).ReadLine());
                    }
                }
                return 0;
            }
            catch (Exception e) when (e is AuthenticationException || e is IOException || e is SocketException)
            {
                Console.WriteLine("refused " + e.Message);
                return 1;
            }
        }

        private static Dictionary<string, string> Options(string[] args)
        {
            var opts = new Dictionary<string, string>();
            for (var i = 1; i < args.Length; i++)
            {
                if (args[i] == "--once")
                {
                    opts[args[i]] = "";
                }
                else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
                {
                    opts[args[i]] = args[++i];
                }
                else
                {
                    throw new ArgumentException("unexpected argument " + args[i]);
                }
            }
            return opts;
        }

        private static string Need(Dictionary<string, string> opts, string name)
        {
            string value;
            if (!opts.TryGetValue(name, out value))
            {
                throw new ArgumentException("missing " + name);
            }
            return value;
        }

        private static IPEndPoint Endpoint(string hostPort)
        {
            var colon = hostPort.LastIndexOf(':');
            int port;
            IPAddress address;
            if (colon < 0 || !int.TryParse(hostPort.Substring(colon + 1), out port) || !IPAddress.TryParse(hostPort.Substring(0, colon), out address))
            {
                throw new ArgumentException("expected ADDRESS:PORT, got " + hostPort);
            }
            return new IPEndPoint(address, port);
        }
    }
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using MeshTls;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>The shared issuance vectors (fixtures/requests.json): the same verdict as the core for every case.</summary>
    [TestFixture]
    public class RequestTests
    {
        // requests.json as make_request_fixtures writes it: one case object per line, the grant
        // the only nested object. A tiny reader keeps the tests free of a JSON package.
        private const string JsonString = "\"((?:[^\"\\\\]|\\\\.)*)\"";

        private static string Unescape(string s)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < s.Length; i++)
            {
                if (s[i] != '\\' || i + 1 >= s.Length)
                {
                    sb.Append(s[i]);
                    continue;
                }
                var c = s[++i];
                switch (c)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'u':
                        sb.Append((char)int.Parse(s.Substring(i + 1, 4), NumberStyles.HexNumber));
                        i += 4;
                        break;
                    default: sb.Append(c); break;
                }
            }
            return sb.ToString();
        }

        private static string Field(string obj, string key)
        {
            var m = Regex.Match(obj, "\"" + key + "\":" + JsonString);
            return m.Success ? Unescape(m.Groups[1].Value) : null;
        }

        private static ulong? Number(string obj, string key)
        {
            var m = Regex.Match(obj, "\"" + key + "\":(\\d+)");
            return m.Success ? ulong.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : (ulong?)null;
        }

        private static string[] Strings(string obj, string key)
        {
            var m = Regex.Match(obj, "\"" + key + "\":\\[((?:" + JsonString + ",?)*)\\]");
            if (!m.Success)
            {
                return null;
            }
            return Regex.Matches(m.Groups[1].Value, JsonString).Cast<Match>().Select(x => Unescape(x.Groups[1].Value)).ToArray();
        }

        private static readonly Dictionary<string, Usage> Usages = new Dictionary<string, Usage>
        {
            { "server", Usage.Server }, { "client", Usage.Client }, { "both", Usage.Both },
        };

        private static readonly Dictionary<string, KeyAlgorithm> Keys = new Dictionary<string, KeyAlgorithm>
        {
            { "ecdsa-p256", KeyAlgorithm.EcdsaP256 }, { "ecdsa-p384", KeyAlgorithm.EcdsaP384 },
            { "ed25519", KeyAlgorithm.Ed25519 }, { "rsa-2048", KeyAlgorithm.Rsa2048 }, { "rsa-4096", KeyAlgorithm.Rsa4096 },
        };

        private static Grant GrantOf(string g)
        {
            var ids = Field(g, "ids");
            var grant = Field(g, "kind") == "join_token"
                ? Grant.JoinToken(ids, Strings(g, "dns") ?? new string[0])
                : Grant.Administrator(ids);
            try
            {
                if (Field(g, "kind") != "join_token" && Strings(g, "dns") != null)
                {
                    grant.WithDnsNames(Strings(g, "dns"));
                }
                if (Strings(g, "ips") != null)
                {
                    grant.WithIpAddresses(Strings(g, "ips"));
                }
                if (Field(g, "usage") != null)
                {
                    grant.WithUsage(Usages.TryGetValue(Field(g, "usage"), out var u) ? u : (Usage)99);
                }
                if (Number(g, "max_lifetime_seconds") is ulong max)
                {
                    grant.WithMaxLifetime(TimeSpan.FromSeconds(max));
                }
                return grant;
            }
            catch
            {
                grant.Dispose();
                throw;
            }
        }

        /// <summary>Replays one case in the order requests.json describes: "ok" or the code.</summary>
        private static string Replay(string line)
        {
            var grantMatch = Regex.Match(line, "\"grant\":\\{([^}]*)\\}");
            var top = grantMatch.Success ? line.Remove(grantMatch.Index, grantMatch.Length) : line;
            try
            {
                using (var ca = Authority.CreateRoot(new RootParams(Field(top, "trust_domain")), DateTimeOffset.UtcNow))
                {
                    var csr = Field(top, "csr");
                    var request = csr != null
                        ? IssueRequest.FromCsr(Encoding.UTF8.GetBytes(TestData.Fixture(csr)), Field(top, "id"))
                        : new IssueRequest(Field(top, "id"));
                    foreach (var d in Strings(top, "dns") ?? new string[0])
                    {
                        request.DnsNames.Add(d);
                    }
                    foreach (var ip in Strings(top, "ips") ?? new string[0])
                    {
                        request.IpAddresses.Add(ip);
                    }
                    if (Field(top, "usage") != null)
                    {
                        request.Usage = Usages.TryGetValue(Field(top, "usage"), out var u) ? u : (Usage)99;
                    }
                    if (Number(top, "lifetime_seconds") is ulong life)
                    {
                        request.Lifetime = TimeSpan.FromSeconds(life);
                    }
                    if (Field(top, "key") != null)
                    {
                        request.Key = Keys.TryGetValue(Field(top, "key"), out var k) ? k : (KeyAlgorithm)99;
                    }
                    if (!grantMatch.Success)
                    {
                        ca.Issue(request, DateTimeOffset.UtcNow).Dispose();
                        return "ok";
                    }
                    using (var grant = GrantOf(grantMatch.Groups[1].Value))
                    {
                        ca.IssueGranted(request, grant, Strings(top, "admins") ?? new string[0], DateTimeOffset.UtcNow).Dispose();
                        return "ok";
                    }
                }
            }
            catch (MeshTlsException e)
            {
                return e.CodeName;
            }
        }

        [Test]
        public void EveryRequestGetsItsCommittedVerdict()
        {
            var lines = TestData.Fixture("requests.json").Split('\n').Where(l => Field(l, "name") != null).ToList();
            Assert.GreaterOrEqual(lines.Count, 60);
            var failures = new List<string>();
            foreach (var line in lines)
            {
                var got = Replay(line);
                if (got != Field(line, "expect"))
                {
                    failures.Add(Field(line, "name") + ": expected " + Field(line, "expect") + ", got " + got);
                }
            }
            Console.WriteLine("requests.json: " + lines.Count + " cases replayed");
            Assert.IsEmpty(failures, string.Join("\n", failures));
        }

        [Test]
        public void ACsrKeepsItsIdAndNames()
        {
            var csr = Encoding.UTF8.GetBytes(TestData.Fixture("requests/dns.csr.pem"));
            using (var ca = Authority.CreateRoot(new RootParams("mesh.internal"), TestData.Now))
            {
                using (var issued = ca.Issue(IssueRequest.FromCsr(csr, "spiffe://mesh.internal/service/api"), TestData.Now))
                {
                    Assert.IsNull(issued.KeyPem);
                }
                var e = Assert.Throws<MeshTlsException>(() => ca.Issue(IssueRequest.FromCsr(csr, "spiffe://mesh.internal/service/web"), TestData.Now));
                Assert.AreEqual("invalid_request", e.CodeName);
                e = Assert.Throws<MeshTlsException>(() => ca.Issue(IssueRequest.FromCsr(Encoding.UTF8.GetBytes(TestData.Fixture("requests/rsa-1024.csr.pem"))), TestData.Now));
                Assert.AreEqual("weak_key", e.CodeName);
            }
        }
    }
}

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>fixtures/jwt.json through the C ABI: the same verdicts as the core's replay.</summary>
    [TestFixture]
    public class JwtTests
    {
        private static string Fixtures => Environment.GetEnvironmentVariable("MESHTLS_FIXTURES") ?? "fixtures";

        private static string Field(string line, string name)
        {
            var m = Regex.Match(line, "\"" + name + "\":\\s*\"([^\"]*)\"");
            return m.Success ? m.Groups[1].Value : null;
        }

        private static List<string> Strings(string line, string name)
        {
            var m = Regex.Match(line, "\"" + name + "\":\\[([^\\]]*)\\]");
            return m.Success ? Regex.Matches(m.Groups[1].Value, "\"([^\"]*)\"").Cast<Match>().Select(x => x.Groups[1].Value).ToList() : null;
        }

        private static string Verdict(string file, string line)
        {
            var jwks = File.ReadAllText(Path.Combine(Fixtures, Field(file, "jwks")));
            var at = DateTimeOffset.FromUnixTimeSeconds(long.Parse(Regex.Match(file, "\"at\": (\\d+)").Groups[1].Value));
            var leeway = Regex.Match(line, "\"leeway\":(\\d+)");
            var builder = new PolicyBuilder();
            try
            {
                foreach (var p in Regex.Matches(Regex.Match(file, "\"allow\": \\[([^\\]]*)\\]").Groups[1].Value, "\"([^\"]*)\"").Cast<Match>())
                {
                    builder.AllowPattern(p.Groups[1].Value);
                }
                if (leeway.Success)
                {
                    builder.ClockLeeway(TimeSpan.FromSeconds(int.Parse(leeway.Groups[1].Value)));
                }
                var audiences = Regex.Matches(Regex.Match(file, "\"audience\": \\[([^\\]]*)\\]").Groups[1].Value, "\"([^\"]*)\"").Cast<Match>().Select(x => x.Groups[1].Value).ToList();
                var peerFile = Field(line, "peer");
                var peer = peerFile == null ? null : File.ReadAllBytes(Path.Combine(Fixtures, peerFile));
                using (var policy = builder.Build())
                using (var v = new JwtValidator(jwks, Field(file, "trust_domain"), policy, audiences, Strings(line, "algorithms"), line.Contains("\"require_binding\":true")))
                {
                    var claims = v.Validate(Field(line, "token"), peer, at);
                    StringAssert.StartsWith("spiffe://mesh.internal/", claims.Subject);
                    StringAssert.Contains("\"kid\":", claims.Json);
                    return "ok";
                }
            }
            catch (MeshTlsException e)
            {
                Assert.AreEqual(e.Code == ErrorCode.TokenMalformed ? ErrorFamily.Input : ErrorFamily.Verification, e.Family, e.CodeName);
                return e.CodeName;
            }
            finally
            {
                builder.Dispose();
            }
        }

        [Test]
        public void EveryTokenCaseGetsItsCommittedVerdict()
        {
            var text = File.ReadAllText(Path.Combine(Fixtures, "jwt.json"));
            var header = text.Substring(0, text.IndexOf("\"cases\"", StringComparison.Ordinal));
            var lines = text.Split('\n').Where(l => l.TrimStart().StartsWith("{", StringComparison.Ordinal) && l.Contains("\"token\":")).ToList();
            Assert.That(lines.Count, Is.GreaterThanOrEqualTo(20));
            var failures = new List<string>();
            foreach (var line in lines)
            {
                var got = Verdict(header, line);
                if (got != Field(line, "expect"))
                {
                    failures.Add(Field(line, "name") + ": expected " + Field(line, "expect") + ", got " + got);
                }
            }
            Assert.IsEmpty(failures, string.Join("\n", failures));
        }

        [Test]
        public void ABundleThatDoesNotParseIsMalformed()
        {
            using (var builder = new PolicyBuilder().AllowTrustDomain("mesh.internal"))
            using (var policy = builder.Build())
            {
                var e = Assert.Throws<MeshTlsException>(() => new JwtValidator("{\"keys\": 3}", null, policy, new[] { "orders" }));
                Assert.AreEqual(ErrorCode.Malformed, e.Code);
                e = Assert.Throws<MeshTlsException>(() => new JwtValidator("{\"keys\": []}", null, policy, new string[0]));
                Assert.AreEqual(ErrorCode.InvalidRequest, e.Code);
            }
        }
    }
}

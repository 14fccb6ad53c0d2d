using System;
using System.Linq;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>The shared test vectors (fixtures/cases.json): the same verdict as the core for every case.</summary>
    [TestFixture]
    public class FixtureTests
    {
        private sealed class Case
        {
            public string Name;
            public string Chain;
            public bool WithCrls;
            public string[] Allow;
            public string Usage;
            public string Expect;
            public string Bundle;
            public string[] Crls;
            public long? At;
            public long Leeway;
            public int MaxIntermediates;
        }

        private static long? Number(string line, string key)
        {
            var m = Regex.Match(line, "\"" + key + "\":\\s*(-?\\d+)");
            return m.Success ? long.Parse(m.Groups[1].Value) : (long?)null;
        }

        // cases.json as make_fixtures writes it: one case object per line. A tiny reader keeps the
        // tests free of a JSON package Mono does not ship by default.
        private static string Field(string line, string key)
        {
            var m = Regex.Match(line, "\"" + key + "\":\\s*\"([^\"]*)\"");
            return m.Success ? m.Groups[1].Value : null;
        }

        private static string[] Strings(string text)
        {
            return Regex.Matches(text, "\"([^\"]*)\"").Cast<Match>().Select(m => m.Groups[1].Value).ToArray();
        }

        [Test]
        public void EveryCaseGetsItsCommittedVerdict()
        {
            var text = TestData.Fixture("cases.json");
            var at = DateTimeOffset.FromUnixTimeSeconds(long.Parse(Regex.Match(text, "\"at\":\\s*(\\d+)").Groups[1].Value));
            var bundlePem = TestData.Fixture(Field(text, "bundle"));
            var crls = Strings(Regex.Match(text, "\"crls\":\\s*\\[([^\\]]*)\\]").Groups[1].Value);
            var list = text.Split('\n')
                .Where(line => Field(line, "name") != null)
                .Select(line => new Case
                {
                    Name = Field(line, "name"),
                    Chain = Field(line, "chain"),
                    WithCrls = Regex.IsMatch(line, "\"with_crls\":\\s*true"),
                    Allow = Strings(Regex.Match(line, "\"allow\":\\s*\\[([^\\]]*)\\]").Groups[1].Value),
                    Usage = Field(line, "usage"),
                    Expect = Field(line, "expect"),
                    Bundle = Field(line, "bundle"),
                    Crls = Regex.IsMatch(line, "\"crls\":")
                        ? Strings(Regex.Match(line, "\"crls\":\\s*\\[([^\\]]*)\\]").Groups[1].Value)
                        : null,
                    At = Number(line, "at"),
                    Leeway = Number(line, "leeway") ?? 0,
                    MaxIntermediates = (int)(Number(line, "max_intermediates") ?? 4),
                })
                .ToList();
            Assert.GreaterOrEqual(list.Count, 15);
            Assert.AreEqual(2, crls.Length);
            var failures = 0;
            foreach (var c in list)
            {
                // The verdict is the code of the first error: building the bundle (the case's
                // or the top-level one), adding the CRLs (the case's list, else the top-level
                // one when with_crls), building the policy (leeway, depth) or verifying.
                string got;
                try
                {
                    using (var bundle = new TrustBundle(c.Bundle != null ? TestData.Fixture(c.Bundle) : bundlePem))
                    using (var builder = new PolicyBuilder())
                    {
                        foreach (var crl in c.Crls ?? (c.WithCrls ? crls : new string[0]))
                        {
                            bundle.AddCrl(TestData.Fixture(crl));
                        }
                        foreach (var pattern in c.Allow)
                        {
                            builder.AllowPattern(pattern);
                        }
                        builder.ClockLeeway(TimeSpan.FromSeconds(c.Leeway)).MaxIntermediates(c.MaxIntermediates);
                        using (var policy = builder.Build())
                        using (var verifier = new Verifier(bundle, policy))
                        {
                            var when = c.At.HasValue ? DateTimeOffset.FromUnixTimeSeconds(c.At.Value) : at;
                            verifier.Verify(TestData.Fixture(c.Chain), c.Usage == "client" ? PeerUsage.Client : PeerUsage.Server, when);
                            got = "ok";
                        }
                    }
                }
                catch (MeshTlsException e)
                {
                    got = e.CodeName;
                }
                if (got != c.Expect)
                {
                    failures++;
                    Console.WriteLine("fixture {0}: got {1}, want {2}", c.Name, got, c.Expect);
                }
            }
            Assert.AreEqual(0, failures, "fixture cases with another verdict than the core's");
        }

        [Test]
        public void ACaWithAnUnknownCriticalExtensionIsSkippedNotFatal()
        {
            using (var bundle = new TrustBundle(TestData.Fixture("strict/odd-and-good-roots.pem")))
            {
                Assert.AreEqual(1, bundle.Count, "the good root is kept");
                var skipped = bundle.Skipped;
                Assert.AreEqual(1, skipped.Count);
                var s = skipped[0];
                Assert.AreEqual("CN=strict odd root", s.Subject);
                Assert.AreEqual(ErrorCode.UnknownCriticalExtension, s.Code);
                Assert.AreEqual("unknown_critical_extension", s.CodeName);
                Assert.IsTrue(Regex.IsMatch(s.FingerprintHex, "^[0-9a-f]{64}$"), s.FingerprintHex);
                StringAssert.Contains("1.3.6.1.4.1.55555.1", s.Message);
            }
            using (var good = new TrustBundle(TestData.Fixture("strict/root.pem")))
            {
                Assert.AreEqual(0, good.Skipped.Count);
            }
        }
    }
}

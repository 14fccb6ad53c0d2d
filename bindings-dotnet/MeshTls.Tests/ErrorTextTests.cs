using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>The core's own check that a message shows Rust syntax (a Debug dump) instead of words.</summary>
    internal static class MeshTlsMessages
    {
        public static bool LookLikeDebugOutput(string message)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(message + "\0");
            return meshtls_looks_like_debug_output(bytes);
        }

        [DllImport("meshtls_ffi")]
        [return: MarshalAs(UnmanagedType.I1)]
        private static extern bool meshtls_looks_like_debug_output(byte[] message);
    }

    /// <summary>
    /// Readable errors: every refusal the fixtures provoke, through every API that reads them,
    /// is words (checked with the core's markers, <c>looks_like_debug_output</c>), and a bundle
    /// is accepted as text, bytes or a path.
    /// </summary>
    [TestFixture]
    public class ErrorTextTests
    {
        [Test]
        public void TheMarkersAreTheCoresAndCatchADebugDump()
        {
            Assert.IsTrue(MeshTlsMessages.LookLikeDebugOutput("transport: Other(OtherError(Error { code: UnknownIssuer }))"));
            Assert.IsTrue(MeshTlsMessages.LookLikeDebugOutput("malformed: NomError(Eof)"));
            Assert.IsFalse(MeshTlsMessages.LookLikeDebugOutput("unknown_issuer: no path to a trusted CA"));
        }

        private static IEnumerable<string> FixtureFiles()
        {
            return Directory.GetFiles(TestData.FixturesDir, "*", SearchOption.AllDirectories)
                .Where(f => new FileInfo(f).Length < 1 << 20)
                .OrderBy(f => f, StringComparer.Ordinal);
        }

        [Test]
        public void EveryRefusalOverTheFixturesReadsAsWords()
        {
            var messages = new List<Tuple<string, string>>();
            Action<string, Action> collect = (what, call) =>
            {
                try
                {
                    call();
                }
                catch (MeshTlsException e)
                {
                    messages.Add(Tuple.Create(what, e.Message));
                }
            };
            using (var bundle = new TrustBundle(TestData.Fixture("root.pem")))
            using (var builder = new PolicyBuilder().AllowTrustDomain(TestData.TrustDomain))
            using (var policy = builder.Build())
            using (var verifier = new Verifier(bundle, policy))
            using (var rotation = RotationPolicy.Default())
            {
                foreach (var file in FixtureFiles())
                {
                    var name = file.Substring(TestData.FixturesDir.Length);
                    var bytes = File.ReadAllBytes(file);
                    var text = System.Text.Encoding.UTF8.GetString(bytes);
                    collect(name + " as a bundle", () => new TrustBundle(bytes).Dispose());
                    collect(name + " as a chain", () => verifier.Verify(text, PeerUsage.Client, TestData.Now));
                    collect(name + " as a server chain", () => verifier.Verify(text, PeerUsage.Server, TestData.Now));
                    collect(name + " as a CRL", () =>
                    {
                        using (var b = new TrustBundle(TestData.Fixture("root.pem")))
                        {
                            b.AddCrl(bytes);
                        }
                    });
                    collect(name + " as a revocation list", () => RevocationList.FromText(text).Dispose());
                    collect(name + " as a CA key", () => Authority.Load(TestData.Fixture("root.pem"), text, "wrong passphrase").Dispose());
                    collect(name + " for rotation", () => rotation.Status(text, TestData.Now));
                    collect(name + " as a CSR", () => IssueRequest.FromCsr(bytes));
                }
                // A path where contents are expected, and nonsense of every shape.
                collect("a path as a chain", () => verifier.Verify(Path.Combine(TestData.FixturesDir, "api.chain.pem") + ".missing", PeerUsage.Client, TestData.Now));
                collect("empty", () => verifier.Verify("", PeerUsage.Client, TestData.Now));
                collect("truncated DER", () => verifier.Verify(new List<byte[]> { new byte[] { 0x30, 0x82, 0x01 } }, PeerUsage.Client, TestData.Now));
            }
            Console.WriteLine("refusal messages checked: {0}", messages.Count);
            Assert.Greater(messages.Count, 100, "the fixtures provoke many refusals");
            var dumps = messages.Where(m => MeshTlsMessages.LookLikeDebugOutput(m.Item2)).ToList();
            foreach (var d in dumps)
            {
                Console.WriteLine("{0}: {1}", d.Item1, d.Item2);
            }
            Assert.AreEqual(0, dumps.Count, "messages that show Rust syntax instead of words");
            foreach (var m in messages)
            {
                Assert.IsFalse(string.IsNullOrWhiteSpace(m.Item2), m.Item1);
            }
        }

        [Test]
        public void ABundleIsTextBytesOrAPath()
        {
            var path = Path.Combine(TestData.FixturesDir, "root.pem");
            using (var fromText = new TrustBundle(File.ReadAllText(path)))
            using (var fromBytes = new TrustBundle(File.ReadAllBytes(path)))
            using (var fromPath = new TrustBundle(path))
            using (var fromPathAdded = new TrustBundle().AddCaPem("  " + path + "\n"))
            {
                Assert.AreEqual(1, fromText.Count);
                Assert.AreEqual(1, fromBytes.Count);
                Assert.AreEqual(1, fromPath.Count);
                Assert.AreEqual(1, fromPathAdded.Count);
            }
            var missing = Assert.Throws<MeshTlsException>(() => new TrustBundle(path + ".missing"));
            Assert.AreEqual(ErrorCode.Io, missing.Code);
            Assert.AreEqual("io", missing.CodeName);
            StringAssert.Contains(path + ".missing", missing.Message);
            Assert.IsFalse(MeshTlsMessages.LookLikeDebugOutput(missing.Message), missing.Message);
            var garbage = Assert.Throws<MeshTlsException>(() => new TrustBundle("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"));
            Assert.AreEqual(ErrorCode.Malformed, garbage.Code);
            Assert.IsFalse(MeshTlsMessages.LookLikeDebugOutput(garbage.Message), garbage.Message);
        }
    }
}

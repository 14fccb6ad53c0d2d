using System;
using System.Linq;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>The core's scenario through the .NET API: issue, verify, and every way to fail.</summary>
    [TestFixture]
    public class ApiTests
    {
        private Authority root;
        private Authority intermediate;

        [SetUp]
        public void MakeCas()
        {
            root = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "dotnet test root" }, TestData.Now.AddMinutes(-1));
            intermediate = root.CreateIntermediate(new IntermediateParams(), TestData.Now.AddMinutes(-1));
        }

        [TearDown]
        public void DisposeCas()
        {
            intermediate.Dispose();
            root.Dispose();
        }

        private Verifier VerifierFor(string pattern, params string[] crls)
        {
            using (var bundle = new TrustBundle(root.RootPem))
            using (var builder = new PolicyBuilder().AllowPattern(pattern))
            using (var policy = builder.Build())
            {
                foreach (var crl in crls)
                {
                    bundle.AddCrl(crl);
                }
                return new Verifier(bundle, policy);
            }
        }

        private Issued IssueApi(TimeSpan lifetime)
        {
            var req = new IssueRequest(TestData.ApiId) { Lifetime = lifetime, Usage = Usage.Both };
            req.DnsNames.Add("api.mesh.internal");
            return intermediate.Issue(req, TestData.Now);
        }

        private static ErrorCode CodeOf(TestDelegate action)
        {
            var e = Assert.Throws<MeshTlsException>(action);
            return e.Code;
        }

        [Test]
        public void IssuedCertificateVerifiesWithItsFacts()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            {
                var peer = verifier.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now);
                Assert.AreEqual(TestData.ApiId, peer.SpiffeId);
                Assert.AreEqual("api", peer.CommonName);
                CollectionAssert.AreEqual(new[] { "api.mesh.internal" }, peer.DnsNames.ToArray());
                Assert.AreEqual(issued.SerialHex, peer.SerialHex);
                Assert.AreEqual(issued.FingerprintHex, peer.FingerprintHex);
                Assert.AreEqual(64, peer.SpkiFingerprintHex.Length);
                StringAssert.Contains("dotnet test root", peer.AnchorSubject);
                Assert.AreEqual(TestData.Now.AddHours(1), peer.NotAfter);
                Assert.AreEqual(TestData.Now.AddMinutes(-1), peer.NotBefore);
                Assert.AreEqual(issued.NotAfter, peer.NotAfter);
                StringAssert.Contains("BEGIN PRIVATE KEY", issued.KeyPem);
                Assert.AreEqual(TestData.ApiId, verifier.Verify(issued.ChainPem, PeerUsage.Server, TestData.Now).SpiffeId);
            }
        }

        [Test]
        public void DerChainsVerifyLikePem()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            {
                var ders = issued.ChainPem.Split(new[] { "-----END CERTIFICATE-----" }, StringSplitOptions.RemoveEmptyEntries)
                    .Where(s => s.Contains("BEGIN"))
                    .Select(s => Convert.FromBase64String(s.Replace("-----BEGIN CERTIFICATE-----", "").Trim()))
                    .ToList();
                Assert.AreEqual(2, ders.Count);
                Assert.AreEqual(TestData.ApiId, verifier.Verify(ders, PeerUsage.Client, TestData.Now).SpiffeId);
                Assert.AreEqual(ErrorCode.UnknownIssuer, CodeOf(() => verifier.Verify(ders.Take(1).ToList(), PeerUsage.Client, TestData.Now)));
                Assert.AreEqual(ErrorCode.NoCertificate, CodeOf(() => verifier.Verify(new byte[0][], PeerUsage.Client, TestData.Now)));
            }
        }

        [Test]
        public void ExpiredAndNotYetValid()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            {
                var e = Assert.Throws<MeshTlsException>(() => verifier.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now.AddHours(2)));
                Assert.AreEqual(ErrorCode.Expired, e.Code);
                Assert.AreEqual("expired", e.CodeName);
                Assert.AreEqual(ErrorFamily.Verification, e.Family);
                StringAssert.StartsWith("expired: ", e.Message);
                Assert.AreEqual(ErrorCode.NotYetValid, CodeOf(() => verifier.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now.AddHours(-1))));
            }
        }

        [Test]
        public void RevokedThroughACrl()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var fresh = IssueApi(TimeSpan.FromHours(1)))
            using (var records = new RevocationList())
            using (var none = new RevocationList())
            {
                Assert.IsTrue(records.Revoke(issued.SerialHex, RevocationReason.KeyCompromise, TestData.Now));
                Assert.IsFalse(records.Revoke(issued.SerialHex, RevocationReason.Superseded, TestData.Now));
                // A time no CRL can carry is refused by the core and records nothing.
                Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => records.Revoke(fresh.SerialHex, RevocationReason.KeyCompromise, DateTimeOffset.MinValue)));
                Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => records.Revoke(fresh.SerialHex, RevocationReason.KeyCompromise, new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.Zero))));
                Assert.AreEqual(1, records.Count);
                using (var reread = RevocationList.FromText(records.ToText()))
                {
                    Assert.AreEqual(1, reread.Count);
                }
                var interCrl = intermediate.BuildCrl(records, 1, TestData.Now.AddSeconds(-10));
                var rootCrl = root.BuildCrl(none, 1, TestData.Now.AddSeconds(-10), TestData.Now.AddDays(1));
                StringAssert.Contains("BEGIN X509 CRL", interCrl);
                using (var verifier = VerifierFor("spiffe://mesh.internal/service/*", interCrl, rootCrl))
                {
                    Assert.AreEqual(ErrorCode.Revoked, CodeOf(() => verifier.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now)));
                    Assert.AreEqual(TestData.ApiId, verifier.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now).SpiffeId);
                }
                using (var halfCovered = VerifierFor("spiffe://mesh.internal/service/*", interCrl))
                {
                    Assert.AreEqual(ErrorCode.RevocationUnknown, CodeOf(() => halfCovered.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now)));
                }
            }
        }

        [Test]
        public void VerifierOptions()
        {
            var d = VerifyOptions.Default();
            Assert.IsTrue(d.RequireCrl && d.RejectStaleCrl && !d.LeafOnly);
            using (var fresh = IssueApi(TimeSpan.FromHours(1)))
            using (var none = new RevocationList())
            using (var bundle = new TrustBundle(root.RootPem).AddCrl(intermediate.BuildCrl(none, 1, TestData.Now.AddSeconds(-10))))
            using (var builder = new PolicyBuilder().AllowAny())
            using (var policy = builder.Build())
            {
                using (var strict = new Verifier(bundle, policy))
                {
                    Assert.AreEqual(ErrorCode.RevocationUnknown, CodeOf(() => strict.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now)));
                }
                var leafOnly = VerifyOptions.Default();
                leafOnly.LeafOnly = true;
                using (var v = new Verifier(bundle, policy, leafOnly))
                {
                    Assert.AreEqual(TestData.ApiId, v.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now).SpiffeId);
                    Assert.AreEqual(ErrorCode.Expired, CodeOf(() => v.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now.AddSeconds(3610))));
                }
                using (var leewayBuilder = new PolicyBuilder().AllowAny().ClockLeeway(TimeSpan.FromSeconds(30)))
                using (var lenient = leewayBuilder.Build())
                using (var v = new Verifier(bundle, lenient, leafOnly))
                {
                    Assert.AreEqual(TestData.ApiId, v.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now.AddSeconds(3610)).SpiffeId);
                }
                using (var depthBuilder = new PolicyBuilder().AllowAny().MaxIntermediates(0))
                using (var shallow = depthBuilder.Build())
                using (var v = new Verifier(bundle, shallow, leafOnly))
                {
                    Assert.AreEqual(ErrorCode.ChainTooLong, CodeOf(() => v.Verify(fresh.ChainPem, PeerUsage.Client, TestData.Now)));
                }
                Assert.Throws<ArgumentOutOfRangeException>(() => new PolicyBuilder().MaxIntermediates(-1));
            }
        }

        [Test]
        public void WrongIdentityRogueCaAndOtherTrustDomain()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var onlyWeb = VerifierFor("spiffe://mesh.internal/service/web"))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            using (var rogue = Authority.CreateRoot(new RootParams(TestData.TrustDomain) { CommonName = "dotnet test root" }, TestData.Now.AddMinutes(-1)))
            using (var rogueLeaf = rogue.Issue(new IssueRequest(TestData.ApiId), TestData.Now))
            using (var other = Authority.CreateRoot(new RootParams("other.internal"), TestData.Now.AddMinutes(-1)))
            using (var otherLeaf = other.Issue(new IssueRequest("spiffe://other.internal/service/api"), TestData.Now))
            {
                Assert.AreEqual(ErrorCode.IdentityNotAllowed, CodeOf(() => onlyWeb.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now)));
                Assert.AreEqual(ErrorCode.BadSignature, CodeOf(() => verifier.Verify(rogueLeaf.ChainPem, PeerUsage.Client, TestData.Now)));
                Assert.AreEqual(ErrorCode.UnknownIssuer, CodeOf(() => verifier.Verify(otherLeaf.ChainPem, PeerUsage.Client, TestData.Now)));
                Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => other.Issue(new IssueRequest(TestData.ApiId), TestData.Now)));
            }
        }

        [Test]
        public void PinsAndPolicies()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var bundle = new TrustBundle(root.RootPem))
            {
                Assert.AreEqual(1, bundle.Count);
                using (var b = new PolicyBuilder().AllowAny().PinCert(issued.FingerprintHex))
                using (var p = b.Build())
                using (var v = new Verifier(bundle, p))
                {
                    Assert.AreEqual(TestData.ApiId, v.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now).SpiffeId);
                }
                using (var b = new PolicyBuilder().AllowTrustDomain(TestData.TrustDomain).AllowId(TestData.ApiId).AllowDns("api.mesh.internal").PinSpki(new string('0', 64)))
                using (var p = b.Build())
                using (var v = new Verifier(bundle, p))
                {
                    Assert.AreEqual(ErrorCode.NotPinned, CodeOf(() => v.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now)));
                }
                using (var b = new PolicyBuilder())
                {
                    Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => b.Build()));
                    Assert.AreEqual(ErrorCode.Malformed, CodeOf(() => b.PinCert("not hex")));
                    Assert.AreEqual(ErrorCode.Malformed, CodeOf(() => b.AllowId("http://nope")));
                }
            }
        }

        [Test]
        public void SaveLoadAndWrongPassphrase()
        {
            var chain = intermediate.ChainPem;
            var key = intermediate.EncryptedKeyPem("correct horse");
            StringAssert.Contains("ENCRYPTED PRIVATE KEY", key);
            Assert.AreEqual(ErrorCode.WrongPassphrase, CodeOf(() => Authority.Load(chain, key, "wrong horse")));
            Assert.AreEqual(ErrorCode.WrongPassphrase, CodeOf(() => Authority.Load(chain, key)));
            Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => intermediate.EncryptedKeyPem("")));
            using (var loaded = Authority.Load(chain, key, "correct horse"))
            using (var issued = loaded.Issue(new IssueRequest(TestData.ApiId), TestData.Now))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            {
                Assert.IsFalse(loaded.IsRoot);
                Assert.AreEqual(TestData.TrustDomain, loaded.TrustDomain);
                Assert.AreEqual(intermediate.CertificatePem, loaded.CertificatePem);
                Assert.AreEqual(TestData.ApiId, verifier.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now).SpiffeId);
            }
            Assert.IsTrue(root.IsRoot);
        }

        [Test]
        public void CsrKeepsTheKeyWithTheRequester()
        {
            var csr = GeneratedCsr.Create("spiffe://mesh.internal/service/web", new[] { "web.mesh.internal" }, KeyAlgorithm.EcdsaP384);
            StringAssert.Contains("CERTIFICATE REQUEST", csr.CsrPem);
            StringAssert.Contains("PRIVATE KEY", csr.KeyPem);
            using (var issued = intermediate.IssueFromCsr(csr.CsrPem, Usage.Client, null, TestData.Now))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            {
                Assert.IsNull(issued.KeyPem);
                Assert.AreEqual(TestData.Now.AddDays(90), issued.NotAfter);
                Assert.AreEqual("spiffe://mesh.internal/service/web", verifier.Verify(issued.ChainPem, PeerUsage.Client, TestData.Now).SpiffeId);
                Assert.AreEqual(ErrorCode.WrongUsage, CodeOf(() => verifier.Verify(issued.ChainPem, PeerUsage.Server, TestData.Now)));
                Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => issued.ToPkcs12("pw", Pkcs12Profile.Legacy)));
            }
            Assert.AreEqual(ErrorCode.Malformed, CodeOf(() => intermediate.IssueFromCsr("garbage", Usage.Default, null, TestData.Now)));
        }

        [Test]
        public void Pkcs12AndX509Certificate2()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            {
                Assert.Greater(issued.ToPkcs12("pw", Pkcs12Profile.Modern).Length, 500);
                var legacy = issued.ToPkcs12("pw", Pkcs12Profile.Legacy);
                Assert.AreEqual(0x30, legacy[0]);
                using (var cert = issued.ToX509Certificate2())
                {
                    Assert.IsTrue(cert.HasPrivateKey);
                    using (var sha = System.Security.Cryptography.SHA256.Create())
                    {
                        var hex = BitConverter.ToString(sha.ComputeHash(cert.RawData)).Replace("-", "").ToLowerInvariant();
                        Assert.AreEqual(issued.FingerprintHex, hex);
                    }
                    StringAssert.Contains("CN=api", cert.Subject);
                }
                using (var cert = Pkcs12.ToX509Certificate2(issued.ChainPem, issued.KeyPem))
                {
                    Assert.IsTrue(cert.HasPrivateKey);
                }
                Assert.AreEqual(ErrorCode.Malformed, CodeOf(() => Pkcs12.FromPem(issued.ChainPem, "nope", null, "pw")));
                Assert.AreEqual(ErrorCode.InvalidArgument, CodeOf(() => issued.ToPkcs12("pw", (Pkcs12Profile)7)));
            }
        }

        [Test]
        public void RotationStatus()
        {
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var policy = RotationPolicy.Default())
            using (var half = RotationPolicy.AtFraction(0.5).WithJitter(0))
            using (var margin = RotationPolicy.BeforeExpiry(TimeSpan.FromMinutes(10)).WithJitter(0))
            {
                var s = policy.Status(issued.CertPem, TestData.Now);
                Assert.AreEqual(RotationState.Fresh, s.State);
                Assert.That(s.RenewAt.Value, Is.GreaterThan(TestData.Now).And.LessThan(issued.NotAfter));
                Assert.AreEqual(RotationState.RenewDue, policy.Status(issued.CertPem, TestData.Now.AddSeconds(3599)).State);
                var expired = policy.Status(issued.CertPem, TestData.Now.AddHours(1));
                Assert.AreEqual(RotationState.Expired, expired.State);
                Assert.IsNull(expired.RenewAt);
                Assert.AreEqual(TestData.Now.AddSeconds(-60 + 1830), half.Status(issued.CertPem, TestData.Now).RenewAt);
                Assert.AreEqual(TestData.Now.AddMinutes(50), margin.Status(issued.CertPem, TestData.Now).RenewAt);
                Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => RotationPolicy.AtFraction(1.5)));
                Assert.AreEqual(ErrorCode.InvalidRequest, CodeOf(() => policy.WithJitter(0.9)));
                Assert.AreEqual(ErrorCode.Malformed, CodeOf(() => policy.Status("garbage", TestData.Now)));
            }
        }

        [Test]
        public void OneVerifierServesManyThreads()
        {
            // TLS stacks call validation callbacks from their own threads.
            using (var issued = IssueApi(TimeSpan.FromHours(1)))
            using (var verifier = VerifierFor("spiffe://mesh.internal/service/*"))
            {
                var chain = issued.ChainPem;
                var ok = 0;
                var expired = 0;
                System.Threading.Tasks.Parallel.For(0, 64, i =>
                {
                    try
                    {
                        verifier.Verify(chain, PeerUsage.Client, i % 2 == 0 ? TestData.Now : TestData.Now.AddDays(1));
                        System.Threading.Interlocked.Increment(ref ok);
                    }
                    catch (MeshTlsException e) when (e.Code == ErrorCode.Expired)
                    {
                        System.Threading.Interlocked.Increment(ref expired);
                    }
                });
                Assert.AreEqual(32, ok);
                Assert.AreEqual(32, expired);
            }
        }

        [Test]
        public void DisposedObjectsAreRefusedNotCrashed()
        {
            var verifier = VerifierFor("spiffe://mesh.internal/service/*");
            verifier.Dispose();
            Assert.Throws<ObjectDisposedException>(() => verifier.Verify("x", PeerUsage.Client, TestData.Now));
        }
    }
}

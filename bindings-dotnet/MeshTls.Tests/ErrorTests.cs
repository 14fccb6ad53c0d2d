using System;
using System.Text;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>Every error family reaches .NET with the core's code, name and family.</summary>
    [TestFixture]
    public class ErrorTests
    {
        private static MeshTlsException Catch(TestDelegate action)
        {
            return Assert.Throws<MeshTlsException>(action);
        }

        /// <summary>The C# enum lists the core's codes with their numbers; the native names agree.</summary>
        [Test]
        public void EveryCodeHasTheNativeName()
        {
            foreach (ErrorCode code in Enum.GetValues(typeof(ErrorCode)))
            {
                Assert.AreEqual(SnakeCase(code.ToString()), MeshTlsException.NameOf(code), code.ToString());
            }
            Assert.AreEqual(19, (int)ErrorCode.Internal);
            Assert.AreEqual(20, (int)ErrorCode.NoCertificate);
            Assert.AreEqual(1003, (int)ErrorCode.ServiceError);
            Assert.AreEqual(1004, (int)ErrorCode.Transport);
            Assert.AreEqual(28, (int)ErrorCode.InvalidCrl);
            Assert.AreEqual(35, (int)ErrorCode.TokenBinding);
            Assert.AreEqual(40, Enum.GetValues(typeof(ErrorCode)).Length);
        }

        [Test]
        public void FamiliesFollowTheCore()
        {
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.Malformed));
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.Unsupported));
            Assert.AreEqual(ErrorFamily.Request, MeshTlsException.FamilyOf(ErrorCode.InvalidRequest));
            Assert.AreEqual(ErrorFamily.Request, MeshTlsException.FamilyOf(ErrorCode.NotAuthorized));
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.WeakKey));
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.WeakSignature));
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.StaleCrl));
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.InvalidCrl));
            Assert.AreEqual(ErrorFamily.Input, MeshTlsException.FamilyOf(ErrorCode.TokenMalformed));
            Assert.AreEqual(ErrorFamily.Verification, MeshTlsException.FamilyOf(ErrorCode.TokenBinding));
            Assert.AreEqual(ErrorFamily.Passphrase, MeshTlsException.FamilyOf(ErrorCode.WrongPassphrase));
            Assert.AreEqual(ErrorFamily.Io, MeshTlsException.FamilyOf(ErrorCode.Io));
            Assert.AreEqual(ErrorFamily.Internal, MeshTlsException.FamilyOf(ErrorCode.Internal));
            Assert.AreEqual(ErrorFamily.Internal, MeshTlsException.FamilyOf(ErrorCode.Panic));
            Assert.AreEqual(ErrorFamily.Argument, MeshTlsException.FamilyOf(ErrorCode.NullArgument));
            Assert.AreEqual(ErrorFamily.Argument, MeshTlsException.FamilyOf(ErrorCode.InvalidArgument));
            Assert.AreEqual(ErrorFamily.Request, MeshTlsException.FamilyOf(ErrorCode.ServiceError));
            Assert.AreEqual(ErrorFamily.Io, MeshTlsException.FamilyOf(ErrorCode.Transport));
            foreach (var code in new[] { ErrorCode.Expired, ErrorCode.NotYetValid, ErrorCode.UnknownIssuer, ErrorCode.BadSignature, ErrorCode.Revoked, ErrorCode.WrongUsage, ErrorCode.IdentityNotAllowed, ErrorCode.NotPinned, ErrorCode.NameConstraintViolation, ErrorCode.RevocationUnknown, ErrorCode.CrlExpired, ErrorCode.ChainTooLong, ErrorCode.InvalidSvid, ErrorCode.NoCertificate, ErrorCode.InvalidCertificate, ErrorCode.UnknownCriticalExtension, ErrorCode.NameConstraintsTooComplex })
            {
                Assert.AreEqual(ErrorFamily.Verification, MeshTlsException.FamilyOf(code), code.ToString());
            }
        }

        [Test]
        public void InputFamily()
        {
            var e = Catch(() => new TrustBundle("garbage"));
            Assert.AreEqual(ErrorCode.Malformed, e.Code);
            Assert.AreEqual(ErrorFamily.Input, e.Family);
            Assert.AreEqual(ErrorCode.Malformed, Catch(() => Authority.CreateRoot(new RootParams("Not A Domain"), TestData.Now)).Code);
        }

        [Test]
        public void RequestFamily()
        {
            var e = Catch(() => Authority.CreateRoot(new RootParams(TestData.TrustDomain) { Validity = TimeSpan.FromHours(1) }, TestData.Now));
            Assert.AreEqual(ErrorCode.InvalidRequest, e.Code);
            Assert.AreEqual(ErrorFamily.Request, e.Family);
            StringAssert.StartsWith("invalid_request: ", e.Message);
        }

        [Test]
        public void VerificationFamily()
        {
            using (var bundle = new TrustBundle(TestData.Fixture("root.pem")))
            using (var builder = new PolicyBuilder().AllowTrustDomain(TestData.TrustDomain))
            using (var policy = builder.Build())
            using (var verifier = new Verifier(bundle, policy))
            {
                var e = Catch(() => verifier.Verify(TestData.Fixture("other-ca.chain.pem"), PeerUsage.Client, TestData.Now));
                Assert.AreEqual(ErrorCode.UnknownIssuer, e.Code);
                Assert.AreEqual(ErrorFamily.Verification, e.Family);
            }
        }

        [Test]
        public void PassphraseFamily()
        {
            var e = Catch(() => Authority.Load(TestData.Fixture("root.pem"), TestData.Fixture("root.key.enc.pem"), "nope"));
            Assert.AreEqual(ErrorCode.WrongPassphrase, e.Code);
            Assert.AreEqual(ErrorFamily.Passphrase, e.Family);
            using (var ca = Authority.Load(TestData.Fixture("root.pem"), TestData.Fixture("root.key.enc.pem"), "fixture-passphrase"))
            {
                Assert.IsTrue(ca.IsRoot);
            }
        }

        [Test]
        public void ArgumentFamily()
        {
            var e = Catch(() => Authority.CreateRoot(new RootParams(TestData.TrustDomain) { Key = (KeyAlgorithm)42 }, TestData.Now));
            Assert.AreEqual(ErrorCode.InvalidArgument, e.Code);
            Assert.AreEqual(ErrorFamily.Argument, e.Family);
            Assert.AreEqual(ErrorCode.InvalidArgument, Catch(() => Authority.CreateRoot(new RootParams(TestData.TrustDomain) { PathLength = 1000 }, TestData.Now)).Code);
            Assert.Throws<ArgumentNullException>(() => new PolicyBuilder().AllowId(null));
            using (var ca = Authority.CreateRoot(new RootParams(TestData.TrustDomain), TestData.Now))
            {
                // A zero lifetime would read as "the default" in the C ABI: the binding refuses it.
                Assert.Throws<ArgumentOutOfRangeException>(() => ca.Issue(new IssueRequest(TestData.ApiId) { Lifetime = TimeSpan.Zero }, TestData.Now));
            }
        }

        private static string SnakeCase(string name)
        {
            var sb = new StringBuilder();
            foreach (var c in name)
            {
                if (char.IsUpper(c) && sb.Length > 0)
                {
                    sb.Append('_');
                }
                sb.Append(char.ToLowerInvariant(c));
            }
            return sb.ToString();
        }
    }
}

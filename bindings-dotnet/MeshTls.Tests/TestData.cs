using System;
using System.IO;

namespace MeshTls.Tests
{
    /// <summary>Where the shared fixtures are, and a fixed clock for the scenario.</summary>
    internal static class TestData
    {
        /// <summary>The scenario's "now" (2026-09-21), as the C test uses.</summary>
        public static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1790000000);

        public const string TrustDomain = "mesh.internal";
        public const string ApiId = "spiffe://mesh.internal/service/api";

        /// <summary>The repository's fixtures/ (MESHTLS_FIXTURES, or found upwards from here).</summary>
        public static string FixturesDir
        {
            get
            {
                var env = Environment.GetEnvironmentVariable("MESHTLS_FIXTURES");
                if (!string.IsNullOrEmpty(env))
                {
                    return env;
                }
                var dir = new DirectoryInfo(AppDomain.CurrentDomain.BaseDirectory);
                for (; dir != null; dir = dir.Parent)
                {
                    var candidate = Path.Combine(dir.FullName, "fixtures", "cases.json");
                    if (File.Exists(candidate))
                    {
                        return Path.GetDirectoryName(candidate);
                    }
                }
                throw new InvalidOperationException("fixtures/cases.json not found: set MESHTLS_FIXTURES");
            }
        }

        public static string Fixture(string name)
        {
            return File.ReadAllText(Path.Combine(FixturesDir, name));
        }
    }
}

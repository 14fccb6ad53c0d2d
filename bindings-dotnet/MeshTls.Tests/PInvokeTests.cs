using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace MeshTls.Tests
{
    /// <summary>
    /// Every P/Invoke declaration of the library (and of these tests) names a function of the
    /// committed <c>meshtls.h</c> with the same number of parameters and compatible types, so
    /// the C# side cannot drift from the C ABI (the header is itself checked against the Rust
    /// code by <c>gen-header.sh --check</c>).
    /// </summary>
    [TestFixture]
    public class PInvokeTests
    {
        /// <summary>A C function of the header: return type and parameter types, normalized.</summary>
        private sealed class CFunction
        {
            public string Return;
            public List<string> Parameters;
        }

        private static string HeaderPath
        {
            get
            {
                var env = Environment.GetEnvironmentVariable("MESHTLS_HEADER");
                if (!string.IsNullOrEmpty(env))
                {
                    return env;
                }
                var path = Path.Combine(Path.GetDirectoryName(TestData.FixturesDir.TrimEnd('/')), "bindings-dotnet", "ffi", "include", "meshtls.h");
                Assert.IsTrue(File.Exists(path), "meshtls.h not found: set MESHTLS_HEADER");
                return path;
            }
        }

        private static string Normalize(string cType)
        {
            var t = Regex.Replace(cType, @"\s+", " ").Trim();
            return Regex.Replace(t, @"\s*\*", "*");
        }

        /// <summary>The header's functions, opaque handle types, struct types and callback types.</summary>
        private static Dictionary<string, CFunction> Parse(string header, HashSet<string> opaque, HashSet<string> structs, HashSet<string> callbacks)
        {
            var text = Regex.Replace(header, @"//[^\n]*", "");
            text = Regex.Replace(text, @"^\s*#[^\n]*", "", RegexOptions.Multiline);
            foreach (Match m in Regex.Matches(text, @"typedef struct (meshtls_\w+) \1;"))
            {
                opaque.Add(m.Groups[1].Value);
            }
            foreach (Match m in Regex.Matches(text, @"typedef struct \{[^}]*\} (meshtls_\w+);"))
            {
                structs.Add(m.Groups[1].Value);
            }
            foreach (Match m in Regex.Matches(text, @"typedef \w+ \(\*(meshtls_\w+)\)"))
            {
                callbacks.Add(m.Groups[1].Value);
            }
            var functions = new Dictionary<string, CFunction>();
            foreach (var statement in text.Split(';'))
            {
                var m = Regex.Match(statement, @"^\s*([\w\s\*]+?)\s*\b(meshtls_\w+)\s*\(([^()]*)\)\s*$", RegexOptions.Singleline);
                if (!m.Success || statement.Contains("typedef"))
                {
                    continue;
                }
                var parameters = new List<string>();
                var list = m.Groups[3].Value.Trim();
                if (list != "void" && list != "")
                {
                    foreach (var p in list.Split(','))
                    {
                        // The type without the parameter's name.
                        parameters.Add(Normalize(Regex.Replace(p.Trim(), @"\w+$", "")));
                    }
                }
                functions[m.Groups[2].Value] = new CFunction { Return = Normalize(m.Groups[1].Value), Parameters = parameters };
            }
            return functions;
        }

        private static readonly Dictionary<string, Type> Scalars = new Dictionary<string, Type>
        {
            { "uint8_t", typeof(byte) },
            { "uint16_t", typeof(ushort) },
            { "uint32_t", typeof(uint) },
            { "meshtls_result", typeof(uint) },
            { "int32_t", typeof(int) },
            { "int64_t", typeof(long) },
            { "uint64_t", typeof(ulong) },
            { "size_t", typeof(UIntPtr) },
            { "double", typeof(double) },
            { "bool", typeof(bool) },
        };

        /// <summary>Why a C# type cannot stand for a C type, or null when it can.</summary>
        private static string Mismatch(string c, Type t, HashSet<string> opaque, HashSet<string> structs, HashSet<string> callbacks)
        {
            var stars = c.Count(ch => ch == '*');
            var bare = c.Replace("const", "").Replace("*", "").Trim();
            var byRef = t.IsByRef;
            var elem = byRef ? t.GetElementType() : t;
            Func<Type, bool> handle = x => typeof(SafeHandle).IsAssignableFrom(x) || x == typeof(IntPtr);
            bool ok;
            if (stars == 0)
            {
                Type scalar;
                if (Scalars.TryGetValue(bare, out scalar))
                {
                    ok = !byRef && t == scalar;
                }
                else if (bare == "void")
                {
                    ok = t == typeof(void);
                }
                else if (callbacks.Contains(bare))
                {
                    ok = typeof(MulticastDelegate).IsAssignableFrom(t) && t.GetCustomAttributes(typeof(UnmanagedFunctionPointerAttribute), false).Length == 1;
                }
                else if (structs.Contains(bare))
                {
                    ok = !byRef && t.IsValueType && !t.IsPrimitive;
                }
                else
                {
                    return "unknown C type " + c;
                }
            }
            else if (stars == 1)
            {
                Type scalar;
                if (bare == "char" || bare == "uint8_t")
                {
                    ok = !byRef && (t == typeof(byte[]) || t == typeof(IntPtr) || t == typeof(string));
                }
                else if (bare == "void")
                {
                    ok = !byRef && t == typeof(IntPtr);
                }
                else if (opaque.Contains(bare))
                {
                    ok = !byRef && handle(t);
                }
                else if (structs.Contains(bare))
                {
                    ok = byRef && elem.IsValueType && !elem.IsPrimitive;
                }
                else if (Scalars.TryGetValue(bare, out scalar))
                {
                    ok = (byRef && elem == scalar) || (!byRef && t == scalar.MakeArrayType());
                }
                else
                {
                    return "unknown C type " + c;
                }
            }
            else if (stars == 2)
            {
                if (opaque.Contains(bare))
                {
                    ok = byRef && handle(elem);
                }
                else if (bare == "char")
                {
                    ok = !byRef && t == typeof(IntPtr[]);
                }
                else
                {
                    return "unknown C type " + c;
                }
            }
            else
            {
                return "unknown C type " + c;
            }
            return ok ? null : $"C {c} vs C# {t}";
        }

        /// <summary>A C <c>bool</c> is one byte: the C# side must say so (the default is a 4-byte BOOL).</summary>
        private static string OneByteBool(string c, ParameterInfo p)
        {
            if (c.Replace("*", "").Trim() != "bool")
            {
                return null;
            }
            var ma = p.GetCustomAttributes(typeof(MarshalAsAttribute), false).Cast<MarshalAsAttribute>().FirstOrDefault();
            return ma != null && (ma.Value == UnmanagedType.I1 || ma.Value == UnmanagedType.U1) ? null : "a C bool needs [MarshalAs(UnmanagedType.I1)]";
        }

        private static IEnumerable<MethodInfo> PInvokes(Assembly assembly)
        {
            return assembly.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                .Where(m => (m.Attributes & MethodAttributes.PinvokeImpl) != 0);
        }

        private static string EntryPoint(MethodInfo m)
        {
            var attr = m.GetCustomAttributes(typeof(DllImportAttribute), false).Cast<DllImportAttribute>().FirstOrDefault();
            return attr?.EntryPoint ?? m.Name;
        }

        [Test]
        public void EveryDeclarationMatchesTheHeader()
        {
            var opaque = new HashSet<string>();
            var structs = new HashSet<string>();
            var callbacks = new HashSet<string>();
            var functions = Parse(File.ReadAllText(HeaderPath), opaque, structs, callbacks);
            Assert.Greater(functions.Count, 100, "the header's functions were read");
            Assert.Contains("meshtls_buffer", opaque.ToList());
            Assert.Contains("meshtls_completion", structs.ToList());
            Assert.Contains("meshtls_completion_callback", callbacks.ToList());

            var declared = PInvokes(typeof(Authority).Assembly).Concat(PInvokes(typeof(PInvokeTests).Assembly)).ToList();
            Assert.Greater(declared.Count, 100, "the library's declarations were found");
            var problems = new List<string>();
            foreach (var m in declared)
            {
                var name = EntryPoint(m);
                var where = m.DeclaringType.FullName + "." + m.Name;
                CFunction c;
                if (!functions.TryGetValue(name, out c))
                {
                    problems.Add($"{where}: {name} is not in meshtls.h");
                    continue;
                }
                var ps = m.GetParameters();
                if (ps.Length != c.Parameters.Count)
                {
                    problems.Add($"{where}: {ps.Length} parameters, meshtls.h has {c.Parameters.Count}");
                    continue;
                }
                var r = Mismatch(c.Return, m.ReturnType, opaque, structs, callbacks) ?? OneByteBool(c.Return, m.ReturnParameter);
                if (r != null)
                {
                    problems.Add($"{where}: return: {r}");
                }
                for (var i = 0; i < ps.Length; i++)
                {
                    var p = Mismatch(c.Parameters[i], ps[i].ParameterType, opaque, structs, callbacks) ?? OneByteBool(c.Parameters[i], ps[i]);
                    if (p != null)
                    {
                        problems.Add($"{where}: parameter {i} ({ps[i].Name}): {p}");
                    }
                }
            }
            foreach (var p in problems)
            {
                Console.WriteLine(p);
            }
            Assert.AreEqual(0, problems.Count, string.Join("\n", problems));
            Console.WriteLine("P/Invoke declarations checked against meshtls.h: {0} ({1} functions in the header)", declared.Count, functions.Count);
        }

        [Test]
        public void TheCheckCatchesDrift()
        {
            var opaque = new HashSet<string> { "meshtls_verifier" };
            var structs = new HashSet<string>();
            var callbacks = new HashSet<string>();
            var functions = Parse("typedef struct meshtls_verifier meshtls_verifier;\nmeshtls_result meshtls_x(const meshtls_verifier *v,\n    size_t len, meshtls_verifier **out);\nvoid meshtls_y(void);\n", opaque, structs, callbacks);
            Assert.AreEqual(2, functions.Count);
            Assert.AreEqual(3, functions["meshtls_x"].Parameters.Count);
            Assert.AreEqual(0, functions["meshtls_y"].Parameters.Count);
            Assert.IsNull(Mismatch("size_t", typeof(UIntPtr), opaque, structs, callbacks));
            Assert.IsNotNull(Mismatch("size_t", typeof(uint), opaque, structs, callbacks), "size_t is not a uint");
            Assert.IsNotNull(Mismatch("meshtls_verifier**", typeof(IntPtr), opaque, structs, callbacks), "an out handle needs out");
            Assert.IsNull(Mismatch("meshtls_verifier**", typeof(IntPtr).MakeByRefType(), opaque, structs, callbacks));
            Assert.IsNotNull(Mismatch("bool", typeof(int), opaque, structs, callbacks));
        }
    }
}

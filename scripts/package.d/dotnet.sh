#!/usr/bin/env bash
# The NuGet package $1/MeshTls.<v>.nupkg, laid out by the spec (a zip with a nuspec) with the
# tools this machine has (no .NET SDK): MeshTls.dll compiled by Mono's mcs (C# 7.2, as
# scripts/ci/dotnet does) with its XML docs, the stripped C ABI library, and build/MeshTls.targets.
#
# Target framework: lib/net45. mcs compiles against Mono's 4.5 profile (mscorlib 4.0), so the
# assembly references mscorlib, not netstandard: labelling it netstandard2.0 would be false.
# .NET Framework >= 4.5 and Mono load it as is, and .NET (Core) consumers get it through NuGet's
# .NETFramework fallback (warning NU1701). `dotnet pack` of MeshTls.csproj, on a machine with a
# .NET SDK, makes the netstandard2.0 build. $2 is a scratch directory.
set -euo pipefail
out=$1 stage=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${NATIVE_OUT:?run through scripts/package}" "${MESHTLS_VERSION:?run through scripts/package}"
src=$root/bindings-dotnet
rm -rf "$out" "$stage"
mkdir -p "$out" "$stage/lib/net45" "$stage/runtimes/linux-x64/native" "$stage/build"

mcs -langversion:7.2 -warnaserror -optimize+ -target:library \
    -doc:"$stage/lib/net45/MeshTls.xml" -out:"$stage/lib/net45/MeshTls.dll" "$src"/MeshTls/*.cs
cp "$NATIVE_OUT/libmeshtls_ffi.so" "$stage/runtimes/linux-x64/native/"
cp "$src/nuget/MeshTls.targets" "$stage/build/MeshTls.targets"
sed "s/\\\$version\\\$/$MESHTLS_VERSION/" "$src/nuget/MeshTls.nuspec" >"$stage/MeshTls.nuspec"

python3 - "$stage" "$out/MeshTls.$MESHTLS_VERSION.nupkg" <<'PY'
import os, sys, zipfile
stage, nupkg = sys.argv[1], sys.argv[2]
content_types = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />
  <Default Extension="nuspec" ContentType="application/octet" />
  <Default Extension="dll" ContentType="application/octet" />
  <Default Extension="xml" ContentType="application/octet" />
  <Default Extension="so" ContentType="application/octet" />
  <Default Extension="targets" ContentType="application/octet" />
</Types>
"""
rels = """<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/MeshTls.nuspec" Id="R0" />
</Relationships>
"""
with zipfile.ZipFile(nupkg, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", content_types)
    z.writestr("_rels/.rels", rels)
    for dirpath, _, files in sorted(os.walk(stage)):
        for f in sorted(files):
            full = os.path.join(dirpath, f)
            z.write(full, os.path.relpath(full, stage))
PY
unzip -l "$out/MeshTls.$MESHTLS_VERSION.nupkg"

"""Prints the size of every artifact under dist/ (argv[1]), and of what matters inside:
the native library in the wheel and in the platform npm package, the .wasm raw and gzip -9."""
import gzip
import io
import os
import sys
import tarfile
import zipfile

dist = sys.argv[1]


def mb(n):
    return f"{n / 1_000_000:.2f} MB ({n} bytes)"


for dirpath, _, files in sorted(os.walk(dist)):
    for f in sorted(files):
        path = os.path.join(dirpath, f)
        rel = os.path.relpath(path, dist)
        if rel == "SIZES.txt":
            continue
        print(f"{rel}: {mb(os.path.getsize(path))}")
        if f.endswith(".whl"):
            with zipfile.ZipFile(path) as z:
                for i in z.infolist():
                    if i.filename.endswith(".so"):
                        print(f"  {i.filename}: {mb(i.file_size)} unpacked")
        elif f.endswith(".tgz") or f.endswith(".tar.gz"):
            with tarfile.open(path) as t:
                for m in t.getmembers():
                    if m.name.endswith((".node", ".wasm")) or m.name.endswith("/bin/meshtls"):
                        print(f"  {m.name}: {mb(m.size)} unpacked")
                        if m.name.endswith(".wasm"):
                            data = t.extractfile(m).read()
                            buf = io.BytesIO()
                            with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as g:
                                g.write(data)
                            print(f"  {m.name}: {mb(len(buf.getvalue()))} gzip -9")
        elif f.endswith(".nupkg"):
            with zipfile.ZipFile(path) as z:
                for i in z.infolist():
                    if i.filename.endswith((".so", ".dll")):
                        print(f"  {i.filename}: {mb(i.file_size)} unpacked")

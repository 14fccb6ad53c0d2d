"""Turns `cargo test` output into one `rust/<crate>: N passed, N failed` line per crate.

cargo names each test binary by its target (`Running tests/x.rs (target/debug/deps/x-hash)`,
`Doc-tests crate_name`); `cargo metadata` maps targets back to their packages.
"""
import json
import re
import sys

log_path, meta_path = sys.argv[1], sys.argv[2]
meta = json.load(open(meta_path))
target_pkg = {}
for pkg in meta["packages"]:
    for t in pkg["targets"]:
        target_pkg[t["name"].replace("-", "_")] = pkg["name"]

counts = {}
current = None
for line in open(log_path, errors="replace"):
    m = re.match(r"\s+Running .*\(target/[^)]*/deps/([A-Za-z0-9_]+)-[0-9a-f]+\)", line)
    if m:
        current = target_pkg.get(m.group(1), m.group(1))
        continue
    m = re.match(r"\s+Doc-tests (\S+)", line)
    if m:
        current = target_pkg.get(m.group(1), m.group(1))
        continue
    m = re.match(r"test result: \w+\. (\d+) passed; (\d+) failed", line)
    if m and current:
        p, f = counts.get(current, (0, 0))
        counts[current] = (p + int(m.group(1)), f + int(m.group(2)))

total_p = total_f = 0
for crate in sorted(counts):
    p, f = counts[crate]
    total_p += p
    total_f += f
    print(f"rust/{crate}: {p} passed, {f} failed")
print(f"rust: {total_p} passed, {total_f} failed")
sys.exit(1 if total_f or not counts else 0)

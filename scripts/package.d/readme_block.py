"""Prints the fenced code block that follows `<!-- packages-test: NAME -->` in a README, so the
install tests (scripts/ci/packages) run exactly what the README shows.
usage: readme_block.py README.md NAME"""
import re
import sys

path, name = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
m = re.search(r"<!-- packages-test: " + re.escape(name) + r" -->\s*\n```[^\n]*\n(.*?)\n```", text, re.S)
if not m:
    sys.exit(f"{path}: no code block marked '<!-- packages-test: {name} -->'")
print(m.group(1))

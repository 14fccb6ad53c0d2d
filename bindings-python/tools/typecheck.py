"""Static checks of the Python package's typing, run by scripts/ci/python:

1. ``mypy.stubtest meshtls._native``: the hand-kept ``_native.pyi`` against the built module
   (names, signatures, defaults; the allowlist names what PyO3 adds by itself).
2. ``mypy --strict`` on every ``python`` code block of the READMEs and on ``examples/``.
   A block that is a whole program (it starts with a docstring or an import) is checked as
   a module; a fragment is checked inside ``async def`` (fragments may ``await``) after a
   prelude that declares the names the READMEs use without defining them in that block.

Exit status 0 when both pass. Prints ``typecheck: N checked, N failed``.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = HERE.parent
ROOT = PACKAGE.parent
READMES = [ROOT / "README.md", PACKAGE / "README.md"]

PRELUDE = '''\
import asyncio
import datetime as dt
import ssl
from typing import Any

import meshtls

ca: meshtls.Authority
token: str
url: str
bundle: str
identity: meshtls.Identity
verifier: meshtls.Verifier
node: meshtls.EnrolledIdentity
peer: meshtls.EnrolledIdentity
validator: meshtls.JwtValidator


async def handler(conn: meshtls.WsConnection) -> None: ...
'''


def blocks(readme: pathlib.Path) -> list:
    text = readme.read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def as_module(code: str) -> str:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    if first.startswith(('"""', "import ", "from ")):
        return code
    body = textwrap.indent(code, "    ")
    return f"{PRELUDE}\n\nasync def _example() -> None:\n{body}\n"


def main() -> int:
    py = sys.executable
    failed = 0
    checked = 0
    stub = subprocess.run(
        [py, "-m", "mypy.stubtest", "meshtls._native", "--allowlist", str(PACKAGE / "stubtest-allowlist.txt")],
        cwd=PACKAGE / "python",
    )
    checked += 1
    if stub.returncode != 0:
        failed += 1
    with tempfile.TemporaryDirectory(prefix="meshtls-readme-") as tmp:
        files = []
        for readme in READMES:
            for i, code in enumerate(blocks(readme)):
                name = f"{readme.parent.name or 'root'}_{readme.stem.lower()}_{i}.py".replace("-", "_")
                path = pathlib.Path(tmp) / name
                path.write_text(as_module(code))
                files.append(path)
        files += sorted((PACKAGE / "examples").glob("*.py"))
        for path in files:
            checked += 1
            done = subprocess.run(
                [py, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(pathlib.Path(tmp) / ".mypy"),
                 "--disable-error-code", "no-redef", str(path)],
                capture_output=True, text=True,
            )
            if done.returncode != 0:
                failed += 1
                print(f"--- {path.name}")
                if path.parent == pathlib.Path(tmp):
                    print(path.read_text())
                print(done.stdout)
    print(f"typecheck: {checked - failed} checked, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

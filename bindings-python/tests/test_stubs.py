"""The hand-kept stubs match the native module: every public name, and no stale one."""

from __future__ import annotations

import ast
import pathlib

import meshtls
from meshtls import _native

STUB = pathlib.Path(meshtls.__file__).with_name("_native.pyi")


def _stub_names() -> set:
    tree = ast.parse(STUB.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return {n for n in names if not n.startswith("_") or n == "__version__"}


def test_stub_declares_exactly_the_native_names() -> None:
    native = {n for n in dir(_native) if not n.startswith("_") or n == "__version__"}
    assert _stub_names() == native


def test_stub_declares_every_native_method() -> None:
    tree = ast.parse(STUB.read_text())
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or issubclass(getattr(_native, node.name), BaseException):
            continue
        declared = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        declared |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        cls = getattr(_native, node.name)
        public = {n for n in vars(cls) if not n.startswith("__") or n in ("__len__", "__contains__")}
        public -= {"__new__", "__init__"}
        assert public <= declared | {"__eq__", "__hash__"}, (node.name, public - declared)


def test_package_is_typed() -> None:
    assert STUB.exists()
    assert STUB.with_name("py.typed").exists()

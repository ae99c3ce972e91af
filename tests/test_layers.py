"""The package's layers point one way, and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "cigen"
# Lowest first; a module may import its own layer and the layers below it.
LAYERS = (
    ("cigen", "cigen.core", "cigen.errors", "cigen.yamlio", "cigen.erlterms", "cigen.refs",
     "cigen.inputs"),
    ("cigen.schema", "cigen.remote", "cigen.manifest", "cigen.compat"),
    ("cigen.model",),
    ("cigen.descriptor", "cigen.kaniko", "cigen.files"),
    ("cigen.targets",),
    ("cigen.plan", "cigen.checkcache", "cigen.validation", "cigen.overrides"),
    ("cigen.pin", "cigen.init"),
    ("cigen.commands",),
    ("cigen.cli", "cigen.main", "cigen.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The layer of the longest prefix that names one (cigen.targets.github.jobs: targets)."""
    best = max((prefix for group in LAYERS for prefix in group
                if module == prefix or module.startswith(prefix + ".")), key=len)
    return next(i for i, group in enumerate(LAYERS) if best in group)


def imports(module: str) -> set[str]:
    """The cigen modules `module` imports, at the top or inside functions; `from a import b`
    counts as importing a.b when b is a module, else a."""
    tree = ast.parse(MODULES[module].read_text("utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found |= (subs & MODULES.keys()) or {node.module}
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imports(module) for module in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        assert layer(module) >= 0, module


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module: str) -> None:
    higher = sorted(m for m in GRAPH[module] if layer(m) > layer(module))
    assert not higher, f"{module} (layer {layer(module)}) imports {higher}"


def test_there_is_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            raise AssertionError(" -> ".join((*path[path.index(module):], module)))
        if module not in done:
            for imported in sorted(GRAPH[module]):
                visit(imported, (*path, module))
            done.add(module)

    for module in sorted(MODULES):
        visit(module, ())


def test_the_checker_catches_a_cycle_and_an_upward_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(GRAPH, "cigen.core", {"cigen.plan"})  # core -> plan -> ... -> core
    with pytest.raises(AssertionError, match="cigen.core -> cigen.plan"):
        test_there_is_no_import_cycle()
    with pytest.raises(AssertionError, match=r"imports \['cigen.plan'\]"):
        test_no_module_imports_a_higher_layer("cigen.core")


def test_only_the_edges_import_typer_and_requests() -> None:
    for module, path in MODULES.items():
        text = path.read_text("utf-8")
        if module != "cigen.cli":
            assert "import typer" not in text, module
        if module != "cigen.remote":
            assert "import requests" not in text, module
